// Minimal, strict reader/rewriter for the parts of the WebAssembly binary format msh
// needs: telling core modules from components, finding the core modules inside a
// component, reading and rewriting a core module's exports and memory limits.
// Anything it does not understand is reported, never guessed.

export const WASM_PAGE = 65536;

export type BinaryKind = 'core-module' | 'component';

export class WasmFormatError extends Error {}

const MAGIC = [0x00, 0x61, 0x73, 0x6d];

/** Tells what a byte buffer is, or throws a WasmFormatError saying why it is neither. */
export function binaryKind(bytes: Uint8Array): BinaryKind {
  if (bytes.length < 8 || MAGIC.some((b, i) => bytes[i] !== b)) {
    const head = Buffer.from(bytes.subarray(0, 16)).toString('latin1').replace(/[^\x20-\x7e]/g, '.');
    throw new WasmFormatError(`not a WebAssembly binary (it starts with "${head}", a .wasm file starts with "\\0asm")`);
  }
  const version = bytes[4] | (bytes[5] << 8);
  const layer = bytes[6] | (bytes[7] << 8);
  if (layer === 0 && version === 1) return 'core-module';
  if (layer === 1) return 'component';
  throw new WasmFormatError(`unknown WebAssembly version ${version} layer ${layer}`);
}

class Reader {
  constructor(readonly bytes: Uint8Array, public pos = 0, readonly end = bytes.length) {}
  byte(): number {
    if (this.pos >= this.end) throw new WasmFormatError('unexpected end of section');
    return this.bytes[this.pos++];
  }
  u32(): number {
    let result = 0, shift = 0, b: number;
    do {
      b = this.byte();
      result += (b & 0x7f) * 2 ** shift;
      shift += 7;
      if (shift > 35) throw new WasmFormatError('LEB128 too long');
    } while (b & 0x80);
    return result;
  }
  u64(): number {
    let result = 0, shift = 0, b: number;
    do {
      b = this.byte();
      result += (b & 0x7f) * 2 ** shift;
      shift += 7;
      if (shift > 70) throw new WasmFormatError('LEB128 too long');
    } while (b & 0x80);
    return result;
  }
  name(): string {
    const len = this.u32();
    if (this.pos + len > this.end) throw new WasmFormatError('name runs past its section');
    const s = Buffer.from(this.bytes.subarray(this.pos, this.pos + len)).toString('utf8');
    this.pos += len;
    return s;
  }
}

function leb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    out.push(b);
  } while (n > 0);
  return out;
}

function nameBytes(s: string): number[] {
  const b = Buffer.from(s, 'utf8');
  return [...leb(b.length), ...b];
}

export interface Section { id: number; start: number; end: number } // content range

export function sections(bytes: Uint8Array): Section[] {
  binaryKind(bytes);
  const r = new Reader(bytes, 8);
  const out: Section[] = [];
  while (r.pos < bytes.length) {
    const id = r.byte();
    const size = r.u32();
    const start = r.pos;
    if (start + size > bytes.length) throw new WasmFormatError(`section ${id} runs past the end of the file`);
    out.push({ id, start, end: start + size });
    r.pos = start + size;
  }
  return out;
}

/** Core modules nested directly in a component (component section id 1). */
export function coreModulesOfComponent(bytes: Uint8Array): Uint8Array[] {
  if (binaryKind(bytes) !== 'component') throw new WasmFormatError('not a component');
  return sections(bytes).filter((s) => s.id === 1).map((s) => bytes.subarray(s.start, s.end));
}

export interface CoreExport { name: string; kind: 'func' | 'table' | 'memory' | 'global' | 'tag'; index: number }
export interface CoreImport { module: string; name: string; kind: CoreExport['kind'] }
export interface MemoryLimits { minPages: number; maxPages: number | null; shared: boolean; memory64: boolean; imported: boolean }

const KINDS: CoreExport['kind'][] = ['func', 'table', 'memory', 'global', 'tag'];

export function coreExports(mod: Uint8Array): CoreExport[] {
  const s = sections(mod).find((x) => x.id === 7);
  if (!s) return [];
  const r = new Reader(mod, s.start, s.end);
  const n = r.u32();
  const out: CoreExport[] = [];
  for (let i = 0; i < n; i++) {
    const name = r.name();
    const kind = KINDS[r.byte()] ?? 'tag';
    out.push({ name, kind, index: r.u32() });
  }
  return out;
}

