// The tap backend's control side: creates the link (the native side creates the tap
// device, IFF_TAP | IFF_NO_PI, not persistent: it disappears with the process), then
// wires the device into the kernel's network in one of two modes:
//
// - 'steer' (default; what `--backend tap --iface IF` means): the stacks serve IF's own
//   addresses, like the xdp and packet backends. An nftables netdev table forwards
//   frames for owned tuples from IF's ingress straight out of the tap, and everything the
//   stacks write into the tap straight out of IF (TapSteering in nft.ts). The kernel never
//   sees owned traffic; ARP, ping and unowned ports stay with it. The stacks use IF's MAC
//   and find next hops in IF's neighbour table. Kernel reservations keep local
//   applications off the owned ports. The tap has no addresses (IPv6 disabled on it).
// - 'routed': the stacks have addresses of their own (e.g. 10.78.5.2/30): the tap gets
//   another address of each prefix (the kernel's end) and a permanent neighbour entry
//   maps each stack address to the stacks' MAC, so no ARP/ND is needed. Peers beyond this
//   host reach the stacks through routing (the host must forward: net.ipv4.ip_forward /
//   net.ipv6.conf.all.forwarding, and peers need a route to the prefix via this host);
//   msh does not change those global settings. The stacks' next hop is always the tap's
//   own MAC. No reservations or nft are needed: no kernel socket can bind those
//   addresses and the kernel never answers for them.
//
// The policy-routing variant of steering (nft fwmark + `ip rule` + accept_local=1 +
// rp_filter=0 on the tap, from the platform notes) also works, but needs the `local`
// routing rule moved and global forwarding on; netdev `fwd` needs neither.

import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { isIPv4, isIPv6 } from 'node:net';
import { loadFallbackNative } from './fallback-native.js';
import { MshError } from '../errors.js';
import type { LinkInfo, OwnedTuple } from '../engine/engine.js';
import { formatAddress, parseAddress } from '../runtime/tuple.js';
import type { OpenLink, Reservations } from './index.js';
import { TapSteering } from './nft.js';

export type TapMode = 'steer' | 'routed';

export interface TapLinkOptions {
  mode?: TapMode;
  /** Device name; default `msh-<8 hex digits>`. */
  tapName?: string;
  /** routed: the stacks' addresses with prefix length, e.g. ['10.78.5.2/30', 'fd78:5::2/64']. */
  addresses?: string[];
  /** routed: the stacks' MAC; default a random locally administered one. */
  mac?: Uint8Array;
  /** MTU of the tap (and the link); default the interface's (steer) or 1500 (routed). */
  mtu?: number;
}

export function newTapName(): string {
  return `msh-${randomBytes(4).toString('hex')}`;
}

/** A random unicast, locally administered MAC. */
export function randomMac(): Uint8Array {
  const m = randomBytes(6);
  m[0] = (m[0] & 0xfc) | 0x02;
  return Uint8Array.from(m);
}

export function formatMac(m: Uint8Array): string {
  return [...m].map((b) => b.toString(16).padStart(2, '0')).join(':');
}

/** The MAC of a device in this namespace. */
export function readMac(ifname: string): Uint8Array {
  const text = readFileSync(`/sys/class/net/${ifname}/address`, 'utf8').trim();
  return Uint8Array.from(text.split(':').map((x) => parseInt(x, 16)));
}

