// Hostile test stack: grows its memory without bound on every frame; reports when
// memory.grow is refused, then traps.
import { Stack, registerStack, logError } from "../../../guest-sdk/assembly/index";
export * from "../../../guest-sdk/assembly/exports";

class MemBomb extends Stack {
  onFrame(ptr: usize, len: u32, now: u64): void {
    for (let i = 0; i < 100000; i++) {
      if (memory.grow(256) < 0) { // 16 MiB at a time
        logError("memory.grow refused at " + (memory.size() >> 4).toString() + " MiB");
        unreachable();
      }
    }
  }
}
registerStack(new MemBomb());
