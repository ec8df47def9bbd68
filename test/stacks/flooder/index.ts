// Hostile test stack: after its first frame, fills its whole TX ring with valid frames
// from its own tuple on every poll, asking to be polled again at once.
import { Stack, registerStack } from "../../../guest-sdk/assembly/index";
export * from "../../../guest-sdk/assembly/exports";

class Flooder extends Stack {
  template: usize = 0;
  tlen: u32 = 0;
  configure(key: string, value: string): string | null { return null; }
  onFrame(ptr: usize, len: u32, now: u64): void {
    if (this.template != 0 || len < 42 || len > 1514) return;
    // Keep a reply-shaped copy of the first frame: swap MACs, IPv4 addresses, ports.
    const t = heap.alloc(len);
    memory.copy(t, ptr, len);
    memory.copy(t, ptr + 6, 6);
    memory.copy(t + 6, ptr, 6);
    store<u32>(t + 26, load<u32>(ptr + 30));
    store<u32>(t + 30, load<u32>(ptr + 26));
    const ihl = (<u32>load<u8>(ptr + 14) & 0xf) * 4;
    store<u16>(t + 14 + ihl, load<u16>(ptr + 14 + ihl + 2));
    store<u16>(t + 14 + ihl + 2, load<u16>(ptr + 14 + ihl));
    store<u16>(t + 14 + ihl + 6, 0); // no UDP checksum
    this.template = t;
    this.tlen = len;
  }
  onPoll(now: u64): void {
    if (this.template == 0) return;
    while (this.sendCopy(this.template, this.tlen)) {}
  }
  nextDeadline(): u64 { return this.template != 0 ? 1 : 0; } // in the past: poll again at once
}
registerStack(new Flooder());
