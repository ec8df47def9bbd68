// Connection buffers: a byte ring for data waiting to be sent or acknowledged, a byte
// ring with a bounded out-of-order assembler for received data, and a pool that hands
// both out under one memory budget. The rings live outside the GC heap (heap.alloc):
// the collector never scans them and a closed connection gives them back at once.

import { seqGt, seqLe, seqLt, seqGe, seqMax, seqMin } from "./seq";
import { TcpSegment, MAX_SACK_BLOCKS } from "./segment";

/** Most disjoint out-of-order ranges a receive buffer tracks; a segment that would need more is dropped. */
export const MAX_OOO_RANGES: i32 = 32;

/**
 * Shared empty table: bounded tables that only loss or reordering needs (out-of-order
 * ranges, the SACK scoreboard, the retransmission log) start as this and get their own
 * storage on first use, so a short clean connection allocates none of them.
 */
export const NO_ENTRIES: StaticArray<u32> = new StaticArray<u32>(0);

/** Copies `n` bytes from `src` into ring `buf` (capacity mask+1) at ring position `pos`. */
// @ts-ignore: decorator
@inline function ringWrite(buf: usize, mask: u32, pos: u32, src: usize, n: u32): void {
  const at = pos & mask;
  const first = min(n, mask + 1 - at);
  memory.copy(buf + at, src, first);
  if (first < n) memory.copy(buf, src + first, n - first);
}

/** Copies `n` bytes at ring position `pos` out of ring `buf` to `dst`. */
// @ts-ignore: decorator
@inline function ringRead(buf: usize, mask: u32, pos: u32, dst: usize, n: u32): void {
  const at = pos & mask;
  const first = min(n, mask + 1 - at);
  memory.copy(dst, buf + at, first);
  if (first < n) memory.copy(dst + first, buf, n - first);
}

/**
 * Bytes the application wrote and the peer has not acknowledged yet. Byte 0 of the ring
 * (at index `head`) is the connection's oldest unacknowledged data byte.
 */
export class SendBuffer {
  buf: usize = 0;
  cap: u32 = 0;
  mask: u32 = 0;
  head: u32 = 0;
  len: u32 = 0;

  attach(buf: usize, cap: u32): void {
    this.buf = buf; this.cap = cap; this.mask = cap - 1; this.head = 0; this.len = 0;
  }
  detach(): usize {
    const b = this.buf;
    this.buf = 0; this.cap = 0; this.mask = 0; this.len = 0;
    return b;
  }

  @inline get free(): u32 { return this.cap - this.len; }

  /** As new (a recycled connection; the ring was detached when it was released). */
  reset(): void { this.buf = 0; this.cap = 0; this.mask = 0; this.head = 0; this.len = 0; }

  /** Appends up to `n` bytes from `src`; returns how many fit. */
  write(src: usize, n: u32): u32 {
    const m = min(n, this.cap - this.len);
    if (m == 0) return 0;
    ringWrite(this.buf, this.mask, this.head + this.len, src, m);
    this.len += m;
    return m;
  }

  /** Drops `n` acknowledged bytes from the front. */
  @inline consume(n: u32): void {
    this.head += n;
    this.len -= n;
  }

  /** Points `seg`'s payload pieces at `n` bytes starting `off` bytes past the front (no copy). */
  slice(seg: TcpSegment, off: u32, n: u32): void {
    const at = (this.head + off) & this.mask;
    const first = min(n, this.cap - at);
    seg.payloadPtr = this.buf + at;
    seg.payloadLen = first;
    seg.payload2Ptr = this.buf;
    seg.payload2Len = n - first;
  }
}

/**
 * Received bytes: in-order data ready for the application, then (inside the advertised
 * window) out-of-order data at its final place, described by at most MAX_OOO_RANGES
 * sequence ranges. In-order data starts at ring index `head`; the next in-order byte,
 * RCV.NXT, lands at `head + len`.
 */
