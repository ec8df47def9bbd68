// The engine seam: everything msh needs from a WebAssembly engine, in one small interface.
// V8 (engine/v8.ts) is the only engine today; another (wasmtime, say) implements this.

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error';
export const LOG_LEVELS: LogLevel[] = ['trace', 'debug', 'info', 'warn', 'error'];

export type Protocol = 'tcp' | 'udp';

export interface OwnedTuple { protocol: Protocol; address: Uint8Array; port: number }

export interface LinkInfo {
  name: string;
  mac: Uint8Array; // 6 bytes
  mtu: number;
  ipv4: Uint8Array[]; // 4 bytes each
  ipv6: Uint8Array[]; // 16 bytes each
}

/** The host side of `multistack:stack/host@0.1.0` (wit/ABI.md). Called synchronously from the guest. */
export interface HostFunctions {
  link(): LinkInfo;
  tuples(): OwnedTuple[];
  now(): bigint;
  randomBytes(len: number): Uint8Array;
  log(level: LogLevel, message: string): void;
  nextHopMac(address: Uint8Array): Uint8Array | null;
}

export interface RingLayout { rxRing: number; txRing: number }
export type InitResult = { ok: RingLayout } | { err: string };

/** A compiled stack: can be sent to a worker thread (structured clone) and instantiated there. */
export interface CompiledStack {
  engine: string;
  module: WebAssembly.Module;
  memLimitPages: number;
}

/** One instance of a stack. Calls never overlap; after a trap the instance is unusable. */
export interface StackInstance {
  readonly memory: WebAssembly.Memory;
  init(config: Array<[string, string]>): InitResult;
  poll(now: bigint, rxCount: number): bigint;
  shutdown(): void;
}

export interface Engine {
  readonly name: string;
  /** Validates that `component` implements the world and caps its memory; throws StackLoadError. */
  compile(component: Uint8Array, opts: { memLimitBytes: number }): CompiledStack;
  instantiate(compiled: CompiledStack, host: HostFunctions): StackInstance;
}

/** A component that cannot be run as a stack; the message says what is wrong and what to do. */
export class StackLoadError extends Error {}

/** A guest trapped (or aborted); `guestMessage` is the guest's own abort text if it gave one. */
export class GuestTrap extends Error {
  constructor(message: string, readonly guestMessage?: string) { super(message); }
}
