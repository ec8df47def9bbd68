// Facts about the machine's interfaces, read with iproute2's JSON output (control path only).

import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { MshError } from '../errors.js';
import type { LinkInfo } from '../engine/engine.js';
import { parseAddress } from '../runtime/tuple.js';

function ipJson(args: string[]): any[] {
  try {
    return JSON.parse(execFileSync('ip', ['-j', ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }) || '[]');
  } catch (e) {
    const err = e as { stderr?: string; code?: string };
    if (err.code === 'ENOENT') throw new MshError('the `ip` command (iproute2) is missing', 'install it: apt-get install iproute2');
    throw new MshError(`ip ${args.join(' ')}: ${(err.stderr ?? '').trim() || (e as Error).message}`);
  }
}

/** The interface carrying the default route (IPv4 first, then IPv6). */
export function defaultInterface(): string {
  for (const fam of ['-4', '-6']) {
    const routes = ipJson([fam, 'route', 'show', 'default']);
    if (routes[0]?.dev) return routes[0].dev;
  }
  throw new MshError('no default route, so no default interface', 'name one with --iface (see `ip link`)');
}

export function interfaceExists(ifname: string): boolean {
  return existsSync(`/sys/class/net/${ifname}`);
}

export function readLinkInfo(ifname: string): LinkInfo {
  if (!interfaceExists(ifname)) {
    const have = readdirSync('/sys/class/net').join(', ');
    throw new MshError(`no such interface: ${ifname}`, `interfaces here: ${have}`);
  }
  const link = ipJson(['link', 'show', 'dev', ifname])[0];
  const addrs = ipJson(['addr', 'show', 'dev', ifname])[0]?.addr_info ?? [];
  const mac = String(link.address ?? '00:00:00:00:00:00').split(':').map((x) => parseInt(x, 16));
  return {
    name: ifname,
    mac: Uint8Array.from(mac.length === 6 ? mac : [0, 0, 0, 0, 0, 0]),
    mtu: link.mtu ?? 1500,
    ipv4: addrs.filter((a: any) => a.family === 'inet').map((a: any) => parseAddress(a.local)),
    ipv6: addrs.filter((a: any) => a.family === 'inet6' && !a.tentative).map((a: any) => parseAddress(a.local)),
  };
}

/** Best effort: which process holds a kernel socket on this (proto, port)? For error messages. */
export function kernelPortHolder(proto: 'tcp' | 'udp', port: number): string | undefined {
  const inodes = new Set<string>();
  for (const file of [`/proc/net/${proto}`, `/proc/net/${proto}6`]) {
    if (!existsSync(file)) continue;
    for (const line of readFileSync(file, 'utf8').split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10) continue;
      const localPort = parseInt(f[1].split(':')[1], 16);
      if (localPort === port) inodes.add(f[9]);
    }
  }
  if (!inodes.size) return undefined;
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    let fds: string[];
    try { fds = readdirSync(`/proc/${pid}/fd`); } catch { continue; }
    for (const fd of fds) {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
        if (m && inodes.has(m[1])) {
          const comm = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
          return `${comm} (pid ${pid})`;
        }
      } catch { /* raced with exit */ }
    }
  }
  return undefined;
}

/** Root, or at least the capabilities msh needs? Returns what is missing. */
export function missingPrivileges(): string[] {
  const status = readFileSync('/proc/self/status', 'utf8');
  const eff = BigInt('0x' + (/CapEff:\s*([0-9a-f]+)/.exec(status)?.[1] ?? '0'));
  const need: Array<[string, number]> = [['CAP_NET_ADMIN', 12], ['CAP_NET_RAW', 13], ['CAP_BPF', 39]];
  return need.filter(([, bit]) => (eff & (1n << BigInt(bit))) === 0n).map(([n]) => n);
}
