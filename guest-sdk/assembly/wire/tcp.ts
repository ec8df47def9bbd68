// TCP segments (RFC 9293) and the options MSS, window scale (RFC 7323), SACK-permitted and
// SACK (RFC 2018), timestamps (RFC 7323).
//
//  0          2          4       8       12          13      14       16         18       20
//  | src port | dst port | seq   | ack   |doff|rsv|NS| flags | window | checksum | urgent | options | payload
import { checksumAdd, checksumFinish, checksumFold, pseudoHeaderV4, pseudoHeaderV6 } from "./checksum";
import { DETACHED_BUF, rangeOk } from "./view";

export const TCP_HEADER_LEN: u32 = 20;
export const TCP_MAX_OPTIONS_LEN: u32 = 40;

export const TCP_FIN: u8 = 1;
export const TCP_SYN: u8 = 2;
export const TCP_RST: u8 = 4;
export const TCP_PSH: u8 = 8;
export const TCP_ACK: u8 = 16;
export const TCP_URG: u8 = 32;
export const TCP_ECE: u8 = 64;
export const TCP_CWR: u8 = 128;

export const TCP_OPT_END: u8 = 0;
export const TCP_OPT_NOP: u8 = 1;
export const TCP_OPT_MSS: u8 = 2;
export const TCP_OPT_WSCALE: u8 = 3;
export const TCP_OPT_SACK_PERMITTED: u8 = 4;
export const TCP_OPT_SACK: u8 = 5;
export const TCP_OPT_TIMESTAMP: u8 = 8;
/** Largest window scale shift (RFC 7323 2.3); larger received values are clamped to it. */
export const TCP_MAX_WSCALE: i32 = 14;

/**
 * Checked view of a TCP segment. `len` must be the segment length given by the IP layer
 * (TCP has no length field): payload = len - header length.
 */
export class TcpView {
  ptr: usize = DETACHED_BUF;
  len: u32 = 0;

