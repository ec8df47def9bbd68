// Test driver for the fallback backends (packet, tap), run inside a network namespace by
// test/backends/*.test.ts: `ip netns exec NS node test/backends/driver.mjs CONFIG_JSON`.
// The rings, the UDP echo and the stdin/stdout protocol are test/helpers/link-driver.mjs;
// the control side is the product's own (dist/host/src/backends/{nft,tap}.js, built by
// scripts/build.sh).
//
// CONFIG_JSON: {
//   backend: 'packet' | 'tap',
//   ifname,                                   packet; tap steer: the interface served
//   nft?: boolean (packet, default true)      install the kernel filter table
//   packet?: {...}                            more createPacketLink options
//   tap?: { mode: 'steer' | 'routed', addresses?: [...], tapName? },
//   ports: [{ echo?: boolean (default true), claims: [{ proto, addr, port }] }] }
// Commands: stats | quit | destroy.
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';
import { native, root, serve } from '../helpers/link-driver.mjs';

const dist = (p) => import(pathToFileURL(resolve(root, 'dist/host/src', p)).href);
const cfg = JSON.parse(process.argv[2]);

async function open() {
  if (cfg.backend === 'packet') {
    let steering, nftTable;
    if (cfg.nft !== false) {
      const { NftSteering } = await dist('backends/nft.js');
      steering = NftSteering.open(cfg.ifname);
      nftTable = steering.table;
    }
    const id = native.createPacketLink({ ifname: cfg.ifname, ...(cfg.packet ?? {}) });
    return {
      id,
      info: () => ({ ...native.packetLinkInfo(id), nftTable, nftDropped: steering?.dropped() }),
      close: () => { native.destroyLink(id); steering?.close(); },
      reserve: (t) => steering?.add(t),
    };
  }
  if (cfg.backend === 'tap') {
    const { openTapLink } = await dist('backends/tap.js');
    const mode = cfg.tap?.mode ?? 'steer';
    let linkInfo;
    if (mode === 'steer') {
      const { readLinkInfo } = await dist('backends/system.js');
      linkInfo = readLinkInfo(cfg.ifname);
    }
    const link = await openTapLink(linkInfo, undefined, { mode, addresses: cfg.tap?.addresses, tapName: cfg.tap?.tapName });
    const id = link.binding.linkId;
    const staticNextHop = link.binding.staticNextHop ? [...link.binding.staticNextHop] : null;
    return {
      id,
      info: () => ({ ...native.tapLinkInfo(id), staticNextHop, description: link.description }),
      close: () => link.close(),
      reserve: (t, s) => link.binding.reserve?.(t, s),
    };
  }
  throw new Error(`unknown backend ${cfg.backend}`);
}

await serve(open, cfg.ports ?? []);
