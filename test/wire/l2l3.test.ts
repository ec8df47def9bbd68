// Ethernet, ARP, IPv4, IPv6 views and reprs against known bytes, both ways.
import { beforeAll, describe, expect, test } from "vitest";
import { F, IP_A, IP_B, IP6_A, IP6_B, MAC_A, MAC_B } from "./frames.ts";
import { Harness, hex, loadHarness, refChecksum, toHex } from "./harness/load.ts";

let h: Harness;
beforeAll(async () => {
  h = await loadHarness();
}, 120_000);

/** Runs `fn(ptr, len)` on `bytes` placed at the end of memory. */
function at(bytes: Uint8Array, fn: (p: number, l: number) => number): number {
  return fn(h.atEnd(bytes), bytes.length);
}
const ipv4 = (b: Uint8Array, mode = 0, verify = 1) => at(b, (p, l) => h.ex.ipv4Parse(p, l, mode, verify));
const ipv6 = (b: Uint8Array) => at(b, (p, l) => h.ex.ipv6Parse(p, l, 0));

describe("ethernet", () => {
  test("parse and emit the captured header", () => {
    expect(at(F.ping4, h.ex.ethParse)).toBe(1);
    expect(h.out(5)).toEqual([MAC_B, MAC_A, 0x0800, 14, F.ping4.length - 14]);
    h.setIn([MAC_B, MAC_A, 0x0800]);
    const p = h.blankAtEnd(14);
    expect(h.ex.ethEmit(p, 14)).toBe(1);
    expect(toHex(h.read(p, 14))).toBe(toHex(F.ping4.subarray(0, 14)));
  });
  test("shorter than 14 bytes fails, exactly 14 has an empty payload", () => {
    expect(at(F.ping4.subarray(0, 13), h.ex.ethParse)).toBe(0);
    expect(at(F.ping4.subarray(0, 14), h.ex.ethParse)).toBe(1);
    expect(h.out(5)[4]).toBe(0);
    expect(h.ex.ethEmit(h.blankAtEnd(13), 13)).toBe(0);
  });
});

describe("arp", () => {
  test("parse the kernel's request and reply", () => {
    expect(at(F.arpRequest.subarray(14), h.ex.arpParse)).toBe(1);
    expect(h.out(5)).toEqual([1, MAC_A, IP_A, 0, IP_B]);
    expect(at(F.arpReply.subarray(14), h.ex.arpParse)).toBe(1);
    expect(h.out(5)).toEqual([2, MAC_B, IP_B, MAC_A, IP_A]);
  });
  test("emit reproduces the kernel's reply", () => {
    h.setIn([2, MAC_B, IP_B, MAC_A, IP_A]);
    const p = h.blankAtEnd(28);
    expect(h.ex.arpEmit(p, 28)).toBe(1);
    expect(toHex(h.read(p, 28))).toBe(toHex(F.arpReply.subarray(14)));
  });
  test("refuses other hardware/protocol types and short packets", () => {
    const a = Uint8Array.from(F.arpReply.subarray(14));
    expect(at(a.subarray(0, 27), h.ex.arpParse)).toBe(0);
    for (const [i, v] of [[1, 6], [2, 0x86], [4, 8], [5, 16]]) {
      const b = Uint8Array.from(a);
      b[i] = v;
      expect(at(b, h.ex.arpParse), `byte ${i}`).toBe(0);
    }
  });
});

