// `msh inspect <file.wasm>`: what a component implements, what it imports and exports,
// and its declared memory limits. Refuses anything that is not a stack component.

import { readFileSync } from 'node:fs';
import { binaryKind, coreExports, coreImports, coreModulesOfComponent, memoryLimits, WASM_PAGE } from '../wasm/binary.js';
import { MshError } from '../errors.js';
import { mainCoreModule, GUEST_IFACE, HOST_MODULE } from '../engine/v8.js';
import { StackLoadError } from '../engine/engine.js';

export interface Inspection {
  file: string;
  bytes: number;
  wit: string;
  imports: string[];
  exports: string[];
  coreImports: string[];
  coreExports: string[];
  memory: { initialPages: number; maxPages: number | null };
}

function worldItems(wit: string, kind: 'import' | 'export'): string[] {
  const re = new RegExp(`^\\s*${kind}\\s+([^;]+);`, 'gm');
  return [...wit.matchAll(re)].map((m) => m[1].trim());
}

export async function inspectFile(file: string): Promise<Inspection> {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(file);
  } catch (e) {
    throw new MshError(`${file}: cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  let kind;
  try {
    kind = binaryKind(bytes);
  } catch (e) {
    throw new MshError(`${file}: ${(e as Error).message}`, 'give msh inspect a stack component, e.g. one written by `msh build`');
  }
  if (kind === 'core-module') {
    throw new MshError(`${file}: this is a core WebAssembly module, not a component`, 'a stack is a component implementing multistack:stack/stack; `msh build <stack dir>` makes one from AssemblyScript');
  }
  const { componentWit } = await import('@bytecodealliance/jco-transpile/wasm-tools');
  let wit: string;
  try {
    wit = await componentWit(bytes);
  } catch (e) {
    throw new MshError(`${file}: not a valid component (${(e as Error).message})`);
  }
  const imports = worldItems(wit, 'import');
  const exports = worldItems(wit, 'export');
  let main: Uint8Array;
  try {
    main = mainCoreModule(bytes);
  } catch (e) {
    if (e instanceof StackLoadError) {
      throw new MshError(`${file}: ${e.message}\nits world:\n${indent(wit)}`, 'msh runs components that export multistack:stack/guest@0.1.0 and import only multistack:stack/host@0.1.0');
    }
    throw e;
  }
  const mem = memoryLimits(main)!;
  return {
    file,
    bytes: bytes.length,
    wit,
    imports,
    exports,
    coreImports: coreImports(main).map((i) => `${i.module}.${i.name}`),
    coreExports: coreExports(main).map((e) => e.name),
    memory: { initialPages: mem.minPages, maxPages: mem.maxPages },
  };
}

function indent(s: string): string {
  return s.trim().split('\n').map((l) => '  ' + l).join('\n');
}

function pages(n: number): string {
  const bytes = n * WASM_PAGE;
  return `${n} pages (${bytes >= 1 << 20 ? `${bytes / (1 << 20)} MiB` : `${bytes / 1024} KiB`})`;
}

export function formatInspection(i: Inspection): string {
  const hostFns = i.coreImports.filter((n) => n.startsWith(HOST_MODULE + '.')).map((n) => n.slice(HOST_MODULE.length + 1));
  const guestFns = i.coreExports.filter((n) => n.startsWith(GUEST_IFACE + '#')).map((n) => n.slice(GUEST_IFACE.length + 1));
  return [
    `${i.file}: WebAssembly component, ${i.bytes} bytes`,
    `world: multistack:stack/stack@0.1.0 (implemented)`,
    `imports:`,
    ...i.imports.map((n) => `  ${n}${n === HOST_MODULE ? `  (uses: ${hostFns.join(', ') || 'nothing'})` : ''}`),
    `exports:`,
    ...i.exports.map((n) => `  ${n}${n === GUEST_IFACE ? `  (${guestFns.join(', ')})` : ''}`),
    `memory: initial ${pages(i.memory.initialPages)}, maximum ${i.memory.maxPages === null ? 'not declared (msh caps it at --mem-limit, default 64 MiB)' : pages(i.memory.maxPages)}`,
    `wit:`,
    indent(i.wit),
  ].join('\n');
}
