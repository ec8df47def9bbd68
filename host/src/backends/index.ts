// Opens a link (one interface, or the in-process switch) with a packet I/O backend, and
// ties tuple ownership to the kernel: a reservation socket per tuple, plus the backend's
// own steering (XDP map, nft set) which the native side and nft.ts keep.

import { loadNative } from '../native.js';
import { MshError } from '../errors.js';
import type { LinkInfo, OwnedTuple } from '../engine/engine.js';
import type { LinkBinding } from '../runtime/stack-host.js';
import { formatTuple } from '../runtime/tuple.js';
import { kernelPortHolder, readLinkInfo } from './system.js';

export type BackendName = 'auto' | 'xdp' | 'packet' | 'tap' | 'switch';
export const BACKENDS: BackendName[] = ['auto', 'xdp', 'packet', 'tap'];

export interface OpenLink {
  binding: LinkBinding;
  /** Why auto picked this backend, or the backend asked for. */
  description: string;
  close(): void;
}

/** Kernel reservations for owned tuples (see native/src/reserve.cc). */
export class Reservations {
  private fds = new Map<string, number>();
  private native = loadNative();

  reserve(t: OwnedTuple, stack: string): void {
    try {
      this.fds.set(formatTuple(t), this.native.reservePort(t.protocol === 'tcp' ? 6 : 17, t.address, t.port));
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EADDRINUSE') {
        const holder = kernelPortHolder(t.protocol, t.port);
        throw new MshError(`cannot claim ${formatTuple(t)} for stack '${stack}': a kernel application already holds it${holder ? ` (${holder})` : ''}`, 'stop that application or choose another port');
      }
      throw new MshError(`cannot reserve ${formatTuple(t)} in the kernel: ${(e as Error).message}`);
    }
  }

  unreserve(t: OwnedTuple): void {
    const k = formatTuple(t);
    const fd = this.fds.get(k);
    if (fd !== undefined) {
      this.native.releasePort(fd);
      this.fds.delete(k);
    }
  }

  releaseAll(): void {
    for (const fd of this.fds.values()) this.native.releasePort(fd);
    this.fds.clear();
  }
}

/** An in-process switch link: no NIC, no kernel involvement. For tests and simulation. */
export function openSwitchLink(info: LinkInfo, nextHop?: Uint8Array): OpenLink {
  const native = loadNative();
  const linkId = native.createSwitchLink({ mac: info.mac });
  return {
    binding: { linkId, info, backend: 'switch', staticNextHop: nextHop ?? new Uint8Array([0x02, 0, 0, 0, 0, 0xfe]) },
    description: 'in-process switch',
    close: () => native.destroyLink(linkId),
  };
}

/** Options of an interface link (global `msh run` options). */
export interface LinkOptions {
  /** AF_XDP: send runs of segments as GSO packets (native/src/gso.h). Default true. */
  gso?: boolean;
}

export async function openInterfaceLink(ifname: string, backend: BackendName, options: LinkOptions = {}): Promise<OpenLink> {
  const info = readLinkInfo(ifname);
  // Whatever backend runs now, nft tables a crashed msh left behind (any backend) would
  // keep blocking their tuples: remove those whose owner process is gone.
  const { removeStaleTables } = await import('./nft.js');
  for (const t of removeStaleTables()) console.log(`msh: removed stale nftables table ${t.name ?? JSON.stringify(t)} left by a crashed msh`);
  const order: BackendName[] = backend === 'auto' ? ['xdp', 'packet', 'tap'] : [backend];
  const failures: string[] = [];
  for (const b of order) {
    try {
      const link = await openBackend(b, info, options);
      if (backend === 'auto' && failures.length) link.description += ` (auto: ${failures.join('; ')})`;
      else if (backend === 'auto') link.description += ' (auto: the best backend that works here)';
      return link;
    } catch (e) {
      if (backend !== 'auto') throw e;
      failures.push(`${b} failed: ${(e as Error).message}`);
    }
  }
  throw new MshError(`no backend works on ${ifname}:\n  ${failures.join('\n  ')}`);
}

async function openBackend(b: BackendName, info: LinkInfo, options: LinkOptions): Promise<OpenLink> {
  const native = loadNative();
  const reservations = new Reservations();
  const common = {
    reserve: (t: OwnedTuple, stack: string) => reservations.reserve(t, stack),
    unreserve: (t: OwnedTuple) => reservations.unreserve(t),
  };
  switch (b) {
    case 'xdp': {
      const gso = options.gso ?? true;
      const linkId = wrapNative(() => native.createXdpLink({ ifname: info.name, mac: info.mac, gso }), 'xdp', info.name);
      const mode = native.xdpLinkInfo(linkId).mode;
      return {
        binding: { linkId, info, backend: 'xdp', ...common },
        description: `AF_XDP on ${info.name} (${mode} mode, GSO ${gso ? 'on' : 'off'})`,
        close: () => { reservations.releaseAll(); native.destroyLink(linkId); },
      };
    }
    case 'packet': {
      const { NftSteering } = await import('./nft.js');
      const nft = NftSteering.open(info.name);
      let linkId: number;
      try {
        linkId = wrapNative(() => native.createPacketLink({ ifname: info.name, mac: info.mac, gso: options.gso ?? true }), 'packet', info.name);
      } catch (e) {
        nft.close();
        throw e;
      }
      return {
        binding: {
          linkId, info, backend: 'packet',
          reserve: (t, s) => { reservations.reserve(t, s); try { nft.add(t); } catch (e) { reservations.unreserve(t); throw e; } },
          unreserve: (t) => { nft.remove(t); reservations.unreserve(t); },
        },
        description: `AF_PACKET (TPACKET_V3) on ${info.name}, kernel kept off owned tuples by nftables (GSO ${options.gso ?? true ? 'on' : 'off'})`,
        close: () => { reservations.releaseAll(); native.destroyLink(linkId); nft.close(); },
      };
    }
    case 'tap': {
      const { openTapLink } = await import('./tap.js');
      return openTapLink(info, reservations);
    }
    default:
      throw new MshError(`unknown backend '${b}'`, 'use auto, xdp, packet or tap');
  }
}

function wrapNative<T>(fn: () => T, backend: string, ifname: string): T {
  try {
    return fn();
  } catch (e) {
    throw new MshError(`the ${backend} backend cannot open ${ifname}: ${(e as Error).message}`);
  }
}
