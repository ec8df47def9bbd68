// TCP state machine (RFC 9293): handshake and teardown frame by frame, simultaneous open
// and close, SYN retransmission with backoff, refusal and timeout, zero-window probing,
// delayed ACKs, buffer budget.
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

describe("tcp states", () => {
  it("handshake and teardown, IPv4", () => { ok("handshakeTeardown", false); });
  it("handshake and teardown, IPv6", () => { ok("handshakeTeardown", true); });
  it("simultaneous close: CLOSING then TIME-WAIT on both sides", () => { ok("simultaneousClose"); });
  it("TIME-WAIT ends oldest first; a retransmitted FIN is ACKed and restarts 2 MSL", () => { ok("timeWaitTimer"); });
  it("simultaneous open", () => { ok("simultaneousOpen"); });
  it("lost SYN and SYN-ACK: retransmission with RFC 6298 backoff", () => {
    const r = ok("synRetransmit");
    expect(r.synRtoMs).toBe(1000);
  });
  it("refused by RST; SYN retries exhausted ends in TIMEOUT", () => {
    const r = ok("refusedAndTimeout");
    // 1 + 2 + 4 + 8 + 16 + 32 + 60 (capped) seconds of backoff.
    expect(r.synGiveUpSeconds).toBeGreaterThan(60);
    expect(r.synGiveUpSeconds).toBeLessThan(200);
  });
  it("zero window: persist probes, then the transfer completes", () => { ok("zeroWindow"); });
  it("delayed ACKs: about one ACK per two segments", () => {
    const r = ok("delayedAcks");
    expect(r.acks / r.dataSegs).toBeGreaterThan(0.4);
    expect(r.acks / r.dataSegs).toBeLessThan(0.6);
  });
  it("buffer budget: excess handshakes get RST, freed buffers are reused", () => { ok("budgetExhaustion"); });
});