  /** False (and detached) when shorter than 20 bytes or data offset < 5 or > buffer. */
  wrap(ptr: usize, len: u32): bool {
    if (len >= TCP_HEADER_LEN && rangeOk(ptr, len)) {
      const hl = (<u32>load<u8>(ptr, 12) >>> 4) << 2;
      if (hl >= TCP_HEADER_LEN && hl <= len) {
        this.ptr = ptr;
        this.len = len;
        return true;
      }
    }
    this.ptr = DETACHED_BUF;
    this.len = 0;
    return false;
  }
  /** Re-targets for emitting: checks that 20 bytes fit. */
  wrapRaw(ptr: usize, len: u32): bool {
    if (len < TCP_HEADER_LEN || !rangeOk(ptr, len)) {
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
  seq(): u32 { return bswap<u32>(load<u32>(this.ptr, 4)); }
  setSeq(v: u32): void { store<u32>(this.ptr, bswap<u32>(v), 4); }
  ack(): u32 { return bswap<u32>(load<u32>(this.ptr, 8)); }
  setAck(v: u32): void { store<u32>(this.ptr, bswap<u32>(v), 8); }
  /** Header length from the data offset field, in bytes (not clamped). */
  dataOffsetBytes(): u32 { return (<u32>load<u8>(this.ptr, 12) >>> 4) << 2; }
  /** Writes the data offset (`headerLen` bytes, multiple of 4, 20..60); clears reserved bits and NS. */
  setHeaderLen(headerLen: u32): void { store<u8>(this.ptr, <u8>(((headerLen >>> 2) & 0xf) << 4), 12); }
  /** Header length in bytes, clamped to the buffer. */
  headerLen(): u32 {
    const hl = this.dataOffsetBytes();
    return hl <= this.len ? hl : this.len;
  }
  /** The 8 flag bits of byte 13 (TCP_FIN ... TCP_CWR). */
  flags(): u8 { return load<u8>(this.ptr, 13); }
  setFlags(v: u8): void { store<u8>(this.ptr, v, 13); }
  fin(): bool { return (this.flags() & TCP_FIN) != 0; }
  syn(): bool { return (this.flags() & TCP_SYN) != 0; }
  rst(): bool { return (this.flags() & TCP_RST) != 0; }
  psh(): bool { return (this.flags() & TCP_PSH) != 0; }
  ackFlag(): bool { return (this.flags() & TCP_ACK) != 0; }
  urg(): bool { return (this.flags() & TCP_URG) != 0; }
  window(): u16 { return bswap<u16>(load<u16>(this.ptr, 14)); }
  setWindow(v: u16): void { store<u16>(this.ptr, bswap<u16>(v), 14); }
  checksum(): u16 { return bswap<u16>(load<u16>(this.ptr, 16)); }
  setChecksum(v: u16): void { store<u16>(this.ptr, bswap<u16>(v), 16); }
  urgent(): u16 { return bswap<u16>(load<u16>(this.ptr, 18)); }
  setUrgent(v: u16): void { store<u16>(this.ptr, bswap<u16>(v), 18); }
  optionsPtr(): usize { return this.ptr + TCP_HEADER_LEN; }
  optionsLen(): u32 {
    const hl = this.headerLen();
    return hl > TCP_HEADER_LEN ? hl - TCP_HEADER_LEN : 0;
  }
  payloadPtr(): usize { return this.ptr + this.headerLen(); }
  payloadLen(): u32 { return this.len - this.headerLen(); }

  /** IPv4 checksum check over the whole `len` bytes (host-order addresses). */
  verifyChecksumV4(src: u32, dst: u32): bool {
    if (this.len < TCP_HEADER_LEN) return false;
    return checksumFold(checksumAdd(pseudoHeaderV4(src, dst, 6, this.len), this.ptr, this.len)) == 0xffff;
  }
  /** IPv6 checksum check (16-byte addresses at srcPtr/dstPtr). */
  verifyChecksumV6(srcPtr: usize, dstPtr: usize): bool {
    if (this.len < TCP_HEADER_LEN) return false;
    return checksumFold(checksumAdd(pseudoHeaderV6(srcPtr, dstPtr, 6, this.len), this.ptr, this.len)) == 0xffff;
  }
  /** Computes and stores the checksum over the whole `len` bytes. */
  fillChecksumV4(src: u32, dst: u32): void {
    if (this.len < TCP_HEADER_LEN) return;
    this.setChecksum(0);
    this.setChecksum(checksumFinish(checksumAdd(pseudoHeaderV4(src, dst, 6, this.len), this.ptr, this.len)));
  }
  fillChecksumV6(srcPtr: usize, dstPtr: usize): void {
    if (this.len < TCP_HEADER_LEN) return;
    this.setChecksum(0);
    this.setChecksum(checksumFinish(checksumAdd(pseudoHeaderV6(srcPtr, dstPtr, 6, this.len), this.ptr, this.len)));
  }
}

/**
 * Plain TCP fields, options included.
 *
 * parse: unknown options are skipped; a known option with a wrong length is ignored;
 * a malformed option list (an option other than END/NOP without a length byte, a length
 * < 2, or an option running past the header) makes `parse` return false: drop the
 * segment. A window scale above 14 is read as 14; SACK blocks beyond 4 are ignored.
 *
 * emit: writes the options in the layout Linux uses, every option 4-byte aligned:
 *   MSS | SACK-permitted+TS (or NOP NOP TS) | NOP NOP SACK-permitted (without TS) |
 *   NOP WS | NOP NOP SACK blocks.
 * SACK blocks that do not fit in 40 bytes of options are dropped from the end
 * (`sackBlocksToEmit`).
 */
export class TcpRepr {
  srcPort: u16 = 0;
  dstPort: u16 = 0;
  seq: u32 = 0;
  ack: u32 = 0;
  flags: u8 = 0;
  window: u16 = 0;
  urgent: u16 = 0;
  /** 0 = absent. */
  mss: u16 = 0;
  /** -1 = absent, else the shift (0..14). */
  wscale: i32 = -1;
  sackPermitted: bool = false;
  /** Number of valid entries in sackLeft/sackRight (0..4). */
  sackCount: i32 = 0;
  sackLeft: StaticArray<u32> = new StaticArray<u32>(4);
  sackRight: StaticArray<u32> = new StaticArray<u32>(4);
  tsPresent: bool = false;
  tsVal: u32 = 0;
  tsEcr: u32 = 0;
  payloadPtr: usize = 0;
  payloadLen: u32 = 0;

  /** Clears the option fields (absent everywhere). */
  clearOptions(): void {
    this.mss = 0;
    this.wscale = -1;
    this.sackPermitted = false;
    this.sackCount = 0;
    this.tsPresent = false;
    this.tsVal = 0;
    this.tsEcr = 0;
  }

  /** Fills every field from a wrapped view; false on malformed options (see above). */
  parse(view: TcpView): bool {
    if (view.len < TCP_HEADER_LEN) return false;
    this.srcPort = view.srcPort();
    this.dstPort = view.dstPort();
    this.seq = view.seq();
    this.ack = view.ack();
    this.flags = view.flags();
    this.window = view.window();
    this.urgent = view.urgent();
    this.payloadPtr = view.payloadPtr();
    this.payloadLen = view.payloadLen();
    this.clearOptions();
    return this.parseOptions(view.ptr + TCP_HEADER_LEN, view.optionsLen());
  }

  /** Option walk over [p, p + n); reads nothing outside it. */
  private parseOptions(p: usize, n: u32): bool {
    const end = p + <usize>n;
    while (p < end) {
      const kind = load<u8>(p);
      if (kind == TCP_OPT_END) break;
      if (kind == TCP_OPT_NOP) {
        p++;
        continue;
      }
      if (p + 1 >= end) return false;
      const l = <u32>load<u8>(p, 1);
      if (l < 2 || <usize>l > end - p) return false;
      if (kind == TCP_OPT_MSS) {
        if (l == 4) this.mss = bswap<u16>(load<u16>(p, 2));
      } else if (kind == TCP_OPT_WSCALE) {
        if (l == 3) {
          const ws = <i32>load<u8>(p, 2);
          this.wscale = ws > TCP_MAX_WSCALE ? TCP_MAX_WSCALE : ws;
        }
      } else if (kind == TCP_OPT_SACK_PERMITTED) {
        if (l == 2) this.sackPermitted = true;
      } else if (kind == TCP_OPT_SACK) {
        if (l >= 10 && ((l - 2) & 7) == 0) {
          let count = <i32>((l - 2) >>> 3);
          if (count > 4) count = 4;
          for (let i = 0; i < count; i++) {
            const b = p + 2 + (<usize>i << 3);
            unchecked(this.sackLeft[i] = bswap<u32>(load<u32>(b)));
            unchecked(this.sackRight[i] = bswap<u32>(load<u32>(b, 4)));
          }
          this.sackCount = count;
        }
      } else if (kind == TCP_OPT_TIMESTAMP) {
        if (l == 10) {
          this.tsPresent = true;
          this.tsVal = bswap<u32>(load<u32>(p, 2));
          this.tsEcr = bswap<u32>(load<u32>(p, 6));
        }
      }
      p += l;
    }
    return true;
  }

  /** Option bytes before SACK blocks. */
  private baseOptionsLen(): u32 {
    let n: u32 = 0;
    if (this.mss != 0) n += 4;
    if (this.tsPresent) n += 12;
    else if (this.sackPermitted) n += 4;
    if (this.wscale >= 0) n += 4;
    return n;
  }
  /** How many SACK blocks `emit` writes: sackCount clamped to 0..4 and to the space left. */
  sackBlocksToEmit(): i32 {
    let n = this.sackCount;
    if (n <= 0) return 0;
    if (n > 4) n = 4;
    const base = this.baseOptionsLen();
    const room = base + 12 <= TCP_MAX_OPTIONS_LEN ? <i32>((TCP_MAX_OPTIONS_LEN - base - 4) >>> 3) : 0;
    return n < room ? n : room;
  }
  optionsLen(): u32 {
    const s = this.sackBlocksToEmit();
    return this.baseOptionsLen() + (s > 0 ? 4 + (<u32>s << 3) : 0);
  }
  headerLen(): u32 { return TCP_HEADER_LEN + this.optionsLen(); }
  bufferLen(): u32 { return this.headerLen() + this.payloadLen; }
  /** Sequence space taken: payload + SYN + FIN. */
  segmentLen(): u32 {
    return this.payloadLen + ((this.flags & TCP_SYN) != 0 ? 1 : 0) + ((this.flags & TCP_FIN) != 0 ? 1 : 0);
  }

  /**
   * Writes header and options with a zero checksum, and copies the payload from
   * `payloadPtr` unless it is 0 or already in place. False when header + payload exceed
   * the view. The view's `len` is not changed: wrap it with exactly bufferLen() bytes
   * before filling the checksum (or use emitV4/emitV6).
   */
  emit(view: TcpView): bool {
    const hl = this.headerLen();
    if (hl + this.payloadLen > view.len || hl + this.payloadLen < hl) return false;
    const p = view.ptr;
    view.setSrcPort(this.srcPort);
    view.setDstPort(this.dstPort);
    view.setSeq(this.seq);
    view.setAck(this.ack);
    view.setHeaderLen(hl);
    view.setFlags(this.flags);
    view.setWindow(this.window);
    view.setChecksum(0);
    view.setUrgent(this.urgent);
    let o = p + TCP_HEADER_LEN;
    if (this.mss != 0) {
      store<u32>(o, bswap<u32>(0x02040000 | <u32>this.mss));
      o += 4;
    }
    if (this.tsPresent) {
      store<u32>(o, bswap<u32>(this.sackPermitted ? 0x0402080a : 0x0101080a));
      store<u32>(o, bswap<u32>(this.tsVal), 4);
      store<u32>(o, bswap<u32>(this.tsEcr), 8);
      o += 12;
    } else if (this.sackPermitted) {
      store<u32>(o, bswap<u32>(0x01010402));
      o += 4;
    }
    if (this.wscale >= 0) {
      const ws = this.wscale > TCP_MAX_WSCALE ? TCP_MAX_WSCALE : this.wscale;
      store<u32>(o, bswap<u32>(0x01030300 | <u32>ws));
      o += 4;
    }
    const s = this.sackBlocksToEmit();
    if (s > 0) {
      store<u32>(o, bswap<u32>(0x01010500 | (2 + (<u32>s << 3))));
      o += 4;
      for (let i = 0; i < s; i++) {
        store<u32>(o, bswap<u32>(unchecked(this.sackLeft[i])));
        store<u32>(o, bswap<u32>(unchecked(this.sackRight[i])), 4);
        o += 8;
      }
    }
    const dst = p + hl;
    if (this.payloadPtr != 0 && this.payloadPtr != dst) memory.copy(dst, this.payloadPtr, this.payloadLen);
    return true;
  }
  /**
   * emit, then re-wraps `view` to exactly bufferLen() bytes and fills the IPv4 checksum
   * (host-order addresses).
   */
  emitV4(view: TcpView, src: u32, dst: u32): bool {
    if (!this.emit(view)) return false;
    view.len = this.bufferLen();
    view.fillChecksumV4(src, dst);
    return true;
  }
  /** emit, then re-wraps to bufferLen() bytes and fills the IPv6 checksum. */
  emitV6(view: TcpView, srcPtr: usize, dstPtr: usize): bool {
    if (!this.emit(view)) return false;
    view.len = this.bufferLen();
    view.fillChecksumV6(srcPtr, dstPtr);
    return true;
  }
}
