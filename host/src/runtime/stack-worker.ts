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

  const { linkId, portId, batch } = init;
  let deadline = 0n;
  const flushTx = () => {
    const sent = native.txFromGuest(linkId, portId, stack.memory.buffer, layout.txRing);
    if (sent < 0) fail(native.lastError());
  };
  try {
    while (Atomics.load(ctrl, CTRL_STOP) === 0) {
      const n = native.rxToGuest(linkId, portId, stack.memory.buffer, layout.rxRing, batch);
      if (n < 0) fail(native.lastError());
      const now = process.hrtime.bigint();
      if (n > 0 || (deadline !== 0n && now >= deadline)) {
        deadline = timed(() => stack.poll(now, n));
        flushTx();
        continue;
      }
      const waitMs = deadline === 0n ? MAX_WAIT_MS : Math.min(MAX_WAIT_MS, Math.max(0, Number((deadline - now) / 1_000_000n)));
      native.wait(linkId, portId, waitMs);
    }
    if (Atomics.load(ctrl, CTRL_STOP) === 1) {
      timed(() => stack.shutdown());
      flushTx();
    }
  } catch (e) {
    fail((e as Error).message, e instanceof GuestTrap ? e.guestMessage : undefined);
  }
  Atomics.store(ctrl, CTRL_STATE, 2);
  post({ type: 'stopped' });
}

main();
