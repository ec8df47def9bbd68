// Coverage-guided fuzzing of the data path's untrusted inputs (frames and guest ring
// memory) under ASan + UBSan (test/native/fuzz/data_path_fuzz.cc), and the threads of
// the data path run concurrently under ThreadSanitizer (concurrency_stress.cc). A crash,
// an out-of-bounds access, a data race or a broken invariant fails the test.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../host/src/paths.js';

const CORE = ['frame', 'classifier', 'link', 'guest_ring', 'pcap', 'errors', 'bench_reference']
  .map((f) => `native/src/${f}.cc`).concat(['native/src/backends/switch.cc']);

function build(dir: string, main: string, flags: string[], sources = CORE): string {
  const bin = path.join(dir, path.basename(main, '.cc'));
  const cc = spawnSync('clang++', ['-g', '-O1', '-std=c++20', ...flags, '-I', 'native/src',
    main, ...sources, '-o', bin], { cwd: REPO_ROOT, encoding: 'utf8' });
  expect(cc.stderr).toBe('');
  expect(cc.status).toBe(0);
  return bin;
}

// Issue 4 asks for at least 60 s of fuzzing in CI; MSH_FUZZ_SECONDS overrides (longer soaks).
const FUZZ_SECONDS = Number(process.env.MSH_FUZZ_SECONDS ?? 60);
const LIBFUZZER = ['-fsanitize=fuzzer,address,undefined', '-fno-sanitize-recover=undefined'];

/** Runs a libFuzzer binary for `seconds`; fails on a crash or an early stop. Returns the run count. */
function fuzz(bin: string, dir: string, seconds: number, rssMb: number): number {
  const run = spawnSync(bin, [`-max_total_time=${seconds}`, '-seed=1', `-rss_limit_mb=${rssMb}`, '-print_final_stats=1'],
    { cwd: dir, encoding: 'utf8', env: { ...process.env, ASAN_OPTIONS: 'detect_leaks=0' } });
  const tail = run.stderr.split('\n').slice(-30).join('\n');
  expect(run.status, tail).toBe(0);
  const done = run.stderr.match(/Done (\d+) runs in (\d+) second/);
  expect(done, tail).not.toBeNull();
  // It really ran for the time asked (libFuzzer stops early only on a crash or a limit).
  expect(Number(done![2])).toBeGreaterThanOrEqual(seconds);
  return Number(done![1]);
}

describe('fuzzing the native data path', () => {
  it(`survives libFuzzer with ASan and UBSan for ${FUZZ_SECONDS} s`, () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'msh-fuzz-'));
    try {
      const bin = build(dir, 'test/native/fuzz/data_path_fuzz.cc', LIBFUZZER);
      console.log(`fuzz: ${fuzz(bin, dir, FUZZ_SECONDS, 1024)} runs in ${FUZZ_SECONDS} s`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, (FUZZ_SECONDS + 90) * 1000);

  // GSO coalescing (native/src/gso.h) only re-packs validated frames, but what it sends
  // must be exactly what the stack wrote: every run is cut the way the kernel cuts it
  // and compared with the stack's frames.
  const GSO_SECONDS = Math.max(10, Math.round(FUZZ_SECONDS / 3));
  it(`GSO packets equal the frames they carry (libFuzzer, ASan, UBSan, ${GSO_SECONDS} s)`, () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'msh-gso-fuzz-'));
    try {
      const bin = build(dir, 'test/native/fuzz/gso_fuzz.cc', LIBFUZZER,
        ['gso', 'frame', 'errors'].map((f) => `native/src/${f}.cc`));
      fuzz(bin, dir, GSO_SECONDS, 2048);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, (GSO_SECONDS + 90) * 1000);

  it('control, injector, port workers and drainer run concurrently without data races', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'msh-tsan-'));
    try {
      const bin = build(dir, 'test/native/fuzz/concurrency_stress.cc', ['-fsanitize=thread']);
      const run = spawnSync(bin, ['2'], { encoding: 'utf8', env: { ...process.env, TSAN_OPTIONS: 'halt_on_error=1' } });
      expect(run.stderr, run.stderr.slice(0, 4000)).toBe('');
      expect(run.status).toBe(0);
      expect(run.stdout).toMatch(/echoed=[1-9]/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
