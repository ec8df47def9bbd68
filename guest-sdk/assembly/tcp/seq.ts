// Sequence-number arithmetic (RFC 9293 section 3.4): 32-bit values compared modulo 2^32.
// Valid while the two values are less than 2^31 apart, which TCP's windows guarantee.

/** a < b in sequence space. */
// @ts-ignore: decorator
@inline export function seqLt(a: u32, b: u32): bool { return <i32>(a - b) < 0; }
/** a <= b in sequence space. */
// @ts-ignore: decorator
@inline export function seqLe(a: u32, b: u32): bool { return <i32>(a - b) <= 0; }
/** a > b in sequence space. */
// @ts-ignore: decorator
@inline export function seqGt(a: u32, b: u32): bool { return <i32>(a - b) > 0; }
/** a >= b in sequence space. */
// @ts-ignore: decorator
@inline export function seqGe(a: u32, b: u32): bool { return <i32>(a - b) >= 0; }
/** The later of a and b. */
// @ts-ignore: decorator
@inline export function seqMax(a: u32, b: u32): u32 { return seqGt(a, b) ? a : b; }
/** The earlier of a and b. */
// @ts-ignore: decorator
@inline export function seqMin(a: u32, b: u32): u32 { return seqLt(a, b) ? a : b; }
