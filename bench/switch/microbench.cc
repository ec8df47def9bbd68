// Per-stage cost of the native data path, in ns per 64-byte frame, without Node.
// bench/switch/run-microbench.sh builds and runs it. Each figure is the minimum over
// repetitions (the machine is shared; the minimum is the least disturbed run).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "backends/switch.h"
#include "bench_reference.h"
#include "classifier.h"
#include "frame.h"
#include "guest_ring.h"
#include "link.h"

using namespace msh;
using clk = std::chrono::steady_clock;

static volatile uint64_t g_sink;

template <class F>
static double ns_per(uint64_t items, F&& f) {
  f();  // warm up
  double best = 1e300;
  for (int rep = 0; rep < 9; ++rep) {
    const auto t0 = clk::now();
    f();
    best = std::min(best, std::chrono::duration<double, std::nano>(clk::now() - t0).count());
  }
  return best / double(items);
}

int main(int argc, char** argv) {
  const uint32_t kRounds = 2000, kB = 256;
  const uint8_t mac[6] = {0x02, 0x6d, 0x73, 0x68, 0, 0x02};
  uint8_t frame[64];
  bench_udp_frame(frame, 64, mac);

  // parse
  ParsedFrame pf;
  double parse = ns_per(uint64_t(kRounds) * kB, [&] {
    uint64_t s = 0;
    for (uint32_t i = 0; i < kRounds * kB; ++i) {
      parse_frame(frame, 64, pf);
      s += pf.dport;
    }
    g_sink = s;
  });

  Link link(mac, 1500);
  auto owned = std::make_unique<SwitchBackend>(SwitchOptions{});
  SwitchBackend* sw = owned.get();
  link.attach_backend(std::move(owned));
  sw->set_wire_discard(true);
  uint32_t port;
  link.add_port(&port);
  // A few more tuples so the table is not trivially small.
  for (uint16_t p = 1000; p < 1100; ++p) {
    const uint8_t a[4] = {10, 0, 0, 2};
    uint32_t other;
    link.add_port(&other);
    link.claim(other, make_tuple_key(kProtoUdp, a, 4, p));
  }
  const uint8_t addr[4] = {10, 0, 0, 2};
  link.claim(port, make_tuple_key(kProtoUdp, addr, 4, 7));

  double lookup = ns_per(uint64_t(kRounds) * kB, [&] {
    Classifier::Reader r(link.classifier());
    uint64_t s = 0;
    for (uint32_t i = 0; i < kRounds * kB; ++i) s += r.lookup(kProtoUdp, pf.dst, pf.dport);
    g_sink = s;
  });

  // Rotating over the 101 claimed keys defeats the one-entry last-hit cache: table probes.
  uint8_t keys[101][16];
  for (int i = 0; i < 101; ++i) std::memcpy(keys[i], pf.dst, 16);
  double lookup_miss = ns_per(uint64_t(kRounds) * kB, [&] {
    Classifier::Reader r(link.classifier());
    uint64_t s = 0;
    uint32_t k = 0;
    for (uint32_t i = 0; i < kRounds * kB; ++i) {
      s += r.lookup(kProtoUdp, keys[k], uint16_t(k == 100 ? 7 : 1000 + k));
      k = k == 100 ? 0 : k + 1;
    }
    g_sink = s;
  });

  double txval = ns_per(uint64_t(kRounds) * kB, [&] {
    uint8_t reply[64];
    std::memcpy(reply, frame, 64);
    bench_echo_udp4(reply, 64);
    Classifier::Reader r(link.classifier());
    uint64_t s = 0;
    ParsedFrame f2;
    for (uint32_t i = 0; i < kRounds * kB; ++i)
      s += uint64_t(r.tx_validate(port, reply, 64, mac, 1500, f2));
    g_sink = s;
  });

  double echo = ns_per(uint64_t(kRounds) * kB, [&] {
    uint8_t reply[64];
    std::memcpy(reply, frame, 64);
    for (uint32_t i = 0; i < kRounds * kB; ++i) bench_echo_udp4(reply, 64);
    g_sink = reply[40];
  });

  // Guest memory laid out like bench_reference.
  const uint32_t slots = 256, stride = argc > 1 ? uint32_t(atoi(argv[1])) : 2048;
  const uint32_t ring_bytes = kRingHeaderBytes + slots * kRingSlotBytes;
  const uint32_t rx_off = 0, tx_off = (ring_bytes + 63) & ~63u, buf_off = 16384;
  const size_t mem_size = buf_off + size_t(2) * slots * stride;
  std::vector<uint8_t> memv(mem_size + 4096);
  uint8_t* mem = memv.data();
  GuestMemory gm{mem, mem_size};
  for (uint32_t r = 0; r < 2; ++r) {
    const uint32_t off = r ? tx_off : rx_off;
    st32(mem + off + kRingNumSlots, slots);
    st32(mem + off + kRingSlotSize, 2048);
    for (uint32_t i = 0; i < slots; ++i)
      st32(mem + off + kRingHeaderBytes + i * kRingSlotBytes + kSlotBuf,
           buf_off + (r * slots + i) * stride);
  }

  double t_gen = 0, t_rx = 0, t_echo = 0, t_tx = 0;
  double b_gen = 1e300, b_rx = 1e300, b_echo = 1e300, b_tx = 1e300, b_all = 1e300;
  auto stage = [](double& acc, auto&& f) {
    const auto t0 = clk::now();
    f();
    acc += std::chrono::duration<double, std::nano>(clk::now() - t0).count();
  };
  const uint32_t rounds = 2000;
  for (int rep = 0; rep < 15; ++rep) {
  t_gen = t_rx = t_echo = t_tx = 0;
  for (uint32_t it = 0; it < rounds; ++it) {
    stage(t_gen, [&] { sw->generate(frame, 64, kB); });
    stage(t_rx, [&] { link.rx_to_guest(port, gm, rx_off, kB); });
    stage(t_echo, [&] {
      uint8_t* rx = mem + rx_off;
      uint8_t* tx = mem + tx_off;
      uint32_t rh = ld32(rx), rt = ld32(rx + 4), th = ld32(tx), tt = ld32(tx + 4);
      while (rh != rt && tt - th < slots) {
        const uint8_t* rs = rx + 32 + (rh & (slots - 1)) * 16;
        uint8_t* ts = tx + 32 + (tt & (slots - 1)) * 16;
        const uint32_t len = ld32(rs);
        uint8_t* dst = mem + ld32(ts + 8);
        std::memcpy(dst, mem + ld32(rs + 8), len);
        bench_echo_udp4(dst, len);
        st32(ts, len);
        ++rh;
        ++tt;
      }
      st32(rx, rh);
      st32(tx + 4, tt);
    });
    stage(t_tx, [&] { link.tx_from_guest(port, gm, tx_off, UINT32_MAX); });
  }
  b_gen = std::min(b_gen, t_gen);
  b_rx = std::min(b_rx, t_rx);
  b_echo = std::min(b_echo, t_echo);
  b_tx = std::min(b_tx, t_tx);
  b_all = std::min(b_all, t_gen + t_rx + t_echo + t_tx);
  }
  t_gen = b_gen, t_rx = b_rx, t_echo = b_echo, t_tx = b_tx;
  const double n = double(rounds) * kB;
  const Port* p = link.port_for_stats(port);
  printf("parse_frame            %6.2f ns/frame\n", parse);
  printf("classifier lookup      %6.2f ns/frame (same flow: last-hit cache)\n", lookup);
  printf("classifier lookup      %6.2f ns/frame (101 flows round robin: table probe)\n", lookup_miss);
  printf("tx_validate            %6.2f ns/frame\n", txval);
  printf("echo (C++, checksums)  %6.2f ns/frame\n", echo);
  printf("-- pipeline, buffer stride %u, batch %u --\n", stride, kB);
  printf("switch generate        %6.2f ns/frame (copy + parse + classify + enqueue)\n", t_gen / n);
  printf("rx_to_guest            %6.2f ns/frame\n", t_rx / n);
  printf("guest echo (C++)       %6.2f ns/frame\n", t_echo / n);
  printf("tx_from_guest          %6.2f ns/frame (validate + copy to discard sink)\n", t_tx / n);
  printf("total (best round)      %6.2f ns/frame = %.1f Mpps; tx_frames=%llu of %.0f\n",
         b_all / n, n / b_all * 1e3, (unsigned long long)p->counters.tx_frames.load(), n * 15);
  // The echo must produce valid checksums: the one's complement sums come out 0xffff.
  {
    uint8_t r[64];
    std::memcpy(r, frame, 64);
    bench_echo_udp4(r, 64);
    auto sum = [](const uint8_t* p, uint32_t len, uint32_t s) {
      for (uint32_t i = 0; i + 1 < len; i += 2) s += uint32_t(p[i]) << 8 | p[i + 1];
      while (s >> 16) s = (s & 0xffff) + (s >> 16);
      return s;
    };
    const uint32_t ipsum = sum(r + 14, 20, 0);
    const uint32_t udpsum = sum(r + 34, 30, sum(r + 26, 8, 17 + 30));
    printf("echo checksums         ip %s, udp %s\n", ipsum == 0xffff ? "ok" : "BAD",
           udpsum == 0xffff ? "ok" : "BAD");
  }
  double best_ref = 1e300;
  for (int rep = 0; rep < 5; ++rep) {
    BenchResult br;
    BenchOptions bo;
    bo.buf_stride = stride;
    bo.seconds = 0.3;
    bench_reference(bo, &br);
    best_ref = std::min(best_ref, br.ns_per_frame);
  }
  printf("bench_reference (best) %6.2f ns/frame = %.1f Mpps\n", best_ref, 1e3 / best_ref);
  return 0;
}
