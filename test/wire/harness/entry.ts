// Test entry for the wire layer (compiled by test/wire/harness/load.ts with asc, -O3,
// incremental runtime). Every function takes a pointer/length into memory the test
// filled (at the very end of memory, so any over-read traps) and reports through two
// scratch areas: OUT (f64 values) and OUTB (bytes); emit functions read IN / INB.
import {
  ArpRepr, ArpView, EthernetRepr, EthernetView, Icmpv4Repr, Icmpv4View, Icmpv6Repr, Icmpv6View,
  Ipv4Repr, Ipv4View, Ipv6Address, Ipv6Repr, Ipv6View, TcpRepr, TcpView, UdpRepr, UdpView,
  ETHERTYPE_ARP, ETHERTYPE_IPV4, ETHERTYPE_IPV6, IP_PROTO_ICMP, IP_PROTO_TCP, IP_PROTO_UDP,
  IPV6_NH_ICMPV6, NDP_OPT_SOURCE_LLADDR, NDP_OPT_TARGET_LLADDR,
  checksum, checksumAdd, checksumAddU16, checksumAddU32, checksumFinish, checksumUpdate16, checksumUpdate32,
  ipv4HeaderChecksum, pseudoHeaderV4, pseudoHeaderV6, formatIpv4, formatMac, parseIpv4, udpEchoInPlace,
  ipv4, isIpv4Broadcast, isIpv4LinkLocal, isIpv4Loopback, isIpv4Multicast, isIpv4Unicast, isMacMulticast,
  loadIpv4, storeIpv4, loadMac, storeMac, TCP_FIN, TCP_SYN, TCP_RST, TCP_PSH, TCP_ACK, TCP_URG,
} from "../../../guest-sdk/assembly/wire/index";

const OUT = memory.data(8 * 64, 8);
const IN = memory.data(8 * 64, 8);
const OUTB = memory.data(256, 8);
const INB = memory.data(256, 8);

export function outPtr(): usize { return OUT; }
export function inPtr(): usize { return IN; }
export function outbPtr(): usize { return OUTB; }
export function inbPtr(): usize { return INB; }

// @ts-ignore: decorator
@inline function out(i: i32, v: f64): void { store<f64>(OUT + (<usize>i << 3), v); }
// @ts-ignore: decorator
@inline function inp(i: i32): f64 { return load<f64>(IN + (<usize>i << 3)); }
function clearOut(): void { memory.fill(OUT, 0, 8 * 64); }

const eth = new EthernetView();
const ethRepr = new EthernetRepr();
const arp = new ArpView();
const arpRepr = new ArpRepr();
const ip4 = new Ipv4View();
const ip4Repr = new Ipv4Repr();
const ip6 = new Ipv6View();
const ip6Repr = new Ipv6Repr();
const icmp4 = new Icmpv4View();
const icmp4Repr = new Icmpv4Repr();
const icmp6 = new Icmpv6View();
const icmp6Repr = new Icmpv6Repr();
const udp = new UdpView();
const udpRepr = new UdpRepr();
const tcp = new TcpView();
const tcpRepr = new TcpRepr();
const addr = new Ipv6Address();

// ------------------------------------------------------------------ Ethernet, ARP

export function ethParse(p: usize, l: u32): i32 {
  clearOut();
  if (!eth.wrap(p, l)) return 0;
  if (!ethRepr.parse(eth)) return -1;
  out(0, <f64>ethRepr.dst);
  out(1, <f64>ethRepr.src);
  out(2, <f64>ethRepr.etherType);
  out(3, <f64>(eth.payloadPtr() - p));
  out(4, <f64>eth.payloadLen());
  return 1;
}
export function ethEmit(p: usize, l: u32): i32 {
  if (!eth.wrapRaw(p, l)) return 0;
  ethRepr.dst = <u64>inp(0);
  ethRepr.src = <u64>inp(1);
  ethRepr.etherType = <u16>inp(2);
  return ethRepr.emit(eth) ? 1 : -1;
}
export function arpParse(p: usize, l: u32): i32 {
  clearOut();
  if (!arp.wrap(p, l)) return 0;
  if (!arpRepr.parse(arp)) return -1;
  out(0, <f64>arpRepr.operation);
  out(1, <f64>arpRepr.senderMac);
  out(2, <f64>arpRepr.senderIp);
  out(3, <f64>arpRepr.targetMac);
  out(4, <f64>arpRepr.targetIp);
  return 1;
}
export function arpEmit(p: usize, l: u32): i32 {
  if (!arp.wrapRaw(p, l)) return 0;
  arpRepr.operation = <u16>inp(0);
  arpRepr.senderMac = <u64>inp(1);
  arpRepr.senderIp = <u32>inp(2);
  arpRepr.targetMac = <u64>inp(3);
  arpRepr.targetIp = <u32>inp(4);
  return arpRepr.emit(arp) ? 1 : -1;
}

