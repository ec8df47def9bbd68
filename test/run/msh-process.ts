// Runs `msh run` the way a user does (the CLI, as a separate process, inside a namespace)
// and waits for what it prints.
import { ChildProcess } from 'node:child_process';
import { afterEach } from 'vitest';
import path from 'node:path';
import { createPair, destroyPair, nsSpawn, nsExec, type NsPair } from '../../host/src/netns.js';
import type { StackStatus } from '../../host/src/runtime/stack-host.js';
import { REPO_ROOT } from '../../host/src/paths.js';

export const MSH = path.join(REPO_ROOT, 'bin', 'msh.js');

export class MshProcess {
  output = '';
  exitCode: number | null = null;
  readonly exited: Promise<number | null>;
  constructor(readonly child: ChildProcess) {
    child.stdout!.on('data', (d) => (this.output += d));
    child.stderr!.on('data', (d) => (this.output += d));
    this.exited = new Promise((r) => child.on('exit', (code, sig) => { this.exitCode = code ?? (sig ? 128 : null); r(this.exitCode); }));
  }

  static start(ns: string, args: string[]): MshProcess {
    return new MshProcess(nsSpawn(ns, process.execPath, [MSH, ...args]));
  }

  async waitFor(pattern: RegExp, ms = 20_000): Promise<void> {
    const until = Date.now() + ms;
    while (!pattern.test(this.output)) {
      if (this.exitCode !== null) throw new Error(`msh exited (${this.exitCode}) before printing ${pattern}:\n${this.output}`);
      if (Date.now() > until) throw new Error(`msh did not print ${pattern} within ${ms} ms:\n${this.output}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Stops it as a user would (Ctrl-C) and waits for it to exit. */
  async stop(signal: NodeJS.Signals = 'SIGINT', ms = 10_000): Promise<number | null> {
    if (this.exitCode === null) this.child.kill(signal);
    const t = setTimeout(() => this.child.kill('SIGKILL'), ms);
    const code = await this.exited;
    clearTimeout(t);
    return code;
  }
}

/** Runs a command in a namespace; returns stdout+stderr and the exit status, never throws. */
export function tryNs(ns: string, cmd: string, args: string[], input?: string, timeoutMs = 10_000): { out: string; status: number | null } {
  try {
    return { out: nsExec(ns, cmd, args, { input, timeoutMs }), status: 0 };
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string; status?: number | null };
    return { out: `${err.stdout ?? ''}${err.stderr ?? ''}`, status: err.status ?? null };
  }
}

/** One UDP request/response with socat from the peer namespace. */
export function udpRequest(ns: string, host: string, port: number, text: string, v6 = false): { out: string; status: number | null } {
  return tryNs(ns, 'socat', ['-T', '2', '-', `${v6 ? 'UDP6' : 'UDP'}:${v6 ? `[${host}]` : host}:${port}`], text);
}

/** `msh status --iface <ifA> --json`, run in namespace A the way an operator would. */
export function status(p: NsPair): StackStatus[] {
  const out = nsExec(p.nsA, process.execPath, [MSH, 'status', '--iface', p.ifA, '--json'], { timeoutMs: 15_000 });
  return JSON.parse(out.trim().split('\n').pop()!) as StackStatus[];
}

export function stackStatus(p: NsPair, name: string): StackStatus {
  const s = status(p).find((x) => x.name === name);
  if (!s) throw new Error(`msh status does not list stack '${name}'`);
  return s;
}

/** The link's own counters (`msh status --link --json`): frames to the kernel, drops. */
export function linkCounters(p: NsPair): Record<string, number> {
  const out = nsExec(p.nsA, process.execPath, [MSH, 'status', '--iface', p.ifA, '--link', '--json'], { timeoutMs: 15_000 });
  return (JSON.parse(out.trim().split('\n').pop()!) as { counters: Record<string, number> }).counters;
}

/**
 * For suites that run one `msh run` per test on a fresh namespace pair: start() makes the
 * pair, starts msh in namespace A and waits for `ready`; release() stops msh and removes
 * the pair. Registered to run after each test, so nothing is left behind on failure.
 */
export function mshOnPairPerTest() {
  const f = {
    pair: null as NsPair | null,
    msh: null as MshProcess | null,
    async start(prefix: string, subnet: number, args: (p: NsPair) => string[], ready: RegExp): Promise<{ p: NsPair; msh: MshProcess }> {
      const p = (f.pair = createPair(prefix, subnet));
      const msh = (f.msh = MshProcess.start(p.nsA, args(p)));
      await msh.waitFor(ready, 30_000);
      return { p, msh };
    },
    async release(): Promise<void> {
      await f.msh?.stop();
      f.msh = null;
      if (f.pair) destroyPair(f.pair);
      f.pair = null;
    },
  };
  afterEach(() => f.release());
  return f;
}
