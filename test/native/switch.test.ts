// The in-process switch backend (native/src/backends/switch.cc): injection, demux to
// port queues and the kernel port, bounded queues that count and drop, the wire-out
// side, wait/wake, and data-path calls from worker threads.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadNative, nativeAddonPath } from '../../host/src/native.js';
import { standardRings } from './rings.js';
import { arp, LINK_MAC, PEER_MAC, pcapOf, tsharkFields, udp4, udp6, v4, v6 } from './wire.js';

const native = loadNative();
const me = { src: LINK_MAC, dst: PEER_MAC };

describe('switch backend', () => {
  let link: number;
  let a: number;
  let b: number;
  beforeEach(() => {
    link = native.createSwitchLink({ mac: LINK_MAC, portQueue: 8, kernelQueue: 16 });
    a = native.addPort(link);
    b = native.addPort(link);
    native.claim(link, a, 17, v4('10.0.0.2'), 7);
    native.claim(link, b, 17, v6('fd00::2'), 7);
  });
  afterEach(() => native.destroyLink(link));

  it('queues owned frames to their port and the rest to the kernel port', () => {
    const toA = udp4('10.0.0.1', 1, '10.0.0.2', 7);
    const toB = udp6('fd00::1', 1, 'fd00::2', 7);
    const toK = [udp4('10.0.0.1', 1, '10.0.0.2', 8), arp(), udp4('10.0.0.1', 1, '10.0.0.2', 7).subarray(0, 30)]; // the last: malformed
    expect(native.switchInject(link, [toA, toK[0], toB, toK[1], toK[2]])).toBe(5);
    expect(native.counters(link, 0).rx_frames).toBe(0);
    expect(native.switchDrainKernel(link)).toEqual(toK.map((f) => Uint8Array.from(f)));
    expect(native.switchDrainKernel(link)).toEqual([]);
    // Port 0 counts what was handed to the kernel.
    expect(native.counters(link, 0)).toMatchObject({ rx_frames: 3, rx_bytes: toK.reduce((s, f) => s + f.length, 0) });
    expect(native.counters(link, a)).toMatchObject({ rx_queued: 1, rx_queue_depth: 1 });
    expect(native.counters(link, b)).toMatchObject({ rx_queued: 1, rx_queue_depth: 1 });
    expect(native.linkCounters(link)).toMatchObject({ rx_to_ports: 2, rx_to_kernel: 3, rx_malformed: 1 });
    const { g, rx } = standardRings(8);
    expect(native.rxToGuest(link, b, g.mem, rx.off, 8)).toBe(1);
    expect(g.consumeRx(rx.off)).toEqual([toB]);
  });

  it('a full port queue counts and drops, never blocks', () => {
    const frames = Array.from({ length: 20 }, (_, i) => udp4('10.0.0.1', i + 1, '10.0.0.2', 7));
    expect(native.switchInject(link, frames)).toBe(8);
    expect(native.counters(link, a)).toMatchObject({ rx_queued: 8, rx_dropped_queue_full: 12, rx_queue_depth: 8 });
    const { g, rx } = standardRings(16);
    expect(native.rxToGuest(link, a, g.mem, rx.off, 16)).toBe(8);
    expect(g.consumeRx(rx.off)).toEqual(frames.slice(0, 8));
    expect(native.switchInject(link, frames.slice(8, 10))).toBe(2);
  });

  it('drops frames larger than the link can carry', () => {
    expect(native.switchInject(link, [udp4('10.0.0.1', 1, '10.0.0.2', 7, Buffer.alloc(1600))])).toBe(0);
    expect(native.linkCounters(link).rx_dropped_oversize).toBe(1);
    expect(native.switchInject(link, [udp4('10.0.0.1', 1, '10.0.0.2', 7, Buffer.alloc(1472), { vlan: 1 })])).toBe(1);
  });

  it('generates copies of a template natively, each one classified', () => {
    const t = native.benchUdpFrame(LINK_MAC, 64);
    expect(native.parseFrame(t)).toMatchObject({ status: 'ok', dstPort: 7, srcPort: 1234 });
    expect(native.switchGenerate(link, t, 5)).toBe(5);
    expect(native.counters(link, a).rx_queue_depth).toBe(5);
    expect(native.switchGenerate(link, udp4('10.0.0.1', 1, '10.0.0.2', 99), 3)).toBe(3);
    expect(native.switchDrainKernel(link).length).toBe(3);
  });

  it('wire-out keeps frames for draining; discard mode only counts them', () => {
    const { g, tx } = standardRings(8);
    const reply = udp4('10.0.0.2', 7, '10.0.0.1', 1, Buffer.from('pong'), me);
    g.produceTx(tx.off, [reply, reply]);
    expect(native.txFromGuest(link, a, g.mem, tx.off)).toBe(2);
    expect(native.switchDrainWire(link, 1)).toEqual([Uint8Array.from(reply)]);
    expect(native.switchDrainWire(link)).toEqual([Uint8Array.from(reply)]);
    native.switchSetWireDiscard(link, true);
    g.produceTx(tx.off, [reply, reply, reply]);
    expect(native.txFromGuest(link, a, g.mem, tx.off)).toBe(3);
    expect(native.switchDrainWire(link)).toEqual([]);
    expect(native.linkCounters(link)).toMatchObject({ wire_frames: 5, wire_bytes: 5 * reply.length });
    expect(native.counters(link, a)).toMatchObject({ tx_frames: 5 });
  });

  it('wait returns when frames arrive, times out otherwise, and never blocks with timeout 0', () => {
    expect(native.wait(link, a, 0)).toBe(0);
    const t0 = Date.now();
    expect(native.wait(link, a, 30)).toBe(0);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(25);
    native.switchInject(link, [udp4('10.0.0.1', 1, '10.0.0.2', 7)]);
    expect(native.wait(link, a, 1000)).toBeGreaterThan(0);
    expect(native.wait(link, b, 0)).toBe(0);
  });

  it('removing a port drops its queue and later frames go to the kernel', () => {
    native.switchInject(link, [udp4('10.0.0.1', 1, '10.0.0.2', 7)]);
    native.removePort(link, a);
    expect(() => native.rxToGuest(link, a, standardRings(8).g.mem, 0, 8)).toThrow(/port .* does not exist/);
    native.switchInject(link, [udp4('10.0.0.1', 1, '10.0.0.2', 7)]);
    expect(native.switchDrainKernel(link).length).toBe(1);
    const c = native.addPort(link);
    expect(c).not.toBe(a); // ids are not reused at once
    expect(native.counters(link, c)).toMatchObject({ rx_frames: 0, rx_queued: 0 });
  });
});

