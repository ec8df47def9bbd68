// IPv6 (RFC 8200) with a bounded walk over extension headers.
//
//  0                 4              6           7          8        24       40
//  |ver|tc|flow label| payload length | next hdr | hop limit| source | destination | ext headers... | upper layer
//
// Extension headers walked: hop-by-hop (0, first only), routing (43), fragment (44),
// destination options (60), AH (51), mobility (135), HIP (139), shim6 (140). Anything
// else (TCP, UDP, ICMPv6, ESP, no-next-header, unknown) ends the walk and is the
// "upper layer". The walk stops after a fragment header whose offset is not 0 (the rest
// is the middle of a datagram). Routing headers are skipped, not processed: a packet with
// segments left > 0 has a final destination that is not `dst`.
import { Ipv6Address } from "./ip";
import { DETACHED_BUF, rangeOk } from "./view";

export const IPV6_HEADER_LEN: u32 = 40;
/** At most this many extension headers are walked; more makes `wrap` fail. */
export const IPV6_MAX_EXT_HEADERS: u32 = 8;

export const IPV6_NH_HOP_BY_HOP: u8 = 0;
export const IPV6_NH_TCP: u8 = 6;
export const IPV6_NH_UDP: u8 = 17;
export const IPV6_NH_ROUTING: u8 = 43;
export const IPV6_NH_FRAGMENT: u8 = 44;
export const IPV6_NH_ESP: u8 = 50;
export const IPV6_NH_AH: u8 = 51;
export const IPV6_NH_ICMPV6: u8 = 58;
export const IPV6_NH_NONE: u8 = 59;
export const IPV6_NH_DEST_OPTS: u8 = 60;
export const IPV6_NH_MOBILITY: u8 = 135;
export const IPV6_NH_HIP: u8 = 139;
export const IPV6_NH_SHIM6: u8 = 140;

/**
 * Checked view of an IPv6 packet. `wrap` walks the extension headers once and caches
 * where the upper layer starts; `payloadPtr`/`payloadLen` are the upper layer, while
 * `payloadLength`/`nextHeader` are the raw fixed-header fields.
 */
export class Ipv6View {
  ptr: usize = DETACHED_BUF;
  len: u32 = 0;
  // Layout found by the walk; written only by wrap/wrapRaw/markNoExtHeaders.
  _upperOffset: u32 = 0;
  _upperProtocol: u8 = 0;
  _fragOffset: u32 = 0;

