// npm run bench -- udp-veth [--rounds N] [--warmup S] [--window S] [--rate PPS] [--batch N]
//                          [--backend B] [--gso both|on|off]
// 64-byte UDP echo over a veth pair, end to end through real sockets. A C sender in the
// peer namespace (bench/c/udp_blast.c: sendmmsg on one thread, recvmmsg counting verified
// echoes on another) offers load to 10.77.0.1:7 in namespace A, where either
//   (a) msh runs stacks/udp-echo.wasm on the veth (`msh run`, AF_XDP by default), or
//   (b) the kernel answers: bench/c/udp_echo_kernel.c, recvmmsg/sendmmsg with batch 256,
//       bound to the same address and port.
// With --gso both (the default) msh runs twice per round, as it ships (GSO on: runs of
// echoes leave as UDP GSO packets, native/src/gso.h) and with --gso off (every echo its
// own AF_XDP frame); the headline ratio is msh as it ships, the other is printed too.
// Rounds alternate a, b, a, b, ... in one run with the same sender; each round starts its
// echo server fresh, warms up, then measures echoed packets per second over a window.
// Reported: per-round samples, the offered rate, medians; the last line is the JSON
// result. Everything started is killed by PID, and the namespaces are removed, also when
// a round fails or the run is interrupted.

import path from 'node:path';
import { createPair, destroyPair, nsExec, nsSpawn, NsPair } from '../host/src/netns.js';
import { REPO_ROOT, STACKS_DIR } from '../host/src/paths.js';
import { buildC, emit, median, round } from './_common.js';
import { Children, finish, stop, waitFor } from './_procs.js';

const PORT = 7;
const PAYLOAD = 18; // 14 + 20 + 8 + 18 = 60 bytes on the veth, 64 with the FCS of a real NIC
const MSH = path.join(REPO_ROOT, 'bin', 'msh.js');

interface Options {
  rounds: number; warmup: number; window: number; rate: number; batch: number; backend: string;
  gso: string;
}

interface BlastResult {
  offered_pps: number; sent_pps: number; echo_pps: number; sent: number; echoed: number;
  bad: number; send_errors: number; window_s: number;
}

function parseArgs(args: string[]): Options {
  const o: Options = { rounds: 5, warmup: 1, window: 3, rate: 0, batch: 64, backend: 'auto', gso: 'both' };
  for (let i = 0; i < args.length; i++) {
    const key = args[i].replace(/^--/, '');
    const v = args[++i];
    if (!(key in o) || v === undefined) throw new Error(`udp-veth: unknown option or missing value: ${args[i - 1]}`);
    (o as any)[key] = key === 'backend' || key === 'gso' ? v : Number(v);
  }
  if (!['both', 'on', 'off'].includes(o.gso)) throw new Error(`udp-veth: --gso ${o.gso}: expected both, on or off`);
  if (o.rounds < 3) throw new Error('udp-veth: at least 3 rounds');
  return o;
}

/** Every child started: killed by PID on every way out. */
const children = new Children();

async function blast(p: NsPair, bin: string, o: Options): Promise<BlastResult> {
  const t = children.track(nsSpawn(p.nsB, bin, [p.ipA, String(PORT), String(o.warmup), String(o.window), String(o.rate), String(PAYLOAD), String(o.batch)]), 'udp_blast');
  const code = await finish(t, (o.warmup + o.window + 10) * 1000);
  const line = t.out.text.trim().split('\n').pop() ?? '';
  if (code !== 0 || !line.startsWith('{')) throw new Error(`udp_blast failed (exit ${code}):\n${t.out.text}`);
  return JSON.parse(line) as BlastResult;
}

/** One round against msh: start `msh run` in namespace A, blast, stop it. */
async function roundMsh(p: NsPair, blastBin: string, o: Options, gso: 'on' | 'off'): Promise<{ r: BlastResult; note: string }> {
  const t = children.track(nsSpawn(p.nsA, process.execPath, [MSH, 'run', '--iface', p.ifA, '--backend', o.backend, '--gso', gso,
    path.join(STACKS_DIR, 'udp-echo.wasm'), '--tuple', `udp:${PORT}`]), 'msh');
  try {
    await waitFor(t, /\[udp-echo\] running/, 20_000, 'msh run');
    const r = await blast(p, blastBin, o);
    return { r, note: (t.out.text.match(/msh host on [^\n]*/) ?? [''])[0] };
  } finally {
    await stop(t);
  }
}

/** One round against the kernel: the C recvmmsg/sendmmsg echo in namespace A. */
async function roundKernel(p: NsPair, echoBin: string, blastBin: string, o: Options): Promise<{ r: BlastResult; note: string }> {
  const t = children.track(nsSpawn(p.nsA, echoBin, [p.ipA, String(PORT), '256']), 'udp_echo_kernel');
  try {
    await waitFor(t, /^ready$/m, 5000, 'udp_echo_kernel');
    const r = await blast(p, blastBin, o);
    return { r, note: '' };
  } finally {
    await stop(t);
  }
}

