// Hostile input: RFC 5961 (blind RST/SYN/ACK), out-of-window segments, PAWS, RSTs for
// unknown connections, SYN floods against the SYN backlog and SYN cookies, a full table,
// random segments and damaged frames.
import { beforeAll, describe, expect, it } from "vitest";
import { loadHarness, type Harness } from "./harness";

let h: Harness;
beforeAll(async () => { h = await loadHarness(); }, 120_000);

function ok(name: string, ...args: (number | boolean)[]) {
  const res = h.call(name, ...args);
  expect(res.fails).toEqual([]);
  expect(res.code).toBe(0);
  return res.r;
}

describe("tcp under hostile input", () => {
  it("RST, SYN and ACK checks, out-of-window data, PAWS, closed ports", () => {
    const r = ok("hostileSegments");
    expect(r.challengeAcksIn1s).toBeLessThanOrEqual(1000);
  });
  it("SYN flood of 200k spoofed SYNs: bounded state and memory, cookies work", () => {
    const r = ok("synFlood", 200_000);
    expect(r.halfOpen).toBeLessThanOrEqual(64);
    expect(r.cookiesSent).toBeGreaterThanOrEqual(200_000 - 64);
    expect(r.pagesGrowth).toBeLessThanOrEqual(16);
    expect(r.cookiesOk).toBe(1);
  });
  it("connection table limit recycles TIME-WAIT", () => { ok("tableLimit"); });
  for (const seed of [1, 2, 3]) {
    it(`200k random segments against live connections (seed ${seed}): no trap, bounded, all end`, () => {
      const r = ok("fuzzSegments", seed, 200_000);
      expect(r.connsLeft).toBe(0);
    });
  }
  for (const seed of [1, 2, 3, 4]) {
    it(`damaged frames with checksums off reach TCP (seed ${seed}): no trap, all connections end`, () => {
      const r = ok("fuzzFrames", seed);
      expect(r["link.corrupted"]).toBeGreaterThan(0);
    });
  }
});
