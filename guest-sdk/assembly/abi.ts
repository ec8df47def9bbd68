// Raw imports of `multistack:stack/host@0.1.0` at the canonical-ABI level, and the
// exports the canonical ABI requires of every guest (`cabi_realloc`). Stacks use the
// safe wrappers in host.ts; this file is the only place that knows the flat signatures.
// Contract: wit/ABI.md.

// @ts-ignore: decorator
@external("multistack:stack/host@0.1.0", "link")
export declare function raw_link(retptr: usize): void;
// @ts-ignore: decorator
@external("multistack:stack/host@0.1.0", "tuples")
export declare function raw_tuples(retptr: usize): void;
// @ts-ignore: decorator
@external("multistack:stack/host@0.1.0", "now")
export declare function raw_now(): u64;
// @ts-ignore: decorator
@external("multistack:stack/host@0.1.0", "random-bytes")
export declare function raw_random_bytes(len: u32, retptr: usize): void;
// @ts-ignore: decorator
@external("multistack:stack/host@0.1.0", "log")
export declare function raw_log(level: u32, ptr: usize, len: usize): void;
// @ts-ignore: decorator
@external("multistack:stack/host@0.1.0", "next-hop-mac")
export declare function raw_next_hop_mac(ptr: usize, len: usize, retptr: usize): void;

/** The canonical ABI's allocator: the host calls it to place lists and strings it returns. */
export function cabi_realloc(oldPtr: usize, oldSize: usize, align: usize, newSize: usize): usize {
  // heap.alloc is 16-byte aligned, which covers every alignment the canonical ABI asks for.
  if (oldPtr == 0) return heap.alloc(newSize);
  return heap.realloc(oldPtr, newSize);
}

/** Frees a list or string the host placed with cabi_realloc (empty ones have no block). */
export function freeLowered(ptr: usize, len: usize): void {
  if (len != 0 && ptr > 1) heap.free(ptr);
}

/** Scratch area for import results (the largest result, link-info, is 36 bytes). */
export const RET_AREA: usize = memory.data(64, 8);

/**
 * AssemblyScript's abort, redirected (asc --use abort=...): the message reaches the host's
 * log at error level, then the stack traps, so the operator sees why.
 */
export function mshAbort(message: string | null, fileName: string | null, line: u32, column: u32): void {
  let text = "abort: " + (message !== null ? message : "(no message)");
  if (fileName !== null) text += " at " + fileName + ":" + line.toString() + ":" + column.toString();
  const utf8 = String.UTF8.encode(text);
  raw_log(4, changetype<usize>(utf8), <usize>utf8.byteLength);
  unreachable();
}

/** Seed for Math.random (asc --use seed=...), from the host's CSPRNG. */
export function mshSeed(): f64 {
  raw_random_bytes(8, RET_AREA);
  const ptr = load<u32>(RET_AREA);
  const v = load<u64>(ptr);
  freeLowered(ptr, 8);
  return <f64>(v >> 11);
}
