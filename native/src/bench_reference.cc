#include "bench_reference.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "backends/switch.h"
#include "errors.h"
#include "guest_ring.h"
#include "link.h"

namespace msh {

namespace {

// One's complement sum in host order, 4 bytes at a time into a 64-bit accumulator (the
// sum is byte-order independent up to a final swap, RFC 1071).
uint64_t csum_partial(const uint8_t* p, uint32_t len, uint64_t sum) {
  for (; len >= 4; p += 4, len -= 4) {
    uint32_t w;
    std::memcpy(&w, p, 4);
    sum += w;
  }
  if (len >= 2) {
    uint16_t w;
    std::memcpy(&w, p, 2);
    sum += w;
    p += 2;
    len -= 2;
  }
  if (len) sum += *p;  // little-endian host: the odd byte is the low byte of its word
  return sum;
}
// Folds to 16 bits and returns the checksum in network order, ready to store as bytes.
uint16_t csum_fold(uint64_t sum) {
  sum = (sum & 0xffffffff) + (sum >> 32);
  sum = (sum & 0xffffffff) + (sum >> 32);
  sum = (sum & 0xffff) + (sum >> 16);
  sum = (sum & 0xffff) + (sum >> 16);
  return uint16_t(~sum);
}
void put16(uint8_t* p, uint16_t v) {
  p[0] = uint8_t(v >> 8);
  p[1] = uint8_t(v);
}

// IPv4 header checksum and UDP checksum (with pseudo-header) of an Eth/IPv4/UDP frame.
void fix_checksums_udp4(uint8_t* f) {
  uint8_t* ip = f + 14;
  const uint32_t ihl = (ip[0] & 15) * 4;
  ip[10] = ip[11] = 0;
  uint16_t c = csum_fold(csum_partial(ip, ihl, 0));
  std::memcpy(ip + 10, &c, 2);
  uint8_t* udp = ip + ihl;
  const uint32_t ulen = load_be16(udp + 4);
  udp[6] = udp[7] = 0;
  // Pseudo-header: addresses, zero + protocol, UDP length (the latter two as one
  // big-endian word each, summed in host order after a swap).
  uint64_t s = csum_partial(ip + 12, 8, 0);
  s += __builtin_bswap16(uint16_t(kProtoUdp)) + __builtin_bswap16(uint16_t(ulen));
  c = csum_fold(csum_partial(udp, ulen, s));
  if (c == 0) c = 0xffff;
  std::memcpy(udp + 6, &c, 2);
}

}  // namespace

void bench_udp_frame(uint8_t* f, uint32_t size, const uint8_t link_mac[6]) {
  std::memset(f, 0, size);
  std::memcpy(f, link_mac, 6);
  const uint8_t peer[6] = {0x02, 0, 0, 0, 0, 0x01};
  std::memcpy(f + 6, peer, 6);
  put16(f + 12, kEtherIPv4);
  uint8_t* ip = f + 14;
  ip[0] = 0x45;
  put16(ip + 2, uint16_t(size - 14));
  put16(ip + 4, 0x1234);
  ip[8] = 64;
  ip[9] = kProtoUdp;
  const uint8_t src[4] = {10, 0, 0, 1}, dst[4] = {10, 0, 0, 2};
  std::memcpy(ip + 12, src, 4);
  std::memcpy(ip + 16, dst, 4);
  uint8_t* udp = ip + 20;
  put16(udp, 1234);
  put16(udp + 2, 7);
  put16(udp + 4, uint16_t(size - 34));
  for (uint32_t i = 42; i < size; ++i) f[i] = uint8_t(i);
  fix_checksums_udp4(f);
}

void bench_echo_udp4(uint8_t* f, uint32_t len) {
  // Swaps with whole-word loads and stores, and checksums that read the words just
  // stored at the same size: no store-to-load forwarding stalls. The checksum fields are
  // not zeroed first; their old value is taken out of the sum instead.
  uint64_t m0;
  uint32_t m1;
  std::memcpy(&m0, f, 8);
  std::memcpy(&m1, f + 8, 4);
  const uint64_t dst = m0 & 0xffffffffffffull, src = m0 >> 48 | uint64_t(m1) << 16;
  m0 = src | dst << 48;
  m1 = uint32_t(dst >> 16);
  std::memcpy(f, &m0, 8);
  std::memcpy(f + 8, &m1, 4);

  uint8_t* ip = f + 14;
  const uint32_t ihl = (ip[0] & 15) * 4;
  uint64_t addrs;
  std::memcpy(&addrs, ip + 12, 8);
  addrs = addrs >> 32 | addrs << 32;
  std::memcpy(ip + 12, &addrs, 8);
  uint16_t old;
  std::memcpy(&old, ip + 10, 2);
  uint64_t s = csum_partial(ip, 12, 0) + (addrs & 0xffffffff) + (addrs >> 32) +
               csum_partial(ip + 20, ihl - 20, 0) + uint16_t(~old);
  uint16_t c = csum_fold(s);
  std::memcpy(ip + 10, &c, 2);

  uint8_t* udp = ip + ihl;
  uint32_t ports;
  std::memcpy(&ports, udp, 4);
  ports = ports >> 16 | ports << 16;
  std::memcpy(udp, &ports, 4);
  const uint32_t ulen = std::min<uint32_t>(load_be16(udp + 4), len - 14 - ihl);
  std::memcpy(&old, udp + 6, 2);
  s = (addrs & 0xffffffff) + (addrs >> 32) + __builtin_bswap16(uint16_t(kProtoUdp)) +
      __builtin_bswap16(uint16_t(ulen)) + ports + csum_partial(udp + 4, ulen - 4, 0) +
      uint16_t(~old);
  c = csum_fold(s);
  if (c == 0) c = 0xffff;
  std::memcpy(udp + 6, &c, 2);
}

int bench_reference(const BenchOptions& o, BenchResult* out) {
  if (o.frame_size < 42 || o.frame_size > 1514 || o.batch == 0 || o.num_slots == 0 ||
      o.num_slots > kRingMaxSlots || (o.num_slots & (o.num_slots - 1)) ||
      o.buf_stride < kRingMinSlotSize || o.batch > o.num_slots) {
    set_errno_error(EINVAL, "", "benchReference: invalid options");
    return -EINVAL;
  }
  const uint8_t mac[6] = {0x02, 0x6d, 0x73, 0x68, 0, 0x02};
  Link link(mac, 1500);
  auto owned = std::make_unique<SwitchBackend>(SwitchOptions{});
  SwitchBackend* sw = owned.get();
  int rc = link.attach_backend(std::move(owned));
  if (rc < 0) return rc;
  sw->set_wire_discard(true);
  uint32_t port;
  if ((rc = link.add_port(&port)) < 0) return rc;
  const uint8_t addr[4] = {10, 0, 0, 2};
  if ((rc = link.claim(port, make_tuple_key(kProtoUdp, addr, 4, 7))) < 0) return rc;

  // Guest memory: [rx ring][tx ring][buffers], as a guest would lay it out.
  const uint32_t ring_bytes = kRingHeaderBytes + o.num_slots * kRingSlotBytes;
  const uint32_t rx_off = 0, tx_off = (ring_bytes + 63) & ~63u;
  const uint32_t buf_off = (tx_off + ring_bytes + 4095) & ~4095u;
  const size_t mem_size = buf_off + size_t(2) * o.num_slots * o.buf_stride;
  struct Free {
    void operator()(uint8_t* p) const { std::free(p); }
  };
  std::unique_ptr<uint8_t, Free> mem_own(static_cast<uint8_t*>(std::aligned_alloc(4096, mem_size)));
  uint8_t* mem = mem_own.get();
  if (!mem) return -ENOMEM;
  std::memset(mem, 0, mem_size);
  const GuestMemory gm{mem, mem_size};
  auto init_ring = [&](uint32_t off, uint32_t first_buf) {
    st32(mem + off + kRingNumSlots, o.num_slots);
    st32(mem + off + kRingSlotSize, kRingMinSlotSize);
    for (uint32_t i = 0; i < o.num_slots; ++i)
      st32(mem + off + kRingHeaderBytes + i * kRingSlotBytes + kSlotBuf,
           buf_off + (first_buf + i) * o.buf_stride);
  };
  init_ring(rx_off, 0);
  init_ring(tx_off, o.num_slots);

  uint8_t tmpl[1514];
  bench_udp_frame(tmpl, o.frame_size, mac);

  // The guest's side of the rings (what a stack does in poll()).
  auto guest_echo = [&]() {
    uint8_t* rx = mem + rx_off;
    uint8_t* tx = mem + tx_off;
    uint32_t rh = ld32(rx + kRingHead), rt = ld32(rx + kRingTail);
    uint32_t th = ld32(tx + kRingHead), tt = ld32(tx + kRingTail);
    const uint32_t mask = o.num_slots - 1;
    while (rh != rt && tt - th < o.num_slots) {
      const uint8_t* rs = rx + kRingHeaderBytes + (rh & mask) * kRingSlotBytes;
      uint8_t* ts = tx + kRingHeaderBytes + (tt & mask) * kRingSlotBytes;
      const uint32_t len = ld32(rs + kSlotLen);
      uint8_t* dst = mem + ld32(ts + kSlotBuf);
      std::memcpy(dst, mem + ld32(rs + kSlotBuf), len);
      bench_echo_udp4(dst, len);
      st32(ts + kSlotLen, len);
      ++rh;
      ++tt;
    }
    st32(rx + kRingHead, rh);
    st32(tx + kRingTail, tt);
  };

  using clock = std::chrono::steady_clock;
  const auto t0 = clock::now();
  const auto deadline = t0 + std::chrono::duration<double>(o.seconds);
  uint64_t rounds = 0;
  auto now = t0;
  for (;;) {
    sw->generate(tmpl, o.frame_size, o.batch);
    rc = link.rx_to_guest(port, gm, rx_off, o.batch);
    if (rc < 0) return rc;
    guest_echo();
    rc = link.tx_from_guest(port, gm, tx_off, UINT32_MAX);
    if (rc < 0) return rc;
    if ((++rounds & 63) == 0 && (now = clock::now()) >= deadline) break;
  }
  const double secs = std::chrono::duration<double>(now - t0).count();
  const Port* p = link.port_for_stats(port);
  out->frames = p->counters.tx_frames.load();
  out->seconds = secs;
  out->mpps = double(out->frames) / secs / 1e6;
  out->ns_per_frame = secs * 1e9 / double(out->frames ? out->frames : 1);
  out->dropped = rounds * o.batch - out->frames;
  return 0;
}

}  // namespace msh
