// Child processes of a benchmark: every one is tracked, killed by PID on every way out,
// and its output kept for error messages.

import { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';

export interface Tracked {
  child: ChildProcess;
  out: { text: string };
  exited: Promise<number | null>;
}

export class Children {
  readonly live = new Set<ChildProcess>();
  /** Grandchildren (e.g. nginx's worker) known only by PID, with their command name. */
  readonly pids = new Map<number, string>();
  private readonly killAll = () => {
    for (const c of this.live) killNow(c);
    for (const [pid, comm] of this.pids) {
      // Only if the PID still names the same program (not a reused PID).
      try { if (readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === comm) process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
    }
    this.pids.clear();
  };

  /** Also kill `pid` on the way out if it still runs `comm`. */
  adopt(pid: number, comm: string): void { this.pids.set(pid, comm); }

  forget(pid: number): void { this.pids.delete(pid); }
  private static readonly signals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

  /**
   * Kills every child on exit and on signals. Call before createPair (listeners run in
   * order), so children die before the namespaces are removed, also on Ctrl-C.
   */
  hook(): void {
    process.on('exit', this.killAll);
    for (const s of Children.signals) process.on(s, this.killAll);
  }

  /** Kills what is left and waits (up to 2 s each) for it to exit. */
  async reap(): Promise<void> {
    this.killAll();
    for (const c of [...this.live]) await new Promise((r) => { c.once('exit', r); setTimeout(r, 2000); });
  }

  /** reap(), then removes the hooks. */
  async release(): Promise<void> {
    await this.reap();
    process.off('exit', this.killAll);
    for (const s of Children.signals) process.off(s, this.killAll);
  }

  track(child: ChildProcess, what: string): Tracked {
    this.live.add(child);
    const out = { text: '' };
    child.stdout?.on('data', (d) => { out.text += d; });
    child.stderr?.on('data', (d) => { out.text += d; });
    const exited = new Promise<number | null>((resolve) => {
      child.on('exit', (code) => { this.live.delete(child); resolve(code); });
      child.on('error', (e) => { this.live.delete(child); out.text += `\n(${what}: ${e.message})`; resolve(-1); });
    });
    return { child, out, exited };
  }
}

export function killNow(child: ChildProcess, sig: NodeJS.Signals = 'SIGKILL'): void {
  if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
    try { process.kill(child.pid, sig); } catch { /* already gone */ }
  }
}

/** `sig` (SIGTERM by default), then SIGKILL after `graceMs`; resolves when it has exited. */
export async function stop(t: Tracked, graceMs = 3000, sig: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  killNow(t.child, sig);
  const timer = setTimeout(() => killNow(t.child, 'SIGKILL'), graceMs);
  await t.exited;
  clearTimeout(timer);
}

/** Resolves when `pattern` shows up in the output; rejects if the child exits or time runs out. */
export function waitFor(t: Tracked, pattern: RegExp, timeoutMs: number, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const tick = setInterval(() => {
      if (pattern.test(t.out.text)) { clearInterval(tick); resolve(); }
      else if (t.child.exitCode !== null || t.child.signalCode !== null) { clearInterval(tick); reject(new Error(`${what} exited before it was ready:\n${t.out.text}`)); }
      else if (Date.now() - started > timeoutMs) { clearInterval(tick); reject(new Error(`${what} not ready within ${timeoutMs} ms:\n${t.out.text}`)); }
    }, 20);
  });
}

/** Waits for the child to exit by itself within `timeoutMs` (then kills it); returns its exit code. */
export async function finish(t: Tracked, timeoutMs: number): Promise<number | null> {
  const timer = setTimeout(() => killNow(t.child), timeoutMs);
  const code = await t.exited;
  clearTimeout(timer);
  return code;
}
