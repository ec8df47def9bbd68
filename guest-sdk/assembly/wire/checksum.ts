// Internet checksum (RFC 1071) with incremental updates (RFC 1624).
//
// Accumulator contract: an accumulator is a u64 holding a ones'-complement sum of 16-bit
// words *as they load from memory on a little-endian machine* ("memory order"). The
// ones'-complement sum is byte-order independent (RFC 1071 section 2(B)), so summing in
// memory order and byte-swapping the folded result once gives the same checksum as
// summing big-endian words, without a bswap per word.
// - Start from 0 (or a pseudo-header sum), add byte ranges with `checksumAdd`, add
//   host-order 16/32-bit values with `checksumAddU16`/`checksumAddU32`.
// - Every range except the last one must have an even length (an odd range shifts the
//   byte lanes of everything after it).
// - An accumulator cannot overflow before 2^31 bytes have been added.
// - `checksumFold` gives the folded sum, `checksumFinish` the value to store in a header
//   (its complement). Both are host-order u16 values (0x1234 is stored as bytes 12 34).
// Nothing here allocates.

/** Adds `len` bytes at `ptr` to `acc`. Only the last range summed may have an odd length. */
export function checksumAdd(acc: u64, ptr: usize, len: u32): u64 {
  return checksumAddInline(acc, ptr, len);
}

/**
 * `checksumAdd`, inlined into the caller: for per-packet paths where the call and its
 * loop set-up are a visible part of the cost (udpEchoInPlace on 64-byte frames).
 */
// @ts-ignore: decorator
@inline export function checksumAddInline(acc: u64, ptr: usize, len: u32): u64 {
  let s = acc;
  let p = ptr;
  let n = len;
  // 32 bytes per round; each u64 is split into two u32 halves so no carry is ever lost.
  while (n >= 32) {
    const a = load<u64>(p);
    const b = load<u64>(p, 8);
    const c = load<u64>(p, 16);
    const d = load<u64>(p, 24);
    s += (a & 0xffffffff) + (a >>> 32) + (b & 0xffffffff) + (b >>> 32);
    s += (c & 0xffffffff) + (c >>> 32) + (d & 0xffffffff) + (d >>> 32);
    p += 32;
    n -= 32;
  }
  if (n >= 16) {
    const a = load<u64>(p);
    const b = load<u64>(p, 8);
    s += (a & 0xffffffff) + (a >>> 32) + (b & 0xffffffff) + (b >>> 32);
    p += 16;
    n -= 16;
  }
  if (n >= 8) {
    const a = load<u64>(p);
    s += (a & 0xffffffff) + (a >>> 32);
    p += 8;
    n -= 8;
  }
  if (n >= 4) {
    s += <u64>load<u32>(p);
    p += 4;
    n -= 4;
  }
  if (n >= 2) {
    s += <u64>load<u16>(p);
    p += 2;
    n -= 2;
  }
  // A trailing odd byte is the high byte of a big-endian word padded with zero, that is
  // the low byte of a memory-order word.
  if (n != 0) s += <u64>load<u8>(p);
  return s;
}

/** Adds a 16-bit value given in host order (as a header field getter returns it). */
// @ts-ignore: decorator
@inline export function checksumAddU16(acc: u64, v: u16): u64 {
  return acc + <u64>bswap<u16>(v);
}

/** Adds a 32-bit value given in host order (e.g. an IPv4 address as u32). */
// @ts-ignore: decorator
@inline export function checksumAddU32(acc: u64, v: u32): u64 {
  return acc + <u64>bswap<u32>(v);
}

/** Folds an accumulator to the 16-bit ones'-complement sum, host order, not complemented. */
// @ts-ignore: decorator
@inline export function checksumFold(acc: u64): u16 {
  let s = (acc & 0xffffffff) + (acc >>> 32); // < 2^33
  s = (s & 0xffff) + (s >>> 16); // < 2^18
  s = (s & 0xffff) + (s >>> 16); // <= 0x10003
  s = (s & 0xffff) + (s >>> 16); // <= 0xffff
  return bswap<u16>(<u16>s);
}

/** The checksum to store: complement of the folded sum, host order. */
// @ts-ignore: decorator
@inline export function checksumFinish(acc: u64): u16 {
  return ~checksumFold(acc);
}

/** Internet checksum of one byte range (the value to store, host order). */
export function checksum(ptr: usize, len: u32): u16 {
  return checksumFinish(checksumAdd(0, ptr, len));
}

/**
 * IPv4 header checksum of the `headerLen`-byte header at `ptr`, computed as if its
 * checksum field (bytes 10..11) were zero. `headerLen` must be >= 20 and even.
 */
export function ipv4HeaderChecksum(ptr: usize, headerLen: u32): u16 {
  let s: u64 = <u64>load<u32>(ptr) + <u64>load<u32>(ptr, 4) + <u64>load<u16>(ptr, 8);
  s = checksumAdd(s, ptr + 12, headerLen - 12);
  return checksumFinish(s);
}

/** Pseudo-header sum for TCP/UDP over IPv4 (RFC 793/768). Addresses are host-order u32. */
// @ts-ignore: decorator
@inline export function pseudoHeaderV4(src: u32, dst: u32, protocol: u8, length: u32): u64 {
  return <u64>bswap<u32>(src) + <u64>bswap<u32>(dst) +
    <u64>bswap<u16>(<u16>protocol) + <u64>bswap<u16>(<u16>length);
}

/**
 * Pseudo-header sum for upper layers over IPv6 (RFC 8200 section 8.1). `srcPtr`/`dstPtr`
 * point at 16-byte addresses in network order; `length` is the upper-layer length.
 */
export function pseudoHeaderV6(srcPtr: usize, dstPtr: usize, nextHeader: u8, length: u32): u64 {
  const a = load<u64>(srcPtr);
  const b = load<u64>(srcPtr, 8);
  const c = load<u64>(dstPtr);
  const d = load<u64>(dstPtr, 8);
  let s: u64 = (a & 0xffffffff) + (a >>> 32) + (b & 0xffffffff) + (b >>> 32);
  s += (c & 0xffffffff) + (c >>> 32) + (d & 0xffffffff) + (d >>> 32);
  return s + <u64>bswap<u32>(length) + <u64>bswap<u16>(<u16>nextHeader);
}

/**
 * RFC 1624 eqn. 3: the new checksum after one 16-bit word covered by `check` changed from
 * `oldWord` to `newWord` (all host order). HC' = ~(~HC + ~m + m').
 */
export function checksumUpdate16(check: u16, oldWord: u16, newWord: u16): u16 {
  let s: u32 = <u32>(~check & 0xffff) + <u32>(~oldWord & 0xffff) + <u32>newWord;
  s = (s & 0xffff) + (s >>> 16);
  s = (s & 0xffff) + (s >>> 16);
  return ~<u16>s;
}

/** RFC 1624 for a 32-bit field (e.g. an IPv4 address), as two 16-bit words. */
export function checksumUpdate32(check: u16, oldValue: u32, newValue: u32): u16 {
  let s: u32 = <u32>(~check & 0xffff);
  s += (~oldValue >>> 16) + (~oldValue & 0xffff);
  s += (newValue >>> 16) + (newValue & 0xffff);
  s = (s & 0xffff) + (s >>> 16);
  s = (s & 0xffff) + (s >>> 16);
  return ~<u16>s;
}
