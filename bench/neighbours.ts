// npm run bench -- neighbours [--rounds N] [--warmup S] [--window S] [--side-rate PPS]
// A good stack beside hostile ones (issue 4). One `msh run` (AF_XDP on a veth pair, in a
// private namespace pair) hosts stacks/udp-echo.wasm on udp:7; a C sender in the peer
// namespace (bench/c/udp_blast.c) blasts 64-byte datagrams at it flat out and counts the
// verified echoes. The good stack's echo rate is measured alone and with each hostile test
// stack (test/stacks/*) joining through a second `msh run` beside it, alternating (alone,
// beside one, alone, beside the next, ...) within every round:
//   spoofer    every frame it gets, it answers once honestly and six times forged
//   looper     spins forever on a frame: --cpu-budget stops it, --restart brings it back
//   membomb    grows its memory until --mem-limit refuses, traps, is restarted
//   trapper    traps on every frame, is restarted (with backoff)
//   corrupter  wrecks its TX ring index on every frame, is restarted
//   flooder    fills its TX ring on every poll, flat out (no --tx-rate)
// A second, slow sender (--side-rate, default 2000 pps) keeps every hostile stack busy
// with frames of its own for the whole window; in the "alone" rounds the same side traffic
// goes to a port nobody owns (the kernel's). What hostile stacks send is dropped at the
// peer's ingress (nft, netdev hook) and counted there, so the peer's kernel does not pay
// for it: on a real network the peer is another machine.
// Last line: {"bench":"neighbours","alone_kpps":…,"worst_with_hostile_kpps":…,"ratio":…}.
// Everything started is killed by PID, and the namespaces are removed, also on failure.

import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { buildStack } from '../host/src/build/build.js';
import { createPair, destroyPair, nsExec, nsSpawn, NsPair } from '../host/src/netns.js';
import { BUILD_DIR, REPO_ROOT, STACKS_DIR } from '../host/src/paths.js';
import { buildC, emit, median, round } from './_common.js';
import { Children, finish, stop, Tracked, waitFor } from './_procs.js';

const GOOD_PORT = 7;
const PAYLOAD = 18; // 60-byte frames on the veth (64 with a real NIC's FCS)
const OUT_DIR = path.join(BUILD_DIR, 'bench');
const MSH = path.join(REPO_ROOT, 'bin', 'msh.js');
const UNOWNED_PORT = 7009;
const RESTART = ['--restart', 'on-failure', '--max-restarts', '1000'];

interface Hostile { name: string; port: number; args: string[] }
const HOSTILES: Hostile[] = [
  { name: 'spoofer', port: 7001, args: [] },
  { name: 'looper', port: 7002, args: RESTART },
  { name: 'membomb', port: 7003, args: RESTART },
  { name: 'trapper', port: 7004, args: RESTART },
  { name: 'corrupter', port: 7005, args: [...RESTART, '--config', 'mode=index'] },
  { name: 'flooder', port: 7006, args: [] },
];

interface Options { rounds: number; warmup: number; window: number; 'side-rate': number }
interface BlastResult { sent_pps: number; echo_pps: number; sent: number; echoed: number; bad: number; window_s: number }

function parseArgs(args: string[]): Options {
  const o: Options = { rounds: 5, warmup: 1, window: 2, 'side-rate': 2000 };
  for (let i = 0; i < args.length; i++) {
    const key = args[i].replace(/^--/, '');
    const v = args[++i];
    if (!(key in o) || v === undefined || !Number.isFinite(Number(v))) throw new Error(`neighbours: unknown option or bad value: ${args[i - 1]} ${v ?? ''}`);
    (o as any)[key] = Number(v);
  }
  if (o.rounds < 1) throw new Error('neighbours: at least 1 round');
  return o;
}

/** Every child started: killed by PID on every way out. */
const children = new Children();

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** udp_blast from the peer namespace; resolves with its JSON result line. */
async function blast(p: NsPair, bin: string, port: number, warmup: number, window: number, rate: number): Promise<BlastResult> {
  const t = children.track(nsSpawn(p.nsB, bin, [p.ipA, String(port), String(warmup), String(window), String(rate), String(PAYLOAD), '64']), 'udp_blast');
  const code = await finish(t, (warmup + window + 10) * 1000);
  const line = t.out.text.trim().split('\n').pop() ?? '';
  if (code !== 0 || !line.startsWith('{')) throw new Error(`udp_blast failed (exit ${code}):\n${t.out.text}`);
  return JSON.parse(line) as BlastResult;
}

/** The peer drops (and counts) every frame from the hostile ports at its ingress. */
function peerDropRule(p: NsPair): void {
  nsExec(p.nsB, 'nft', ['-f', '-'], {
    input: `table netdev mshbn {\n chain in {\n  type filter hook ingress device "${p.ifB}" priority -500; policy accept;\n` +
      `  udp sport 7001-7008 counter drop\n }\n}\n`,
  });
}

