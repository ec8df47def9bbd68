// Frames <-> segments: the only part of TCP that knows Ethernet and IP. Receiving parses
// Ethernet + IPv4/IPv6 + TCP with the wire views, drops anything malformed, fragmented,
// from a non-unicast source or with a bad checksum, and hands the segment to the
// endpoint. Sending builds the three headers and the payload straight into a TX buffer
// (one copy of the payload, from the send ring) and fills both checksums: the peer
// cannot offload them for us.

import { EthernetView, ETHERNET_HEADER_LEN, ETHERTYPE_IPV4, ETHERTYPE_IPV6 } from "../wire/ethernet";
import { Ipv4View, IPV4_HEADER_LEN, IP_PROTO_TCP } from "../wire/ipv4";
import { Ipv6View, IPV6_HEADER_LEN, IPV6_NH_TCP } from "../wire/ipv6";
import { TcpView, TcpRepr } from "../wire/tcp";
import { storeMac } from "../wire/ip";
import { TcpTuple } from "./tuple";
import { TcpSegment } from "./segment";
import { SegmentSink } from "./sink";
import { TcpEndpoint } from "./endpoint";

/** Where built frames go: a TX ring slot (the stack) or a simulated link (tests). */
export abstract class FrameTx {
  /** A buffer of at least frameRoom() bytes to build the next frame in, or 0 when full. */
  abstract txBuffer(): usize;
  /** Bytes available in each buffer txBuffer() returns. */
  abstract frameRoom(): u32;
  /** Publishes the frame built in the last txBuffer(), `len` bytes. */
  abstract txSend(len: u32): void;
}

/** Finds the next hop's MAC for a connection that has not received a frame yet. */
export abstract class NextHopResolver {
  /** MAC (low 48 bits) of the next hop towards `t`'s remote address, or 0 if unknown yet. */
  abstract resolve(t: TcpTuple): u64;
}

/** Counters of the frame adapter. */
export class TcpNetIfStats {
  rxFrames: u64 = 0;
  rxMalformed: u64 = 0;
  rxBadChecksum: u64 = 0;
  rxNotTcp: u64 = 0;
  rxFragments: u64 = 0;
  rxBadSource: u64 = 0;
  txFrames: u64 = 0;
  txRingFull: u64 = 0;
  txNoNextHop: u64 = 0;
  txTooBig: u64 = 0;
}

export class TcpNetIf extends SegmentSink {
  /** Our MAC, host-order 48 bits (wire/ip.ts convention). */
  mac: u64;
  tx: FrameTx;
  resolver: NextHopResolver | null = null;
  endpoint: TcpEndpoint | null = null;
  readonly stats: TcpNetIfStats = new TcpNetIfStats();
  /** Verify TCP checksums on receive (off only for benchmarks of the state machine). */
  verifyChecksums: bool = true;

  private eth: EthernetView = new EthernetView();
  private ip4: Ipv4View = new Ipv4View();
  private ip6: Ipv6View = new Ipv6View();
  private tcpView: TcpView = new TcpView();
  private repr: TcpRepr = new TcpRepr();
  private rxSeg: TcpSegment = new TcpSegment();
  private rxTuple: TcpTuple = new TcpTuple();
  private ipIdent: u16 = 0;

  constructor(mac: u64, tx: FrameTx) {
    super();
    this.mac = mac;
    this.tx = tx;
  }

  /**
   * Handles one received frame (valid during the call). Returns true if it was a TCP
   * segment handed to the endpoint, false if it was dropped or not TCP.
   */
  receive(ptr: usize, len: u32, now: u64): bool {
    const st = this.stats;
    st.rxFrames++;
    const eth = this.eth;
    if (!eth.wrap(ptr, len)) { st.rxMalformed++; return false; }
    const et = eth.etherType();
    const tcp = this.tcpView;
    const t = this.rxTuple;
    if (et == ETHERTYPE_IPV4) {
      const ip = this.ip4;
      if (!ip.wrap(eth.payloadPtr(), eth.payloadLen())) { st.rxMalformed++; return false; }
      if (ip.protocol() != IP_PROTO_TCP) { st.rxNotTcp++; return false; }
      if (ip.isFragment()) { st.rxFragments++; return false; }
      if (!ip.verifyChecksum()) { st.rxBadChecksum++; return false; }
      const src = ip.src();
      // RFC 9293 3.10.7.2: segments from broadcast/multicast addresses are dropped.
      if ((src >>> 24) == 0 || (src >>> 28) >= 0xe) { st.rxBadSource++; return false; }
      if (!tcp.wrap(ip.payloadPtr(), ip.payloadLen())) { st.rxMalformed++; return false; }
      if (this.verifyChecksums && !tcp.verifyChecksumV4(src, ip.dst())) { st.rxBadChecksum++; return false; }
      t.setV4(ip.ptr + 16, tcp.dstPort(), ip.ptr + 12, tcp.srcPort());
    } else if (et == ETHERTYPE_IPV6) {
      const ip = this.ip6;
      if (!ip.wrap(eth.payloadPtr(), eth.payloadLen())) { st.rxMalformed++; return false; }
      if (ip.upperProtocol() != IPV6_NH_TCP) { st.rxNotTcp++; return false; }
      if (ip.isFragment()) { st.rxFragments++; return false; }
      if (load<u8>(ip.srcPtr()) == 0xff) { st.rxBadSource++; return false; }
      if (!tcp.wrap(ip.payloadPtr(), ip.payloadLen())) { st.rxMalformed++; return false; }
      if (this.verifyChecksums && !tcp.verifyChecksumV6(ip.srcPtr(), ip.dstPtr())) { st.rxBadChecksum++; return false; }
      t.setV6(ip.dstPtr(), tcp.dstPort(), ip.srcPtr(), tcp.srcPort());
    } else {
      st.rxNotTcp++;
      return false;
    }
    const r = this.repr;
    if (!r.parse(tcp)) { st.rxMalformed++; return false; }
    const s = this.rxSeg;
    s.srcPort = r.srcPort; s.dstPort = r.dstPort;
    s.seq = r.seq; s.ack = r.ack; s.flags = r.flags;
    s.window = r.window; s.urgent = r.urgent;
    s.mss = r.mss; s.wscale = r.wscale; s.sackPermitted = r.sackPermitted;
    const n = r.sackCount;
    s.sackCount = n;
    for (let i = 0; i < n; i++) {
      unchecked(s.sackLeft[i] = r.sackLeft[i]);
      unchecked(s.sackRight[i] = r.sackRight[i]);
    }
    s.tsPresent = r.tsPresent; s.tsVal = r.tsVal; s.tsEcr = r.tsEcr;
    s.payloadPtr = r.payloadPtr; s.payloadLen = r.payloadLen;
    s.payload2Ptr = 0; s.payload2Len = 0;
    const ep = this.endpoint;
    if (ep === null) return false;
    ep.input(t, s, eth.src(), now);
    return true;
  }

