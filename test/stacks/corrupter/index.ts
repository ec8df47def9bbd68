// Hostile test stack: corrupts its rings on the first frame. mode=index (TX tail far
// beyond head), mode=offset (a TX slot's buffer outside memory), mode=len (TX length over
// slot size), mode=rx (RX head ahead of tail), mode=rxbuf (the RX slot the host fills
// next gets a buffer that runs past the end of memory: the host must not write there).
import { Stack, registerStack } from "../../../guest-sdk/assembly/index";
export * from "../../../guest-sdk/assembly/exports";

let mode = "index";
let corruptRx = false;
class Corrupter extends Stack {
  configure(key: string, value: string): string | null {
    if (key == "mode") { mode = value; return null; }
    return "unknown key";
  }
  onFrame(ptr: usize, len: u32, now: u64): void {
    const tx = this.tx;
    if (mode == "index") {
      tx.tail = tx.head + 100000;
    } else if (mode == "offset") {
      store<u32>(tx.slot(tx.tail) + 8, 0xfffff000);
      tx.setLen(tx.tail, 60);
      tx.tail = tx.tail + 1;
    } else if (mode == "len") {
      tx.setLen(tx.tail, 70000);
      tx.tail = tx.tail + 1;
    } else if (mode == "rx" || mode == "rxbuf") {
      corruptRx = true; // in onPoll: the SDK stores the RX head after onFrame returns
    }
  }
  onPoll(now: u64): void {
    if (!corruptRx) return;
    if (mode == "rx") this.rx.head = this.rx.tail + 5000;
    else store<u32>(this.rx.slot(this.rx.tail) + 8, <u32>(memory.size() << 16) - 100);
  }
}
registerStack(new Corrupter());
