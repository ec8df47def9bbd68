// Shared pieces of the hostile-stack suite (issue 4): hostile test stacks built into a
// private directory, `msh status --json` run in namespace A, the good udp-echo's answer
// from the peer, peer-side frame counts. Traffic stays inside the test's namespace pair.

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { buildStack } from '../../host/src/build/build.js';
import { REPO_ROOT } from '../../host/src/paths.js';
import { nsExec, NsPair } from '../../host/src/netns.js';
import type { StackStatus } from '../../host/src/runtime/stack-host.js';
import { MshProcess, linkCounters, stackStatus, status, tryNs } from '../run/msh-process.js';

// `msh status` readers live with the msh process helpers; the hostile suites import them from here.
export { linkCounters, stackStatus, status };

/**
 * Builds stacks (folders under stacks/ or test/stacks/) into a directory of this test
 * file's own, so no other test file rewriting build/test/ can hand `msh run` a half-written
 * file. Returns name -> .wasm path, and a cleanup.
 */
export async function buildStacks(names: string[]): Promise<{ path: (name: string) => string; dir: string; remove: () => void }> {
  const dir = mkdtempSync(path.join(tmpdir(), 'mshx-hostile-'));
  for (const n of names) {
    const shipped = n === 'udp-echo';
    await buildStack(path.join(REPO_ROOT, shipped ? 'stacks' : 'test/stacks', n), { out: path.join(dir, `${n}.wasm`) });
  }
  return {
    dir,
    path: (n) => path.join(dir, `${n}.wasm`),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** Polls `msh status` until `name` satisfies `pred`; returns that status. */
export async function waitForStatus(p: NsPair, name: string, pred: (s: StackStatus) => boolean, what: string, ms = 10_000): Promise<StackStatus> {
  const until = Date.now() + ms;
  let last: StackStatus | undefined;
  for (;;) {
    last = status(p).find((x) => x.name === name);
    if (last && pred(last)) return last;
    if (Date.now() > until) throw new Error(`stack '${name}' did not reach "${what}" within ${ms} ms; last status: ${JSON.stringify(last)}`);
    await sleep(150);
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * One datagram to the good udp-echo (udp:7 on A's IPv4 address) from the peer with socat;
 * true when the very same text came back. UDP may lose one datagram under a flood: up to
 * `attempts` tries, each a fresh request.
 */
export function echoes(p: NsPair, text: string, attempts = 3): boolean {
  for (let i = 0; i < attempts; i++) {
    const r = tryNs(p.nsB, 'socat', ['-T', '2', '-', `UDP:${p.ipA}:7`], text);
    if (r.out === text) return true;
  }
  return false;
}

/** Sends `count` datagrams to A's IPv4 address, port `port`, from the peer; waits for no answer. */
export function poke(p: NsPair, port: number, count = 1, payload = 'poke\n', sourcePort?: number): void {
  for (let i = 0; i < count; i++) {
    tryNs(p.nsB, 'socat', ['-u', '-', `UDP:${p.ipA}:${port}${sourcePort ? `,sourceport=${sourcePort}` : ''}`], payload);
  }
}

/**
 * Fires `count` datagrams at each of A's IPv4 `ports` from the peer, as fast as the peer's
 * kernel takes them (a traffic generator on the peer's side, not part of msh).
 */
export function burst(p: NsPair, ports: number[], count: number): void {
  const py = `import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n` +
    `for port in ${JSON.stringify(ports)}:\n    for _ in range(${count}):\n        s.sendto(b'x' * 18, ('${p.ipA}', port))\n`;
  nsExec(p.nsB, 'python3', ['-c', py], { timeoutMs: 30_000 });
}

/**
 * Datagrams that reach a UDP socket bound to `port` in the peer namespace within `ms`
 * (counted one by one after the peer's kernel segmented any GSO packet). Blocks for `ms`.
 */
export function peerDatagrams(p: NsPair, port: number, ms: number): number {
  const py = `import socket, time\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n` +
    `s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)\ns.bind(('${p.ipB}', ${port}))\n` +
    `end = time.time() + ${ms / 1000}\nn = 0\nwhile True:\n    left = end - time.time()\n    if left <= 0: break\n` +
    `    s.settimeout(left)\n    try:\n        s.recv(65535)\n        n += 1\n    except socket.timeout:\n        break\nprint(n)\n`;
  return Number(nsExec(p.nsB, 'python3', ['-c', py], { timeoutMs: ms + 10_000 }).trim());
}

/** The msh process is still running (it did not exit, and its pid is alive). */
export function isUp(m: MshProcess): boolean {
  if (m.exitCode !== null || m.child.pid === undefined) return false;
  try {
    process.kill(m.child.pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** CPU time (user + system, seconds) the process `pid` has used, from /proc. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / 100; // utime, stime in clock ticks (USER_HZ 100)
}
