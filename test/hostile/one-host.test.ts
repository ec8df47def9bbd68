// Hostile stacks (issue 4) in the same `msh run` command line as the well-behaved udp-echo,
// on one real interface (veth, AF_XDP) in a private namespace pair. Each hostile stack is
// set off by a datagram from the kernel peer; then the msh process must still run, udp-echo
// must still echo, and `msh status --json` and the log must say what happened.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChildProcess } from 'node:child_process';
import { createPair, destroyPair, nsSpawn, NsPair } from '../../host/src/netns.js';
import { MshProcess, udpRequest } from '../run/msh-process.js';
import { buildStacks, burst, cpuSeconds, echoes, isUp, linkCounters, poke, sleep, stackStatus, status, waitForStatus } from './hostile-env.js';

const CORRUPTIONS: Array<[mode: string, port: number, reason: RegExp]> = [
  ['index', 6010, /^ring corrupted: tx tail-head=100000 exceeds num_slots=256 \(head=\d+ tail=\d+\)$/],
  ['offset', 6011, /^ring corrupted: tx slot \d+ buf=0xfffff000 outside memory \(size 0x[0-9a-f]+, slot_size 2048\)$/],
  ['len', 6012, /^ring corrupted: tx slot \d+ len=70000 exceeds slot_size=2048$/],
  ['rx', 6013, /^ring corrupted: rx tail-head=\d+ exceeds num_slots=256 \(head=\d+ tail=\d+\)$/],
  ['rxbuf', 6014, /^ring corrupted: rx slot \d+ buf=0x[0-9a-f]+ outside memory \(size 0x[0-9a-f]+, slot_size 2048\)$/],
];