/** Runs `body` (CommonJS, `native`, `workerData` in scope) in a worker thread. */
function inWorker<T>(body: string, data: unknown): { result: Promise<T>; worker: Worker; ready: Promise<void> } {
  const code = `
    const { parentPort, workerData } = require('node:worker_threads');
    const native = require(${JSON.stringify(nativeAddonPath())});
    parentPort.postMessage({ ready: true });
    const run = () => { ${body} };
    parentPort.postMessage({ result: run() });`;
  const worker = new Worker(code, { eval: true, workerData: data });
  let onReady: () => void;
  const ready = new Promise<void>((r) => (onReady = r));
  const result = new Promise<T>((resolve, reject) => {
    worker.on('message', (m) => (m.ready ? onReady() : resolve(m.result)));
    worker.on('error', reject);
    worker.on('exit', (c) => c !== 0 && reject(new Error(`worker exited with ${c}`)));
  });
  return { result, worker, ready };
}

describe('switch data path from worker threads', () => {
  let link: number;
  let port: number;
  beforeEach(() => {
    link = native.createSwitchLink({ mac: LINK_MAC });
    port = native.addPort(link);
    native.claim(link, port, 17, v4('10.0.0.2'), 7);
  });
  afterEach(() => native.destroyLink(link));

  it('a worker blocked in wait() receives frames injected by the main thread and echoes them', async () => {
    const w = inWorker<{ got: number; sent: number; errors: string[] }>(`
      const { link, port, n } = workerData;
      // A guest ring in the worker's own memory: RX at 0, TX at 4096, buffers after.
      const mem = new ArrayBuffer(8192 + 64 * 2048 * 2);
      const dv = new DataView(mem);
      for (const [off, base] of [[0, 8192], [4096, 8192 + 64 * 2048]]) {
        dv.setUint32(off + 8, 64, true); dv.setUint32(off + 12, 2048, true);
        for (let i = 0; i < 64; i++) dv.setUint32(off + 32 + i * 16 + 8, base + i * 2048, true);
      }
      let got = 0, sent = 0; const errors = [];
      while (got < n) {
        if (native.wait(link, port, 2000) === 0) { errors.push('wait timed out'); break; }
        const k = native.rxToGuest(link, port, mem, 0, 64);
        if (k < 0) { errors.push(native.lastError()); break; }
        // Echo: move every RX frame to the TX ring with MACs, addresses and ports swapped.
        let rh = dv.getUint32(0, true), rt = dv.getUint32(4, true), tt = dv.getUint32(4096 + 4, true);
        for (; rh !== rt; rh++, tt++) {
          const rs = 32 + (rh & 63) * 16, ts = 4096 + 32 + (tt & 63) * 16;
          const len = dv.getUint32(rs, true);
          const src = new Uint8Array(mem, dv.getUint32(rs + 8, true), len);
          const dst = new Uint8Array(mem, dv.getUint32(ts + 8, true), len);
          dst.set(src);
          dst.set(src.subarray(6, 12), 0); dst.set(src.subarray(0, 6), 6);
          dst.set(src.subarray(30, 34), 26); dst.set(src.subarray(26, 30), 30);
          dst.set(src.subarray(36, 38), 34); dst.set(src.subarray(34, 36), 36);
          dv.setUint32(ts, len, true);
          got++;
        }
        dv.setUint32(0, rh, true); dv.setUint32(4096 + 4, tt, true);
        const s = native.txFromGuest(link, port, mem, 4096);
        if (s < 0) { errors.push(native.lastError()); break; }
        sent += s;
      }
      return { got, sent, errors };`, { link, port, n: 100 });
    await w.ready;
    const frames = Array.from({ length: 100 }, (_, i) => udp4('10.0.0.1', 1000 + i, '10.0.0.2', 7, Buffer.from(`#${i}`)));
    for (let i = 0; i < 100; i += 10) {
      native.switchInject(link, frames.slice(i, i + 10));
      await new Promise((r) => setTimeout(r, 2));
    }
    const r = await w.result;
    expect(r).toEqual({ got: 100, sent: 100, errors: [] });
    const out = native.switchDrainWire(link);
    expect(out.length).toBe(100);
    expect(Buffer.from(out[42]).subarray(34, 36).readUInt16BE(0)).toBe(7); // source port 7 now
    expect(native.counters(link, port)).toMatchObject({ rx_frames: 100, tx_frames: 100, tx_bad_tuple: 0, tx_bad_src_mac: 0 });
  });

  it('wake() unblocks a worker waiting forever', async () => {
    const w = inWorker<{ rc: number; ms: number }>(`
      const t0 = Date.now();
      const rc = native.wait(workerData.link, workerData.port, -1);
      return { rc, ms: Date.now() - t0 };`, { link, port });
    await w.ready;
    await new Promise((r) => setTimeout(r, 50));
    native.wake(link, port);
    const r = await w.result;
    expect(r.rc).toBe(0);
    expect(r.ms).toBeGreaterThanOrEqual(40);
  });

  it('removePort unblocks a waiting worker, whose next call fails with ENOENT', async () => {
    const w = inWorker<{ rc: number; ms: number; code: string }>(`
      const t0 = Date.now();
      const rc = native.wait(workerData.link, workerData.port, 10000);
      const ms = Date.now() - t0;
      let code = '';
      try { native.wait(workerData.link, workerData.port, 0); } catch (e) { code = e.code; }
      return { rc, ms, code };`, { link, port });
    await w.ready;
    await new Promise((r) => setTimeout(r, 50));
    const t0 = Date.now();
    native.removePort(link, port);
    expect(Date.now() - t0).toBeLessThan(1000);
    const r = await w.result;
    expect(r.ms).toBeLessThan(5000);
    expect(r.code).toBe('ENOENT');
  });

  it('a destroyed link is gone for every thread, also one that used it a moment ago', () => {
    const other = native.createSwitchLink({ mac: LINK_MAC });
    const p = native.addPort(other);
    const { g, rx } = standardRings(8);
    expect(native.rxToGuest(other, p, g.mem, rx.off, 8)).toBe(0); // this thread now knows the link
    native.destroyLink(other);
    expect(() => native.rxToGuest(other, p, g.mem, rx.off, 8)).toThrow(`link ${other} does not exist`);
    expect(() => native.counters(other, p)).toThrow(`link ${other} does not exist`);
    expect(() => native.destroyLink(other)).toThrow(`link ${other} does not exist`);
  });

  it('destroyLink unblocks a waiting worker', async () => {
    const other = native.createSwitchLink({ mac: LINK_MAC });
    const p = native.addPort(other);
    const w = inWorker<{ code: string }>(`
      let code = 'none';
      try { native.wait(workerData.other, workerData.p, 10000); native.wait(workerData.other, workerData.p, 0); } catch (e) { code = e.code; }
      return { code };`, { other, p });
    await w.ready;
    await new Promise((r) => setTimeout(r, 50));
    native.destroyLink(other);
    expect((await w.result).code).toBe('ENOENT');
  });
});

describe('benchReference', () => {
  it('runs the C++ reference loop with nothing dropped (every echo passes TX validation)', () => {
    const r = native.benchReference({ seconds: 0.2 });
    expect(r.frames).toBeGreaterThan(10000);
    expect(r.dropped).toBe(0);
    expect(r.mpps).toBeGreaterThan(0.5);
    expect(r.nsPerFrame).toBeCloseTo(1000 / r.mpps, 3);
  });

  it('the benchmark frame has checksums tshark accepts', () => {
    const f = Buffer.from(native.benchUdpFrame(LINK_MAC, 64));
    const bad = Buffer.from(f);
    bad[50] ^= 1;
    const dir = mkdtempSync(path.join(tmpdir(), 'msh-bench-'));
    try {
      const file = path.join(dir, 'f.pcap');
      writeFileSync(file, pcapOf([f, bad]));
      const r = tsharkFields(file, ['ip.checksum.status', 'udp.checksum.status', 'udp.dstport', 'frame.len'], ['-o', 'ip.check_checksum:TRUE', '-o', 'udp.check_checksum:TRUE']);
      expect(r.rows).toEqual([['1', '1', '7', '64'], ['1', '0', '7', '64']]); // 1 good, 0 bad
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