export class RecvBuffer {
  buf: usize = 0;
  cap: u32 = 0;
  mask: u32 = 0;
  head: u32 = 0;
  len: u32 = 0;
  /** Out-of-order ranges [start, end) in sequence space: sorted, disjoint, never touching. */
  nRanges: i32 = 0;
  /** NO_ENTRIES until the first out-of-order segment, then MAX_OOO_RANGES entries each. */
  rStart: StaticArray<u32> = NO_ENTRIES;
  rEnd: StaticArray<u32> = NO_ENTRIES;
  /** Index of the range the latest out-of-order segment went to (the first SACK block), -1 none. */
  recent: i32 = -1;
  /** Out-of-order bytes received so far (counted again for overlaps; statistics). */
  oooBytes: u64 = 0;

  attach(buf: usize, cap: u32): void {
    this.buf = buf; this.cap = cap; this.mask = cap - 1;
    this.head = 0; this.len = 0; this.nRanges = 0; this.recent = -1;
  }
  detach(): usize {
    const b = this.buf;
    this.buf = 0; this.cap = 0; this.mask = 0; this.len = 0; this.nRanges = 0; this.recent = -1;
    return b;
  }

  /** As new, keeping the range tables if allocated (a recycled connection; detached ring). */
  reset(): void {
    this.buf = 0; this.cap = 0; this.mask = 0; this.head = 0; this.len = 0;
    this.nRanges = 0; this.recent = -1; this.oooBytes = 0;
  }

  /** Space for data past RCV.NXT (in-order and out-of-order). */
  @inline get free(): u32 { return this.cap - this.len; }

  /** Sequence number just past the highest out-of-order byte, or `rcvNxt` when none. */
  @inline highest(rcvNxt: u32): u32 {
    return this.nRanges == 0 ? rcvNxt : this.rEnd[this.nRanges - 1];
  }

  /**
   * Stores `n` bytes from `src` that start at sequence `seq`, where `rcvNxt` is the next
   * in-order sequence number. The caller has trimmed the data to [rcvNxt, rcvNxt + free).
   * Returns how far RCV.NXT advances (0 for out-of-order data), or -1 when out-of-order
   * data was dropped because the range table is full.
   */
  insert(rcvNxt: u32, seq: u32, src: usize, n: u32): i32 {
    if (n == 0) return 0;
    const off = seq - rcvNxt;
    if (off == 0) {
      ringWrite(this.buf, this.mask, this.head + this.len, src, n);
      let nxt = rcvNxt + n;
      // Pull in every out-of-order range the new data reaches (they are sorted).
      let k = 0;
      while (k < this.nRanges && seqLe(this.rStart[k], nxt)) {
        nxt = seqMax(nxt, this.rEnd[k]);
        k++;
      }
      if (k > 0) this.removeRanges(0, k);
      const adv = nxt - rcvNxt;
      this.len += adv;
      return <i32>adv;
    }
    // Out of order: merge [seq, seq+n) with every range it overlaps or touches.
    let s = seq, e = seq + n;
    let first = 0;
    while (first < this.nRanges && seqLt(this.rEnd[first], s)) first++;
    let last = first;
    while (last < this.nRanges && seqLe(this.rStart[last], e)) {
      s = seqMin(s, this.rStart[last]);
      e = seqMax(e, this.rEnd[last]);
      last++;
    }
    const merged = last - first;
    if (merged == 0 && this.nRanges == MAX_OOO_RANGES) return -1;
    if (this.rStart.length == 0) {
      this.rStart = new StaticArray<u32>(MAX_OOO_RANGES);
      this.rEnd = new StaticArray<u32>(MAX_OOO_RANGES);
    }
    ringWrite(this.buf, this.mask, this.head + this.len + off, src, n);
    this.oooBytes += n;
    if (merged == 0) {
      // Open a slot at `first`.
      for (let i = this.nRanges; i > first; i--) {
        this.rStart[i] = this.rStart[i - 1];
        this.rEnd[i] = this.rEnd[i - 1];
      }
      this.nRanges++;
    } else if (merged > 1) {
      this.removeRanges(first + 1, merged - 1);
    }
    this.rStart[first] = s;
    this.rEnd[first] = e;
    this.recent = first;
    return 0;
  }

