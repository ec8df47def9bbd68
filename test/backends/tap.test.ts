// The TAP backend against real kernel peers, in both modes (host/src/backends/tap.ts):
// routed (the stacks have their own addresses behind the tap; the peer reaches them
// through namespace A's routing) and steer (the stacks serve namespace A's own address;
// nft netdev fwd moves owned frames between the veth and the tap).
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { createPair, destroyPair, nsExec, type NsPair } from '../../host/src/netns.js';
import { planRoutedAddresses } from '../../host/src/backends/tap.js';
import { formatAddress } from '../../host/src/runtime/tuple.js';
import { Driver, isRoot, links, nftTables, probeTcp, probeUdp, requireBuild, socatEcho, udpBurst } from './harness.js';

describe('tap routed-mode address plan', () => {
  it('puts the kernel on the first other host address of each prefix', () => {
    const p = planRoutedAddresses(['10.78.5.2/30', '10.78.6.1/24', 'fd78::5:2/112', 'fd78::5:1/112']);
    expect(p.map((a) => `${formatAddress(a.stack)} ${formatAddress(a.kernel)}/${a.prefixLen}`)).toEqual([
      '10.78.5.2 10.78.5.1/30', '10.78.6.1 10.78.6.2/24', 'fd78::5:2 fd78::5:1/112', 'fd78::5:1 fd78::5:2/112',
    ]);
  });
  it('refuses what cannot work', () => {
    expect(() => planRoutedAddresses(['10.78.5.2'])).toThrow(/ADDRESS\/PREFIXLEN/);
    expect(() => planRoutedAddresses(['10.78.5.2/31'])).toThrow(/prefix length must be 1\.\.30/);
    expect(() => planRoutedAddresses(['10.78.5.0/24'])).toThrow(/network address/);
  });
});

describe.skipIf(!isRoot)('tap backend, routed mode', () => {
  let pair: NsPair;
  let drv: Driver;
  let ready: any;
  const drivers: Driver[] = [];

  beforeAll(async () => {
    requireBuild();
    pair = createPair('mshp', 78);
    // Namespace A routes between the veth and the tap; B reaches the stacks' prefixes via A
    // (B's IPv4 default route already points at A).
    nsExec(pair.nsA, 'sysctl', ['-qw', 'net.ipv4.ip_forward=1', 'net.ipv6.conf.all.forwarding=1']);
    nsExec(pair.nsB, 'ip', ['-6', 'route', 'add', 'fd78::5:0/112', 'via', pair.ip6A]);
    drv = Driver.start(pair.nsA, {
      backend: 'tap',
      tap: { mode: 'routed', addresses: ['10.78.5.2/30', 'fd78::5:2/112'] },
      ports: [
        { claims: [{ proto: 'udp', addr: '10.78.5.2', port: 7 }, { proto: 'udp', addr: 'fd78::5:2', port: 7 }] },
        { echo: false, claims: [{ proto: 'udp', addr: '10.78.5.2', port: 9 }] },
      ],
    });
    drivers.push(drv);
    ready = await drv.ready();
  }, 30_000);

  afterAll(async () => {
    for (const d of drivers) await d.stop();
    if (pair) destroyPair(pair);
  });

  it('creates the tap with the kernel end addressed and the stacks as permanent neighbours', () => {
    expect(ready.backend).toBe('tap');
    expect(ready.ifname).toMatch(/^msh-[0-9a-f]{8}$/);
    const addrs = nsExec(pair.nsA, 'ip', ['addr', 'show', 'dev', ready.ifname]);
    expect(addrs).toContain('inet 10.78.5.1/30');
    expect(addrs).toContain('inet6 fd78::5:1/112');
    const neigh = nsExec(pair.nsA, 'ip', ['neigh', 'show', 'dev', ready.ifname]);
    expect(neigh).toMatch(/10\.78\.5\.2 lladdr \S+ PERMANENT/);
    expect(neigh).toMatch(/fd78::5:2 lladdr \S+ PERMANENT/);
    // The stacks' next hop is the tap's own MAC.
    const tapMac = nsExec(pair.nsA, 'cat', [`/sys/class/net/${ready.ifname}/address`]).trim();
    expect(ready.staticNextHop.map((b: number) => b.toString(16).padStart(2, '0')).join(':')).toBe(tapMac);
  });

  it('echoes UDP over IPv4 and IPv6 from a routed kernel peer', () => {
    expect(socatEcho(pair.nsB, 'UDP4:10.78.5.2:7', 'routed v4\n')).toBe('routed v4\n');
    expect(socatEcho(pair.nsB, 'UDP6:[fd78::5:2]:7', 'routed v6\n')).toBe('routed v6\n');
    expect(udpBurst(pair.nsB, '10.78.5.2', 7, 20, 1000)).toEqual({ sent: 20, replies: 20, match: 20 });
  });

  it('leaves the kernel end to the kernel (ping), and nobody answers unowned ports of the stacks', async () => {
    expect(nsExec(pair.nsB, 'ping', ['-c', '2', '-i', '0.2', '-W', '1', '10.78.5.1'])).toMatch(/2 received/);
    expect(probeUdp(pair.nsB, '10.78.5.2', 9, 32, 1)).toEqual({ result: 'timeout' }); // owned, silent port
    const s = await drv.stats();
    expect(s.ports[ready.ports[1]].udp).toBe(1);
    expect(s.link.counters.tx_device_errors).toBe(0);
    expect(s.link.counters.io_queue_full).toBe(0);
  });

  it('the tap disappears when the driver is killed', async () => {
    expect(links(pair.nsA)).toContain(ready.ifname);
    drv.kill('SIGKILL');
    await drv.exited;
    expect(links(pair.nsA)).not.toContain(ready.ifname);
    expect(probeUdp(pair.nsB, '10.78.5.2', 7, 32, 0.5).result).not.toBe('reply');
  });
});

