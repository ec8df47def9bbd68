// Shared contract of every view in this folder.
//
// A view is a reusable cursor over bytes in linear memory: `wrap(ptr, len)` re-targets the
// same instance (no allocation) after checking that the bytes are long enough and
// self-consistent; `wrapRaw(ptr, len)` only checks that the fixed header fits and is used
// to emit into a fresh buffer. Getters and setters handle network byte order.
//
// Memory safety: once a wrap has succeeded, every getter reads inside [ptr, ptr + len),
// whatever the bytes say; variable-length parts (options, payload) are clamped to `len`.
// When a wrap fails the view is detached: it points at DETACHED_BUF (64 zero bytes
// reserved for this purpose, larger than any fixed header here) with len 0, so a caller
// that ignores the `false` reads harmless zeros instead of memory past a short buffer.

/** Scratch block a failed wrap points views at (see above). */
export const DETACHED_BUF: usize = memory.data(64, 16);

/** True when [ptr, ptr + len) does not wrap around the 32-bit address space. */
// @ts-ignore: decorator
@inline export function rangeOk(ptr: usize, len: u32): bool {
  return ptr + <usize>len >= ptr;
}
