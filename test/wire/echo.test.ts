// udpEchoInPlace: replies checked byte by byte against frames built independently in JS,
// checksums against the JS reference and against scapy (fixtures/verify_echo.py).
import { beforeAll, describe, expect, test } from "vitest";
import { F, IP6_A, IP6_B } from "./frames.ts";
import { Harness, hex, loadHarness, prng, refChecksum, scapy, toHex } from "./harness/load.ts";

let h: Harness;
beforeAll(async () => {
  h = await loadHarness();
}, 120_000);

/** Echoes a copy of `frame` (at the end of memory); returns the reply or null for a drop. */
function echo(frame: Uint8Array): Uint8Array | null {
  const p = h.atEnd(frame);
  const n = h.ex.echo(p, frame.length);
  return n === 0 ? null : h.read(p, n);
}

/** The reply an echo server must send, built field by field in JS. */
function expectedReply(req: Uint8Array): Uint8Array {
  const v6 = req[12] === 0x86;
  const ipHl = v6 ? 40 : 20;
  const udpOff = 14 + ipHl;
  const ulen = (req[udpOff + 4] << 8) | req[udpOff + 5];
  const r = Uint8Array.from(req.subarray(0, udpOff + ulen));
  r.set(req.subarray(6, 12), 0);
  r.set(req.subarray(0, 6), 6);
  if (v6) {
    r.set(req.subarray(14 + 24, 14 + 40), 14 + 8);
    r.set(req.subarray(14 + 8, 14 + 24), 14 + 24);
    r[14 + 4] = ulen >> 8;
    r[14 + 5] = ulen & 0xff;
    r[14 + 7] = 64;
  } else {
    r.set(req.subarray(14 + 16, 14 + 20), 14 + 12);
    r.set(req.subarray(14 + 12, 14 + 16), 14 + 16);
    r[14 + 2] = (20 + ulen) >> 8;
    r[14 + 3] = (20 + ulen) & 0xff;
    r[14 + 8] = 64;
    r[14 + 10] = r[14 + 11] = 0;
    const c = refChecksum(r.subarray(14, 34));
    r[14 + 10] = c >> 8;
    r[14 + 11] = c & 0xff;
  }
  r.set(req.subarray(udpOff + 2, udpOff + 4), udpOff);
  r.set(req.subarray(udpOff, udpOff + 2), udpOff + 2);
  r[udpOff + 6] = r[udpOff + 7] = 0;
  const pseudo = v6
    ? Uint8Array.from([...r.subarray(22, 54), 0, 0, ulen >> 8, ulen & 0xff, 0, 0, 0, 17])
    : Uint8Array.from([...r.subarray(26, 34), 0, 17, ulen >> 8, ulen & 0xff]);
  let c = refChecksum(pseudo, r.subarray(udpOff));
  if (c === 0) c = 0xffff;
  r[udpOff + 6] = c >> 8;
  r[udpOff + 7] = c & 0xff;
  return r;
}

/** A UDP frame with `n` payload bytes, built from a captured one. */
function udpFrame(v6: boolean, n: number, rnd: () => number): Uint8Array {
  const base = v6 ? F.udp6 : F.udp4;
  const hdr = v6 ? 62 : 42;
  const f = new Uint8Array(hdr + n);
  f.set(base.subarray(0, hdr));
  for (let i = hdr; i < f.length; i++) f[i] = (rnd() * 256) | 0;
  const ulen = 8 + n;
  f[hdr - 4] = ulen >> 8;
  f[hdr - 3] = ulen & 0xff;
  if (v6) {
    f[18] = ulen >> 8;
    f[19] = ulen & 0xff;
  } else {
    f[16] = (20 + ulen) >> 8;
    f[17] = (20 + ulen) & 0xff;
  }
  f[hdr - 2] = (rnd() * 256) | 0; // whatever checksum came in (offload may leave it unfinished)
  return f;
}

