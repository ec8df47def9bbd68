// The exports of `multistack:stack/guest@0.1.0` at the canonical-ABI level. A stack's
// entry file must `export * from` this module; msh build renames these core exports to
// their component names (msh_init -> "multistack:stack/guest@0.1.0#init", ...).

import { currentStack, startStack } from "./stack";
import { freeLowered } from "./abi";
export { cabi_realloc } from "./abi";

// result<ring-layout, string>: discriminant at 0, payload at 4 (u32 rx, u32 tx | ptr, len).
const INIT_RESULT: usize = memory.data(16, 8);
let initError: ArrayBuffer | null = null; // keeps the error text alive for the host to read

export function msh_init(configPtr: usize, configLen: u32): usize {
  const pairs = new Array<string>();
  for (let i: u32 = 0; i < configLen; i++) {
    const e = configPtr + <usize>i * 16;
    const kp = load<u32>(e), kl = load<u32>(e, 4), vp = load<u32>(e, 8), vl = load<u32>(e, 12);
    pairs.push(String.UTF8.decodeUnsafe(kp, kl));
    pairs.push(String.UTF8.decodeUnsafe(vp, vl));
    freeLowered(kp, kl);
    freeLowered(vp, vl);
  }
  freeLowered(configPtr, configLen);
  const err = startStack(pairs);
  if (err !== null) {
    initError = String.UTF8.encode(err);
    store<u8>(INIT_RESULT, 1);
    store<u32>(INIT_RESULT, <u32>changetype<usize>(initError), 4);
    store<u32>(INIT_RESULT, <u32>initError!.byteLength, 8);
  } else {
    const s = currentStack();
    store<u8>(INIT_RESULT, 0);
    store<u32>(INIT_RESULT, <u32>s.rx.base, 4);
    store<u32>(INIT_RESULT, <u32>s.tx.base, 8);
  }
  return INIT_RESULT;
}

export function msh_poll(now: u64, rxCount: u32): u64 {
  const s = currentStack();
  s.drainRx(now);
  s.onPoll(now);
  return s.nextDeadline();
}

export function msh_shutdown(): void {
  currentStack().onShutdown();
}
