// Builds stacks once per test run (shipped ones and test-only ones) into build/test/.
import path from 'node:path';
import { existsSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { buildStack } from '../../host/src/build/build.js';
import { REPO_ROOT } from '../../host/src/paths.js';

const cache = new Map<string, Promise<Uint8Array>>();

/** `name` is a folder under stacks/ or test/stacks/; returns the component bytes. */
export function stackComponent(name: string): Promise<Uint8Array> {
  let p = cache.get(name);
  if (!p) {
    const shipped = path.join(REPO_ROOT, 'stacks', name);
    const dir = existsSync(shipped) ? shipped : path.join(REPO_ROOT, 'test', 'stacks', name);
    const out = path.join(REPO_ROOT, 'build', 'test', `${name}.wasm`);
    p = (async () => {
      const fresh = existsSync(out) && statSync(out).mtimeMs > Date.now() - 1; // never trust an old build
      if (!fresh) {
        // Test files in other workers may build and start the same stack at the same
        // time: write next to it and rename, so nobody reads a half-written file.
        const tmp = `${out}.${process.pid}.tmp`;
        await buildStack(dir, { out: tmp });
        renameSync(tmp, out);
      }
      return readFileSync(out);
    })();
    cache.set(name, p);
  }
  return p;
}

export function stackPath(name: string): string {
  return path.join(REPO_ROOT, 'build', 'test', `${name}.wasm`);
}

/**
 * Writes to `file` a valid component of another world (`other:thing/thing`, exporting
 * `hello`), built from test/stacks/other-world: what msh must refuse as a stack.
 */
export async function writeOtherWorldComponent(file: string): Promise<void> {
  const asc = (await import('assemblyscript/asc')).default;
  let core: Uint8Array | null = null;
  const res = await asc.main(['test/stacks/other-world/index.ts', '--outFile', 'o.wasm', '--runtime', 'stub', '--baseDir', REPO_ROOT], {
    writeFile: (n: string, c: any) => { if (n.endsWith('.wasm')) core = c; },
    stdout: { write: () => true } as any, stderr: { write: () => true } as any,
  });
  if (res.error || !core) throw new Error(`building test/stacks/other-world failed: ${res.error}`);
  const { componentEmbed, componentNew } = await import('@bytecodealliance/jco-transpile/wasm-tools');
  const embedded = await componentEmbed({ binary: core, witSource: 'package other:thing; world thing { export hello: func() -> u32; }', world: 'other:thing/thing' } as any);
  writeFileSync(file, await componentNew(embedded));
}
