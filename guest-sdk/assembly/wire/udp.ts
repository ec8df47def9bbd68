// UDP (RFC 768; IPv6 rules from RFC 8200 8.1).
//
//  0          2          4        6          8
//  | src port | dst port | length | checksum | payload (length - 8 bytes)
import { checksumAdd, checksumFinish, checksumFold, pseudoHeaderV4, pseudoHeaderV6 } from "./checksum";
import { DETACHED_BUF, rangeOk } from "./view";

export const UDP_HEADER_LEN: u32 = 8;

/**
 * Checked view of a UDP datagram. `len` is what the IP layer says is there; the
 * datagram itself is the first `length` bytes (trailing bytes are ignored).
 */
export class UdpView {
  ptr: usize = DETACHED_BUF;
  len: u32 = 0;

  /** False (and detached) when shorter than 8 bytes or length field < 8 or > buffer. */
  wrap(ptr: usize, len: u32): bool {
    if (len >= UDP_HEADER_LEN && rangeOk(ptr, len)) {
      const l = <u32>bswap<u16>(load<u16>(ptr, 4));
      if (l >= UDP_HEADER_LEN && l <= len) {
        this.ptr = ptr;
        this.len = len;
        return true;
      }
    }
    this.ptr = DETACHED_BUF;
    this.len = 0;
    return false;
  }
  /** Re-targets for emitting: checks that 8 bytes fit. */
  wrapRaw(ptr: usize, len: u32): bool {
    if (len < UDP_HEADER_LEN || !rangeOk(ptr, len)) {
      this.ptr = DETACHED_BUF;
      this.len = 0;
      return false;
    }
    this.ptr = ptr;
    this.len = len;
    return true;
  }

  srcPort(): u16 { return bswap<u16>(load<u16>(this.ptr)); }
  setSrcPort(v: u16): void { store<u16>(this.ptr, bswap<u16>(v)); }
  dstPort(): u16 { return bswap<u16>(load<u16>(this.ptr, 2)); }
  setDstPort(v: u16): void { store<u16>(this.ptr, bswap<u16>(v), 2); }
  length(): u16 { return bswap<u16>(load<u16>(this.ptr, 4)); }
  setLength(v: u16): void { store<u16>(this.ptr, bswap<u16>(v), 4); }
  checksum(): u16 { return bswap<u16>(load<u16>(this.ptr, 6)); }
  setChecksum(v: u16): void { store<u16>(this.ptr, bswap<u16>(v), 6); }
  /** The datagram length: the length field clamped to the buffer (>= 8 after wrap). */
  datagramLen(): u32 {
    const l = <u32>this.length();
    return l <= this.len ? l : this.len;
  }
  payloadPtr(): usize { return this.ptr + UDP_HEADER_LEN; }
  payloadLen(): u32 {
    const l = this.datagramLen();
    return l > UDP_HEADER_LEN ? l - UDP_HEADER_LEN : 0;
  }
  /** IPv4: true when the checksum is right or absent (0). Addresses are host-order u32. */
  verifyChecksumV4(src: u32, dst: u32): bool {
    if (this.checksum() == 0) return true;
    const l = this.datagramLen();
    return l >= UDP_HEADER_LEN && checksumFold(checksumAdd(pseudoHeaderV4(src, dst, 17, l), this.ptr, l)) == 0xffff;
  }
  /** IPv6: the checksum is mandatory; 0 is invalid. */
  verifyChecksumV6(srcPtr: usize, dstPtr: usize): bool {
    if (this.checksum() == 0) return false;
    const l = this.datagramLen();
    return l >= UDP_HEADER_LEN && checksumFold(checksumAdd(pseudoHeaderV6(srcPtr, dstPtr, 17, l), this.ptr, l)) == 0xffff;
  }
  /** Computes and stores the checksum (a computed 0 is sent as 0xffff). */
  fillChecksumV4(src: u32, dst: u32): void {
    const l = this.datagramLen();
    if (l < UDP_HEADER_LEN) return;
    this.setChecksum(0);
    const c = checksumFinish(checksumAdd(pseudoHeaderV4(src, dst, 17, l), this.ptr, l));
    this.setChecksum(c == 0 ? 0xffff : c);
  }
  fillChecksumV6(srcPtr: usize, dstPtr: usize): void {
    const l = this.datagramLen();
    if (l < UDP_HEADER_LEN) return;
    this.setChecksum(0);
    const c = checksumFinish(checksumAdd(pseudoHeaderV6(srcPtr, dstPtr, 17, l), this.ptr, l));
    this.setChecksum(c == 0 ? 0xffff : c);
  }
}

/** Plain UDP fields. The checksum is left to the view's fill/verify helpers or emitV4/emitV6. */
export class UdpRepr {
  srcPort: u16 = 0;
  dstPort: u16 = 0;
  payloadPtr: usize = 0;
  payloadLen: u32 = 0;

  /** Fills the fields; no checksum check (see UdpView.verifyChecksumV4/V6). */
  parse(view: UdpView): bool {
    if (view.len < UDP_HEADER_LEN) return false;
    this.srcPort = view.srcPort();
    this.dstPort = view.dstPort();
    this.payloadPtr = view.payloadPtr();
    this.payloadLen = view.payloadLen();
    return true;
  }
  /**
   * Writes the header with a zero checksum and copies the payload from `payloadPtr`
   * unless it is 0 or already in place. False when 8 + payloadLen exceeds the view or 65535.
   */
  emit(view: UdpView): bool {
    const total = UDP_HEADER_LEN + this.payloadLen;
    if (total > view.len || total > 0xffff) return false;
    view.setSrcPort(this.srcPort);
    view.setDstPort(this.dstPort);
    view.setLength(<u16>total);
    view.setChecksum(0);
    const dst = view.payloadPtr();
    if (this.payloadPtr != 0 && this.payloadPtr != dst) memory.copy(dst, this.payloadPtr, this.payloadLen);
    return true;
  }
  /** emit, then the IPv4 checksum (host-order addresses). */
  emitV4(view: UdpView, src: u32, dst: u32): bool {
    if (!this.emit(view)) return false;
    view.fillChecksumV4(src, dst);
    return true;
  }
  /** emit, then the IPv6 checksum (16-byte addresses at srcPtr/dstPtr). */
  emitV6(view: UdpView, srcPtr: usize, dstPtr: usize): bool {
    if (!this.emit(view)) return false;
    view.fillChecksumV6(srcPtr, dstPtr);
    return true;
  }
  headerLen(): u32 { return UDP_HEADER_LEN; }
  bufferLen(): u32 { return UDP_HEADER_LEN + this.payloadLen; }
}
