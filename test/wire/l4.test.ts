// ICMPv4, ICMPv6 (with NDP), UDP and TCP views and reprs against known bytes, both ways.
import { beforeAll, describe, expect, test } from "vitest";
import { F, IP_A, IP_B, IP6_A, IP6_B, MAC_A, MAC_B } from "./frames.ts";
import { Harness, hex, loadHarness, pseudo4, refChecksum, toHex } from "./harness/load.ts";

let h: Harness;
beforeAll(async () => {
  h = await loadHarness();
}, 120_000);

function at(bytes: Uint8Array, fn: (p: number, l: number) => number): number {
  return fn(h.atEnd(bytes), bytes.length);
}
/** Pseudo-header addresses of an IPv6 frame, copied into INB. */
function addrs6(frame: Uint8Array): [number, number] {
  return [h.inbAddr(frame.subarray(22, 38), 0), h.inbAddr(frame.subarray(38, 54), 16)];
}

describe("icmpv4", () => {
  const icmp4 = (b: Uint8Array, verify = 1) => at(b, (p, l) => h.ex.icmpv4Parse(p, l, verify));
  test("parse the captured echo request", () => {
    expect(icmp4(F.ping4.subarray(34))).toBe(1);
    expect(h.out(11)).toEqual([8, 0, 0x1d1c0001, 0x1d1c, 1, 8, 56, 0x3c77, 1, 0, 1]);
  });
  test("emit reproduces the kernel's echo reply (payload copied, and in place)", () => {
    const payload = F.ping4.subarray(42);
    const src = h.inbAddr(payload, 64);
    h.setIn([0, 0, 0x1d1c0001, src, 56]);
    const p = h.blankAtEnd(64);
    expect(h.ex.icmpv4Emit(p, 64)).toBe(64);
    expect(toHex(h.read(p, 64))).toBe(toHex(F.pong4.subarray(34)));
    const q = h.atEnd(Uint8Array.from([...new Uint8Array(8), ...payload]));
    h.setIn([0, 0, 0x1d1c0001, 0, 56]);
    expect(h.ex.icmpv4Emit(q, 64)).toBe(64);
    expect(toHex(h.read(q, 64))).toBe(toHex(F.pong4.subarray(34)));
    h.setIn([0, 0, 0, 0, 57]);
    expect(h.ex.icmpv4Emit(q, 64)).toBe(-1);
  });
  test("errors: port unreachable and fragmentation needed (MTU)", () => {
    expect(icmp4(F.portUnreach4.subarray(34))).toBe(1);
    expect(h.out(11)).toEqual([3, 3, 0, 0, 0, 8, 33, 0x11e4, 1, 1, 0]);
    expect(icmp4(F.fragNeeded.subarray(34))).toBe(1);
    expect(h.out(11)).toEqual([3, 4, 1400, 0, 1400, 8, 28, 0x570b, 1, 1, 1400]);
  });
  test("short message and bad checksum", () => {
    expect(icmp4(F.ping4.subarray(34, 41))).toBe(0);
    const b = Uint8Array.from(F.ping4.subarray(34));
    b[20] ^= 1;
    expect(icmp4(b)).toBe(-1);
    expect(icmp4(b, 0)).toBe(1);
    expect(h.out(9)[8]).toBe(0);
  });
});

