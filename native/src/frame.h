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
// Returns out.status.
ParseStatus parse_frame(const uint8_t* data, uint32_t len, ParsedFrame& out);

// Small helpers shared by the data path (unaligned, big-endian).
inline uint16_t load_be16(const uint8_t* p) { return uint16_t(p[0] << 8 | p[1]); }
inline uint32_t load_be32(const uint8_t* p) {
  return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3];
}

}  // namespace msh