// ------------------------------------------------------------------------- IPv4

function ipv4Out(p: usize): void {
  out(0, <f64>ip4Repr.src);
  out(1, <f64>ip4Repr.dst);
  out(2, <f64>ip4Repr.protocol);
  out(3, <f64>ip4Repr.ttl);
  out(4, <f64>ip4Repr.payloadLen);
  out(5, <f64>ip4Repr.ident);
  out(6, ip4Repr.dontFrag ? 1 : 0);
  out(7, ip4Repr.moreFrags ? 1 : 0);
  out(8, <f64>ip4Repr.fragOffset);
  out(9, <f64>ip4Repr.dscp);
  out(10, <f64>ip4Repr.ecn);
  out(11, <f64>ip4Repr.optionsLen);
  out(12, <f64>ip4.headerLen());
  out(13, <f64>(ip4.payloadPtr() - p));
  out(14, <f64>ip4.checksum());
  out(15, ip4.verifyChecksum() ? 1 : 0);
  out(16, ip4.isFragment() ? 1 : 0);
  out(17, <f64>ip4.totalLen());
}
/** mode 0: wrap, 1: wrapQuoted. Returns 0 wrap failed, -1 parse failed, 1 ok. */
export function ipv4Parse(p: usize, l: u32, mode: i32, verify: i32): i32 {
  clearOut();
  if (!(mode == 1 ? ip4.wrapQuoted(p, l) : ip4.wrap(p, l))) return 0;
  if (!ip4Repr.parse(ip4, verify != 0)) return -1;
  ipv4Out(p);
  return 1;
}
export function ipv4Emit(p: usize, l: u32): i32 {
  if (!ip4.wrapRaw(p, l)) return 0;
  ip4Repr.src = <u32>inp(0);
  ip4Repr.dst = <u32>inp(1);
  ip4Repr.protocol = <u8>inp(2);
  ip4Repr.ttl = <u8>inp(3);
  ip4Repr.payloadLen = <u32>inp(4);
  ip4Repr.ident = <u16>inp(5);
  ip4Repr.dontFrag = inp(6) != 0;
  ip4Repr.moreFrags = inp(7) != 0;
  ip4Repr.fragOffset = <u32>inp(8);
  ip4Repr.dscp = <u8>inp(9);
  ip4Repr.ecn = <u8>inp(10);
  if (!ip4Repr.emit(ip4)) return -1;
  return <i32>ip4Repr.bufferLen();
}

// ------------------------------------------------------------------------- IPv6

export function ipv6Parse(p: usize, l: u32, quoted: i32): i32 {
  clearOut();
  if (!(quoted != 0 ? ip6.wrapQuoted(p, l) : ip6.wrap(p, l))) return 0;
  if (!ip6Repr.parse(ip6)) return -1;
  out(0, <f64>ip6Repr.nextHeader);
  out(1, <f64>ip6Repr.hopLimit);
  out(2, <f64>ip6Repr.payloadLen);
  out(3, <f64>ip6Repr.upperLayerOffset);
  out(4, <f64>ip6Repr.trafficClass);
  out(5, <f64>ip6Repr.flowLabel);
  out(6, ip6Repr.hasFragmentHeader ? 1 : 0);
  out(7, <f64>ip6Repr.fragOffset);
  out(8, ip6Repr.moreFrags ? 1 : 0);
  out(9, <f64>ip6Repr.fragIdent);
  out(10, <f64>ip6.extHeadersLen());
  out(11, <f64>ip6.nextHeader());
  out(12, <f64>ip6.payloadLength());
  out(13, <f64>(ip6.payloadPtr() - p));
  out(14, ip6.isFragment() ? 1 : 0);
  out(15, <f64>ip6.fragHeaderOffset());
  ip6Repr.src.storeTo(OUTB);
  ip6Repr.dst.storeTo(OUTB + 16);
  return 1;
}
/** Addresses from INB[0..16) and INB[16..32). */
export function ipv6Emit(p: usize, l: u32): i32 {
  if (!ip6.wrapRaw(p, l)) return 0;
  ip6Repr.src.loadFrom(INB);
  ip6Repr.dst.loadFrom(INB + 16);
  ip6Repr.nextHeader = <u8>inp(0);
  ip6Repr.hopLimit = <u8>inp(1);
  ip6Repr.payloadLen = <u32>inp(2);
  ip6Repr.trafficClass = <u8>inp(4);
  ip6Repr.flowLabel = <u32>inp(5);
  if (!ip6Repr.emit(ip6)) return -1;
  if (ip6.upperProtocol() != ip6Repr.nextHeader || ip6.payloadLen() != ip6Repr.payloadLen) return -2;
  return <i32>ip6Repr.bufferLen();
}

