// Parses `msh run` arguments: global options, then one group per stack, each group a
// .wasm file followed by the options that apply to it.

import path from 'node:path';
import { UsageError } from '../errors.js';
import { BACKENDS, BackendName } from '../backends/index.js';
import { parseTuple, TupleSpec } from '../runtime/tuple.js';
import type { RestartPolicy } from '../runtime/stack-host.js';

export interface RunStackArgs {
  file: string;
  name: string;
  tuples: TupleSpec[];
  config: Array<[string, string]>;
  pcap?: string;
  cpuBudgetMs?: number;
  memLimitBytes?: number;
  restart?: RestartPolicy;
  maxRestarts?: number;
  txRate?: number;
  rxCoalesceUs?: number;
}

export interface RunArgs {
  iface?: string;
  backend: BackendName;
  /** Send runs of segments as GSO packets (AF_XDP; native/src/gso.h). Default on. */
  gso?: boolean;
  stacks: RunStackArgs[];
}

function positiveNumber(flag: string, v: string | undefined, max = Number.MAX_SAFE_INTEGER): number {
  if (v === undefined) throw new UsageError(`${flag} needs a value`);
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0 || n > max) throw new UsageError(`${flag} ${v}: expected a positive number${max < Number.MAX_SAFE_INTEGER ? ` up to ${max}` : ''}`);
  return n;
}

export function parseRunArgs(argv: string[]): RunArgs {
  const out: RunArgs = { backend: 'auto', stacks: [] };
  let cur: RunStackArgs | null = null;
  const need = (flag: string): RunStackArgs => {
    if (!cur) throw new UsageError(`${flag} must follow the stack it applies to (msh run STACK.wasm ${flag} ...)`);
    return cur;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const [flag, inline] = a.startsWith('--') && a.includes('=') && !a.startsWith('--config=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    const value = () => {
      const v = inline ?? argv[++i];
      if (v === undefined) throw new UsageError(`${flag} needs a value`);
      return v;
    };
    switch (flag) {
      case '--iface': out.iface = value(); break;
      case '--backend': {
        const b = value();
        if (!(BACKENDS as string[]).includes(b)) throw new UsageError(`--backend ${b}: expected one of ${BACKENDS.join(', ')}`);
        out.backend = b as BackendName;
        break;
      }
      case '--gso': {
        const v = value();
        if (v !== 'on' && v !== 'off') throw new UsageError(`--gso ${v}: expected on or off`);
        out.gso = v === 'on';
        break;
      }
      case '--tuple': need(flag).tuples.push(parseTuple(value())); break;
      case '--config': case '--config=': {
        const kv = a.startsWith('--config=') ? a.slice('--config='.length) : value();
        const eq = kv.indexOf('=');
        if (eq <= 0) throw new UsageError(`--config ${kv}: expected KEY=VALUE`);
        need('--config').config.push([kv.slice(0, eq), kv.slice(eq + 1)]);
        break;
      }
      case '--name': {
        const n = value();
        if (!/^[A-Za-z0-9_.-]{1,64}$/.test(n)) throw new UsageError(`--name ${n}: use letters, digits, '.', '_' or '-' (at most 64)`);
        need(flag).name = n;
        break;
      }
      case '--pcap': need(flag).pcap = path.resolve(value()); break;
      case '--cpu-budget': need(flag).cpuBudgetMs = positiveNumber(flag, value(), 60_000); break;
      case '--mem-limit': need(flag).memLimitBytes = Math.floor(positiveNumber(flag, value(), 4095) * (1 << 20)); break;
      case '--tx-rate': need(flag).txRate = Math.floor(positiveNumber(flag, value(), 1e9)); break;
      case '--rx-coalesce': {
        const v = value();
        const n = Number(v);
        if (v.trim() === '' || !Number.isFinite(n) || n < 0 || n > 10_000) throw new UsageError(`--rx-coalesce ${v}: expected microseconds from 0 (off) to 10000`);
        need(flag).rxCoalesceUs = n;
        break;
      }
      case '--max-restarts': need(flag).maxRestarts = Math.floor(positiveNumber(flag, value(), 1000)); break;
      case '--restart': {
        const r = value();
        if (r !== 'no' && r !== 'on-failure') throw new UsageError(`--restart ${r}: expected no or on-failure`);
        need(flag).restart = r;
        break;
      }
      default:
        if (a.startsWith('-')) throw new UsageError(`msh run: unknown option ${a}`);
        if (!a.endsWith('.wasm')) throw new UsageError(`msh run: ${a} is not a .wasm stack (build one with \`msh build\`)`);
        cur = { file: path.resolve(a), name: path.basename(a, '.wasm'), tuples: [], config: [] };
        out.stacks.push(cur);
    }
  }
  if (!out.stacks.length) throw new UsageError('msh run: name at least one stack, e.g. msh run stacks/udp-echo.wasm --tuple udp:7');
  const names = new Set<string>();
  for (const s of out.stacks) {
    if (!s.tuples.length) throw new UsageError(`msh run: stack ${s.name} needs at least one --tuple (e.g. --tuple udp:7)`);
    if (names.has(s.name)) throw new UsageError(`msh run: two stacks are named '${s.name}'; tell them apart with --name`);
    names.add(s.name);
  }
  return out;
}
