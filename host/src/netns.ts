// Private test topologies: a pair of network namespaces joined by a veth pair. Used by
// the demo, the integration tests and the benchmarks. Everything created carries a unique
// prefix and is removed by destroy() (also from exit handlers), and nothing touches the
// machine's own interfaces.

import { execFileSync, spawn, ChildProcess, SpawnOptions } from 'node:child_process';
import { randomBytes } from 'node:crypto';

export interface NsPair {
  /** Namespace where msh runs, and its veth end. */
  nsA: string; ifA: string; ipA: string; ip6A: string; macA: string;
  /** The peer namespace (kernel tools), and its veth end. */
  nsB: string; ifB: string; ipB: string; ip6B: string; macB: string;
  prefixLen: number;
}

function sh(cmd: string, args: string[], input?: string): string {
  return execFileSync(cmd, args, { encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe'] });
}

export function nsExec(ns: string, cmd: string, args: string[], opts: { input?: string; timeoutMs?: number } = {}): string {
  return execFileSync('ip', ['netns', 'exec', ns, cmd, ...args], { encoding: 'utf8', input: opts.input, timeout: opts.timeoutMs ?? 10_000, stdio: ['pipe', 'pipe', 'pipe'] });
}

export function nsSpawn(ns: string, cmd: string, args: string[], opts: SpawnOptions = {}): ChildProcess {
  return spawn('ip', ['netns', 'exec', ns, cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
}

const live = new Set<NsPair>();
let hooked = false;
function hookExit(): void {
  if (hooked) return;
  hooked = true;
  const cleanAll = () => { for (const p of live) destroyPair(p); };
  process.on('exit', cleanAll);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(sig, () => { cleanAll(); process.exit(130); });
  }
}

/**
 * Creates namespaces `<prefix><id>a` and `<prefix><id>b` joined by veth, with IPv4
 * 10.<net>.0.1/.2 and IPv6 fd<net>::1/::2. `net` picks the subnet (tests use distinct ones).
 */
export function createPair(prefix = 'msh', net = 99, opts: { peerTxChecksumOff?: boolean } = {}): NsPair {
  hookExit();
  const id = randomBytes(3).toString('hex');
  const p: NsPair = {
    nsA: `${prefix}${id}a`, ifA: `${prefix}${id}a`.slice(0, 15), ipA: `10.${net}.0.1`, ip6A: `fd${net}::1`, macA: '02:00:0a:00:00:01',
    nsB: `${prefix}${id}b`, ifB: `${prefix}${id}b`.slice(0, 15), ipB: `10.${net}.0.2`, ip6B: `fd${net}::2`, macB: '02:00:0a:00:00:02',
    prefixLen: 24,
  };
  live.add(p);
  try {
    sh('ip', ['netns', 'add', p.nsA]);
    sh('ip', ['netns', 'add', p.nsB]);
    sh('ip', ['link', 'add', p.ifA, 'netns', p.nsA, 'address', p.macA, 'type', 'veth', 'peer', 'name', p.ifB, 'netns', p.nsB, 'address', p.macB]);
    for (const [ns, ifn, ip, ip6] of [[p.nsA, p.ifA, p.ipA, p.ip6A], [p.nsB, p.ifB, p.ipB, p.ip6B]]) {
      nsExec(ns, 'ip', ['link', 'set', 'lo', 'up']);
      nsExec(ns, 'ip', ['addr', 'add', `${ip}/24`, 'dev', ifn]);
      nsExec(ns, 'ip', ['-6', 'addr', 'add', `${ip6}/64`, 'dev', ifn, 'nodad']);
      nsExec(ns, 'ip', ['link', 'set', ifn, 'up']);
    }
    // Default routes so "the interface carrying the default route" is the veth.
    nsExec(p.nsA, 'ip', ['route', 'add', 'default', 'via', p.ipB]);
    nsExec(p.nsB, 'ip', ['route', 'add', 'default', 'via', p.ipA]);
    if (opts.peerTxChecksumOff !== false) {
      // The peer's veth would send partial checksums (offload); stacks check checksums.
      nsExec(p.nsB, 'ethtool', ['-K', p.ifB, 'tx', 'off']);
    }
    // Static neighbours: no ARP/ND race at the start of a test.
    nsExec(p.nsB, 'ip', ['neigh', 'replace', p.ipA, 'lladdr', p.macA, 'dev', p.ifB]);
    nsExec(p.nsB, 'ip', ['-6', 'neigh', 'replace', p.ip6A, 'lladdr', p.macA, 'dev', p.ifB]);
    nsExec(p.nsA, 'ip', ['neigh', 'replace', p.ipB, 'lladdr', p.macB, 'dev', p.ifA]);
    nsExec(p.nsA, 'ip', ['-6', 'neigh', 'replace', p.ip6B, 'lladdr', p.macB, 'dev', p.ifA]);
  } catch (e) {
    destroyPair(p);
    throw e;
  }
  return p;
}

export function destroyPair(p: NsPair): void {
  live.delete(p);
  for (const ns of [p.nsA, p.nsB]) {
    // Deleting the namespace removes its veth end (and so the pair) with it.
    try { sh('ip', ['netns', 'del', ns]); } catch { /* already gone */ }
  }
}

/** Namespaces left behind by earlier runs that crashed, with this prefix. */
export function staleNamespaces(prefix: string): string[] {
  return sh('ip', ['netns', 'list']).split('\n').map((l) => l.split(' ')[0]).filter((n) => n.startsWith(prefix));
}