// ------------------------------------------------------------------------- ICMP

export function icmpv4Parse(p: usize, l: u32, verify: i32): i32 {
  clearOut();
  if (!icmp4.wrap(p, l)) return 0;
  if (!icmp4Repr.parse(icmp4, verify != 0)) return -1;
  out(0, <f64>icmp4Repr.msgType);
  out(1, <f64>icmp4Repr.code);
  out(2, <f64>icmp4Repr.restOfHeader);
  out(3, <f64>icmp4Repr.ident);
  out(4, <f64>icmp4Repr.seqNo);
  out(5, <f64>(icmp4Repr.payloadPtr - p));
  out(6, <f64>icmp4Repr.payloadLen);
  out(7, <f64>icmp4.checksum());
  out(8, icmp4.verifyChecksum() ? 1 : 0);
  out(9, icmp4.isError() ? 1 : 0);
  out(10, <f64>icmp4.nextHopMtu());
  return 1;
}
/** IN: type, code, rest, payloadSrc (absolute, 0 = in place), payloadLen. */
export function icmpv4Emit(p: usize, l: u32): i32 {
  if (!icmp4.wrapRaw(p, l)) return 0;
  icmp4Repr.msgType = <u8>inp(0);
  icmp4Repr.code = <u8>inp(1);
  icmp4Repr.restOfHeader = <u32>inp(2);
  icmp4Repr.payloadPtr = <usize>inp(3);
  icmp4Repr.payloadLen = <u32>inp(4);
  return icmp4Repr.emit(icmp4) ? <i32>icmp4Repr.bufferLen() : -1;
}
/** Addresses for the pseudo-header at sp/dp (16 bytes each). */
export function icmpv6Parse(p: usize, l: u32, sp: usize, dp: usize): i32 {
  clearOut();
  if (!icmp6.wrap(p, l)) return 0;
  if (!icmp6Repr.parse(icmp6)) return -1;
  out(0, <f64>icmp6Repr.msgType);
  out(1, <f64>icmp6Repr.code);
  out(2, <f64>icmp6Repr.restOfHeader);
  out(3, <f64>icmp6Repr.ident);
  out(4, <f64>icmp6Repr.seqNo);
  out(5, <f64>(icmp6Repr.payloadPtr - p));
  out(6, <f64>icmp6Repr.payloadLen);
  out(7, <f64>icmp6.checksum());
  out(8, icmp6.verifyChecksum(sp, dp) ? 1 : 0);
  out(9, icmp6.isError() ? 1 : 0);
  const t = icmp6.ndpTargetPtr();
  out(10, t != 0 ? <f64>(t - p) : -1);
  out(11, icmp6.ndpOptionsValid() ? 1 : 0);
  out(12, <f64>icmp6.ndpLinkLayerAddr(NDP_OPT_SOURCE_LLADDR));
  out(13, <f64>icmp6.ndpLinkLayerAddr(NDP_OPT_TARGET_LLADDR));
  out(14, <f64>icmp6.ndpOptionsLen());
  out(15, <f64>icmp6.mtu());
  return 1;
}
export function icmpv6Emit(p: usize, l: u32, sp: usize, dp: usize): i32 {
  if (!icmp6.wrapRaw(p, l)) return 0;
  icmp6Repr.msgType = <u8>inp(0);
  icmp6Repr.code = <u8>inp(1);
  icmp6Repr.restOfHeader = <u32>inp(2);
  icmp6Repr.payloadPtr = <usize>inp(3);
  icmp6Repr.payloadLen = <u32>inp(4);
  return icmp6Repr.emit(icmp6, sp, dp) ? <i32>icmp6Repr.bufferLen() : -1;
}

// -------------------------------------------------------------------------- UDP

