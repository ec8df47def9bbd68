// Threads doing what msh's threads do, all at once, for ThreadSanitizer (and ASan):
// a control thread claiming/releasing tuples and adding/removing a port, an injector
// thread, two port workers (wait, rx_to_guest, echo, tx_from_guest) and a drainer; at the
// end the control thread closes the link under their feet (as destroyLink does).
// Built and run by test/native/fuzz.test.ts; a data race or crash fails it.
//   clang++ -g -O1 -std=c++20 -fsanitize=thread -I native/src \
//     test/native/fuzz/concurrency_stress.cc native/src/{frame,classifier,link,guest_ring,\
//     pcap,errors,bench_reference}.cc native/src/backends/switch.cc -o /tmp/msh-stress
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <thread>
#include <vector>

#include "backends/switch.h"
#include "bench_reference.h"
#include "classifier.h"
#include "guest_ring.h"
#include "link.h"

using namespace msh;

namespace {
const uint8_t kMac[6] = {0x02, 0x6d, 0x73, 0x68, 0, 0x02};
std::atomic<bool> g_stop{false};

struct Guest {
  static constexpr uint32_t kSlots = 64, kRx = 0, kTx = 2048, kBufs = 4096;
  std::vector<uint8_t> mem = std::vector<uint8_t>(kBufs + 2 * kSlots * 2048);
  Guest() {
    for (uint32_t r = 0; r < 2; ++r) {
      const uint32_t off = r ? kTx : kRx;
      st32(&mem[off + kRingNumSlots], kSlots);
      st32(&mem[off + kRingSlotSize], 2048);
      for (uint32_t i = 0; i < kSlots; ++i)
        st32(&mem[off + kRingHeaderBytes + i * kRingSlotBytes + kSlotBuf],
             kBufs + (r * kSlots + i) * 2048);
    }
  }
  // The guest's poll: echo every RX frame to TX.
  void echo() {
    uint8_t* m = mem.data();
    uint32_t rh = ld32(m + kRx), rt = ld32(m + kRx + 4), th = ld32(m + kTx), tt = ld32(m + kTx + 4);
    for (; rh != rt && tt - th < kSlots; ++rh, ++tt) {
      const uint8_t* rs = m + kRx + 32 + (rh % kSlots) * 16;
      uint8_t* ts = m + kTx + 32 + (tt % kSlots) * 16;
      const uint32_t len = ld32(rs);
      std::memcpy(m + ld32(ts + 8), m + ld32(rs + 8), len);
      bench_echo_udp4(m + ld32(ts + 8), len);
      st32(ts, len);
    }
    st32(m + kRx, rh);
    st32(m + kTx + 4, tt);
  }
};

TupleKey key(uint16_t port) {
  const uint8_t a[4] = {10, 0, 0, 2};
  return make_tuple_key(kProtoUdp, a, 4, port);
}
}  // namespace

int main(int argc, char** argv) {
  const double seconds = argc > 1 ? atof(argv[1]) : 2.0;
  Link link(kMac, 1500);
  auto owned = std::make_unique<SwitchBackend>(SwitchOptions{128, 256, 256});
  SwitchBackend* sw = owned.get();
  link.attach_backend(std::move(owned));
  uint32_t a, b;
  link.add_port(&a);
  link.add_port(&b);
  link.claim(a, key(7));
  link.claim(b, key(8));

  std::vector<std::thread> ts;
  std::atomic<uint64_t> echoed{0}, rx_errors{0};
  for (uint32_t port : {a, b}) {
    ts.emplace_back([&, port] {
      Guest g;
      GuestMemory gm{g.mem.data(), g.mem.size()};
      while (!g_stop.load()) {
        link.wait(port, 1);
        const int n = link.rx_to_guest(port, gm, Guest::kRx, 64);
        if (n == -ENOENT) break;  // the link was closed
        if (n < 0) rx_errors++;
        g.echo();
        const int s = link.tx_from_guest(port, gm, Guest::kTx, UINT32_MAX);
        if (s > 0) echoed += uint64_t(s);
      }
    });
  }
  ts.emplace_back([&] {  // injector: frames to 7, 8, 9 (sometimes owned, sometimes not)
    uint8_t f[3][64];
    for (int i = 0; i < 3; ++i) {
      bench_udp_frame(f[i], 64, kMac);
      f[i][37] = uint8_t(7 + i);  // destination port (checksum irrelevant here)
    }
    while (!g_stop.load()) {
      {
        Link::Call call(link);  // as the JS bindings do: the backend stays while we use it
        if (!call) break;
        for (int i = 0; i < 3; ++i) sw->generate(f[i], 64, 32);
      }
      std::this_thread::yield();
    }
  });
  ts.emplace_back([&] {  // drainer: the kernel and the wire
    FrameSink sink = [](const uint8_t*, uint32_t) { return true; };
    while (!g_stop.load()) {
      {
        Link::Call call(link);
        if (!call) break;
        sw->drain_kernel(1000, sink);
        sw->drain_wire(1000, sink);
      }
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
  });

  // Control thread (this one): ownership churn and a port that comes and goes.
  const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  uint64_t rounds = 0;
  while (std::chrono::steady_clock::now() < end) {
    uint32_t c;
    if (link.add_port(&c) == 0) {
      link.claim(c, key(9));
      std::this_thread::sleep_for(std::chrono::microseconds(300));
      link.remove_port(c);
    }
    link.release(a, key(7));
    link.claim(b, key(7));  // 7 moves to b for a moment
    link.release(b, key(7));
    link.claim(a, key(7));
    ++rounds;
  }
  // Read the counters, then close with everybody still running: close() must wait for
  // the calls in flight and leave nothing for the threads to touch afterwards.
  const Port* pa = link.port_for_stats(a);
  const Port* pb = link.port_for_stats(b);
  const uint64_t arx = pa->counters.rx_frames.load(), brx = pb->counters.rx_frames.load();
  link.close();
  g_stop.store(true);
  for (auto& t : ts) t.join();
  printf("rounds=%llu echoed=%llu a.rx=%llu b.rx=%llu a.bad_tuple=%llu b.bad_tuple=%llu rx_errors=%llu\n",
         (unsigned long long)rounds, (unsigned long long)echoed.load(), (unsigned long long)arx,
         (unsigned long long)brx,
         (unsigned long long)pa->counters.tx_bad_tuple.load(),
         (unsigned long long)pb->counters.tx_bad_tuple.load(), (unsigned long long)rx_errors.load());
  // Both workers must have moved traffic, and no ring was ever reported corrupt.
  if (rx_errors.load() != 0 || arx == 0 || brx == 0 || echoed.load() == 0)
    return 1;
  return 0;
}
