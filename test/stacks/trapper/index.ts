// Hostile test stack: traps on every frame, with an abort message (mode=abort, default)
// or a bare unreachable (mode=unreachable).
import { Stack, registerStack } from "../../../guest-sdk/assembly/index";
export * from "../../../guest-sdk/assembly/exports";

let bare = false;
class Trapper extends Stack {
  configure(key: string, value: string): string | null {
    if (key == "mode") { bare = value == "unreachable"; return null; }
    return "unknown key";
  }
  onFrame(ptr: usize, len: u32, now: u64): void {
    if (bare) unreachable();
    throw new Error("trapper gives up on frame of " + len.toString() + " bytes");
  }
}
registerStack(new Trapper());
