// Quick measurement of udpEchoInPlace (not a test): ns per frame at -O3, incremental runtime,
// through the wire test harness (build/test/wire/harness.wasm, built by `npx vitest run
// test/wire`; rebuilt here when missing). Usage: node test/wire/bench-echo.mjs
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const wasmPath = join(root, "build/test/wire/harness.wasm");
let binary;
if (existsSync(wasmPath)) {
  binary = readFileSync(wasmPath);
} else {
  const { default: asc } = await import("assemblyscript/asc");
  await asc.main([join(root, "test/wire/harness/entry.ts"), "--runtime", "incremental", "-O3", "--outFile", "h.wasm"], {
    writeFile: (n, c) => { if (n.endsWith(".wasm")) binary = c; },
  });
}
const { instance } = await WebAssembly.instantiate(binary, { env: { abort() { throw new Error("abort"); } } });
const ex = instance.exports;
const mem = ex.memory;

const hex = (s) => Uint8Array.from(Buffer.from(s, "hex"));
const udp4 = hex("02000000000b02000000000a0800450000218c554000401199ae0a6300010a630002ba411e61000dce9668656c6c6f");
const udp6 = hex("02000000000b02000000000a86dd60052cef000e1140fd000099000000000000000000000001fd0000990000000000000000000000029069" + "1e61000e11c968656c6c6f36");

/** A `size`-byte frame from a captured one, lengths fixed up, payload filled. */
function frame(base, v6, size) {
  const hdr = v6 ? 62 : 42;
  const f = new Uint8Array(size);
  f.set(base.subarray(0, hdr));
  for (let i = hdr; i < size; i++) f[i] = i & 0xff;
  const ulen = size - (v6 ? 54 : 34);
  f[hdr - 4] = ulen >> 8; f[hdr - 3] = ulen & 0xff;
  if (v6) { f[18] = ulen >> 8; f[19] = ulen & 0xff; } else { f[16] = (ulen + 20) >> 8; f[17] = (ulen + 20) & 0xff; }
  return f;
}

const SLOTS = 256, STRIDE = 2048;
const base = mem.buffer.byteLength;
mem.grow(Math.ceil((SLOTS * STRIDE) / 65536) + 1);

function bench(name, f) {
  const u8 = new Uint8Array(mem.buffer);
  u8.set(f, base);
  if (ex.echo(base, f.length) !== f.length) throw new Error(`${name}: not echoed`);
  // one frame, same buffer every time (hot cache)
  const iters = 5_000_000;
  ex.echoLoop(base, f.length, 200_000);
  let best1 = Infinity;
  for (let r = 0; r < 5; r++) {
    const t0 = process.hrtime.bigint();
    ex.echoLoop(base, f.length, iters);
    best1 = Math.min(best1, Number(process.hrtime.bigint() - t0) / iters);
  }
  // 256 slots of 2 KiB, as on a ring
  for (let i = 0; i < SLOTS; i++) new Uint8Array(mem.buffer).set(f, base + i * STRIDE);
  const rounds = Math.ceil(iters / SLOTS);
  let best2 = Infinity;
  for (let r = 0; r < 5; r++) {
    const t0 = process.hrtime.bigint();
    const n = ex.echoBatch(base, f.length, STRIDE, SLOTS, rounds);
    best2 = Math.min(best2, Number(process.hrtime.bigint() - t0) / (rounds * SLOTS));
    if (n >>> 0 !== (rounds * SLOTS * f.length) % 2 ** 32) throw new Error("a frame was dropped");
  }
  console.log(`${name.padEnd(22)} same frame ${best1.toFixed(1).padStart(6)} ns   256-slot ring ${best2.toFixed(1).padStart(6)} ns`);
}

bench("IPv4 64 B", frame(udp4, false, 64));
bench("IPv6 64 B", frame(udp6, true, 64));
bench("IPv6 78 B", frame(udp6, true, 78));
bench("IPv4 128 B", frame(udp4, false, 128));
bench("IPv4 512 B", frame(udp4, false, 512));
bench("IPv4 1514 B", frame(udp4, false, 1514));
bench("IPv6 1514 B", frame(udp6, true, 1514));
