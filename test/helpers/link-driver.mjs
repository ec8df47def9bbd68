// The shared core of the native-link test drivers (test/backends/driver.mjs,
// test/xdp/driver.mjs): each opens its kind of link, then hands it to serve().
//
// It stands in for stacks without Wasm: each port gets a guest RX/TX ring pair (wit/ABI.md
// layout) in a plain ArrayBuffer; the addon's rxToGuest/txFromGuest move frames in
// batches; ports with `echo` bounce UDP frames back (swapping MACs, IP addresses and
// ports, which keeps every checksum valid) and only count the rest. The per-frame JS here
// is test scaffolding, never product code.
//
// Port config: { echo?: boolean (default true), claims: [{ proto: 'udp' | 'tcp',
//   addr: '10.77.1.1' | 'fd77::1', port }] }
// stdout: one JSON object per line: {"ready": {...link info, pid, ports: [ids]}} once set
// up, then one reply per stdin command, {"error": "...", "code": "..."} on failure (exit 3
// while setting up, 4 in the data path).
// Commands (stdin, one per line): stats | quit | destroy, plus the driver's own. quit (and
// SIGTERM) prints the stats, closes the link and exits 0; destroy closes the link and
// leaves the process running.
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { dirname, resolve } from 'node:path';
import { isIPv4 } from 'node:net';
import { createInterface } from 'node:readline';

export const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const addonPath = process.env.MSH_NATIVE_ADDON || resolve(root, 'build/Release/msh_native.node');
export const native = createRequire(import.meta.url)(addonPath);

export const out = (o) => process.stdout.write(JSON.stringify(o, (_k, v) => (typeof v === 'bigint' ? Number(v) : v)) + '\n');

/** A text IPv4 or IPv6 address as bytes (no embedded IPv4 in IPv6 needed here). */
export function addrBytes(s) {
  if (isIPv4(s)) return Uint8Array.from(s.split('.').map(Number));
  const [h, t] = s.includes('::') ? s.split('::') : [s, ''];
  const hw = h ? h.split(':') : [];
  const tw = t ? t.split(':') : [];
  const words = [...hw, ...Array(8 - hw.length - tw.length).fill('0'), ...tw].map((x) => parseInt(x, 16));
  const b = new Uint8Array(16);
  words.forEach((w, i) => { b[2 * i] = w >> 8; b[2 * i + 1] = w & 255; });
  return b;
}

// Guest memory: RX ring header at 0 (slots after it), TX ring header at 8192, then
// SLOTS buffers for RX and SLOTS for TX.
const SLOTS = 256, SLOT_SIZE = 2048, RX = 0, TX = 8192, BUFS = 16384;
function makeGuest() {
  const mem = new ArrayBuffer(BUFS + 2 * SLOTS * SLOT_SIZE);
  const v = new DataView(mem);
  for (const [ring, base] of [[RX, BUFS], [TX, BUFS + SLOTS * SLOT_SIZE]]) {
    v.setUint32(ring + 8, SLOTS, true);
    v.setUint32(ring + 12, SLOT_SIZE, true);
    for (let i = 0; i < SLOTS; i++) v.setUint32(ring + 32 + i * 16 + 8, base + i * SLOT_SIZE, true);
  }
  return { mem, v, u8: new Uint8Array(mem) };
}

function swap(u8, a, b, n) {
  for (let i = 0; i < n; i++) { const t = u8[a + i]; u8[a + i] = u8[b + i]; u8[b + i] = t; }
}

// Echoes UDP in place (returns true) or only counts the frame (false). Fragments:
// addresses swapped in every fragment, ports only where the UDP header is (unfragmented
// or first fragment).
function echoInPlace(u8, off, len, counts) {
  const et = (u8[off + 12] << 8) | u8[off + 13];
  if (et !== 0x0800 && et !== 0x86dd) { counts.other++; return false; }
  const l3 = off + 14;
  let l4 = -1, proto;
  if (et === 0x0800) {
    proto = u8[l3 + 9];
    const fragOff = ((u8[l3 + 6] & 0x1f) << 8) | u8[l3 + 7];
    if (fragOff || (u8[l3 + 6] & 0x20)) counts.fragments++;
    if (fragOff === 0) l4 = l3 + (u8[l3] & 15) * 4;
    if (proto === 17) swap(u8, l3 + 12, l3 + 16, 4);
  } else {
    proto = u8[l3 + 6];
    let p = l3 + 40;
    if (proto === 44) {
      counts.fragments++;
      const fragOff = ((u8[p + 2] << 8) | u8[p + 3]) & 0xfff8;
      proto = u8[p];
      p += 8;
      if (fragOff === 0) l4 = p;
    } else {
      l4 = p;
    }
    if (proto === 17) swap(u8, l3 + 8, l3 + 24, 16);
  }
  if (proto === 6) { countTcp(u8, off, len, et, l3, l4, counts); return false; }
  if (proto !== 17) { counts.other++; return false; }
  counts.udp++;
  swap(u8, off, off + 6, 6);
  if (l4 >= 0) swap(u8, l4, l4 + 2, 2);
  return true;
}

