// npm run bench -- http [--rounds N] [--seconds S] [--warmup S] [--threads T] [--conns C]
//                      [--backend B] [--sizes 1k,32k] [--gso both|on|off]
// msh's TCP against the kernel's, serving HTTP over a veth pair. wrk in namespace B opens a
// new connection per request (`wrk -t2 -c64 -H 'Connection: close'`) to 10.78.0.1:80 in namespace A,
// where either
//   (a) msh runs stacks/http-server.wasm (`msh run --tuple tcp:80`, AF_XDP by default) with
//       routes /1k and /32k, or
//   (b) Debian's nginx (/usr/sbin/nginx, one worker, access log off, sendfile) serves
//       static files 1k and 32k with the same bytes, from its own temporary prefix
//       directory, listening on the same address and port.
// With --gso both (the default) msh runs twice per round: as it ships (GSO on: a flight of
// segments leaves as one TCP GSO packet, native/src/gso.h) and with --gso off (every
// segment its own AF_XDP frame); the headline is msh as it ships, the other is printed too.
// Rounds alternate msh, nginx, msh, nginx, ...; each round builds a fresh namespace pair
// (same names and addresses; a kernel server leaves TIME-WAIT sockets on port 80 for 60 s,
// which would keep msh from reserving the port), starts its server, checks one response
// of each size byte for byte, warms up, then runs wrk for each size. Reported
// per round and as medians: requests/s, and the whole machine's CPU time per request (all
// cores, from /proc/stat over the wrk run: user+nice+system+irq+softirq+steal), so the
// kernel's work on the client side counts too. The last line is the JSON result.
// Everything started is killed by PID, and the namespaces and the temporary directory are
// removed, also when a round fails or the run is interrupted.

import { createHash } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createPair, destroyPair, nsExec, nsSpawn, NsPair } from '../host/src/netns.js';
import { REPO_ROOT, STACKS_DIR } from '../host/src/paths.js';
import { emit, median, round } from './_common.js';
import { httpBody, machineCpuUs, parseWrk, WrkResult } from './_http.js';
import { Children, finish, stop, waitFor } from './_procs.js';

const PORT = 80;
/** Namespace A has 10.NET.0.1 and fdNET::1. */
const NET = 78;
const MSH = path.join(REPO_ROOT, 'bin', 'msh.js');
const NGINX = '/usr/sbin/nginx';

interface Options {
  rounds: number; seconds: number; warmup: number; threads: number; conns: number; backend: string; sizes: string;
  gso: string;
}

interface Sample { wrk: WrkResult; cpuUsPerReq: number; cpuBusyShare: number }

function parseArgs(args: string[]): Options {
  const o: Options = { rounds: 5, seconds: 5, warmup: 1, threads: 2, conns: 64, backend: 'auto', sizes: '1k,32k', gso: 'both' };
  for (let i = 0; i < args.length; i++) {
    const key = args[i].replace(/^--/, '');
    const v = args[++i];
    if (!(key in o) || v === undefined) throw new Error(`http: unknown option or missing value: ${args[i - 1]}`);
    (o as any)[key] = key === 'backend' || key === 'sizes' || key === 'gso' ? v : Number(v);
  }
  if (!['both', 'on', 'off'].includes(o.gso)) throw new Error(`http: --gso ${o.gso}: expected both, on or off`);
  if (o.rounds < 1) throw new Error('http: at least 1 round');
  return o;
}

function sizeBytes(s: string): number {
  const m = s.match(/^(\d+)([km]?)$/);
  if (!m) throw new Error(`http: bad size ${s}`);
  return Number(m[1]) * (m[2] === 'k' ? 1024 : m[2] === 'm' ? 1 << 20 : 1);
}

const children = new Children();