  /**
   * Re-targets this view and walks the extension headers. False (and detached) when:
   * shorter than 40 bytes, version != 6, 40 + payload length > buffer, an extension
   * header runs past the payload, hop-by-hop is not first, a second fragment header,
   * or more than IPV6_MAX_EXT_HEADERS headers. Jumbograms (payload length 0 with a jumbo
   * option) are seen as an empty payload and fail at the first extension header.
   */
  wrap(ptr: usize, len: u32): bool {
    return this.walk(ptr, len, false);
  }
  /**
   * Like `wrap` but accepts a payload length beyond the buffer: for the truncated packet
   * quoted inside an ICMPv6 error. The walk and `payloadLen` stop at the buffer's end.
   */
  wrapQuoted(ptr: usize, len: u32): bool {
    return this.walk(ptr, len, true);
  }
  private walk(ptr: usize, len: u32, quoted: bool): bool {
    if (len < IPV6_HEADER_LEN || !rangeOk(ptr, len) || (load<u8>(ptr) >> 4) != 6) return this.fail();
    let end = IPV6_HEADER_LEN + <u32>bswap<u16>(load<u16>(ptr, 4));
    if (end > len) {
      if (!quoted) return this.fail();
      end = len;
    }
    let nh = load<u8>(ptr, 6);
    let off = IPV6_HEADER_LEN;
    let frag: u32 = 0;
    for (let count: u32 = 0; ; count++) {
      let hl: u32 = 0;
      if (nh == IPV6_NH_HOP_BY_HOP || nh == IPV6_NH_ROUTING || nh == IPV6_NH_DEST_OPTS ||
          nh == IPV6_NH_MOBILITY || nh == IPV6_NH_HIP || nh == IPV6_NH_SHIM6) {
        if (nh == IPV6_NH_HOP_BY_HOP && off != IPV6_HEADER_LEN) return this.fail();
        if (off + 8 > end) return this.fail();
        hl = (<u32>load<u8>(ptr + off, 1) + 1) << 3;
      } else if (nh == IPV6_NH_FRAGMENT) {
        if (frag != 0 || off + 8 > end) return this.fail();
        frag = off;
        hl = 8;
      } else if (nh == IPV6_NH_AH) {
        if (off + 8 > end) return this.fail();
        hl = (<u32>load<u8>(ptr + off, 1) + 2) << 2;
      } else {
        break;
      }
      if (count == IPV6_MAX_EXT_HEADERS || off + hl > end) return this.fail();
      nh = load<u8>(ptr + off);
      off += hl;
      // Past a non-first fragment's header the bytes are the middle of a datagram.
      if (frag != 0 && frag + 8 == off && (load<u16>(ptr + frag, 2) & 0xf8ff) != 0) break;
    }
    this.ptr = ptr;
    this.len = len;
    this._upperOffset = off;
    this._upperProtocol = nh;
    this._fragOffset = frag;
    return true;
  }
  /** Re-targets for emitting: checks that 40 bytes fit; the upper layer starts at 40. */
  wrapRaw(ptr: usize, len: u32): bool {
    if (len < IPV6_HEADER_LEN || !rangeOk(ptr, len)) return this.fail();
    this.ptr = ptr;
    this.len = len;
    this.markNoExtHeaders();
    return true;
  }
  /** Declares that the upper layer follows the fixed header (after emitting one). */
  markNoExtHeaders(): void {
    this._upperOffset = IPV6_HEADER_LEN;
    this._upperProtocol = load<u8>(this.ptr, 6);
    this._fragOffset = 0;
  }
  private fail(): bool {
    this.ptr = DETACHED_BUF;
    this.len = 0;
    this._upperOffset = 0;
    this._upperProtocol = 0;
    this._fragOffset = 0;
    return false;
  }

  version(): u8 { return load<u8>(this.ptr) >> 4; }
  trafficClass(): u8 { return <u8>((bswap<u32>(load<u32>(this.ptr)) >>> 20) & 0xff); }
  flowLabel(): u32 { return bswap<u32>(load<u32>(this.ptr)) & 0xfffff; }
  /** Writes version 6, traffic class and flow label (first 4 bytes). */
  setVersionClassFlow(trafficClass: u8, flowLabel: u32): void {
    store<u32>(this.ptr, bswap<u32>(0x60000000 | (<u32>trafficClass << 20) | (flowLabel & 0xfffff)));
  }
  /** Raw payload length field (extension headers included). */
  payloadLength(): u16 { return bswap<u16>(load<u16>(this.ptr, 4)); }
  setPayloadLength(v: u16): void { store<u16>(this.ptr, bswap<u16>(v), 4); }
  /** Raw next header field of the fixed header. */
  nextHeader(): u8 { return load<u8>(this.ptr, 6); }
  setNextHeader(v: u8): void {
    store<u8>(this.ptr, v, 6);
    if (this._upperOffset == IPV6_HEADER_LEN) this._upperProtocol = v;
  }
  /** Offset of the upper layer from `ptr` (40 when there is no extension header). */
  upperLayerOffset(): u32 { return this._upperOffset; }
  /** Protocol of the upper layer (the last next-header value of the walk). */
  upperProtocol(): u8 { return this._upperProtocol; }
  /** Offset of the fragment header from `ptr`, 0 when there is none. */
  fragHeaderOffset(): u32 { return this._fragOffset; }
  hopLimit(): u8 { return load<u8>(this.ptr, 7); }
  setHopLimit(v: u8): void { store<u8>(this.ptr, v, 7); }
  /** Address of the 16 source bytes. */
  srcPtr(): usize { return this.ptr + 8; }
  /** Address of the 16 destination bytes. */
  dstPtr(): usize { return this.ptr + 24; }
  src(out: Ipv6Address): void { out.loadFrom(this.ptr + 8); }
  setSrc(a: Ipv6Address): void { a.storeTo(this.ptr + 8); }
  dst(out: Ipv6Address): void { out.loadFrom(this.ptr + 24); }
  setDst(a: Ipv6Address): void { a.storeTo(this.ptr + 24); }

