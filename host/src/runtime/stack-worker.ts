// One stack, in its own worker thread: instantiate the component, init, then the data
// loop. JavaScript here works per batch only: a native call moves a batch of frames into
// the guest's RX ring, one guest call handles them, a native call validates and sends the
// batch on the TX ring.

import { parentPort, workerData } from 'node:worker_threads';
import { randomBytes } from 'node:crypto';
import { V8Engine } from '../engine/v8.js';
import { GuestTrap, HostFunctions, StackInstance } from '../engine/engine.js';
import { loadNative } from '../native.js';
import { CTRL_CALL_START, CTRL_STATE, CTRL_STOP, WorkerInit, WorkerToMain } from './protocol.js';
import { NeighbourCache } from './neighbours.js';

const init = workerData as WorkerInit;
const native = loadNative();
const ctrl = new Int32Array(init.control, 0, 4);
const callStart = new BigInt64Array(init.control, 16, 1);
const post = (m: WorkerToMain) => parentPort!.postMessage(m);
const MAX_WAIT_MS = 50;

let logBudget = { windowStart: 0, count: 0, dropped: 0 };
const neighbours = new NeighbourCache(init.link.name, init.staticNextHop);

const host: HostFunctions = {
  link: () => init.link,
  tuples: () => init.tuples,
  now: () => process.hrtime.bigint(),
  randomBytes: (n) => randomBytes(n),
  log: (level, message) => {
    // At most 100 lines per second per stack (wit/ABI.md); the rest are counted.
    const t = Date.now();
    if (t - logBudget.windowStart >= 1000) {
      if (logBudget.dropped) post({ type: 'log', level: 'warn', message: `${logBudget.dropped} log lines dropped (over 100/s)` });
      logBudget = { windowStart: t, count: 0, dropped: 0 };
    }
    if (++logBudget.count > 100 && level !== 'error') { logBudget.dropped++; return; }
    post({ type: 'log', level, message });
  },
  nextHopMac: (addr) => neighbours.lookup(addr),
};

function timed<T>(fn: () => T): T {
  callStart[0] = process.hrtime.bigint();
  try {
    return fn();
  } finally {
    callStart[0] = 0n;
  }
}

function fail(reason: string, guestMessage?: string): never {
  post({ type: 'failed', reason, guestMessage });
  Atomics.store(ctrl, CTRL_STATE, 3);
  process.exit(0);
}

function main(): void {
  let stack: StackInstance;
  try {
    stack = new V8Engine().instantiate(init.compiled, host);
  } catch (e) {
    fail((e as Error).message, e instanceof GuestTrap ? e.guestMessage : undefined);
  }
  let layout;
  try {
    const r = timed(() => stack.init(init.config));
    if ('err' in r) fail(`init refused: ${r.err}`);
    layout = r.ok;
  } catch (e) {
    fail((e as Error).message, e instanceof GuestTrap ? e.guestMessage : undefined);
  }
  // Validates both ring headers now, so a bad layout fails the start, not the first frame.
  if (native.checkRing(stack.memory.buffer, layout.rxRing) < 0) fail(`init returned a bad RX ring: ${native.lastError()}`);
  if (native.checkRing(stack.memory.buffer, layout.txRing) < 0) fail(`init returned a bad TX ring: ${native.lastError()}`);
  Atomics.store(ctrl, CTRL_STATE, 1);
  post({ type: 'ready', rxRing: layout.rxRing, txRing: layout.txRing });

  const { linkId, portId, batch, txRate } = init;
  // The port's token bucket lives in the native data path; starting it here (the port's
  // own thread) gives every instance, also after a restart, a fresh full bucket.
  native.setTxRate(linkId, portId, txRate);
  let deadline = 0n;
  // With --tx-rate, frames over the rate stay on the guest's TX ring (back-pressure,
  // wit/ABI.md "Limits"). While some are held, the loop takes more of them as tokens
  // come (txRetryAt) and defers the stack's timer polls: a stack that asks to be polled
  // at once to refill its ring is polled again only once the ring has drained, so a TX
  // flooder sleeps instead of spinning. Frames for the stack still wake it at once.
  let txHeld = 0;
  let txRetryAt = 0n;
  const flushTx = (now: bigint) => {
    const mem = stack.memory.buffer;
    const sent = native.txFromGuest(linkId, portId, mem, layout.txRing);
    if (sent < 0) fail(native.lastError());
    if (txRate === 0) return;
    // Header validated by txFromGuest just now: head and tail are inside memory.
    const hdr = new Uint32Array(mem, layout.txRing, 2);
    txHeld = (hdr[1] - hdr[0]) >>> 0;
    if (txHeld) {
      // Time for min(held, 32) tokens, within [1 ms, MAX_WAIT_MS].
      const ns = (Math.min(txHeld, 32) * 1e9) / txRate;
      txRetryAt = now + BigInt(Math.round(Math.min(MAX_WAIT_MS * 1e6, Math.max(1e6, ns))));
    }
  };
  try {
    while (Atomics.load(ctrl, CTRL_STOP) === 0) {
      const n = native.rxToGuest(linkId, portId, stack.memory.buffer, layout.rxRing, batch);
      if (n < 0) fail(native.lastError());
      const now = process.hrtime.bigint();
      if (txHeld && now >= txRetryAt) flushTx(now);
      if (n > 0 || (!txHeld && deadline !== 0n && now >= deadline)) {
        deadline = timed(() => stack.poll(now, n));
        flushTx(now);
        continue;
      }
      const until = txHeld ? txRetryAt : deadline;
      const waitMs = until === 0n ? MAX_WAIT_MS : Math.min(MAX_WAIT_MS, Math.max(0, Math.ceil(Number(until - now) / 1e6)));
      native.wait(linkId, portId, waitMs);
    }
    if (Atomics.load(ctrl, CTRL_STOP) === 1) {
      timed(() => stack.shutdown());
      // What shutdown() sent goes out, at the rate limit, for at most a second.
      const until = process.hrtime.bigint() + 1_000_000_000n;
      for (let now = process.hrtime.bigint(); ; now = process.hrtime.bigint()) {
        flushTx(now);
        if (!txHeld || now >= until) break;
        native.wait(linkId, portId, Math.max(1, Math.ceil(Number(txRetryAt - now) / 1e6)));
      }
    }
  } catch (e) {
    fail((e as Error).message, e instanceof GuestTrap ? e.guestMessage : undefined);
  }
  Atomics.store(ctrl, CTRL_STATE, 2);
  post({ type: 'stopped' });
}

main();
