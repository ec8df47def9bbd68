// The AF_XDP backend against real kernel peers: two network namespaces joined by veth,
// the backend (through the addon, driven by test/xdp/driver.mjs) in namespace A, kernel
// tools (socat, ping, test/helpers/peer.py) in namespace B.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawn, execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { dirname, resolve } from 'node:path';
import { createPair, destroyPair, nsExec, type NsPair } from '../../host/src/netns.js';
import { Driver as DriverProcess, addonPath, isRoot, root, type PortConfig } from '../helpers/driver.js';
import { probeTcp, probeUdp, socatEcho } from '../helpers/peer.js';

const here = dirname(fileURLToPath(import.meta.url));
const bpfObject = resolve(root, 'build/bpf/msh_steer.bpf.o');
const built = existsSync(addonPath) && existsSync(bpfObject);
if (!built) throw new Error(`build first (bash scripts/build.sh): ${addonPath} / ${bpfObject} missing`);

interface DriverConfig { ifname: string; mode?: string; bpfObject?: string; ports?: PortConfig[] }

/** The backend in a namespace: test/xdp/driver.mjs. */
class Driver extends DriverProcess {
  static start(ns: string, cfg: DriverConfig): Driver {
    return new Driver(resolve(here, 'driver.mjs'), ns, cfg);
  }
}

function craft(pair: NsPair, kase: string): void {
  nsExec(pair.nsB, '/usr/bin/python3', [resolve(here, 'craft.py'), pair.ifB, pair.macA, pair.ipA, pair.ip6A, kase, pair.ipB, pair.ip6B], { timeoutMs: 20_000 });
}
function linkShow(ns: string, ifname: string): string {
  return nsExec(ns, 'ip', ['link', 'show', 'dev', ifname]);
}

describe('AF_XDP backend: errors without a namespace', () => {
  it('names a missing interface', () => {
    const native = createRequire(import.meta.url)(addonPath);
    expect(() => native.createXdpLink({ ifname: 'mshxnosuch0' })).toThrow(/no such interface 'mshxnosuch0'/);
    try { native.createXdpLink({ ifname: 'mshxnosuch0' }); } catch (e: any) { expect(e.code).toBe('ENODEV'); }
    expect(() => native.createXdpLink({ ifname: 'lo', mode: 'turbo' })).toThrow(/mode must be/);
  });
});

