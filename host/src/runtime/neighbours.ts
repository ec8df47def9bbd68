// Next-hop MAC lookups for `host.next-hop-mac`, answered from the kernel's neighbour
// table (`ip -j route get` / `ip -j neigh`). Called synchronously from a stack's worker,
// so answers are cached; an unknown neighbour starts a kernel resolution and returns null.

import { execFileSync, spawn } from 'node:child_process';
import { formatAddress } from './tuple.js';

const TTL_MS = 30_000;
const NEGATIVE_TTL_MS = 1_000;

export class NeighbourCache {
  private cache = new Map<string, { mac: Uint8Array | null; until: number }>();

  constructor(private readonly ifname: string, private readonly staticMac?: Uint8Array) {}

  lookup(address: Uint8Array): Uint8Array | null {
    if (this.staticMac) return this.staticMac;
    const key = formatAddress(address);
    const hit = this.cache.get(key);
    if (hit && hit.until > Date.now()) return hit.mac;
    const mac = this.resolve(key);
    this.cache.set(key, { mac, until: Date.now() + (mac ? TTL_MS : NEGATIVE_TTL_MS) });
    return mac;
  }

  private resolve(addr: string): Uint8Array | null {
    try {
      const route = JSON.parse(execFileSync('ip', ['-j', 'route', 'get', addr, 'oif', this.ifname], { encoding: 'utf8', timeout: 2000 }))[0];
      const hop: string = route?.gateway ?? addr;
      const neigh = JSON.parse(execFileSync('ip', ['-j', 'neigh', 'show', 'to', hop, 'dev', this.ifname], { encoding: 'utf8', timeout: 2000 }));
      const entry = neigh.find((n: any) => n.lladdr && !(n.state ?? []).includes('FAILED'));
      if (entry) return Uint8Array.from(entry.lladdr.split(':').map((x: string) => parseInt(x, 16)));
      // Unknown: one ping makes the kernel resolve it; the stack asks again later.
      spawn('ping', ['-c', '1', '-W', '1', '-I', this.ifname, hop], { stdio: 'ignore', detached: false }).on('error', () => {});
    } catch {
      // No route or no `ip`: unknown.
    }
    return null;
  }
}
