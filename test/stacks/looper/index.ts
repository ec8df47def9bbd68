// Hostile test stack: spins forever on the first frame (or at init with mode=init).
import { Stack, registerStack } from "../../../guest-sdk/assembly/index";
export * from "../../../guest-sdk/assembly/exports";

let spinAtInit = false;
let sink: u64 = 0;

function spin(): void {
  // Not optimisable away: the loop has a visible side effect on a global.
  while (true) { sink++; if (sink == 0xffffffffffffffff) break; }
}

class Looper extends Stack {
  configure(key: string, value: string): string | null {
    if (key == "mode") { spinAtInit = value == "init"; return null; }
    return "unknown key";
  }
  start(now: u64): string | null { if (spinAtInit) spin(); return null; }
  onFrame(ptr: usize, len: u32, now: u64): void { spin(); }
}
registerStack(new Looper());