describe("ipv4", () => {
  test("parse the captured echo request", () => {
    expect(ipv4(F.ping4.subarray(14))).toBe(1);
    // src, dst, proto, ttl, payloadLen, ident, DF, MF, fragOffset, dscp, ecn, optionsLen,
    // headerLen, payload offset, checksum, checksum ok, isFragment, totalLen
    expect(h.out(18)).toEqual([IP_A, IP_B, 1, 64, 64, 0x20f1, 1, 0, 0, 0, 0, 0, 20, 20, 0x04f0, 1, 0, 84]);
  });
  test("emit reproduces the captured header, checksum included", () => {
    h.setIn([IP_A, IP_B, 1, 64, 64, 0x20f1, 1, 0, 0, 0, 0]);
    const p = h.blankAtEnd(84);
    expect(h.ex.ipv4Emit(p, 84)).toBe(84);
    expect(toHex(h.read(p, 20))).toBe(toHex(F.ping4.subarray(14, 34)));
    // the kernel's reply: no DF, ident 0xa5e7
    h.setIn([IP_B, IP_A, 1, 64, 64, 0xa5e7, 0, 0, 0, 0, 0]);
    expect(h.ex.ipv4Emit(p, 84)).toBe(84);
    expect(toHex(h.read(p, 20))).toBe(toHex(F.pong4.subarray(14, 34)));
    // DSCP/ECN and a fragment offset land in the right bits (checked against the reference checksum)
    h.setIn([IP_A, IP_B, 17, 1, 64, 7, 0, 1, 1480, 46, 2, 0]);
    expect(h.ex.ipv4Emit(p, 84)).toBe(84);
    const b = h.read(p, 20);
    expect(toHex(b.subarray(0, 10))).toBe("45ba0054000720b90111");
    expect(refChecksum(b)).toBe(0);
    expect(h.ex.ipv4Emit(p, 83)).toBe(-1); // header + payload do not fit
    expect(h.ex.ipv4Emit(p, 19)).toBe(0);
  });
  test("record-route options (IHL 15)", () => {
    expect(ipv4(F.ping4RecordRoute.subarray(14))).toBe(1);
    const o = h.out(18);
    expect(o[11]).toBe(40); // options
    expect(o[12]).toBe(60); // header
    expect(o[13]).toBe(60); // payload offset
    expect(o[4]).toBe(64); // payload
    expect(o[15]).toBe(1); // checksum over 60 bytes
  });
  test("fragments: first (MF) and last (offset 1480)", () => {
    // the first fragment of `ping -s 1600` is 1514 bytes: rebuild its header only
    const first = hex("450005dc20f5200040011f640a6300010a630002");
    const buf = new Uint8Array(1500);
    buf.set(first);
    expect(ipv4(buf)).toBe(1);
    let o = h.out(18);
    expect([o[6], o[7], o[8], o[16], o[15]]).toEqual([0, 1, 0, 1, 1]);
    expect(ipv4(F.ping4Frag2.subarray(14))).toBe(1);
    o = h.out(18);
    expect([o[6], o[7], o[8], o[16], o[4], o[15]]).toEqual([0, 0, 1480, 1, 128, 1]);
  });
  test("Ethernet padding is not payload", () => {
    const b = new Uint8Array(46 + 10); // 33-byte packet in a padded buffer
    b.set(F.udp4.subarray(14));
    expect(ipv4(b)).toBe(1);
    expect(h.out(5)[4]).toBe(13);
  });
  test("bad version, IHL, lengths and checksum", () => {
    const good = F.ping4.subarray(14);
    const mod = (i: number, v: number) => {
      const b = Uint8Array.from(good);
      b[i] = v;
      return b;
    };
    expect(ipv4(good.subarray(0, 19))).toBe(0);
    expect(ipv4(mod(0, 0x65))).toBe(0); // version 6
    expect(ipv4(mod(0, 0x44))).toBe(0); // IHL 4
    const short = Uint8Array.from(F.udp4.subarray(14)); // total length 33
    short[0] = 0x4f; // IHL 15: a 60-byte header in a 33-byte packet
    expect(ipv4(short, 0, 0)).toBe(0);
    short[0] = 0x49; // IHL 9: 36 bytes > total length 33
    expect(ipv4(short, 0, 0)).toBe(0);
    expect(ipv4(mod(3, 0x55))).toBe(0); // total length 85 > 84 bytes
    expect(ipv4(mod(3, 0x13))).toBe(0); // total length 19 < header
    expect(ipv4(good.subarray(0, 83))).toBe(0); // truncated
    expect(ipv4(mod(11, 0xf1))).toBe(-1); // checksum wrong: repr refuses...
    expect(ipv4(mod(11, 0xf1), 0, 0)).toBe(1); // ...unless asked not to verify
    expect(h.out(16)[15]).toBe(0);
  });
  test("wrapQuoted reads the truncated datagram inside an ICMP error", () => {
    const quoted = F.fragNeeded.subarray(14 + 20 + 8); // total length 1500, 28 bytes present
    expect(ipv4(quoted)).toBe(0); // a normal wrap refuses it
    expect(ipv4(quoted, 1, 1)).toBe(1);
    const o = h.out(18);
    expect([o[0], o[1], o[2], o[17], o[4], o[13]]).toEqual([IP_A, IP_B, 6, 1500, 8, 20]);
  });
});

