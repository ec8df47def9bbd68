// The frame parser (native/src/frame.cc) on known frames, cross-checked with tshark's
// dissectors, and on truncated / random input, which it must survive and reject.
import { describe, expect, it } from 'vitest';
import { loadNative } from '../../host/src/native.js';
import {
  arp, eth, fragments4, ipv4, ipv6, tcp, tcp4, tsharkOnFrames, udp, udp4, udp6, v4, v6,
} from './wire.js';

const native = loadNative();
const hex = (b: Uint8Array | undefined) => Buffer.from(b ?? []).toString('hex');

describe('frame parser: known frames', () => {
  it('IPv4/UDP', () => {
    const f = udp4('10.0.0.1', 1234, '10.0.0.2', 53);
    const p = native.parseFrame(f);
    expect(p).toMatchObject({ status: 'ok', ethertype: 0x0800, vlan: null, ipVersion: 4, proto: 17, l3Offset: 14, l4Offset: 34, l3End: f.length, hasPorts: true, srcPort: 1234, dstPort: 53, fragment: null });
    expect(hex(p.src)).toBe('0a000001');
    expect(hex(p.dst)).toBe('0a000002');
  });

  it('IPv4 with options (IHL 8) and TCP', () => {
    const options = Buffer.from('94040000' + '01010101' + '00000000', 'hex'); // router alert, NOPs, EOL
    const f = eth({ ethertype: 0x0800 }, ipv4({ src: v4('192.168.1.1'), dst: v4('192.168.1.2'), proto: 6, options }, tcp(40000, 80, Buffer.from('GET /'))));
    const p = native.parseFrame(f);
    expect(p).toMatchObject({ status: 'ok', proto: 6, l4Offset: 14 + 32, srcPort: 40000, dstPort: 80, hasPorts: true });
    const [row] = tsharkOnFrames([f], ['ip.hdr_len', 'tcp.srcport', 'tcp.dstport', 'ip.checksum.status', '_ws.expert']);
    expect(row.slice(0, 2)).toEqual(['32', '40000']);
    expect(row[2]).toBe('80');
  });

  it('802.1Q tagged IPv4 and IPv6', () => {
    const a = udp4('10.0.0.1', 1, '10.0.0.2', 2, Buffer.from('x'), { vlan: 0x2064 });
    expect(native.parseFrame(a)).toMatchObject({ status: 'ok', vlan: 100, l3Offset: 18, l4Offset: 38, dstPort: 2 });
    const b = udp6('fd00::1', 1, 'fd00::2', 2, Buffer.from('x'), { vlan: 7 });
    expect(native.parseFrame(b)).toMatchObject({ status: 'ok', vlan: 7, ipVersion: 6, l3Offset: 18, l4Offset: 58 });
    expect(tsharkOnFrames([a, b], ['vlan.id', 'udp.dstport'])).toEqual([['100', '2'], ['7', '2']]);
  });

  it('IPv4 fragments: the first carries the ports, later ones do not', () => {
    const frags = fragments4({ src: v4('10.0.0.1'), dst: v4('10.0.0.2'), proto: 17, id: 0xbeef }, udp(5000, 53, Buffer.alloc(3000, 7)), 1480);
    expect(frags.length).toBe(3);
    const ps = frags.map((f) => native.parseFrame(f));
    expect(ps[0]).toMatchObject({ status: 'ok', hasPorts: true, srcPort: 5000, dstPort: 53, fragment: { id: 0xbeef, offset: 0, more: true } });
    expect(ps[1]).toMatchObject({ status: 'ok', hasPorts: false, proto: 17, fragment: { id: 0xbeef, offset: 1480, more: true } });
    expect(ps[2]).toMatchObject({ status: 'ok', hasPorts: false, fragment: { id: 0xbeef, offset: 2960, more: false } });
    expect(ps[1].srcPort).toBeUndefined();
    // tshark agrees on offsets and reassembles the datagram from these exact bytes.
    const rows = tsharkOnFrames(frags, ['ip.frag_offset', 'ip.flags.mf', 'udp.dstport']);
    expect(rows.map((r) => Number(r[0]) * 8)).toEqual([0, 1480, 2960]); // tshark: 8-byte units
    expect(rows[2][2]).toBe('53'); // reassembled on the last fragment
  });

  it('IPv4: padding after the datagram is fine, a datagram longer than the frame is not', () => {
    const small = udp4('10.0.0.1', 1, '10.0.0.2', 2, Buffer.alloc(0)); // 42 bytes
    const padded = Buffer.concat([small, Buffer.alloc(18)]);
    expect(native.parseFrame(padded)).toMatchObject({ status: 'ok', l3End: 42, dstPort: 2 });
    expect(native.parseFrame(small.subarray(0, 41)).status).toBe('bad_l3_length');
    const long = eth({ ethertype: 0x0800 }, ipv4({ src: v4('1.1.1.1'), dst: v4('2.2.2.2'), proto: 17, totalLength: 200 }, udp(1, 2, Buffer.alloc(4))));
    expect(native.parseFrame(long).status).toBe('bad_l3_length');
    const shortTotal = eth({ ethertype: 0x0800 }, ipv4({ src: v4('1.1.1.1'), dst: v4('2.2.2.2'), proto: 17, totalLength: 19 }, udp(1, 2, Buffer.alloc(4))));
    expect(native.parseFrame(shortTotal).status).toBe('bad_l3_length');
  });

  it('IPv4: bad version, IHL below 5 or beyond the frame', () => {
    const mk = (o: { ihl?: number; version?: number }) => eth({ ethertype: 0x0800 }, ipv4({ src: v4('1.1.1.1'), dst: v4('2.2.2.2'), proto: 17, ...o }, udp(1, 2, Buffer.alloc(4))));
    expect(native.parseFrame(mk({ ihl: 4 })).status).toBe('bad_l3_header');
    expect(native.parseFrame(mk({ ihl: 15 })).status).toBe('bad_l3_header');
    expect(native.parseFrame(mk({ version: 6 })).status).toBe('bad_l3_header');
  });

  it('UDP and TCP header sanity', () => {
    const badUdpLen = eth({ ethertype: 0x0800 }, ipv4({ src: v4('1.1.1.1'), dst: v4('2.2.2.2'), proto: 17 }, udp(1, 2, Buffer.alloc(4), 100)));
    expect(native.parseFrame(badUdpLen).status).toBe('bad_l4_header');
    const tinyUdpLen = eth({ ethertype: 0x0800 }, ipv4({ src: v4('1.1.1.1'), dst: v4('2.2.2.2'), proto: 17 }, udp(1, 2, Buffer.alloc(4), 7)));
    expect(native.parseFrame(tinyUdpLen).status).toBe('bad_l4_header');
    const badDoff = eth({ ethertype: 0x0800 }, ipv4({ src: v4('1.1.1.1'), dst: v4('2.2.2.2'), proto: 6 }, tcp(1, 2, Buffer.alloc(0), { dataOffset: 6 })));
    expect(native.parseFrame(badDoff).status).toBe('bad_l4_header');
    const truncTcp = eth({ ethertype: 0x0800 }, ipv4({ src: v4('1.1.1.1'), dst: v4('2.2.2.2'), proto: 6, raw: true }, Buffer.alloc(12)));
    expect(native.parseFrame(truncTcp).status).toBe('truncated_l4');
    const icmp = eth({ ethertype: 0x0800 }, ipv4({ src: v4('1.1.1.1'), dst: v4('2.2.2.2'), proto: 1, raw: true }, Buffer.from('0800f7ff00000000', 'hex')));
    expect(native.parseFrame(icmp)).toMatchObject({ status: 'ok', proto: 1, hasPorts: false });
  });

  it('IPv6/UDP, and an extension header chain: hop-by-hop, routing, destination options, AH', () => {
    const plain = udp6('2001:db8::1', 4000, '2001:db8::2', 443);
    expect(native.parseFrame(plain)).toMatchObject({ status: 'ok', ipVersion: 6, proto: 17, l4Offset: 54, srcPort: 4000, dstPort: 443 });
    expect(hex(native.parseFrame(plain).dst)).toBe(v6('2001:db8::2').toString('hex'));
    const chain = eth({ ethertype: 0x86dd }, ipv6({ src: v6('2001:db8::1'), dst: v6('2001:db8::2'), proto: 6, ext: [{ type: 0 }, { type: 43, len: 2 }, { type: 60, len: 1 }, { type: 51 }] }, tcp(5555, 22, Buffer.from('ssh'))));
    const p = native.parseFrame(chain);
    // 40 + 8 (HBH) + 24 (routing) + 16 (dest opts) + 24 (AH)
    expect(p).toMatchObject({ status: 'ok', proto: 6, l4Offset: 14 + 40 + 8 + 24 + 16 + 24, srcPort: 5555, dstPort: 22, fragment: null });
    const [row] = tsharkOnFrames([chain], ['tcp.srcport', 'tcp.dstport']);
    expect(row).toEqual(['5555', '22']);
  });

  it('IPv6 fragment header: first fragment has ports, later ones do not; atomic fragments are whole', () => {
    const first = eth({ ethertype: 0x86dd }, ipv6({ src: v6('fd00::1'), dst: v6('fd00::2'), proto: 17, ext: [{ type: 0 }, { type: 44, offset: 0, more: true, id: 0x01020304 }], raw: true }, udp(7000, 53, Buffer.alloc(64))));
    expect(native.parseFrame(first)).toMatchObject({ status: 'ok', hasPorts: true, srcPort: 7000, dstPort: 53, fragment: { id: 0x01020304, offset: 0, more: true } });
    const later = eth({ ethertype: 0x86dd }, ipv6({ src: v6('fd00::1'), dst: v6('fd00::2'), proto: 17, ext: [{ type: 44, offset: 1448, more: false, id: 0x01020304 }], raw: true }, Buffer.alloc(100)));
    expect(native.parseFrame(later)).toMatchObject({ status: 'ok', hasPorts: false, proto: 17, l4Offset: 14 + 48, fragment: { id: 0x01020304, offset: 1448, more: false } });
    const atomic = eth({ ethertype: 0x86dd }, ipv6({ src: v6('fd00::1'), dst: v6('fd00::2'), proto: 17, ext: [{ type: 44, offset: 0, more: false, id: 9 }] }, udp(1, 2, Buffer.alloc(8))));
    expect(native.parseFrame(atomic)).toMatchObject({ status: 'ok', hasPorts: true, fragment: null });
    const rows = tsharkOnFrames([first, later], ['ipv6.fraghdr.offset', 'ipv6.fraghdr.ident']);
    expect(rows.map((r) => Number(r[0]) * 8)).toEqual([0, 1448]);
    expect(rows.map((r) => Number(r[1]))).toEqual([0x01020304, 0x01020304]);
  });

  it('IPv6: too many, truncated, or repeated fragment extension headers are rejected', () => {
    const many = eth({ ethertype: 0x86dd }, ipv6({ src: v6('fd00::1'), dst: v6('fd00::2'), proto: 17, ext: Array.from({ length: 9 }, () => ({ type: 60 as const })) }, udp(1, 2, Buffer.alloc(8))));
    expect(native.parseFrame(many).status).toBe('bad_ext_headers');
    const eight = eth({ ethertype: 0x86dd }, ipv6({ src: v6('fd00::1'), dst: v6('fd00::2'), proto: 17, ext: Array.from({ length: 8 }, () => ({ type: 60 as const })) }, udp(1, 2, Buffer.alloc(8))));
    expect(native.parseFrame(eight)).toMatchObject({ status: 'ok', dstPort: 2 });
    const trunc = eth({ ethertype: 0x86dd }, ipv6({ src: v6('fd00::1'), dst: v6('fd00::2'), proto: 17, ext: [{ type: 60, len: 10 }], raw: true }, Buffer.alloc(0)));
    // The dest-options header claims 88 bytes; cut the datagram after 16 of them.
    const cut = Buffer.from(trunc.subarray(0, 14 + 40 + 16));
    cut.writeUInt16BE(16, 14 + 4);
    expect(native.parseFrame(cut).status).toBe('bad_ext_headers');
    const twoFrag = eth({ ethertype: 0x86dd }, ipv6({ src: v6('fd00::1'), dst: v6('fd00::2'), proto: 17, ext: [{ type: 44, offset: 0, more: true, id: 1 }, { type: 44, offset: 0, more: true, id: 2 }] }, udp(1, 2, Buffer.alloc(8))));
    expect(native.parseFrame(twoFrag).status).toBe('bad_ext_headers');
    const badLen = eth({ ethertype: 0x86dd }, ipv6({ src: v6('fd00::1'), dst: v6('fd00::2'), proto: 17, payloadLength: 500 }, udp(1, 2, Buffer.alloc(8))));
    expect(native.parseFrame(badLen).status).toBe('bad_l3_length');
  });

  it('non-IP frames and short frames', () => {
    expect(native.parseFrame(arp())).toMatchObject({ status: 'not_ip', ethertype: 0x0806, ipVersion: 0, hasPorts: false });
    expect(native.parseFrame(new Uint8Array(0)).status).toBe('truncated_l2');
    expect(native.parseFrame(new Uint8Array(13)).status).toBe('truncated_l2');
    const tagOnly = Buffer.alloc(16);
    tagOnly.writeUInt16BE(0x8100, 12);
    expect(native.parseFrame(tagOnly).status).toBe('truncated_l2');
    const tcpOnly = tcp4('10.0.0.1', 1, '10.0.0.2', 2);
    expect(native.parseFrame(tcpOnly)).toMatchObject({ status: 'ok', dstPort: 2 });
  });
});

