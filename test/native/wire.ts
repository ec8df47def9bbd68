// Frame building for the native tests: small composable layers over Buffers, so tests
// can produce exactly the odd frames they need (IPv4 options, fragments, IPv6 extension
// chains, VLAN tags, wrong lengths). Checked against tshark's dissectors in
// parser.test.ts, so the bytes mean what the tests say they mean.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

export const LINK_MAC = Buffer.from('026d73680002', 'hex');
export const PEER_MAC = Buffer.from('020000000001', 'hex');

export function v4(s: string): Buffer {
  return Buffer.from(s.split('.').map(Number));
}
export function v6(s: string): Buffer {
  const [h, t] = s.includes('::') ? s.split('::') : [s, ''];
  const hw = h ? h.split(':') : [];
  const tw = t ? t.split(':') : [];
  const words = [...hw, ...Array(8 - hw.length - tw.length).fill('0'), ...tw];
  const b = Buffer.alloc(16);
  words.forEach((w, i) => b.writeUInt16BE(parseInt(w || '0', 16), i * 2));
  return b;
}

export function csum(...bufs: Buffer[]): number {
  let sum = 0;
  for (const b of bufs) {
    for (let i = 0; i + 1 < b.length; i += 2) sum += b.readUInt16BE(i);
    if (b.length % 2) sum += b[b.length - 1] << 8;
  }
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

export interface EthOpts {
  dst?: Buffer;
  src?: Buffer;
  vlan?: number;
  ethertype: number;
}
export function eth(o: EthOpts, payload: Buffer): Buffer {
  const h = Buffer.alloc(o.vlan === undefined ? 14 : 18);
  (o.dst ?? LINK_MAC).copy(h, 0);
  (o.src ?? PEER_MAC).copy(h, 6);
  if (o.vlan !== undefined) {
    h.writeUInt16BE(0x8100, 12);
    h.writeUInt16BE(o.vlan, 14);
    h.writeUInt16BE(o.ethertype, 16);
  } else {
    h.writeUInt16BE(o.ethertype, 12);
  }
  return Buffer.concat([h, payload]);
}

export function udp(sport: number, dport: number, payload: Buffer, lenOverride?: number): Buffer {
  const h = Buffer.alloc(8);
  h.writeUInt16BE(sport, 0);
  h.writeUInt16BE(dport, 2);
  h.writeUInt16BE(lenOverride ?? 8 + payload.length, 4);
  return Buffer.concat([h, payload]);
}

export function tcp(sport: number, dport: number, payload: Buffer, opts: { dataOffset?: number; flags?: number } = {}): Buffer {
  const h = Buffer.alloc(20);
  h.writeUInt16BE(sport, 0);
  h.writeUInt16BE(dport, 2);
  h.writeUInt32BE(1000, 4);
  h[12] = (opts.dataOffset ?? 5) << 4;
  h[13] = opts.flags ?? 0x18;
  h.writeUInt16BE(65535, 14);
  return Buffer.concat([h, payload]);
}

/** Fills in the UDP/TCP checksum of `l4` (which starts with that header). */
function l4WithChecksum(proto: number, src: Buffer, dst: Buffer, l4: Buffer): Buffer {
  const at = proto === 17 ? 6 : proto === 6 ? 16 : -1;
  if (at < 0 || l4.length < at + 2) return l4;
  const out = Buffer.from(l4);
  out.writeUInt16BE(0, at);
  const ph = src.length === 4 ? Buffer.alloc(12) : Buffer.alloc(40);
  if (src.length === 4) {
    src.copy(ph, 0); dst.copy(ph, 4); ph[9] = proto; ph.writeUInt16BE(l4.length, 10);
  } else {
    src.copy(ph, 0); dst.copy(ph, 16); ph.writeUInt32BE(l4.length, 32); ph[39] = proto;
  }
  let c = csum(ph, out);
  if (proto === 17 && c === 0) c = 0xffff;
  out.writeUInt16BE(c, at);
  return out;
}

export interface V4Opts {
  src: Buffer;
  dst: Buffer;
  proto: number;
  id?: number;
  /** Fragment offset in bytes (multiple of 8). */
  fragOffset?: number;
  more?: boolean;
  dontFragment?: boolean;
  options?: Buffer; // multiple of 4 bytes
  totalLength?: number; // override
  ihl?: number; // override
  version?: number; // override
  /** Do not compute the L4 checksum (fragments: the payload is a piece). */
  raw?: boolean;
}
export function ipv4(o: V4Opts, l4: Buffer): Buffer {
  const opt = o.options ?? Buffer.alloc(0);
  const h = Buffer.alloc(20 + opt.length);
  h[0] = ((o.version ?? 4) << 4) | (o.ihl ?? h.length / 4);
  const body = o.raw ? l4 : l4WithChecksum(o.proto, o.src, o.dst, l4);
  h.writeUInt16BE(o.totalLength ?? h.length + body.length, 2);
  h.writeUInt16BE(o.id ?? 0x4242, 4);
  h.writeUInt16BE((o.dontFragment ? 0x4000 : 0) | (o.more ? 0x2000 : 0) | ((o.fragOffset ?? 0) >> 3), 6);
  h[8] = 64;
  h[9] = o.proto;
  o.src.copy(h, 12);
  o.dst.copy(h, 16);
  opt.copy(h, 20);
  h.writeUInt16BE(csum(h), 10);
  return Buffer.concat([h, body]);
}

export type ExtHeader =
  | { type: 0 | 60 | 43; len?: number } // hop-by-hop, destination options, routing; len in 8-byte units beyond the first
  | { type: 44; offset: number; more: boolean; id: number } // fragment
  | { type: 51; len?: number }; // AH, payload length field (4-byte units minus 2)

export interface V6Opts {
  src: Buffer;
  dst: Buffer;
  proto: number;
  ext?: ExtHeader[];
  payloadLength?: number; // override
  raw?: boolean;
}
export function ipv6(o: V6Opts, l4: Buffer): Buffer {
  const exts = o.ext ?? [];
  const parts: Buffer[] = [];
  for (let i = 0; i < exts.length; i++) {
    const e = exts[i];
    const next = i + 1 < exts.length ? exts[i + 1].type : o.proto;
    let b: Buffer;
    if (e.type === 44) {
      b = Buffer.alloc(8);
      b[0] = next;
      b.writeUInt16BE((e.offset & 0xfff8) | (e.more ? 1 : 0), 2);
      b.writeUInt32BE(e.id, 4);
    } else if (e.type === 51) {
      const len = e.len ?? 4; // 24 bytes: 12 fixed + 12 ICV
      b = Buffer.alloc((len + 2) * 4);
      b[0] = next;
      b[1] = len;
    } else {
      const len = e.len ?? 0;
      b = Buffer.alloc((len + 1) * 8);
      b[0] = next;
      b[1] = len;
      if (e.type !== 43) { b[2] = 1; b[3] = b.length - 4; } // PadN filling the options
      else { b[2] = 0; b[3] = 0; } // routing type 0, segments left 0
    }
    parts.push(b);
  }
  const body = o.raw ? l4 : l4WithChecksum(o.proto, o.src, o.dst, l4);
  const payload = Buffer.concat([...parts, body]);
  const h = Buffer.alloc(40);
  h.writeUInt32BE(0x60000000, 0);
  h.writeUInt16BE(o.payloadLength ?? payload.length, 4);
  h[6] = exts.length ? exts[0].type : o.proto;
  h[7] = 64;
  o.src.copy(h, 8);
  o.dst.copy(h, 24);
  return Buffer.concat([h, payload]);
}

export function udp4(src: string, sport: number, dst: string, dport: number, payload = Buffer.from('hello'), e: Partial<EthOpts> = {}): Buffer {
  return eth({ ethertype: 0x0800, ...e }, ipv4({ src: v4(src), dst: v4(dst), proto: 17 }, udp(sport, dport, payload)));
}
export function tcp4(src: string, sport: number, dst: string, dport: number, payload = Buffer.alloc(0), e: Partial<EthOpts> = {}): Buffer {
  return eth({ ethertype: 0x0800, ...e }, ipv4({ src: v4(src), dst: v4(dst), proto: 6 }, tcp(sport, dport, payload)));
}
export function udp6(src: string, sport: number, dst: string, dport: number, payload = Buffer.from('hello'), e: Partial<EthOpts> = {}): Buffer {
  return eth({ ethertype: 0x86dd, ...e }, ipv6({ src: v6(src), dst: v6(dst), proto: 17 }, udp(sport, dport, payload)));
}
export function arp(): Buffer {
  const a = Buffer.alloc(28);
  a.writeUInt16BE(1, 0); a.writeUInt16BE(0x0800, 2); a[4] = 6; a[5] = 4; a.writeUInt16BE(1, 6);
  PEER_MAC.copy(a, 8); v4('10.0.0.1').copy(a, 14); v4('10.0.0.2').copy(a, 24);
  return eth({ ethertype: 0x0806, dst: Buffer.alloc(6, 0xff) }, a);
}

/** Splits an IPv4 datagram's L4 bytes into fragments of `size` bytes (multiple of 8). */
export function fragments4(o: Omit<V4Opts, 'fragOffset' | 'more' | 'raw'>, l4: Buffer, size: number): Buffer[] {
  const whole = ipv4(o, l4).subarray(20 + (o.options?.length ?? 0)); // L4 with checksum
  const out: Buffer[] = [];
  for (let off = 0; off < whole.length; off += size) {
    const piece = whole.subarray(off, off + size);
    out.push(eth({ ethertype: 0x0800 }, ipv4({ ...o, fragOffset: off, more: off + size < whole.length, raw: true }, piece)));
  }
  return out;
}

/** A classic pcap (us timestamps) of `frames`, for feeding tshark. */
export function pcapOf(frames: Buffer[]): Buffer {
  const gh = Buffer.alloc(24);
  gh.writeUInt32LE(0xa1b2c3d4, 0); gh.writeUInt16LE(2, 4); gh.writeUInt16LE(4, 6);
  gh.writeUInt32LE(262144, 16); gh.writeUInt32LE(1, 20);
  const recs = frames.map((f, i) => {
    const r = Buffer.alloc(16);
    r.writeUInt32LE(1700000000 + i, 0); r.writeUInt32LE(f.length, 8); r.writeUInt32LE(f.length, 12);
    return Buffer.concat([r, f]);
  });
  return Buffer.concat([gh, ...recs]);
}

/** Runs tshark over a pcap; returns one array of field values per frame. */
export function tsharkFields(file: string, fields: string[], extra: string[] = []): { rows: string[][]; stderr: string; status: number | null } {
  const args = ['-r', file, '-T', 'fields', '-E', 'separator=|', '-E', 'occurrence=f', ...extra, ...fields.flatMap((f) => ['-e', f])];
  const r = spawnSync('tshark', args, { encoding: 'utf8' });
  if (r.error) throw r.error;
  const rows = r.stdout.split('\n').filter((l) => l.length > 0).map((l) => l.split('|'));
  return { rows, stderr: r.stderr, status: r.status };
}

export function tsharkOnFrames(frames: Buffer[], fields: string[]): string[][] {
  const dir = mkdtempSync(path.join(tmpdir(), 'msh-wire-'));
  try {
    const file = path.join(dir, 'f.pcap');
    writeFileSync(file, pcapOf(frames));
    const r = tsharkFields(file, fields);
    if (r.status !== 0) throw new Error(`tshark failed: ${r.stderr}`);
    return r.rows;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