describe("icmpv6", () => {
  const icmp6 = (frame: Uint8Array, off = 54, len = frame.length - off) => {
    const [sp, dp] = addrs6(frame);
    return at(frame.subarray(off, off + len), (p, l) => h.ex.icmpv6Parse(p, l, sp, dp));
  };
  test("neighbor solicitation, advertisement, router solicitation (kernel)", () => {
    expect(icmp6(F.ns)).toBe(1);
    expect(h.out(16)).toEqual([135, 0, 0, 0, 0, 8, 24, 0x7c5c, 1, 0, 8, 1, MAC_A, -1, 8, 0]);
    expect(icmp6(F.na)).toBe(1);
    expect(h.out(16)).toEqual([136, 0, 0x60000000, 0x6000, 0, 8, 24, 0x1ac6, 1, 0, 8, 1, -1, MAC_B, 8, 0x60000000]);
    expect(icmp6(F.rs)).toBe(1);
    expect(h.out(16)).toEqual([133, 0, 0, 0, 0, 8, 8, 0x7b1a, 1, 0, -1, 1, MAC_A, -1, 8, 0]);
  });
  test("echo request and the MLDv2 report behind a hop-by-hop header", () => {
    expect(icmp6(F.ping6)).toBe(1);
    expect(h.out(12)).toEqual([128, 0, 0x1d280001, 0x1d28, 1, 8, 56, 0x069a, 1, 0, -1, 0]);
    expect(icmp6(F.mld, 62)).toBe(1);
    expect(h.out(9)).toEqual([143, 0, 2, 0, 2, 8, 40, 0x6fda, 1]);
  });
  test("emit reproduces the kernel's neighbor advertisement", () => {
    const body = F.na.subarray(62); // target + target link-layer option
    const src = h.inbAddr(body, 64);
    const [sp, dp] = addrs6(F.na);
    h.setIn([136, 0, 0x60000000, src, 24]);
    const p = h.blankAtEnd(32);
    expect(h.ex.icmpv6Emit(p, 32, sp, dp)).toBe(32);
    expect(toHex(h.read(p, 32))).toBe(toHex(F.na.subarray(54)));
  });
  test("malformed NDP options and short NDP messages", () => {
    const ns = Uint8Array.from(F.ns);
    ns[54 + 25] = 0; // option length 0
    expect(icmp6(ns)).toBe(1);
    let o = h.out(16);
    expect([o[8], o[11], o[12]]).toEqual([0, 0, -1]);
    ns[54 + 25] = 2; // 16-byte option, 8 bytes present
    expect(icmp6(ns)).toBe(1);
    o = h.out(16);
    expect([o[11], o[12]]).toEqual([0, -1]);
    const cut = F.ns.subarray(0, 54 + 24); // NS without options: valid, no address
    expect(icmp6(cut)).toBe(1);
    o = h.out(16);
    expect([o[11], o[12], o[14]]).toEqual([1, -1, 0]);
    expect(icmp6(F.ns, 54, 23)).toBe(0); // NS shorter than its fixed body
    expect(icmp6(F.ping6, 54, 7)).toBe(0);
  });
});

describe("udp", () => {
  const udp = (b: Uint8Array) => at(b, h.ex.udpParse);
  test("parse and verify the captured datagrams (v4 and v6)", () => {
    expect(udp(F.udp4.subarray(34))).toBe(1);
    expect(h.out(6)).toEqual([47681, 7777, 8, 5, 13, 0xce96]);
    expect(at(F.udp4.subarray(34), (p, l) => h.ex.udpVerify4(p, l, IP_A, IP_B))).toBe(1);
    expect(at(F.udp4.subarray(34), (p, l) => h.ex.udpVerify4(p, l, IP_B, IP_B))).toBe(0);
    expect(udp(F.udp6.subarray(54))).toBe(1);
    expect(h.out(6)).toEqual([36969, 7777, 8, 6, 14, 0x11c9]);
    const [sp, dp] = addrs6(F.udp6);
    expect(at(F.udp6.subarray(54), (p, l) => h.ex.udpVerify6(p, l, sp, dp))).toBe(1);
  });
  test("emit reproduces the captured datagrams, checksums included", () => {
    const pay4 = h.inbAddr(new TextEncoder().encode("hello"), 64);
    h.setIn([47681, 7777, pay4, 5]);
    const p = h.blankAtEnd(13);
    expect(h.ex.udpEmit(p, 13, 0, IP_A, IP_B, 0, 0)).toBe(13);
    expect(toHex(h.read(p, 13))).toBe(toHex(F.udp4.subarray(34)));
    const pay6 = h.inbAddr(new TextEncoder().encode("hello6"), 64);
    const [sp, dp] = addrs6(F.udp6);
    h.setIn([36969, 7777, pay6, 6]);
    const q = h.blankAtEnd(14);
    expect(h.ex.udpEmit(q, 14, 1, 0, 0, sp, dp)).toBe(14);
    expect(toHex(h.read(q, 14))).toBe(toHex(F.udp6.subarray(54)));
    expect(h.ex.udpEmit(q, 13, 1, 0, 0, sp, dp)).toBe(-1);
  });
  test("a computed checksum of 0 is sent as 0xffff", () => {
    const payload = new TextEncoder().encode("\0\0abc");
    const src = h.inbAddr(payload, 64);
    h.setIn([1000, 2000, src, payload.length]);
    const p = h.blankAtEnd(8 + payload.length);
    expect(h.ex.udpEmit(p, 8 + payload.length, 0, IP_A, IP_B, 0, 0)).toBe(13);
    const c = (h.u8()[p + 6] << 8) | h.u8()[p + 7];
    // adding the checksum itself as a payload word makes the sum 0xffff, the checksum 0
    payload[0] = c >> 8;
    payload[1] = c & 0xff;
    h.setInb(payload, 64);
    expect(h.ex.udpEmit(p, 13, 0, IP_A, IP_B, 0, 0)).toBe(13);
    const b = h.read(p, 13);
    expect(refChecksum(pseudo4(hex("0a630001"), hex("0a630002"), 17, 13), Uint8Array.from([...b.subarray(0, 6), 0, 0, ...b.subarray(8)]))).toBe(0);
    expect(toHex(b.subarray(6, 8))).toBe("ffff");
    expect(h.ex.udpVerify4(p, 13, IP_A, IP_B)).toBe(1);
  });
  test("lengths and zero checksums", () => {
    const good = F.udp4.subarray(34);
    expect(udp(good.subarray(0, 7))).toBe(0);
    const b = Uint8Array.from(good);
    b[5] = 7; // length < 8
    expect(udp(b)).toBe(0);
    b[5] = 14; // length > buffer
    expect(udp(b)).toBe(0);
    const padded = new Uint8Array(20);
    padded.set(good);
    expect(udp(padded)).toBe(1);
    expect(h.out(4)[3]).toBe(5);
    const zero = Uint8Array.from(good);
    zero[6] = zero[7] = 0;
    expect(at(zero, (p, l) => h.ex.udpVerify4(p, l, IP_A, IP_B))).toBe(1); // v4: no checksum
    const zero6 = Uint8Array.from(F.udp6.subarray(54));
    zero6[6] = zero6[7] = 0;
    const [sp, dp] = addrs6(F.udp6);
    expect(at(zero6, (p, l) => h.ex.udpVerify6(p, l, sp, dp))).toBe(0); // v6: mandatory
    const bad = Uint8Array.from(good);
    bad[12] ^= 0x20;
    expect(at(bad, (p, l) => h.ex.udpVerify4(p, l, IP_A, IP_B))).toBe(0);
  });
});