describe('frame parser: hostile input', () => {
  const samples = [
    udp4('10.0.0.1', 1, '10.0.0.2', 2, Buffer.alloc(20)),
    tcp4('10.0.0.1', 1, '10.0.0.2', 2, Buffer.alloc(20)),
    udp6('fd00::1', 1, 'fd00::2', 2, Buffer.alloc(20), { vlan: 3 }),
    eth({ ethertype: 0x86dd }, ipv6({ src: v6('fd00::1'), dst: v6('fd00::2'), proto: 17, ext: [{ type: 0 }, { type: 43 }, { type: 44, offset: 0, more: true, id: 5 }, { type: 51 }] }, udp(1, 2, Buffer.alloc(8)))),
    ...fragments4({ src: v4('1.1.1.1'), dst: v4('2.2.2.2'), proto: 17 }, udp(1, 2, Buffer.alloc(100)), 48),
  ];

  it('every truncation of valid frames parses to a status without reading past the end', () => {
    for (const s of samples) {
      for (let n = 0; n < s.length; n++) {
        // A copy of exactly n bytes: anything read past it would be outside the buffer.
        const p = native.parseFrame(Uint8Array.from(s.subarray(0, n)));
        expect(typeof p.status).toBe('string');
        if (p.status === 'ok' && p.ipVersion) expect(p.l3End!).toBeLessThanOrEqual(n);
      }
    }
  });

  it('random bytes and random mutations of valid frames never crash', () => {
    let seed = 12345;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 8);
    const seen = new Set<string>();
    for (let i = 0; i < 30000; i++) {
      let f: Uint8Array;
      if (i % 3 === 0) {
        f = new Uint8Array(rnd() % 200);
        for (let j = 0; j < f.length; j++) f[j] = rnd() & 0xff;
        if (f.length > 13 && i % 2) { f[12] = 0x08; f[13] = 0; }
      } else {
        f = Uint8Array.from(samples[rnd() % samples.length]);
        // Mostly header bytes; sometimes also cut the frame.
        for (let k = 0; k < 1 + (rnd() % 3); k++) f[rnd() % Math.min(f.length, 96)] = rnd() & 0xff;
        if (i % 5 === 1) f = f.subarray(0, rnd() % (f.length + 1));
      }
      const p = native.parseFrame(f);
      seen.add(p.status);
      if (p.status === 'ok' && p.ipVersion) {
        expect(p.l3End!).toBeLessThanOrEqual(f.length);
        expect(p.l4Offset!).toBeLessThanOrEqual(p.l3End!);
      }
    }
    // The mutations reached the error paths, not only 'ok'.
    expect([...seen].sort()).toEqual(['bad_ext_headers', 'bad_l3_header', 'bad_l3_length', 'bad_l4_header', 'not_ip', 'ok', 'truncated_l2', 'truncated_l4']);
  });
});
