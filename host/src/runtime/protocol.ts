// Messages between the supervisor (main thread) and a stack worker, and the shared
// control block both read. Kept apart so the worker module imports no supervisor code.

import type { CompiledStack, LinkInfo, OwnedTuple, LogLevel } from '../engine/engine.js';

export interface WorkerInit {
  compiled: CompiledStack;
  linkId: number;
  portId: number;
  stackName: string;
  config: Array<[string, string]>;
  link: LinkInfo;
  tuples: OwnedTuple[];
  /** Shared control block, see CONTROL_*. */
  control: SharedArrayBuffer;
  /** Frames moved per native call. */
  batch: number;
  /** Static next-hop answers (in-process switch); otherwise the kernel's neighbour table. */
  staticNextHop?: Uint8Array;
  /** Max frames per second this stack may transmit (0: unlimited). */
  txRate: number;
  /** Receive coalescing pause, microseconds (0: off); see stack-worker.ts. */
  rxCoalesceUs: number;
  /** The thread starts at background priority (a restart): back to normal once running. */
  startsInBackground?: boolean;
}

// Int32 words of the control block.
export const CTRL_STOP = 0; // main -> worker: 1 = stop (run shutdown), 2 = stop at once
export const CTRL_STATE = 1; // worker -> main, see WorkerState
// worker -> main: the nice value the worker thread runs at between calls (0, or 19 while
// it busy-polls); the supervisor puts it back after it lowered a spinning call's priority.
export const CTRL_BASE_NICE = 2;
// BigInt64 words (byte offset 16): when the current guest call began (hrtime ns), 0 outside calls.
export const CTRL_CALL_START = 2;
export const CONTROL_BYTES = 32;

export type WorkerToMain =
  | { type: 'ready'; rxRing: number; txRing: number; /** the worker thread's Linux TID (0: unknown) */ tid: number }
  | { type: 'log'; level: LogLevel; message: string }
  | { type: 'failed'; reason: string; guestMessage?: string }
  | { type: 'stopped' };