  /** SegmentSink: builds Ethernet + IP + TCP for `seg` into a TX buffer. */
  send(t: TcpTuple, linkAddr: u64, seg: TcpSegment): bool {
    const st = this.stats;
    let mac = linkAddr;
    if (mac == 0) {
      const r = this.resolver;
      if (r !== null) mac = r.resolve(t);
      if (mac == 0) { st.txNoNextHop++; return false; }
    }
    const buf = this.tx.txBuffer();
    if (buf == 0) { st.txRingFull++; return false; }
    const room = this.tx.frameRoom();
    const r = this.repr;
    r.srcPort = seg.srcPort; r.dstPort = seg.dstPort;
    r.seq = seg.seq; r.ack = seg.ack; r.flags = seg.flags;
    r.window = seg.window; r.urgent = seg.urgent;
    r.mss = seg.mss; r.wscale = seg.wscale; r.sackPermitted = seg.sackPermitted;
    const n = seg.sackCount;
    r.sackCount = n;
    for (let i = 0; i < n; i++) {
      unchecked(r.sackLeft[i] = seg.sackLeft[i]);
      unchecked(r.sackRight[i] = seg.sackRight[i]);
    }
    r.tsPresent = seg.tsPresent; r.tsVal = seg.tsVal; r.tsEcr = seg.tsEcr;
    // The payload is copied below from its (up to two) pieces; emit() must not copy.
    r.payloadPtr = 0;
    r.payloadLen = seg.payloadLen + seg.payload2Len;

    const ipHl: u32 = t.v6 ? IPV6_HEADER_LEN : IPV4_HEADER_LEN;
    const tcpOff = ETHERNET_HEADER_LEN + ipHl;
    const tcpLen = r.bufferLen();
    const frameLen = tcpOff + tcpLen;
    if (frameLen > room) { st.txTooBig++; return true; } // a bug upstream; drop, do not retry forever

    storeMac(buf, mac);
    storeMac(buf + 6, this.mac);
    store<u16>(buf, bswap<u16>(t.v6 ? ETHERTYPE_IPV6 : ETHERTYPE_IPV4), 12);

    const tcp = this.tcpView;
    tcp.wrapRaw(buf + tcpOff, tcpLen);
    r.emit(tcp);
    const dst = buf + tcpOff + r.headerLen();
    if (seg.payloadLen > 0) memory.copy(dst, seg.payloadPtr, seg.payloadLen);
    if (seg.payload2Len > 0) memory.copy(dst + seg.payloadLen, seg.payload2Ptr, seg.payload2Len);

    const ipp = buf + ETHERNET_HEADER_LEN;
    if (t.v6) {
      store<u32>(ipp, bswap<u32>(0x60000000));
      store<u16>(ipp, bswap<u16>(<u16>tcpLen), 4);
      store<u8>(ipp, IPV6_NH_TCP, 6);
      store<u8>(ipp, 64, 7);
      t.writeLocal(ipp + 8);
      t.writeRemote(ipp + 24);
      tcp.fillChecksumV6(ipp + 8, ipp + 24);
    } else {
      const ip = this.ip4;
      ip.wrapRaw(ipp, IPV4_HEADER_LEN + tcpLen);
      ip.setVersionAndHeaderLen(IPV4_HEADER_LEN);
      ip.setDscpEcn(0, 0);
      ip.setTotalLen(<u16>(IPV4_HEADER_LEN + tcpLen));
      ip.setIdent(this.ipIdent++);
      ip.setFragment(true, false, 0);
      ip.setTtl(64);
      ip.setProtocol(IP_PROTO_TCP);
      t.writeLocal(ipp + 12);
      t.writeRemote(ipp + 16);
      ip.fillChecksum();
      tcp.fillChecksumV4(bswap<u32>(<u32>t.localLo), bswap<u32>(<u32>t.remoteLo));
    }
    this.tx.txSend(frameLen);
    st.txFrames++;
    return true;
  }
}
