// ICMPv6 (RFC 4443) and the Neighbor Discovery messages (RFC 4861).
//
//  0      1      2          4                       8
//  | type | code | checksum | rest of header (u32) | body
// NS/NA: body starts with the 16-byte target address, then options. RS: options at 8.
// RA: reachable time, retrans timer at 8..15, options at 16. Redirect: target at 8,
// destination at 24, options at 40. Options are (type u8, length u8 in 8-byte units).
import { checksumAdd, checksumFinish, checksumFold, pseudoHeaderV6 } from "./checksum";
import { DETACHED_BUF, rangeOk } from "./view";

export const ICMPV6_HEADER_LEN: u32 = 8;
export const ICMPV6_DEST_UNREACHABLE: u8 = 1;
export const ICMPV6_PACKET_TOO_BIG: u8 = 2;
export const ICMPV6_TIME_EXCEEDED: u8 = 3;
export const ICMPV6_PARAM_PROBLEM: u8 = 4;
export const ICMPV6_ECHO_REQUEST: u8 = 128;
export const ICMPV6_ECHO_REPLY: u8 = 129;
export const ICMPV6_MLD_QUERY: u8 = 130;
export const ICMPV6_MLD2_REPORT: u8 = 143;
export const ICMPV6_ROUTER_SOLICIT: u8 = 133;
export const ICMPV6_ROUTER_ADVERT: u8 = 134;
export const ICMPV6_NEIGHBOR_SOLICIT: u8 = 135;
export const ICMPV6_NEIGHBOR_ADVERT: u8 = 136;
export const ICMPV6_REDIRECT: u8 = 137;
export const ICMPV6_UNREACH_PORT: u8 = 4;

export const NDP_OPT_SOURCE_LLADDR: u8 = 1;
export const NDP_OPT_TARGET_LLADDR: u8 = 2;
export const NDP_OPT_PREFIX_INFO: u8 = 3;
export const NDP_OPT_MTU: u8 = 5;

/** Neighbor advertisement flags (in the high bits of restOfHeader). */
export const NDP_NA_ROUTER: u32 = 0x80000000;
export const NDP_NA_SOLICITED: u32 = 0x40000000;
export const NDP_NA_OVERRIDE: u32 = 0x20000000;

/** Offset of the NDP options for `msgType`, 0 for a non-NDP type. */
function ndpOptionsOffset(msgType: u8): u32 {
  if (msgType == ICMPV6_ROUTER_SOLICIT) return 8;
  if (msgType == ICMPV6_ROUTER_ADVERT) return 16;
  if (msgType == ICMPV6_NEIGHBOR_SOLICIT || msgType == ICMPV6_NEIGHBOR_ADVERT) return 24;
  if (msgType == ICMPV6_REDIRECT) return 40;
  return 0;
}

/** Checked view of an ICMPv6 message; its length is the upper-layer length. */
export class Icmpv6View {
  ptr: usize = DETACHED_BUF;
  len: u32 = 0;

  /**
   * Re-targets this view. False (and detached) when shorter than 8 bytes, or shorter
   * than the fixed body of an NDP message (RA 16, NS/NA 24, redirect 40).
   */
  wrap(ptr: usize, len: u32): bool {
    if (len < ICMPV6_HEADER_LEN || !rangeOk(ptr, len) || len < ndpOptionsOffset(load<u8>(ptr))) {
      this.ptr = DETACHED_BUF;
      this.len = 0;
      return false;
    }
    this.ptr = ptr;
    this.len = len;
    return true;
  }
  /** Re-targets for emitting: checks that 8 bytes fit. */
  wrapRaw(ptr: usize, len: u32): bool {
    if (len < ICMPV6_HEADER_LEN || !rangeOk(ptr, len)) {
      this.ptr = DETACHED_BUF;
      this.len = 0;
      return false;
    }
    this.ptr = ptr;
    this.len = len;
    return true;
  }

  msgType(): u8 { return load<u8>(this.ptr); }
  setMsgType(v: u8): void { store<u8>(this.ptr, v); }
  code(): u8 { return load<u8>(this.ptr, 1); }
  setCode(v: u8): void { store<u8>(this.ptr, v, 1); }
  checksum(): u16 { return bswap<u16>(load<u16>(this.ptr, 2)); }
  setChecksum(v: u16): void { store<u16>(this.ptr, bswap<u16>(v), 2); }
  restOfHeader(): u32 { return bswap<u32>(load<u32>(this.ptr, 4)); }
  setRestOfHeader(v: u32): void { store<u32>(this.ptr, bswap<u32>(v), 4); }
  echoIdent(): u16 { return bswap<u16>(load<u16>(this.ptr, 4)); }
  echoSeq(): u16 { return bswap<u16>(load<u16>(this.ptr, 6)); }
  /** MTU of a packet-too-big message. */
  mtu(): u32 { return this.restOfHeader(); }
  /** Pointer of a parameter-problem message. */
  pointer(): u32 { return this.restOfHeader(); }
  payloadPtr(): usize { return this.ptr + ICMPV6_HEADER_LEN; }
  payloadLen(): u32 { return this.len > ICMPV6_HEADER_LEN ? this.len - ICMPV6_HEADER_LEN : 0; }
  isError(): bool { return this.msgType() < 128; }

