// Stacks driven through the in-process switch: the runtime, the classifier and the
// guest rings end to end, with no NIC.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadNative } from '../../host/src/native.js';
import { openSwitchLink, OpenLink } from '../../host/src/backends/index.js';
import { StackHost } from '../../host/src/runtime/stack-host.js';
import { parseTuple } from '../../host/src/runtime/tuple.js';
import type { LinkInfo } from '../../host/src/engine/engine.js';
import { buildFrame, ipv4, ipv6, MAC_HOST, MAC_PEER, parseUdpFrame } from '../helpers/frames.js';
import { stackComponent } from '../helpers/stacks.js';

const native = loadNative();
const LINK: LinkInfo = {
  name: 'sw0', mac: Uint8Array.from(MAC_HOST), mtu: 1500,
  ipv4: [Uint8Array.from(ipv4('10.0.0.1'))], ipv6: [Uint8Array.from(ipv6('fd00::1'))],
};
const PEER4 = ipv4('10.0.0.2');
const PEER6 = ipv6('fd00::2');

async function waitFor<T>(fn: () => T | undefined, what: string, ms = 3000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Collects frames the stacks transmitted (the wire side of the switch) until `n` arrived. */
async function wireFrames(link: number, n: number): Promise<Buffer[]> {
  const got: Buffer[] = [];
  await waitFor(() => {
    for (const f of native.switchDrainWire(link)) got.push(Buffer.from(f));
    return got.length >= n ? true : undefined;
  }, `${n} frame(s) on the wire (have ${got.length})`);
  return got;
}

describe('stacks on the in-process switch', () => {
  let link: OpenLink;
  let host: StackHost;

  beforeAll(async () => {
    link = openSwitchLink(LINK);
    host = new StackHost(link.binding);
    await host.start({ name: 'echo', component: await stackComponent('udp-echo'), tuples: [parseTuple('udp:7')] });
    await host.start({ name: 'kv', component: await stackComponent('kv-store'), tuples: [parseTuple('udp:6379')] });
  }, 60_000);

  afterAll(async () => {
    await host?.stopAll();
    host?.close();
    link?.close();
  });

  it('echoes IPv4 UDP with swapped addresses and correct checksums', async () => {
    const payload = Buffer.from('hello over IPv4');
    native.switchInject(link.binding.linkId, [buildFrame({ src: PEER4, dst: ipv4('10.0.0.1'), sport: 40000, dport: 7, payload })]);
    const [f] = await wireFrames(link.binding.linkId, 1);
    const r = parseUdpFrame(f);
    expect(r.dstMac).toEqual(MAC_PEER);
    expect(r.srcMac).toEqual(MAC_HOST);
    expect([...r.src]).toEqual([10, 0, 0, 1]);
    expect([...r.dst]).toEqual([...PEER4]);
    expect([r.sport, r.dport]).toEqual([7, 40000]);
    expect(r.payload.toString()).toBe('hello over IPv4');
    expect(r.ipChecksumOk).toBe(true);
    expect(r.udpChecksumOk).toBe(true);
  });

  it('echoes IPv6 UDP with swapped addresses and a correct checksum', async () => {
    const payload = Buffer.from('hello over IPv6, a little longer');
    native.switchInject(link.binding.linkId, [buildFrame({ src: PEER6, dst: ipv6('fd00::1'), sport: 40001, dport: 7, payload })]);
    const [f] = await wireFrames(link.binding.linkId, 1);
    const r = parseUdpFrame(f);
    expect(r.src).toEqual(ipv6('fd00::1'));
    expect(r.dst).toEqual(PEER6);
    expect([r.sport, r.dport]).toEqual([7, 40001]);
    expect(r.payload).toEqual(payload);
    expect(r.udpChecksumOk).toBe(true);
  });

  it('sends frames to unowned tuples to the kernel port, untouched', async () => {
    const before = native.counters(link.binding.linkId, 0).rx_frames;
    const frame = buildFrame({ src: PEER4, dst: ipv4('10.0.0.1'), sport: 40000, dport: 9, payload: Buffer.from('nobody owns 9') });
    native.switchInject(link.binding.linkId, [frame]);
    const k = native.switchDrainKernel(link.binding.linkId).map((x) => Buffer.from(x));
    expect(k).toHaveLength(1);
    expect(k[0]).toEqual(frame);
    expect(native.counters(link.binding.linkId, 0).rx_frames).toBe(before + 1);
    // and nothing came back from a stack
    await new Promise((r) => setTimeout(r, 50));
    expect(native.switchDrainWire(link.binding.linkId)).toHaveLength(0);
  });

  it('gives each stack only its own tuples', async () => {
    const echo = host.counters('echo');
    const kv = host.counters('kv');
    native.switchInject(link.binding.linkId, [
      buildFrame({ src: PEER4, dst: ipv4('10.0.0.1'), sport: 5000, dport: 6379, payload: Buffer.from('SET k v') }),
      buildFrame({ src: PEER4, dst: ipv4('10.0.0.1'), sport: 5001, dport: 7, payload: Buffer.from('echo me') }),
      buildFrame({ src: PEER6, dst: ipv6('fd00::1'), sport: 5002, dport: 6379, payload: Buffer.from('GET k') }),
    ]);
    const frames = (await wireFrames(link.binding.linkId, 3)).map(parseUdpFrame);
    const bySport = new Map(frames.map((r) => [r.dport, r]));
    expect(bySport.get(5000)!.payload.toString()).toBe('OK\n');
    expect(bySport.get(5001)!.payload.toString()).toBe('echo me');
    expect(bySport.get(5002)!.payload.toString()).toBe('VALUE v\n');
    expect(bySport.get(5002)!.udpChecksumOk).toBe(true);
    expect(host.counters('echo').rx_frames - echo.rx_frames).toBe(1);
    expect(host.counters('kv').rx_frames - kv.rx_frames).toBe(2);
  });

  it('refuses a tuple another stack owns, naming the owner', async () => {
    await expect(host.start({ name: 'thief', component: await stackComponent('udp-echo'), tuples: [parseTuple('udp:10.0.0.1:7')] }))
      .rejects.toThrow(/udp:10\.0\.0\.1:7.*owned by stack 'echo'/);
    expect(host.get('thief')).toBeUndefined();
  });
});

describe('TX validation', () => {
  it('drops and counts every forged frame, sends the honest one', async () => {
    const link = openSwitchLink(LINK);
    const host = new StackHost(link.binding);
    try {
      await host.start({ name: 'spoofer', component: await stackComponent('spoofer'), tuples: [parseTuple('udp:10.0.0.1:5353')] });
      native.switchInject(link.binding.linkId, [buildFrame({ src: PEER4, dst: ipv4('10.0.0.1'), sport: 999, dport: 5353, payload: Buffer.from('x'.repeat(20)) })]);
      const [honest] = await wireFrames(link.binding.linkId, 1);
      await waitFor(() => {
        const c = host.counters('spoofer');
        return c.tx_frames + Object.entries(c).filter(([k]) => k.startsWith('tx_') && !['tx_frames', 'tx_bytes'].includes(k)).reduce((a, [, v]) => a + v, 0) >= 7 ? true : undefined;
      }, 'all seven frames accounted for');
      await new Promise((r) => setTimeout(r, 20));
      expect(native.switchDrainWire(link.binding.linkId)).toHaveLength(0); // no forgery got out
      const r = parseUdpFrame(honest);
      expect([r.sport, r.dport]).toEqual([5353, 999]);
      const c = host.counters('spoofer');
      expect(c.tx_frames).toBe(1);
      expect(c.tx_bad_src_mac).toBe(1);
      expect(c.tx_bad_tuple).toBe(3); // forged address, forged port, other protocol
      expect(c.tx_bad_ethertype).toBe(1); // ARP
      expect(c.tx_malformed).toBe(1); // IP length beyond the frame
    } finally {
      await host.stopAll();
      host.close();
      link.close();
    }
  }, 30_000);
});