function describe(r: BlastResult): string {
  const lost = r.sent ? (100 * (r.sent - r.echoed)) / r.sent : 0;
  return `echoed ${(r.echo_pps / 1e3).toFixed(1).padStart(6)} kpps   sent ${(r.sent_pps / 1e3).toFixed(1).padStart(6)} kpps   not echoed ${lost.toFixed(1).padStart(5)} %` +
    (r.bad ? `   BAD ${r.bad}` : '') + (r.send_errors ? `   send errors ${r.send_errors}` : '');
}

export async function main(args: string[]): Promise<number> {
  const o = parseArgs(args);
  if (process.getuid?.() !== 0) throw new Error('udp-veth needs root (network namespaces, AF_XDP)');
  const blastBin = buildC('udp_blast');
  const echoBin = buildC('udp_echo_kernel');
  // Before createPair's own exit and signal hooks (listeners run in order), so children die
  // before the namespaces go, also on Ctrl-C.
  children.hook();
  const p = createPair('mshbv', 77);
  const msh: BlastResult[] = [];
  const mshNoGso: BlastResult[] = [];
  const kernel: BlastResult[] = [];
  const arms: Array<['on' | 'off', BlastResult[], string]> = o.gso === 'both'
    ? [['on', msh, 'msh    '], ['off', mshNoGso, 'msh -G ']] : [[o.gso as 'on' | 'off', msh, 'msh    ']];
  try {
    // The veth carries traffic before any round starts (neighbours are static).
    nsExec(p.nsB, 'ping', ['-c', '1', '-W', '2', p.ipA]);
    const offered = o.rate > 0 ? `${(o.rate / 1e3).toFixed(0)} kpps (paced)` : 'flat out';
    console.log(`udp-veth: 64-byte UDP echo over veth, sender in ${p.nsB} (sendmmsg batch ${o.batch}, offered ${offered}), ` +
      `${o.rounds} alternating rounds, warm-up ${o.warmup}s + window ${o.window}s each`);
    if (o.gso === 'both') console.log('  (msh: as it ships, GSO on; msh -G: --gso off, every echo its own AF_XDP frame)');
    for (let i = 1; i <= o.rounds; i++) {
      for (const [gso, results, label] of arms) {
        const a = await roundMsh(p, blastBin, o, gso);
        results.push(a.r);
        if (i === 1 && a.note) console.log(`  ${a.note.trim()}`);
        console.log(`  round ${i} ${label}${describe(a.r)}`);
      }
      const b = await roundKernel(p, echoBin, blastBin, o);
      kernel.push(b.r);
      console.log(`  round ${i} kernel ${describe(b.r)}`);
    }
  } finally {
    await children.release();
    destroyPair(p);
  }
  const mshK = median(msh.map((r) => r.echo_pps)) / 1e3;
  const kerK = median(kernel.map((r) => r.echo_pps)) / 1e3;
  const sentK = median([...msh, ...mshNoGso, ...kernel].map((r) => r.sent_pps)) / 1e3;
  console.log(`  offered: ${o.rate > 0 ? `${(o.rate / 1e3).toFixed(0)} kpps paced` : 'flat out'}; sender achieved ${sentK.toFixed(1)} kpps (median over all rounds)`);
  const samples = (rs: BlastResult[]) => rs.map((r) => (r.echo_pps / 1e3).toFixed(1)).join(' ');
  console.log(`  msh (Wasm udp-echo, ${o.backend === 'auto' ? 'AF_XDP' : o.backend}, GSO ${arms[0][0]}) median ${mshK.toFixed(1)} kpps   samples ${samples(msh)}`);
  if (mshNoGso.length) {
    const k = median(mshNoGso.map((r) => r.echo_pps)) / 1e3;
    console.log(`  msh --gso off                   median ${k.toFixed(1)} kpps   samples ${samples(mshNoGso)}   ratio ${(k / (median(kernel.map((r) => r.echo_pps)) / 1e3)).toFixed(2)}`);
  }
  console.log(`  kernel (recvmmsg/sendmmsg 256)  median ${kerK.toFixed(1)} kpps   samples ${kernel.map((r) => (r.echo_pps / 1e3).toFixed(1)).join(' ')}`);
  console.log(`  ratio ${(mshK / kerK).toFixed(2)} (target >= 1.5)`);
  emit({ bench: 'udp-veth', msh_kpps: round(mshK, 1), kernel_kpps: round(kerK, 1), ratio: round(mshK / kerK, 2) });
  return 0;
}