export function udpParse(p: usize, l: u32): i32 {
  clearOut();
  if (!udp.wrap(p, l)) return 0;
  if (!udpRepr.parse(udp)) return -1;
  out(0, <f64>udpRepr.srcPort);
  out(1, <f64>udpRepr.dstPort);
  out(2, <f64>(udpRepr.payloadPtr - p));
  out(3, <f64>udpRepr.payloadLen);
  out(4, <f64>udp.length());
  out(5, <f64>udp.checksum());
  return 1;
}
/** 1 valid, 0 invalid, -1 wrap failed. */
export function udpVerify4(p: usize, l: u32, src: u32, dst: u32): i32 {
  if (!udp.wrap(p, l)) return -1;
  return udp.verifyChecksumV4(src, dst) ? 1 : 0;
}
export function udpVerify6(p: usize, l: u32, sp: usize, dp: usize): i32 {
  if (!udp.wrap(p, l)) return -1;
  return udp.verifyChecksumV6(sp, dp) ? 1 : 0;
}
/** IN: srcPort, dstPort, payloadSrc (0 = in place), payloadLen. v6 != 0: addresses at sp/dp. */
export function udpEmit(p: usize, l: u32, v6: i32, src: u32, dst: u32, sp: usize, dp: usize): i32 {
  if (!udp.wrapRaw(p, l)) return 0;
  udpRepr.srcPort = <u16>inp(0);
  udpRepr.dstPort = <u16>inp(1);
  udpRepr.payloadPtr = <usize>inp(2);
  udpRepr.payloadLen = <u32>inp(3);
  const ok = v6 != 0 ? udpRepr.emitV6(udp, sp, dp) : udpRepr.emitV4(udp, src, dst);
  return ok ? <i32>udpRepr.bufferLen() : -1;
}

// -------------------------------------------------------------------------- TCP

/** 0 wrap failed, -1 malformed options, 1 ok. */
export function tcpParse(p: usize, l: u32): i32 {
  clearOut();
  if (!tcp.wrap(p, l)) return 0;
  const ok = tcpRepr.parse(tcp);
  out(0, <f64>tcpRepr.srcPort);
  out(1, <f64>tcpRepr.dstPort);
  out(2, <f64>tcpRepr.seq);
  out(3, <f64>tcpRepr.ack);
  out(4, <f64>tcpRepr.flags);
  out(5, <f64>tcpRepr.window);
  out(6, <f64>tcpRepr.urgent);
  out(7, <f64>tcpRepr.mss);
  out(8, <f64>tcpRepr.wscale);
  out(9, tcpRepr.sackPermitted ? 1 : 0);
  out(10, <f64>tcpRepr.sackCount);
  for (let i = 0; i < 4; i++) {
    out(11 + 2 * i, <f64>tcpRepr.sackLeft[i]);
    out(12 + 2 * i, <f64>tcpRepr.sackRight[i]);
  }
  out(19, tcpRepr.tsPresent ? 1 : 0);
  out(20, <f64>tcpRepr.tsVal);
  out(21, <f64>tcpRepr.tsEcr);
  out(22, <f64>(tcpRepr.payloadPtr - p));
  out(23, <f64>tcpRepr.payloadLen);
  out(24, <f64>tcp.headerLen());
  out(25, <f64>tcp.checksum());
  return ok ? 1 : -1;
}
export function tcpVerify4(p: usize, l: u32, src: u32, dst: u32): i32 {
  if (!tcp.wrap(p, l)) return -1;
  return tcp.verifyChecksumV4(src, dst) ? 1 : 0;
}
export function tcpVerify6(p: usize, l: u32, sp: usize, dp: usize): i32 {
  if (!tcp.wrap(p, l)) return -1;
  return tcp.verifyChecksumV6(sp, dp) ? 1 : 0;
}
/** IN uses tcpParse's OUT layout (22 = payloadSrc absolute, 0 = in place). mode 0 no checksum, 4 v4, 6 v6. */
export function tcpEmit(p: usize, l: u32, mode: i32, src: u32, dst: u32, sp: usize, dp: usize): i32 {
  if (!tcp.wrapRaw(p, l)) return 0;
  tcpRepr.srcPort = <u16>inp(0);
  tcpRepr.dstPort = <u16>inp(1);
  tcpRepr.seq = <u32>inp(2);
  tcpRepr.ack = <u32>inp(3);
  tcpRepr.flags = <u8>inp(4);
  tcpRepr.window = <u16>inp(5);
  tcpRepr.urgent = <u16>inp(6);
  tcpRepr.mss = <u16>inp(7);
  tcpRepr.wscale = <i32>inp(8);
  tcpRepr.sackPermitted = inp(9) != 0;
  tcpRepr.sackCount = <i32>inp(10);
  for (let i = 0; i < 4; i++) {
    tcpRepr.sackLeft[i] = <u32>inp(11 + 2 * i);
    tcpRepr.sackRight[i] = <u32>inp(12 + 2 * i);
  }
  tcpRepr.tsPresent = inp(19) != 0;
  tcpRepr.tsVal = <u32>inp(20);
  tcpRepr.tsEcr = <u32>inp(21);
  tcpRepr.payloadPtr = <usize>inp(22);
  tcpRepr.payloadLen = <u32>inp(23);
  let ok: bool;
  if (mode == 4) ok = tcpRepr.emitV4(tcp, src, dst);
  else if (mode == 6) ok = tcpRepr.emitV6(tcp, sp, dp);
  else ok = tcpRepr.emit(tcp);
  return ok ? <i32>tcpRepr.bufferLen() : -1;
}
export function tcpSackBlocksToEmit(): i32 { return tcpRepr.sackBlocksToEmit(); }
export function tcpSegmentLen(): u32 { return tcpRepr.segmentLen(); }

