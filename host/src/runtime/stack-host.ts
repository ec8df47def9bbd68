// The supervisor: runs stacks on one link, each in its own worker thread; owns their
// tuples; enforces CPU budgets (watchdog), applies the restart policy, and reports state
// and counters. It never touches a packet.

import { EventEmitter } from 'node:events';
import { Worker } from 'node:worker_threads';
import path from 'node:path';
import { existsSync, readFileSync } from 'node:fs';
import { setPriority } from 'node:os';
import { CompiledStack, Engine, LinkInfo, LogLevel, OwnedTuple } from '../engine/engine.js';
import { V8Engine } from '../engine/v8.js';
import { loadNative } from '../native.js';
import { MshError } from '../errors.js';
import { CONTROL_BYTES, CTRL_BASE_NICE, CTRL_STOP, WorkerInit, WorkerToMain } from './protocol.js';
import { expandTuples, formatTuple, TupleSpec } from './tuple.js';
import { DIST_DIR } from '../paths.js';

export type RestartPolicy = 'no' | 'on-failure';
export type StackState = 'starting' | 'running' | 'restarting' | 'failed' | 'stopped';

export interface StackSpec {
  name: string;
  component: Uint8Array;
  tuples: TupleSpec[];
  config?: Array<[string, string]>;
  cpuBudgetMs?: number;
  memLimitBytes?: number;
  restart?: RestartPolicy;
  maxRestarts?: number;
  txRate?: number;
  /** Receive coalescing under sustained load, microseconds (0: off); see stack-worker.ts. */
  rxCoalesceUs?: number;
  pcap?: string;
}

export const DEFAULTS = {
  cpuBudgetMs: 100,
  memLimitBytes: 64 << 20,
  restart: 'no' as RestartPolicy,
  maxRestarts: 5,
  batch: 256,
  rxCoalesceUs: 30,
};

/** What the supervisor needs from the link a stack runs on. */
export interface LinkBinding {
  linkId: number;
  info: LinkInfo;
  backend: string;
  /** Fixed next-hop MAC (in-process switch); otherwise the kernel's neighbour table is used. */
  staticNextHop?: Uint8Array;
  /** Extra ownership work (kernel socket reservation, nft elements); undone by release. */
  reserve?(tuple: OwnedTuple, stack: string): void;
  unreserve?(tuple: OwnedTuple): void;
}

/** What the operator sees of one stack (`msh status`, the control socket's 'list'). */
export interface StackStatus {
  name: string;
  state: StackState;
  /** Why it failed (or last failed, while restarting); '' if it never did. */
  reason: string;
  /** The guest's own last error text (its abort message), when it trapped after one. */
  guestMessage?: string;
  restarts: number;
  tuples: string[];
  limits: { cpuBudgetMs: number; memLimitMiB: number; txRate: number; rxCoalesceUs: number; restart: RestartPolicy; maxRestarts: number };
  /** Since the stack was started (not restarted), ms. */
  uptimeMs: number;
  /** Native port counters (rx, tx, drops by reason) plus restarts, budget_overruns and spinning_calls. */
  counters: Record<string, number>;
}

export interface StackEvent {
  stack: string;
  kind: 'state' | 'log';
  state?: StackState;
  level?: LogLevel;
  message: string;
}

/**
 * --cpu-budget counts the CPU time of a call (its thread's, from a sample taken
 * SPIN_CALL_NS into the call; before that the call is taken to have had a CPU all along).
 * A call that ran past its budget but got less CPU than that (the machine is overloaded,
 * or it waits at background priority) is stopped only after this many budgets of time.
 */
const BUDGET_WALL_FACTOR = 10n;
/** A call running longer than this is checked for spinning (checkBudgets)... */
const SPIN_CALL_NS = 10_000_000n;
/** ...and spins if its thread then uses this much more CPU time before it returns. (A
 * poll handling a full batch of frames needs a fraction of a millisecond.) */
const SPIN_CPU_NS = 5_000_000;

let reniceOk: boolean | undefined;
/** Whether this thread may lower its nice value again (CAP_SYS_NICE), found out once. */
function canRenice(): boolean {
  if (reniceOk === undefined) {
    try {
      setPriority(0, 1);
      setPriority(0, 0);
      reniceOk = true;
    } catch {
      reniceOk = false;
      try { setPriority(0, 0); } catch { /* stays at 1: harmless */ }
    }
  }
  return reniceOk;
}

