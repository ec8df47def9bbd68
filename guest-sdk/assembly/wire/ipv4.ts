// IPv4 (RFC 791).
//
//  0       1       2               4               6               8      9       10
//  |ver|ihl|dscp|ecn| total length  | identification |flags| frag off | ttl | proto | checksum
//  12 source | 16 destination | 20 options (ihl*4 - 20) | payload
import { ipv4HeaderChecksum } from "./checksum";
import { loadIpv4, storeIpv4 } from "./ip";
import { DETACHED_BUF, rangeOk } from "./view";

export const IPV4_HEADER_LEN: u32 = 20;
export const IP_PROTO_ICMP: u8 = 1;
export const IP_PROTO_TCP: u8 = 6;
export const IP_PROTO_UDP: u8 = 17;
export const IP_PROTO_ICMPV6: u8 = 58;

/**
 * Checked view of an IPv4 packet. After `wrap`, the header (options included) and the
 * `total length` bytes lie inside the buffer; bytes after total length (Ethernet padding)
 * are not part of the payload.
 */
export class Ipv4View {
  ptr: usize = DETACHED_BUF;
  len: u32 = 0;

  /**
   * Re-targets this view. False (and detached) when: shorter than 20 bytes, version != 4,
   * IHL < 5, header longer than the buffer, total length < header or > buffer.
   * The header checksum is not checked here (`verifyChecksum`).
   */
  wrap(ptr: usize, len: u32): bool {
    if (len >= IPV4_HEADER_LEN && rangeOk(ptr, len)) {
      const vihl = <u32>load<u8>(ptr);
      const hl = (vihl & 0xf) << 2;
      const total = <u32>bswap<u16>(load<u16>(ptr, 2));
      if ((vihl >>> 4) == 4 && hl >= IPV4_HEADER_LEN && hl <= total && total <= len) {
        this.ptr = ptr;
        this.len = len;
        return true;
      }
    }
    this.detach();
    return false;
  }
  /**
   * Like `wrap` but accepts a total length beyond the buffer: for the truncated datagram
   * quoted inside an ICMP error. `payloadLen` is then clamped to the bytes present.
   */
  wrapQuoted(ptr: usize, len: u32): bool {
    if (len >= IPV4_HEADER_LEN && rangeOk(ptr, len)) {
      const vihl = <u32>load<u8>(ptr);
      const hl = (vihl & 0xf) << 2;
      const total = <u32>bswap<u16>(load<u16>(ptr, 2));
      if ((vihl >>> 4) == 4 && hl >= IPV4_HEADER_LEN && hl <= total && hl <= len) {
        this.ptr = ptr;
        this.len = len;
        return true;
      }
    }
    this.detach();
    return false;
  }
  /** Re-targets for emitting: only checks that 20 bytes fit. */
  wrapRaw(ptr: usize, len: u32): bool {
    if (len < IPV4_HEADER_LEN || !rangeOk(ptr, len)) {
      this.detach();
      return false;
    }
    this.ptr = ptr;
    this.len = len;
    return true;
  }
  private detach(): void {
    this.ptr = DETACHED_BUF;
    this.len = 0;
  }