/** Frames that rule has dropped so far. */
function peerDropped(p: NsPair): number {
  const out = nsExec(p.nsB, 'nft', ['-j', 'list', 'chain', 'netdev', 'mshbn', 'in']);
  const m = /"counter":\s*\{\s*"packets":\s*(\d+)/.exec(out);
  if (!m) throw new Error(`neighbours: no counter in the peer's nft rule:\n${out}`);
  return Number(m[1]);
}

interface Sample { echo: BlastResult; note: string }

/**
 * One measurement: optionally a hostile stack joins the host (second `msh run`); side
 * traffic to its port (or an unowned one) starts; the good stack is blasted; then the
 * hostile one is stopped.
 */
async function measure(p: NsPair, blastBin: string, o: Options, hostileDir: string, h: Hostile | null): Promise<Sample> {
  let joiner: Tracked | null = null;
  if (h) {
    joiner = children.track(nsSpawn(p.nsA, process.execPath, [MSH, 'run', '--iface', p.ifA, path.join(hostileDir, `${h.name}.wasm`), '--tuple', `udp:${h.port}`, ...h.args]), `msh run ${h.name}`);
    await waitFor(joiner, new RegExp(`\\[${h.name}\\] running`), 20_000, `msh run ${h.name}`);
  }
  const dropped0 = peerDropped(p);
  try {
    const side = blast(p, blastBin, h ? h.port : UNOWNED_PORT, 0, o.warmup + o.window + 1, o['side-rate']);
    await sleep(500); // the hostile stack is at it before the window opens
    const t0 = Date.now();
    const echo = await blast(p, blastBin, GOOD_PORT, o.warmup, o.window, 0);
    const peer = (peerDropped(p) - dropped0) / ((Date.now() - t0 + 500) / 1000);
    await side;
    let note = '';
    if (h && joiner) {
      const restarts = (joiner.out.text.match(new RegExp(`\\[${h.name}\\] running`, 'g')) ?? []).length - 1;
      note = `peer got ${(peer / 1e3).toFixed(1)} k packets/s from it (a GSO packet counts once)${restarts ? `, ${restarts} restarts` : ''}`;
    }
    return { echo, note };
  } finally {
    if (joiner) await stop(joiner, 5000, 'SIGINT');
  }
}

export async function main(args: string[]): Promise<number> {
  const o = parseArgs(args);
  if (process.getuid?.() !== 0) throw new Error('neighbours needs root (network namespaces, AF_XDP)');
  const blastBin = buildC('udp_blast');
  const hostileDir = path.join(OUT_DIR, 'neighbours');
  mkdirSync(hostileDir, { recursive: true });
  for (const h of HOSTILES) await buildStack(path.join(REPO_ROOT, 'test', 'stacks', h.name), { out: path.join(hostileDir, `${h.name}.wasm`) });

  // Before createPair's own exit and signal hooks (listeners run in order), so children die
  // before the namespaces go, also on Ctrl-C.
  children.hook();
  const p = createPair('mshbn', 48);
  const alone: BlastResult[] = [];
  const beside = new Map<string, BlastResult[]>(HOSTILES.map((h) => [h.name, []]));
  let host: Tracked | null = null;
  try {
    peerDropRule(p);
    nsExec(p.nsB, 'ping', ['-c', '1', '-W', '2', p.ipA]);
    host = children.track(nsSpawn(p.nsA, process.execPath, [MSH, 'run', '--iface', p.ifA, '--backend', 'xdp',
      path.join(STACKS_DIR, 'udp-echo.wasm'), '--tuple', `udp:${GOOD_PORT}`]), 'msh run udp-echo');
    await waitFor(host, /\[udp-echo\] running/, 20_000, 'msh run udp-echo');
    console.log(`neighbours: 64-byte UDP echo by udp-echo (msh, ${(host.out.text.match(/msh host on [^\n]*/) ?? ['AF_XDP'])[0].trim()}), ` +
      `sender flat out in ${p.nsB}; alone and beside each hostile stack (side traffic ${o['side-rate']} pps to it), ` +
      `${o.rounds} rounds, warm-up ${o.warmup}s + window ${o.window}s each`);
    for (let r = 1; r <= o.rounds; r++) {
      // Alone, then beside a hostile one, alone, beside the next, ...: every hostile
      // sample has an alone sample next to it (the machine's load drifts). The order of
      // the hostile ones rotates every round.
      const order = HOSTILES.map((_, i) => HOSTILES[(i + r - 1) % HOSTILES.length]);
      for (const h of order) {
        const a = await measure(p, blastBin, o, hostileDir, null);
        alone.push(a.echo);
        console.log(`  round ${r} alone        echoed ${(a.echo.echo_pps / 1e3).toFixed(1).padStart(6)} kpps   sent ${(a.echo.sent_pps / 1e3).toFixed(1).padStart(6)} kpps`);
        const s = await measure(p, blastBin, o, hostileDir, h);
        beside.get(h.name)!.push(s.echo);
        console.log(`  round ${r} ${h.name.padEnd(12)} echoed ${(s.echo.echo_pps / 1e3).toFixed(1).padStart(6)} kpps   sent ${(s.echo.sent_pps / 1e3).toFixed(1).padStart(6)} kpps   ${s.note}`);
      }
      if (host.child.exitCode !== null) throw new Error(`the msh host exited:\n${host.out.text}`);
    }
  } finally {
    if (host) await stop(host, 5000, 'SIGINT');
    await children.release();
    destroyPair(p);
  }
  const aloneK = median(alone.map((x) => x.echo_pps)) / 1e3;
  console.log(`  alone                median ${aloneK.toFixed(1)} kpps   samples ${alone.map((x) => (x.echo_pps / 1e3).toFixed(1)).join(' ')}`);
  let worst = Infinity, worstName = '';
  for (const h of HOSTILES) {
    const xs = beside.get(h.name)!;
    const k = median(xs.map((x) => x.echo_pps)) / 1e3;
    if (k < worst) { worst = k; worstName = h.name; }
    console.log(`  beside ${h.name.padEnd(12)}  median ${k.toFixed(1)} kpps   ratio ${(k / aloneK).toFixed(2)}   samples ${xs.map((x) => (x.echo_pps / 1e3).toFixed(1)).join(' ')}`);
  }
  console.log(`  worst: beside ${worstName}, ratio ${(worst / aloneK).toFixed(2)} (target >= 0.9)`);
  emit({ bench: 'neighbours', alone_kpps: round(aloneK, 1), worst_with_hostile_kpps: round(worst, 1), ratio: round(worst / aloneK, 2) });
  return 0;
}
