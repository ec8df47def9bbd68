// `msh build`: AssemblyScript stack -> core module (asc) -> component (jco's wasm-tools:
// embed the WIT world, then componentNew). Everything goes through the libraries' APIs,
// no CLI.

import { existsSync, readFileSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { renameExports, coreExports } from '../wasm/binary.js';
import { REPO_ROOT, SDK_DIR, WIT_DIR } from '../paths.js';
export const WORLD = 'multistack:stack/stack';
export const STACK_IFACE = 'multistack:stack/guest@0.1.0';
export const HOST_IFACE = 'multistack:stack/host@0.1.0';

/** Core export names the SDK uses -> the component names the world requires. */
export const EXPORT_RENAMES: Record<string, string> = {
  msh_init: `${STACK_IFACE}#init`,
  msh_poll: `${STACK_IFACE}#poll`,
  msh_shutdown: `${STACK_IFACE}#shutdown`,
};

export class BuildError extends Error {}

export interface BuildOptions {
  /** Output file; default: `<dir>.wasm` next to a stack directory, `<file>.wasm` for a .ts file. */
  out?: string;
  /** asc optimisation, default -O3. */
  optimize?: boolean;
  /** Keep the intermediate core module next to the output (`.core.wasm`). */
  keepCore?: boolean;
}

export interface BuildResult { entry: string; out: string; coreBytes: number; componentBytes: number }

/** Finds a stack's entry file: a .ts file as given, or `<dir>/index.ts` / `<dir>/assembly/index.ts`. */
export function resolveEntry(target: string): { entry: string; defaultOut: string } {
  const abs = path.resolve(target);
  if (!existsSync(abs)) throw new BuildError(`${target}: no such file or directory`);
  if (statSync(abs).isDirectory()) {
    for (const cand of ['index.ts', 'assembly/index.ts']) {
      const p = path.join(abs, cand);
      if (existsSync(p)) return { entry: p, defaultOut: abs.replace(/\/+$/, '') + '.wasm' };
    }
    throw new BuildError(`${target}: a stack directory needs an index.ts (or assembly/index.ts) entry file`);
  }
  if (!abs.endsWith('.ts')) throw new BuildError(`${target}: expected an AssemblyScript .ts file or a stack directory`);
  return { entry: abs, defaultOut: abs.replace(/\.ts$/, '.wasm') };
}

/** asc's internal name for a top-level function in an SDK file, for `--use`. */
function ascInternalName(file: string, fn: string, baseDir: string): string {
  const rel = path.relative(baseDir, file).replace(/\.ts$/, '').split(path.sep).join('/');
  return `${rel}/${fn}`;
}

async function compileAssemblyScript(entry: string, optimize: boolean): Promise<Uint8Array> {
  const asc = (await import('assemblyscript/asc')).default;
  // asc names files relative to its baseDir; use the filesystem root so names are stable
  // wherever the stack lives.
  const baseDir = '/';
  const abi = path.join(SDK_DIR, 'abi.ts');
  let binary: Uint8Array | null = null;
  let stderr = '';
  const args = [
    path.relative(baseDir, entry),
    '--outFile', 'out.wasm',
    // Compiler options shared by every stack (runtime, optimisation per target) live in
    // the repository's asconfig.json; only the SDK hooks depend on paths, so they are here.
    '--config', path.relative(baseDir, path.join(REPO_ROOT, 'asconfig.json')),
    '--target', optimize ? 'release' : 'debug',
    '--use', `abort=${ascInternalName(abi, 'mshAbort', baseDir)}`,
    '--use', `seed=${ascInternalName(abi, 'mshSeed', baseDir)}`,
    '--baseDir', baseDir,
    '--noColors',
  ];
  const result = await asc.main(args, {
    writeFile: (name: string, contents: Uint8Array | string) => {
      if (name.endsWith('.wasm') && typeof contents !== 'string') binary = contents;
    },
    stdout: { write: () => true } as any,
    stderr: { write: (s: string) => { stderr += s; return true; } } as any,
  });
  if (result.error || !binary) {
    throw new BuildError(`AssemblyScript compilation of ${entry} failed:\n${stderr.trim() || result.error?.message}`);
  }
  return binary;
}

/** Renames the SDK's core exports to the world's names and checks that every one is present. */
export function toWorldExports(core: Uint8Array): Uint8Array {
  const names = new Set(coreExports(core).map((e) => e.name));
  const missing = Object.keys(EXPORT_RENAMES).filter((n) => !names.has(n));
  if (missing.length) {
    throw new BuildError(`the stack does not export ${missing.join(', ')}: its entry file must \`export * from\` the SDK's exports module (guest-sdk/assembly/exports.ts)`);
  }
  if (!names.has('memory')) throw new BuildError('the core module does not export its memory as "memory"');
  return renameExports(core, EXPORT_RENAMES);
}

export async function componentize(core: Uint8Array): Promise<Uint8Array> {
  const { componentEmbed, componentNew } = await import('@bytecodealliance/jco-transpile/wasm-tools');
  const witSource = readFileSync(path.join(WIT_DIR, 'stack.wit'), 'utf8');
  try {
    const embedded = await componentEmbed({ binary: core, witSource, world: WORLD } as any);
    return await componentNew(embedded);
  } catch (e) {
    throw new BuildError(`turning the core module into a component failed: ${(e as Error).message}`);
  }
}

export async function buildStack(target: string, opts: BuildOptions = {}): Promise<BuildResult> {
  const { entry, defaultOut } = resolveEntry(target);
  const out = path.resolve(opts.out ?? defaultOut);
  const core = toWorldExports(await compileAssemblyScript(entry, opts.optimize ?? true));
  const component = await componentize(core);
  mkdirSync(path.dirname(out), { recursive: true });
  writeFileSync(out, component);
  if (opts.keepCore) writeFileSync(out.replace(/\.wasm$/, '') + '.core.wasm', core);
  return { entry, out, coreBytes: core.length, componentBytes: component.length };
}
