// Untrusted bytes: every wrap/parse/accessor runs on random and mutated frames placed at
// the very end of linear memory, so a read past the given length traps (RuntimeError) and
// fails the test. Seeded, so a failure reproduces.
import { beforeAll, describe, expect, test } from "vitest";
import { F } from "./frames.ts";
import { Harness, loadHarness, prng, refChecksum } from "./harness/load.ts";

let h: Harness;
beforeAll(async () => {
  h = await loadHarness();
}, 120_000);

const seeds = Object.values(F);

/** Runs fn on bytes at the end of memory; a trap becomes a failure naming the input. */
function run(bytes: Uint8Array, fn: (p: number, l: number) => number, what: string): number {
  try {
    return fn(h.atEnd(bytes), bytes.length);
  } catch (e) {
    throw new Error(`${what} trapped on ${Buffer.from(bytes).toString("hex")}: ${e}`);
  }
}

describe("end-of-memory placement", () => {
  test("a read one byte past the frame traps (the fuzz below can detect over-reads)", () => {
    const b = new Uint8Array(32);
    const p = h.atEnd(b);
    expect(h.ex.csum(p, 32)).toBe(0xffff);
    expect(() => h.ex.csum(p, 33)).toThrow(WebAssembly.RuntimeError);
    expect(() => h.ex.csum(p + 1, 32)).toThrow(WebAssembly.RuntimeError);
  });
});

describe("fuzz", () => {
  test("every truncation of every known frame, at every layer offset", () => {
    let n = 0;
    for (const f of seeds) {
      for (const off of [0, 14, 34, 54]) {
        if (off >= f.length) continue;
        const body = f.subarray(off);
        for (let len = 0; len <= body.length; len++) {
          run(body.subarray(0, len), h.ex.fuzzAll, "fuzzAll");
          n++;
        }
      }
    }
    expect(n).toBeGreaterThan(5000);
  });

  test("random bytes", () => {
    const rnd = prng(0xdecaf);
    const hits = new Set<number>();
    for (let i = 0; i < 100000; i++) {
      const len = (rnd() * 96) | 0;
      const b = Uint8Array.from({ length: len }, () => (rnd() * 256) | 0);
      // bias the first bytes towards plausible headers so the deeper paths run too
      if (len > 0 && rnd() < 0.5) b[0] = [0x45, 0x46, 0x4f, 0x60, 0x62, 0x87, 0x88, 0x50, 0xf0][(rnd() * 9) | 0];
      if (len > 12 && rnd() < 0.5) b[12] = [0x50, 0x60, 0xf0, 0xa0][(rnd() * 4) | 0];
      if (len > 6 && rnd() < 0.3) b[6] = [0, 43, 44, 51, 60, 17, 6][(rnd() * 7) | 0];
      if (len > 5 && rnd() < 0.3) b[4] = 0;
      if (len > 5 && rnd() < 0.3) b[5] = Math.max(0, len - 40 - ((rnd() * 8) | 0));
      if (len > 6 && rnd() < 0.05) b.set([0, 1, 8, 0, 6, 4]); // an ARP header
      hits.add(run(b, h.ex.fuzzAll, "fuzzAll"));
    }
    // every view accepted some input (bits: eth arp ip4 quoted ip6 icmp4 icmp6 udp tcp tcp-options)
    const any = [...hits].reduce((a, b) => a | b, 0);
    expect(any).toBe(0x3ff);
  });

  test("mutated known frames (bit flips, byte sets, truncation, extension)", () => {
    const rnd = prng(20250101);
    let parsedDeep = 0;
    for (let i = 0; i < 150000; i++) {
      const seed = seeds[(rnd() * seeds.length) | 0];
      const off = [0, 0, 0, 14, 34, 54][(rnd() * 6) | 0];
      if (off >= seed.length) continue;
      let b = Uint8Array.from(seed.subarray(off));
      const edits = 1 + ((rnd() * 4) | 0);
      for (let e = 0; e < edits; e++) {
        const at = (rnd() * Math.min(b.length, 80)) | 0;
        if (rnd() < 0.5) b[at] ^= 1 << ((rnd() * 8) | 0);
        else b[at] = [0, 1, 2, 0xff, 0x7f, 0x80, 40, 60, (rnd() * 256) | 0][(rnd() * 9) | 0];
      }
      const r = rnd();
      if (r < 0.3) b = b.subarray(0, (rnd() * b.length) | 0);
      else if (r < 0.4) b = Uint8Array.from([...b, ...Array.from({ length: (rnd() * 16) | 0 }, () => (rnd() * 256) | 0)]);
      run(b, h.ex.fuzzAll, "fuzzAll");
      if (off === 0 && run(b, h.ex.frameParse, "frameParse") === 1 && h.out(5)[4] === 1) parsedDeep++;
    }
    expect(parsedDeep).toBeGreaterThan(20000);
  });

  test("udpEchoInPlace on mutated frames: never traps, and every reply it makes is consistent", () => {
    const rnd = prng(7);
    const udpSeeds = [F.udp4, F.udp6, F.v6chain, F.syn4, F.ping4];
    let replies = 0;
    for (let i = 0; i < 50000; i++) {
      let b = Uint8Array.from(udpSeeds[(rnd() * udpSeeds.length) | 0]);
      const edits = (rnd() * 3) | 0;
      for (let e = 0; e < edits; e++) b[(rnd() * b.length) | 0] = (rnd() * 256) | 0;
      if (rnd() < 0.3) b = b.subarray(0, (rnd() * b.length) | 0);
      const p = h.atEnd(b);
      let n: number;
      try {
        n = h.ex.echo(p, b.length);
      } catch (e) {
        throw new Error(`echo trapped on ${Buffer.from(b).toString("hex")}: ${e}`);
      }
      expect(n).toBeLessThanOrEqual(b.length);
      if (n === 0) continue;
      replies++;
      const r = h.read(p, n);
      const v6 = r[12] === 0x86;
      if (!v6) expect(refChecksum(r.subarray(14, 34))).toBe(0);
      const ip = r.subarray(14);
      const udp = r.subarray(v6 ? 54 : 34);
      const pseudo = v6
        ? Uint8Array.from([...ip.subarray(8, 40), 0, 0, udp[4], udp[5], 0, 0, 0, 17])
        : Uint8Array.from([...ip.subarray(12, 20), 0, 17, udp[4], udp[5]]);
      expect(refChecksum(pseudo, udp)).toBe(0);
    }
    expect(replies).toBeGreaterThan(5000);
  });
});