// --------------------------------------------------------------------- checksum

export function csum(p: usize, l: u32): u32 { return checksum(p, l); }
/** Sums [p, p+split) and [p+split, p+l) as two ranges. */
export function csumSplit(p: usize, l: u32, split: u32): u32 {
  return checksumFinish(checksumAdd(checksumAdd(0, p, split), p + split, l - split));
}
export function csumIpv4Header(p: usize, l: u32): u32 { return ipv4HeaderChecksum(p, l); }
export function csumPseudo4(src: u32, dst: u32, proto: u8, len: u32, p: usize, l: u32): u32 {
  return checksumFinish(checksumAdd(pseudoHeaderV4(src, dst, proto, len), p, l));
}
export function csumPseudo6(sp: usize, dp: usize, nh: u8, len: u32, p: usize, l: u32): u32 {
  return checksumFinish(checksumAdd(pseudoHeaderV6(sp, dp, nh, len), p, l));
}
export function csumUpdate16(c: u16, o: u16, n: u16): u32 { return checksumUpdate16(c, o, n); }
export function csumUpdate32(c: u16, o: u32, n: u32): u32 { return checksumUpdate32(c, o, n); }

// ---------------------------------------------------------------- ip.ts helpers

/** Writes `s` (UTF-16 string) into OUTB as ASCII; returns its length. */
function strOut(s: string): i32 {
  const n = s.length < 256 ? s.length : 256;
  for (let i = 0; i < n; i++) store<u8>(OUTB + <usize>i, <u8>s.charCodeAt(i));
  return n;
}
export function fmtIpv4(a: u32): i32 { return strOut(formatIpv4(a)); }
export function fmtMac(m: u64): i32 { return strOut(formatMac(m)); }
export function fmtIpv6(p: usize): i32 {
  addr.loadFrom(p);
  return strOut(addr.toString());
}
export function parseIpv4Ascii(p: usize, l: u32): i64 { return parseIpv4(String.UTF8.decodeUnsafe(p, l)); }
/** Parses ASCII at p into OUTB[0..16); 1 ok, 0 malformed. */
export function parseIpv6Ascii(p: usize, l: u32): i32 {
  if (!addr.parse(String.UTF8.decodeUnsafe(p, l))) return 0;
  addr.storeTo(OUTB);
  return 1;
}
/** Bits: 1 unspecified, 2 loopback, 4 multicast, 8 link-local, 16 v4-mapped. */
export function ipv6Class(p: usize): i32 {
  addr.loadFrom(p);
  return (addr.isUnspecified() ? 1 : 0) | (addr.isLoopback() ? 2 : 0) | (addr.isMulticast() ? 4 : 0) |
    (addr.isLinkLocal() ? 8 : 0) | (addr.isIpv4Mapped() ? 16 : 0);
}
export function solicitedNode(p: usize): void {
  addr.loadFrom(p);
  const sn = new Ipv6Address();
  sn.setSolicitedNode(addr);
  sn.storeTo(OUTB);
}

// ------------------------------------------------------------- whole frames

/**
 * Parses a whole frame the way a stack would: Ethernet -> ARP | IPv4 | IPv6 -> ICMP |
 * UDP | TCP, verifying every checksum. OUT: 0 ethertype, 1 L3 ok, 2 IP header checksum
 * ok (IPv4), 3 upper protocol, 4 L4 ok, 5 L4 checksum ok, 6 src port / ICMP type,
 * 7 dst port / ICMP code, 8 L4 payload length, 9 fragment. Returns 1 when every
 * present layer parsed.
 */
