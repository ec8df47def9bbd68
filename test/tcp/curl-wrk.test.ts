// The http-server stack under the real CLI (`msh run --tuple tcp:80`) in namespace A,
// kernel clients in namespace B over veth: curl fetches bodies from 1 KB to 10 MB intact
// on fresh, kept-alive and `Connection: close` connections over IPv4 and IPv6, wrk runs
// 10 s without a socket error, and a port msh does not own still gets the kernel's RST.
// (test/tcp/kernel-peer.test.ts covers methods, 404/405, 1 MiB, uploads, churn and
// concurrency.)
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createPair, destroyPair, nsExec, type NsPair } from '../../host/src/netns.js';
import { stackComponent, stackPath } from '../helpers/stacks.js';
import { expectedBody, parseWrk, sha } from '../helpers/http.js';
import { MshProcess, stackStatus, tryNs } from '../run/msh-process.js';

const isRoot = process.getuid?.() === 0;

/** Route name -> body size. */
const SIZES: Record<string, number> = { '1k': 1024, '64k': 65536, '1m': 1 << 20, '10m': 10 << 20 };

// Needs root (network namespaces, veth, AF_XDP): CI and this machine run as root, so it
// runs there; without root it is skipped, not failed.
describe.skipIf(!isRoot)('http-server under msh run: curl and wrk against it', () => {
  let p: NsPair;
  let msh: MshProcess | null = null;
  const dir = mkdtempSync(path.join(tmpdir(), 'mshh-'));
  const hosts = () => [['IPv4', p.ipA], ['IPv6', `[${p.ip6A}]`]] as const;
  /** Kernel TCP counters of a namespace (/proc/net/snmp "Tcp:" lines). */
  const tcpCounters = (ns: string): Record<string, number> => {
    const lines = nsExec(ns, 'cat', ['/proc/net/snmp']).split('\n').filter((l) => l.startsWith('Tcp:'));
    const names = lines[0].split(/\s+/).slice(1);
    const values = lines[1].split(/\s+/).slice(1).map(Number);
    return Object.fromEntries(names.map((n, i) => [n, values[i]]));
  };

  beforeAll(async () => {
    await stackComponent('http-server');
    p = createPair('mshh', 84);
    msh = MshProcess.start(p.nsA, ['run', '--iface', p.ifA, stackPath('http-server'), '--tuple', 'tcp:80',
      '--config', 'size=1k', ...Object.keys(SIZES).flatMap((k) => ['--config', `route=/${k}:${k}`])]);
    await msh.waitFor(/\[http-server\] running/, 30_000);
  }, 120_000);

  afterAll(async () => {
    if (msh) await msh.stop('SIGINT', 5000);
    if (p) destroyPair(p);
    rmSync(dir, { recursive: true, force: true });
  });

  const gsoCounters = (): Record<string, number> => stackStatus(p, 'http-server').counters;

  it('1 KB, 64 KB and 10 MB bodies arrive intact on fresh connections, IPv4 and IPv6', () => {
    for (const [family, host] of hosts()) {
      const before = gsoCounters();
      for (const k of ['1k', '64k', '10m']) {
        const out = nsExec(p.nsB, 'curl', ['-sS', '--max-time', '20', '-w', '%{http_code} %{num_connects} %{size_download}',
          '-o', `${dir}/fresh-${k}`, `http://${host}/${k}`], { timeoutMs: 30_000 });
        expect(out, `${host}/${k}`).toBe(`200 1 ${SIZES[k]}`);
        expect(sha(readFileSync(`${dir}/fresh-${k}`)), `${host}/${k}`).toBe(sha(expectedBody(SIZES[k])));
      }
      // The flights left as GSO packets (native/src/gso.h), several segments each.
      const after = gsoCounters();
      const packets = after.gso_packets - before.gso_packets, frames = after.gso_frames - before.gso_frames;
      expect(packets, `${family} GSO packets`).toBeGreaterThan(10);
      expect(frames, `${family} segments in GSO packets`).toBeGreaterThan(2 * packets);
    }
  });

  it('keep-alive: 1 KB, 64 KB, 1 MB and 10 MB on one connection, IPv4 and IPv6', () => {
    for (const [, host] of hosts()) {
      const keys = ['1k', '64k', '1m', '10m'];
      const out = nsExec(p.nsB, 'curl', ['-sS', '--max-time', '20', '-w', '%{http_code} %{num_connects} %{size_download}\\n',
        ...keys.flatMap((k) => ['-o', `${dir}/ka-${k}`, `http://${host}/${k}`])], { timeoutMs: 30_000 });
      // One connect for the first transfer, none for the others: the connection was reused.
      expect(out.trim().split('\n'), host).toEqual(keys.map((k, i) => `200 ${i === 0 ? 1 : 0} ${SIZES[k]}`));
      for (const k of keys) expect(sha(readFileSync(`${dir}/ka-${k}`)), `${host}/${k}`).toBe(sha(expectedBody(SIZES[k])));
    }
  });

  it('Connection: close is answered in kind and the server closes: curl connects again, IPv4 and IPv6', () => {
    for (const [, host] of hosts()) {
      const keys = ['1k', '64k', '1m'];
      const out = nsExec(p.nsB, 'curl', ['-sS', '--max-time', '20', '-H', 'Connection: close',
        '-w', '%{http_code} %{num_connects} %{size_download} %header{connection}\\n',
        ...keys.flatMap((k) => ['-o', `${dir}/close-${k}`, `http://${host}/${k}`])], { timeoutMs: 30_000 });
      expect(out.trim().split('\n'), host).toEqual(keys.map((k) => `200 1 ${SIZES[k]} close`));
      for (const k of keys) expect(sha(readFileSync(`${dir}/close-${k}`)), `${host}/${k}`).toBe(sha(expectedBody(SIZES[k])));
    }
  });

  it('wrk -t2 -c32 -d10s: requests completed, no socket errors, no non-2xx', () => {
    const out = nsExec(p.nsB, 'wrk', ['-t2', '-c32', '-d10s', `http://${p.ipA}/`], { timeoutMs: 30_000 });
    const w = parseWrk(out);
    expect(w.socketErrors, out).toBeNull();
    expect(w.non2xx, out).toBe(0);
    expect(w.requests, out).toBeGreaterThan(1000);
    // Still serving correctly afterwards.
    expect(sha(nsExec(p.nsB, 'curl', ['-sS', '--max-time', '5', `http://${p.ipA}/`]))).toBe(sha(expectedBody(1024)));
  }, 40_000);

  it('a TCP port msh does not own gets the kernel\'s RST at once, IPv4 and IPv6', () => {
    for (const [name, host] of hosts()) {
      const before = tcpCounters(p.nsA).OutRsts;
      const t0 = Date.now();
      const r = tryNs(p.nsB, 'curl', ['-sSv', '--max-time', '5', `http://${host}:81/`]);
      const ms = Date.now() - t0;
      expect(r.status, `${name}: ${r.out}`).toBe(7);
      expect(r.out, name).toMatch(/connect to \S+ port 81 failed: Connection refused/);
      expect(ms, name).toBeLessThan(2000);
      // The RST came from namespace A's kernel, not from msh.
      expect(tcpCounters(p.nsA).OutRsts, name).toBeGreaterThan(before);
    }
    // msh kept serving port 80 meanwhile.
    expect(nsExec(p.nsB, 'curl', ['-sS', '-o', '/dev/null', '-w', '%{http_code}', `http://${p.ipA}/`])).toBe('200');
  });
});