  /** Upper-layer bytes: after the extension headers, up to 40 + payload length (clamped). */
  payloadPtr(): usize { return this.ptr + this._upperOffset; }
  payloadLen(): u32 {
    let end = IPV6_HEADER_LEN + <u32>this.payloadLength();
    if (end > this.len) end = this.len;
    return end > this._upperOffset ? end - this._upperOffset : 0;
  }
  /** Bytes of extension headers between the fixed header and the upper layer. */
  extHeadersLen(): u32 { return this._upperOffset > IPV6_HEADER_LEN ? this._upperOffset - IPV6_HEADER_LEN : 0; }

  hasFragmentHeader(): bool { return this._fragOffset != 0; }
  /** Fragment offset in bytes (0 without a fragment header). */
  fragOffset(): u32 {
    return this._fragOffset != 0 ? <u32>(bswap<u16>(load<u16>(this.ptr + this._fragOffset, 2)) & 0xfff8) : 0;
  }
  moreFrags(): bool {
    return this._fragOffset != 0 && (load<u8>(this.ptr + this._fragOffset, 3) & 1) != 0;
  }
  fragIdent(): u32 {
    return this._fragOffset != 0 ? bswap<u32>(load<u32>(this.ptr + this._fragOffset, 4)) : 0;
  }
  /** A real fragment (not an atomic fragment, RFC 6946): reassembly needed. */
  isFragment(): bool { return this.fragOffset() != 0 || this.moreFrags(); }
}

/**
 * Plain IPv6 fields. `nextHeader`, `payloadLen` and `upperLayerOffset` describe the upper
 * layer found after the extension headers. `emit` writes the 40-byte fixed header only:
 * next header = `nextHeader`, payload length = `payloadLen`, no extension headers.
 */
export class Ipv6Repr {
  src: Ipv6Address = new Ipv6Address();
  dst: Ipv6Address = new Ipv6Address();
  nextHeader: u8 = 0;
  hopLimit: u8 = 64;
  payloadLen: u32 = 0;
  upperLayerOffset: u32 = IPV6_HEADER_LEN;
  trafficClass: u8 = 0;
  flowLabel: u32 = 0;
  /** Set when a fragment header was present (then fragOffset/moreFrags/fragIdent apply). */
  hasFragmentHeader: bool = false;
  fragOffset: u32 = 0;
  moreFrags: bool = false;
  fragIdent: u32 = 0;

  parse(view: Ipv6View): bool {
    if (view.len < IPV6_HEADER_LEN) return false;
    view.src(this.src);
    view.dst(this.dst);
    this.nextHeader = view.upperProtocol();
    this.hopLimit = view.hopLimit();
    this.payloadLen = view.payloadLen();
    this.upperLayerOffset = view.upperLayerOffset();
    this.trafficClass = view.trafficClass();
    this.flowLabel = view.flowLabel();
    this.hasFragmentHeader = view.hasFragmentHeader();
    this.fragOffset = view.fragOffset();
    this.moreFrags = view.moreFrags();
    this.fragIdent = view.fragIdent();
    return true;
  }
  /** Writes the fixed header; false when 40 + payload exceeds the view. */
  emit(view: Ipv6View): bool {
    if (IPV6_HEADER_LEN + this.payloadLen > view.len || this.payloadLen > 0xffff) return false;
    view.setVersionClassFlow(this.trafficClass, this.flowLabel);
    view.setPayloadLength(<u16>this.payloadLen);
    view.setHopLimit(this.hopLimit);
    this.src.storeTo(view.ptr + 8);
    this.dst.storeTo(view.ptr + 24);
    view.setNextHeader(this.nextHeader);
    view.markNoExtHeaders();
    return true;
  }
  isFragment(): bool { return this.fragOffset != 0 || this.moreFrags; }
  headerLen(): u32 { return IPV6_HEADER_LEN; }
  bufferLen(): u32 { return IPV6_HEADER_LEN + this.payloadLen; }
}
