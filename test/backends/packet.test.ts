// The AF_PACKET backend against real kernel peers: two namespaces joined by veth, the
// backend (addon + the host's nft table, driven by test/backends/driver.mjs) in namespace
// A, kernel tools (socat, ping, peer.py) in namespace B. The peer keeps its veth checksum
// offload ON, so frames arrive with TP_STATUS_CSUMNOTREADY and echoes only get through if
// the backend completes their checksums.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { createPair, destroyPair, nsExec, type NsPair } from '../../host/src/netns.js';
import {
  Driver, addonPath, isRoot, nftTables, probeTcp, probeUdp, requireBuild, socatEcho, udpBurst,
} from './harness.js';

/** A kernel TCP sink (socat) in namespace `ns`, discarding what it receives. */
function spawnSink(ns: string, port: number): ChildProcess {
  return spawn('ip', ['netns', 'exec', ns, 'socat', '-u', `TCP4-LISTEN:${port},reuseaddr,fork`, 'OPEN:/dev/null'], { stdio: 'ignore' });
}

describe('packet backend: argument and interface errors', () => {
  it('names a missing interface and refuses bad ring geometry', () => {
    requireBuild();
    const native = createRequire(import.meta.url)(addonPath);
    let err: any;
    try { native.createPacketLink({ ifname: 'mshpnosuch0' }); } catch (e) { err = e; }
    expect(err?.message).toMatch(/no such interface 'mshpnosuch0'/);
    expect(err?.code).toBe('ENODEV');
    expect(() => native.createPacketLink({ ifname: 'lo', blockCount: 1 })).toThrow(/blockCount must be an integer in 2\.\./);
    expect(() => native.createPacketLink({ ifname: 'lo', qdiscBypass: 'yes' })).toThrow(/qdiscBypass must be a boolean/);
    expect(() => native.createTapLink({ tapName: 'mshpx' })).toThrow(/mac \(the stacks' MAC\) is required/);
  });
});

describe.skipIf(!isRoot)('packet backend on veth', () => {
  let pair: NsPair;
  let drv: Driver;
  let ready: any;
  const drivers: Driver[] = [];

  beforeAll(async () => {
    requireBuild();
    pair = createPair('mshp', 78, { peerTxChecksumOff: false });
    drv = Driver.start(pair.nsA, {
      backend: 'packet',
      ifname: pair.ifA,
      ports: [
        { claims: [{ proto: 'udp', addr: pair.ipA, port: 7 }, { proto: 'udp', addr: pair.ip6A, port: 7 }] },
        // Owned but silent: the kernel must not answer these either.
        { echo: false, claims: [{ proto: 'udp', addr: pair.ipA, port: 9 }, { proto: 'tcp', addr: pair.ipA, port: 8080 },
          { proto: 'tcp', addr: pair.ip6A, port: 8080 }] },
      ],
    });
    drivers.push(drv);
    ready = await drv.ready();
  }, 30_000);

  afterAll(async () => {
    for (const d of drivers) await d.stop();
    if (pair) destroyPair(pair);
  });

  it('installs its nft table with the owner recorded', () => {
    expect(ready.backend).toBe('packet');
    expect(ready.nftTable).toBe(`msh_${pair.ifA}_${ready.pid}`);
    const text = nsExec(pair.nsA, 'nft', ['list', 'table', 'inet', ready.nftTable]);
    expect(text).toMatch(new RegExp(`comment "msh owner pid=${ready.pid} start=\\d+ ifname=${pair.ifA}"`));
    expect(text).toMatch(/hook input priority -200/);
    expect(text).toMatch(/10\.78\.0\.1 \. udp \. 7/);
    expect(text).toMatch(/fd78::1 \. tcp \. 8080/);
  });

  it('echoes UDP over IPv4 and IPv6 (socat in the peer namespace), checksums completed', async () => {
    expect(socatEcho(pair.nsB, `UDP4:${pair.ipA}:7`, 'hello over v4\n')).toBe('hello over v4\n');
    expect(socatEcho(pair.nsB, `UDP6:[${pair.ip6A}]:7`, 'hello over v6\n')).toBe('hello over v6\n');
    const s = await drv.stats();
    expect(s.link.counters.io_csum_completed).toBeGreaterThanOrEqual(2);
    expect(s.link.ioError).toBeNull();
  });

  it('echoes full-size and fragmented datagrams (fragments follow their first fragment)', () => {
    expect(probeUdp(pair.nsB, pair.ipA, 7, 1472)).toEqual({ result: 'reply', len: 1472, match: true });
    expect(probeUdp(pair.nsB, pair.ipA, 7, 4000)).toEqual({ result: 'reply', len: 4000, match: true });
    expect(probeUdp(pair.nsB, pair.ip6A, 7, 4000)).toEqual({ result: 'reply', len: 4000, match: true });
  });

  it('leaves ping to the kernel, and the ring never sees it (socket filter)', async () => {
    const before = (await drv.stats()).link.counters.io_frames;
    expect(nsExec(pair.nsB, 'ping', ['-c', '3', '-i', '0.2', '-W', '1', pair.ipA])).toMatch(/3 received/);
    expect(nsExec(pair.nsB, 'ping', ['-6', '-c', '3', '-i', '0.2', '-W', '1', pair.ip6A])).toMatch(/3 received/);
    const after = (await drv.stats()).link.counters.io_frames;
    expect(after - before).toBe(0);
  });

  it('leaves unowned ports to the kernel: ICMP port unreachable, TCP RST', () => {
    expect(probeUdp(pair.nsB, pair.ipA, 9999)).toEqual({ result: 'refused' });
    expect(probeUdp(pair.nsB, pair.ip6A, 9)).toEqual({ result: 'refused' }); // udp:9 owned on v4 only
    expect(probeTcp(pair.nsB, pair.ipA, 8081)).toEqual({ result: 'refused' });
  });

  it('keeps the kernel quiet on owned tuples: no port unreachable, no RST; the port gets the frames', async () => {
    const port2 = ready.ports[1];
    const before = await drv.stats();
    expect(probeUdp(pair.nsB, pair.ipA, 9, 32, 1)).toEqual({ result: 'timeout' });
    expect(probeTcp(pair.nsB, pair.ipA, 8080, 1.2)).toEqual({ result: 'timeout' });
    expect(probeTcp(pair.nsB, pair.ip6A, 8080, 1.2)).toEqual({ result: 'timeout' });
    const after = await drv.stats();
    expect(after.ports[port2].udp - before.ports[port2].udp).toBe(1);
    expect(after.ports[port2].tcp - before.ports[port2].tcp).toBeGreaterThanOrEqual(2); // SYNs (+ retries)
    expect(after.link.nftDropped).toBeGreaterThan(before.link.nftDropped);
  });

  it('delivers each frame exactly once: no copies of its own transmissions (PACKET_IGNORE_OUTGOING)', async () => {
    const port1 = ready.ports[0];
    const before = await drv.stats();
    expect(udpBurst(pair.nsB, pair.ipA, 7, 20, 63)).toEqual({ sent: 20, replies: 20, match: 20 }); // odd length: checksum tail
    const after = await drv.stats();
    expect(after.link.counters.io_frames - before.link.counters.io_frames).toBe(20);
    expect(after.ports[port1].counters.rx_frames - before.ports[port1].counters.rx_frames).toBe(20);
    expect(after.ports[port1].counters.tx_frames - before.ports[port1].counters.tx_frames).toBe(20);
    expect(after.link.counters.tx_frames - before.link.counters.tx_frames).toBe(20);
  });

  it('reports clean counters', async () => {
    const s = await drv.stats();
    const c = s.link.counters;
    expect(c.ring_drops).toBe(0);
    expect(c.io_queue_full).toBe(0);
    expect(c.io_no_port).toBe(0);
    expect(c.tx_device_errors).toBe(0);
    expect(s.linkCounters.rx_malformed).toBe(0);
    const p1 = s.ports[ready.ports[0]];
    expect(p1.counters.tx_frames).toBe(p1.echoed);
    expect(p1.counters.tx_bad_tuple).toBe(0);
    expect(p1.counters.rx_dropped_queue_full).toBe(0);
  });

  it('cuts TSO/GRO aggregates back into MTU-sized TCP segments with valid checksums', async () => {
    // A kernel-to-kernel TCP transfer (a socat sink, a paced Python sender) that a second
    // AF_PACKET link watches without a kernel filter (nft: false): the peer's veth has TSO
    // on, so the frames arrive as aggregates of up to 64 KiB. The sender is paced (64 KiB
    // every 2 ms) because an unpaced veth transfer outruns the I/O thread and the ring
    // drops (ring_drops counts it); a stack's receive window paces real senders.
    const watcher = Driver.start(pair.nsA, {
      backend: 'packet', ifname: pair.ifA, nft: false,
      ports: [{ echo: false, claims: [{ proto: 'tcp', addr: pair.ipA, port: 5001 }] }],
    });
    drivers.push(watcher);
    const w = await watcher.ready();
    const sink = spawnSink(pair.nsA, 5001);
    try {
      const bytes = 4_000_000;
      const sender = [
        'import socket, sys, time',
        'for i in range(40):',
        '    try:',
        '        s = socket.create_connection((sys.argv[1], int(sys.argv[2]))); break',
        '    except ConnectionRefusedError:',
        '        time.sleep(0.05)',
        'chunk = bytes(65536); left = int(sys.argv[3])',
        'while left > 0:',
        '    n = min(left, len(chunk)); s.sendall(chunk[:n]); left -= n; time.sleep(0.002)',
        's.close()',
      ].join('\n');
      nsExec(pair.nsB, '/usr/bin/python3', ['-c', sender, pair.ipA, '5001', String(bytes)], { timeoutMs: 30_000 });
      // The last frames may still be on their way through the ring and the driver.
      let s = await watcher.stats();
      for (let i = 0; i < 30 && s.ports[w.ports[0]].tcpPayload < bytes; i++) {
        await new Promise((r) => setTimeout(r, 100));
        s = await watcher.stats();
      }
      const p = s.ports[w.ports[0]];
      const why = JSON.stringify({ link: s.link.counters, port: p });
      expect(s.link.counters.io_gso_split, why).toBeGreaterThan(0);
      expect(p.tcpMaxFrame, why).toBeLessThanOrEqual(1514);
      expect(p.tcpBadCsum, why).toBe(0);
      expect(p.tcpPayload, why).toBeGreaterThanOrEqual(bytes);
      expect(p.counters.rx_dropped_too_big, why).toBe(0);
      expect(s.link.counters.io_queue_full, why).toBe(0);
      expect(s.link.counters.ring_drops, why).toBe(0);
    } finally {
      sink.kill();
      await watcher.stop();
    }
  });

  it('after kill -9 the next start removes the stale nft table; a clean exit leaves none', async () => {
    drv.kill('SIGKILL');
    await drv.exited;
    // The dead driver's table is still there (nothing ran at its death) ...
    expect(nftTables(pair.nsA)).toEqual([`table inet ${ready.nftTable}`]);
    // ... until the next msh start on this host removes it.
    const next = Driver.start(pair.nsA, { backend: 'packet', ifname: pair.ifA, ports: [] });
    drivers.push(next);
    const r2 = await next.ready();
    expect(nftTables(pair.nsA)).toEqual([`table inet ${r2.nftTable}`]);
    // udp:7 belongs to the kernel again.
    expect(probeUdp(pair.nsB, pair.ipA, 7)).toEqual({ result: 'refused' });
    expect(await next.quit()).toBe(0);
    expect(nftTables(pair.nsA)).toEqual([]);
  });
});
