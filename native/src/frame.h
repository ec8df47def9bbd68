// Bounds-checked parsing of Ethernet frames down to TCP/UDP ports.
//
// parse_frame never reads outside [data, data + len) whatever the bytes are. It fills a
// ParsedFrame that the classifier uses for both directions (RX: destination tuple, TX:
// source tuple). It decodes, it does not judge policy: "not IP" and "no ports" are
// normal outcomes; only structural errors give a non-Ok status.
#pragma once
#include <cstdint>

namespace msh {

enum class ParseStatus : uint8_t {
  Ok = 0,         // IPv4/IPv6 decoded; ports valid when has_ports
  NotIp,          // well-formed Ethernet (+ optional 802.1Q tag), another EtherType
  TruncatedL2,    // shorter than the Ethernet (+ tag) header
  BadL3Header,    // wrong IP version field, IHL < 5, IP header beyond the frame
  BadL3Length,    // IPv4 total length / IPv6 payload length inconsistent with the frame
  BadExtHeaders,  // IPv6 extension header chain truncated, too long or repeated fragment hdr
  TruncatedL4,    // TCP/UDP header cut short (unfragmented or first fragment)
  BadL4Header,    // TCP data offset or UDP length inconsistent with the datagram
};
const char* parse_status_name(ParseStatus s);

constexpr uint16_t kEtherIPv4 = 0x0800;
constexpr uint16_t kEtherIPv6 = 0x86DD;
constexpr uint16_t kEtherArp = 0x0806;
constexpr uint16_t kEtherVlan = 0x8100;
constexpr uint8_t kProtoTcp = 6;
constexpr uint8_t kProtoUdp = 17;
constexpr uint32_t kEthHdrLen = 14;
// At most this many IPv6 extension headers are walked; a longer chain is BadExtHeaders.
constexpr int kMaxIPv6ExtHeaders = 8;

enum FragFlags : uint8_t {
  kFragNone = 0,
  kFragIsFragment = 1,  // part of a fragmented datagram (offset != 0 or more-fragments)
  kFragMore = 2,        // more-fragments flag
};

struct ParsedFrame {
  // Addresses: network byte order; IPv4 stored IPv4-mapped (::ffff:a.b.c.d).
  uint8_t src[16];
  uint8_t dst[16];
  uint32_t frag_id;      // IPv4 identification (16 bits) or IPv6 fragment id
  uint16_t frag_offset;  // bytes; 0 for the first fragment and unfragmented datagrams
  uint16_t ethertype;    // after the optional 802.1Q tag
  uint16_t vlan_tci;     // valid when has_vlan
  uint32_t l3_off;       // start of the IP header
  uint32_t l3_end;       // end of the IP datagram (l3_off + IP total length); <= frame len
  uint32_t l4_off;       // start of the upper-layer header (after IPv4 options / v6 ext hdrs)
  uint16_t sport, dport; // host byte order; valid when has_ports
  uint8_t ip_version;    // 4, 6, or 0 when not IP
  uint8_t proto;         // upper-layer protocol (last IPv6 next-header value)
  uint8_t frag;          // FragFlags
  bool has_vlan;
  bool has_ports;        // TCP/UDP and not a non-first fragment
  ParseStatus status;

  bool is_fragment() const { return frag & kFragIsFragment; }
  bool is_first_fragment() const { return (frag & kFragIsFragment) && frag_offset == 0; }
  bool is_later_fragment() const { return (frag & kFragIsFragment) && frag_offset != 0; }
};

// Parses `len` bytes at `data` (len may be 0; data may be null when len is 0).
// Returns out.status. Inline fast path for the common frame (below), else the full
// parser; both give identical results (checked by test/native/fuzz).
inline ParseStatus parse_frame(const uint8_t* data, uint32_t len, ParsedFrame& out);
// The full parser: every case.
ParseStatus parse_frame_full(const uint8_t* data, uint32_t len, ParsedFrame& out);

// Copies a frame. Frames up to 128 bytes (the common small packet) are copied inline
// with overlapping 16-byte moves: no call into libc, no size dispatch; longer ones use
// memcpy.
inline void copy_frame(uint8_t* __restrict dst, const uint8_t* __restrict src, uint32_t len) {
  struct V {
    uint8_t b[16];
  };
  auto mv = [&](uint32_t at) {
    V v;
    __builtin_memcpy(&v, src + at, 16);
    __builtin_memcpy(dst + at, &v, 16);
  };
  if (len >= 32 && len <= 64) {
    mv(0);
    mv(16);
    mv(len - 32);
    mv(len - 16);
  } else if (len > 64 && len <= 128) {
    mv(0);
    mv(16);
    mv(32);
    mv(48);
    mv(len - 64);
    mv(len - 48);
    mv(len - 32);
    mv(len - 16);
  } else {
    __builtin_memcpy(dst, src, len);
  }
}

// Small helpers shared by the data path (unaligned, big-endian).
inline uint16_t load_be16(const uint8_t* p) { return uint16_t(p[0] << 8 | p[1]); }
inline uint32_t load_be32(const uint8_t* p) {
  return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3];
}

inline void store_mapped_v4(uint8_t* out, const uint8_t* v4) {
  uint32_t a;
  __builtin_memcpy(&a, v4, 4);
  // Bytes 0..15 in memory order: 0 x 10, ff ff, a b c d (little-endian host). One 16-byte
  // store, so that the classifier's loads of the key (one 16-byte or two 8-byte loads,
  // as the compiler likes) forward from it; two 8-byte stores read back by one 16-byte
  // load would stall on store forwarding.
  const uint64_t hi = 0xffff0000ull | uint64_t(a) << 32;
  typedef uint64_t v2u64 __attribute__((vector_size(16), aligned(1)));
  const v2u64 v = {0, hi};
  __builtin_memcpy(out, &v, 16);
}

inline ParseStatus parse_frame(const uint8_t* d, uint32_t len, ParsedFrame& f) {
  // Fast path: untagged IPv4 without options, not fragmented, UDP or TCP with a complete
  // and consistent header. Anything else (and any doubt) goes to the full parser.
  if (len >= 42 && d[12] == 0x08 && d[13] == 0x00 && d[14] == 0x45) {
    const uint32_t total = load_be16(d + 16);
    const uint8_t proto = d[23];
    if ((load_be16(d + 20) & 0x3fff) == 0 && total >= 28 && total <= len - kEthHdrLen) {
      const uint32_t avail = total - 20;  // >= 8
      bool ok = false;
      if (proto == kProtoUdp) {
        const uint32_t ulen = load_be16(d + 38);
        ok = ulen >= 8 && ulen <= avail;
      } else if (proto == kProtoTcp && avail >= 20) {
        const uint32_t doff = uint32_t(d[46] >> 4) * 4;
        ok = doff >= 20 && doff <= avail;
      }
      if (ok) {
        store_mapped_v4(f.src, d + 26);
        store_mapped_v4(f.dst, d + 30);
        f.frag_id = 0;
        f.frag_offset = 0;
        f.ethertype = kEtherIPv4;
        f.vlan_tci = 0;
        f.l3_off = kEthHdrLen;
        f.l3_end = kEthHdrLen + total;
        f.l4_off = kEthHdrLen + 20;
        f.sport = load_be16(d + 34);
        f.dport = load_be16(d + 36);
        f.ip_version = 4;
        f.proto = proto;
        f.frag = kFragNone;
        f.has_vlan = false;
        f.has_ports = true;
        f.status = ParseStatus::Ok;
        return ParseStatus::Ok;
      }
    }
  }
  return parse_frame_full(d, len, f);
}

}  // namespace msh