export function frameParse(p: usize, l: u32): i32 {
  clearOut();
  if (!eth.wrap(p, l)) return 0;
  const et = eth.etherType();
  out(0, <f64>et);
  let proto: u8 = 0;
  let lp: usize = 0;
  let ll: u32 = 0;
  let v6 = false;
  if (et == ETHERTYPE_ARP) {
    return arp.wrap(eth.payloadPtr(), eth.payloadLen()) && arpRepr.parse(arp) ? 1 : 0;
  } else if (et == ETHERTYPE_IPV4) {
    if (!ip4.wrap(eth.payloadPtr(), eth.payloadLen()) || !ip4Repr.parse(ip4, false)) return 0;
    out(1, 1);
    out(2, ip4.verifyChecksum() ? 1 : 0);
    out(9, ip4.isFragment() ? 1 : 0);
    if (ip4.isFragment() && ip4.fragOffset() != 0) return 1;
    proto = ip4.protocol();
    lp = ip4.payloadPtr();
    ll = ip4.payloadLen();
  } else if (et == ETHERTYPE_IPV6) {
    if (!ip6.wrap(eth.payloadPtr(), eth.payloadLen()) || !ip6Repr.parse(ip6)) return 0;
    out(1, 1);
    out(9, ip6.isFragment() ? 1 : 0);
    if (ip6.isFragment() && ip6.fragOffset() != 0) return 1;
    v6 = true;
    proto = ip6.upperProtocol();
    lp = ip6.payloadPtr();
    ll = ip6.payloadLen();
  } else {
    return 1;
  }
  out(3, <f64>proto);
  const frag = v6 ? ip6.isFragment() : ip4.isFragment();
  if (proto == IP_PROTO_UDP) {
    if (!udp.wrap(lp, ll) || !udpRepr.parse(udp)) return 0;
    out(4, 1);
    out(5, (v6 ? udp.verifyChecksumV6(ip6.srcPtr(), ip6.dstPtr()) : udp.verifyChecksumV4(ip4.src(), ip4.dst())) ? 1 : 0);
    out(6, <f64>udpRepr.srcPort);
    out(7, <f64>udpRepr.dstPort);
    out(8, <f64>udpRepr.payloadLen);
  } else if (proto == IP_PROTO_TCP) {
    if (!tcp.wrap(lp, ll) || !tcpRepr.parse(tcp)) return 0;
    out(4, 1);
    out(5, (v6 ? tcp.verifyChecksumV6(ip6.srcPtr(), ip6.dstPtr()) : tcp.verifyChecksumV4(ip4.src(), ip4.dst())) ? 1 : 0);
    out(6, <f64>tcpRepr.srcPort);
    out(7, <f64>tcpRepr.dstPort);
    out(8, <f64>tcpRepr.payloadLen);
  } else if (proto == IP_PROTO_ICMP && !v6) {
    if (!icmp4.wrap(lp, ll) || !icmp4Repr.parse(icmp4, false)) return 0;
    out(4, 1);
    out(5, frag ? 0 : (icmp4.verifyChecksum() ? 1 : 0));
    out(6, <f64>icmp4Repr.msgType);
    out(7, <f64>icmp4Repr.code);
    out(8, <f64>icmp4Repr.payloadLen);
  } else if (proto == IPV6_NH_ICMPV6 && v6) {
    if (!icmp6.wrap(lp, ll) || !icmp6Repr.parse(icmp6)) return 0;
    out(4, 1);
    out(5, frag ? 0 : (icmp6.verifyChecksum(ip6.srcPtr(), ip6.dstPtr()) ? 1 : 0));
    out(6, <f64>icmp6Repr.msgType);
    out(7, <f64>icmp6Repr.code);
    out(8, <f64>icmp6Repr.payloadLen);
  }
  return 1;
}

// ------------------------------------------------------------------------ fuzz

let sink: u64 = 0;
export function fuzzSink(): u64 { return sink; }

/**
 * Runs every wrap/parse/accessor on the bytes, as each protocol and as a whole frame.
 * Must never trap, whatever the bytes: the test puts them at the end of memory. Returns
 * a bit set of the wraps that succeeded.
 */
