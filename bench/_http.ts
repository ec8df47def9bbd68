// HTTP helpers shared by bench/http.ts and the http-server tests (test/tcp/): the
// http-server stack's body bytes, wrk's output, and whole-machine CPU time from /proc/stat.

import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/**
 * The body stacks/http-server sends for an `n`-byte route: "Hello, msh!\r\n", then a-z
 * repeating, cut to `n` bytes.
 */
export function httpBody(n: number): Buffer {
  const b = Buffer.alloc(n);
  const hello = 'Hello, msh!\r\n';
  for (let i = 0; i < n; i++) b[i] = i < 13 ? hello.charCodeAt(i) : 97 + ((i - 13) % 26);
  return b;
}

export interface WrkResult {
  requests: number;
  seconds: number;
  rps: number;
  /** "Non-2xx or 3xx responses" (wrk prints the line only when there are some). */
  non2xx: number;
  /** The "Socket errors:" line, or null when wrk printed none (no errors). */
  socketErrors: { connect: number; read: number; write: number; timeout: number } | null;
}

/** Parses wrk's (4.x) summary; throws if the summary lines are missing. */
export function parseWrk(text: string): WrkResult {
  const done = text.match(/^\s*(\d+) requests in ([\d.]+)(us|ms|s|m),/m);
  const rps = text.match(/^Requests\/sec:\s+([\d.]+)/m);
  if (!done || !rps) throw new Error(`not wrk output:\n${text}`);
  const unit = { us: 1e-6, ms: 1e-3, s: 1, m: 60 }[done[3] as 'us' | 'ms' | 's' | 'm'];
  const se = text.match(/Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/);
  const non = text.match(/Non-2xx or 3xx responses: (\d+)/);
  return {
    requests: Number(done[1]),
    seconds: Number(done[2]) * unit,
    rps: Number(rps[1]),
    non2xx: non ? Number(non[1]) : 0,
    socketErrors: se ? { connect: Number(se[1]), read: Number(se[2]), write: Number(se[3]), timeout: Number(se[4]) } : null,
  };
}

let clkTck = 0;

/**
 * CPU time of the whole machine (all cores) in microseconds from /proc/stat: `busy` is
 * user + nice + system + irq + softirq + steal (everything but idle and iowait; guest time
 * is already inside user), `total` adds idle and iowait.
 */
export function machineCpuUs(): { busy: number; total: number } {
  if (!clkTck) clkTck = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  const line = readFileSync('/proc/stat', 'utf8').split('\n').find((l) => l.startsWith('cpu '));
  if (!line) throw new Error('/proc/stat has no cpu line');
  const [user, nice, system, idle, iowait, irq, softirq, steal] = line.trim().split(/\s+/).slice(1, 9).map(Number);
  const busy = user + nice + system + irq + softirq + (steal || 0);
  const us = 1e6 / clkTck;
  return { busy: busy * us, total: (busy + idle + iowait) * us };
}
