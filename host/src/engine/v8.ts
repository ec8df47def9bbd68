// The V8 engine: runs a stack's core module directly on V8's WebAssembly, with the
// canonical ABI of the world `multistack:stack/stack` lowered by hand in both directions.
//
// Why not jco's generated bindings: they cost ~2.3 us per export call and ~6 us per
// import call (platform notes); raw core calls cost ~10 ns. jco's trampolines must be
// bypassed for imports and exports together or not at all, so msh owns the whole
// boundary for this one world: the shim modules wit-component adds to a component only
// break the realloc cycle for jco's instantiation and are not needed here.

import {
  binaryKind, capMemory, coreExports, coreImports, coreModulesOfComponent, WASM_PAGE, WasmFormatError,
} from '../wasm/binary.js';
import {
  CompiledStack, Engine, GuestTrap, HostFunctions, InitResult, LOG_LEVELS, StackInstance, StackLoadError,
} from './engine.js';

export const HOST_MODULE = 'multistack:stack/host@0.1.0';
export const GUEST_IFACE = 'multistack:stack/guest@0.1.0';
const HOST_FUNCTIONS = ['link', 'tuples', 'now', 'random-bytes', 'log', 'next-hop-mac'];
const REQUIRED_EXPORTS = [`${GUEST_IFACE}#init`, `${GUEST_IFACE}#poll`, `${GUEST_IFACE}#shutdown`, 'cabi_realloc', 'memory'];
/** Imports AssemblyScript adds on its own; msh build redirects them, so their presence means a foreign build. */
const MAX_LOG_BYTES = 1024;
const MAX_RANDOM = 256;

/** Picks the stack's main core module out of a component and checks it against the world. */
export function mainCoreModule(component: Uint8Array): Uint8Array {
  let kind;
  try {
    kind = binaryKind(component);
  } catch (e) {
    throw new StackLoadError(`${(e as Error).message}; build a stack with \`msh build <dir>\``);
  }
  if (kind === 'core-module') {
    throw new StackLoadError('this is a core WebAssembly module, not a component; `msh build` turns an AssemblyScript stack into a component (or use `wasm-tools component new`)');
  }
  const mods = coreModulesOfComponent(component);
  const main = mods.find((m) => coreExports(m).some((e) => e.name === `${GUEST_IFACE}#init`));
  if (!main) {
    throw new StackLoadError(`this component does not implement the world multistack:stack/stack (it exports no ${GUEST_IFACE}#init); \`msh inspect\` shows what it implements`);
  }
  const exported = new Set(coreExports(main).map((e) => e.name));
  const missing = REQUIRED_EXPORTS.filter((n) => !exported.has(n));
  if (missing.length) throw new StackLoadError(`the stack's core module lacks ${missing.join(', ')} required by the world multistack:stack/stack`);
  const foreign = coreImports(main).filter((i) => i.module !== HOST_MODULE || !HOST_FUNCTIONS.includes(i.name));
  if (foreign.length) {
    const list = foreign.map((i) => `${i.module}.${i.name}`).join(', ');
    throw new StackLoadError(`the stack imports ${list}, which the world multistack:stack/stack does not offer (a stack may import only ${HOST_MODULE})`);
  }
  return main;
}

class V8Instance implements StackInstance {
  readonly memory: WebAssembly.Memory;
  private buffer: ArrayBuffer;
  private u8: Uint8Array;
  private dv: DataView;
  private readonly realloc: (a: number, b: number, c: number, d: number) => number;
  private readonly initFn: (ptr: number, len: number) => number;
  private readonly pollFn: (now: bigint, n: number) => bigint;
  private readonly shutdownFn: () => void;
  private poisoned: string | null = null;
  /** Last error-level log line: the guest's abort text, reported with a trap. */
  lastErrorLog: string | undefined;

  constructor(private readonly compiled: CompiledStack, private readonly host: HostFunctions) {
    const imports = { [HOST_MODULE]: this.hostImports() };
    let instance: WebAssembly.Instance;
    try {
      instance = new WebAssembly.Instance(compiled.module, imports);
    } catch (e) {
      if (e instanceof WebAssembly.LinkError) {
        throw new StackLoadError(`the stack's imports do not match the world's signatures: ${e.message}`);
      }
      throw new GuestTrap(`the stack trapped while starting: ${(e as Error).message}`, this.lastErrorLog);
    }
    const ex = instance.exports as any;
    this.memory = ex.memory;
    this.realloc = ex.cabi_realloc;
    this.initFn = ex[`${GUEST_IFACE}#init`];
    this.pollFn = ex[`${GUEST_IFACE}#poll`];
    this.shutdownFn = ex[`${GUEST_IFACE}#shutdown`];
    this.buffer = this.memory.buffer;
    this.u8 = new Uint8Array(this.buffer);
    this.dv = new DataView(this.buffer);
  }

