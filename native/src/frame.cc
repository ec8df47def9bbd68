#include "frame.h"

#include <cstring>

namespace msh {

const char* parse_status_name(ParseStatus s) {
  switch (s) {
    case ParseStatus::Ok: return "ok";
    case ParseStatus::NotIp: return "not_ip";
    case ParseStatus::TruncatedL2: return "truncated_l2";
    case ParseStatus::BadL3Header: return "bad_l3_header";
    case ParseStatus::BadL3Length: return "bad_l3_length";
    case ParseStatus::BadExtHeaders: return "bad_ext_headers";
    case ParseStatus::TruncatedL4: return "truncated_l4";
    case ParseStatus::BadL4Header: return "bad_l4_header";
  }
  return "unknown";
}

// Every read below is preceded by a check that the bytes lie inside [0, len) (or inside
// [l3_off, l3_end), which is itself inside the frame). Offsets are 32-bit and every
// increment is bounded by 16-bit header fields, so they cannot wrap.

static inline ParseStatus finish(ParsedFrame& f, ParseStatus s) {
  f.status = s;
  return s;
}

// TCP/UDP ports and header sanity, within [l4_off, l3_end).
[[gnu::always_inline]] static inline ParseStatus parse_l4(const uint8_t* d, ParsedFrame& f) {
  if (f.proto != kProtoTcp && f.proto != kProtoUdp) return finish(f, ParseStatus::Ok);
  if (f.is_later_fragment()) return finish(f, ParseStatus::Ok);  // no L4 header here
  const uint32_t avail = f.l3_end - f.l4_off;
  if (f.is_first_fragment()) {
    // The first fragment must carry at least the ports (and the UDP header); the rest of
    // the L4 header may be in a later fragment.
    if (avail < 8) return finish(f, ParseStatus::TruncatedL4);
  } else if (f.proto == kProtoUdp) {
    if (avail < 8) return finish(f, ParseStatus::TruncatedL4);
    const uint32_t ulen = load_be16(d + f.l4_off + 4);
    if (ulen < 8 || ulen > avail) return finish(f, ParseStatus::BadL4Header);
  } else {
    if (avail < 20) return finish(f, ParseStatus::TruncatedL4);
    const uint32_t doff = uint32_t(d[f.l4_off + 12] >> 4) * 4;
    if (doff < 20 || doff > avail) return finish(f, ParseStatus::BadL4Header);
  }
  f.sport = load_be16(d + f.l4_off);
  f.dport = load_be16(d + f.l4_off + 2);
  f.has_ports = true;
  return finish(f, ParseStatus::Ok);
}

static ParseStatus parse_ipv4(const uint8_t* d, uint32_t len, ParsedFrame& f) {
  const uint32_t o = f.l3_off;
  if (len - o < 20) return finish(f, ParseStatus::BadL3Header);
  const uint8_t vihl = d[o];
  if ((vihl >> 4) != 4) return finish(f, ParseStatus::BadL3Header);
  const uint32_t ihl = uint32_t(vihl & 0x0f) * 4;
  if (ihl < 20 || ihl > len - o) return finish(f, ParseStatus::BadL3Header);
  const uint32_t total = load_be16(d + o + 2);
  // Trailing bytes after the datagram (Ethernet padding) are allowed; a datagram longer
  // than the frame is not.
  if (total < ihl || total > len - o) return finish(f, ParseStatus::BadL3Length);
  f.ip_version = 4;
  f.l3_end = o + total;
  f.l4_off = o + ihl;
  f.proto = d[o + 9];
  const uint16_t fo = load_be16(d + o + 6);
  const uint16_t off = uint16_t((fo & 0x1fff) * 8);
  const bool more = fo & 0x2000;
  if (off != 0 || more) {
    f.frag = uint8_t(kFragIsFragment | (more ? kFragMore : 0));
    f.frag_offset = off;
    f.frag_id = load_be16(d + o + 4);
  }
  // IPv4-mapped IPv6 (::ffff:a.b.c.d).
  store_mapped_v4(f.src, d + o + 12);
  store_mapped_v4(f.dst, d + o + 16);
  return parse_l4(d, f);
}

static ParseStatus parse_ipv6(const uint8_t* d, uint32_t len, ParsedFrame& f) {
  const uint32_t o = f.l3_off;
  if (len - o < 40) return finish(f, ParseStatus::BadL3Header);
  if ((d[o] >> 4) != 6) return finish(f, ParseStatus::BadL3Header);
  const uint32_t payload = load_be16(d + o + 4);
  // payload 0 with a hop-by-hop jumbo option (RFC 2675) is not supported: such a frame
  // fails below because the extension headers do not fit in a 0-byte payload.
  if (payload > len - o - 40) return finish(f, ParseStatus::BadL3Length);
  f.ip_version = 6;
  f.l3_end = o + 40 + payload;
  std::memcpy(f.src, d + o + 8, 16);
  std::memcpy(f.dst, d + o + 24, 16);
  uint8_t nh = d[o + 6];
  uint32_t p = o + 40;
  bool seen_frag = false;
  for (int i = 0;; ++i) {
    uint32_t hlen;
    switch (nh) {
      case 0:    // hop-by-hop options
      case 43:   // routing
      case 60:   // destination options
      case 135:  // mobility
      case 139:  // HIP
      case 140:  // shim6
        if (f.l3_end - p < 8) return finish(f, ParseStatus::BadExtHeaders);
        hlen = (uint32_t(d[p + 1]) + 1) * 8;
        break;
      case 51:  // AH: length in 4-octet units, minus 2
        if (f.l3_end - p < 8) return finish(f, ParseStatus::BadExtHeaders);
        hlen = (uint32_t(d[p + 1]) + 2) * 4;
        break;
      case 44: {  // fragment
        if (f.l3_end - p < 8 || seen_frag) return finish(f, ParseStatus::BadExtHeaders);
        seen_frag = true;
        const uint16_t fo = load_be16(d + p + 2);
        const uint16_t off = fo & 0xfff8;
        const bool more = fo & 1;
        // An "atomic fragment" (offset 0, M=0, RFC 6946) is a whole datagram.
        if (off != 0 || more) {
          f.frag = uint8_t(kFragIsFragment | (more ? kFragMore : 0));
          f.frag_offset = off;
          f.frag_id = load_be32(d + p + 4);
        }
        hlen = 8;
        break;
      }
      default:  // upper layer (TCP, UDP, ICMPv6, ESP, no-next-header, ...)
        f.proto = nh;
        f.l4_off = p;
        return parse_l4(d, f);
    }
    if (i >= kMaxIPv6ExtHeaders || hlen > f.l3_end - p)
      return finish(f, ParseStatus::BadExtHeaders);
    nh = d[p];
    p += hlen;
    if (f.is_later_fragment()) {
      // Headers after the fragment header of a non-first fragment belong to the
      // fragmentable part and are not parsed: the payload starts here.
      f.proto = nh;
      f.l4_off = p;
      return finish(f, ParseStatus::Ok);
    }
  }
}

ParseStatus parse_frame_full(const uint8_t* d, uint32_t len, ParsedFrame& f) {
  f.ethertype = 0;
  f.vlan_tci = 0;
  f.l3_off = f.l3_end = f.l4_off = 0;
  f.sport = f.dport = 0;
  f.ip_version = 0;
  f.proto = 0;
  f.frag = kFragNone;
  f.frag_offset = 0;
  f.frag_id = 0;
  f.has_vlan = false;
  f.has_ports = false;
  if (len < kEthHdrLen) return finish(f, ParseStatus::TruncatedL2);
  uint16_t et = load_be16(d + 12);
  uint32_t o = kEthHdrLen;
  if (et == kEtherVlan) {
    if (len < kEthHdrLen + 4) return finish(f, ParseStatus::TruncatedL2);
    f.has_vlan = true;
    f.vlan_tci = load_be16(d + 14);
    et = load_be16(d + 16);
    o += 4;
  }
  f.ethertype = et;
  f.l3_off = o;
  if (et == kEtherIPv4) return parse_ipv4(d, len, f);
  if (et == kEtherIPv6) return parse_ipv6(d, len, f);
  return finish(f, ParseStatus::NotIp);
}

}  // namespace msh
