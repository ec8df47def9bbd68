// checksum.ts and ip.ts against known values, the kernel's checksums in captured frames,
// and an independent JS reference.
import { beforeAll, describe, expect, test } from "vitest";
import { F, IP_A, IP_B, IP6_A, IP6_B } from "./frames.ts";
import { Harness, hex, loadHarness, prng, pseudo4, refChecksum } from "./harness/load.ts";

let h: Harness;
beforeAll(async () => {
  h = await loadHarness();
}, 120_000);

describe("checksum", () => {
  test("RFC 1071 section 3 example: sum ddf2, checksum 220d", () => {
    const b = hex("0001f203f4f5f6f7");
    expect(h.ex.csum(h.atEnd(b), b.length)).toBe(0x220d);
  });

  test("matches the reference for every length 0..300 and every even split", () => {
    const rnd = prng(1071);
    for (let len = 0; len <= 300; len++) {
      const b = Uint8Array.from({ length: len }, () => (rnd() * 256) | 0);
      const p = h.atEnd(b);
      const want = refChecksum(b);
      expect(h.ex.csum(p, len), `len ${len}`).toBe(want);
      for (let split = 0; split <= len; split += 2 + (len > 64 ? 14 : 0)) {
        expect(h.ex.csumSplit(p, len, split), `len ${len} split ${split}`).toBe(want);
      }
    }
  });

  test("all-0xff and all-zero data (fold corner cases)", () => {
    for (const len of [2, 64, 1500, 65535]) {
      const ones = new Uint8Array(len).fill(0xff);
      expect(h.ex.csum(h.atEnd(ones), len)).toBe(refChecksum(ones));
      const zeros = new Uint8Array(len);
      expect(h.ex.csum(h.atEnd(zeros), len)).toBe(0xffff);
    }
  });

  test("IPv4 header checksum equals the kernel's (captured, with and without options)", () => {
    const hdr = F.ping4.subarray(14, 34); // checksum 0x04f0
    expect(h.ex.csumIpv4Header(h.atEnd(hdr), 20)).toBe(0x04f0);
    const rr = F.ping4RecordRoute.subarray(14, 74); // IHL 15, checksum 0xc853
    expect(h.ex.csumIpv4Header(h.atEnd(rr), 60)).toBe(0xc853);
  });

  test("pseudo-header sums verify the kernel's UDP checksums (v4 and v6)", () => {
    const u4 = F.udp4.subarray(34);
    expect(h.ex.csumPseudo4(IP_A, IP_B, 17, u4.length, h.atEnd(u4), u4.length)).toBe(0);
    const u6 = F.udp6.subarray(54);
    const sp = h.inbAddr(IP6_A, 0);
    const dp = h.inbAddr(IP6_B, 16);
    expect(h.ex.csumPseudo6(sp, dp, 17, u6.length, h.atEnd(u6), u6.length)).toBe(0);
    // and a wrong address breaks it
    expect(h.ex.csumPseudo4(IP_A, IP_B + 1, 17, u4.length, h.atEnd(u4), u4.length)).not.toBe(0);
    // the pseudo-header bytes summed by the JS reference give the same value
    const ref = refChecksum(pseudo4(hex("0a630001"), hex("0a630002"), 17, 13), u4);
    expect(ref).toBe(0);
  });

  test("RFC 1624 updates agree with a full recomputation", () => {
    const rnd = prng(1624);
    const hdr = Uint8Array.from(F.ping4.subarray(14, 34));
    for (let i = 0; i < 2000; i++) {
      const b = Uint8Array.from(hdr);
      b[10] = b[11] = 0;
      const old = refChecksum(b);
      // change the TTL/protocol word
      const oldWord = (b[8] << 8) | b[9];
      const newWord = (rnd() * 65536) | 0;
      b[8] = newWord >> 8;
      b[9] = newWord & 0xff;
      const full = refChecksum(b);
      const inc = h.ex.csumUpdate16(old, oldWord, newWord);
      // 0x0000 and 0xffff are the same ones'-complement number
      expect(inc === full || (inc ^ full) === 0xffff, `word ${newWord}`).toBe(true);
      // change the source address
      const oldAddr = ((b[12] << 24) | (b[13] << 16) | (b[14] << 8) | b[15]) >>> 0;
      const newAddr = (rnd() * 2 ** 32) >>> 0;
      b[12] = newAddr >>> 24;
      b[13] = (newAddr >>> 16) & 0xff;
      b[14] = (newAddr >>> 8) & 0xff;
      b[15] = newAddr & 0xff;
      const full2 = refChecksum(b);
      const inc2 = h.ex.csumUpdate32(full, oldAddr, newAddr);
      expect(inc2 === full2 || (inc2 ^ full2) === 0xffff, `addr ${newAddr}`).toBe(true);
    }
  });
});