describe("udpEchoInPlace", () => {
  test("captured IPv4 datagram", () => {
    const r = echo(F.udp4)!;
    expect(r).not.toBeNull();
    expect(toHex(r)).toBe(toHex(expectedReply(F.udp4)));
    // spot-check the independent construction itself: addresses and ports swapped
    expect(toHex(r.subarray(0, 12))).toBe("02000000000a02000000000b");
    expect(toHex(r.subarray(26, 38))).toBe("0a6300020a6300011e61ba41");
    expect(refChecksum(r.subarray(14, 34))).toBe(0);
  });
  test("captured IPv6 datagram", () => {
    const r = echo(F.udp6)!;
    expect(toHex(r)).toBe(toHex(expectedReply(F.udp6)));
    expect(toHex(r.subarray(22, 54))).toBe(toHex(IP6_B) + toHex(IP6_A));
  });
  test("echoing the echo gives back the request (TTL 64, valid checksums in the capture)", () => {
    for (const f of [F.udp4, F.udp6]) {
      const once = echo(f)!;
      const twice = echo(once)!;
      expect(toHex(twice)).toBe(toHex(f));
    }
  });
  test("random payload sizes, both families, with garbage incoming checksums; scapy agrees", () => {
    const rnd = prng(42);
    const replies: string[] = [];
    for (let i = 0; i < 200; i++) {
      const v6 = i % 2 === 1;
      const n = i < 40 ? i : (rnd() * 1400) | 0;
      const f = udpFrame(v6, n, rnd);
      const r = echo(f);
      expect(r, `size ${n}`).not.toBeNull();
      expect(toHex(r!), `v6 ${v6} size ${n}`).toBe(toHex(expectedReply(f)));
      replies.push(toHex(r!));
    }
    const verdicts = JSON.parse(scapy("verify_echo.py", [], JSON.stringify(replies)));
    expect(verdicts.length).toBe(replies.length);
    for (const v of verdicts) expect(v.same).toBe(true);
    expect(verdicts[0].ip).toEqual(["10.99.0.2", "10.99.0.1"]);
    expect(verdicts[1].ip).toEqual(["fd00:99::2", "fd00:99::1"]);
    expect(verdicts[0].ports).toEqual([7777, 47681]);
  });
  test("an IPv4 request without checksum gets one; Ethernet padding and bytes past the UDP length are trimmed", () => {
    const f = Uint8Array.from(F.udp4);
    f[40] = f[41] = 0;
    const r = echo(f)!;
    expect(toHex(r.subarray(40, 42))).toBe(toHex(expectedReply(F.udp4).subarray(40, 42)));
    const padded = new Uint8Array(60);
    padded.set(F.udp4);
    const rp = echo(padded)!;
    expect(rp.length).toBe(47);
    expect(toHex(rp)).toBe(toHex(expectedReply(F.udp4)));
    // IP total length 36 while UDP says 13: the reply carries the 13-byte datagram only
    const long = new Uint8Array(50);
    long.set(F.udp4);
    long[17] = 36;
    const rl = echo(long)!;
    expect(rl.length).toBe(47);
    expect(toHex(rl)).toBe(toHex(expectedReply(F.udp4)));
  });
  test("drops what it must not answer", () => {
    const mod = (f: Uint8Array, edits: [number, number][]) => {
      const b = Uint8Array.from(f);
      for (const [i, v] of edits) b[i] = v;
      return b;
    };
    const drops: [string, Uint8Array][] = [
      ["ARP", F.arpRequest],
      ["TCP", F.syn4],
      ["ICMP", F.ping4],
      ["IPv4 options", F.ping4RecordRoute],
      ["IPv4 fragment (MF)", mod(F.udp4, [[20, 0x20]])],
      ["IPv4 fragment (offset)", mod(F.udp4, [[21, 0x01]])],
      ["IPv6 extension headers", F.v6chain],
      ["IPv6 fragment", F.ping6Frag2],
      ["VLAN tag", mod(F.udp4, [[12, 0x81], [13, 0x00]])],
      ["version 6 in an IPv4 frame", mod(F.udp4, [[14, 0x65]])],
      ["src port 0", mod(F.udp4, [[34, 0], [35, 0]])],
      ["dst port 0", mod(F.udp6, [[56, 0], [57, 0]])],
      ["multicast source MAC", mod(F.udp4, [[6, 0x03]])],
      ["multicast source IPv4", mod(F.udp4, [[26, 224]])],
      ["zero source IPv4", mod(F.udp4, [[26, 0]])],
      ["loopback source IPv4", mod(F.udp4, [[26, 127]])],
      ["multicast destination IPv4", mod(F.udp4, [[30, 239]])],
      ["multicast source IPv6", mod(F.udp6, [[22, 0xff]])],
      ["multicast destination IPv6", mod(F.udp6, [[38, 0xff]])],
      ["unspecified source IPv6", (() => { const b = Uint8Array.from(F.udp6); b.fill(0, 22, 38); return b; })()],
      ["UDP length 7", mod(F.udp4, [[39, 7]])],
      ["UDP length > IP payload", mod(F.udp4, [[39, 14]])],
      ["IPv4 total length > frame", mod(F.udp4, [[17, 34]])],
      ["IPv4 total length < 28", mod(F.udp4, [[17, 27]])],
      ["IPv6 payload length > frame", mod(F.udp6, [[19, 15]])],
      ["IPv6 UDP length > payload length", mod(F.udp6, [[59, 15]])],
    ];
    for (const [what, f] of drops) expect(echo(f), what).toBeNull();
    for (const f of [F.udp4, F.udp6]) {
      for (let len = 0; len < f.length; len++) expect(echo(f.subarray(0, len)), `truncated to ${len}`).toBeNull();
    }
  });
});