  /** Address of the 16-byte target of NS/NA/redirect, 0 for other types. */
  ndpTargetPtr(): usize {
    const t = this.msgType();
    return t == ICMPV6_NEIGHBOR_SOLICIT || t == ICMPV6_NEIGHBOR_ADVERT || t == ICMPV6_REDIRECT
      ? this.ptr + 8 : 0;
  }
  /** Start of the NDP options, 0 for a non-NDP type. */
  ndpOptionsPtr(): usize {
    const off = ndpOptionsOffset(this.msgType());
    return off != 0 && off <= this.len ? this.ptr + off : 0;
  }
  ndpOptionsLen(): u32 {
    const off = ndpOptionsOffset(this.msgType());
    return off != 0 && off <= this.len ? this.len - off : 0;
  }
  /**
   * True when the NDP options are well formed: every option has a non-zero length and
   * fits (RFC 4861 7.1.1 says to drop the message otherwise). False for non-NDP types.
   */
  ndpOptionsValid(): bool {
    const off = ndpOptionsOffset(this.msgType());
    if (off == 0 || off > this.len) return false;
    let p = off;
    while (p < this.len) {
      if (p + 2 > this.len) return false;
      const l = <u32>load<u8>(this.ptr + p, 1) << 3;
      if (l == 0 || p + l > this.len) return false;
      p += l;
    }
    return true;
  }
  /**
   * The MAC carried by the first source/target link-layer address option of type
   * `optType` (1 or 2), or -1 when absent or the options are malformed.
   */
  ndpLinkLayerAddr(optType: u8): i64 {
    const off = ndpOptionsOffset(this.msgType());
    if (off == 0 || off > this.len) return -1;
    let p = off;
    while (p + 2 <= this.len) {
      const o = this.ptr + p;
      const l = <u32>load<u8>(o, 1) << 3;
      if (l == 0 || p + l > this.len) return -1;
      if (load<u8>(o) == optType && l >= 8) {
        return <i64>((<u64>bswap<u32>(load<u32>(o, 2)) << 16) | <u64>bswap<u16>(load<u16>(o, 6)));
      }
      p += l;
    }
    return -1;
  }

  /** Checksum check with the IPv6 pseudo-header (16-byte addresses at srcPtr/dstPtr). */
  verifyChecksum(srcPtr: usize, dstPtr: usize): bool {
    if (this.len < ICMPV6_HEADER_LEN) return false;
    const s = checksumAdd(pseudoHeaderV6(srcPtr, dstPtr, 58, this.len), this.ptr, this.len);
    return checksumFold(s) == 0xffff;
  }
  fillChecksum(srcPtr: usize, dstPtr: usize): void {
    if (this.len < ICMPV6_HEADER_LEN) return;
    this.setChecksum(0);
    this.setChecksum(checksumFinish(checksumAdd(pseudoHeaderV6(srcPtr, dstPtr, 58, this.len), this.ptr, this.len)));
  }
}

/** Plain ICMPv6 fields: type, code, the 4 type-specific bytes, and the body. */
export class Icmpv6Repr {
  msgType: u8 = 0;
  code: u8 = 0;
  restOfHeader: u32 = 0;
  payloadPtr: usize = 0;
  payloadLen: u32 = 0;

  get ident(): u16 { return <u16>(this.restOfHeader >>> 16); }
  set ident(v: u16) { this.restOfHeader = (this.restOfHeader & 0xffff) | (<u32>v << 16); }
  get seqNo(): u16 { return <u16>this.restOfHeader; }
  set seqNo(v: u16) { this.restOfHeader = (this.restOfHeader & 0xffff0000) | <u32>v; }

  /** Fills the fields (no checksum check: that needs the addresses, see Icmpv6View). */
  parse(view: Icmpv6View): bool {
    if (view.len < ICMPV6_HEADER_LEN) return false;
    this.msgType = view.msgType();
    this.code = view.code();
    this.restOfHeader = view.restOfHeader();
    this.payloadPtr = view.payloadPtr();
    this.payloadLen = view.payloadLen();
    return true;
  }
  /**
   * Writes the header, copies the body from `payloadPtr` unless 0 or already in place,
   * and computes the checksum with the given pseudo-header addresses. False when the
   * message does not fit the view.
   */
  emit(view: Icmpv6View, srcPtr: usize, dstPtr: usize): bool {
    const total = ICMPV6_HEADER_LEN + this.payloadLen;
    if (view.len < total || total < this.payloadLen) return false;
    view.setMsgType(this.msgType);
    view.setCode(this.code);
    view.setChecksum(0);
    view.setRestOfHeader(this.restOfHeader);
    const dst = view.payloadPtr();
    if (this.payloadPtr != 0 && this.payloadPtr != dst) memory.copy(dst, this.payloadPtr, this.payloadLen);
    view.setChecksum(checksumFinish(checksumAdd(pseudoHeaderV6(srcPtr, dstPtr, 58, total), view.ptr, total)));
    return true;
  }
  headerLen(): u32 { return ICMPV6_HEADER_LEN; }
  bufferLen(): u32 { return ICMPV6_HEADER_LEN + this.payloadLen; }
}
