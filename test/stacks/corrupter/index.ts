// Hostile test stack: corrupts its rings on the first frame. mode=index (TX tail far
// beyond head), mode=offset (a TX slot's buffer outside memory), mode=len (TX length over
// slot size), mode=rx (RX head ahead of tail).
import { Stack, registerStack } from "../../../guest-sdk/assembly/index";
export * from "../../../guest-sdk/assembly/exports";

let mode = "index";
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
    } else if (mode == "rx") {
      this.rx.head = this.rx.tail + 5000;
    }
  }
}
registerStack(new Corrupter());