describe.skipIf(!isRoot)('tap backend, steer mode (the interface\'s own address)', () => {
  let pair: NsPair;
  let drv: Driver;
  let ready: any;
  const drivers: Driver[] = [];

  beforeAll(async () => {
    requireBuild();
    pair = createPair('mshp', 78);
    drv = Driver.start(pair.nsA, {
      backend: 'tap',
      ifname: pair.ifA,
      tap: { mode: 'steer' },
      ports: [
        { claims: [{ proto: 'udp', addr: pair.ipA, port: 7 }, { proto: 'udp', addr: pair.ip6A, port: 7 }] },
        { echo: false, claims: [{ proto: 'tcp', addr: pair.ipA, port: 8080 }] },
      ],
    });
    drivers.push(drv);
    ready = await drv.ready();
  }, 30_000);

  afterAll(async () => {
    for (const d of drivers) await d.stop();
    if (pair) destroyPair(pair);
  });

  it('installs a netdev table forwarding owned tuples to the tap', () => {
    const tables = nftTables(pair.nsA);
    expect(tables).toHaveLength(1);
    expect(tables[0]).toMatch(new RegExp(`^table netdev msh_${pair.ifA}_${ready.pid}$`));
    const text = nsExec(pair.nsA, 'nft', ['list', 'ruleset']);
    expect(text).toContain(`fwd to "${ready.ifname}"`);
    expect(text).toContain(`fwd to "${pair.ifA}"`);
    expect(nsExec(pair.nsA, 'ip', ['addr', 'show', 'dev', ready.ifname])).not.toMatch(/inet/);
  });

  it('echoes UDP over IPv4 and IPv6 on the interface\'s own address', () => {
    expect(socatEcho(pair.nsB, `UDP4:${pair.ipA}:7`, 'steered v4\n')).toBe('steered v4\n');
    expect(socatEcho(pair.nsB, `UDP6:[${pair.ip6A}]:7`, 'steered v6\n')).toBe('steered v6\n');
    expect(udpBurst(pair.nsB, pair.ipA, 7, 20, 1400)).toEqual({ sent: 20, replies: 20, match: 20 });
  });

  it('leaves ping and unowned ports to the kernel; owned tuples get no kernel answer', () => {
    expect(nsExec(pair.nsB, 'ping', ['-c', '2', '-i', '0.2', '-W', '1', pair.ipA])).toMatch(/2 received/);
    expect(nsExec(pair.nsB, 'ping', ['-6', '-c', '2', '-i', '0.2', '-W', '1', pair.ip6A])).toMatch(/2 received/);
    expect(probeUdp(pair.nsB, pair.ipA, 9999)).toEqual({ result: 'refused' });
    expect(probeTcp(pair.nsB, pair.ipA, 8081)).toEqual({ result: 'refused' });
    expect(probeTcp(pair.nsB, pair.ipA, 8080, 1.2)).toEqual({ result: 'timeout' });
  });

  it('the tap disappears with the driver; the next start removes the stale table', async () => {
    drv.kill('SIGKILL');
    await drv.exited;
    expect(links(pair.nsA)).not.toContain(ready.ifname);
    const next = Driver.start(pair.nsA, { backend: 'packet', ifname: pair.ifA, ports: [] });
    drivers.push(next);
    const r2 = await next.ready();
    expect(nftTables(pair.nsA)).toEqual([`table inet ${r2.nftTable}`]);
    expect(probeUdp(pair.nsB, pair.ipA, 7)).toEqual({ result: 'refused' });
    expect(await next.quit()).toBe(0);
    expect(nftTables(pair.nsA)).toEqual([]);
  });
});

describe.skipIf(!isRoot)('tap backend errors', () => {
  let pair: NsPair;
  beforeAll(() => { requireBuild(); pair = createPair('mshp', 78); }, 30_000);
  afterAll(() => { if (pair) destroyPair(pair); });

  it('refuses a name taken by another device', async () => {
    const d = Driver.start(pair.nsA, { backend: 'tap', tap: { mode: 'routed', addresses: ['10.78.5.2/30'], tapName: pair.ifA }, ports: [] });
    const o = await d.next();
    await d.stop();
    expect(o.error).toMatch(new RegExp(`cannot create ${pair.ifA}: tap: creating tap device '${pair.ifA}' \\(TUNSETIFF\\)`));
  });
});
