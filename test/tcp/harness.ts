// Compiles the AssemblyScript TCP test harness (test/tcp/harness/sim.ts + the SDK's tcp
// and wire folders) with asc into build/test/, once per source change (the file name
// carries a hash of every input), and instantiates it. Tests call its exports; values
// the harness reports come back as a plain object.

import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, "../..");
const entry = join(here, "harness/sim.ts");
const sourceDirs = [join(root, "guest-sdk/assembly/tcp"), join(root, "guest-sdk/assembly/wire"), join(here, "harness")];
const ascFlags = ["--runtime", "incremental", "-O3"];

function sources(): string[] {
  const out: string[] = [];
  for (const d of sourceDirs) {
    for (const f of readdirSync(d).sort()) {
      const p = join(d, f);
      if (f.endsWith(".ts") && statSync(p).isFile()) out.push(p);
    }
  }
  return out;
}

async function compile(): Promise<Uint8Array> {
  const h = createHash("sha256");
  h.update(ascFlags.join(" "));
  for (const f of sources()) { h.update(f); h.update(readFileSync(f)); }
  const digest = h.digest("hex").slice(0, 16);
  const outDir = join(root, "build/test");
  const out = join(outDir, `tcp-sim-${digest}.wasm`);
  if (existsSync(out)) return readFileSync(out);
  mkdirSync(outDir, { recursive: true });
  // Test files run in parallel workers: one compiles, the others wait for its output.
  const lock = `${out}.lock`;
  let locked = false;
  try { mkdirSync(lock); locked = true; } catch { /* someone else compiles */ }
  if (!locked) {
    const until = Date.now() + 180_000;
    while (Date.now() < until) {
      if (existsSync(out)) return readFileSync(out);
      if (!existsSync(lock)) break; // the compiling worker failed: compile here
      await new Promise((r) => setTimeout(r, 200));
    }
    if (existsSync(out)) return readFileSync(out);
  }
  try {
    return await compileTo(out, outDir);
  } finally {
    if (locked) rmSync(lock, { recursive: true, force: true });
  }
}

async function compileTo(out: string, outDir: string): Promise<Uint8Array> {
  const tmp = `${out}.${process.pid}.tmp`;
  const asc = (await import("assemblyscript/asc")).default;
  let stderr = "";
  const { error } = await asc.main(
    [entry, "-o", tmp, ...ascFlags],
    { stdout: { write: () => true } as never, stderr: { write: (s: string) => { stderr += s; return true; } } as never },
  );
  if (error) throw new Error(`asc failed: ${error.message}\n${stderr}`);
  renameSync(tmp, out); // atomic: a waiting worker never reads a half-written file
  for (const f of readdirSync(outDir)) {
    if (f.startsWith("tcp-sim-") && f.endsWith(".wasm") && join(outDir, f) !== out) rmSync(join(outDir, f), { force: true });
  }
  return readFileSync(out);
}

export interface Harness {
  /** Calls export `name`; returns its result code and the values it reported. */
  call(name: string, ...args: (number | bigint | boolean)[]): { code: number; r: Record<string, number>; fails: string[] };
}

let cached: Promise<WebAssembly.Module> | null = null;

export async function loadHarness(): Promise<Harness> {
  if (cached === null) cached = compile().then((b) => WebAssembly.compile(b));
  const module = await cached;
  let memory: WebAssembly.Memory;
  let reports: Record<string, number> = {};
  const readString = (ptr: number): string => {
    if (ptr === 0) return "";
    const len = new Uint32Array(memory.buffer, ptr - 4, 1)[0];
    return Buffer.from(new Uint8Array(memory.buffer, ptr, len)).toString("utf16le");
  };
  const instance = await WebAssembly.instantiate(module, {
    env: {
      report(keyPtr: number, keyLen: number, value: number) {
        const key = Buffer.from(new Uint8Array(memory.buffer, keyPtr, keyLen)).toString("utf8");
        reports[key] = value;
      },
      log(ptr: number, len: number) {
        console.log(Buffer.from(new Uint8Array(memory.buffer, ptr, len)).toString("utf8"));
      },
      abort(msg: number, file: number, line: number, col: number) {
        throw new Error(`harness abort: ${readString(msg)} at ${readString(file)}:${line}:${col}`);
      },
    },
  });
  memory = instance.exports.memory as WebAssembly.Memory;
  return {
    call(name, ...args) {
      reports = {};
      const fn = instance.exports[name] as (...a: unknown[]) => number;
      if (typeof fn !== "function") throw new Error(`no export ${name}`);
      const code = fn(...args.map((a) => (typeof a === "boolean" ? (a ? 1 : 0) : a)));
      const fails = Object.keys(reports).filter((k) => k.startsWith("fail: ")).map((k) => k.slice(6));
      return { code, r: reports, fails };
    },
  };
}
