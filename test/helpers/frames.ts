// Frame construction and checking for tests, written independently of the guest SDK so
// the two check each other. Plain TypeScript over Buffers; test-only (never on a data path).

export const MAC_HOST = Buffer.from('020000000001', 'hex'); // the link (stack side)
export const MAC_PEER = Buffer.from('020000000002', 'hex');

export function ipv4(s: string): Buffer { return Buffer.from(s.split('.').map(Number)); }
export function ipv6(s: string): Buffer {
  const [h, t] = s.includes('::') ? s.split('::') : [s, ''];
  const hw = h ? h.split(':') : [];
  const tw = t ? t.split(':') : [];
  const words = [...hw, ...Array(8 - hw.length - tw.length).fill('0'), ...tw];
  const b = Buffer.alloc(16);
  words.forEach((w, i) => b.writeUInt16BE(parseInt(w || '0', 16), i * 2));
  return b;
}

export function onesComplement(...bufs: Buffer[]): number {
  let sum = 0;
  for (const b of bufs) {
    for (let i = 0; i + 1 < b.length; i += 2) sum += b.readUInt16BE(i);
    if (b.length % 2) sum += b[b.length - 1] << 8;
  }
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return (~sum) & 0xffff;
}

function pseudo(src: Buffer, dst: Buffer, proto: number, len: number): Buffer {
  if (src.length === 4) {
    const p = Buffer.alloc(12);
    src.copy(p, 0); dst.copy(p, 4); p[9] = proto; p.writeUInt16BE(len, 10);
    return p;
  }
  const p = Buffer.alloc(40);
  src.copy(p, 0); dst.copy(p, 16); p.writeUInt32BE(len, 32); p[39] = proto;
  return p;
}

export interface L4Spec {
  srcMac?: Buffer; dstMac?: Buffer;
  src: Buffer; dst: Buffer; // 4 or 16 bytes
  proto?: number; // 17 (UDP) default, 6 TCP
  sport: number; dport: number;
  payload: Buffer;
  ttl?: number;
  /** Raw L4 header+payload instead of a UDP datagram (e.g. a TCP segment). */
  l4?: Buffer;
}

/** Ethernet + IPv4/IPv6 + UDP with correct checksums (or the given raw L4 bytes). */
export function buildFrame(s: L4Spec): Buffer {
  const proto = s.proto ?? 17;
  let l4: Buffer;
  if (s.l4) l4 = s.l4;
  else {
    l4 = Buffer.alloc(8 + s.payload.length);
    l4.writeUInt16BE(s.sport, 0); l4.writeUInt16BE(s.dport, 2); l4.writeUInt16BE(l4.length, 4);
    s.payload.copy(l4, 8);
    let c = onesComplement(pseudo(s.src, s.dst, 17, l4.length), l4);
    if (c === 0) c = 0xffff;
    l4.writeUInt16BE(c, 6);
  }
  let l3: Buffer;
  if (s.src.length === 4) {
    l3 = Buffer.alloc(20);
    l3[0] = 0x45; l3.writeUInt16BE(20 + l4.length, 2); l3.writeUInt16BE(0x1234, 4); l3[6] = 0x40;
    l3[8] = s.ttl ?? 64; l3[9] = proto; s.src.copy(l3, 12); s.dst.copy(l3, 16);
    l3.writeUInt16BE(onesComplement(l3), 10);
  } else {
    l3 = Buffer.alloc(40);
    l3[0] = 0x60; l3.writeUInt16BE(l4.length, 4); l3[6] = proto; l3[7] = s.ttl ?? 64;
    s.src.copy(l3, 8); s.dst.copy(l3, 24);
  }
  const eth = Buffer.alloc(14);
  (s.dstMac ?? MAC_HOST).copy(eth, 0); (s.srcMac ?? MAC_PEER).copy(eth, 6);
  eth.writeUInt16BE(s.src.length === 4 ? 0x0800 : 0x86dd, 12);
  return Buffer.concat([eth, l3, l4]);
}

export interface ParsedUdp {
  srcMac: Buffer; dstMac: Buffer; src: Buffer; dst: Buffer; sport: number; dport: number; payload: Buffer;
  ipChecksumOk: boolean; udpChecksumOk: boolean;
}

/** Parses an Ethernet/IP/UDP frame (no extension headers) and verifies both checksums. */
export function parseUdpFrame(f: Buffer): ParsedUdp {
  const type = f.readUInt16BE(12);
  let src: Buffer, dst: Buffer, l4: Buffer, ipOk = true;
  if (type === 0x0800) {
    const ihl = (f[14] & 0x0f) * 4;
    const ip = f.subarray(14, 14 + ihl);
    ipOk = onesComplement(ip) === 0;
    src = ip.subarray(12, 16); dst = ip.subarray(16, 20);
    l4 = f.subarray(14 + ihl, 14 + f.readUInt16BE(16));
  } else if (type === 0x86dd) {
    src = f.subarray(22, 38); dst = f.subarray(38, 54);
    l4 = f.subarray(54, 54 + f.readUInt16BE(18));
  } else throw new Error(`not IP: ethertype ${type.toString(16)}`);
  const udpOk = onesComplement(pseudo(src, dst, 17, l4.length), l4) === 0;
  return {
    dstMac: f.subarray(0, 6), srcMac: f.subarray(6, 12), src, dst,
    sport: l4.readUInt16BE(0), dport: l4.readUInt16BE(2), payload: l4.subarray(8, l4.readUInt16BE(4)),
    ipChecksumOk: ipOk, udpChecksumOk: udpOk,
  };
}
