// ICMPv4 (RFC 792, RFC 1191 for "fragmentation needed").
//
//  0      1      2          4                       8
//  | type | code | checksum | rest of header (u32) | data (echo payload, or the quoted
//                                                    IP header + 8 bytes of an error)
import { checksum } from "./checksum";
import { DETACHED_BUF, rangeOk } from "./view";

export const ICMPV4_HEADER_LEN: u32 = 8;
export const ICMPV4_ECHO_REPLY: u8 = 0;
export const ICMPV4_DEST_UNREACHABLE: u8 = 3;
export const ICMPV4_REDIRECT: u8 = 5;
export const ICMPV4_ECHO_REQUEST: u8 = 8;
export const ICMPV4_TIME_EXCEEDED: u8 = 11;
export const ICMPV4_PARAM_PROBLEM: u8 = 12;
export const ICMPV4_UNREACH_NET: u8 = 0;
export const ICMPV4_UNREACH_HOST: u8 = 1;
export const ICMPV4_UNREACH_PROTOCOL: u8 = 2;
export const ICMPV4_UNREACH_PORT: u8 = 3;
export const ICMPV4_UNREACH_FRAG_NEEDED: u8 = 4;

/** Checked view of an ICMPv4 message; its length is the IP payload length. */
export class Icmpv4View {
  ptr: usize = DETACHED_BUF;
  len: u32 = 0;

  /** Re-targets this view; false (and detached) when shorter than 8 bytes. */
  wrap(ptr: usize, len: u32): bool {
    if (len < ICMPV4_HEADER_LEN || !rangeOk(ptr, len)) {
      this.ptr = DETACHED_BUF;
      this.len = 0;
      return false;
    }
    this.ptr = ptr;
    this.len = len;
    return true;
  }
  wrapRaw(ptr: usize, len: u32): bool { return this.wrap(ptr, len); }

  msgType(): u8 { return load<u8>(this.ptr); }
  setMsgType(v: u8): void { store<u8>(this.ptr, v); }
  code(): u8 { return load<u8>(this.ptr, 1); }
  setCode(v: u8): void { store<u8>(this.ptr, v, 1); }
  checksum(): u16 { return bswap<u16>(load<u16>(this.ptr, 2)); }
  setChecksum(v: u16): void { store<u16>(this.ptr, bswap<u16>(v), 2); }
  /** Bytes 4..7 as a host-order u32. */
  restOfHeader(): u32 { return bswap<u32>(load<u32>(this.ptr, 4)); }
  setRestOfHeader(v: u32): void { store<u32>(this.ptr, bswap<u32>(v), 4); }
  /** Echo request/reply identifier. */
  echoIdent(): u16 { return bswap<u16>(load<u16>(this.ptr, 4)); }
  /** Echo request/reply sequence number. */
  echoSeq(): u16 { return bswap<u16>(load<u16>(this.ptr, 6)); }
  /** Next-hop MTU of a "fragmentation needed" message (0 from pre-RFC 1191 routers). */
  nextHopMtu(): u16 { return bswap<u16>(load<u16>(this.ptr, 6)); }
  /** Parameter problem pointer. */
  pointer(): u8 { return load<u8>(this.ptr, 4); }
  /** Redirect gateway address. */
  gateway(): u32 { return this.restOfHeader(); }
  payloadPtr(): usize { return this.ptr + ICMPV4_HEADER_LEN; }
  payloadLen(): u32 { return this.len > ICMPV4_HEADER_LEN ? this.len - ICMPV4_HEADER_LEN : 0; }
  /** True for types that quote the offending datagram (unreachable, redirect, time exceeded, parameter problem). */
  isError(): bool {
    const t = this.msgType();
    return t == ICMPV4_DEST_UNREACHABLE || t == ICMPV4_REDIRECT || t == ICMPV4_TIME_EXCEEDED ||
      t == ICMPV4_PARAM_PROBLEM;
  }
  /** Checksum over the whole message. */
  verifyChecksum(): bool { return this.len >= ICMPV4_HEADER_LEN && checksum(this.ptr, this.len) == 0; }
  fillChecksum(): void {
    if (this.len < ICMPV4_HEADER_LEN) return;
    this.setChecksum(0);
    this.setChecksum(checksum(this.ptr, this.len));
  }
}

/** Plain ICMPv4 fields: type, code, the 4 type-specific bytes, and the data. */
export class Icmpv4Repr {
  msgType: u8 = 0;
  code: u8 = 0;
  restOfHeader: u32 = 0;
  payloadPtr: usize = 0;
  payloadLen: u32 = 0;

  get ident(): u16 { return <u16>(this.restOfHeader >>> 16); }
  set ident(v: u16) { this.restOfHeader = (this.restOfHeader & 0xffff) | (<u32>v << 16); }
  get seqNo(): u16 { return <u16>this.restOfHeader; }
  set seqNo(v: u16) { this.restOfHeader = (this.restOfHeader & 0xffff0000) | <u32>v; }

  /** Fills the fields; false when `verifyChecksum` is set and the checksum is wrong. */
  parse(view: Icmpv4View, verifyChecksum: bool = true): bool {
    if (view.len < ICMPV4_HEADER_LEN) return false;
    if (verifyChecksum && !view.verifyChecksum()) return false;
    this.msgType = view.msgType();
    this.code = view.code();
    this.restOfHeader = view.restOfHeader();
    this.payloadPtr = view.payloadPtr();
    this.payloadLen = view.payloadLen();
    return true;
  }
  /**
   * Writes the header, copies the data from `payloadPtr` unless it is 0 or already in
   * place, and computes the checksum over header + `payloadLen` bytes. False when the
   * message does not fit the view.
   */
  emit(view: Icmpv4View): bool {
    const total = ICMPV4_HEADER_LEN + this.payloadLen;
    if (view.len < total || total < this.payloadLen) return false;
    view.setMsgType(this.msgType);
    view.setCode(this.code);
    view.setChecksum(0);
    view.setRestOfHeader(this.restOfHeader);
    const dst = view.payloadPtr();
    if (this.payloadPtr != 0 && this.payloadPtr != dst) memory.copy(dst, this.payloadPtr, this.payloadLen);
    view.setChecksum(checksum(view.ptr, total));
    return true;
  }
  headerLen(): u32 { return ICMPV4_HEADER_LEN; }
  bufferLen(): u32 { return ICMPV4_HEADER_LEN + this.payloadLen; }
}