function readLimits(r: Reader): Omit<MemoryLimits, 'imported'> {
  const flags = r.byte();
  const memory64 = (flags & 4) !== 0;
  const minPages = memory64 ? r.u64() : r.u32();
  const maxPages = flags & 1 ? (memory64 ? r.u64() : r.u32()) : null;
  return { minPages, maxPages, shared: (flags & 2) !== 0, memory64 };
}

function skipImportDesc(r: Reader, kind: number): void {
  switch (kind) {
    case 0: r.u32(); break; // func type index
    case 1: r.byte(); readLimits(r); break; // table: reftype + limits
    case 2: readLimits(r); break;
    case 3: r.byte(); r.byte(); break; // global: valtype + mut
    case 4: r.byte(); r.u32(); break; // tag
    default: throw new WasmFormatError(`unknown import kind ${kind}`);
  }
}

export function coreImports(mod: Uint8Array): CoreImport[] {
  const s = sections(mod).find((x) => x.id === 2);
  if (!s) return [];
  const r = new Reader(mod, s.start, s.end);
  const n = r.u32();
  const out: CoreImport[] = [];
  for (let i = 0; i < n; i++) {
    const module = r.name();
    const name = r.name();
    const kind = r.byte();
    skipImportDesc(r, kind);
    out.push({ module, name, kind: KINDS[kind] });
  }
  return out;
}

/** Limits of memory 0, whether defined or imported; null when the module has no memory. */
export function memoryLimits(mod: Uint8Array): MemoryLimits | null {
  const secs = sections(mod);
  const imp = secs.find((x) => x.id === 2);
  if (imp) {
    const r = new Reader(mod, imp.start, imp.end);
    const n = r.u32();
    for (let i = 0; i < n; i++) {
      r.name(); r.name();
      const kind = r.byte();
      if (kind === 2) return { ...readLimits(r), imported: true };
      skipImportDesc(r, kind);
    }
  }
  const mem = secs.find((x) => x.id === 5);
  if (!mem) return null;
  const r = new Reader(mod, mem.start, mem.end);
  if (r.u32() === 0) return null;
  return { ...readLimits(r), imported: false };
}

function replaceSection(mod: Uint8Array, sec: Section, content: number[] | Uint8Array): Uint8Array {
  // The section header (id + size LEB) sits right before sec.start; find its start.
  let headerStart = sec.start - 1;
  while (headerStart > 0 && (mod[headerStart - 1] & 0x80) !== 0) headerStart--;
  headerStart--; // the id byte
  const body = Uint8Array.from(content);
  return Buffer.concat([mod.subarray(0, headerStart), Uint8Array.from([sec.id, ...leb(body.length)]), body, mod.subarray(sec.end)]);
}

/**
 * Caps memory 0 (defined in the module) at `capPages`: a declared maximum above the cap,
 * or none, becomes the cap. Fails when the initial size alone exceeds the cap.
 */
export function capMemory(mod: Uint8Array, capPages: number): Uint8Array {
  const limits = memoryLimits(mod);
  if (!limits) throw new WasmFormatError('the module defines no memory (a stack must define and export its memory)');
  if (limits.imported) throw new WasmFormatError('the module imports its memory; a stack must define its own');
  if (limits.memory64 || limits.shared) throw new WasmFormatError('64-bit or shared memories are not supported');
  if (limits.minPages > capPages) {
    throw new WasmFormatError(`the stack needs ${limits.minPages} pages (${limits.minPages * 64} KiB) of memory at start, over the limit of ${capPages} pages; raise --mem-limit`);
  }
  const max = limits.maxPages === null ? capPages : Math.min(limits.maxPages, capPages);
  const sec = sections(mod).find((x) => x.id === 5)!;
  const r = new Reader(mod, sec.start, sec.end);
  const count = r.u32();
  readLimits(r);
  const rest = mod.subarray(r.pos, sec.end); // further memories, if any (multi-memory), unchanged
  return replaceSection(mod, sec, [...leb(count), 0x01, ...leb(limits.minPages), ...leb(max), ...rest]);
}

/** Renames core exports (old name -> new name); names not in the map stay. */
export function renameExports(mod: Uint8Array, renames: Record<string, string>): Uint8Array {
  const sec = sections(mod).find((x) => x.id === 7);
  if (!sec) return mod;
  const exports = coreExports(mod);
  const body: number[] = [...leb(exports.length)];
  for (const e of exports) {
    body.push(...nameBytes(renames[e.name] ?? e.name), KINDS.indexOf(e.kind), ...leb(e.index));
  }
  return replaceSection(mod, sec, body);
}
