// Bulk transfers between two TcpEndpoints over a seeded, impaired simulated link (frames
// built and parsed by TcpNetIf): every byte must arrive intact in both directions, both
// sides must see EOF and a normal close, and TIME-WAIT must drain the tables.
import { beforeAll, describe, expect, it } from "vitest";
import { loadHarness, type Harness } from "./harness";

const V6 = 1, NO_SACK = 2, NO_TS = 4, NO_WSCALE = 8, CUBIC = 16, FIXED = 32, NAGLE = 64, SMALL_BUF = 128, NO_DACK = 256;

let h: Harness;
beforeAll(async () => { h = await loadHarness(); }, 120_000);

interface Case {
  name: string; seed: number; loss?: number; dup?: number; reorder?: number; corrupt?: number;
  bytes?: number; flags?: number; mbps?: number; delayUs?: number;
}

// Percentages are in parts per million: 10_000 = 1 %.
const cases: Case[] = [
  { name: "clean IPv4, 2 MB each way", seed: 1, bytes: 2_000_000 },
  { name: "clean IPv6, 2 MB each way", seed: 2, bytes: 2_000_000, flags: V6 },
  { name: "1 % loss", seed: 3, loss: 10_000, bytes: 2_000_000 },
  { name: "1 % loss, other seed", seed: 4, loss: 10_000, bytes: 2_000_000 },
  { name: "5 % loss", seed: 5, loss: 50_000 },
  { name: "5 % loss, other seed", seed: 6, loss: 50_000 },
  { name: "5 % loss IPv6", seed: 7, loss: 50_000, flags: V6 },
  { name: "duplication and reordering", seed: 8, dup: 20_000, reorder: 20_000 },
  { name: "1 % loss + 2 % dup + 5 % reorder", seed: 9, loss: 10_000, dup: 20_000, reorder: 50_000 },
  { name: "5 % loss + dup + reorder, slow long link", seed: 10, loss: 50_000, dup: 10_000, reorder: 10_000, mbps: 20, delayUs: 10_000 },
  { name: "1 % corrupted frames (checksums)", seed: 11, loss: 5_000, corrupt: 10_000 },
  { name: "5 % loss without SACK (NewReno only)", seed: 12, loss: 50_000, flags: NO_SACK },
  { name: "5 % loss without SACK, timestamps, window scaling", seed: 13, loss: 50_000, dup: 10_000, reorder: 10_000, flags: NO_SACK | NO_TS | NO_WSCALE },
  { name: "CUBIC, 1 % loss", seed: 14, loss: 10_000, bytes: 2_000_000, flags: CUBIC },
  { name: "fixed window, 1 % loss", seed: 15, loss: 10_000, flags: FIXED },
  { name: "Nagle on, no delayed ACK", seed: 16, loss: 10_000, flags: NAGLE | NO_DACK },
  { name: "4 KiB buffers, 1 % loss + reorder", seed: 17, loss: 10_000, reorder: 20_000, bytes: 300_000, flags: SMALL_BUF },
];

describe("tcp transfer over a simulated link", () => {
  for (const c of cases) {
    it(c.name, () => {
      const bytes = c.bytes ?? 1_000_000;
      const { code, r, fails } = h.call("transfer", c.seed, c.loss ?? 0, c.dup ?? 0, c.reorder ?? 0, c.corrupt ?? 0,
        bytes, bytes, c.flags ?? 0, c.mbps ?? 100, c.delayUs ?? 500);
      expect(fails).toEqual([]);
      expect(code).toBe(0);
      expect(r["a.received"]).toBe(bytes);
      expect(r["b.received"]).toBe(bytes);
      expect(r.mismatches).toBe(0);
      if ((c.loss ?? 0) > 0) expect(r["link.lost"]).toBeGreaterThan(0);
      if ((c.loss ?? 0) > 0) expect(r["a.retransmits"] + r["b.retransmits"]).toBeGreaterThan(0);
      if ((c.dup ?? 0) > 0) expect(r["link.duplicated"]).toBeGreaterThan(0);
      if ((c.reorder ?? 0) > 0) expect(r["link.reordered"]).toBeGreaterThan(0);
      if ((c.corrupt ?? 0) > 0) {
        expect(r["link.corrupted"]).toBeGreaterThan(0);
        expect(r.rxBadChecksum).toBeGreaterThan(0);
      }
      const flags = c.flags ?? 0;
      expect(r["a.sackOk"]).toBe(flags & NO_SACK ? 0 : 1);
      expect(r["a.tsOk"]).toBe(flags & NO_TS ? 0 : 1);
      if (flags & NO_WSCALE) expect(r["a.sndWscale"]).toBe(0);
      expect(r["a.mss"]).toBe((flags & V6 ? 1440 : 1460) - (flags & NO_TS ? 0 : 12));
    });
  }

  it("clean link runs near the bottleneck rate", () => {
    const { code, r } = h.call("transfer", 21, 0, 0, 0, 0, 4_000_000, 0, 0, 100, 500);
    expect(code).toBe(0);
    // 100 Mbit/s one way, slow start and one drop-tail episode included.
    expect(r.goodputMbps).toBeGreaterThan(60);
  });

  it("is deterministic for a seed", () => {
    const a = h.call("transfer", 22, 30_000, 10_000, 10_000, 0, 500_000, 500_000, 0, 100, 500);
    const b = h.call("transfer", 22, 30_000, 10_000, 10_000, 0, 500_000, 500_000, 0, 100, 500);
    expect(a.code).toBe(0);
    expect(b.r).toEqual(a.r);
  });

  it("200 randomized runs: loss 0-8 %, duplication, reordering, corruption, option mixes", () => {
    const failed: string[] = [];
    for (let seed = 1000; seed < 1200; seed++) {
      // A small LCG per seed picks the impairments, so a failure names its exact inputs.
      let x = Math.imul(seed, 2654435761) >>> 0;
      const rnd = () => { x = (Math.imul(x, 1103515245) + 12345) >>> 0; return x / 2 ** 32; };
      const loss = Math.floor(rnd() * 80_000), dup = Math.floor(rnd() * 30_000);
      const reorder = Math.floor(rnd() * 50_000), corrupt = Math.floor(rnd() * 20_000);
      const flags = Math.floor(rnd() * 512) & ~FIXED;
      const bytes = 50_000 + Math.floor(rnd() * 400_000);
      const mbps = 5 + Math.floor(rnd() * 200), delayUs = 100 + Math.floor(rnd() * 20_000);
      const args = [seed, loss, dup, reorder, corrupt, bytes, Math.floor(bytes / 2), flags, mbps, delayUs];
      const { code, fails } = h.call("transfer", ...args);
      if (code !== 0) failed.push(`transfer(${args.join(", ")}): ${fails.join("; ")}`);
    }
    expect(failed).toEqual([]);
  });

  it("recycled connection objects: reused on both sides, every transfer intact, reinit() as new", () => {
    for (const seed of [31, 32, 33]) {
      const { code, r, fails } = h.call("recycledConnections", seed);
      expect(fails, `seed ${seed}`).toEqual([]);
      expect(code).toBe(0);
      expect(r.ok).toBe(144);
    }
    const { code, fails } = h.call("reinitMatchesFresh");
    expect(fails).toEqual([]);
    expect(code).toBe(0);
  });

  it("300 concurrent connections with 1 % loss, buffers all returned", () => {
    const { code, r, fails } = h.call("manyConnections", 300);
    expect(fails).toEqual([]);
    expect(code).toBe(0);
    expect(r.clientsOk).toBe(300);
  });
});
