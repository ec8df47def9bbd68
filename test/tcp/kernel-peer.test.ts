// msh's TCP against the Linux TCP stack: the http-server stack runs under `msh run` in
// namespace A, curl in namespace B talks to it over veth. Covers handshake options
// negotiated with a real kernel, bulk data with checksums verified on both sides, keep-alive,
// Connection: close churn (server-side TIME-WAIT), uploads the server discards, IPv6, and
// many concurrent connections.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { createPair, destroyPair, nsExec, nsSpawn, type NsPair } from '../../host/src/netns.js';
import { REPO_ROOT } from '../../host/src/paths.js';
import { stackComponent, stackPath } from '../helpers/stacks.js';
import { expectedBody, sha } from '../helpers/http.js';

const isRoot = process.getuid?.() === 0;
const MSH = path.join(REPO_ROOT, 'bin', 'msh.js');

describe.skipIf(!isRoot)('http-server (msh TCP) with kernel TCP clients', () => {
  let p: NsPair;
  let msh: ChildProcess | null = null;
  let log = '';
  const peer = (cmd: string, args: string[], timeoutMs = 30_000) => nsExec(p.nsB, cmd, args, { timeoutMs });
  const sh = (script: string, timeoutMs = 60_000) => peer('sh', ['-c', script], timeoutMs);

  beforeAll(async () => {
    await stackComponent('http-server');
    p = createPair('mshtcp', 83);
    msh = nsSpawn(p.nsA, process.execPath, [MSH, 'run', '--iface', p.ifA, stackPath('http-server'), '--tuple', 'tcp:80',
      '--config', 'size=1024', '--config', 'route=/1m:1m', '--config', 'route=/empty:0']);
    msh.stdout!.on('data', (d) => { log += d; });
    msh.stderr!.on('data', (d) => { log += d; });
    const until = Date.now() + 30_000;
    while (!/\[http-server\] running/.test(log)) {
      if (Date.now() > until || msh.exitCode !== null) throw new Error(`msh did not start:\n${log}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }, 120_000);

  afterAll(async () => {
    if (msh && msh.exitCode === null) {
      msh.kill('SIGINT');
      await new Promise((r) => { msh!.once('exit', r); setTimeout(r, 5000); });
      if (msh.exitCode === null) msh.kill('SIGKILL');
    }
    if (p) destroyPair(p);
  });

  it('GET, HEAD, 404, 405 and an empty body', () => {
    const url = `http://${p.ipA}`;
    expect(peer('curl', ['-sS', '-o', '/dev/null', '-w', '%{http_code} %{size_download}', `${url}/`])).toBe('200 1024');
    expect(peer('curl', ['-sS', `${url}/`])).toBe(expectedBody(1024).toString('latin1'));
    const head = peer('curl', ['-sS', '-I', `${url}/1m`]);
    expect(head).toMatch(/^HTTP\/1.1 200 OK\r\n/);
    expect(head).toMatch(/Content-Length: 1048576\r\n/);
    expect(peer('curl', ['-sS', '-o', '/dev/null', '-w', '%{http_code}', `${url}/missing?q=1`])).toBe('404');
    expect(peer('curl', ['-sS', '-o', '/dev/null', '-w', '%{http_code} %{size_download}', `${url}/empty`])).toBe('200 0');
    expect(peer('curl', ['-sS', '-o', '/dev/null', '-w', '%{http_code}', '-X', 'DELETE', `${url}/`])).toBe('405');
  });

  it('1 MiB bodies arrive intact over IPv4 and IPv6', () => {
    const want = sha(expectedBody(1 << 20));
    expect(sh(`curl -sS http://${p.ipA}/1m | sha256sum`).split(' ')[0]).toBe(want);
    expect(sh(`curl -sS 'http://[${p.ip6A}]/1m' | sha256sum`).split(' ')[0]).toBe(want);
  });

  it('keep-alive: several requests on one connection', () => {
    const u = `http://${p.ipA}/`;
    const out = peer('curl', ['-sS', '-o', '/dev/null', '-o', '/dev/null', '-o', '/dev/null',
      '-w', '%{http_code} %{num_connects}\\n', u, `http://${p.ipA}/1m`, u]);
    expect(out.trim().split('\n')).toEqual(['200 1', '200 0', '200 0']);
  });

  it('a 300 kB upload is discarded (405) and the next pipelined request answered', () => {
    const out = sh(`(printf 'POST / HTTP/1.1\\r\\nContent-Length: 300000\\r\\n\\r\\n'; head -c 300000 /dev/zero; ` +
      `printf 'GET / HTTP/1.1\\r\\nConnection: close\\r\\n\\r\\n') | socat -t 10 - TCP:${p.ipA}:80 | grep -a '^HTTP/1.1'`);
    expect(out.trim().split('\n').map((l) => l.trim())).toEqual(['HTTP/1.1 405 Method Not Allowed', 'HTTP/1.1 200 OK']);
  });

  it('100 short connections with Connection: close (server-side TIME-WAIT)', () => {
    const out = sh(`for i in $(seq 1 100); do curl -sS -o /dev/null -w '%{http_code}\\n' -H 'Connection: close' http://${p.ipA}/; done | sort | uniq -c`, 120_000);
    expect(out.trim()).toBe('100 200');
  }, 150_000);

  it('40 concurrent 1 MiB downloads', () => {
    const out = sh(`seq 1 40 | xargs -P 40 -I{} curl -sS -o /dev/null -w '%{http_code} %{size_download}\\n' http://${p.ipA}/1m | sort | uniq -c`, 120_000);
    expect(out.trim()).toBe(`40 200 ${1 << 20}`);
  }, 150_000);
});
