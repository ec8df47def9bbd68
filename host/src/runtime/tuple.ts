// `--tuple` specifications: `tcp:80` (that port on every address of the interface),
// `udp:10.1.2.3:53`, `tcp:[2001:db8::1]:80`.

import { isIPv4, isIPv6 } from 'node:net';
import { UsageError } from '../errors.js';
import type { LinkInfo, OwnedTuple, Protocol } from '../engine/engine.js';

export interface TupleSpec {
  protocol: Protocol;
  /** null: every address of the link (IPv4 and IPv6). */
  address: Uint8Array | null;
  port: number;
  text: string;
}

const SHAPE = "expected PROTO:PORT, PROTO:IPV4:PORT or 'PROTO:[IPV6]:PORT' with PROTO tcp or udp, e.g. tcp:80, udp:10.1.2.3:53, 'tcp:[2001:db8::1]:80'";

export function parseTuple(text: string): TupleSpec {
  const m = /^(tcp|udp):(?:(\[[^\]]*\]|[^:\[\]]+):)?([^:]*)$/i.exec(text.trim());
  if (!m) throw new UsageError(`bad --tuple '${text}': ${SHAPE}`);
  const protocol = m[1].toLowerCase() as Protocol;
  const portText = m[3];
  if (!/^\d+$/.test(portText) || +portText < 1 || +portText > 65535) {
    throw new UsageError(`bad --tuple '${text}': port '${portText}' must be a number from 1 to 65535 (port 0 is not a port a stack can own)`);
  }
  let address: Uint8Array | null = null;
  if (m[2] !== undefined) {
    const host = m[2].startsWith('[') ? m[2].slice(1, -1) : m[2];
    if (m[2].startsWith('[') ? !isIPv6(host) : !isIPv4(host)) {
      throw new UsageError(`bad --tuple '${text}': '${host}' is not an ${m[2].startsWith('[') ? 'IPv6' : 'IPv4'} address (${SHAPE})`);
    }
    address = parseAddress(host);
    if (address.every((b) => b === 0)) {
      throw new UsageError(`bad --tuple '${text}': the unspecified address cannot be owned; leave the address out (${protocol}:${portText}) to mean every address of the interface`);
    }
  }
  return { protocol, address, port: +portText, text };
}

export function parseAddress(s: string): Uint8Array {
  if (isIPv4(s)) return Uint8Array.from(s.split('.').map(Number));
  if (!isIPv6(s)) throw new Error(`not an IP address: ${s}`);
  let text = s;
  const v4tail = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  const tailWords: number[] = [];
  if (v4tail) {
    const b = parseAddress(v4tail[1]);
    tailWords.push((b[0] << 8) | b[1], (b[2] << 8) | b[3]);
    text = text.slice(0, -v4tail[1].length).replace(/:$/, ':0').replace(/::0$/, '::');
    if (text.endsWith(':0') && !text.endsWith('::0')) text = text.slice(0, -2);
  }
  const [head, tail] = text.includes('::') ? text.split('::') : [text, null];
  const hw = head ? head.split(':').filter((x) => x !== '').map((x) => parseInt(x, 16)) : [];
  const tw = tail ? tail.split(':').filter((x) => x !== '').map((x) => parseInt(x, 16)) : [];
  const fill = 8 - hw.length - tw.length - tailWords.length;
  const words = [...hw, ...Array(tail !== null ? fill : 0).fill(0), ...tw, ...tailWords];
  const out = new Uint8Array(16);
  words.slice(0, 8).forEach((w, i) => { out[i * 2] = w >> 8; out[i * 2 + 1] = w & 0xff; });
  return out;
}

export function formatAddress(a: Uint8Array): string {
  if (a.length === 4) return a.join('.');
  const words = [];
  for (let i = 0; i < 16; i += 2) words.push(((a[i] << 8) | a[i + 1]).toString(16));
  // Compress the longest run of zero words.
  let best = -1, bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (words[i] !== '0') { i++; continue; }
    let j = i;
    while (j < 8 && words[j] === '0') j++;
    if (j - i > bestLen && j - i > 1) { best = i; bestLen = j - i; }
    i = j;
  }
  if (best < 0) return words.join(':');
  return `${words.slice(0, best).join(':')}::${words.slice(best + bestLen).join(':')}`;
}

export function formatTuple(t: OwnedTuple): string {
  const a = formatAddress(t.address);
  return `${t.protocol}:${t.address.length === 16 ? `[${a}]` : a}:${t.port}`;
}

/**
 * Expands specs into concrete tuples on `link`: a spec without an address becomes one tuple
 * per link address (IPv4 and IPv6, link-local IPv6 excluded); a spec with an address must
 * name one of the link's addresses.
 */
export function expandTuples(specs: TupleSpec[], link: LinkInfo): OwnedTuple[] {
  const out: OwnedTuple[] = [];
  for (const spec of specs) {
    if (spec.address === null) {
      const addrs = [...link.ipv4, ...link.ipv6.filter((a) => !(a[0] === 0xfe && (a[1] & 0xc0) === 0x80))];
      if (!addrs.length) {
        throw new UsageError(`--tuple ${spec.text}: interface ${link.name} has no IP address to serve it on`, `give ${link.name} an address (ip addr add ...) or name one in the tuple`);
      }
      for (const a of addrs) out.push({ protocol: spec.protocol, address: a, port: spec.port });
    } else {
      const all = [...link.ipv4, ...link.ipv6];
      if (!all.some((a) => a.length === spec.address!.length && a.every((b, i) => b === spec.address![i]))) {
        throw new UsageError(`--tuple ${spec.text}: ${formatAddress(spec.address)} is not an address of interface ${link.name} (it has ${all.map(formatAddress).join(', ') || 'none'})`);
      }
      out.push({ protocol: spec.protocol, address: spec.address, port: spec.port });
    }
  }
  const seen = new Set<string>();
  for (const t of out) {
    const k = formatTuple(t);
    if (seen.has(k)) throw new UsageError(`--tuple ${k} is given twice`);
    seen.add(k);
  }
  return out;
}