export function fuzzAll(p: usize, l: u32): i32 {
  let bits = 0;
  frameParse(p, l);
  if (eth.wrap(p, l)) { bits |= 1; ethRepr.parse(eth); sink += eth.src() + <u64>eth.payloadLen(); }
  if (arp.wrap(p, l)) { bits |= 2; arpRepr.parse(arp); sink += arpRepr.senderMac; }
  if (ip4.wrap(p, l)) {
    bits |= 4;
    ip4Repr.parse(ip4, true);
    sink += <u64>ip4.payloadLen() + <u64>ip4.optionsLen() + <u64>(ip4.verifyChecksum() ? 1 : 0);
  }
  if (ip4.wrapQuoted(p, l)) { bits |= 8; ip4Repr.parse(ip4, false); sink += <u64>ip4.payloadLen(); }
  if (ip6.wrap(p, l)) {
    bits |= 16;
    ip6Repr.parse(ip6);
    sink += <u64>ip6.payloadLen() + <u64>ip6.fragIdent() + <u64>ip6.fragOffset();
  }
  if (ip6.wrapQuoted(p, l)) { ip6Repr.parse(ip6); sink += <u64>ip6.payloadLen() + <u64>ip6.fragIdent(); }
  if (icmp4.wrap(p, l)) { bits |= 32; icmp4Repr.parse(icmp4, true); sink += <u64>icmp4.restOfHeader(); }
  if (icmp6.wrap(p, l)) {
    bits |= 64;
    icmp6Repr.parse(icmp6);
    sink += <u64>icmp6.ndpLinkLayerAddr(1) + <u64>icmp6.ndpLinkLayerAddr(2) + <u64>icmp6.ndpOptionsLen();
    sink += <u64>(icmp6.ndpOptionsValid() ? 1 : 0) + <u64>icmp6.ndpTargetPtr();
    sink += <u64>(icmp6.verifyChecksum(INB, INB + 16) ? 1 : 0);
  }
  if (udp.wrap(p, l)) {
    bits |= 128;
    udpRepr.parse(udp);
    sink += <u64>(udp.verifyChecksumV4(1, 2) ? 1 : 0) + <u64>(udp.verifyChecksumV6(INB, INB + 16) ? 1 : 0);
  }
  if (tcp.wrap(p, l)) {
    bits |= 256;
    if (tcpRepr.parse(tcp)) bits |= 512;
    sink += <u64>tcpRepr.sackCount + <u64>tcpRepr.tsVal + <u64>tcp.payloadLen();
    sink += <u64>(tcp.verifyChecksumV4(1, 2) ? 1 : 0) + <u64>(tcp.verifyChecksumV6(INB, INB + 16) ? 1 : 0);
  }
  // A detached view must read only the scratch block.
  if (!tcp.wrap(p, l)) sink += <u64>tcp.seq() + <u64>tcp.payloadLen() + <u64>tcp.optionsLen();
  if (!ip6.wrap(p, l)) sink += <u64>ip6.payloadLen() + <u64>ip6.flowLabel();
  return bits;
}

// ------------------------------------------------------------------------ echo

export function echo(p: usize, l: u32): u32 { return udpEchoInPlace(p, l); }

/** Runs the echo `iters` times on the same frame (each run turns a valid echo back). */
export function echoLoop(p: usize, l: u32, iters: u32): u32 {
  let n: u32 = 0;
  for (let i: u32 = 0; i < iters; i++) n += udpEchoInPlace(p, l);
  return n;
}
/** Echoes `count` frames of `l` bytes laid out every `stride` bytes from p, `rounds` times. */
export function echoBatch(p: usize, l: u32, stride: u32, count: u32, rounds: u32): u32 {
  let n: u32 = 0;
  for (let r: u32 = 0; r < rounds; r++) {
    for (let i: u32 = 0; i < count; i++) n += udpEchoInPlace(p + <usize>(i * stride), l);
  }
  return n;
}

// ------------------------------------------------- accessors not used above

/**
 * Calls the accessors the other entry points do not (so that they are compiled and
 * type-checked, and their offsets checked here) on a 64-byte buffer at p. Returns a bit
 * set; the test expects every bit set.
 */
