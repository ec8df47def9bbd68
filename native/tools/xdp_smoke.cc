// Debugging aid, not product code: drives XdpBackend directly (no Node, no classifier)
// as a UDP echo for one tuple and prints the backend's counters every second.
//
//   g++ -std=c++20 -O2 -Inative/src native/tools/xdp_smoke.cc
//       native/src/backends/xdp.cc native/src/errors.cc -lxdp -lbpf -o /tmp/xdp_smoke
//   ip netns exec NS /tmp/xdp_smoke IF build/bpf/msh_steer.bpf.o ADDR PORT [auto|native|generic] [seconds]
// (Not under build/: node-gyp rebuild empties it.) SMOKE_SINK=1 uses receive() instead of
// rx_peek()/rx_release().
//
// The echo swaps Ethernet, IP addresses and UDP ports, which leaves every checksum valid.
#include <arpa/inet.h>
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <vector>

#include "backends/xdp.h"
#include "errors.h"

static volatile sig_atomic_t g_stop = 0;

static void swap_bytes(uint8_t* a, uint8_t* b, size_t n) {
  for (size_t i = 0; i < n; i++) std::swap(a[i], b[i]);
}

// Echo in place; false if the frame is not UDP over IPv4/IPv6 without VLAN.
static bool echo(uint8_t* f, uint32_t len) {
  if (len < 14) return false;
  swap_bytes(f, f + 6, 6);
  uint16_t type = uint16_t(f[12] << 8 | f[13]);
  uint8_t* l4;
  if (type == 0x0800 && len >= 34) {
    uint32_t ihl = (f[14] & 15) * 4;
    if (f[23] != 17 || len < 14 + ihl + 8) return false;
    swap_bytes(f + 26, f + 30, 4);
    l4 = f + 14 + ihl;
  } else if (type == 0x86DD && len >= 62) {
    if (f[20] != 17) return false;
    swap_bytes(f + 22, f + 38, 16);
    l4 = f + 54;
  } else {
    return false;
  }
  swap_bytes(l4, l4 + 2, 2);
  return true;
}

int main(int argc, char** argv) {
  if (argc < 5) {
    fprintf(stderr, "usage: %s IF BPF_OBJECT ADDR PORT [auto|native|generic] [seconds]\n", argv[0]);
    return 2;
  }
  msh::XdpOptions o;
  o.ifname = argv[1];
  o.bpf_object = argv[2];
  if (argc > 5) {
    if (!strcmp(argv[5], "native")) o.mode = msh::XdpOptions::Mode::Native;
    if (!strcmp(argv[5], "generic")) o.mode = msh::XdpOptions::Mode::Generic;
  }
  int seconds = argc > 6 ? atoi(argv[6]) : 0;
  bool use_sink = getenv("SMOKE_SINK") != nullptr;  // receive() instead of rx_peek()
  auto b = msh::XdpBackend::create(o);
  if (!b) {
    fprintf(stderr, "create: %s\n", msh::last_error().message);
    return 1;
  }
  msh::TupleKey k{};
  k.proto = 17;
  k.port = uint16_t(atoi(argv[4]));
  uint8_t a4[4];
  if (inet_pton(AF_INET, argv[3], a4) == 1) {
    k.addr[10] = k.addr[11] = 0xff;
    memcpy(k.addr + 12, a4, 4);
  } else if (inet_pton(AF_INET6, argv[3], k.addr) != 1) {
    fprintf(stderr, "bad address %s\n", argv[3]);
    return 2;
  }
  if (b->on_port_added(1) || b->on_claim(1, k)) {
    fprintf(stderr, "port: %s\n", msh::last_error().message);
    return 1;
  }
  printf("mode=%s bind=%s queues=%u\n", b->mode(), b->bind_mode(), b->queues());
  fflush(stdout);
  signal(SIGINT, [](int) { g_stop = 1; });
  signal(SIGTERM, [](int) { g_stop = 1; });

  std::vector<uint8_t> buf(256 * 2048);
  std::vector<msh::FrameRef> refs(256);
  auto t0 = std::chrono::steady_clock::now(), last = t0;
  uint64_t echoed = 0, prev = 0;
  while (!g_stop) {
    b->wait(1, 100);
    uint32_t n = 0;
    auto take = [&](const uint8_t* d, uint32_t len) {
      if (len > 2048) return true;
      memcpy(&buf[n * 2048], d, len);
      if (echo(&buf[n * 2048], len)) refs[n] = {&buf[n * 2048], len}, n++;
      return true;
    };
    if (use_sink) {
      b->receive(1, 256, take);
    } else {  // the batch path the Link prefers
      msh::FrameRef lent[256];
      uint32_t m = b->rx_peek(1, lent, 256);
      for (uint32_t i = 0; i < m; i++) take(lent[i].data, lent[i].len);
      b->rx_release(1, m);
    }
    if (n) echoed += b->transmit(1, refs.data(), n);
    auto now = std::chrono::steady_clock::now();
    if (now - last >= std::chrono::seconds(1)) {
      auto s = b->stats();
      printf("echoed %.0f/s total %lu | prog pass %lu redirect %lu nosock %lu parse_err %lu | "
             "xsk rx_dropped %lu ring_full %lu fill_empty %lu | tx_no_frame %lu kick_err %lu\n",
             double(echoed - prev) / std::chrono::duration<double>(now - last).count(),
             (unsigned long)echoed, (unsigned long)s.prog_pass, (unsigned long)s.prog_redirect,
             (unsigned long)s.prog_drop_no_socket, (unsigned long)s.prog_parse_error,
             (unsigned long)s.xsk_rx_dropped, (unsigned long)s.xsk_rx_ring_full,
             (unsigned long)s.xsk_fill_ring_empty, (unsigned long)s.tx_no_frame,
             (unsigned long)s.tx_kick_errors);
      fflush(stdout);
      prev = echoed;
      last = now;
      if (seconds && now - t0 >= std::chrono::seconds(seconds)) break;
    }
  }
  b->on_release(1, k);
  b->on_port_removed(1);
  return 0;
}
