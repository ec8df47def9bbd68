// GSO (native/src/gso.h) under the real CLI, AF_XDP and AF_PACKET: udp-echo answers bursts of
// equal-sized datagrams from two flows over IPv4 and IPv6, so its echoes leave as runs
// that msh sends as GSO packets. Every echo must arrive intact and in order; the peer's
// veth must have received fewer packets than echoes (the GSO packets arrived whole); and
// with `--gso off` the same traffic goes frame by frame. TCP over GSO is covered by the
// curl/wrk tests (test/tcp/curl-wrk.test.ts checks its GSO counters).
import { describe, it, expect } from 'vitest';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { nsExec, type NsPair } from '../../host/src/netns.js';
import { stackComponent, stackPath } from '../helpers/stacks.js';
import { mshOnPairPerTest, stackStatus, udpRequest } from './msh-process.js';

const isRoot = process.getuid?.() === 0;
const here = path.dirname(fileURLToPath(import.meta.url));

interface PeerResult { sent: number; echoed: number; corrupt: number; lost: number; out_of_order: number }

// Needs root (network namespaces, veth, AF_XDP): CI and this machine run as root, so it
// runs there; without root it is skipped, not failed.
describe.skipIf(!isRoot)('GSO: udp-echo answers bursts as GSO packets', () => {
  const fixture = mshOnPairPerTest();

  const counters = (pair: NsPair): Record<string, number> => stackStatus(pair, 'udp-echo').counters;
  const peerRxPackets = (pair: NsPair): number =>
    JSON.parse(nsExec(pair.nsB, 'ip', ['-j', '-s', 'link', 'show', 'dev', pair.ifB]))[0].stats64.rx.packets;

  async function run(gso: 'on' | 'off', backend = 'xdp') {
    await stackComponent('udp-echo');
    const { p, msh } = await fixture.start('mshg', 86, (pair) => ['run', '--iface', pair.ifA, '--backend', backend, '--gso', gso,
      stackPath('udp-echo'), '--tuple', 'udp:7'], /\[udp-echo\] running/);
    expect(msh.output).toContain(`GSO ${gso}`);
    expect(udpRequest(p.nsB, p.ipA, 7, 'warm').out).toBe('warm');
    const before = counters(p);
    const rxBefore = peerRxPackets(p);
    const results: PeerResult[] = [];
    const perFamily: number[] = [];
    for (const host of [p.ipA, p.ip6A]) {
      const c0 = counters(p).gso_packets ?? 0;
      results.push(JSON.parse(nsExec(p.nsB, '/usr/bin/python3', [path.join(here, 'gso_peer.py'), host, '7', '120'], { timeoutMs: 60_000 })));
      perFamily.push((counters(p).gso_packets ?? 0) - c0);
    }
    const rx = peerRxPackets(p) - rxBefore;
    const after = counters(p);
    const d = (k: string) => (after[k] ?? 0) - (before[k] ?? 0);
    for (const r of results) {
      expect(r.sent).toBeGreaterThan(5000);
      expect(r, JSON.stringify(r)).toMatchObject({ echoed: r.sent, corrupt: 0, lost: 0, out_of_order: 0 });
    }
    const echoed = results.reduce((a, r) => a + r.echoed, 0);
    return { echoed, rx, perFamily, packets: d('gso_packets'), frames: d('gso_frames'), fallback: d('gso_fallback'), txFrames: d('tx_frames') };
  }

  it.each(['xdp', 'packet'])('%s, GSO on: every echo intact and in order, and fewer packets reach the peer than echoes', async (backend) => {
    const r = await run('on', backend);
    console.log(`${backend}, gso on: ${r.echoed} echoes, ${r.packets} GSO packets carrying ${r.frames} of them, ${r.fallback} sent frame by frame after a full buffer; peer veth received ${r.rx} packets`);
    expect(r.txFrames).toBe(r.echoed);
    expect(r.perFamily[0], 'GSO packets over IPv4').toBeGreaterThan(0);
    expect(r.perFamily[1], 'GSO packets over IPv6').toBeGreaterThan(0);
    expect(r.frames).toBeGreaterThanOrEqual(2 * r.packets);
    // Each GSO packet crossed the veth as one packet: what the peer's veth counted is the
    // frames sent one by one plus one per GSO packet (a few more for ND/ARP at most).
    expect(r.rx).toBeLessThanOrEqual(r.echoed - r.frames + r.packets + 20);
    expect(r.rx).toBeLessThan(r.echoed);
  }, 120_000);

  it('xdp, --gso off: the same traffic goes frame by frame', async () => {
    const r = await run('off');
    expect(r.txFrames).toBe(r.echoed);
    expect(r.packets).toBe(0);
    expect(r.rx).toBeGreaterThanOrEqual(r.echoed);
  }, 120_000);
});