// ---------------------------------------------------------------------------- TCP

/** TcpRepr as tcpParse reports it (and tcpEmit reads it). */
interface Tcp {
  sport: number; dport: number; seq: number; ack: number; flags: number; window: number; urgent: number;
  mss: number; wscale: number; sackOk: number; sack: number[]; ts: [number, number] | null;
  payloadOff: number; payloadLen: number; hl: number; checksum: number;
}
function tcpOut(): Tcp {
  const o = h.out(26);
  const sack: number[] = [];
  for (let i = 0; i < o[10]; i++) sack.push(o[11 + 2 * i], o[12 + 2 * i]);
  return {
    sport: o[0], dport: o[1], seq: o[2], ack: o[3], flags: o[4], window: o[5], urgent: o[6], mss: o[7],
    wscale: o[8], sackOk: o[9], sack, ts: o[19] ? [o[20], o[21]] : null, payloadOff: o[22], payloadLen: o[23],
    hl: o[24], checksum: o[25],
  };
}
function tcpIn(t: Partial<Tcp>, payloadSrc = 0): void {
  const v = new Array(24).fill(0);
  const s = t.sack ?? [];
  [v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7]] = [t.sport ?? 0, t.dport ?? 0, t.seq ?? 0, t.ack ?? 0, t.flags ?? 0, t.window ?? 0, t.urgent ?? 0, t.mss ?? 0];
  v[8] = t.wscale ?? -1;
  v[9] = t.sackOk ?? 0;
  v[10] = s.length / 2;
  for (let i = 0; i < s.length; i++) v[11 + i] = s[i];
  v[19] = t.ts ? 1 : 0;
  [v[20], v[21]] = t.ts ?? [0, 0];
  v[22] = payloadSrc;
  v[23] = t.payloadLen ?? 0;
  h.setIn(v);
}
const tcp = (b: Uint8Array) => at(b, h.ex.tcpParse);