// TCP frames are only counted: payload bytes, largest frame, and whether the TCP checksum
// verifies (pseudo-header + segment), for the tests of checksum completion and of cutting
// GRO/GSO aggregates back into segments.
function countTcp(u8, off, len, et, l3, l4, counts) {
  counts.tcp++;
  counts.tcpMaxFrame = Math.max(counts.tcpMaxFrame, len);
  if (l4 < 0) return;
  const end = et === 0x0800 ? l3 + ((u8[l3 + 2] << 8) | u8[l3 + 3]) : l3 + 40 + ((u8[l3 + 4] << 8) | u8[l3 + 5]);
  const seg = end - l4;
  counts.tcpPayload += seg - (u8[l4 + 12] >> 4) * 4;
  let sum = 0;
  const add = (a, n) => { for (let i = 0; i < n; i += 2) sum += (u8[a + i] << 8) | (i + 1 < n ? u8[a + i + 1] : 0); };
  if (et === 0x0800) add(l3 + 12, 8); else add(l3 + 8, 32);
  sum += 6 + seg;
  add(l4, seg);
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
  if (sum !== 0xffff) counts.tcpBadCsum++;
}

/**
 * Opens a link with `open()` (may be async), adds the ports of `portConfigs`, prints
 * {"ready"} and serves the link until quit or SIGTERM. open() returns
 *   { id, info(): object, close(): void, reserve?(tuple, owner): void }:
 * info() is the link's part of "ready" and "stats"; reserve() is called for every claim
 * ({ protocol, address, port }, 'port<ID>'), e.g. to steer the tuple to the link.
 * `commands` are the driver's own: name -> (argument text, driver) => the reply object,
 * where driver is { link, ports, addPort(portConfig) -> id }.
 */
export async function serve(open, portConfigs = [], commands = {}) {
  const ports = [];
  let link, stop = false, destroyed = false;

  function addPort(pc) {
    const id = native.addPort(link.id);
    for (const c of pc.claims) {
      const addr = addrBytes(c.addr);
      native.claim(link.id, id, c.proto === 'tcp' ? 6 : 17, addr, c.port);
      link.reserve?.({ protocol: c.proto, address: addr, port: c.port }, `port${id}`);
    }
    ports.push({ id, echo: pc.echo !== false, g: makeGuest(), counts: { udp: 0, tcp: 0, other: 0, fragments: 0, echoed: 0, tcpPayload: 0, tcpMaxFrame: 0, tcpBadCsum: 0 } });
    return id;
  }

  try {
    link = await open();
    for (const pc of portConfigs) addPort(pc);
  } catch (e) {
    out({ error: e.message, code: e.code });
    process.exit(3);
  }
  out({ ready: { ...link.info(), pid: process.pid, ports: ports.map((p) => p.id) } });

  function stats() {
    if (destroyed) return { destroyed: true };
    const o = { link: link.info(), linkCounters: native.linkCounters(link.id), ports: {} };
    for (const p of ports) o.ports[p.id] = { ...p.counts, counters: native.counters(link.id, p.id) };
    return o;
  }
  const driver = { link, ports, addPort };
  createInterface({ input: process.stdin }).on('line', (line) => {
    const [cmd, ...rest] = line.trim().split(' ');
    try {
      if (cmd === 'stats') out({ stats: stats() });
      else if (cmd === 'quit') stop = true;
      else if (cmd === 'destroy') {
        link.close();
        destroyed = true;
        ports.length = 0;
        out({ destroyed: true });
      } else if (Object.hasOwn(commands, cmd)) out(commands[cmd](rest.join(' '), driver));
    } catch (e) {
      out({ error: e.message, code: e.code });
    }
  });
  process.on('SIGTERM', () => { stop = true; });

  // One pass over every port: RX frames into the guest ring, echo onto the TX ring, TX.
  function pass() {
    let moved = 0;
    for (const p of ports) {
      const { mem, v, u8 } = p.g;
      const n = native.rxToGuest(link.id, p.id, mem, RX, SLOTS);
      if (n < 0) throw new Error(native.lastError());
      if (n === 0) continue;
      moved += n;
      let head = v.getUint32(RX, true);
      const tail = v.getUint32(RX + 4, true);
      let txTail = v.getUint32(TX + 4, true);
      const txHead = v.getUint32(TX, true);
      for (; head !== tail; head = (head + 1) >>> 0) {
        const rs = RX + 32 + (head & (SLOTS - 1)) * 16;
        const len = v.getUint32(rs, true), buf = v.getUint32(rs + 8, true);
        if (!echoInPlace(u8, buf, len, p.counts) || !p.echo) continue;
        if (((txTail - txHead) >>> 0) >= SLOTS) continue; // TX ring full: drop
        const ts = TX + 32 + (txTail & (SLOTS - 1)) * 16;
        u8.copyWithin(v.getUint32(ts + 8, true), buf, buf + len);
        v.setUint32(ts, len, true);
        txTail = (txTail + 1) >>> 0;
        p.counts.echoed++;
      }
      v.setUint32(RX, head, true);
      v.setUint32(TX + 4, txTail, true);
      const sent = native.txFromGuest(link.id, p.id, mem, TX);
      if (sent < 0) throw new Error(native.lastError());
    }
    return moved;
  }

  function loop() {
    try {
      for (let i = 0; i < 64 && !stop; i++) {
        if (pass() === 0) {
          if (ports.length) native.wait(link.id, ports[0].id, ports.length === 1 ? 20 : 2);
          else return setTimeout(loop, 20);
          break;
        }
      }
    } catch (e) {
      out({ error: e.message, code: e.code });
      process.exit(4);
    }
    if (stop) {
      out({ stats: stats() });
      if (!destroyed) link.close();
      process.exit(0);
    }
    setImmediate(loop);
  }
  loop();
}
