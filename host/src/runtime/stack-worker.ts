// One stack, in its own worker thread: instantiate the component, init, then the data
// loop. JavaScript here works per batch only: a native call moves a batch of frames into
// the guest's RX ring, one guest call handles them, a native call validates and sends the
// batch on the TX ring.

import { parentPort, workerData } from 'node:worker_threads';
import { randomBytes } from 'node:crypto';
import { readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';
import { V8Engine } from '../engine/v8.js';
import { GuestTrap, HostFunctions, StackInstance } from '../engine/engine.js';
import { loadNative } from '../native.js';
import { CTRL_BASE_NICE, CTRL_CALL_START, CTRL_STATE, CTRL_STOP, WorkerInit, WorkerToMain } from './protocol.js';
import { NeighbourCache } from './neighbours.js';

const init = workerData as WorkerInit;
const native = loadNative();
const ctrl = new Int32Array(init.control, 0, 4);
const callStart = new BigInt64Array(init.control, 16, 1);
const post = (m: WorkerToMain) => parentPort!.postMessage(m);
const MAX_WAIT_MS = 50;
// Receive coalescing (the worker's counterpart of a NIC's rx-usecs). Every loop turn
// pays a fixed cost: two native calls, a guest call and a transmit syscall. Under
// sustained load a worker that takes frames the moment they arrive turns over in small
// batches (one or two requests' frames each), and on a small machine that fixed cost is
// CPU the peers and the kernel's packet processing could have had. So, when a turn
// found at least 2 but fewer than COALESCE_BELOW frames and the turn before it had found
// frames too, the worker pauses rxCoalesceUs (plus the kernel's timer slack) before the
// next turn: the frames that come meanwhile make one larger batch. A pause must pay: if
// the turn after one finds fewer than COALESCE_GAIN frames, the next pause waits for a
// new run of busy turns. So a lone exchange, or a peer that waits for each answer
// before it sends again (one frame per turn), is never held up; a stop request ends a
// pause at once. Measured in BENCHMARKS.md (http, 1 KiB).
const COALESCE_BELOW = 16;
const COALESCE_GAIN = 4;

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

// Busy polling: a stack that keeps asking to be polled at once (e.g. a TX flooder)
// competes for the CPU with the frame-driven work of every other stack (and, on a small
// machine, with the kernel's own packet processing). After BUSY_POLLS such polls in a row
// its thread runs at background priority (nice 19), and at most half of the time (see the
// loop), until it stops asking: it cannot crowd out its neighbours. Raising the nice value needs no privilege; lowering it again may fail
// without CAP_SYS_NICE, and then the thread simply stays in the background.
const BUSY_POLLS = 64;
const BACKGROUND_NICE = 19;
let threadId = 0;
try { threadId = Number(readlinkSync('/proc/thread-self').split('/').pop()); } catch { /* not Linux */ }
let background = false;
let stuckInBackground = false;
/** A new instance starts at the thread's usual priority. */
function busyReset(): void {
  if (background) setBackground(false);
}
let announced = false;
function setBackground(on: boolean): void {
  if (!threadId || background === on || (!on && stuckInBackground)) return;
  try {
    setPriority(threadId, on ? BACKGROUND_NICE : 0);
    background = on;
    Atomics.store(ctrl, CTRL_BASE_NICE, on ? BACKGROUND_NICE : 0);
  } catch {
    if (!on) stuckInBackground = true; // no permission to lower the nice value again
    return;
  }
  if (on && !announced) {
    announced = true;
    post({ type: 'log', level: 'info', message: `keeps asking to be polled at once: while it does, its thread runs at background CPU priority (nice ${BACKGROUND_NICE}) and at most half of the time` });
  }
}

function timed<T>(fn: () => T): T {
  callStart[0] = process.hrtime.bigint();
  try {
    return fn();
  } finally {
    callStart[0] = 0n;
  }
}

/** Unwinds main() after a failure was reported (see run()). */
class Failed extends Error {}

function fail(reason: string, guestMessage?: string): never {
  post({ type: 'failed', reason, guestMessage });
  Atomics.store(ctrl, CTRL_STATE, 3);
  throw new Failed(reason);
}

/** A fault in the guest (or the host's checks of it) becomes fail(); Failed passes through. */
function failWith(e: unknown): never {
  if (e instanceof Failed) throw e;
  fail((e as Error).message, e instanceof GuestTrap ? e.guestMessage : undefined);
}

function main(): void {
  let stack: StackInstance;
  try {
    stack = new V8Engine().instantiate(init.compiled, host);
  } catch (e) {
    failWith(e);
  }
  let layout;
  try {
    const r = timed(() => stack.init(init.config));
    if ('err' in r) fail(`init refused: ${r.err}`);
    layout = r.ok;
  } catch (e) {
    failWith(e);
  }
  // Validates both ring headers now, so a bad layout fails the start, not the first frame.
  if (native.checkRing(stack.memory.buffer, layout.rxRing) < 0) fail(`init returned a bad RX ring: ${native.lastError()}`);
  if (native.checkRing(stack.memory.buffer, layout.txRing) < 0) fail(`init returned a bad TX ring: ${native.lastError()}`);
  Atomics.store(ctrl, CTRL_STATE, 1);
  if (init.startsInBackground && threadId && !background) {
    try { setPriority(threadId, 0); } catch { /* stays in the background */ }
  }
  post({ type: 'ready', rxRing: layout.rxRing, txRing: layout.txRing, tid: threadId });

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
  let busyPolls = 0; // polls in a row that asked to be polled again at once (BUSY_POLLS)
  let owed = 0n; // busy polling: ns of waiting owed for the time the polls took
  const coalesceMs = init.rxCoalesceUs / 1000;
  let streak = false; // the last turn took frames (without sleeping for them)
  let paused = false; // the last turn ended with a coalescing pause
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
        // Busy polling: it asked to be polled again at once (frames or not).
        const after = process.hrtime.bigint();
        busyPolls = deadline !== 0n && deadline <= after ? busyPolls + 1 : 0;
        if (busyPolls === BUSY_POLLS) setBackground(true);
        if (busyPolls >= BUSY_POLLS) {
          // Busy polling runs at most half of the time: the worker sleeps as long as the
          // poll and its TX took (the kernel's work for that TX partly runs outside the
          // thread's priority, in softirqs). Frames for it wait on its RX ring meanwhile.
          owed += after - now;
          if (owed >= 1_000_000n) {
            const ms = Number(owed / 1_000_000n);
            Atomics.wait(ctrl, CTRL_STOP, 0, ms); // a stop request ends it within ms
            owed -= BigInt(ms) * 1_000_000n;
          }
        } else {
          owed = 0n;
          if (background) setBackground(false);
          const paid: boolean = !paused || n >= COALESCE_GAIN;
          paused = coalesceMs > 0 && streak && paid && n >= 2 && n < COALESCE_BELOW;
          if (paused) Atomics.wait(ctrl, CTRL_STOP, 0, coalesceMs);
          streak = n > 0 && paid;
        }
        continue;
      }
      busyPolls = 0;
      streak = false;
      paused = false;
      if (background) setBackground(false);
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
    failWith(e);
  }
  Atomics.store(ctrl, CTRL_STATE, 2);
  post({ type: 'stopped' });
}

/**
 * Runs the stack. After a failure the thread stays: if the supervisor restarts the stack
 * it sends 'restart' and a fresh instance starts here (a new Node worker costs ~100 ms of
 * CPU, which a stack failing over and over would take from its neighbours); otherwise the
 * supervisor ends the thread. A stack stuck in a call (CPU budget) gets a new thread.
 */
function run(): void {
  try {
    main();
  } catch (e) {
    if (!(e instanceof Failed)) throw e;
    busyReset();
    parentPort!.once('message', (m: { type?: string }) => {
      if (m?.type === 'restart') run();
    });
  }
}

run();