describe("ip.ts helpers", () => {
  test("format and parse IPv4 / MAC", () => {
    expect(h.ascii(h.ex.fmtIpv4(0x0a630001))).toBe("10.99.0.1");
    expect(h.ascii(h.ex.fmtIpv4(0xffffffff))).toBe("255.255.255.255");
    expect(h.ascii(h.ex.fmtMac(BigInt(0x02000000000a)))).toBe("02:00:00:00:00:0a");
    const parse = (s: string) => {
      const b = new TextEncoder().encode(s);
      return Number(h.ex.parseIpv4Ascii(h.atEnd(b), b.length));
    };
    expect(parse("10.99.0.1")).toBe(0x0a630001);
    expect(parse("0.0.0.0")).toBe(0);
    expect(parse("255.255.255.255")).toBe(0xffffffff);
    for (const bad of ["", "1.2.3", "1.2.3.4.5", "256.1.1.1", "1..2.3", "01.2.3.4", "1.2.3.4 ", "a.b.c.d", "1.2.3."]) {
      expect(parse(bad), bad).toBe(-1);
    }
  });

  test("IPv6 text form follows RFC 5952 and parses back", () => {
    const cases: [string, string][] = [
      ["fd000099000000000000000000000001", "fd00:99::1"],
      ["00000000000000000000000000000000", "::"],
      ["00000000000000000000000000000001", "::1"],
      ["fe80000000000000000000fffe00000a", "fe80::ff:fe00:a"],
      ["20010db8000000000001000000000001", "2001:db8::1:0:0:1"], // first of two equal runs
      ["20010db8000100010001000100010001", "2001:db8:1:1:1:1:1:1"],
      ["20010db8000000010001000100010001", "2001:db8:0:1:1:1:1:1"], // a single 0 is not "::"
      ["ff020000000000000000000000000016", "ff02::16"],
    ];
    for (const [bytes, text] of cases) {
      expect(h.ascii(h.ex.fmtIpv6(h.atEnd(hex(bytes)))), bytes).toBe(text);
      const t = new TextEncoder().encode(text);
      expect(h.ex.parseIpv6Ascii(h.atEnd(t), t.length), text).toBe(1);
      expect(Buffer.from(h.outb(16)).toString("hex")).toBe(bytes);
    }
    const full = new TextEncoder().encode("FD00:0099:0:0:0:0:0:1");
    expect(h.ex.parseIpv6Ascii(h.atEnd(full), full.length)).toBe(1);
    expect(Buffer.from(h.outb(16)).toString("hex")).toBe("fd000099000000000000000000000001");
    for (const bad of ["", ":", "1:2", ":::", "1::2::3", "12345::", "1:2:3:4:5:6:7:8:9", "1::2:3:4:5:6:7:8", "g::", "1:", "::1:"]) {
      const b = new TextEncoder().encode(bad);
      expect(h.ex.parseIpv6Ascii(h.atEnd(b), b.length), bad).toBe(0);
    }
  });

  test("IPv6 classification and solicited-node address", () => {
    const cls = (s: string) => h.ex.ipv6Class(h.atEnd(hex(s)));
    expect(cls("00000000000000000000000000000000")).toBe(1);
    expect(cls("00000000000000000000000000000001")).toBe(2);
    expect(cls("ff020000000000000000000000000016")).toBe(4);
    expect(cls("fe80000000000000000000fffe00000a")).toBe(8);
    expect(cls("febf0000000000000000000000000001")).toBe(8);
    expect(cls("fec00000000000000000000000000001")).toBe(0);
    expect(cls("00000000000000000000ffff0a630001")).toBe(16);
    expect(cls("fd000099000000000000000000000001")).toBe(0);
    // the kernel's NS for fd00:99::2 went to ff02::1:ff00:2 (frame #36)
    h.ex.solicitedNode(h.atEnd(IP6_B));
    expect(Buffer.from(h.outb(16)).toString("hex")).toBe(Buffer.from(F.ns.subarray(38, 54)).toString("hex"));
  });
});

describe("remaining accessors", () => {
  test("every accessor not covered elsewhere reads and writes the right bytes", () => {
    const r = h.ex.touchAll(h.blankAtEnd(64), 64) >>> 0;
    const count = Math.log2(r >>> 16);
    expect(count).toBeGreaterThanOrEqual(13);
    expect((r & 0xffff).toString(2)).toBe("1".repeat(count));
  });
});