  private removeRanges(from: i32, count: i32): void {
    for (let i = from; i + count < this.nRanges; i++) {
      this.rStart[i] = this.rStart[i + count];
      this.rEnd[i] = this.rEnd[i + count];
    }
    this.nRanges -= count;
    if (this.recent >= from + count) this.recent -= count;
    else if (this.recent >= from) this.recent = -1;
  }

  /**
   * Fills `seg`'s SACK blocks (RFC 2018): the most recently changed range first, then the
   * others, at most `max` blocks.
   */
  fillSack(seg: TcpSegment, max: i32): void {
    let n = 0;
    const lim = min(max, MAX_SACK_BLOCKS);
    if (this.recent >= 0 && n < lim) {
      seg.sackLeft[n] = this.rStart[this.recent];
      seg.sackRight[n] = this.rEnd[this.recent];
      n++;
    }
    for (let i = this.nRanges - 1; i >= 0 && n < lim; i--) {
      if (i == this.recent) continue;
      seg.sackLeft[n] = this.rStart[i];
      seg.sackRight[n] = this.rEnd[i];
      n++;
    }
    seg.sackCount = n;
  }

  /** Copies up to `n` in-order bytes to `dst` and consumes them; returns the count. */
  read(dst: usize, n: u32): u32 {
    const m = min(n, this.len);
    if (m == 0) return 0;
    ringRead(this.buf, this.mask, this.head, dst, m);
    this.head += m;
    this.len -= m;
    return m;
  }

  /** Copies up to `n` in-order bytes starting `off` bytes in, without consuming them. */
  peek(dst: usize, off: u32, n: u32): u32 {
    if (off >= this.len) return 0;
    const m = min(n, this.len - off);
    ringRead(this.buf, this.mask, this.head + off, dst, m);
    return m;
  }

  /** Address of the first in-order byte (see contiguous()). */
  @inline peekPtr(): usize { return this.buf + (this.head & this.mask); }
  /** In-order bytes readable at peekPtr() without wrapping. */
  @inline contiguous(): u32 { return min(this.len, this.cap - (this.head & this.mask)); }
  /** Consumes `n` bytes (n <= len). */
  @inline consume(n: u32): void { this.head += n; this.len -= n; }
}

/**
 * Hands out power-of-two buffers under a byte budget and keeps released ones for reuse
 * (short connections then cost no allocator work). Pooled buffers count against the
 * budget; when a request does not fit, pooled buffers of other sizes are freed first.
 */
export class BufferPool {
  budget: u64;
  used: u64 = 0;
  sizes: Array<u32> = new Array<u32>();
  lists: Array<Array<usize>> = new Array<Array<usize>>();
  /** Requests refused because the budget was exhausted. */
  refused: u64 = 0;

  constructor(budget: u64) { this.budget = budget; }

  private listFor(size: u32): Array<usize> {
    for (let i = 0; i < this.sizes.length; i++) if (this.sizes[i] == size) return this.lists[i];
    const l = new Array<usize>();
    this.sizes.push(size);
    this.lists.push(l);
    return l;
  }

  /** A buffer of `size` bytes, or 0 when the budget does not allow one. */
  take(size: u32): usize {
    const list = this.listFor(size);
    if (list.length > 0) return list.pop();
    if (this.used + size > this.budget) {
      // Give pooled buffers of other sizes back to the allocator.
      for (let i = 0; i < this.lists.length && this.used + size > this.budget; i++) {
        const l = this.lists[i];
        while (l.length > 0 && this.used + size > this.budget) {
          heap.free(l.pop());
          this.used -= this.sizes[i];
        }
      }
      if (this.used + size > this.budget) { this.refused++; return 0; }
    }
    this.used += size;
    return heap.alloc(size);
  }

  /** Returns a buffer obtained from take(size). */
  give(buf: usize, size: u32): void {
    if (buf == 0) return;
    this.listFor(size).push(buf);
  }
}