describe("ipv6", () => {
  test("parse the captured UDP packet", () => {
    expect(ipv6(F.udp6.subarray(14))).toBe(1);
    // upper proto, hop limit, payloadLen, upper offset, tc, flow, hasFrag, fragOff, MF, fragId,
    // extLen, raw nh, raw payload length, payload offset, isFragment, frag header offset
    expect(h.out(16)).toEqual([17, 64, 14, 40, 0, 0x52cef, 0, 0, 0, 0, 0, 17, 14, 40, 0, 0]);
    expect(toHex(h.outb(32))).toBe(toHex(IP6_A) + toHex(IP6_B));
  });
  test("emit reproduces the captured fixed header", () => {
    h.setInb(IP6_A, 0);
    h.setInb(IP6_B, 16);
    h.setIn([17, 64, 14, 0, 0, 0x52cef]);
    const p = h.blankAtEnd(54);
    expect(h.ex.ipv6Emit(p, 54)).toBe(54);
    expect(toHex(h.read(p, 40))).toBe(toHex(F.udp6.subarray(14, 54)));
    h.setInb(hex("fd000099000000000000000000000001"), 0);
    h.setInb(hex("fd000099000000000000000000000002"), 16);
    h.setIn([58, 64, 64, 0, 0, 0xb04c1]);
    expect(h.ex.ipv6Emit(p, 54)).toBe(-1); // payload does not fit
    const q = h.blankAtEnd(104);
    expect(h.ex.ipv6Emit(q, 104)).toBe(104);
    expect(toHex(h.read(q, 40))).toBe(toHex(F.ping6.subarray(14, 54)));
    // traffic class and flow label bits
    h.setIn([6, 1, 0, 0, 0xab, 0xfffff]);
    expect(h.ex.ipv6Emit(q, 104)).toBe(40);
    expect(toHex(h.read(q, 8))).toBe("6abfffff00000601");
  });
  test("hop-by-hop header of the kernel's MLDv2 report", () => {
    expect(ipv6(F.mld.subarray(14))).toBe(1);
    const o = h.out(16);
    expect([o[0], o[2], o[3], o[10], o[11], o[12], o[13]]).toEqual([58, 48, 48, 8, 0, 56, 48]);
  });
  test("fragments: first (M set) and last (offset 1448, walk stops after the fragment header)", () => {
    const first = new Uint8Array(40 + 1456);
    first.set(hex("600b04c105b02c40fd000099000000000000000000000001fd000099000000000000000000000002" + "3a000001c1d57e22"));
    expect(ipv6(first)).toBe(1);
    let o = h.out(16);
    expect([o[0], o[3], o[6], o[7], o[8], o[9], o[14], o[15]]).toEqual([58, 48, 1, 0, 1, 0xc1d57e22, 1, 40]);
    expect(ipv6(F.ping6Frag2.subarray(14))).toBe(1);
    o = h.out(16);
    expect([o[0], o[2], o[3], o[6], o[7], o[8], o[9], o[14]]).toEqual([58, 160, 48, 1, 1448, 0, 0xc1d57e22, 1]);
  });
  test("extension-header chain HBH/DST/RH/FRAG(atomic)/AH -> UDP", () => {
    expect(ipv6(F.v6chain.subarray(14))).toBe(1);
    const o = h.out(16);
    // upper UDP at 112, 13 bytes, tc 0x2e, flow 0xbeef, atomic fragment (not a real fragment)
    expect(o).toEqual([17, 33, 13, 112, 0x2e, 0xbeef, 1, 0, 0, 0x1234abcd, 72, 0, 85, 112, 0, 80]);
    // the UDP checksum verifies with the addresses of the fixed header
    const udp = F.v6chain.subarray(14 + 112);
    const sp = h.inbAddr(IP6_A, 0);
    const dp = h.inbAddr(IP6_B, 16);
    expect(h.ex.udpVerify6(h.atEnd(udp), udp.length, sp, dp)).toBe(1);
  });
  test("wrapQuoted reads the truncated packet inside an ICMPv6 error", () => {
    const cut = F.udp6.subarray(14, 14 + 44); // payload length 14, 4 bytes present
    expect(ipv6(cut)).toBe(0);
    expect(at(cut, (p, l) => h.ex.ipv6Parse(p, l, 1))).toBe(1);
    const o = h.out(16);
    expect([o[0], o[2], o[3], o[12]]).toEqual([17, 4, 40, 14]);
    // extension headers are walked as far as they are present
    const chain = F.v6chain.subarray(14, 14 + 116);
    expect(at(chain, (p, l) => h.ex.ipv6Parse(p, l, 1))).toBe(1);
    expect(h.out(4)).toEqual([17, 33, 4, 112]);
    expect(at(F.v6chain.subarray(14, 14 + 60), (p, l) => h.ex.ipv6Parse(p, l, 1))).toBe(0); // routing header cut
  });
  test("malformed extension headers and lengths", () => {
    const base = hex("6000000000003b40" + "00".repeat(32)); // next header: none
    const pkt = (nh: number, ext: string) => {
      const e = hex(ext);
      const b = new Uint8Array(40 + e.length);
      b.set(base);
      b[4] = e.length >> 8;
      b[5] = e.length & 0xff;
      b[6] = nh;
      b.set(e, 40);
      return b;
    };
    const destOpt = (nh: number) => nh.toString(16).padStart(2, "0") + "00" + "010400000000";
    expect(ipv6(pkt(60, destOpt(59)))).toBe(1);
    expect(h.out(4)[0]).toBe(59);
    expect(ipv6(pkt(60, destOpt(0) + "3b00010400000000"))).toBe(0); // hop-by-hop not first
    expect(ipv6(pkt(60, "3b01010400000000"))).toBe(0); // 16-byte header in 8 bytes
    expect(ipv6(pkt(60, "3b000104000000"))).toBe(0); // header cut short
    expect(ipv6(pkt(44, "2c00000000000001" + "3b00000000000002"))).toBe(0); // two fragment headers
    expect(ipv6(pkt(51, "3b01000000000100"))).toBe(0); // AH claims 12 bytes, 8 present
    expect(ipv6(pkt(51, "3b000000000001000000000700000000".slice(0, 24)))).toBe(1); // AH len 0 = 8 bytes
    expect(h.out(4)[3]).toBe(48);
    // exactly IPV6_MAX_EXT_HEADERS (8) destination options headers pass, 9 fail
    expect(ipv6(pkt(60, destOpt(60).repeat(7) + destOpt(17)))).toBe(1);
    expect(h.out(4)[3]).toBe(40 + 64);
    expect(ipv6(pkt(60, destOpt(60).repeat(8) + destOpt(17)))).toBe(0);
    // ESP and unknown protocols end the walk
    expect(ipv6(pkt(50, "0000000100000001"))).toBe(1);
    expect(h.out(4)[0]).toBe(50);
    // fixed header problems
    const good = F.udp6.subarray(14);
    expect(ipv6(good.subarray(0, 39))).toBe(0);
    expect(ipv6(good.subarray(0, good.length - 1))).toBe(0); // payload length > buffer
    const v4 = Uint8Array.from(good);
    v4[0] = 0x40;
    expect(ipv6(v4)).toBe(0);
    // bytes after payload length (padding) are not payload
    const padded = new Uint8Array(good.length + 6);
    padded.set(good);
    expect(ipv6(padded)).toBe(1);
    expect(h.out(4)[2]).toBe(14);
  });
});
