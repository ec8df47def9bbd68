// The supervisor: runs stacks on one link, each in its own worker thread; owns their
// tuples; enforces CPU budgets (watchdog), applies the restart policy, and reports state
// and counters. It never touches a packet.

import { EventEmitter } from 'node:events';
import { Worker } from 'node:worker_threads';
import path from 'node:path';
import { existsSync } from 'node:fs';
import { CompiledStack, Engine, LinkInfo, LogLevel, OwnedTuple } from '../engine/engine.js';
import { V8Engine } from '../engine/v8.js';
import { loadNative } from '../native.js';
import { MshError } from '../errors.js';
import { CONTROL_BYTES, CTRL_STOP, WorkerInit, WorkerToMain } from './protocol.js';
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
  pcap?: string;
}

export const DEFAULTS = {
  cpuBudgetMs: 100,
  memLimitBytes: 64 << 20,
  restart: 'no' as RestartPolicy,
  maxRestarts: 5,
  batch: 256,
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
  limits: { cpuBudgetMs: number; memLimitMiB: number; txRate: number; restart: RestartPolicy; maxRestarts: number };
  /** Since the stack was started (not restarted), ms. */
  uptimeMs: number;
  /** Native port counters (rx, tx, drops by reason) plus restarts and budget_overruns. */
  counters: Record<string, number>;
}

export interface StackEvent {
  stack: string;
  kind: 'state' | 'log';
  state?: StackState;
  level?: LogLevel;
  message: string;
}

// Always the compiled worker, also when the supervisor itself runs from TypeScript (tests).
const WORKER_FILE = path.join(DIST_DIR, 'host', 'src', 'runtime', 'stack-worker.js');

export class StackHandle {
  state: StackState = 'starting';
  reason = '';
  guestMessage: string | undefined;
  restarts = 0;
  budgetOverruns = 0;
  worker: Worker | null = null;
  control = new SharedArrayBuffer(CONTROL_BYTES);
  startedAt = Date.now();
  /** Resolves once the stack is running or has failed for good. */
  settled!: Promise<void>;

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
    };
    handle.control = new SharedArrayBuffer(CONTROL_BYTES);
    init.control = handle.control;
    handle.state = 'starting';
    if (!existsSync(WORKER_FILE)) throw new MshError(`${WORKER_FILE} is missing`, 'run `npm run setup` to build msh');
    const worker = new Worker(WORKER_FILE, { workerData: init, resourceLimits: { maxOldGenerationSizeMb: 256 } });
    handle.worker = worker;
    let settle!: () => void;
    const settled = new Promise<void>((r) => (settle = r));
    handle.settled = settled;
    worker.on('message', (m: WorkerToMain) => {
      switch (m.type) {
        case 'ready':
          this.setState(handle, 'running', `running, tuples ${handle.tuples.map(formatTuple).join(' ')}`);
          settle();
          break;
        case 'log':
          this.emit('event', { stack: handle.name, kind: 'log', level: m.level, message: m.message } satisfies StackEvent);
          break;
        case 'failed':
          this.onFailure(handle, m.reason, m.guestMessage);
          settle();
          break;
        case 'stopped':
          break;
      }
    });
    worker.on('error', (e) => { this.onFailure(handle, `worker error: ${e.message}`); settle(); });
    worker.on('exit', () => {
      if (handle.worker === worker) handle.worker = null;
      if (handle.state === 'starting' || handle.state === 'running') {
        this.onFailure(handle, 'the stack\'s worker exited unexpectedly');
      }
      settle();
    });
    return settled;
  }

  private setState(h: StackHandle, state: StackState, message: string): void {
    h.state = state;
    this.emit('event', { stack: h.name, kind: 'state', state, message } satisfies StackEvent);
  }

  private onFailure(h: StackHandle, reason: string, guestMessage?: string): void {
    if (h.state === 'failed' || h.state === 'stopped' || h.state === 'restarting') return;
    const wasRunning = h.state === 'running';
    h.reason = reason;
    h.guestMessage = guestMessage;
    const w = h.worker;
    h.worker = null;
    void w?.terminate();
    const policy = h.spec.restart ?? DEFAULTS.restart;
    const max = h.spec.maxRestarts ?? DEFAULTS.maxRestarts;
    if (policy === 'on-failure' && wasRunning && h.restarts < max) {
      const delay = Math.min(5000, 100 * 2 ** h.restarts);
      h.restarts++;
      this.setState(h, 'restarting', `failed: ${reason}; restart ${h.restarts}/${max} in ${delay} ms`);
      setTimeout(() => {
        if (h.state === 'restarting' && this.stacks.get(h.name) === h) void this.launch(h);
      }, delay).unref();
      return;
    }
    this.setState(h, 'failed', `failed: ${reason}${policy === 'on-failure' && h.restarts >= max ? ` (gave up after ${h.restarts} restarts)` : ''}`);
    this.logCounters(h);
  }

  /** Logs a stack's counters (non-zero ones), e.g. when it fails or stops. */
  private logCounters(h: StackHandle): void {
    let c: Record<string, number>;
    try { c = this.counters(h.name); } catch { return; }
    this.emit('event', { stack: h.name, kind: 'log', level: 'info', message: `counters: ${formatCounters(c)}` } satisfies StackEvent);
  }

  /** Stops calls that outlive the CPU budget: the worker is terminated, the stack fails. */
  private checkBudgets(): void {
    const now = process.hrtime.bigint();
    for (const h of this.stacks.values()) {
      if (!h.worker || (h.state !== 'running' && h.state !== 'starting')) continue;
      const start = new BigInt64Array(h.control, 16, 1)[0];
      const budgetNs = BigInt(Math.round((h.spec.cpuBudgetMs ?? DEFAULTS.cpuBudgetMs) * 1e6));
      if (start !== 0n && now - start > budgetNs) {
        h.budgetOverruns++;
        this.onFailure(h, `cpu budget exceeded: a call into the stack ran longer than ${h.spec.cpuBudgetMs ?? DEFAULTS.cpuBudgetMs} ms`);
      }
    }
  }

  private ownerOfPort(port: number | undefined): string | undefined {
    for (const h of this.stacks.values()) if (h.portId === port) return h.name;
    return undefined;
  }

  counters(name: string): Record<string, number> {
    const h = this.stacks.get(name);
    if (!h) throw new MshError(`no stack named '${name}'`);
    return { ...this.native.counters(this.link.linkId, h.portId), restarts: h.restarts, budget_overruns: h.budgetOverruns };
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
    h.state = 'stopped';
    if (w) {
      Atomics.store(new Int32Array(h.control, 0, 4), CTRL_STOP, 1);
      this.native.wake(this.link.linkId, h.portId);
      const exited = new Promise<void>((r) => w.once('exit', () => r()));
      const timer = setTimeout(() => void w.terminate(), graceMs);
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
