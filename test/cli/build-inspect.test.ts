// `msh build` and `msh inspect`, run as a user would (the CLI, in a child process).
import { describe, expect, it, beforeAll } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from '../../host/src/paths.js';
import { writeOtherWorldComponent } from '../helpers/stacks.js';

const OUT = path.join(REPO_ROOT, 'build', 'test', 'cli');

function msh(...args: string[]) {
  const r = spawnSync(process.execPath, [path.join(REPO_ROOT, 'bin', 'msh.js'), ...args], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('msh build / msh inspect', () => {
  beforeAll(() => mkdirSync(OUT, { recursive: true }));

  it('builds udp-echo into a component that implements multistack:stack/stack', () => {
    const out = path.join(OUT, 'udp-echo.wasm');
    const b = msh('build', 'stacks/udp-echo', '-o', out);
    expect(b.err).toBe('');
    expect(b.code).toBe(0);
    expect(b.out).toMatch(/built .*udp-echo\.wasm/);
    // jco, independently of msh, reads the component's world.
    const jco = spawnSync(path.join(REPO_ROOT, 'node_modules', '.bin', 'jco'), ['wit', out], { encoding: 'utf8' });
    expect(jco.status).toBe(0);
    expect(jco.stdout).toMatch(/import multistack:stack\/host@0\.1\.0;/);
    expect(jco.stdout).toMatch(/export multistack:stack\/guest@0\.1\.0;/);
    const i = msh('inspect', out);
    expect(i.code).toBe(0);
    expect(i.out).toMatch(/world: multistack:stack\/stack@0\.1\.0/);
    expect(i.out).toMatch(/multistack:stack\/guest@0\.1\.0 +\(init, poll, shutdown\)/);
    expect(i.out).toMatch(/multistack:stack\/host@0\.1\.0 +\(uses: .*log/);
    expect(i.out).toMatch(/memory: initial \d+ pages .*maximum not declared/);
  }, 120_000);

  it('refuses a text file, naming the problem', () => {
    const f = path.join(OUT, 'notes.txt');
    writeFileSync(f, 'this is not wasm\n');
    const r = msh('inspect', f);
    expect(r.code).not.toBe(0);
    expect(r.err).toMatch(/not a WebAssembly binary \(it starts with "this is not wasm/);
  });

  it('refuses a core module, saying how to make a component', async () => {
    const out = path.join(OUT, 'udp-echo-core.wasm');
    expect(msh('build', 'stacks/udp-echo', '-o', out).code).toBe(0);
    // msh build can keep the core module; make one with the API.
    const { buildStack } = await import('../../host/src/build/build.js');
    await buildStack(path.join(REPO_ROOT, 'stacks', 'udp-echo'), { out, keepCore: true });
    const r = msh('inspect', out.replace(/\.wasm$/, '.core.wasm'));
    expect(r.code).not.toBe(0);
    expect(r.err).toMatch(/core WebAssembly module, not a component/);
    expect(r.err).toMatch(/msh build/);
  }, 120_000);

  it('refuses a component for another world and shows that world', async () => {
    const f = path.join(OUT, 'other-world.wasm');
    await writeOtherWorldComponent(f);
    const r = msh('inspect', f);
    expect(r.code).not.toBe(0);
    expect(r.err).toMatch(/does not implement the world multistack:stack\/stack/);
    expect(r.err).toMatch(/export hello: func\(\) -> u32;/);
  }, 120_000);

  it('reports AssemblyScript errors with the file and line', () => {
    const dir = path.join(OUT, 'broken');
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'index.ts'), 'export function oops(): u32 { return "not a number"; }\n');
    const r = msh('build', dir);
    expect(r.code).not.toBe(0);
    expect(r.err).toMatch(/AssemblyScript compilation .* failed/);
    expect(r.err).toMatch(/index\.ts\(1,/);
  }, 60_000);

  it('rejects bad usage with exit code 2', () => {
    expect(msh('frobnicate').code).toBe(2);
    expect(msh('inspect').code).toBe(2);
    expect(msh('build').code).toBe(2);
    const r = msh('run', 'x.wasm', '--tuple', 'tcp:99999');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/port '99999' must be a number from 1 to 65535/);
  });
});