/** Fetches every size once from namespace B and compares it with the expected bytes. */
function checkBodies(p: NsPair, sizes: string[], who: string): void {
  for (const s of sizes) {
    const got = nsExec(p.nsB, 'sh', ['-c', `curl -sS --max-time 5 -H 'Connection: close' http://${p.ipA}/${s} | sha256sum`]).split(' ')[0];
    const want = createHash('sha256').update(httpBody(sizeBytes(s))).digest('hex');
    if (got !== want) throw new Error(`${who}: /${s} does not have the expected body (sha256 ${got})`);
  }
}

async function wrk(p: NsPair, o: Options, size: string, seconds: number): Promise<WrkResult> {
  const t = children.track(nsSpawn(p.nsB, 'wrk', [`-t${o.threads}`, `-c${o.conns}`, `-d${seconds}s`, '-H', 'Connection: close',
    `http://${p.ipA}:${PORT}/${size}`]), 'wrk');
  const code = await finish(t, (seconds + 15) * 1000);
  if (code !== 0) throw new Error(`wrk failed (exit ${code}):\n${t.out.text}`);
  return parseWrk(t.out.text);
}

/** Warm-up, then one measured wrk run per size with the machine's CPU time around it. */
async function measure(p: NsPair, o: Options, sizes: string[]): Promise<Sample[]> {
  const out: Sample[] = [];
  for (const s of sizes) {
    if (o.warmup > 0) await wrk(p, o, s, o.warmup);
    const c0 = machineCpuUs();
    const w = await wrk(p, o, s, o.seconds);
    const c1 = machineCpuUs();
    if (w.requests === 0) throw new Error(`wrk completed no requests for /${s}`);
    out.push({ wrk: w, cpuUsPerReq: (c1.busy - c0.busy) / w.requests, cpuBusyShare: (c1.busy - c0.busy) / (c1.total - c0.total) });
  }
  return out;
}

async function roundMsh(p: NsPair, o: Options, sizes: string[], gso: 'on' | 'off'): Promise<{ samples: Sample[]; log: string }> {
  const routes = sizes.flatMap((s) => ['--config', `route=/${s}:${s}`]);
  const t = children.track(nsSpawn(p.nsA, process.execPath, [MSH, 'run', '--iface', p.ifA, '--backend', o.backend, '--gso', gso,
    path.join(STACKS_DIR, 'http-server.wasm'), '--tuple', `tcp:${PORT}`, ...routes]), 'msh');
  try {
    await waitFor(t, /\[http-server\] running/, 30_000, 'msh run');
    checkBodies(p, sizes, 'msh');
    return { samples: await measure(p, o, sizes), log: t.out.text };
  } catch (e) {
    throw new Error(`${(e as Error).message}\nmsh's output:\n${t.out.text}`);
  } finally {
    await stop(t, 5000, 'SIGINT');
  }
}

function nginxConf(dir: string, p: NsPair): string {
  return `# bench/http.ts: nginx on the kernel's TCP, one worker, static files
daemon off;
master_process on;
worker_processes 1;
user root;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  default_type application/octet-stream;
  sendfile on;
  tcp_nopush on;
  tcp_nodelay on;
  open_file_cache max=16;
  client_body_temp_path ${dir}/tmp/body;
  proxy_temp_path ${dir}/tmp/proxy;
  fastcgi_temp_path ${dir}/tmp/fastcgi;
  uwsgi_temp_path ${dir}/tmp/uwsgi;
  scgi_temp_path ${dir}/tmp/scgi;
  server {
    listen ${p.ipA}:${PORT} backlog=4096;
    listen [${p.ip6A}]:${PORT} backlog=4096;
    root ${dir}/www;
  }
}
`;
}

/** nginx's worker: the master's only child. */
function childPids(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch { return []; }
}

