// Shared benchmark helpers: medians, alternating runs, the last-line JSON convention,
// the C load generators.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { BUILD_DIR, REPO_ROOT } from '../host/src/paths.js';

/** Compiles bench/c/NAME.c to build/bench/NAME (cc -O2) unless the binary is newer. */
export function buildC(name: string): string {
  const src = path.join(REPO_ROOT, 'bench', 'c', `${name}.c`);
  const outDir = path.join(BUILD_DIR, 'bench');
  const out = path.join(outDir, name);
  mkdirSync(outDir, { recursive: true });
  if (!existsSync(out) || statSync(out).mtimeMs < statSync(src).mtimeMs) {
    execFileSync('cc', ['-O2', '-Wall', '-Wextra', '-pthread', '-o', out, src], { stdio: 'inherit' });
  }
  return out;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export function round(x: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** Runs `a` and `b` alternately `rounds` times (so drift hits both alike); returns all samples. */
export async function alternate(rounds: number, a: () => Promise<number> | number, b: () => Promise<number> | number): Promise<{ a: number[]; b: number[] }> {
  const out = { a: [] as number[], b: [] as number[] };
  for (let i = 0; i < rounds; i++) {
    out.a.push(await a());
    out.b.push(await b());
  }
  return out;
}

/** The machine-readable result: always the last line a benchmark prints. */
export function emit(result: Record<string, unknown>): void {
  console.log(JSON.stringify(result));
}