describe.skipIf(!isRoot)('AF_XDP backend on veth (native mode)', () => {
  let pair: NsPair;
  let drv: Driver;
  let ready: any;

  beforeAll(async () => {
    pair = createPair('mshx', 77);
    drv = Driver.start(pair.nsA, {
      ifname: pair.ifA,
      ports: [
        { claims: [
          { proto: 'udp', addr: pair.ipA, port: 7 },
          { proto: 'udp', addr: pair.ip6A, port: 7 },
          { proto: 'tcp', addr: pair.ipA, port: 8080 },
        ] },
        { claims: [{ proto: 'udp', addr: pair.ipA, port: 8 }] },
        { claims: [{ proto: 'udp', addr: pair.ipA, port: 9 }] },
      ],
    });
    ready = await drv.ready();
  }, 30_000);

  afterAll(async () => {
    await drv?.stop();
    if (pair) destroyPair(pair);
  });

  it('attaches in native mode through a link, copy-mode sockets on every RX queue', () => {
    expect(ready.mode).toBe('native');
    expect(ready.bind).toBe('copy'); // veth has no zero-copy
    expect(ready.queues).toBe(1);
    expect(ready.sockets).toHaveLength(3 * ready.queues);
    const shown = linkShow(pair.nsA, pair.ifA);
    expect(shown).toMatch(/\bxdp\b/);
    expect(shown).toContain('msh_steer');
  });

  it('echoes UDP over IPv4 and IPv6 (socat in the peer namespace)', () => {
    expect(socatEcho(pair.nsB, `UDP4:${pair.ipA}:7`, 'hello over v4\n')).toBe('hello over v4\n');
    expect(socatEcho(pair.nsB, `UDP6:[${pair.ip6A}]:7`, 'hello over v6\n')).toBe('hello over v6\n');
  });

  it('serves several ports on one queue (sockets sharing the UMEM)', () => {
    expect(socatEcho(pair.nsB, `UDP4:${pair.ipA}:8`, 'port two\n')).toBe('port two\n');
    expect(socatEcho(pair.nsB, `UDP4:${pair.ipA}:9`, 'port three\n')).toBe('port three\n');
    for (let i = 0; i < 5; i++) {
      expect(probeUdp(pair.nsB, pair.ipA, 7 + (i % 3), 200)).toEqual({ result: 'reply', len: 200, match: true });
    }
  });

  it('leaves ping to the kernel (IPv4 and IPv6)', () => {
    expect(nsExec(pair.nsB, 'ping', ['-c', '2', '-i', '0.2', '-W', '1', pair.ipA])).toMatch(/2 received/);
    expect(nsExec(pair.nsB, 'ping', ['-6', '-c', '2', '-i', '0.2', '-W', '1', pair.ip6A])).toMatch(/2 received/);
  });

  it('leaves unowned ports to the kernel: ICMP port unreachable, TCP RST', () => {
    expect(probeUdp(pair.nsB, pair.ipA, 9999)).toEqual({ result: 'refused' });
    expect(probeUdp(pair.nsB, pair.ip6A, 8)).toEqual({ result: 'refused' }); // udp:8 owned on v4 only
    expect(probeTcp(pair.nsB, pair.ipA, 8081)).toEqual({ result: 'refused' });
  });

  it('steers TCP of an owned tuple to the port; the kernel sends no RST', async () => {
    const before = (await drv.stats()).ports[ready.ports[0]].tcp;
    expect(probeTcp(pair.nsB, pair.ipA, 8080, 1.2)).toEqual({ result: 'timeout' });
    const after = (await drv.stats()).ports[ready.ports[0]].tcp;
    expect(after).toBeGreaterThan(before); // the SYN (and its retransmissions) reached the port
  });

  it('steers every fragment of a fragmented datagram to the owner (IPv4 and IPv6)', async () => {
    const before = (await drv.stats()).link.counters.xdp_frag_redirect;
    expect(probeUdp(pair.nsB, pair.ipA, 7, 4000)).toEqual({ result: 'reply', len: 4000, match: true });
    expect(probeUdp(pair.nsB, pair.ip6A, 7, 4000)).toEqual({ result: 'reply', len: 4000, match: true });
    const after = (await drv.stats()).link.counters.xdp_frag_redirect;
    expect(after - before).toBeGreaterThanOrEqual(4); // 2 later fragments per datagram at least
  });

  it('drops (never passes) traffic for an owned tuple whose socket is missing', async () => {
    // Port 3 owns udp:9. Take its socket out of the XSKMAP behind the backend's back, as
    // if it had vanished: the program must drop, so the kernel must not answer.
    const sock = ready.sockets.find((s: any) => s.port === ready.ports[2] && s.queue === 0);
    const key = [0, 8, 16, 24].map((sh) => String((sock.xskSlot >> sh) & 255));
    execFileSync('bpftool', ['map', 'delete', 'id', String(ready.xsksMapId), 'key', ...key]);
    const before = (await drv.stats()).link.counters.xdp_drop_no_socket;
    expect(probeUdp(pair.nsB, pair.ipA, 9, 32, 1)).toEqual({ result: 'timeout' });
    const after = (await drv.stats()).link.counters.xdp_drop_no_socket;
    expect(after).toBeGreaterThan(before);
    // The other ports are unaffected.
    expect(probeUdp(pair.nsB, pair.ipA, 8)).toMatchObject({ result: 'reply', match: true });
  });

  it('reports its counters: redirects, no parse errors, nothing lost', async () => {
    const s = await drv.stats();
    expect(s.link.counters.xdp_redirect).toBeGreaterThan(10);
    expect(s.link.counters.xdp_pass).toBeGreaterThan(0);
    expect(s.link.counters.xdp_parse_error).toBe(0);
    expect(s.link.counters.xsk_rx_dropped).toBe(0);
    expect(s.link.counters.tx_kick_errors).toBe(0);
    const p1 = s.ports[ready.ports[0]];
    expect(p1.counters.rx_frames).toBeGreaterThan(0);
    expect(p1.counters.tx_frames).toBe(p1.echoed);
    expect(p1.counters.tx_bad_tuple).toBe(0);
  });

  it('parses VLAN tags, IPv6 extension headers and IPv4 options; passes what it cannot steer', async () => {
    const port1 = ready.ports[0];
    const b = await drv.stats();
    craft(pair, 'vlan,v6ext,v4opts,trunc,latefrag');
    await new Promise((r) => setTimeout(r, 200));
    const a = await drv.stats();
    expect(a.ports[port1].counters.rx_frames - b.ports[port1].counters.rx_frames).toBe(3);
    expect(a.ports[port1].other - b.ports[port1].other).toBe(2); // VLAN-tagged, IPv6 ext headers
    expect(a.link.counters.xdp_parse_error - b.link.counters.xdp_parse_error).toBe(1);
    expect(a.link.counters.xdp_frag_pass - b.link.counters.xdp_frag_pass).toBe(1);
  }, 60_000);

  it('hands a removed port\'s tuples back to the kernel; ports can be added again', async () => {
    const [p1, p2, p3] = ready.ports;
    await drv.command(`remove ${p2}`);
    expect(probeUdp(pair.nsB, pair.ipA, 8)).toEqual({ result: 'refused' });
    expect(probeUdp(pair.nsB, pair.ipA, 7)).toMatchObject({ result: 'reply', match: true });
    const added = await drv.command(`add ${JSON.stringify([{ proto: 'udp', addr: pair.ipA, port: 8 }])}`);
    expect(probeUdp(pair.nsB, pair.ipA, 8)).toMatchObject({ result: 'reply', match: true });
    // Every port gone frees the UMEMs; the next port builds them again.
    for (const p of [p1, p3, added.added]) await drv.command(`remove ${p}`);
    expect((await drv.stats()).link.sockets).toHaveLength(0);
    expect(probeUdp(pair.nsB, pair.ipA, 7)).toEqual({ result: 'refused' });
    const again = await drv.command(`add ${JSON.stringify([{ proto: 'udp', addr: pair.ipA, port: 7 }])}`);
    expect(again.link.sockets).toHaveLength(again.link.queues);
    expect(probeUdp(pair.nsB, pair.ipA, 7, 1000)).toEqual({ result: 'reply', len: 1000, match: true });
  });

  it('leaves no XDP program behind after kill -9', async () => {
    drv.kill('SIGKILL');
    await drv.exited;
    const shown = linkShow(pair.nsA, pair.ifA);
    expect(shown).not.toMatch(/\bxdp/);
    expect(() => execFileSync('bpftool', ['prog', 'show', 'id', String(ready.progId)], { stdio: 'pipe' })).toThrow();
    // With the program gone the kernel answers for the formerly owned port.
    expect(probeUdp(pair.nsB, pair.ipA, 7)).toEqual({ result: 'refused' });
  });
});