async function roundNginx(p: NsPair, o: Options, sizes: string[], dir: string): Promise<{ samples: Sample[]; log: string }> {
  const t = children.track(nsSpawn(p.nsA, NGINX, ['-p', dir, '-c', path.join(dir, 'nginx.conf'), '-e', path.join(dir, 'error.log')]), 'nginx');
  const workers: number[] = [];
  try {
    // Ready when the worker exists and answers.
    const until = Date.now() + 10_000;
    for (;;) {
      if (t.child.exitCode !== null || t.child.signalCode !== null) throw new Error(`nginx exited:\n${t.out.text}\n${readFileSync(path.join(dir, 'error.log'), 'utf8')}`);
      for (const w of childPids(t.child.pid!)) if (!workers.includes(w)) { workers.push(w); children.adopt(w, 'nginx'); }
      if (workers.length) {
        try { nsExec(p.nsB, 'curl', ['-sS', '-o', '/dev/null', '--max-time', '1', `http://${p.ipA}/${sizes[0]}`]); break; } catch { /* not yet */ }
      }
      if (Date.now() > until) throw new Error(`nginx not ready within 10 s:\n${t.out.text}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    if (workers.length !== 1) throw new Error(`nginx has ${workers.length} worker processes, expected 1`);
    checkBodies(p, sizes, 'nginx');
    return { samples: await measure(p, o, sizes), log: t.out.text };
  } finally {
    await stop(t, 5000, 'SIGTERM'); // fast shutdown: the master stops its worker
    for (const w of workers) {
      // The worker is normally gone with its master; never leave one behind.
      try { if (readFileSync(`/proc/${w}/comm`, 'utf8').trim() === 'nginx') process.kill(w, 'SIGKILL'); } catch { /* gone */ }
      children.forget(w);
    }
  }
}

function describe(s: Sample): string {
  const e = s.wrk.socketErrors;
  const errs = e ? `   socket errors: connect ${e.connect} read ${e.read} write ${e.write} timeout ${e.timeout}` : '';
  return `${s.wrk.rps.toFixed(0).padStart(6)} req/s  ${s.cpuUsPerReq.toFixed(1).padStart(6)} us CPU/req  (machine ${(100 * s.cpuBusyShare).toFixed(0)} % busy)` +
    (s.wrk.non2xx ? `   non-2xx ${s.wrk.non2xx}` : '') + errs;
}

export async function main(args: string[]): Promise<number> {
  const o = parseArgs(args);
  if (process.getuid?.() !== 0) throw new Error('http needs root (network namespaces, AF_XDP)');
  const sizes = o.sizes.split(',');
  children.hook();
  const dir = mkdtempSync(path.join(tmpdir(), 'mshbh-nginx-'));
  const removeDir = () => rmSync(dir, { recursive: true, force: true });
  process.on('exit', removeDir);
  let p: NsPair | null = null;
  /** A fresh namespace pair for one server's run, removed afterwards (also on failure). */
  const withPair = async <T>(run: (p: NsPair) => Promise<T>): Promise<T> => {
    p = createPair('mshbh', NET);
    try {
      nsExec(p.nsB, 'ping', ['-c', '1', '-W', '2', p.ipA]);
      return await run(p);
    } finally {
      await children.reap();
      destroyPair(p);
      p = null;
    }
  };
  const msh: Sample[][] = [];
  const mshNoGso: Sample[][] = [];
  const nginx: Sample[][] = [];
  const arms: Array<['on' | 'off', Sample[][], string]> = o.gso === 'both'
    ? [['on', msh, 'msh   '], ['off', mshNoGso, 'msh -G']] : [[o.gso as 'on' | 'off', msh, 'msh   ']];
  try {
    chmodSync(dir, 0o755);
    mkdirSync(path.join(dir, 'www'));
    mkdirSync(path.join(dir, 'tmp'));
    for (const s of sizes) writeFileSync(path.join(dir, 'www', s), httpBody(sizeBytes(s)));
    console.log(`http: wrk -t${o.threads} -c${o.conns} -H 'Connection: close' in namespace B -> 10.${NET}.0.1:${PORT} (/${sizes.join(', /')}), ` +
      `${o.rounds} alternating rounds, warm-up ${o.warmup}s + ${o.seconds}s per size`);
    if (o.gso === 'both') console.log('  (msh: as it ships, GSO on; msh -G: --gso off, every segment its own AF_XDP frame)');
    for (let i = 1; i <= o.rounds; i++) {
      for (const [gso, results, label] of arms) {
        const a = await withPair((q) => roundMsh(q, o, sizes, gso));
        results.push(a.samples);
        if (i === 1) console.log(`  ${(a.log.match(/msh host on [^\n]*/) ?? [''])[0].trim()}`);
        sizes.forEach((s, k) => console.log(`  round ${i} ${label} ${s.padEnd(4)} ${describe(a.samples[k])}`));
        const tcpLine = a.log.match(/http-server: requests=[^\n]*/);
        if (i === 1 && tcpLine) console.log(`    ${tcpLine[0]}`);
      }
      const b = await withPair((q) => {
        writeFileSync(path.join(dir, 'nginx.conf'), nginxConf(dir, q));
        return roundNginx(q, o, sizes, dir);
      });
      nginx.push(b.samples);
      sizes.forEach((s, k) => console.log(`  round ${i} nginx  ${s.padEnd(4)} ${describe(b.samples[k])}`));
    }
  } finally {
    await children.release();
    if (p) destroyPair(p);
    removeDir();
    process.off('exit', removeDir);
  }
  const result: Record<string, unknown> = { bench: 'http' };
  sizes.forEach((s, k) => {
    const mr = median(msh.map((r) => r[k].wrk.rps));
    const nr = median(nginx.map((r) => r[k].wrk.rps));
    const mc = median(msh.map((r) => r[k].cpuUsPerReq));
    const nc = median(nginx.map((r) => r[k].cpuUsPerReq));
    // Per round (msh and nginx ran back to back): less exposed to load that comes and goes.
    const paired = msh.map((r, i) => r[k].wrk.rps / nginx[i][k].wrk.rps);
    console.log(`  ${s}: msh median ${mr.toFixed(0)} req/s, ${mc.toFixed(1)} us CPU/req; nginx median ${nr.toFixed(0)} req/s, ${nc.toFixed(1)} us CPU/req; ` +
      `ratio ${(mr / nr).toFixed(2)} (target >= 1.18), CPU/req ratio ${(mc / nc).toFixed(2)} (target <= 1); ` +
      `per-round ratios ${paired.map((x) => x.toFixed(2)).join(' ')} (median ${median(paired).toFixed(2)})`);
    if (mshNoGso.length) {
      const gr = median(mshNoGso.map((r) => r[k].wrk.rps));
      const gc = median(mshNoGso.map((r) => r[k].cpuUsPerReq));
      console.log(`  ${s}: msh --gso off median ${gr.toFixed(0)} req/s, ${gc.toFixed(1)} us CPU/req; ratio ${(gr / nr).toFixed(2)}, CPU/req ratio ${(gc / nc).toFixed(2)}`);
    }
    Object.assign(result, {
      [`msh_rps_${s}`]: round(mr, 0), [`nginx_rps_${s}`]: round(nr, 0), [`ratio_${s}`]: round(mr / nr, 3),
      [`msh_cpu_us_per_req_${s}`]: round(mc, 1), [`nginx_cpu_us_per_req_${s}`]: round(nc, 1),
    });
  });
  // Keys in the documented order: rps, nginx rps, ratio, then CPU, per size.
  const ordered: Record<string, unknown> = { bench: 'http' };
  for (const s of sizes) {
    for (const k of [`msh_rps_${s}`, `nginx_rps_${s}`, `ratio_${s}`, `msh_cpu_us_per_req_${s}`, `nginx_cpu_us_per_req_${s}`]) ordered[k] = result[k];
  }
  emit(ordered);
  return 0;
}
