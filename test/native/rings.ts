// A guest's rings laid out in a plain ArrayBuffer exactly as wit/ABI.md describes, with
// the guest's side of the protocol (consume RX, produce TX) written in TypeScript.
export interface RingLayout {
  off: number;
  numSlots: number;
  slotSize: number;
  bufBase: number; // buffer of slot i at bufBase + i * slotSize
}

export class GuestMemory {
  readonly mem: ArrayBuffer;
  readonly dv: DataView;
  constructor(size: number) {
    this.mem = new ArrayBuffer(size);
    this.dv = new DataView(this.mem);
  }

  init(r: RingLayout): void {
    this.dv.setUint32(r.off + 0, 0, true);
    this.dv.setUint32(r.off + 4, 0, true);
    this.dv.setUint32(r.off + 8, r.numSlots, true);
    this.dv.setUint32(r.off + 12, r.slotSize, true);
    for (let i = 0; i < r.numSlots; i++) this.setSlot(r.off, i, { buf: r.bufBase + i * r.slotSize, len: 0 });
  }

  head(off: number): number { return this.dv.getUint32(off, true); }
  tail(off: number): number { return this.dv.getUint32(off + 4, true); }
  setHead(off: number, v: number): void { this.dv.setUint32(off, v >>> 0, true); }
  setTail(off: number, v: number): void { this.dv.setUint32(off + 4, v >>> 0, true); }
  numSlots(off: number): number { return this.dv.getUint32(off + 8, true); }
  slot(off: number, i: number): { len: number; flags: number; buf: number } {
    const s = off + 32 + (i & (this.numSlots(off) - 1)) * 16;
    return { len: this.dv.getUint32(s, true), flags: this.dv.getUint32(s + 4, true), buf: this.dv.getUint32(s + 8, true) };
  }
  setSlot(off: number, i: number, v: { len?: number; buf?: number }): void {
    const s = off + 32 + (i & (this.dv.getUint32(off + 8, true) - 1)) * 16;
    if (v.len !== undefined) this.dv.setUint32(s, v.len >>> 0, true);
    if (v.buf !== undefined) this.dv.setUint32(s + 8, v.buf >>> 0, true);
  }

  /** Guest side of RX: takes every published frame, advances head. */
  consumeRx(off: number): Buffer[] {
    const out: Buffer[] = [];
    let h = this.head(off);
    const t = this.tail(off);
    while (h !== t) {
      const s = this.slot(off, h);
      out.push(Buffer.from(new Uint8Array(this.mem, s.buf, s.len)));
      h = (h + 1) >>> 0;
    }
    this.setHead(off, h);
    return out;
  }

  /** Guest side of TX: writes frames into free slots, advances tail. Returns how many fit. */
  produceTx(off: number, frames: Uint8Array[]): number {
    let t = this.tail(off);
    const h = this.head(off);
    const n = this.numSlots(off);
    let done = 0;
    for (const f of frames) {
      if (((t - h) >>> 0) >= n) break;
      const s = this.slot(off, t);
      new Uint8Array(this.mem, s.buf, f.length).set(f);
      this.setSlot(off, t, { len: f.length });
      t = (t + 1) >>> 0;
      done++;
    }
    this.setTail(off, t);
    return done;
  }
}

/** Standard test layout: RX ring at 0, TX ring at 4096, buffers from 8192. */
export function standardRings(numSlots = 8, slotSize = 2048): { g: GuestMemory; rx: RingLayout; tx: RingLayout } {
  const rx = { off: 0, numSlots, slotSize, bufBase: 65536 };
  const tx = { off: 32768, numSlots, slotSize, bufBase: 65536 + numSlots * slotSize };
  const g = new GuestMemory(65536 + 2 * numSlots * slotSize);
  g.init(rx);
  g.init(tx);
  return { g, rx, tx };
}