  /** Views must be re-derived after any guest code ran: memory.grow detaches the old buffer. */
  private refresh(): void {
    if (this.memory.buffer !== this.buffer) {
      this.buffer = this.memory.buffer;
      this.u8 = new Uint8Array(this.buffer);
      this.dv = new DataView(this.buffer);
    }
  }

  private alloc(size: number, align: number): number {
    const p = this.realloc(0, 0, align, size) >>> 0;
    this.refresh();
    if (p + size > this.buffer.byteLength) throw new GuestTrap(`cabi_realloc returned ${p} for ${size} bytes, outside memory`);
    return p;
  }

  /** Lowers a byte list into guest memory; returns (ptr, len). Empty lists are (1, 0). */
  private lowerBytes(bytes: Uint8Array): [number, number] {
    if (bytes.length === 0) return [1, 0];
    const p = this.alloc(bytes.length, 1);
    this.u8.set(bytes, p);
    return [p, bytes.length];
  }

  private lowerString(s: string): [number, number] {
    return this.lowerBytes(Buffer.from(s, 'utf8'));
  }

  /** list<list<u8>>: elements are (ptr, len) pairs, 8 bytes, align 4. */
  private lowerByteLists(items: Uint8Array[]): [number, number] {
    if (items.length === 0) return [1, 0];
    const lowered = items.map((b) => this.lowerBytes(b));
    const p = this.alloc(items.length * 8, 4);
    lowered.forEach(([ptr, len], i) => {
      this.dv.setUint32(p + i * 8, ptr, true);
      this.dv.setUint32(p + i * 8 + 4, len, true);
    });
    return [p, items.length];
  }

  private checkRange(ptr: number, len: number, what: string): void {
    this.refresh();
    if (ptr < 0 || len < 0 || ptr + len > this.buffer.byteLength) {
      throw new GuestTrap(`${what}: range ${ptr}+${len} is outside the stack's memory`);
    }
  }

  private hostImports(): Record<string, Function> {
    const host = this.host;
    return {
      link: (ret: number) => {
        const info = host.link();
        const name = this.lowerString(info.name);
        const mac = this.lowerBytes(info.mac);
        const v4 = this.lowerByteLists(info.ipv4);
        const v6 = this.lowerByteLists(info.ipv6);
        this.checkRange(ret, 36, 'link');
        const words = [name[0], name[1], mac[0], mac[1], info.mtu, v4[0], v4[1], v6[0], v6[1]];
        words.forEach((w, i) => this.dv.setUint32(ret + i * 4, w, true));
      },
      tuples: (ret: number) => {
        const tuples = host.tuples();
        const addrs = tuples.map((t) => this.lowerBytes(t.address));
        let p = 1;
        if (tuples.length) {
          p = this.alloc(tuples.length * 16, 4);
          tuples.forEach((t, i) => {
            const e = p + i * 16;
            this.dv.setUint32(e, 0, true);
            this.dv.setUint8(e, t.protocol === 'tcp' ? 0 : 1);
            this.dv.setUint32(e + 4, addrs[i][0], true);
            this.dv.setUint32(e + 8, addrs[i][1], true);
            this.dv.setUint32(e + 12, t.port, true);
          });
        }
        this.checkRange(ret, 8, 'tuples');
        this.dv.setUint32(ret, p, true);
        this.dv.setUint32(ret + 4, tuples.length, true);
      },
      now: () => host.now(),
      'random-bytes': (len: number, ret: number) => {
        len >>>= 0;
        if (len > MAX_RANDOM) throw new GuestTrap(`random-bytes(${len}): at most ${MAX_RANDOM} bytes per call`);
        const [p, l] = this.lowerBytes(host.randomBytes(len));
        this.checkRange(ret, 8, 'random-bytes');
        this.dv.setUint32(ret, p, true);
        this.dv.setUint32(ret + 4, l, true);
      },
      log: (level: number, ptr: number, len: number) => {
        ptr >>>= 0; len >>>= 0;
        this.checkRange(ptr, len, 'log');
        const text = Buffer.from(this.u8.subarray(ptr, ptr + Math.min(len, MAX_LOG_BYTES))).toString('utf8');
        const lvl = LOG_LEVELS[level] ?? 'info';
        if (lvl === 'error') this.lastErrorLog = text;
        host.log(lvl, len > MAX_LOG_BYTES ? text + '…' : text);
      },
      'next-hop-mac': (ptr: number, len: number, ret: number) => {
        ptr >>>= 0; len >>>= 0;
        if (len !== 4 && len !== 16) throw new GuestTrap(`next-hop-mac: address of ${len} bytes (must be 4 or 16)`);
        this.checkRange(ptr, len, 'next-hop-mac');
        const mac = host.nextHopMac(this.u8.slice(ptr, ptr + len));
        const lowered = mac ? this.lowerBytes(mac) : null;
        this.checkRange(ret, 12, 'next-hop-mac');
        this.dv.setUint32(ret, 0, true);
        this.dv.setUint8(ret, lowered ? 1 : 0);
        this.dv.setUint32(ret + 4, lowered ? lowered[0] : 0, true);
        this.dv.setUint32(ret + 8, lowered ? lowered[1] : 0, true);
      },
    };
  }

