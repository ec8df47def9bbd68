// Hostile stacks (issue 4) that join, through a second `msh run`, the msh host already
// serving the well-behaved udp-echo on a real interface (veth, AF_XDP) in a private
// namespace pair: a TX flooder with and without --tx-rate, stacks that try to take tuples
// that are not theirs, a stack that fails on its own, a component that is not a stack.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import path from 'node:path';
import { createPair, destroyPair, nsExec, NsPair } from '../../host/src/netns.js';
import { writeOtherWorldComponent } from '../helpers/stacks.js';
import { MshProcess, udpRequest } from '../run/msh-process.js';
import { buildStacks, burst, cpuSeconds, echoes, isUp, peerDatagrams, poke, stackStatus, status, waitForStatus } from './hostile-env.js';

describe('hostile stacks joining a running msh host', () => {
  let p: NsPair;
  let stacks: Awaited<ReturnType<typeof buildStacks>>;
  const started: MshProcess[] = [];
  const run = (...args: string[]) => {
    const m = MshProcess.start(p.nsA, ['run', '--iface', p.ifA, ...args]);
    started.push(m);
    return m;
  };

  beforeAll(async () => {
    stacks = await buildStacks(['udp-echo', 'flooder', 'trapper', 'spoofer', 'looper']);
    p = createPair('mshxj', 43);
  }, 90_000);

  afterAll(async () => {
    for (const m of started.reverse()) await m.stop('SIGKILL');
    if (p) destroyPair(p);
    stacks?.remove();
  });

  it('one msh run naming the same tuple for two stacks is refused as a whole, leaving nothing behind', async () => {
    const m = run(stacks.path('udp-echo'), '--tuple', 'udp:7', stacks.path('spoofer'), '--tuple', 'udp:7');
    expect(await m.exited).toBe(1);
    expect(m.output).toMatch(new RegExp(`msh: cannot claim udp:${p.ipA.replace(/\./g, '\\.')}:7: it is owned by stack 'udp-echo'`));
    expect(nsExec(p.nsA, 'ip', ['link', 'show', 'dev', p.ifA])).not.toMatch(/xdp/);
    expect(udpRequest(p.nsB, p.ipA, 7, 'anyone?\n').out).toMatch(/Connection refused/); // the kernel has port 7 again
  });

  describe('beside udp-echo', () => {
    let host: MshProcess;

    beforeAll(async () => {
      host = run('--backend', 'xdp', stacks.path('udp-echo'), '--tuple', 'udp:7');
      await host.waitFor(/\[udp-echo\] running/);
      expect(echoes(p, 'before\n')).toBe(true);
    }, 60_000);

    function hostAndGoodStackFine(tag: string): void {
      expect(isUp(host), `the msh host still runs after ${tag}:\n${host.output}`).toBe(true);
      expect(echoes(p, `still echoing after ${tag}\n`), `udp-echo answers after ${tag}`).toBe(true);
      const good = stackStatus(p, 'udp-echo');
      expect(good.state).toBe('running');
      expect(good.counters.tx_frames).toBe(good.counters.rx_frames);
    }

    it('a stack claiming another stack\'s tuple or a wildcard is refused with a clear error and a non-zero exit', async () => {
      const ip4 = p.ipA.replace(/\./g, '\\.');
      const owned = (t: string) => new RegExp(`msh: cannot claim ${t}: it is owned by stack 'udp-echo'`);
      const cases: Array<[args: string[], code: number, message: RegExp]> = [
        [['--tuple', 'udp:7'], 1, owned(`udp:${ip4}:7`)],
        [['--tuple', `udp:${p.ipA}:7`], 1, owned(`udp:${ip4}:7`)],
        [['--tuple', `udp:[${p.ip6A}]:7`], 1, owned(`udp:\\[${p.ip6A}\\]:7`)],
        // A free tuple and a taken one: all or nothing.
        [['--tuple', 'udp:9', '--tuple', 'udp:7'], 1, owned(`udp:${ip4}:7`)],
        [['--tuple', 'udp:0'], 2, /bad --tuple 'udp:0': port '0' must be a number from 1 to 65535/],
        [['--tuple', 'udp:0.0.0.0:7'], 2, /bad --tuple 'udp:0\.0\.0\.0:7': the unspecified address cannot be owned/],
        [['--tuple', 'udp:[::]:7'], 2, /bad --tuple 'udp:\[::\]:7': the unspecified address cannot be owned/],
        [['--tuple', 'udp:*:7'], 2, /bad --tuple 'udp:\*:7'/],
        [['--name', 'udp-echo', '--tuple', 'udp:11'], 1, /a stack named 'udp-echo' is already running/],
      ];
      const thieves = cases.map(([args]) => run(stacks.path('spoofer'), ...(args.includes('--name') ? [] : ['--name', 'thief']), ...args));
      const codes = await Promise.all(thieves.map((t) => t.exited));
      cases.forEach(([args, code, message], i) => {
        expect(codes[i], `${args.join(' ')}:\n${thieves[i].output}`).toBe(code);
        expect(thieves[i].output, args.join(' ')).toMatch(message);
        expect(thieves[i].output).not.toMatch(/\n\s+at /); // a message, not a stack trace
      });
      // Nothing of theirs stayed: no thief in status, udp:9 is still the kernel's.
      expect(status(p).map((s) => s.name)).toEqual(['udp-echo']);
      expect(udpRequest(p.nsB, p.ipA, 9, 'anyone?\n').out).toMatch(/Connection refused/);
      expect(stackStatus(p, 'udp-echo').tuples).toEqual([`udp:${p.ipA}:7`, `udp:[${p.ip6A}]:7`]);
      hostAndGoodStackFine('the tuple thieves');
    }, 60_000);

    it('TX flooder with --tx-rate: the peer gets about that rate, tx_rate_limited grows, the host does not spin', async () => {
      const RATE = 2000;
      const f = run(stacks.path('flooder'), '--tuple', 'udp:6100', '--tx-rate', String(RATE));
      await f.waitFor(/\[flooder\] running/);
      poke(p, 6100, 1, 'template\n', 40000); // its first frame becomes the template of its flood
      const first = await waitForStatus(p, 'flooder', (s) => s.counters.tx_rate_limited > 0, 'rate limited');
      expect(first.limits.txRate).toBe(RATE);
      const cpu0 = cpuSeconds(host.child.pid!);
      const t0 = Date.now();
      // Its flood goes to where the template came from: count the datagrams arriving there.
      const got = peerDatagrams(p, 40000, 2000);
      const secs = (Date.now() - t0) / 1000;
      const cpu = (cpuSeconds(host.child.pid!) - cpu0) / secs;
      const rate = got / 2;
      expect(rate, `peer received ${rate.toFixed(0)} frames/s`).toBeGreaterThan(RATE * 0.5);
      expect(rate, `peer received ${rate.toFixed(0)} frames/s`).toBeLessThan(RATE * 1.25);
      expect(cpu, 'host CPU, cores').toBeLessThan(0.6); // a limited flooder sleeps, it does not spin
      const later = stackStatus(p, 'flooder');
      expect(later.state).toBe('running');
      expect(later.counters.tx_rate_limited).toBeGreaterThan(first.counters.tx_rate_limited);
      hostAndGoodStackFine('the rate-limited flooder');
      expect(await f.stop()).toBe(0);
      expect(f.output).toMatch(/\[flooder\] info: counters: .*tx_rate_limited=\d+/);
      expect(f.output).toMatch(/\[flooder\] stopped/);
    }, 30_000);

    it('TX flooder without a rate limit: it floods, and udp-echo still gets its share', async () => {
      const f = run(stacks.path('flooder'), '--tuple', 'udp:6101');
      await f.waitFor(/\[flooder\] running/);
      poke(p, 6101, 1, 'template\n', 40001);
      await waitForStatus(p, 'flooder', (s) => s.counters.tx_frames > 10_000, 'flooding');
      // It asks to be polled again at once, flat out: the host runs it in the background.
      await f.waitFor(/\[flooder\] info: keeps asking to be polled at once: .*background CPU priority \(nice 19\) and at most half of the time/, 5000);
      const tx0 = stackStatus(p, 'flooder').counters.tx_frames;
      let answered = 0;
      for (let i = 0; i < 5; i++) if (echoes(p, `under flood ${i}\n`, 2)) answered++;
      const tx1 = stackStatus(p, 'flooder').counters.tx_frames;
      expect(tx1 - tx0, 'the flood really ran while udp-echo was asked').toBeGreaterThan(20_000);
      expect(answered).toBe(5);
      hostAndGoodStackFine('the unlimited flooder');
      expect(stackStatus(p, 'flooder').state).toBe('running');
      expect(await f.stop()).toBe(0);
    }, 30_000);

    it('a joining stack that fails ends its own msh run (exit 1) with its reason; its tuple goes back to the kernel', async () => {
      const t = run(stacks.path('trapper'), '--tuple', 'udp:6102');
      await t.waitFor(/\[trapper\] running/);
      poke(p, 6102);
      expect(await t.exited).toBe(1);
      expect(t.output).toMatch(/\[trapper\] error: abort: trapper gives up on frame of \d+ bytes/);
      expect(t.output).toMatch(/\[trapper\] failed: poll trapped: .*\(stack said: abort: trapper gives up/);
      expect(t.output).toMatch(/every stack of this command failed; leaving the msh host/);
      expect(t.output).not.toMatch(/went away/);
      expect(status(p).map((s) => s.name)).toEqual(['udp-echo']);
      expect(udpRequest(p.nsB, p.ipA, 6102, 'anyone?\n').out).toMatch(/Connection refused/);
      hostAndGoodStackFine('the failed joiner');
    }, 30_000);

    it('stacks that leave while frames wait on their rings give those frames back (AF_XDP UMEM)', async () => {
      // Five loopers join; each spins on its first frame (a long --cpu-budget) while the
      // rest of 5000 frames pile up on its socket: together they hold what the UMEM the
      // good stack shares can give. Stopped while they spin, their ports go, and every
      // frame they held must go back to the UMEM, or udp-echo could never receive again.
      const ports = [6110, 6111, 6112, 6113, 6114];
      const loopers = ports.map((port) => run(stacks.path('looper'), '--name', `spin-${port}`, '--tuple', `udp:${port}`, '--cpu-budget', '20000'));
      await Promise.all(loopers.map((l, i) => l.waitFor(new RegExp(`\\[spin-${ports[i]}\\] running`))));
      burst(p, ports, 5000);
      // The premise: their rings overflowed, or the UMEM ran dry for them.
      const spinning = await waitForStatus(p, 'spin-6110', (s) => s.counters.rx_frames > 0, 'received');
      const all = status(p).filter((s) => s.name.startsWith('spin-'));
      expect(all).toHaveLength(5);
      expect(spinning.counters.rx_frames).toBeLessThanOrEqual(256); // one batch, then it spins
      expect(all.some((s) => s.counters.xsk_rx_ring_full > 0 || s.counters.xsk_rx_dropped > 0), JSON.stringify(all.map((s) => s.counters))).toBe(true);
      expect(await Promise.all(loopers.map((l) => l.stop()))).toEqual([0, 0, 0, 0, 0]);
      expect(status(p).map((s) => s.name)).toEqual(['udp-echo']);
      hostAndGoodStackFine('loopers that left with full rings');
    }, 30_000);

    it('a component for another world is refused before it reaches the host', async () => {
      const file = path.join(stacks.dir, 'other-world.wasm');
      await writeOtherWorldComponent(file);
      const o = run(file, '--tuple', 'udp:6103');
      expect(await o.exited).toBe(1);
      expect(o.output).toMatch(/does not implement the world multistack:stack\/stack/);
      hostAndGoodStackFine('the component of another world');
    }, 30_000);
  });
});
