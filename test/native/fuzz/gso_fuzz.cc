// libFuzzer harness for GSO coalescing (native/src/gso.{h,cc}), built with ASan + UBSan
// by test/native/fuzz.test.ts. Inputs become TX batches: either raw frames cut from the
// input, or runs of valid TCP/UDP segments (IPv4/IPv6) with fields mutated by the input.
// For every run plan_tx_runs finds, the GSO packet built for it is cut the way the
// kernel's GSO cuts it, and each segment must equal the frame the stack wrote, except
// for what gso.h says may differ (IPv4 id and checksum, TCP/UDP checksum, PSH before the
// last segment). The packet's TCP/UDP checksum, finished as a device would, must verify.
//   clang++ -g -O1 -std=c++20 -fsanitize=fuzzer,address,undefined -I native/src \
//     test/native/fuzz/gso_fuzz.cc native/src/{gso,frame,errors}.cc -o /tmp/msh-gso-fuzz
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "frame.h"
#include "gso.h"

using namespace msh;

#define CHECK(c)                                                          \
  do {                                                                    \
    if (!(c)) {                                                           \
      fprintf(stderr, "CHECK failed: %s (line %d)\n", #c, __LINE__);     \
      abort();                                                            \
    }                                                                     \
  } while (0)

namespace {

uint16_t be16(const uint8_t* p) { return uint16_t(p[0] << 8 | p[1]); }
void put16(uint8_t* p, uint32_t v) {
  p[0] = uint8_t(v >> 8);
  p[1] = uint8_t(v);
}
void put32(uint8_t* p, uint32_t v) {
  put16(p, v >> 16);
  put16(p + 2, v);
}
uint32_t sum(const uint8_t* p, size_t n, uint32_t s = 0) {
  for (size_t i = 0; i + 1 < n; i += 2) s += be16(p + i);
  if (n & 1) s += uint32_t(p[n - 1]) << 8;
  return s;
}
uint16_t fold(uint32_t s) {
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return uint16_t(s);
}

// One valid segment: Ethernet, IPv4 (DF) or IPv6, TCP (ACK, optional timestamp option)
// or UDP, `len` payload bytes filled from `fill`.
std::vector<uint8_t> segment(int kind, bool ts, uint32_t seq, uint32_t len, uint8_t fill) {
  const bool v4 = kind == 0 || kind == 2, tcp = kind < 2;
  const uint32_t l3 = 14, l4 = l3 + (v4 ? 20 : 40), l4h = tcp ? (ts ? 32 : 20) : 8;
  std::vector<uint8_t> f(l4 + l4h + len, 0);
  uint8_t* d = f.data();
  const uint8_t macs[12] = {2, 0, 0, 0, 0, 2, 2, 0x6d, 0x73, 0x68, 0, 1};
  memcpy(d, macs, 12);
  put16(d + 12, v4 ? 0x0800 : 0x86dd);
  if (v4) {
    d[l3] = 0x45;
    put16(d + l3 + 2, 20 + l4h + len);
    put16(d + l3 + 4, 0x1234);
    put16(d + l3 + 6, 0x4000);
    d[l3 + 8] = 64;
    d[l3 + 9] = tcp ? 6 : 17;
    const uint8_t a[8] = {10, 0, 0, 1, 10, 0, 0, 2};
    memcpy(d + l3 + 12, a, 8);
    put16(d + l3 + 10, uint16_t(~fold(sum(d + l3, 20))));
  } else {
    d[l3] = 0x60;
    put16(d + l3 + 4, l4h + len);
    d[l3 + 6] = tcp ? 6 : 17;
    d[l3 + 7] = 64;
    d[l3 + 8] = 0xfd;
    d[l3 + 23] = 1;
    d[l3 + 24] = 0xfd;
    d[l3 + 39] = 2;
  }
  put16(d + l4, 80);
  put16(d + l4 + 2, 40000);
  if (tcp) {
    put32(d + l4 + 4, seq);
    put32(d + l4 + 8, 777);
    d[l4 + 12] = uint8_t((l4h / 4) << 4);
    d[l4 + 13] = 0x10;
    put16(d + l4 + 14, 502);
    if (ts) {
      const uint8_t o[12] = {1, 1, 8, 10, 0, 0, 0, 9, 0, 0, 0, 5};
      memcpy(d + l4 + 20, o, 12);
    }
  } else {
    put16(d + l4 + 4, 8 + len);
  }
  for (uint32_t i = 0; i < len; i++) d[l4 + l4h + i] = uint8_t(fill + i);
  return f;
}

// Cuts the GSO packet of group `g` (vnet header + headers `h`, payloads of its frames)
// as the kernel does and compares every segment with the frame it came from.
void check_run(const FrameRef* frames, const TxGroup& g) {
  const FrameRef* run = frames + g.first;
  const uint32_t count = g.count;
  uint8_t hdr[kGsoHdrMax];
  const uint32_t hlen = build_gso_header(frames, g, hdr);
  CHECK(hlen > 10 && hlen <= kGsoHdrMax);
  const uint8_t* vh = hdr;
  const uint8_t* h = hdr + 10;
  const uint32_t L = hlen - 10;
  const uint32_t gso_type = vh[1], hdr_len = vh[2] | vh[3] << 8, G = vh[4] | vh[5] << 8,
                 cstart = vh[6] | vh[7] << 8, coff = vh[8] | vh[9] << 8;
  CHECK(vh[0] == 1 && hdr_len == L && G > 0);
  const bool tcp = gso_type == 1 || gso_type == 4, v4 = h[12] == 0x08;
  CHECK(tcp ? coff == 16 : (gso_type == 5 && coff == 6));
  std::vector<uint8_t> payload;
  for (uint32_t i = 0; i < count; i++) {
    const FrameRef p = gso_payload(frames, g, i);
    CHECK(p.data >= run[i].data && p.data + p.len <= run[i].data + run[i].len);
    payload.insert(payload.end(), p.data, p.data + p.len);
  }
  CHECK((payload.size() + G - 1) / G == count);  // the kernel makes exactly `count` segments
  const uint32_t l3 = 14, l4 = cstart;
  CHECK(l4 == l3 + (v4 ? 20 : 40));
  // The IP header of the packet is consistent and (IPv4) its checksum verifies.
  const uint32_t l4len = L - l4 + uint32_t(payload.size());
  if (v4) {
    CHECK(be16(h + l3 + 2) == 20 + l4len);
    CHECK(fold(sum(h + l3, 20)) == 0xffff);
  } else {
    CHECK(be16(h + l3 + 4) == l4len);
  }
  // Finish the checksum as a device does (sum from csum_start on, the field holding the
  // pseudo-header sum), then verify it the receiver's way.
  std::vector<uint8_t> pkt(h, h + L);
  pkt.insert(pkt.end(), payload.begin(), payload.end());
  uint8_t* c = pkt.data() + l4 + coff;
  put16(c, uint16_t(~fold(sum(pkt.data() + l4, pkt.size() - l4))));
  uint32_t ps = v4 ? sum(pkt.data() + l3 + 12, 8) : sum(pkt.data() + l3 + 8, 32);
  ps += (tcp ? 6 : 17) + l4len;
  CHECK(fold(sum(pkt.data() + l4, pkt.size() - l4, ps)) == 0xffff);

  for (uint32_t i = 0; i < count; i++) {
    const uint32_t len = std::min<uint32_t>(G, uint32_t(payload.size()) - i * G);
    std::vector<uint8_t> s(h, h + L);
    s.insert(s.end(), payload.begin() + i * G, payload.begin() + i * G + len);
    if (v4) put16(s.data() + l3 + 2, L - l3 + len);
    else put16(s.data() + l3 + 4, L - l3 - 40 + len);
    const bool last = i + 1 == count;
    if (tcp) {
      put32(s.data() + l4 + 4, uint32_t(be16(h + l4 + 4) << 16 | be16(h + l4 + 6)) + i * G);
      if (!last) s[l4 + 13] &= uint8_t(~0x09);  // PSH and FIN only on the last
    } else {
      put16(s.data() + l4 + 4, 8 + len);
    }
    // Compare with the stack's frame up to the end of its IP datagram.
    ParsedFrame pf;
    CHECK(parse_frame(run[i].data, run[i].len, pf) == ParseStatus::Ok);
    CHECK(pf.l3_end == s.size());
    std::vector<uint8_t> o(run[i].data, run[i].data + pf.l3_end);
    auto blank = [&](std::vector<uint8_t>& x) {
      if (v4) x[l3 + 4] = x[l3 + 5] = x[l3 + 10] = x[l3 + 11] = 0;
      x[l4 + coff] = x[l4 + coff + 1] = 0;
      if (tcp && !last) x[l4 + 13] &= uint8_t(~0x08);
    };
    blank(s);
    blank(o);
    CHECK(s == o);
  }
}

void check_batch(const std::vector<std::vector<uint8_t>>& bufs, const GsoLimits& limits = GsoLimits{}) {
  // Exactly sized heap copies, so ASan sees any read past a frame.
  std::vector<uint8_t*> heap;
  std::vector<FrameRef> frames;
  for (auto& b : bufs) {
    uint8_t* p = static_cast<uint8_t*>(malloc(b.size() ? b.size() : 1));
    if (!b.empty()) memcpy(p, b.data(), b.size());
    heap.push_back(p);
    frames.push_back(FrameRef{p, uint32_t(b.size())});
  }
  std::vector<TxGroup> groups(frames.size() + 1);
  const uint32_t ng = plan_tx_runs(frames.data(), uint32_t(frames.size()), groups.data(), limits);
  CHECK(ng <= frames.size());
  uint32_t next = 0;
  for (uint32_t g = 0; g < ng; g++) {
    CHECK(groups[g].first == next && groups[g].count > 0);
    CHECK(!groups[g].gso || (groups[g].count >= 2 && groups[g].count <= kGsoMaxSegments &&
                             groups[g].count <= limits.max_segments));
    if (groups[g].gso) {
      check_run(frames.data(), groups[g]);
      // Within the device's limit: the packet's IP datagram is the headers plus all payloads.
      uint8_t hdr[kGsoHdrMax];
      const uint32_t hlen = build_gso_header(frames.data(), groups[g], hdr);
      uint32_t ip_len = hlen - 10 - 14;
      for (uint32_t k = 0; k < groups[g].count; k++) ip_len += gso_payload(frames.data(), groups[g], k).len;
      CHECK(ip_len <= limits.max_ip_len);
    }
    next += groups[g].count;
  }
  CHECK(next == frames.size());
  for (auto* p : heap) free(p);
}

// Clean runs of each kind must become one GSO packet (else the harness would check
// nothing): 10 full segments and a short last one; a gap in the TCP sequence splits it.
bool self_test() {
  for (int kind = 0; kind < 4; kind++) {
    std::vector<std::vector<uint8_t>> bufs;
    std::vector<FrameRef> frames;
    uint32_t seq = 1;
    for (uint32_t i = 0; i < 11; i++) {
      bufs.push_back(segment(kind, true, seq, i == 10 ? 100 : 1000, uint8_t(i)));
      seq += i == 5 && kind < 2 ? 1001 : (i == 10 ? 100 : 1000);
    }
    for (auto& b : bufs) frames.push_back(FrameRef{b.data(), uint32_t(b.size())});
    TxGroup g[11];
    const uint32_t ng = plan_tx_runs(frames.data(), 11, g);
    if (kind < 2) {
      CHECK(ng == 2 && g[0].gso && g[0].count == 6 && g[1].gso && g[1].count == 5);
    } else {
      CHECK(ng == 1 && g[0].gso && g[0].count == 11);
    }
    check_batch(bufs);
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const bool ok = self_test();
  (void)ok;
  if (size < 6) return 0;
  std::vector<std::vector<uint8_t>> bufs;
  if (data[0] & 0x80) {
    // Raw frames: [len(1 byte) bytes...]*
    size_t at = 1;
    while (at < size && bufs.size() < 300) {
      const size_t len = std::min<size_t>(data[at] * 7u, size - at - 1);
      bufs.emplace_back(data + at + 1, data + at + 1 + len);
      at += 1 + len;
    }
  } else {
    // A run of valid segments with mutations: kind, options, count, segment size, size
    // of the last, then (frame, byte offset, xor value) triples.
    const int kind = data[0] & 3;
    const bool ts = data[0] & 4;
    const uint32_t count = 1 + data[1] % 90;
    const uint32_t room = 1500 - (kind == 0 || kind == 2 ? 20 : 40) - (kind < 2 ? (ts ? 32 : 20) : 8);
    const uint32_t gso = 1 + (uint32_t(data[2]) << 8 | data[3]) % room;
    const uint32_t last = 1 + data[4] % gso;
    uint32_t seq = 1000;
    for (uint32_t i = 0; i < count; i++) {
      const uint32_t len = i + 1 == count ? last : gso;
      bufs.push_back(segment(kind, ts, seq, len, uint8_t(i * 31)));
      seq += len;
    }
    for (size_t at = 5; at + 3 <= size; at += 3) {
      auto& f = bufs[data[at] % bufs.size()];
      const size_t off = data[at + 1] % std::min<size_t>(f.size(), 96);
      f[off] ^= data[at + 2];
      if (data[at + 2] == 0) f.push_back(0);  // Ethernet padding after the datagram
    }
  }
  // Device limits: the defaults, or a small device (few segments, short packets).
  GsoLimits limits;
  if (data[0] & 0x40) {
    limits.max_segments = 2 + data[size - 1] % 20;
    limits.max_ip_len = 1000 + uint32_t(data[size - 2]) * 200;
  }
  check_batch(bufs, limits);
  return 0;
}
