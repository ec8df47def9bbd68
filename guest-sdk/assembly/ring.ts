// Guest side of the packet rings (wit/ABI.md, "Rings"): a header and slots in this
// stack's own linear memory, written by the host (RX) or read by it (TX).

export const RING_HEADER_SIZE: usize = 32;
export const RING_SLOT_SIZE: usize = 16;

const HEAD: usize = 0;
const TAIL: usize = 4;
const NUM_SLOTS: usize = 8;
const SLOT_BYTES: usize = 12;

const SLOT_LEN: usize = 0;
const SLOT_FLAGS: usize = 4;
const SLOT_BUF: usize = 8;

/**
 * One ring. The memory is allocated once and never freed (the ring lives as long as the
 * stack). Indices are free-running u32 counters; slot i is at i & mask.
 */
export class Ring {
  readonly base: usize;
  readonly numSlots: u32;
  readonly mask: u32;
  readonly slotSize: u32;

  constructor(numSlots: u32, slotSize: u32) {
    assert(numSlots > 0 && (numSlots & (numSlots - 1)) == 0 && numSlots <= 4096, "ring size must be a power of two up to 4096");
    assert(slotSize >= 2048 && slotSize <= 65535, "slot size must be 2048..65535");
    this.numSlots = numSlots;
    this.mask = numSlots - 1;
    this.slotSize = slotSize;
    const meta = RING_HEADER_SIZE + <usize>numSlots * RING_SLOT_SIZE;
    const bufs = <usize>numSlots * <usize>slotSize;
    const base = heap.alloc(meta + bufs);
    memory.fill(base, 0, meta);
    store<u32>(base + NUM_SLOTS, numSlots);
    store<u32>(base + SLOT_BYTES, slotSize);
    for (let i: u32 = 0; i < numSlots; i++) {
      store<u32>(base + RING_HEADER_SIZE + <usize>i * RING_SLOT_SIZE + SLOT_BUF, <u32>(base + meta + <usize>i * <usize>slotSize));
    }
    this.base = base;
  }

  @inline get head(): u32 { return load<u32>(this.base + HEAD); }
  @inline set head(v: u32) { store<u32>(this.base + HEAD, v); }
  @inline get tail(): u32 { return load<u32>(this.base + TAIL); }
  @inline set tail(v: u32) { store<u32>(this.base + TAIL, v); }

  /** Frames in the ring (consumer's view). */
  @inline count(): u32 { return this.tail - this.head; }
  /** Free slots (producer's view). */
  @inline space(): u32 { return this.numSlots - (this.tail - this.head); }

  @inline slot(index: u32): usize { return this.base + RING_HEADER_SIZE + <usize>(index & this.mask) * RING_SLOT_SIZE; }
  @inline bufOf(index: u32): usize { return <usize>load<u32>(this.slot(index) + SLOT_BUF); }
  @inline lenOf(index: u32): u32 { return load<u32>(this.slot(index) + SLOT_LEN); }
  @inline setLen(index: u32, len: u32): void { store<u32>(this.slot(index) + SLOT_LEN, len); store<u32>(this.slot(index) + SLOT_FLAGS, 0); }

  /** Exchanges the buffers of two owned slots (possibly of two rings): zero-copy forwarding. */
  @inline static swapBuffers(a: usize, b: usize): void {
    const t = load<u32>(a + SLOT_BUF);
    store<u32>(a + SLOT_BUF, load<u32>(b + SLOT_BUF));
    store<u32>(b + SLOT_BUF, t);
  }
}