export function touchAll(p: usize, l: u32): u32 {
  let ok: u32 = 0;
  let bit: u32 = 1;
  memory.fill(p, 0, l);
  // ARP raw fields
  arp.wrapRaw(p, l);
  arp.setEthernetIpv4();
  if (arp.hardwareType() == 1 && arp.protocolType() == 0x0800 && arp.hardwareLen() == 6 && arp.protocolLen() == 4) ok |= bit;
  bit <<= 1;
  // IPv4 version/options
  ip4.wrapRaw(p, l);
  ip4.setVersionAndHeaderLen(24);
  if (ip4.version() == 4 && ip4.optionsPtr() == p + 20 && ip4.optionsLen() == 4) ok |= bit;
  bit <<= 1;
  // ICMPv4 echo fields, redirect gateway
  icmp4.wrapRaw(p, l);
  icmp4.setRestOfHeader(0x12345678);
  if (icmp4.echoIdent() == 0x1234 && icmp4.echoSeq() == 0x5678 && icmp4.gateway() == 0x12345678 && icmp4.pointer() == 0x12) ok |= bit;
  bit <<= 1;
  // ICMPv6 echo fields, NDP options pointer, parameter-problem pointer
  icmp6.wrapRaw(p, l);
  icmp6.setMsgType(135);
  icmp6.setRestOfHeader(0x00010002);
  if (icmp6.echoIdent() == 1 && icmp6.echoSeq() == 2 && icmp6.ndpOptionsPtr() == p + 24 && icmp6.pointer() == 0x10002) ok |= bit;
  bit <<= 1;
  // TCP flag helpers and options pointer
  tcp.wrapRaw(p, l);
  tcp.setHeaderLen(24);
  tcp.setFlags(TCP_FIN | TCP_SYN | TCP_RST | TCP_PSH | TCP_ACK | TCP_URG);
  if (tcp.fin() && tcp.syn() && tcp.rst() && tcp.psh() && tcp.ackFlag() && tcp.urg() && tcp.optionsPtr() == p + 20 && tcp.optionsLen() == 4) ok |= bit;
  bit <<= 1;
  tcp.setFlags(0);
  if (!tcp.fin() && !tcp.syn() && !tcp.rst() && !tcp.psh() && !tcp.ackFlag() && !tcp.urg()) ok |= bit;
  bit <<= 1;
  // IPv6 version
  ip6.wrapRaw(p, l);
  ip6.setVersionClassFlow(0, 0);
  if (ip6.version() == 6) ok |= bit;
  bit <<= 1;
  // IPv4 helpers
  const a = ipv4(192, 168, 1, 2);
  storeIpv4(p, a);
  if (a == 0xc0a80102 && loadIpv4(p) == a && load<u8>(p) == 192 && load<u8>(p, 3) == 2) ok |= bit;
  bit <<= 1;
  if (isIpv4Multicast(ipv4(224, 0, 0, 1)) && !isIpv4Multicast(ipv4(223, 255, 255, 255)) && isIpv4Broadcast(0xffffffff) &&
      isIpv4Loopback(ipv4(127, 1, 2, 3)) && isIpv4LinkLocal(ipv4(169, 254, 0, 1)) && isIpv4Unicast(ipv4(10, 0, 0, 1)) &&
      !isIpv4Unicast(ipv4(0, 1, 2, 3)) && !isIpv4Unicast(ipv4(240, 0, 0, 1))) ok |= bit;
  bit <<= 1;
  storeMac(p, 0x0123456789ab);
  if (loadMac(p) == 0x0123456789ab && load<u8>(p) == 0x01 && load<u8>(p, 5) == 0xab && isMacMulticast(0x0100005e0001) && !isMacMulticast(0x02000000000a)) ok |= bit;
  bit <<= 1;
  // checksumAddU16/U32 equal summing the bytes
  store<u32>(p, bswap<u32>(0xdeadbeef));
  store<u16>(p, bswap<u16>(0x1234), 4);
  if (checksumFinish(checksumAddU16(checksumAddU32(0, 0xdeadbeef), 0x1234)) == checksum(p, 6)) ok |= bit;
  bit <<= 1;
  // Ipv6Address: v4-mapped, equality, bytes and groups
  const x = new Ipv6Address();
  const y = new Ipv6Address();
  x.setIpv4Mapped(ipv4(10, 99, 0, 1));
  y.copyFrom(x);
  x.storeTo(p);
  if (x.isIpv4Mapped() && x.ipv4() == 0x0a630001 && y.equals(x) && y.equalsAt(p) && x.byte(10) == 0xff &&
      x.byte(12) == 10 && x.group(5) == 0xffff && x.group(7) == 0x0001) ok |= bit;
  bit <<= 1;
  y.w1 ^= 1;
  if (!y.equals(x) && !y.equalsAt(p)) ok |= bit;
  bit <<= 1;
  return ok | (bit << 16); // bit << 16 tells the test how many checks there were
}
