// Malformed and unusual frames from a kernel peer, end to end through `msh run` on veth:
// truncated headers, bad IHL and lengths, broken IPv6 extension chains, garbage, IPv4
// options, IPv6 extension-header chains and IP fragments (test/run/malformed.py crafts
// them with scapy). Nothing crashes; well-formed frames are echoed; every fragment of the
// owned flow reaches the stack; the malformed ones never reach it and are counted on the
// link; and the stack keeps answering.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createPair, destroyPair, nsExec, NsPair } from '../../host/src/netns.js';
import { stackComponent, stackPath } from '../helpers/stacks.js';
import { linkCounters, MshProcess, stackStatus, udpRequest } from './msh-process.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const isRoot = process.getuid?.() === 0;

interface Sent { sent: Record<string, number>; echoed: string[] }

let net = 70;

// Needs root (network namespaces, AF_XDP); CI runs as root, so it runs there.
describe.skipIf(!isRoot).each(['xdp', 'packet'])('malformed frames through msh run --backend %s', (backend) => {
  let p: NsPair;
  let msh: MshProcess;
  let result: Sent;
  let stackBefore: Record<string, number>;
  let linkBefore: Record<string, number>;
  let stack: Record<string, number>;
  let link: Record<string, number>;

  const echoCounters = () => stackStatus(p, 'udp-echo').counters;

  beforeAll(async () => {
    await stackComponent('udp-echo');
    p = createPair('mshm', net++);
    msh = MshProcess.start(p.nsA, ['run', '--iface', p.ifA, '--backend', backend, stackPath('udp-echo'), '--tuple', 'udp:7']);
    await msh.waitFor(/\[udp-echo\] running/);
    // Neighbour entries both ways first, so the crafted frames are the only traffic counted.
    expect(udpRequest(p.nsB, p.ipA, 7, 'warm').out).toBe('warm');
    expect(udpRequest(p.nsB, p.ip6A, 7, 'warm6', true).out).toBe('warm6');
    stackBefore = echoCounters();
    linkBefore = linkCounters(p);
    result = JSON.parse(nsExec(p.nsB, '/usr/bin/python3', [path.join(here, 'malformed.py'), p.ifB, p.macA, p.ipA, p.ip6A, p.ipB, p.ip6B], { timeoutMs: 60_000 }));
    stack = echoCounters();
    link = linkCounters(p);
  }, 120_000);

  afterAll(async () => {
    await msh?.stop();
    if (p) destroyPair(p);
  });

  const delta = (now: Record<string, number>, before: Record<string, number>, k: string) => (now[k] ?? 0) - (before[k] ?? 0);

  it('echoes the plain well-formed ones', () => {
    // udp-echo answers plain datagrams only: it drops IPv4 options and IPv6 extension
    // headers on purpose (guest-sdk/assembly/wire/echo.ts), and does not reassemble.
    expect(result.echoed.sort()).toEqual(['good4', 'good6']);
  });

  it('delivers IPv4 options, an IPv6 extension chain and every fragment to the stack, and nothing malformed', () => {
    const s = result.sent;
    expect(s.frag4).toBeGreaterThanOrEqual(3);
    expect(s.frag6).toBeGreaterThanOrEqual(3);
    // Exactly the four well-formed frames plus every fragment: no malformed frame got through.
    expect(delta(stack, stackBefore, 'rx_frames')).toBe(4 + s.frag4 + s.frag6);
    expect(delta(stack, stackBefore, 'tx_frames')).toBe(2);
    expect(delta(stack, stackBefore, 'rx_dropped_too_big')).toBe(0);
  });

  it('counts what it could not parse on the link', () => {
    const malformed = Object.entries(result.sent)
      .filter(([k]) => !['good4', 'good6', 'v4opts', 'v6chain', 'frag4', 'frag6'].includes(k))
      .reduce((a, [, n]) => a + n, 0);
    expect(malformed).toBeGreaterThan(15);
    // The backend's own parser (the XDP program) or the host's (AF_PACKET, and whatever
    // XDP steered but the host then rejected) names each one; the rest went to the kernel
    // untouched, which is where the kernel counts them (the host never drops them silently).
    const rejected = delta(link, linkBefore, 'xdp_parse_error') + delta(link, linkBefore, 'rx_malformed');
    expect(rejected).toBeGreaterThan(0);
    // With AF_XDP, frames whose ports parse (e.g. a UDP length past the datagram) are
    // steered to the stack's socket; the host's parser stops them there.
    if (backend === 'xdp') expect(delta(stack, stackBefore, 'rx_dropped_malformed')).toBeGreaterThanOrEqual(4);
    const accounted = rejected + delta(link, linkBefore, 'xdp_pass') + delta(link, linkBefore, 'rx_to_kernel');
    expect(accounted).toBeGreaterThanOrEqual(malformed);
  });

  it('keeps serving: the host is up and the stack answers', () => {
    expect(msh.exitCode).toBeNull();
    expect(udpRequest(p.nsB, p.ipA, 7, 'after').out).toBe('after');
    expect(stackStatus(p, 'udp-echo').state).toBe('running');
  });
});