  version(): u8 { return load<u8>(this.ptr) >> 4; }
  /** Header length in bytes from the IHL field (not clamped; see headerLen). */
  ihlBytes(): u32 { return (<u32>load<u8>(this.ptr) & 0xf) << 2; }
  /** Writes version 4 and IHL = `headerLen` / 4 (`headerLen` a multiple of 4, 20..60). */
  setVersionAndHeaderLen(headerLen: u32): void { store<u8>(this.ptr, <u8>(0x40 | ((headerLen >>> 2) & 0xf))); }
  /** Header length in bytes, clamped to the buffer. */
  headerLen(): u32 {
    const hl = this.ihlBytes();
    return hl <= this.len ? hl : this.len;
  }
  dscp(): u8 { return load<u8>(this.ptr, 1) >> 2; }
  ecn(): u8 { return load<u8>(this.ptr, 1) & 3; }
  setDscpEcn(dscp: u8, ecn: u8): void { store<u8>(this.ptr, (dscp << 2) | (ecn & 3), 1); }
  totalLen(): u16 { return bswap<u16>(load<u16>(this.ptr, 2)); }
  setTotalLen(v: u16): void { store<u16>(this.ptr, bswap<u16>(v), 2); }
  ident(): u16 { return bswap<u16>(load<u16>(this.ptr, 4)); }
  setIdent(v: u16): void { store<u16>(this.ptr, bswap<u16>(v), 4); }
  dontFrag(): bool { return (load<u8>(this.ptr, 6) & 0x40) != 0; }
  moreFrags(): bool { return (load<u8>(this.ptr, 6) & 0x20) != 0; }
  /** Fragment offset in bytes (the field counts 8-byte units). */
  fragOffset(): u32 { return (<u32>bswap<u16>(load<u16>(this.ptr, 6)) & 0x1fff) << 3; }
  /** Writes flags and fragment offset (`offset` in bytes, a multiple of 8). */
  setFragment(dontFrag: bool, moreFrags: bool, offset: u32): void {
    const v = (dontFrag ? 0x4000 : 0) | (moreFrags ? 0x2000 : 0) | ((offset >>> 3) & 0x1fff);
    store<u16>(this.ptr, bswap<u16>(<u16>v), 6);
  }
  /** More fragments follow or this is not the first one. */
  isFragment(): bool { return (load<u16>(this.ptr, 6) & 0xff3f) != 0; }
  ttl(): u8 { return load<u8>(this.ptr, 8); }
  setTtl(v: u8): void { store<u8>(this.ptr, v, 8); }
  protocol(): u8 { return load<u8>(this.ptr, 9); }
  setProtocol(v: u8): void { store<u8>(this.ptr, v, 9); }
  checksum(): u16 { return bswap<u16>(load<u16>(this.ptr, 10)); }
  setChecksum(v: u16): void { store<u16>(this.ptr, bswap<u16>(v), 10); }
  src(): u32 { return loadIpv4(this.ptr + 12); }
  setSrc(v: u32): void { storeIpv4(this.ptr + 12, v); }
  dst(): u32 { return loadIpv4(this.ptr + 16); }
  setDst(v: u32): void { storeIpv4(this.ptr + 16, v); }
  optionsPtr(): usize { return this.ptr + IPV4_HEADER_LEN; }
  optionsLen(): u32 {
    const hl = this.headerLen();
    return hl > IPV4_HEADER_LEN ? hl - IPV4_HEADER_LEN : 0;
  }
  payloadPtr(): usize { return this.ptr + this.headerLen(); }
  /** total length - header length, clamped to the buffer. */
  payloadLen(): u32 {
    let end = <u32>this.totalLen();
    if (end > this.len) end = this.len;
    const hl = this.headerLen();
    return end > hl ? end - hl : 0;
  }
  /** True when the header checksum is right. */
  verifyChecksum(): bool {
    const hl = this.headerLen();
    return hl >= IPV4_HEADER_LEN && ipv4HeaderChecksum(this.ptr, hl) == this.checksum();
  }
  /** Computes and stores the header checksum. */
  fillChecksum(): void {
    const hl = this.headerLen();
    if (hl >= IPV4_HEADER_LEN) this.setChecksum(ipv4HeaderChecksum(this.ptr, hl));
  }
}

/** Plain IPv4 header fields. `emit` writes a 20-byte header without options. */
export class Ipv4Repr {
  src: u32 = 0;
  dst: u32 = 0;
  protocol: u8 = 0;
  ttl: u8 = 64;
  /** Bytes after the header (total length - header length). */
  payloadLen: u32 = 0;
  ident: u16 = 0;
  dontFrag: bool = true;
  moreFrags: bool = false;
  /** Fragment offset in bytes. */
  fragOffset: u32 = 0;
  dscp: u8 = 0;
  ecn: u8 = 0;
  /** Length of the options the parsed packet carried (emit never writes options). */
  optionsLen: u32 = 0;

  /**
   * Fills the fields from a wrapped view; false when `verifyChecksum` is set and the
   * header checksum is wrong, or the view is detached.
   */
  parse(view: Ipv4View, verifyChecksum: bool = true): bool {
    if (view.len < IPV4_HEADER_LEN) return false;
    if (verifyChecksum && !view.verifyChecksum()) return false;
    this.src = view.src();
    this.dst = view.dst();
    this.protocol = view.protocol();
    this.ttl = view.ttl();
    this.payloadLen = view.payloadLen();
    this.ident = view.ident();
    this.dontFrag = view.dontFrag();
    this.moreFrags = view.moreFrags();
    this.fragOffset = view.fragOffset();
    this.dscp = view.dscp();
    this.ecn = view.ecn();
    this.optionsLen = view.optionsLen();
    return true;
  }
  /** Writes the header and its checksum; false when header + payload exceed the view. */
  emit(view: Ipv4View): bool {
    const total = IPV4_HEADER_LEN + this.payloadLen;
    if (total > view.len || total > 0xffff) return false;
    view.setVersionAndHeaderLen(IPV4_HEADER_LEN);
    view.setDscpEcn(this.dscp, this.ecn);
    view.setTotalLen(<u16>total);
    view.setIdent(this.ident);
    view.setFragment(this.dontFrag, this.moreFrags, this.fragOffset);
    view.setTtl(this.ttl);
    view.setProtocol(this.protocol);
    view.setSrc(this.src);
    view.setDst(this.dst);
    view.fillChecksum();
    return true;
  }
  isFragment(): bool { return this.moreFrags || this.fragOffset != 0; }
  headerLen(): u32 { return IPV4_HEADER_LEN; }
  bufferLen(): u32 { return IPV4_HEADER_LEN + this.payloadLen; }
}