describe('hostile stacks in the same msh run as udp-echo', () => {
  let p: NsPair;
  let msh: MshProcess;
  let stacks: Awaited<ReturnType<typeof buildStacks>>;

  beforeAll(async () => {
    stacks = await buildStacks(['udp-echo', 'spoofer', 'looper', 'membomb', 'trapper', 'corrupter']);
    const s = stacks.path;
    p = createPair('mshxo', 42);
    msh = MshProcess.start(p.nsA, ['run', '--iface', p.ifA, '--backend', 'xdp',
      s('udp-echo'), '--tuple', 'udp:7',
      s('spoofer'), '--tuple', 'udp:5353',
      s('looper'), '--tuple', 'udp:6000', '--cpu-budget', '200',
      s('membomb'), '--tuple', 'udp:6001', '--mem-limit', '32',
      s('trapper'), '--tuple', 'udp:6002',
      s('trapper'), '--name', 'phoenix', '--tuple', 'udp:6003', '--restart', 'on-failure', '--max-restarts', '3',
      ...CORRUPTIONS.flatMap(([mode, port]) => [s('corrupter'), '--name', `corrupt-${mode}`, '--tuple', `udp:${port}`, '--config', `mode=${mode}`]),
    ]);
    await msh.waitFor(/\[corrupt-rxbuf\] running/, 30_000);
    expect(echoes(p, 'before\n')).toBe(true);
  }, 90_000);

  afterAll(async () => {
    await msh?.stop();
    if (p) destroyPair(p);
    stacks?.remove();
  });

  /** What must hold after every hostile act. */
  function hostAndGoodStackFine(tag: string): void {
    expect(isUp(msh), `msh still runs after ${tag}:\n${msh.output}`).toBe(true);
    expect(echoes(p, `still echoing after ${tag}\n`), `udp-echo answers after ${tag}`).toBe(true);
    const good = stackStatus(p, 'udp-echo');
    expect(good.state).toBe('running');
    expect(good.reason).toBe('');
  }

  it('spoofer: every forgery is dropped and counted by reason, only the honest reply reaches the peer', async () => {
    // Capture what arrives at the peer (XDP TX is invisible on A's side).
    const dump: ChildProcess = nsSpawn(p.nsB, 'tcpdump', ['-i', p.ifB, '-n', '-e', '-l', '-Q', 'in', 'not ip6']);
    let captured = '';
    let dumpErr = '';
    dump.stdout!.on('data', (d) => (captured += d));
    dump.stderr!.on('data', (d) => (dumpErr += d));
    const dumpExit = new Promise((r) => dump.on('exit', r));
    try {
      for (let i = 0; !/listening on/.test(dumpErr); i++) {
        if (i > 100) throw new Error(`tcpdump did not start: ${dumpErr}`);
        await sleep(50);
      }
      // 20 bytes of payload: room for a TCP header, so "other protocol" is a tuple forgery.
      const payload = 'twenty bytes of text\n';
      expect(udpRequest(p.nsB, p.ipA, 5353, payload).out).toBe(payload); // the honest reply
      const st = await waitForStatus(p, 'spoofer', (s) =>
        Object.entries(s.counters).filter(([k]) => /^tx_(frames|bad_|malformed|too_long)/.test(k)).reduce((a, [, v]) => a + v, 0) >= 7,
      'all seven frames accounted for');
      await sleep(200);
      expect(st.state).toBe('running'); // forging is refused, not fatal
      expect(st.counters).toMatchObject({ tx_frames: 1, tx_bad_src_mac: 1, tx_bad_tuple: 3, tx_bad_ethertype: 1, tx_malformed: 1, tx_too_long: 0 });
    } finally {
      dump.kill('SIGINT');
      await dumpExit;
    }
    const frames = captured.split('\n').filter((l) => /length \d+/.test(l));
    // Exactly one frame came in: the honest reply, from A's MAC, address and the owned port.
    expect(frames, captured).toHaveLength(1);
    expect(frames[0]).toContain(`${p.macA} > ${p.macB}, ethertype IPv4`);
    expect(frames[0]).toContain(`${p.ipA}.5353 > ${p.ipB}.`);
    hostAndGoodStackFine('the spoofer');
  });

  it('infinite loop: in the background while it spins, stopped by --cpu-budget, failed with a reason naming the budget', async () => {
    poke(p, 6000);
    const st = await waitForStatus(p, 'looper', (s) => s.state === 'failed', 'failed');
    // Stopped when it has used its budget in CPU time, or (at background priority on a
    // busy machine it may get little CPU) after ten budgets of time.
    expect(st.reason).toMatch(/^cpu budget exceeded: a call into the stack ran (longer than 200 ms|\d+ ms, 10 times its budget of 200 ms \(only \d+ ms of it on a CPU: the machine is overloaded\))$/);
    expect(st.limits.cpuBudgetMs).toBe(200);
    expect(st.counters.budget_overruns).toBe(1);
    expect(st.counters.spinning_calls).toBe(1); // seen spinning, sent to background priority
    await msh.waitFor(/\[looper\] warn: a call has been spinning on the CPU for \d+ ms: background CPU priority until it returns/, 5000);
    expect(st.counters.rx_frames).toBe(1);
    await msh.waitFor(/\[looper\] failed: cpu budget exceeded/, 5000);
    await msh.waitFor(/\[looper\] info: counters: .*budget_overruns=1/, 5000);
    // The spinning guest was really ended: the host process is idle again.
    const before = cpuSeconds(msh.child.pid!);
    await sleep(1000);
    expect(cpuSeconds(msh.child.pid!) - before).toBeLessThan(0.5);
    hostAndGoodStackFine('the infinite loop');
  });

  it('memory bomb: capped by --mem-limit, fails with a reason naming the limit', async () => {
    poke(p, 6001);
    const st = await waitForStatus(p, 'membomb', (s) => s.state === 'failed', 'failed');
    expect(st.limits.memLimitMiB).toBe(32);
    // It grows 16 MiB at a time from ~1 MiB: the third grow would pass 32 MiB and is refused.
    expect(st.guestMessage).toBe('memory.grow refused at 17 MiB');
    expect(st.reason).toMatch(/^poll trapped: unreachable \(stack said: memory\.grow refused at 17 MiB\) \[memory 17\.\d+ MiB of its 32 MiB limit \(--mem-limit\)\]$/);
    await msh.waitFor(/\[membomb\] error: memory\.grow refused at 17 MiB/, 5000);
    hostAndGoodStackFine('the memory bomb');
  });

  it('trapper: its abort text shows in the reason and the log', async () => {
    poke(p, 6002, 1, 'x'.repeat(30) + '\n');
    const st = await waitForStatus(p, 'trapper', (s) => s.state === 'failed', 'failed');
    expect(st.reason).toMatch(/^poll trapped: .*\(stack said: abort: trapper gives up on frame of 73 bytes at .*trapper\/index\.ts:\d+:\d+\)$/);
    expect(st.guestMessage).toMatch(/^abort: trapper gives up on frame of 73 bytes/);
    expect(st.restarts).toBe(0); // --restart no (the default)
    await msh.waitFor(/\[trapper\] error: abort: trapper gives up on frame of 73 bytes/, 5000);
    await msh.waitFor(/\[trapper\] failed: poll trapped/, 5000);
    hostAndGoodStackFine('the trapper');
  });

  it.each(CORRUPTIONS)('ring corrupter, mode=%s: stopped with a clear reason, nothing sent, no host crash', async (mode, port, reason) => {
    poke(p, port); // the first frame makes it corrupt its ring
    await sleep(100);
    poke(p, port); // the next one makes the host use the RX ring again (mode=rxbuf)
    const st = await waitForStatus(p, `corrupt-${mode}`, (s) => s.state === 'failed', 'failed');
    expect(st.reason).toMatch(reason);
    expect(st.counters.tx_frames).toBe(0);
    await msh.waitFor(new RegExp(`\\[corrupt-${mode}\\] failed: ring corrupted: `), 5000);
    hostAndGoodStackFine(`the ${mode} corrupter`);
  });

  it('--restart on-failure: restarts with backoff up to --max-restarts, then gives up and stays failed', async () => {
    const until = Date.now() + 15_000;
    let st = stackStatus(p, 'phoenix');
    expect(st.limits).toMatchObject({ restart: 'on-failure', maxRestarts: 3 });
    while (st.state !== 'failed') {
      if (Date.now() > until) throw new Error(`phoenix never gave up: ${JSON.stringify(st)}\n${msh.output}`);
      poke(p, 6003); // a frame for every incarnation
      await sleep(80);
      st = stackStatus(p, 'phoenix');
    }
    expect(st.reason).toMatch(/^poll trapped: .*trapper gives up on frame .*\(gave up after 3 restarts\)$/);
    expect(st.restarts).toBe(3);
    expect(st.counters.restarts).toBe(3);
    await msh.waitFor(/\[phoenix\] failed: .*\(gave up after 3 restarts\)/, 5000);
    // Backoff doubles: 100, 200, 400 ms between a failure and the next start.
    const lines = msh.output.split('\n').filter((l) => l.includes('[phoenix]'));
    const at = (l: string) => { const [h, m, s] = l.slice(0, 12).split(':').map(Number); return (h * 3600 + m * 60 + s) * 1000; };
    for (const [n, delay] of [[1, 100], [2, 200], [3, 400]]) {
      const i = lines.findIndex((l) => l.includes(`restart ${n}/3 in ${delay} ms`));
      expect(i, `restart ${n} in the log:\n${lines.join('\n')}`).toBeGreaterThanOrEqual(0);
      const next = lines.slice(i + 1).find((l) => /\[phoenix\] running/.test(l));
      expect(next).toBeDefined();
      expect(at(next!) - at(lines[i])).toBeGreaterThanOrEqual(delay - 5);
    }
    expect(lines.filter((l) => /\[phoenix\] running/.test(l))).toHaveLength(4);
    // It stays failed: more frames do not bring it back.
    poke(p, 6003);
    await sleep(600);
    st = stackStatus(p, 'phoenix');
    expect(st.state).toBe('failed');
    expect(st.restarts).toBe(3);
    hostAndGoodStackFine('the restarting trapper');
  });

  it('failed stacks that keep receiving do not pin the buffers udp-echo needs (AF_XDP UMEM)', () => {
    // Nine failed stacks, 6000 frames each: more than all their sockets' RX rings could hold
    // of the UMEM the good stack shares. A failed stack's port is parked: its frames are
    // dropped at the XDP program and counted, and its RX ring gave its frames back.
    const failed = status(p).filter((s) => s.state === 'failed').map((s) => s.name);
    expect(failed).toHaveLength(9);
    const ports = [6000, 6001, 6002, 6003, ...CORRUPTIONS.map(([, port]) => port)];
    const before = linkCounters(p);
    burst(p, ports, 6000);
    const after = linkCounters(p);
    expect(after.xdp_drop_no_socket - (before.xdp_drop_no_socket ?? 0)).toBeGreaterThan(9 * 6000 * 0.9);
    expect(echoes(p, 'not starved\n')).toBe(true);
    const now = status(p);
    for (const name of failed) expect(now.find((s) => s.name === name)!.counters.rx_frames, name).toBeLessThan(10);
    hostAndGoodStackFine('floods at failed stacks');
  });

  it('after all of it the host still runs every stack that behaved, and udp-echo lost nothing', () => {
    const all = status(p);
    expect(all.filter((s) => s.state === 'running').map((s) => s.name).sort()).toEqual(['spoofer', 'udp-echo']);
    const good = all.find((s) => s.name === 'udp-echo')!;
    expect(good.counters.tx_frames).toBe(good.counters.rx_frames);
    expect(good.counters.spinning_calls).toBe(0); // never pushed to the background
    for (const [k, v] of Object.entries(good.counters)) if (/^tx_bad|^tx_malformed|^tx_too_long|^tx_backend_full/.test(k)) expect(v, k).toBe(0);
    expect(udpRequest(p.nsB, p.ip6A, 7, 'v6 too\n', true).out).toBe('v6 too\n');
  });
});