describe("tcp", () => {
  const syn4: Tcp = {
    sport: 60796, dport: 8080, seq: 0x26a0bdf3, ack: 0, flags: 2, window: 64240, urgent: 0, mss: 1460, wscale: 10,
    sackOk: 1, sack: [], ts: [0x5908d56e, 0], payloadOff: 40, payloadLen: 0, hl: 40, checksum: 0x182c,
  };
  test("parse curl's SYN and the kernel's SYN-ACK", () => {
    expect(tcp(F.syn4.subarray(34))).toBe(1);
    expect(tcpOut()).toEqual(syn4);
    expect(at(F.syn4.subarray(34), (p, l) => h.ex.tcpVerify4(p, l, IP_A, IP_B))).toBe(1);
    expect(tcp(F.synAck4.subarray(34))).toBe(1);
    expect(tcpOut()).toEqual({
      sport: 8080, dport: 60796, seq: 0x53a7816c, ack: 0x26a0bdf4, flags: 0x12, window: 65160, urgent: 0, mss: 1460,
      wscale: 10, sackOk: 1, sack: [], ts: [0x944b0f82, 0x5908d56e], payloadOff: 40, payloadLen: 0, hl: 40, checksum: 0x9ba1,
    });
  });
  test("emit reproduces the SYN byte for byte (Linux option layout, checksum)", () => {
    tcpIn(syn4);
    const p = h.blankAtEnd(40);
    expect(h.ex.tcpEmit(p, 40, 4, IP_A, IP_B, 0, 0)).toBe(40);
    expect(toHex(h.read(p, 40))).toBe(toHex(F.syn4.subarray(34)));
    expect(h.ex.tcpEmit(p, 39, 4, IP_A, IP_B, 0, 0)).toBe(-1);
  });
  test("data segment with NOP NOP TS and payload, both ways", () => {
    const seg = F.data4.subarray(34);
    expect(tcp(seg)).toBe(1);
    const t = tcpOut();
    expect(t).toEqual({
      sport: 60796, dport: 8080, seq: 0x26a0bdf4, ack: 0x53a7816d, flags: 0x18, window: 63, urgent: 0, mss: 0,
      wscale: -1, sackOk: 0, sack: [], ts: [0x5908d570, 0x944b0f82], payloadOff: 32, payloadLen: 78, hl: 32, checksum: 0x42f8,
    });
    const src = h.inbAddr(seg.subarray(32), 100);
    tcpIn(t, src);
    const p = h.blankAtEnd(seg.length);
    expect(h.ex.tcpEmit(p, seg.length, 4, IP_A, IP_B, 0, 0)).toBe(110);
    expect(toHex(h.read(p, seg.length))).toBe(toHex(seg));
  });
  test("IPv6 SYN both ways", () => {
    const seg = F.syn6.subarray(54);
    const [sp, dp] = addrs6(F.syn6);
    expect(tcp(seg)).toBe(1);
    const t = tcpOut();
    expect([t.mss, t.wscale, t.sackOk, t.ts, t.checksum]).toEqual([1440, 10, 1, [0x86ef966b, 0], 0xb70f]);
    expect(at(seg, (p, l) => h.ex.tcpVerify6(p, l, sp, dp))).toBe(1);
    tcpIn(t);
    const p = h.blankAtEnd(40);
    expect(h.ex.tcpEmit(p, 40, 6, 0, 0, sp, dp)).toBe(40);
    expect(toHex(h.read(p, 40))).toBe(toHex(seg));
  });
  test("SACK blocks (scapy) both ways", () => {
    const seg = F.tcpSack.subarray(34);
    expect(tcp(seg)).toBe(1);
    const t = tcpOut();
    expect([t.sack, t.ts, t.hl, t.payloadLen, t.flags]).toEqual([[3000, 4000, 5000, 6000, 7000, 8000], [123456, 654321], 60, 3, 16]);
    const src = h.inbAddr(seg.subarray(60), 100);
    tcpIn(t, src);
    const p = h.blankAtEnd(seg.length);
    expect(h.ex.tcpEmit(p, seg.length, 4, IP_A, IP_B, 0, 0)).toBe(63);
    expect(toHex(h.read(p, seg.length))).toBe(toHex(seg));
  });

  /** A 20-byte header (ACK, ports 1/2) followed by `opts` (hex, padded by the caller). */
  function withOptions(opts: string, payload = ""): Uint8Array {
    const o = hex(opts);
    const b = new Uint8Array(20 + o.length + payload.length / 2);
    b.set(hex("0001000200000001000000020010ffff00000000"));
    b[12] = ((20 + o.length) / 4) << 4;
    b.set(o, 20);
    b.set(hex(payload), 20 + o.length);
    return b;
  }
  test("malformed option lists are refused, never over-read", () => {
    expect(tcp(withOptions("02000000"))).toBe(-1); // length 0
    expect(tcp(withOptions("02010000"))).toBe(-1); // length 1
    expect(tcp(withOptions("01010204"))).toBe(-1); // MSS runs past the header
    expect(tcp(withOptions("01010102"))).toBe(-1); // kind without a length byte
    expect(tcp(withOptions("080a0000000000000000000000000000".slice(0, 16)))).toBe(-1); // TS cut short
    expect(tcp(withOptions("01010102", "0404"))).toBe(-1); // the payload is not an option
  });
  test("option edge cases that parse", () => {
    expect(tcp(withOptions("00ff0204"))).toBe(1); // END: the rest is ignored
    expect(tcpOut().mss).toBe(0);
    expect(tcp(withOptions("1e06aabbccdd020405b40000"))).toBe(1); // unknown kind skipped
    expect(tcpOut().mss).toBe(1460);
    expect(tcp(withOptions("02030500"))).toBe(1); // MSS with a wrong length: ignored
    expect(tcpOut().mss).toBe(0);
    expect(tcp(withOptions("03030f00"))).toBe(1); // window scale 15 reads as 14
    expect(tcpOut().wscale).toBe(14);
    expect(tcp(withOptions("03030000"))).toBe(1);
    expect(tcpOut().wscale).toBe(0);
    expect(tcp(withOptions("0402" + "0000"))).toBe(1);
    expect(tcpOut().sackOk).toBe(1);
    expect(tcp(withOptions("0403000000000000"))).toBe(1); // SACK-permitted with length 3: ignored
    expect(tcpOut().sackOk).toBe(0);
    expect(tcp(withOptions("0101050a0000000100000002"))).toBe(1);
    expect(tcpOut().sack).toEqual([1, 2]);
    expect(tcp(withOptions("050b" + "11".repeat(9) + "00"))).toBe(1); // SACK length not 2 + 8n
    expect(tcpOut().sack).toEqual([]);
    const four = "01010522" + [1, 2, 3, 4, 5, 6, 7, 8].map((x) => x.toString(16).padStart(8, "0")).join("");
    expect(tcp(withOptions(four))).toBe(1);
    expect(tcpOut().sack).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(tcp(withOptions("0808000000010000000200000000"))).toBe(1); // TS length 8: ignored
    expect(tcpOut().ts).toBe(null);
    expect(tcp(withOptions("01".repeat(40)))).toBe(1); // 40 NOPs
    expect(tcp(withOptions("020405b4", "68656c6c6f"))).toBe(1);
    expect([tcpOut().payloadOff, tcpOut().payloadLen]).toEqual([24, 5]);
  });
  test("data offset checks", () => {
    const b = withOptions("");
    b[12] = 0x40; // 16 bytes
    expect(tcp(b)).toBe(0);
    b[12] = 0x60; // 24 bytes in a 20-byte segment
    expect(tcp(b)).toBe(0);
    expect(tcp(b.subarray(0, 19))).toBe(0);
  });
  test("emit fits SACK blocks into 40 bytes of options, round trip", () => {
    const sack = [1, 2, 3, 4, 5, 6, 7, 8];
    const cases: [Partial<Tcp>, number, number][] = [
      [{ sack }, 4, 56], // NOP NOP SACK x4
      [{ sack, ts: [9, 10] }, 3, 60], // TS + 3 blocks
      [{ sack, ts: [9, 10], mss: 1460, wscale: 7, sackOk: 1 }, 2, 60],
      [{ sack: sack.slice(0, 2), ts: [9, 10] }, 1, 44],
      [{ sackOk: 1 }, 0, 24], // NOP NOP SACK-permitted
      [{ wscale: 20 }, 0, 24], // clamped to 14 on emit
    ];
    for (const [t, blocks, hl] of cases) {
      tcpIn({ sport: 5, dport: 6, seq: 7, ack: 8, flags: 0x10, window: 100, ...t });
      const p = h.blankAtEnd(hl);
      expect(h.ex.tcpEmit(p, hl, 0, 0, 0, 0, 0), JSON.stringify(t)).toBe(hl);
      expect(h.ex.tcpSackBlocksToEmit()).toBe(blocks);
      expect(tcp(h.read(p, hl))).toBe(1);
      const back = tcpOut();
      expect(back.sack).toEqual(sack.slice(0, 2 * blocks));
      expect(back.ts).toEqual(t.ts ?? null);
      expect(back.mss).toBe(t.mss ?? 0);
      expect(back.wscale).toBe(t.wscale === undefined ? -1 : Math.min(t.wscale, 14));
      expect(back.sackOk).toBe(t.sackOk ?? 0);
      expect(back.hl).toBe(hl);
    }
    const p = h.blankAtEnd(24);
    tcpIn({ sackOk: 1 });
    h.ex.tcpEmit(p, 24, 0, 0, 0, 0, 0);
    expect(toHex(h.read(p + 20, 4))).toBe("01010402");
  });
  test("flags and sequence space", () => {
    tcpIn({ flags: 0xff, payloadLen: 5 }, h.inbAddr(hex("0102030405"), 100));
    const p = h.blankAtEnd(25);
    expect(h.ex.tcpEmit(p, 25, 0, 0, 0, 0, 0)).toBe(25);
    expect(h.ex.tcpSegmentLen()).toBe(7); // payload + SYN + FIN
    expect(tcp(h.read(p, 25))).toBe(1);
    expect(tcpOut().flags).toBe(0xff);
  });
});