function ip(args: string[]): void {
  try {
    execFileSync('ip', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    const err = e as { code?: string; stderr?: Buffer };
    if (err.code === 'ENOENT') throw new MshError('the `ip` command (iproute2) is missing', 'install it: apt-get install iproute2');
    throw new MshError(`ip ${args.join(' ')}: ${String(err.stderr ?? '').trim() || (e as Error).message}`);
  }
}

export interface RoutedAddress {
  /** The stacks' address and the kernel's address on the tap, same prefix. */
  stack: Uint8Array;
  kernel: Uint8Array;
  prefixLen: number;
}

/**
 * Splits 'ADDR/LEN' specs into the stacks' address and a kernel address on the same
 * prefix (the first host address of the prefix that is not the stacks' one).
 */
export function planRoutedAddresses(specs: string[]): RoutedAddress[] {
  return specs.map((spec) => {
    const m = /^([^/]+)\/(\d+)$/.exec(spec.trim());
    if (!m || !(isIPv4(m[1]) || isIPv6(m[1]))) {
      throw new MshError(`bad tap address '${spec}': expected ADDRESS/PREFIXLEN`, 'e.g. 10.78.5.2/30 or fd78:5::2/64');
    }
    const stack = parseAddress(m[1]);
    const len = Number(m[2]);
    const bits = stack.length * 8;
    if (len < 1 || len > bits - 2) {
      throw new MshError(`tap address '${spec}': prefix length must be 1..${bits - 2}, room for the kernel's end`);
    }
    const net = Uint8Array.from(stack);
    for (let i = 0; i < bits; i++) if (i >= len) net[i >> 3] &= ~(0x80 >> (i & 7));
    const plus = (k: number) => {
      const a = Uint8Array.from(net);
      let carry = k;
      for (let i = a.length - 1; i >= 0 && carry; i--) {
        const v = a[i] + carry;
        a[i] = v & 0xff;
        carry = v >> 8;
      }
      return a;
    };
    const same = (a: Uint8Array, b: Uint8Array) => a.every((x, i) => x === b[i]);
    if (same(stack, net)) throw new MshError(`tap address '${spec}' is the prefix's network address`);
    const kernel = same(plus(1), stack) ? plus(2) : plus(1);
    return { stack, kernel, prefixLen: len };
  });
}

function writeSysctl(path: string, value: string): void {
  try { writeFileSync(path, value); } catch { /* not there (IPv6 disabled): nothing to do */ }
}

/** Brings a steer-mode tap up with no addresses and no IPv6 of its own. */
export function configureSteerTap(tap: string, mtu: number): void {
  writeSysctl(`/proc/sys/net/ipv6/conf/${tap}/disable_ipv6`, '1');
  ip(['link', 'set', 'dev', tap, 'addrgenmode', 'none']);
  ip(['link', 'set', 'dev', tap, 'mtu', String(mtu), 'up']);
}

/** Gives a routed-mode tap the kernel's addresses and permanent neighbours for the stacks. */
export function configureRoutedTap(tap: string, mtu: number, stackMac: Uint8Array, plan: RoutedAddress[]): void {
  ip(['link', 'set', 'dev', tap, 'mtu', String(mtu), 'up']);
  for (const a of plan) {
    const v6 = a.stack.length === 16;
    ip([...(v6 ? ['-6'] : []), 'addr', 'add', `${formatAddress(a.kernel)}/${a.prefixLen}`, 'dev', tap, ...(v6 ? ['nodad'] : [])]);
    ip([...(v6 ? ['-6'] : []), 'neigh', 'replace', formatAddress(a.stack), 'lladdr', formatMac(stackMac), 'dev', tap, 'nud', 'permanent']);
  }
}

/**
 * Opens a tap link. `info` is the interface the stacks serve (steer mode); routed mode
 * needs only opts.addresses. `reservations` is used in steer mode.
 */
export async function openTapLink(info: LinkInfo | undefined, reservations: Reservations | undefined,
  opts: TapLinkOptions = {}): Promise<OpenLink> {
  const native = loadFallbackNative();
  const mode: TapMode = opts.mode ?? 'steer';
  const tapName = opts.tapName ?? newTapName();
  if (mode === 'steer') {
    if (!info) throw new MshError('the tap backend in steer mode needs an interface (--iface)');
    const mtu = opts.mtu ?? info.mtu;
    const linkId = wrap(() => native.createTapLink({ tapName, mac: info.mac, mtu }), tapName);
    let steering: TapSteering | undefined;
    try {
      configureSteerTap(tapName, mtu);
      steering = TapSteering.open(info.name, tapName);
    } catch (e) {
      native.destroyLink(linkId);
      throw e;
    }
    const st = steering;
    return {
      binding: {
        linkId, info, backend: 'tap',
        reserve: (t: OwnedTuple, stack: string) => {
          reservations?.reserve(t, stack);
          try { st.add(t); } catch (e) { reservations?.unreserve(t); throw e; }
        },
        unreserve: (t: OwnedTuple) => { st.remove(t); reservations?.unreserve(t); },
      },
      description: `TAP ${tapName}, steered from ${info.name} by nftables (netdev fwd)`,
      close: () => { st.close(); reservations?.releaseAll(); native.destroyLink(linkId); },
    };
  }
  if (mode !== 'routed') throw new MshError(`unknown tap mode '${mode}'`, "use 'steer' or 'routed'");
  if (!opts.addresses?.length) {
    throw new MshError('the tap backend in routed mode needs the stacks\' addresses', 'e.g. 10.78.5.2/30 (the tap gets 10.78.5.1)');
  }
  const plan = planRoutedAddresses(opts.addresses);
  const mac = opts.mac ?? randomMac();
  const mtu = opts.mtu ?? 1500;
  const linkId = wrap(() => native.createTapLink({ tapName, mac, mtu }), tapName);
  let tapMac: Uint8Array;
  try {
    configureRoutedTap(tapName, mtu, mac, plan);
    tapMac = readMac(tapName);
  } catch (e) {
    native.destroyLink(linkId);
    throw e;
  }
  const linkInfo: LinkInfo = {
    name: tapName, mac, mtu,
    ipv4: plan.filter((a) => a.stack.length === 4).map((a) => a.stack),
    ipv6: plan.filter((a) => a.stack.length === 16).map((a) => a.stack),
  };
  return {
    binding: { linkId, info: linkInfo, backend: 'tap', staticNextHop: tapMac },
    description: `TAP ${tapName}, stacks at ${opts.addresses.join(', ')} (routed through the tap)`,
    close: () => native.destroyLink(linkId),
  };
}

function wrap<T>(fn: () => T, tapName: string): T {
  try {
    return fn();
  } catch (e) {
    throw new MshError(`the tap backend cannot create ${tapName}: ${(e as Error).message}`);
  }
}
