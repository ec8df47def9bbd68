// Test driver for the AF_XDP backend, run inside a network namespace by
// test/xdp/xdp.test.ts (`ip netns exec NS node test/xdp/driver.mjs CONFIG_JSON`).
//
// It stands in for stacks without Wasm: each port gets a guest RX/TX ring pair (wit/ABI.md
// layout) in a plain ArrayBuffer, the addon's rxToGuest/txFromGuest move frames in
// batches, and this script echoes UDP frames back (swapping MACs, IP addresses and
// ports, which keeps every checksum valid) and only counts TCP frames. The per-frame JS
// here is test scaffolding, never product code.
//
// CONFIG_JSON: { ifname, mode?, bpfObject?, ports: [{ claims: [{ proto: 'udp'|'tcp',
//   addr: '10.77.1.1' | 'fd77::1', port }] }] }
// stdout: one JSON object per line: {"ready": {...}} once set up, then one reply per
// stdin command (see the command handler), {"error": "..."} on failure.
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { dirname, resolve } from 'node:path';
import { isIPv4 } from 'node:net';
import { createInterface } from 'node:readline';

const here = dirname(fileURLToPath(import.meta.url));
const native = createRequire(import.meta.url)(resolve(here, '../../build/Release/msh_native.node'));

const cfg = JSON.parse(process.argv[2]);
const out = (o) => process.stdout.write(JSON.stringify(o, (_k, v) => (typeof v === 'bigint' ? Number(v) : v)) + '\n');

function addrBytes(s) {
  if (isIPv4(s)) return Uint8Array.from(s.split('.').map(Number));
  // Expand an IPv6 text address (no embedded IPv4 needed here).
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

// Echoes UDP in place (returns true) or returns false (TCP and anything else: counted,
// not echoed). Fragments: addresses swapped in every fragment, ports only where the UDP
// header is (unfragmented or first fragment).
function echoInPlace(u8, off, len, counts) {
  let et = (u8[off + 12] << 8) | u8[off + 13];
  if (et !== 0x0800 && et !== 0x86dd) { counts.other++; return false; }
  let l3 = off + 14, l4 = -1, proto;
  if (et === 0x0800) {
    proto = u8[l3 + 9];
    const fragOff = ((u8[l3 + 6] & 0x1f) << 8) | u8[l3 + 7];
    const mf = u8[l3 + 6] & 0x20;
    if (fragOff || mf) counts.fragments++;
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
  if (proto === 6) { counts.tcp++; return false; }
  if (proto !== 17) { counts.other++; return false; }
  counts.udp++;
  swap(u8, off, off + 6, 6);
  if (l4 >= 0) swap(u8, l4, l4 + 2, 2);
  return true;
}

let linkId;
try {
  const opts = { ifname: cfg.ifname };
  if (cfg.mode) opts.mode = cfg.mode;
  if (cfg.bpfObject) opts.bpfObject = cfg.bpfObject;
  linkId = native.createXdpLink(opts);
} catch (e) {
  out({ error: e.message, code: e.code });
  process.exit(3);
}

const ports = [];
try {
  for (const pc of cfg.ports ?? []) addPort(pc.claims);
} catch (e) {
  out({ error: e.message, code: e.code });
  process.exit(3);
}

const info = native.xdpLinkInfo(linkId);
out({ ready: { ...info, ports: ports.map((p) => p.id) } });

function stats() {
  if (destroyed) return { destroyed: true };
  const o = { link: native.xdpLinkInfo(linkId), ports: {} };
  for (const p of ports) {
    let counters = null;
    try { counters = native.counters(linkId, p.id); } catch { /* optional */ }
    o.ports[p.id] = { ...p.counts, counters };
  }
  try { o.linkCounters = native.counters(linkId); } catch { /* optional */ }
  return o;
}

let stop = false;
let destroyed = false;
function addPort(claims) {
  const id = native.addPort(linkId);
  for (const c of claims) native.claim(linkId, id, c.proto === 'tcp' ? 6 : 17, addrBytes(c.addr), c.port);
  ports.push({ id, g: makeGuest(), counts: { udp: 0, tcp: 0, other: 0, fragments: 0, echoed: 0 } });
  return id;
}
// Commands (stdin, one per line): stats | quit | remove PORT | add CLAIMS_JSON | destroy
createInterface({ input: process.stdin }).on('line', (line) => {
  const [cmd, ...rest] = line.trim().split(' ');
  try {
    if (cmd === 'stats') out({ stats: stats() });
    else if (cmd === 'quit') stop = true;
    else if (cmd === 'remove') {
      const id = Number(rest[0]);
      native.removePort(linkId, id);
      ports.splice(ports.findIndex((p) => p.id === id), 1);
      out({ removed: id, link: native.xdpLinkInfo(linkId) });
    } else if (cmd === 'add') {
      const id = addPort(JSON.parse(rest.join(' ')));
      out({ added: id, link: native.xdpLinkInfo(linkId) });
    } else if (cmd === 'destroy') {
      native.destroyLink(linkId);
      destroyed = true;
      ports.length = 0;
      out({ destroyed: true });
    }
  } catch (e) {
    out({ error: e.message, code: e.code });
  }
});
process.on('SIGTERM', () => { stop = true; });

// One pass over every port: move RX frames into the guest ring, echo them onto the
// TX ring, hand the TX ring to the addon.
function pass() {
  let moved = 0;
  for (const p of ports) {
    const { mem, v, u8 } = p.g;
    const n = native.rxToGuest(linkId, p.id, mem, RX, SLOTS);
    if (n < 0) throw new Error(native.lastError().message);
    if (n === 0) continue;
    moved += n;
    let head = v.getUint32(RX, true);
    const tail = v.getUint32(RX + 4, true);
    let txTail = v.getUint32(TX + 4, true);
    const txHead = v.getUint32(TX, true);
    for (; head !== tail; head = (head + 1) >>> 0) {
      const rs = RX + 32 + (head & (SLOTS - 1)) * 16;
      const len = v.getUint32(rs, true), buf = v.getUint32(rs + 8, true);
      if (!echoInPlace(u8, buf, len, p.counts)) continue;
      if (((txTail - txHead) >>> 0) >= SLOTS) continue; // TX ring full: drop
      const ts = TX + 32 + (txTail & (SLOTS - 1)) * 16;
      u8.copyWithin(v.getUint32(ts + 8, true), buf, buf + len);
      v.setUint32(ts, len, true);
      txTail = (txTail + 1) >>> 0;
      p.counts.echoed++;
    }
    v.setUint32(RX, head, true);
    v.setUint32(TX + 4, txTail, true);
    const sent = native.txFromGuest(linkId, p.id, mem, TX);
    if (sent < 0) throw new Error(native.lastError().message);
  }
  return moved;
}

function loop() {
  try {
    for (let i = 0; i < 64 && !stop; i++) {
      if (pass() === 0) {
        if (ports.length) native.wait(linkId, ports[0].id, ports.length === 1 ? 20 : 2);
        else if (destroyed) return setTimeout(loop, 20);
        break;
      }
    }
  } catch (e) {
    out({ error: e.message });
    process.exit(4);
  }
  if (stop) {
    out({ stats: stats() });
    if (!destroyed) native.destroyLink(linkId);
    process.exit(0);
  }
  setImmediate(loop);
}
loop();
