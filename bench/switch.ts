// npm run bench -- switch
// 64-byte UDP frames generated natively pass through the classifier into the udp-echo
// guest's RX ring, are echoed by the Wasm guest, and go back out through TX validation,
// on one core (this thread). Beside it, in the same run, the C++ reference loop does the
// same generate / classify / copy-in / echo / validate / copy-out with no Wasm.

import { readFileSync } from 'node:fs';
import path from 'node:path';
import { loadNative } from '../host/src/native.js';
import { V8Engine } from '../host/src/engine/v8.js';
import { STACKS_DIR } from '../host/src/paths.js';
import { alternate, emit, median, round } from './_common.js';

const LINK_MAC = Uint8Array.from([2, 0, 0, 0, 0, 1]);
const PEER_MAC = Uint8Array.from([2, 0, 0, 0, 0, 2]);
const ADDR = Uint8Array.from([10, 0, 0, 1]);
const PEER = Uint8Array.from([10, 0, 0, 2]);
const BATCH = 256;

/** A 64-byte Ethernet/IPv4/UDP frame (without FCS) to ADDR:7, checksums correct. */
export function udpTemplate(frameSize = 64): Uint8Array {
  const f = Buffer.alloc(frameSize);
  Buffer.from(LINK_MAC).copy(f, 0);
  Buffer.from(PEER_MAC).copy(f, 6);
  f.writeUInt16BE(0x0800, 12);
  const ipLen = frameSize - 14;
  f[14] = 0x45; f.writeUInt16BE(ipLen, 16); f[22] = 64; f[23] = 17;
  Buffer.from(PEER).copy(f, 26); Buffer.from(ADDR).copy(f, 30);
  let s = 0;
  for (let i = 14; i < 34; i += 2) s += f.readUInt16BE(i);
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  f.writeUInt16BE(~s & 0xffff, 24);
  f.writeUInt16BE(40000, 34); f.writeUInt16BE(7, 36); f.writeUInt16BE(ipLen - 20, 38);
  return f;
}

function runMsh(seconds: number): number {
  const native = loadNative();
  const link = native.createSwitchLink({ mac: LINK_MAC });
  try {
    const port = native.addPort(link);
    native.claim(link, port, 17, ADDR, 7);
    native.switchSetWireDiscard(link, true);
    const engine = new V8Engine();
    const compiled = engine.compile(readFileSync(path.join(STACKS_DIR, 'udp-echo.wasm')), { memLimitBytes: 64 << 20 });
    const stack = engine.instantiate(compiled, {
      link: () => ({ name: 'bench0', mac: LINK_MAC, mtu: 1500, ipv4: [ADDR], ipv6: [] }),
      tuples: () => [{ protocol: 'udp', address: ADDR, port: 7 }],
      now: () => process.hrtime.bigint(),
      randomBytes: (n) => new Uint8Array(n),
      log: () => {},
      nextHopMac: () => PEER_MAC,
    });
    const r = stack.init([]);
    if (!('ok' in r)) throw new Error(`udp-echo init failed: ${r.err}`);
    const { rxRing, txRing } = r.ok;
    const tpl = udpTemplate();
    const start = process.hrtime.bigint();
    const end = start + BigInt(Math.round(seconds * 1e9));
    let now = start;
    let iterations = 0;
    while (now < end) {
      native.switchGenerate(link, tpl, BATCH);
      const mem = stack.memory.buffer;
      const n = native.rxToGuest(link, port, mem, rxRing, BATCH);
      if (n < 0) throw new Error(native.lastError());
      stack.poll(now, n);
      if (native.txFromGuest(link, port, stack.memory.buffer, txRing) < 0) throw new Error(native.lastError());
      if ((++iterations & 63) === 0) now = process.hrtime.bigint();
    }
    const elapsed = Number(process.hrtime.bigint() - start) / 1e9;
    const c = native.counters(link, port);
    const bad = Object.entries(c).filter(([k, v]) => k.startsWith('tx_') && k !== 'tx_frames' && k !== 'tx_bytes' && v > 0);
    if (bad.length) throw new Error(`echoes were dropped: ${JSON.stringify(Object.fromEntries(bad))}`);
    return c.tx_frames / elapsed / 1e6;
  } finally {
    native.destroyLink(link);
  }
}

export async function main(args: string[]): Promise<number> {
  const seconds = Number(args[0] ?? 2);
  const rounds = Number(args[1] ?? 5);
  const native = loadNative();
  runMsh(0.3); // warm-up: JIT tiers, page faults
  native.benchReference({ seconds: 0.3, frameSize: 64 });
  const samples = await alternate(rounds, () => runMsh(seconds), () => native.benchReference({ seconds, frameSize: 64 }).mpps);
  const msh = median(samples.a);
  const ref = median(samples.b);
  console.log(`switch, 64-byte UDP echo, one core, ${rounds} alternating rounds of ${seconds}s (medians)`);
  console.log(`  msh (classifier -> Wasm udp-echo -> TX validation): ${msh.toFixed(2)} Mpps   samples ${samples.a.map((x) => x.toFixed(1)).join(' ')}`);
  console.log(`  C++ reference loop (same path, no Wasm):           ${ref.toFixed(2)} Mpps   samples ${samples.b.map((x) => x.toFixed(1)).join(' ')}`);
  console.log(`  ratio ${(msh / ref).toFixed(3)} (target >= 0.5)`);
  emit({ bench: 'switch', msh_mpps: round(msh), reference_mpps: round(ref), ratio: round(msh / ref, 3) });
  return 0;
}