  /**
   * For a trap: how much of its --mem-limit the stack's memory used, when that is at least
   * half (a refused memory.grow is invisible to the host; this makes a likely cause plain).
   */
  private memoryNote(): string {
    const pages = this.memory.buffer.byteLength / WASM_PAGE;
    const cap = this.compiled.memLimitPages;
    if (pages * 2 < cap) return '';
    const mib = (p: number) => `${+((p * WASM_PAGE) / (1 << 20)).toFixed(1)} MiB`;
    return ` [memory ${mib(pages)} of its ${mib(cap)} limit (--mem-limit)]`;
  }

  /** Runs a guest call; a trap poisons the instance and becomes a GuestTrap. */
  private guard<T>(what: string, fn: () => T): T {
    if (this.poisoned) throw new GuestTrap(`stack is stopped after an earlier fault: ${this.poisoned}`);
    try {
      return fn();
    } catch (e) {
      const guest = this.lastErrorLog;
      const base = e instanceof GuestTrap ? e.message : `${(e as Error).message}`;
      const msg = `${what} trapped: ${base}${guest && !base.includes(guest) ? ` (stack said: ${guest})` : ''}${this.memoryNote()}`;
      this.poisoned = msg;
      throw new GuestTrap(msg, guest);
    }
  }

  init(config: Array<[string, string]>): InitResult {
    return this.guard('init', () => {
      let listPtr = 1;
      if (config.length) {
        const lowered = config.map(([k, v]) => [...this.lowerString(k), ...this.lowerString(v)]);
        listPtr = this.alloc(config.length * 16, 4);
        lowered.forEach((words, i) => words.forEach((w, j) => this.dv.setUint32(listPtr + i * 16 + j * 4, w, true)));
      }
      const ret = this.initFn(listPtr, config.length) >>> 0;
      this.checkRange(ret, 12, 'init result');
      const tag = this.dv.getUint8(ret);
      const a = this.dv.getUint32(ret + 4, true);
      const b = this.dv.getUint32(ret + 8, true);
      if (tag === 0) return { ok: { rxRing: a, txRing: b } };
      if (tag !== 1) throw new GuestTrap(`init returned an invalid result discriminant ${tag}`);
      this.checkRange(a, b, 'init error message');
      return { err: Buffer.from(this.u8.subarray(a, a + Math.min(b, MAX_LOG_BYTES))).toString('utf8') };
    });
  }

  poll(now: bigint, rxCount: number): bigint {
    if (this.poisoned) throw new GuestTrap(`stack is stopped after an earlier fault: ${this.poisoned}`);
    try {
      // Hot path: one raw core call per batch.
      return this.pollFn(now, rxCount);
    } catch (e) {
      return this.guard('poll', () => { throw e; });
    }
  }

  shutdown(): void {
    this.guard('shutdown', () => this.shutdownFn());
  }
}

export class V8Engine implements Engine {
  readonly name = 'v8';

  compile(component: Uint8Array, opts: { memLimitBytes: number }): CompiledStack {
    const main = mainCoreModule(component);
    const capPages = Math.max(1, Math.floor(opts.memLimitBytes / WASM_PAGE));
    let capped: Uint8Array;
    try {
      capped = capMemory(main, capPages);
    } catch (e) {
      if (e instanceof WasmFormatError) throw new StackLoadError(e.message);
      throw e;
    }
    let module: WebAssembly.Module;
    try {
      module = new WebAssembly.Module(capped as Uint8Array<ArrayBuffer>);
    } catch (e) {
      throw new StackLoadError(`the stack's core module does not compile: ${(e as Error).message}`);
    }
    return { engine: this.name, module, memLimitPages: capPages };
  }

  instantiate(compiled: CompiledStack, host: HostFunctions): V8Instance {
    return new V8Instance(compiled, host);
  }
}
