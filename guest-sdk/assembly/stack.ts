// The Stack base class and the dispatcher behind the exports of the world
// `multistack:stack/guest@0.1.0` (init, poll, shutdown). A stack subclasses Stack,
// overrides the handlers it needs, and calls registerStack() at top level; its entry
// file re-exports `export * from "<sdk>/exports"`.

import { Ring } from "./ring";
import { LinkInfo, OwnedTuple, link, tuples, now } from "./host";

export abstract class Stack {
  readonly rx: Ring;
  readonly tx: Ring;
  linkInfo: LinkInfo = new LinkInfo();
  owned: Array<OwnedTuple> = [];
  /** RX index of the frame being handled by onFrame (valid only during the call). */
  private rxIndex: u32 = 0;
  private rxBuffer: usize = 0;

  constructor(rxSlots: u32 = 256, txSlots: u32 = 256, slotSize: u32 = 2048) {
    this.rx = new Ring(rxSlots, slotSize);
    this.tx = new Ring(txSlots, slotSize);
  }

  // ---- handlers (override what you need) ----

  /** One `--config key=value` pair, in command-line order. Return an error message to refuse. */
  configure(key: string, value: string): string | null {
    return "unknown config key '" + key + "'";
  }
  /** After configuration, link and tuples are known; return an error message to refuse to start. */
  start(now: u64): string | null { return null; }
  /** One received frame at `ptr` (`len` bytes), valid until the handler returns. */
  onFrame(ptr: usize, len: u32, now: u64): void {}
  /** Called on every poll after the frames were handled (timers, deferred output). */
  onPoll(now: u64): void {}
  /** Next deadline (absolute ns, the clock of `now`), or 0 for none. */
  nextDeadline(): u64 { return 0; }
  /** The host is stopping this stack; frames sent now are still flushed. */
  onShutdown(): void {}

  // ---- transmit helpers ----

  /**
   * Sends the frame being handled by onFrame, as modified in place, `len` bytes, without
   * copying (its buffer moves to the TX ring). Returns false if the TX ring is full.
   */
  reflect(len: u32): bool {
    const tx = this.tx;
    if (tx.space() == 0) return false;
    const t = tx.tail;
    Ring.swapBuffers(this.rx.slot(this.rxIndex), tx.slot(t));
    tx.setLen(t, len);
    tx.tail = t + 1;
    this.rxBuffer = this.rx.bufOf(this.rxIndex);
    return true;
  }

  /** A TX buffer to build a frame in (slotSize bytes), or 0 when the TX ring is full. Then send(). */
  txBuffer(): usize {
    const tx = this.tx;
    return tx.space() == 0 ? 0 : tx.bufOf(tx.tail);
  }
  /** Publishes the frame built in the buffer txBuffer() returned. */
  send(len: u32): void {
    const tx = this.tx;
    const t = tx.tail;
    tx.setLen(t, len);
    tx.tail = t + 1;
  }
  /** Copies `len` bytes at `ptr` into a new TX frame; false when the TX ring is full. */
  sendCopy(ptr: usize, len: u32): bool {
    const buf = this.txBuffer();
    if (buf == 0 || len > this.tx.slotSize) return false;
    memory.copy(buf, ptr, len);
    this.send(len);
    return true;
  }

  /** Runs onFrame for every frame on the RX ring, then releases the slots. */
  @inline drainRx(now: u64): void {
    const rx = this.rx;
    let h = rx.head;
    const t = rx.tail;
    while (h != t) {
      this.rxIndex = h;
      this.onFrame(rx.bufOf(h), rx.lenOf(h), now);
      h++;
    }
    rx.head = h;
  }
}

let current: Stack | null = null;

/** Makes `stack` the one the exports dispatch to. Call once, at top level. */
export function registerStack(stack: Stack): void {
  current = stack;
}

export function currentStack(): Stack {
  assert(current !== null, "no stack registered: call registerStack(new MyStack()) at top level");
  return current!;
}

/** Called by init (exports.ts). */
export function startStack(config: Array<string>): string | null {
  const s = currentStack();
  for (let i = 0; i + 1 < config.length; i += 2) {
    const err = s.configure(config[i], config[i + 1]);
    if (err !== null) return err;
  }
  s.linkInfo = link();
  s.owned = tuples();
  return s.start(now());
}