describe.skipIf(!isRoot)('AF_XDP backend: generic mode and attach conflicts', () => {
  let pair: NsPair;
  const drivers: Driver[] = [];

  beforeAll(() => { pair = createPair('mshx', 78); }, 30_000);
  afterAll(async () => {
    for (const d of drivers) await d.stop();
    if (pair) destroyPair(pair);
  });

  it('says why the XDP object cannot be loaded', async () => {
    const d = Driver.start(pair.nsA, { ifname: pair.ifA, bpfObject: '/nonexistent/msh_steer.bpf.o' });
    drivers.push(d);
    const o = await d.next();
    expect(o.error).toMatch(/cannot open the XDP program \/nonexistent\/msh_steer\.bpf\.o/);
    expect(o.code).toBe('ENOENT');
  });

  it('says that it needs root', async () => {
    const p = spawn('ip', ['netns', 'exec', pair.nsA, 'setpriv', '--reuid=65534', '--regid=65534', '--clear-groups',
      '--inh-caps=-all', '--bounding-set=-all', process.execPath, resolve(here, 'driver.mjs'), JSON.stringify({ ifname: pair.ifA })],
    { stdio: ['pipe', 'pipe', 'pipe'] });
    let outText = '';
    p.stdout!.on('data', (d) => { outText += d; });
    await new Promise((r) => p.on('exit', r));
    const o = JSON.parse(outText.trim().split('\n')[0]);
    expect(o.code).toBe('EPERM');
    expect(o.error).toMatch(/loading the XDP program failed: Operation not permitted \(AF_XDP needs root: CAP_BPF, CAP_NET_ADMIN and CAP_NET_RAW\)$/);
  });

  it('runs in generic mode when asked, and echoes', async () => {
    const d = Driver.start(pair.nsA, { ifname: pair.ifA, mode: 'generic', ports: [{ claims: [{ proto: 'udp', addr: pair.ipA, port: 7 }] }] });
    drivers.push(d);
    const r = await d.ready();
    expect(r.mode).toBe('generic');
    expect(linkShow(pair.nsA, pair.ifA)).toMatch(/\bxdpgeneric\b/);
    expect(socatEcho(pair.nsB, `UDP4:${pair.ipA}:7`, 'generic\n')).toBe('generic\n');

    // A second backend on the same interface: both modes are refused, and it says so.
    const d2 = Driver.start(pair.nsA, { ifname: pair.ifA });
    drivers.push(d2);
    const o = await d2.next();
    expect(o.error).toMatch(/native mode: .*; generic mode: /);
    const d3 = Driver.start(pair.nsA, { ifname: pair.ifA, mode: 'native' });
    drivers.push(d3);
    expect((await d3.next()).error).toMatch(/in native mode failed/);

    // The first one is unharmed.
    expect(socatEcho(pair.nsB, `UDP4:${pair.ipA}:7`, 'still here\n')).toBe('still here\n');
    // destroyLink detaches at once (the process lives on).
    await d.command('destroy');
    expect(linkShow(pair.nsA, pair.ifA)).not.toMatch(/\bxdp/);
    expect(probeUdp(pair.nsB, pair.ipA, 7)).toEqual({ result: 'refused' });
  });
});
