// In-place UDP echo over Ethernet + IPv4/IPv6, for the udp-echo stack and the switch
// benchmark. Zero allocation, raw loads/stores: this is the per-packet hot path.
import { checksumAddInline } from "./checksum";

// Raw little-endian loads of network-order fields, compared without swapping.
const ETHERTYPE_IPV4_RAW: u16 = 0x0008; // 08 00
const ETHERTYPE_IPV6_RAW: u16 = 0xdd86; // 86 dd
const ECHO_HOP_LIMIT: u8 = 64;

/**
 * Turns the received Ethernet/IPv4-or-IPv6/UDP frame at [ptr, ptr + len) into its echo,
 * in place, and returns the reply length (0 = drop, the frame is then left unspecified).
 *
 * The reply swaps MACs, IP addresses and ports, keeps the payload, sets TTL/hop limit to
 * 64, trims Ethernet padding and any bytes past the UDP length, and computes the IPv4
 * header checksum and the UDP checksum from scratch (also for IPv4 requests that carried
 * no checksum). The request's checksums are not verified: frames from a veth peer often
 * carry unfinished (offloaded) checksums, so a stack cannot rely on them here.
 *
 * Dropped: non-IP EtherTypes (802.1Q included), IPv4 with options (an echo would have to
 * reverse source routes), IPv4 fragments, IPv6 with extension headers, protocols other
 * than UDP, inconsistent lengths, port 0 on either side, multicast, broadcast,
 * unspecified or IPv4 loopback sources, multicast IP destinations and multicast Ethernet
 * sources (a reply would be a reflection or come from an address that is not ours).
 */
export function udpEchoInPlace(ptr: usize, len: u32): u32 {
  if (len < 42) return 0;
  if ((load<u8>(ptr, 6) & 1) != 0) return 0; // source MAC is a group address
  const etherType = load<u16>(ptr, 12);
  let replyLen: u32;
  if (etherType == ETHERTYPE_IPV4_RAW) replyLen = echoIpv4(ptr, len);
  else if (etherType == ETHERTYPE_IPV6_RAW) replyLen = echoIpv6(ptr, len);
  else return 0;
  if (replyLen == 0) return 0;
  // MAC swap: bytes 0..5 (dst) <-> 6..11 (src), as one u64 + one u32.
  const a = load<u64>(ptr); // dst0..5 src0..1
  const b = load<u32>(ptr, 8); // src2..5
  const dst = a & 0xffffffffffff;
  const src = (a >>> 48) | (<u64>b << 16);
  store<u64>(ptr, src | (dst << 48));
  store<u32>(ptr, <u32>(dst >>> 16), 8);
  return replyLen;
}

// @ts-ignore: decorator
@inline function echoIpv4(ptr: usize, len: u32): u32 {
  const ip = ptr + 14;
  if (load<u8>(ip) != 0x45 || load<u8>(ip, 9) != 17) return 0;
  const total = <u32>bswap<u16>(load<u16>(ip, 2));
  if (total < 28 || total + 14 > len) return 0;
  if ((load<u16>(ip, 6) & 0xff3f) != 0) return 0; // MF or offset: a fragment
  const src = load<u32>(ip, 12);
  const dst = load<u32>(ip, 16);
  const s0 = src & 0xff; // first octets
  const d0 = dst & 0xff;
  if (s0 == 0 || s0 >= 224 || s0 == 127 || d0 >= 224) return 0;
  const udp = ip + 20;
  const ports = load<u32>(udp);
  if ((ports & 0xffff) == 0 || (ports >>> 16) == 0) return 0;
  const ulenRaw = load<u16>(udp, 4);
  const ulen = <u32>bswap<u16>(ulenRaw);
  if (ulen < 8 || ulen > total - 20) return 0;
  const newTotal = 20 + ulen;

  // IP header: total length, TTL, addresses, checksum (computed over the new header).
  const totalRaw = bswap<u16>(<u16>newTotal);
  store<u16>(ip, totalRaw, 2);
  store<u8>(ip, ECHO_HOP_LIMIT, 8);
  store<u16>(ip, 0, 10);
  store<u32>(ip, dst, 12);
  store<u32>(ip, src, 16);
  let s: u64 = <u64>load<u32>(ip) + <u64>load<u32>(ip, 4) + <u64>load<u32>(ip, 8) + <u64>src + <u64>dst;
  store<u16>(ip, foldComplement(s), 10);

  // UDP: swapped ports, checksum over pseudo-header + header + payload.
  store<u32>(udp, rotr<u32>(ports, 16));
  store<u16>(udp, 0, 6);
  let u: u64 = <u64>src + <u64>dst + 0x1100 + <u64>ulenRaw + <u64>ports + <u64>ulenRaw;
  u = checksumAddInline(u, udp + 8, ulen - 8);
  let c = foldComplement(u);
  store<u16>(udp, c == 0 ? 0xffff : c, 6);
  return 14 + newTotal;
}

// @ts-ignore: decorator
@inline function echoIpv6(ptr: usize, len: u32): u32 {
  if (len < 62) return 0;
  const ip = ptr + 14;
  if ((load<u8>(ip) >> 4) != 6 || load<u8>(ip, 6) != 17) return 0;
  const plen = <u32>bswap<u16>(load<u16>(ip, 4));
  if (plen < 8 || plen + 54 > len) return 0;
  const s0 = load<u64>(ip, 8);
  const s1 = load<u64>(ip, 16);
  const d0 = load<u64>(ip, 24);
  const d1 = load<u64>(ip, 32);
  // Multicast or unspecified source, multicast destination.
  if ((s0 & 0xff) == 0xff || (s0 | s1) == 0 || (d0 & 0xff) == 0xff) return 0;
  const udp = ip + 40;
  const ports = load<u32>(udp);
  if ((ports & 0xffff) == 0 || (ports >>> 16) == 0) return 0;
  const ulenRaw = load<u16>(udp, 4);
  const ulen = <u32>bswap<u16>(ulenRaw);
  if (ulen < 8 || ulen > plen) return 0;

  store<u16>(ip, ulenRaw, 4);
  store<u8>(ip, ECHO_HOP_LIMIT, 7);
  store<u64>(ip, d0, 8);
  store<u64>(ip, d1, 16);
  store<u64>(ip, s0, 24);
  store<u64>(ip, s1, 32);

  store<u32>(udp, rotr<u32>(ports, 16));
  store<u16>(udp, 0, 6);
  let u: u64 = (s0 & 0xffffffff) + (s0 >>> 32) + (s1 & 0xffffffff) + (s1 >>> 32) +
    (d0 & 0xffffffff) + (d0 >>> 32) + (d1 & 0xffffffff) + (d1 >>> 32);
  // Pseudo-header length is 32 bits (upper half 0) and next header 17; then the UDP header.
  u += <u64>ulenRaw + 0x1100 + <u64>ports + <u64>ulenRaw;
  u = checksumAddInline(u, udp + 8, ulen - 8);
  let c = foldComplement(u);
  store<u16>(udp, c == 0 ? 0xffff : c, 6);
  return 54 + ulen;
}

/** Folds a memory-order accumulator and complements it; the result is stored as-is. */
// @ts-ignore: decorator
@inline function foldComplement(acc: u64): u16 {
  let s = (acc & 0xffffffff) + (acc >>> 32);
  s = (s & 0xffff) + (s >>> 16);
  s = (s & 0xffff) + (s >>> 16);
  s = (s & 0xffff) + (s >>> 16);
  return ~<u16>s;
}
