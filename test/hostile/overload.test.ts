// --cpu-budget counts CPU time (host/src/runtime/stack-host.ts): on an overloaded CPU a
// call that gets little CPU is not stopped when its budget of wall time is over, only
// after ten budgets. Made real: msh runs pinned to one CPU (taskset) beside a busy loop
// at a higher priority on that CPU, so the looper, spinning at background priority,
// gets only a sliver of it; udp-echo in the same msh run keeps answering, slowly.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChildProcess, spawn } from 'node:child_process';
import { createPair, destroyPair, NsPair } from '../../host/src/netns.js';
import { MSH, MshProcess } from '../run/msh-process.js';
import { buildStacks, echoes, poke, stackStatus, waitForStatus } from './hostile-env.js';

const BUDGET_MS = 100;

describe('--cpu-budget on an overloaded CPU', () => {
  let p: NsPair;
  let msh: MshProcess;
  let hog: ChildProcess | null = null;
  let stacks: Awaited<ReturnType<typeof buildStacks>>;

  beforeAll(async () => {
    stacks = await buildStacks(['udp-echo', 'looper']);
    p = createPair('mshov', 44);
    // The whole msh process (every thread) on CPU 0.
    msh = new MshProcess(spawn('ip', ['netns', 'exec', p.nsA, 'taskset', '-c', '0', process.execPath, MSH, 'run', '--iface', p.ifA,
      '--backend', 'xdp', stacks.path('udp-echo'), '--tuple', 'udp:7',
      stacks.path('looper'), '--tuple', 'udp:6000', '--cpu-budget', String(BUDGET_MS)], { stdio: ['ignore', 'pipe', 'pipe'] }));
    await msh.waitFor(/\[looper\] running/, 30_000);
    expect(echoes(p, 'before\n')).toBe(true);
  }, 90_000);

  afterAll(async () => {
    if (hog && hog.exitCode === null) hog.kill('SIGKILL');
    await msh?.stop();
    if (p) destroyPair(p);
    stacks?.remove();
  });

  it('a spinning call that gets little CPU is stopped after ten budgets, saying the machine is overloaded', async () => {
    // A busy loop on CPU 0 at nice -5: against it a nice-19 thread gets ~0.5 % of the CPU.
    hog = spawn('taskset', ['-c', '0', 'nice', '-n', '-5', 'python3', '-c', 'while True: pass'], { stdio: 'ignore' });
    await new Promise((r) => setTimeout(r, 200));
    const t0 = Date.now();
    poke(p, 6000);
    const st = await waitForStatus(p, 'looper', (s) => s.state === 'failed', 'failed', 20_000);
    const ms = Date.now() - t0;
    hog.kill('SIGKILL');
    expect(st.reason).toMatch(/^cpu budget exceeded: a call into the stack ran \d+ ms, 10 times its budget of 100 ms \(only \d+ ms of it on a CPU: the machine is overloaded\)$/);
    const cpuMs = Number(/only (\d+) ms/.exec(st.reason)![1]);
    expect(cpuMs).toBeLessThan(BUDGET_MS);
    expect(ms).toBeGreaterThanOrEqual(10 * BUDGET_MS - 100);
    expect(st.counters.spinning_calls).toBe(1);
    // The host and the good stack went on.
    expect(echoes(p, 'after\n')).toBe(true);
    expect(stackStatus(p, 'udp-echo').state).toBe('running');
  }, 60_000);
});
