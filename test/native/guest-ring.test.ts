// Guest ring I/O (native/src/guest_ring.cc) against a plain ArrayBuffer laid out per
// wit/ABI.md: frames in and out through the switch, and a guest that lies about its
// rings, which must get a negative code and a precise message, never a crash.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadNative } from '../../host/src/native.js';
import { GuestMemory, standardRings } from './rings.js';
import { arp, LINK_MAC, PEER_MAC, udp4 } from './wire.js';
import { v4 } from './wire.js';

const native = loadNative();
const EFAULT = -14;
const EINVAL = -22;
const me = { src: LINK_MAC, dst: PEER_MAC };

describe('guest rings', () => {
  let link: number;
  let port: number;
  beforeEach(() => {
    link = native.createSwitchLink({ mac: LINK_MAC });
    port = native.addPort(link);
    native.claim(link, port, 17, v4('10.0.0.2'), 7);
  });
  afterEach(() => native.destroyLink(link));

  it('moves frames from the switch into RX slots and publishes tail once', () => {
    const { g, rx } = standardRings(8);
    const frames = [0, 1, 2].map((i) => udp4('10.0.0.1', 1000 + i, '10.0.0.2', 7, Buffer.from(`frame ${i}`)));
    expect(native.switchInject(link, frames)).toBe(3);
    expect(native.rxToGuest(link, port, g.mem, rx.off, 64)).toBe(3);
    expect(g.tail(rx.off)).toBe(3);
    expect(g.head(rx.off)).toBe(0);
    expect(g.slot(rx.off, 1)).toMatchObject({ len: frames[1].length, flags: 0 });
    expect(g.consumeRx(rx.off)).toEqual(frames);
    expect(native.rxToGuest(link, port, g.mem, rx.off, 64)).toBe(0);
    const c = native.counters(link, port);
    expect(c).toMatchObject({ rx_frames: 3, rx_bytes: frames.reduce((s, f) => s + f.length, 0), rx_queued: 3, rx_queue_depth: 0 });
  });

  it('holds frames back when the RX ring is full, and honours max', () => {
    const { g, rx } = standardRings(4);
    const frames = Array.from({ length: 10 }, (_, i) => udp4('10.0.0.1', 2000 + i, '10.0.0.2', 7));
    native.switchInject(link, frames);
    expect(native.rxToGuest(link, port, g.mem, rx.off, 2)).toBe(2);
    expect(native.rxToGuest(link, port, g.mem, rx.off, 64)).toBe(2); // ring full at 4
    expect(native.rxToGuest(link, port, g.mem, rx.off, 64)).toBe(0);
    const got = g.consumeRx(rx.off);
    expect(native.rxToGuest(link, port, g.mem, rx.off, 64)).toBe(4);
    got.push(...g.consumeRx(rx.off));
    expect(native.rxToGuest(link, port, g.mem, rx.off, 64)).toBe(2);
    got.push(...g.consumeRx(rx.off));
    expect(got).toEqual(frames); // in order, nothing lost
    expect(native.counters(link, port).rx_dropped_queue_full).toBe(0);
  });

  it('port 0 (the kernel) has no guest rings', () => {
    const { g, rx, tx } = standardRings(8);
    expect(() => native.rxToGuest(link, 0, g.mem, rx.off, 8)).toThrow(/port 0 is the kernel port/);
    expect(() => native.txFromGuest(link, 0, g.mem, tx.off)).toThrow(/port 0 is the kernel port/);
  });

  it('indices wrap at 2^32', () => {
    const { g, rx, tx } = standardRings(4);
    g.setHead(rx.off, 0xfffffffe);
    g.setTail(rx.off, 0xfffffffe);
    g.setHead(tx.off, 0xffffffff);
    g.setTail(tx.off, 0xffffffff);
    native.switchInject(link, [1, 2, 3].map((i) => udp4('10.0.0.1', i, '10.0.0.2', 7)));
    expect(native.rxToGuest(link, port, g.mem, rx.off, 64)).toBe(3);
    expect(g.tail(rx.off)).toBe(1);
    expect(g.consumeRx(rx.off).length).toBe(3);
    expect(g.produceTx(tx.off, [udp4('10.0.0.2', 7, '10.0.0.1', 1, undefined, me), udp4('10.0.0.2', 7, '10.0.0.1', 2, undefined, me)])).toBe(2);
    expect(native.txFromGuest(link, port, g.mem, tx.off)).toBe(2);
    expect(g.head(tx.off)).toBe(1);
    expect(native.switchDrainWire(link).length).toBe(2);
  });

  it('validates TX frames, sends the valid ones, counts drops by reason, advances head', () => {
    const { g, tx } = standardRings(16);
    const ok1 = udp4('10.0.0.2', 7, '10.0.0.1', 5555, Buffer.from('reply 1'), me);
    const ok2 = udp4('10.0.0.2', 7, '10.0.0.1', 5556, Buffer.from('reply 2'), me);
    const frames = [
      ok1,
      udp4('10.0.0.2', 7, '10.0.0.1', 5555, undefined, { src: PEER_MAC, dst: PEER_MAC }), // bad MAC
      udp4('10.0.0.2', 8, '10.0.0.1', 5555, undefined, me), // bad tuple
      Buffer.from(arp().fill(0, 6, 12)).fill(LINK_MAC[0], 6, 7), // bad ethertype (src MAC below)
      ok1.subarray(0, 30), // malformed
      udp4('10.0.0.2', 7, '10.0.0.1', 5555, Buffer.alloc(1600), me), // too long
      ok2,
    ];
    LINK_MAC.copy(frames[3], 6);
    expect(g.produceTx(tx.off, frames)).toBe(frames.length);
    expect(native.txFromGuest(link, port, g.mem, tx.off)).toBe(frames.length);
    expect(g.head(tx.off)).toBe(frames.length);
    expect(native.switchDrainWire(link)).toEqual([ok1, ok2].map((b) => Uint8Array.from(b)));
    expect(native.counters(link, port)).toMatchObject({
      tx_frames: 2, tx_bytes: ok1.length + ok2.length, tx_bad_src_mac: 1, tx_bad_tuple: 1,
      tx_bad_ethertype: 1, tx_malformed: 1, tx_too_long: 1, tx_backend_full: 0,
    });
    expect(native.txFromGuest(link, port, g.mem, tx.off)).toBe(0);
  });

  it('takes at most max TX frames (rate limiting leaves the rest on the ring)', () => {
    const { g, tx } = standardRings(8);
    g.produceTx(tx.off, Array.from({ length: 5 }, (_, i) => udp4('10.0.0.2', 7, '10.0.0.1', 100 + i, undefined, me)));
    expect(native.txFromGuest(link, port, g.mem, tx.off, 2)).toBe(2);
    expect(g.head(tx.off)).toBe(2);
    expect(native.txFromGuest(link, port, g.mem, tx.off)).toBe(3);
    expect(native.switchDrainWire(link).length).toBe(5);
  });

  it('counts valid frames the wire-out queue has no room for as tx_backend_full', () => {
    native.destroyLink(link);
    link = native.createSwitchLink({ mac: LINK_MAC, wireQueue: 4 });
    port = native.addPort(link);
    native.claim(link, port, 17, v4('10.0.0.2'), 7);
    const { g, tx } = standardRings(8);
    g.produceTx(tx.off, Array.from({ length: 6 }, (_, i) => udp4('10.0.0.2', 7, '10.0.0.1', 100 + i, undefined, me)));
    expect(native.txFromGuest(link, port, g.mem, tx.off)).toBe(6);
    expect(native.counters(link, port)).toMatchObject({ tx_frames: 4, tx_backend_full: 2 });
    expect(native.linkCounters(link)).toMatchObject({ wire_frames: 4, wire_dropped_full: 2 });
  });

  it('drops RX frames larger than the guest slot and counts them', () => {
    native.destroyLink(link);
    link = native.createSwitchLink({ mac: LINK_MAC, mtu: 9000 });
    port = native.addPort(link);
    native.claim(link, port, 17, v4('10.0.0.2'), 7);
    const { g, rx } = standardRings(4, 2048);
    native.switchInject(link, [udp4('10.0.0.1', 1, '10.0.0.2', 7, Buffer.alloc(3000)), udp4('10.0.0.1', 2, '10.0.0.2', 7)]);
    expect(native.rxToGuest(link, port, g.mem, rx.off, 64)).toBe(1);
    expect(native.counters(link, port)).toMatchObject({ rx_frames: 1, rx_dropped_too_big: 1 });
  });

  describe('a guest that lies about its rings', () => {
    function expectCorrupt(rc: number, code: number, message: RegExp) {
      expect(rc).toBe(code);
      expect(native.lastError()).toMatch(message);
    }

    it('header fields', () => {
      const { g, rx, tx } = standardRings(8);
      native.switchInject(link, [udp4('10.0.0.1', 1, '10.0.0.2', 7)]);
      g.dv.setUint32(rx.off + 8, 6, true);
      expectCorrupt(native.rxToGuest(link, port, g.mem, rx.off, 8), EINVAL, /^ring corrupted: rx num_slots=6 \(must be a power of two, 1\.\.4096\)$/);
      g.dv.setUint32(rx.off + 8, 8192, true);
      expectCorrupt(native.rxToGuest(link, port, g.mem, rx.off, 8), EINVAL, /rx num_slots=8192/);
      g.dv.setUint32(rx.off + 8, 0, true);
      expectCorrupt(native.rxToGuest(link, port, g.mem, rx.off, 8), EINVAL, /rx num_slots=0/);
      g.dv.setUint32(rx.off + 8, 8, true);
      g.dv.setUint32(tx.off + 12, 1024, true);
      expectCorrupt(native.txFromGuest(link, port, g.mem, tx.off), EINVAL, /^ring corrupted: tx slot_size=1024 \(must be 2048\.\.65535\)$/);
      g.dv.setUint32(tx.off + 12, 70000, true);
      expectCorrupt(native.txFromGuest(link, port, g.mem, tx.off), EINVAL, /tx slot_size=70000/);
      g.dv.setUint32(tx.off + 12, 2048, true);
      g.setTail(tx.off, 9);
      expectCorrupt(native.txFromGuest(link, port, g.mem, tx.off), EINVAL, /^ring corrupted: tx tail-head=9 exceeds num_slots=8 \(head=0 tail=9\)$/);
      g.setHead(tx.off, 10); // head past tail: tail-head wraps to 2^32-1
      expectCorrupt(native.txFromGuest(link, port, g.mem, tx.off), EINVAL, /tx tail-head=4294967295/);
      // Nothing was taken from the switch by the failed RX calls.
      g.setHead(tx.off, 0); g.setTail(tx.off, 0);
      expect(native.rxToGuest(link, port, g.mem, rx.off, 8)).toBe(1);
    });

    it('offsets outside memory', () => {
      const { g, rx } = standardRings(8);
      const size = g.mem.byteLength;
      expectCorrupt(native.rxToGuest(link, port, g.mem, size - 16, 8), EFAULT, new RegExp(`^ring corrupted: rx ring header at 0x${(size - 16).toString(16)} outside memory \\(size 0x${size.toString(16)}\\)$`));
      expectCorrupt(native.rxToGuest(link, port, g.mem, 0xfffffff8, 8), EFAULT, /rx ring header at 0xfffffff8 outside memory/);
      expectCorrupt(native.rxToGuest(link, port, g.mem, 4, 8), EINVAL, /not 8-byte aligned/);
      // Slots array running off the end.
      const small = new GuestMemory(4096);
      small.dv.setUint32(4000 + 8, 8, true); // header fits, 8 x 16 slot bytes do not
      small.dv.setUint32(4000 + 12, 2048, true);
      expectCorrupt(native.rxToGuest(link, port, small.mem, 4000, 8), EFAULT, /^ring corrupted: rx slots at 0xfc0\.\.0x1040 outside memory \(size 0x1000\)$/);
      void rx;
    });

    it('slot buffers outside memory and TX lengths over slot_size', () => {
      const { g, rx, tx } = standardRings(8);
      const size = g.mem.byteLength;
      native.switchInject(link, [udp4('10.0.0.1', 1, '10.0.0.2', 7), udp4('10.0.0.1', 2, '10.0.0.2', 7)]);
      g.setSlot(rx.off, 1, { buf: 0xfffff000 });
      expectCorrupt(native.rxToGuest(link, port, g.mem, rx.off, 8), EFAULT, new RegExp(`^ring corrupted: rx slot 1 buf=0xfffff000 outside memory \\(size 0x${size.toString(16)}, slot_size 2048\\)$`));
      expect(g.tail(rx.off)).toBe(0); // nothing published
      g.setSlot(rx.off, 1, { buf: size - 2047 }); // one byte short
      expectCorrupt(native.rxToGuest(link, port, g.mem, rx.off, 8), EFAULT, /rx slot 1 buf=/);
      g.setSlot(rx.off, 1, { buf: size - 2048 }); // exactly fits
      expect(native.rxToGuest(link, port, g.mem, rx.off, 8)).toBe(2); // both frames still there

      g.produceTx(tx.off, [udp4('10.0.0.2', 7, '10.0.0.1', 1, undefined, me), udp4('10.0.0.2', 7, '10.0.0.1', 2, undefined, me)]);
      g.setSlot(tx.off, 0, { len: 2049 });
      expectCorrupt(native.txFromGuest(link, port, g.mem, tx.off), EINVAL, /^ring corrupted: tx slot 0 len=2049 exceeds slot_size=2048$/);
      g.setSlot(tx.off, 0, { len: 60 });
      g.setSlot(tx.off, 1, { buf: 0x7fffffff });
      expectCorrupt(native.txFromGuest(link, port, g.mem, tx.off), EFAULT, /tx slot 1 buf=0x7fffffff outside memory/);
      expect(g.head(tx.off)).toBe(0);
      expect(native.switchDrainWire(link).length).toBe(0); // nothing of the bad batch was sent
    });

    it('a detached memory (after grow) is refused, not read', () => {
      const { g, rx } = standardRings(8);
      structuredClone(g.mem, { transfer: [g.mem] }); // detaches g.mem
      expectCorrupt(native.rxToGuest(link, port, g.mem, rx.off, 8), EFAULT, /guest memory is empty or detached/);
      expect(native.checkRing(g.mem, 0)).toBe(EFAULT);
    });

    it('checkRing validates every slot', () => {
      const { g, rx } = standardRings(8);
      expect(native.checkRing(g.mem, rx.off, 'rx')).toBe(0);
      g.setSlot(rx.off, 7, { buf: g.mem.byteLength });
      expect(native.checkRing(g.mem, rx.off, 'rx')).toBe(EFAULT);
      expect(native.lastError()).toMatch(/^ring corrupted: rx slot 7 buf=/);
    });

    it('random ring memory never crashes the host', () => {
      let seed = 99;
      const rnd = () => ((seed = (seed * 1664525 + 1013904223) >>> 0));
      const g = new GuestMemory(1 << 16);
      const u32 = new Uint32Array(g.mem);
      let ok = 0;
      let bad = 0;
      const reply = udp4('10.0.0.2', 7, '10.0.0.1', 1, undefined, me);
      for (let i = 0; i < 3000; i++) {
        // Plausible rings with one queued TX frame, then random corruption of header and
        // slot words (values small enough to look like offsets, or anything).
        g.init({ off: 0, numSlots: 16, slotSize: 2048, bufBase: 1024 });
        g.init({ off: 512, numSlots: 16, slotSize: 2048, bufBase: 1024 + 16 * 2048 });
        g.produceTx(512, [reply]);
        for (let k = 0; k < 1 + (rnd() % 4); k++) {
          const at = rnd() % 160; // words of both rings' headers and slots
          u32[at] = rnd() % 3 === 0 ? rnd() : rnd() % 70000;
        }
        if (i % 4 === 0) native.switchInject(link, [udp4('10.0.0.1', 1, '10.0.0.2', 7)]);
        const r1 = native.rxToGuest(link, port, g.mem, 0, 16);
        const r2 = native.txFromGuest(link, port, g.mem, 512);
        for (const r of [r1, r2]) {
          if (r < 0) { bad++; expect(native.lastError()).toMatch(/^ring corrupted: /); } else ok++;
        }
      }
      expect(bad).toBeGreaterThan(100);
      expect(ok).toBeGreaterThan(100);
    });
  });
});