/** Nanoseconds a thread of this process has spent on a CPU (/proc schedstat), -1 if unknown. */
function threadCpuNs(tid: number): number {
  try {
    return Number(readFileSync(`/proc/self/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
  } catch {
    return -1;
  }
}

// Always the compiled worker, also when the supervisor itself runs from TypeScript (tests).
const WORKER_FILE = path.join(DIST_DIR, 'host', 'src', 'runtime', 'stack-worker.js');

export class StackHandle {
  state: StackState = 'starting';
  reason = '';
  guestMessage: string | undefined;
  restarts = 0;
  budgetOverruns = 0;
  /** Calls that spun on the CPU past SPIN_CALL_MS and were moved to background priority. */
  spinningCalls = 0;
  worker: Worker | null = null;
  /** Linux TID of the running instance's worker thread (0: unknown). */
  tid = 0;
  /** CPU time of the worker thread sampled (at `at`) during a long call (checkBudgets). */
  callProbe: { call: bigint; cpuNs: number; at: bigint } | null = null;
  /** The call (its start time) whose thread runs at background priority; 0n: none. */
  demotedCall = 0n;
  control = new SharedArrayBuffer(CONTROL_BYTES);
  startedAt = Date.now();
  /** Resolves once the stack is running or has failed for good. */
  settled!: Promise<void>;
  settle: (() => void) | null = null;
  /** The worker outlived its failed instance and waits for a restart in its thread. */
  workerIdle = false;
  /** Resolves once the port of a failed instance is parked (its worker gone). */
  parked: Promise<void> = Promise.resolve();

  constructor(
    readonly spec: StackSpec,
    readonly compiled: CompiledStack,
    readonly portId: number,
    readonly tuples: OwnedTuple[],
  ) {}

  get name(): string { return this.spec.name; }
}

export class StackHost extends EventEmitter {
  private stacks = new Map<string, StackHandle>();
  private watchdog: NodeJS.Timeout;
  private native = loadNative();

  constructor(readonly link: LinkBinding, private readonly engine: Engine = new V8Engine()) {
    super();
    this.watchdog = setInterval(() => this.checkBudgets(), 5);
    this.watchdog.unref();
  }

  list(): StackHandle[] { return [...this.stacks.values()]; }
  get(name: string): StackHandle | undefined { return this.stacks.get(name); }

  /**
   * Starts a stack: compile (memory capped), claim its tuples, start its worker.
   * Resolves when it runs; rejects with an MshError when it cannot start (nothing is left
   * claimed then). A stack that fails later reports through events and its handle.
   */
  async start(spec: StackSpec): Promise<StackHandle> {
    if (this.stacks.has(spec.name)) throw new MshError(`a stack named '${spec.name}' is already running on ${this.link.info.name}`, 'give it another name with --name');
    const compiled = this.engine.compile(spec.component, { memLimitBytes: spec.memLimitBytes ?? DEFAULTS.memLimitBytes });
    const tuples = expandTuples(spec.tuples, this.link.info);
    const portId = this.native.addPort(this.link.linkId);
    const claimed: OwnedTuple[] = [];
    try {
      for (const t of tuples) {
        try {
          this.native.claim(this.link.linkId, portId, t.protocol === 'tcp' ? 6 : 17, t.address, t.port);
        } catch (e) {
          const owner = this.ownerOfPort((e as any).ownerPort);
          throw new MshError(`cannot claim ${formatTuple(t)}: it is owned by ${owner ? `stack '${owner}'` : 'another stack'}`, 'pick another port or address, or stop that stack first');
        }
        claimed.push(t);
        this.link.reserve?.(t, spec.name);
      }
    } catch (e) {
      for (const t of claimed) this.link.unreserve?.(t);
      this.native.removePort(this.link.linkId, portId);
      throw e;
    }
    if (spec.pcap) this.native.setPcap(this.link.linkId, portId, spec.pcap);
    const handle = new StackHandle(spec, compiled, portId, tuples);
    this.stacks.set(spec.name, handle);
    await this.launch(handle);
    if (handle.state === 'failed') {
      const why = handle.reason;
      this.release(handle);
      throw new MshError(`stack '${spec.name}' failed to start: ${why}`);
    }
    return handle;
  }

  private launch(handle: StackHandle): Promise<void> {
    const init: WorkerInit = {
      compiled: handle.compiled,
      linkId: this.link.linkId,
      portId: handle.portId,
      stackName: handle.name,
      config: handle.spec.config ?? [],
      link: this.link.info,
      tuples: handle.tuples,
      control: handle.control,
      batch: DEFAULTS.batch,
      staticNextHop: this.link.staticNextHop,
      txRate: handle.spec.txRate ?? 0,
      rxCoalesceUs: handle.spec.rxCoalesceUs ?? DEFAULTS.rxCoalesceUs,
    };
    handle.tid = 0;
    handle.callProbe = null;
    handle.demotedCall = 0n;
    handle.state = 'starting';
    let settle!: () => void;
    const settled = new Promise<void>((r) => (settle = r));
    handle.settled = settled;
    handle.settle = settle;
    if (handle.worker && handle.workerIdle) {
      // Restart in the thread the failed instance ran in (stack-worker.ts, run()).
      handle.workerIdle = false;
      Atomics.store(new Int32Array(handle.control, 0, 4), CTRL_STOP, 0);
      handle.worker.postMessage({ type: 'restart' });
      return settled;
    }
    handle.workerIdle = false;
    handle.control = new SharedArrayBuffer(CONTROL_BYTES);
    init.control = handle.control;
    if (!existsSync(WORKER_FILE)) throw new MshError(`${WORKER_FILE} is missing`, 'run `npm run setup` to build msh');
    // A restart in a new thread (the old one was stuck in a call) boots at background
    // priority: Node's bootstrap of a worker costs ~100 ms of CPU, which a stack that keeps
    // failing should not take from its neighbours. The thread inherits the priority of the
    // thread that creates it; it goes back to normal once its stack runs.
    const background = handle.restarts > 0 && canRenice();
    init.startsInBackground = background;
    if (background) setPriority(0, 19);
    let worker: Worker;
    try {
      worker = new Worker(WORKER_FILE, { workerData: init, resourceLimits: { maxOldGenerationSizeMb: 256 } });
    } finally {
      if (background) setPriority(0, 0);
    }
    handle.worker = worker;
    // The instance of the moment settles (a restart in this thread brings a new one).
    const settleNow = () => handle.settle?.();
    worker.on('message', (m: WorkerToMain) => {
      switch (m.type) {
        case 'ready':
          handle.tid = m.tid;
          this.setState(handle, 'running', `running, tuples ${handle.tuples.map(formatTuple).join(' ')}`);
          settleNow();
          break;
        case 'log':
          this.emit('event', { stack: handle.name, kind: 'log', level: m.level, message: m.message } satisfies StackEvent);
          break;
        case 'failed':
          this.onFailure(handle, m.reason, m.guestMessage, handle.worker === worker);
          settleNow();
          break;
        case 'stopped':
          break;
      }
    });
    worker.on('error', (e) => { this.onFailure(handle, `worker error: ${e.message}`); settleNow(); });
    worker.on('exit', () => {
      if (handle.worker === worker) { handle.worker = null; handle.workerIdle = false; }
      if (handle.state === 'starting' || handle.state === 'running') {
        this.onFailure(handle, 'the stack\'s worker exited unexpectedly');
      }
      settleNow();
    });
    return settled;
  }

  private setState(h: StackHandle, state: StackState, message: string): void {
    h.state = state;
    this.emit('event', { stack: h.name, kind: 'state', state, message } satisfies StackEvent);
  }

  /** `reported`: the worker itself reported the failure (it is alive, and idle now). */
  private onFailure(h: StackHandle, reason: string, guestMessage?: string, reported = false): void {
    if (h.state === 'failed' || h.state === 'stopped' || h.state === 'restarting') return;
    const wasRunning = h.state === 'running';
    h.reason = reason;
    h.guestMessage = guestMessage;
    const policy = h.spec.restart ?? DEFAULTS.restart;
    const max = h.spec.maxRestarts ?? DEFAULTS.maxRestarts;
    const restart = policy === 'on-failure' && wasRunning && h.restarts < max;
    const w = h.worker;
    if (restart && reported && w) {
      h.workerIdle = true; // the restart reuses its thread
      h.parked = this.park(h, null);
    } else {
      h.worker = null;
      h.workerIdle = false;
      h.parked = this.park(h, w);
    }
    if (restart) {
      const delay = Math.min(5000, 100 * 2 ** h.restarts);
      h.restarts++;
      this.setState(h, 'restarting', `failed: ${reason}; restart ${h.restarts}/${max} in ${delay} ms`);
      setTimeout(() => {
        void h.parked.then(() => {
          if (h.state !== 'restarting' || this.stacks.get(h.name) !== h) return;
          try {
            this.native.parkPort(this.link.linkId, h.portId, false);
          } catch (e) {
            void h.worker?.terminate();
            h.worker = null;
            h.workerIdle = false;
            h.reason = `cannot restart: ${(e as Error).message}`;
            this.setState(h, 'failed', `failed: ${h.reason}`);
            return;
          }
          void this.launch(h);
        });
      }, delay).unref();
      return;
    }
    // The reason `msh status` shows says so too when the restart policy gave up.
    if (policy === 'on-failure' && h.restarts >= max) h.reason = `${reason} (gave up after ${h.restarts} restarts)`;
    this.setState(h, 'failed', `failed: ${h.reason}`);
    this.logCounters(h);
  }

  /**
   * Ends a failed instance's worker, then parks its port: frames for its tuples are
   * dropped (they stay owned, the kernel does not answer them) and what the backend held
   * for it (AF_XDP frames on its RX ring) goes back to the stacks that still run.
   */
  private async park(h: StackHandle, w: Worker | null): Promise<void> {
    await (w ? w.terminate().catch(() => undefined) : Promise.resolve()); // after onFailure set the state
    if (this.stacks.get(h.name) !== h || (h.state !== 'failed' && h.state !== 'restarting')) return;
    try {
      this.native.parkPort(this.link.linkId, h.portId, true);
    } catch { /* the port is gone already */ }
  }

  /** Logs a stack's counters (non-zero ones), e.g. when it fails or stops. */
  private logCounters(h: StackHandle): void {
    let c: Record<string, number>;
    try { c = this.counters(h.name); } catch { return; }
    this.emit('event', { stack: h.name, kind: 'log', level: 'info', message: `counters: ${formatCounters(c)}` } satisfies StackEvent);
  }

  /**
   * Stops calls that outlive the CPU budget: the worker is terminated, the stack fails.
   * Before that, a call that keeps a CPU busy (it ran past SPIN_CALL_NS and its thread used
   * SPIN_CPU_NS of CPU time since: it spins, it is not merely waiting for a CPU) runs at
   * background priority (nice 19) until it returns, so that until its budget ends it takes
   * only CPU time the other stacks do not want. Judged by the thread's own CPU time, a
   * stack that is slow only because the machine is busy is not pushed back further, and
   * is not stopped before BUDGET_WALL_FACTOR budgets of time have passed.
   */
  private checkBudgets(): void {
    const now = process.hrtime.bigint();
    for (const h of this.stacks.values()) {
      if (!h.worker || (h.state !== 'running' && h.state !== 'starting')) continue;
      const start = new BigInt64Array(h.control, 16, 1)[0];
      if (h.demotedCall !== 0n && start !== h.demotedCall) this.endSpin(h);
      if (start === 0n) continue;
      const wall = now - start;
      if (h.tid && wall > SPIN_CALL_NS) this.probeCall(h, start, now);
      const budgetMs = h.spec.cpuBudgetMs ?? DEFAULTS.cpuBudgetMs;
      const budgetNs = BigInt(Math.round(budgetMs * 1e6));
      if (wall <= budgetNs) continue;
      const cpu = this.callCpuNs(h, start);
      if (cpu >= 0 && cpu < Number(budgetNs) && wall <= budgetNs * BUDGET_WALL_FACTOR) continue;
      h.budgetOverruns++;
      this.onFailure(h, cpu >= 0 && cpu < Number(budgetNs)
        ? `cpu budget exceeded: a call into the stack ran ${Number(wall / 1_000_000n)} ms, ${BUDGET_WALL_FACTOR} times its budget of ${budgetMs} ms (only ${Math.round(cpu / 1e6)} ms of it on a CPU: the machine is overloaded)`
        : `cpu budget exceeded: a call into the stack ran longer than ${budgetMs} ms`);
    }
  }

  /** CPU time the running call `call` has used so far, or -1 when it is not known. */
  private callCpuNs(h: StackHandle, call: bigint): number {
    const p = h.callProbe;
    if (!h.tid || !p || p.call !== call) return -1;
    const cpuNs = threadCpuNs(h.tid);
    return cpuNs < 0 ? -1 : cpuNs - p.cpuNs + Number(p.at - call);
  }

  /** Samples the thread's CPU time once per long call; demotes the call if it spins. */
  private probeCall(h: StackHandle, call: bigint, now: bigint): void {
    const p = h.callProbe;
    if (!p || p.call !== call) {
      const cpuNs = threadCpuNs(h.tid);
      if (cpuNs >= 0) h.callProbe = { call, cpuNs, at: now };
      return;
    }
    if (h.demotedCall !== 0n) return;
    const cpuNs = threadCpuNs(h.tid);
    if (cpuNs < 0 || cpuNs - p.cpuNs < SPIN_CPU_NS) return;
    try {
      setPriority(h.tid, 19);
      h.demotedCall = call;
      h.spinningCalls++;
    } catch { return; /* the thread is gone */ }
    if (h.spinningCalls <= 3 || h.spinningCalls % 100 === 0) {
      this.emit('event', { stack: h.name, kind: 'log', level: 'warn', message: `a call has been spinning on the CPU for ${Number(process.hrtime.bigint() - call) / 1e6 | 0} ms: background CPU priority until it returns (spinning call ${h.spinningCalls})` } satisfies StackEvent);
    }
  }

  /** The spinning call returned: its thread gets its usual priority back. */
  private endSpin(h: StackHandle): void {
    h.demotedCall = 0n;
    h.callProbe = null;
    try { setPriority(h.tid, Atomics.load(new Int32Array(h.control, 0, 4), CTRL_BASE_NICE)); } catch { /* no CAP_SYS_NICE: it stays in the background */ }
  }

  private ownerOfPort(port: number | undefined): string | undefined {
    for (const h of this.stacks.values()) if (h.portId === port) return h.name;
    return undefined;
  }

  counters(name: string): Record<string, number> {
    const h = this.stacks.get(name);
    if (!h) throw new MshError(`no stack named '${name}'`);
    return { ...this.native.counters(this.link.linkId, h.portId), restarts: h.restarts, budget_overruns: h.budgetOverruns, spinning_calls: h.spinningCalls };
  }

  /** The link's own counters: frames nobody owns, parser rejects, backend extras. */
  linkCounters(): Record<string, number> {
    return { ...this.native.linkCounters(this.link.linkId) };
  }

  /** State, reason, restarts, limits and counters of every stack. */
  status(): StackStatus[] {
    return this.list().map((h) => ({
      name: h.name,
      state: h.state,
      reason: h.reason,
      ...(h.guestMessage ? { guestMessage: h.guestMessage } : {}),
      restarts: h.restarts,
      tuples: h.tuples.map(formatTuple),
      limits: {
        cpuBudgetMs: h.spec.cpuBudgetMs ?? DEFAULTS.cpuBudgetMs,
        memLimitMiB: (h.spec.memLimitBytes ?? DEFAULTS.memLimitBytes) / (1 << 20),
        txRate: h.spec.txRate ?? 0,
        rxCoalesceUs: h.spec.rxCoalesceUs ?? DEFAULTS.rxCoalesceUs,
        restart: h.spec.restart ?? DEFAULTS.restart,
        maxRestarts: h.spec.maxRestarts ?? DEFAULTS.maxRestarts,
      },
      uptimeMs: Date.now() - h.startedAt,
      counters: this.counters(h.name),
    }));
  }

  /** Stops a stack: shutdown() gets `graceMs` to run, then its worker is ended and its tuples released. */
  async stop(name: string, graceMs = 1000): Promise<void> {
    const h = this.stacks.get(name);
    if (!h) throw new MshError(`no stack named '${name}'`);
    const w = h.worker;
    const wasFailed = h.state === 'failed';
    const idle = h.workerIdle; // no instance in it: nothing to shut down
    h.state = 'stopped';
    if (w) {
      Atomics.store(new Int32Array(h.control, 0, 4), CTRL_STOP, 1);
      this.native.wake(this.link.linkId, h.portId);
      const exited = new Promise<void>((r) => w.once('exit', () => r()));
      const timer = setTimeout(() => void w.terminate(), idle ? 0 : graceMs);
      await exited;
      clearTimeout(timer);
    }
    if (!wasFailed) this.logCounters(h);
    this.release(h);
    if (!wasFailed) this.emit('event', { stack: h.name, kind: 'state', state: 'stopped', message: 'stopped' } satisfies StackEvent);
  }

  private release(h: StackHandle): void {
    if (this.stacks.get(h.name) !== h) return;
    this.stacks.delete(h.name);
    for (const t of h.tuples) this.link.unreserve?.(t);
    this.native.removePort(this.link.linkId, h.portId);
  }

  async stopAll(): Promise<void> {
    await Promise.all(this.list().map((h) => this.stop(h.name)));
  }

  close(): void {
    clearInterval(this.watchdog);
  }
}

/** `rx_frames=3 tx_frames=3 tx_bad_tuple=5`: the non-zero counters, in their order. */
export function formatCounters(c: Record<string, number>): string {
  const parts = Object.entries(c).filter(([, v]) => v !== 0).map(([k, v]) => `${k}=${v}`);
  return parts.length ? parts.join(' ') : 'all zero';
}
