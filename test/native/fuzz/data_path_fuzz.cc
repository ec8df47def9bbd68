// libFuzzer harness for the native data path's untrusted inputs: frames (parser, RX
// demux, TX validation) and guest memory (ring headers, slots, lengths). Built with
// ASan + UBSan by test/native/fuzz.test.ts; any out-of-bounds read, overflow or failed
// invariant aborts.
//   clang++ -g -O1 -std=c++20 -fsanitize=fuzzer,address,undefined -I native/src \
//     test/native/fuzz/data_path_fuzz.cc native/src/{frame,classifier,link,guest_ring,pcap,errors}.cc \
//     native/src/backends/switch.cc -o /tmp/msh-fuzz && /tmp/msh-fuzz -max_total_time=10
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "backends/switch.h"
#include "classifier.h"
#include "frame.h"
#include "guest_ring.h"
#include "link.h"

using namespace msh;

#define CHECK(c)      \
  do {                \
    if (!(c)) abort(); \
  } while (0)

namespace {
const uint8_t kMac[6] = {0x02, 0x6d, 0x73, 0x68, 0, 0x02};

struct World {
  Link link{kMac, 1500};
  SwitchBackend* sw = nullptr;
  uint32_t a = 0, b = 0;
  World() {
    auto s = std::make_unique<SwitchBackend>(SwitchOptions{16, 16, 16});
    sw = s.get();
    link.attach_backend(std::move(s));
    link.add_port(&a);
    link.add_port(&b);
    const uint8_t v4a[4] = {10, 0, 0, 2};
    uint8_t v6a[16] = {0xfd};
    v6a[15] = 2;
    link.claim(a, make_tuple_key(kProtoUdp, v4a, 4, 7));
    link.claim(a, make_tuple_key(kProtoTcp, v6a, 16, 80));
    link.claim(b, make_tuple_key(kProtoUdp, v6a, 16, 7));
    sw->set_wire_discard(true);
  }
};
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static World* w = new World;
  if (size < 1) return 0;
  const uint8_t mode = data[0] % 4;
  data++;
  size--;
  if (mode <= 1) {
    // A frame, in an exactly sized heap buffer so ASan sees any over-read. Mode 0: the
    // input itself; mode 1: a valid UDP or TCP frame with the input XORed over it (and
    // cut to the input's length), to reach the deep paths often.
    static const uint8_t base[2][74] = {
        {0x02, 0x6d, 0x73, 0x68, 0, 0x02, 2, 0, 0, 0, 0, 1, 0x08, 0x00, 0x45, 0, 0, 60, 0, 1, 0,
         0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2, 0x04, 0xd2, 0, 7, 0, 40},
        {0x02, 0x6d, 0x73, 0x68, 0, 0x02, 2, 0, 0, 0, 0, 1, 0x08, 0x00, 0x45, 0, 0, 60, 0, 1, 0,
         0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2, 0x04, 0xd2, 0, 80, 0, 0, 0, 1, 0, 0, 0, 0,
         0x50, 0x18}};
    if (mode == 1 && size < 2) return 0;
    const uint8_t* b = base[mode == 1 ? data[0] & 1 : 0];
    const size_t n = mode == 1 ? size - 1 : size;
    std::unique_ptr<uint8_t[]> f(new uint8_t[n ? n : 1]);
    for (size_t i = 0; i < n; ++i)
      f[i] = mode == 1 ? uint8_t((i < 74 ? b[i] : 0) ^ data[1 + i]) : data[i];
    size = n;
    ParsedFrame p, q;
    const ParseStatus s = parse_frame(f.get(), uint32_t(size), p);
    // The inline fast path and the full parser agree on everything.
    CHECK(parse_frame_full(f.get(), uint32_t(size), q) == s);
    CHECK(p.ethertype == q.ethertype && p.vlan_tci == q.vlan_tci && p.has_vlan == q.has_vlan);
    CHECK(p.l3_off == q.l3_off && p.l3_end == q.l3_end && p.l4_off == q.l4_off);
    CHECK(p.ip_version == q.ip_version && p.proto == q.proto && p.has_ports == q.has_ports);
    CHECK(p.frag == q.frag && p.frag_offset == q.frag_offset && p.frag_id == q.frag_id);
    if (p.has_ports) CHECK(p.sport == q.sport && p.dport == q.dport);
    if (s == ParseStatus::Ok)
      CHECK(std::memcmp(p.src, q.src, 16) == 0 && std::memcmp(p.dst, q.dst, 16) == 0);
    if (s == ParseStatus::Ok) {
      CHECK(p.ip_version == 4 || p.ip_version == 6);
      CHECK(p.l3_off <= p.l4_off && p.l4_off <= p.l3_end && p.l3_end <= size);
      if (p.has_ports) CHECK(p.l4_off + 8 <= p.l3_end);
      if (p.is_later_fragment()) CHECK(!p.has_ports);
    }
    Classifier::Reader r(w->link.classifier());
    bool bad;
    const uint32_t owner = r.rx_frame_owner(f.get(), uint32_t(size), p, &bad);
    CHECK(owner == 0 || owner == w->a || owner == w->b);
    const TxVerdict v = r.tx_validate(w->a, f.get(), uint32_t(size), kMac, 1500, p);
    if (v == TxVerdict::Ok) CHECK(size >= 42 && size <= 1514);
    FrameRef ref{f.get(), uint32_t(size)};
    w->sw->inject(&ref, 1);
  } else {
    // Guest memory: the input is the memory; rings at offsets taken from it.
    if (size < 8) return 0;
    uint32_t rx_off, tx_off;
    std::memcpy(&rx_off, data, 4);
    std::memcpy(&tx_off, data + 4, 4);
    rx_off %= 1024;
    tx_off %= 1024;
    std::vector<uint8_t> mem(data + 8, data + size);
    // Most inputs are tiny; give the ring a chance by growing memory to 64 KiB of zeros.
    if (mode == 3) mem.resize(65536);
    GuestMemory gm{mem.data(), mem.size()};
    uint8_t frame[64];
    std::memset(frame, 0, sizeof frame);
    std::memcpy(frame, kMac, 6);
    frame[12] = 0x08;
    frame[14] = 0x45;
    frame[17] = 50;
    frame[23] = 17;
    frame[26] = 10;
    frame[29] = 1;
    frame[30] = 10;
    frame[33] = 2;
    frame[37] = 7;
    frame[39] = 30;
    w->sw->generate(frame, 64, 3);
    const int r1 = w->link.rx_to_guest(w->a, gm, rx_off, 64);
    const int r2 = w->link.tx_from_guest(w->a, gm, tx_off, UINT32_MAX);
    CHECK(r1 >= -22 && r2 >= -22);
    ring_check_all(gm, rx_off, "rx");
  }
  return 0;
}
