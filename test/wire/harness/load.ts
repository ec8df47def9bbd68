// Builds test/wire/harness/entry.ts with asc (-O3, incremental runtime, as stacks are built)
// into build/test/wire/harness.wasm (rebuilt only when a source is newer), instantiates it,
// and wraps its exports with helpers that place test bytes at the very END of linear
// memory, so that any read past the given length traps.
import { execFileSync } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
export const root = resolve(here, "../../..");
const entry = join(here, "entry.ts");
const wireDir = join(root, "guest-sdk/assembly/wire");
const outDir = join(root, "build/test/wire");
const outFile = join(outDir, "harness.wasm");

function newestSource(): number {
  let t = statSync(entry).mtimeMs;
  for (const f of readdirSync(wireDir)) t = Math.max(t, statSync(join(wireDir, f)).mtimeMs);
  return t;
}

function isFresh(): boolean {
  try {
    return statSync(outFile).mtimeMs > newestSource();
  } catch {
    return false;
  }
}

/**
 * Test files run in parallel workers: one builds under a lock directory (mkdir is atomic),
 * the others wait for it and then read the result. A lock older than 3 minutes is stale.
 */
async function build(): Promise<Uint8Array> {
  const lock = join(outDir, ".lock");
  mkdirSync(outDir, { recursive: true });
  for (;;) {
    if (isFresh()) return readFileSync(outFile);
    try {
      mkdirSync(lock);
      break;
    } catch {
      try {
        if (Date.now() - statSync(lock).mtimeMs > 180_000) rmSync(lock, { recursive: true, force: true });
      } catch {}
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  try {
    if (isFresh()) return readFileSync(outFile);
    return await compile();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

async function compile(): Promise<Uint8Array> {
  const { default: asc } = await import("assemblyscript/asc");
  let binary: Uint8Array | undefined;
  const stderr: string[] = [];
  const { error } = await asc.main(
    [entry, "--runtime", "incremental", "-O3", "--outFile", "harness.wasm"],
    {
      writeFile(name: string, contents: Uint8Array | string) {
        if (name.endsWith("harness.wasm")) binary = contents as Uint8Array;
      },
      stderr: { write: (s: string) => (stderr.push(String(s)), true) } as any,
      stdout: { write: () => true } as any,
    },
  );
  if (error || !binary) throw new Error(`asc failed: ${error}\n${stderr.join("")}`);
  // Parallel test files may build at once: write privately, then rename atomically.
  const tmp = `${outFile}.${process.pid}.tmp`;
  writeFileSync(tmp, binary);
  renameSync(tmp, outFile);
  return binary;
}

export type Exports = Record<string, any> & { memory: WebAssembly.Memory };

export class Harness {
  readonly ex: Exports;
  private ourEnd = 0;
  constructor(instance: WebAssembly.Instance) {
    this.ex = instance.exports as Exports;
  }
  get mem(): WebAssembly.Memory {
    return this.ex.memory;
  }
  u8(): Uint8Array {
    return new Uint8Array(this.mem.buffer);
  }
  /**
   * The last page of memory belongs to the test, not to the guest allocator: grow one
   * page whenever the allocator has grown memory since (it only hands out pages it grew).
   */
  private tailPage(): number {
    const size = this.mem.buffer.byteLength;
    if (size !== this.ourEnd) {
      this.mem.grow(1);
      this.ourEnd = this.mem.buffer.byteLength;
    }
    return this.ourEnd;
  }
  /** Copies `bytes` so that they end exactly at the end of memory; returns the pointer. */
  atEnd(bytes: Uint8Array): number {
    if (bytes.length > 65536) throw new Error("frame larger than the tail page");
    const end = this.tailPage();
    const p = end - bytes.length;
    this.u8().set(bytes, p);
    return p;
  }
  /** A zeroed region of `len` bytes ending at the end of memory. */
  blankAtEnd(len: number): number {
    return this.atEnd(new Uint8Array(len));
  }
  read(p: number, len: number): Uint8Array {
    return this.u8().slice(p, p + len);
  }
  out(n = 32): number[] {
    return Array.from(new Float64Array(this.mem.buffer, this.ex.outPtr(), n));
  }
  outb(n: number): Uint8Array {
    return this.u8().slice(this.ex.outbPtr(), this.ex.outbPtr() + n);
  }
  setIn(values: number[]): void {
    new Float64Array(this.mem.buffer, this.ex.inPtr(), 64).set(values);
  }
  setInb(bytes: Uint8Array, offset = 0): void {
    this.u8().set(bytes, this.ex.inbPtr() + offset);
  }
  /** Writes bytes into INB at `offset` and returns their address (for pseudo-header addresses). */
  inbAddr(bytes: Uint8Array, offset: number): number {
    this.setInb(bytes, offset);
    return this.ex.inbPtr() + offset;
  }
  ascii(n: number): string {
    return Buffer.from(this.outb(n)).toString("latin1");
  }
}

export async function loadHarness(): Promise<Harness> {
  const binary = await build();
  const module = await WebAssembly.compile(binary as Uint8Array<ArrayBuffer>);
  const instance = await WebAssembly.instantiate(module, {
    env: {
      abort(_msg: number, _file: number, line: number, col: number) {
        throw new Error(`guest abort at ${line}:${col}`);
      },
    },
  });
  return new Harness(instance);
}

// ------------------------------------------------------------------ byte helpers

export function hex(s: string): Uint8Array {
  const clean = s.replace(/[^0-9a-fA-F]/g, "");
  return Uint8Array.from(Buffer.from(clean, "hex"));
}
export function toHex(b: Uint8Array): string {
  return Buffer.from(b).toString("hex");
}

/** Reference Internet checksum (big-endian word sum, RFC 1071), independent of the guest. */
export function refChecksum(...parts: Uint8Array[]): number {
  let sum = 0;
  for (const b of parts) {
    if (b.length % 2 !== 0 && b !== parts[parts.length - 1]) throw new Error("odd middle part");
    for (let i = 0; i < b.length; i += 2) sum += (b[i] << 8) | (i + 1 < b.length ? b[i + 1] : 0);
  }
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 65536);
  return ~sum & 0xffff;
}
/** Pseudo-header bytes for IPv4 (addresses as 4-byte arrays). */
export function pseudo4(src: Uint8Array, dst: Uint8Array, proto: number, len: number): Uint8Array {
  return Uint8Array.from([...src, ...dst, 0, proto, len >> 8, len & 0xff]);
}
export function pseudo6(src: Uint8Array, dst: Uint8Array, nh: number, len: number): Uint8Array {
  return Uint8Array.from([...src, ...dst, len >>> 24, (len >> 16) & 0xff, (len >> 8) & 0xff, len & 0xff, 0, 0, 0, nh]);
}

/** Frames of a classic little-endian pcap file. */
export function readPcap(path: string): Uint8Array[] {
  const b = readFileSync(path);
  if (b.readUInt32LE(0) !== 0xa1b2c3d4) throw new Error(`${path}: not a little-endian pcap`);
  const frames: Uint8Array[] = [];
  for (let o = 24; o + 16 <= b.length;) {
    const caplen = b.readUInt32LE(o + 8);
    frames.push(Uint8Array.from(b.subarray(o + 16, o + 16 + caplen)));
    o += 16 + caplen;
  }
  return frames;
}

/** Runs Debian's scapy (/usr/bin/python3) on a script in test/wire/fixtures. */
export function scapy(script: string, args: string[], input?: string): string {
  return execFileSync("/usr/bin/python3", [join(here, "../fixtures", script), ...args], {
    input,
    encoding: "utf8",
    stdio: ["pipe", "pipe", "pipe"],
    maxBuffer: 64 << 20,
  });
}

/** Deterministic PRNG (mulberry32) for the fuzz loops. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
