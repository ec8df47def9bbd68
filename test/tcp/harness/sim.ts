// AssemblyScript test harness for guest-sdk/assembly/tcp, compiled by test/tcp/harness.ts
// at test time. Two TcpEndpoints exchange real Ethernet/IP/TCP frames (built and parsed
// by TcpNetIf and the wire views) over a simulated link with a seeded PRNG for loss,
// duplication, reordering, corruption, a bottleneck rate and a drop-tail queue. Virtual
// time: the loop jumps to the next frame arrival or timer deadline.
//
// Every exported test returns 0 on success or a non-zero code, and reports named values
// through the `env.report` import (the JS side collects them).

import {
  TcpEndpoint, TcpConfig, TcpNetIf, FrameTx, TcpTuple, TcpConnection, TcpHandler,
  TcpListener, TcpListenHandler, TcpState, CloseReason, SegmentSink, TcpSegment,
  TCP_SYN, TCP_ACK, TCP_RST, TCP_FIN, TCP_PSH, newCubic, newFixedWindow, stateName,
  SendBuffer, RecvBuffer, RttEstimator,
} from "../../../guest-sdk/assembly/tcp/index";

// @ts-ignore: decorator
@external("env", "report")
declare function hostReport(keyPtr: usize, keyLen: u32, value: f64): void;

function report(key: string, value: f64): void {
  const b = String.UTF8.encode(key);
  hostReport(changetype<usize>(b), <u32>b.byteLength, value);
}

// @ts-ignore: decorator
@external("env", "log")
declare function hostLog(ptr: usize, len: u32): void;

function log(msg: string): void {
  const b = String.UTF8.encode(msg);
  hostLog(changetype<usize>(b), <u32>b.byteLength);
}

/** Log every frame the link carries (debugging; set by `setTrace`). */
let trace = false;
export function setTrace(on: bool): void { trace = on; }

function traceFrame(what: string, from: i32, buf: usize, len: u32, now: u64): void {
  const v6 = load<u8>(buf + 12) == 0x86;
  const ipHl: u32 = v6 ? 40 : 20;
  const t = buf + 14 + ipHl;
  const hl = (<u32>load<u8>(t + 12) >> 4) << 2;
  const f = load<u8>(t + 13);
  let fs = "";
  if (f & TCP_SYN) fs += "S";
  if (f & TCP_FIN) fs += "F";
  if (f & TCP_RST) fs += "R";
  if (f & TCP_PSH) fs += "P";
  if (f & TCP_ACK) fs += ".";
  log((<f64>now / 1e6).toString() + "ms " + what + " " + (from == 0 ? "A>B" : "B>A") + " " + fs +
    " seq=" + bswap<u32>(load<u32>(t + 4)).toString() + " ack=" + bswap<u32>(load<u32>(t + 8)).toString() +
    " len=" + (len - 14 - ipHl - hl).toString() + " win=" + bswap<u16>(load<u16>(t + 14)).toString());
}

let failures = 0;
function check(ok: bool, what: string): void {
  if (!ok) {
    failures++;
    report("fail: " + what, 1);
  }
}

const MS: u64 = 1_000_000;
const US: u64 = 1_000;
const SEC: u64 = 1_000_000_000;

// ---------------------------------------------------------------------------------------
// Seeded PRNG (xorshift64*)
// ---------------------------------------------------------------------------------------

class Rng {
  s: u64;
  constructor(seed: u64) { this.s = (seed + 1) * 0x9e3779b97f4a7c15; if (this.s == 0) this.s = 1; }
  next(): u64 {
    let x = this.s;
    x ^= x >> 12; x ^= x << 25; x ^= x >> 27;
    this.s = x;
    return x * 0x2545f4914f6cdd1d;
  }
  below(n: u32): u32 { return <u32>((this.next() >> 32) % <u64>n); }
  ppm(p: u32): bool { return p != 0 && this.below(1_000_000) < p; }
}

// ---------------------------------------------------------------------------------------
// Simulated link
// ---------------------------------------------------------------------------------------

class Pkt {
  buf: usize = 0;
  len: u32 = 0;
  at: u64 = 0;
  order: u64 = 0;
  to: i32 = 0;
}

class Link {
  rng: Rng;
  lossPpm: u32 = 0;
  dupPpm: u32 = 0;
  reorderPpm: u32 = 0;
  corruptPpm: u32 = 0;
  delay: u64 = 500 * US;
  reorderExtra: u64 = 3 * MS;
  /** Bottleneck rate, bytes per second (0 = unlimited). */
  rate: u64 = 0;
  /** Queue limit per direction, in full-size frame times. */
  queueFrames: u64 = 100;
  busyUntil: StaticArray<u64> = new StaticArray<u64>(2);
  heap: Array<Pkt> = new Array<Pkt>();
  order: u64 = 0;
  /** Manual mode: frames wait in `held` until released one by one (state tests). */
  manual: bool = false;
  held: Array<Pkt> = new Array<Pkt>();

  sent: u64 = 0;
  lost: u64 = 0;
  duplicated: u64 = 0;
  reordered: u64 = 0;
  corrupted: u64 = 0;
  queueDrops: u64 = 0;

  constructor(seed: u64) { this.rng = new Rng(seed); }

  submit(from: i32, data: usize, len: u32, now: u64): void {
    this.sent++;
    const to = 1 - from;
    if (trace) traceFrame("send", from, data, len, now);
    if (this.manual) { this.held.push(this.make(data, len, now, to)); return; }
    let depart = now;
    if (this.rate != 0) {
      const start = this.busyUntil[from] > now ? this.busyUntil[from] : now;
      const frameTime = <u64>1514 * SEC / this.rate;
      if (start - now > this.queueFrames * frameTime) { this.queueDrops++; if (trace) log("  queue drop"); return; }
      depart = start + <u64>len * SEC / this.rate;
      this.busyUntil[from] = depart;
    }
    if (this.rng.ppm(this.lossPpm)) { this.lost++; if (trace) log("  lost"); return; }
    let at = depart + this.delay;
    if (this.rng.ppm(this.reorderPpm)) { this.reordered++; at += 1 + <u64>this.rng.below(<u32>this.reorderExtra); }
    const p = this.make(data, len, at, to);
    if (this.rng.ppm(this.corruptPpm)) {
      this.corrupted++;
      const i = 14 + this.rng.below(len - 14);
      store<u8>(p.buf + i, load<u8>(p.buf + i) ^ <u8>(1 + this.rng.below(255)));
    }
    this.push(p);
    if (this.rng.ppm(this.dupPpm)) {
      this.duplicated++;
      this.push(this.make(p.buf, len, at + 1 + <u64>this.rng.below(<u32>MS), to));
    }
  }

  make(data: usize, len: u32, at: u64, to: i32): Pkt {
    const p = new Pkt();
    p.buf = heap.alloc(len);
    memory.copy(p.buf, data, len);
    p.len = len;
    p.at = at;
    p.order = this.order++;
    p.to = to;
    return p;
  }

  private less(a: Pkt, b: Pkt): bool { return a.at < b.at || (a.at == b.at && a.order < b.order); }

  push(p: Pkt): void {
    const h = this.heap;
    h.push(p);
    let i = h.length - 1;
    while (i > 0) {
      const par = (i - 1) >> 1;
      if (!this.less(h[i], h[par])) break;
      const t = h[i]; h[i] = h[par]; h[par] = t;
      i = par;
    }
  }

  nextAt(): u64 { return this.heap.length > 0 ? this.heap[0].at : 0; }

  pop(): Pkt {
    const h = this.heap;
    const top = h[0];
    const last = h.pop();
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      const n = h.length;
      while (true) {
        const l = 2 * i + 1, r = l + 1;
        let m = i;
        if (l < n && this.less(h[l], h[m])) m = l;
        if (r < n && this.less(h[r], h[m])) m = r;
        if (m == i) break;
        const t = h[i]; h[i] = h[m]; h[m] = t;
        i = m;
      }
    }
    return top;
  }
}

let simNow: u64 = 0;

class SimTx extends FrameTx {
  side: i32;
  link: Link;
  scratch: usize = heap.alloc(2048);
  constructor(side: i32, link: Link) { super(); this.side = side; this.link = link; }
  txBuffer(): usize { return this.scratch; }
  frameRoom(): u32 { return 2048; }
  txSend(len: u32): void { this.link.submit(this.side, this.scratch, len, simNow); }
}

// ---------------------------------------------------------------------------------------
// Data pattern and applications
// ---------------------------------------------------------------------------------------

/** Period of the data pattern: a prime, so no ring-buffer misplacement can go unnoticed. */
const PATTERN_LEN: u32 = 65521;
let pattern: usize = 0;

function makePattern(seed: u64): void {
  if (pattern == 0) pattern = heap.alloc(PATTERN_LEN);
  const r = new Rng(seed ^ 0xabcdef);
  for (let i: u32 = 0; i < PATTERN_LEN; i++) store<u8>(pattern + i, <u8>r.next());
}

let readBufShared: usize = 0;
function sharedReadBuf(): usize {
  if (readBufShared == 0) readBufShared = heap.alloc(16384);
  return readBufShared;
}

/** Sends `toSend` pattern bytes then closes; reads and verifies everything it receives. */
class StreamApp extends TcpHandler {
  toSend: u64 = 0;
  sent: u64 = 0;
  received: u64 = 0;
  mismatches: u64 = 0;
  hash: u64 = 0xcbf29ce484222325;
  closeSent: bool = false;
  eof: bool = false;
  closed: bool = false;
  connected: bool = false;
  reason: CloseReason = CloseReason.NONE;
  readPaused: bool = false;
  /** Close as soon as everything is sent (otherwise the test closes). */
  autoClose: bool = true;
  /** Give the connection back (TcpConnection.recycle) when it is reported closed. */
  recycleOnClose: bool = false;
  /** Check every received byte against the pattern (off for speed measurements). */
  verify: bool = true;
  conn: TcpConnection | null = null;
  /** Shared by every app: reads never overlap. */
  readBuf: usize = sharedReadBuf();
  readChunk: u32 = 16384;

  onConnected(c: TcpConnection): void { this.connected = true; this.conn = c; this.pump(c); }
  onWritable(c: TcpConnection): void { this.pump(c); }
  onReadable(c: TcpConnection): void { this.drain(c); }
  onClosed(c: TcpConnection, r: CloseReason): void {
    this.closed = true;
    this.reason = r;
    if (this.recycleOnClose) { this.conn = null; c.recycle(); }
  }

  pump(c: TcpConnection): void {
    while (this.sent < this.toSend) {
      const off = <u32>(this.sent % <u64>PATTERN_LEN);
      let n = <u32>min(<u64>(PATTERN_LEN - off), this.toSend - this.sent);
      const w = c.write(pattern + off, n);
      if (w <= 0) break;
      this.sent += <u64>w;
    }
    if (this.autoClose && this.sent == this.toSend && !this.closeSent) {
      this.closeSent = true;
      c.close();
    }
  }

  drain(c: TcpConnection): void {
    if (this.readPaused) return;
    while (true) {
      const n = c.read(this.readBuf, this.readChunk);
      if (n < 0) { this.eof = true; break; }
      if (n == 0) break;
      for (let i = 0; i < n && this.verify; i++) {
        const b = load<u8>(this.readBuf + i);
        const exp = load<u8>(pattern + <usize>((this.received + <u64>i) % <u64>PATTERN_LEN));
        if (b != exp) this.mismatches++;
        this.hash = (this.hash ^ <u64>b) * 0x100000001b3;
      }
      this.received += <u64>n;
    }
  }
}

class Acceptor extends TcpListenHandler {
  app: StreamApp;
  accepted: i32 = 0;
  constructor(app: StreamApp) { super(); this.app = app; }
  onAccept(l: TcpListener, c: TcpConnection): TcpHandler | null {
    this.accepted++;
    this.app.conn = c;
    this.app.connected = true;
    this.app.pump(c);
    return this.app;
  }
}

// ---------------------------------------------------------------------------------------
// A two-host world
// ---------------------------------------------------------------------------------------

const MAC_A: u64 = 0x02000000000a;
const MAC_B: u64 = 0x02000000000b;

const FLAG_V6: u32 = 1;
const FLAG_NO_SACK: u32 = 2;
const FLAG_NO_TS: u32 = 4;
const FLAG_NO_WSCALE: u32 = 8;
const FLAG_CUBIC: u32 = 16;
const FLAG_FIXED: u32 = 32;
const FLAG_NAGLE: u32 = 64;
const FLAG_SMALL_BUF: u32 = 128;
const FLAG_NO_DACK: u32 = 256;

class World {
  link: Link;
  a: TcpEndpoint;
  b: TcpEndpoint;
  nifA: TcpNetIf;
  nifB: TcpNetIf;
  v6: bool;
  addrA: usize = heap.alloc(16);
  addrB: usize = heap.alloc(16);

  constructor(seed: u64, flags: u32) {
    const link = new Link(seed);
    const nifA = new TcpNetIf(MAC_A, new SimTx(0, link));
    const nifB = new TcpNetIf(MAC_B, new SimTx(1, link));
    const secA = new Uint8Array(32), secB = new Uint8Array(32);
    const r = new Rng(seed * 7 + 3);
    for (let i = 0; i < 32; i++) { secA[i] = <u8>r.next(); secB[i] = <u8>r.next(); }
    this.v6 = (flags & FLAG_V6) != 0;
    this.link = link;
    this.nifA = nifA;
    this.nifB = nifB;
    this.a = new TcpEndpoint(nifA, World.config(flags), secA);
    this.b = new TcpEndpoint(nifB, World.config(flags), secB);
    this.nifA.endpoint = this.a;
    this.nifB.endpoint = this.b;
    memory.fill(this.addrA, 0, 16);
    memory.fill(this.addrB, 0, 16);
    if (this.v6) {
      store<u16>(this.addrA, 0x80fe); store<u8>(this.addrA + 15, 0x0a);
      store<u16>(this.addrB, 0x80fe); store<u8>(this.addrB + 15, 0x0b);
    } else {
      store<u32>(this.addrA, 0x0100000a); // 10.0.0.1
      store<u32>(this.addrB, 0x0200000a); // 10.0.0.2
    }
  }

  static config(flags: u32): TcpConfig {
    const c = new TcpConfig();
    if ((flags & FLAG_NO_SACK) != 0) c.sack = false;
    if ((flags & FLAG_NO_TS) != 0) c.timestamps = false;
    if ((flags & FLAG_NO_WSCALE) != 0) c.windowScale = false;
    if ((flags & FLAG_CUBIC) != 0) c.cc = newCubic;
    if ((flags & FLAG_FIXED) != 0) c.cc = newFixedWindow;
    if ((flags & FLAG_NAGLE) != 0) c.noDelay = false;
    if ((flags & FLAG_NO_DACK) != 0) c.delayedAck = 0;
    if ((flags & FLAG_SMALL_BUF) != 0) { c.rcvBuf = 4096; c.sndBuf = 4096; }
    else { c.rcvBuf = 256 * 1024; c.sndBuf = 256 * 1024; }
    c.timeWait = 2 * SEC;
    return c;
  }

  /** Tuple from A (client, port `cport`) to B port `sport`. */
  tupleAB(cport: u16, sport: u16): TcpTuple {
    const t = new TcpTuple();
    if (this.v6) t.setV6(this.addrA, cport, this.addrB, sport);
    else t.setV4(this.addrA, cport, this.addrB, sport);
    return t;
  }

  /** Delivers due frames and polls both endpoints at `simNow`. */
  step(): void {
    const link = this.link;
    while (link.heap.length > 0 && link.heap[0].at <= simNow) {
      const p = link.pop();
      (p.to == 0 ? this.nifA : this.nifB).receive(p.buf, p.len, simNow);
      heap.free(p.buf);
    }
    this.a.poll(simNow);
    this.b.poll(simNow);
  }

  /** Advances to the next event. False when nothing is left to happen. */
  advance(limit: u64): bool {
    let next: u64 = 0;
    const la = this.link.nextAt();
    if (la != 0) next = la;
    const da = this.a.nextDeadline(simNow);
    if (da != 0 && (next == 0 || da < next)) next = da;
    const db = this.b.nextDeadline(simNow);
    if (db != 0 && (next == 0 || db < next)) next = db;
    if (next == 0) return false;
    if (next <= simNow) next = simNow + 1;
    if (next > limit) next = limit;
    simNow = next;
    return true;
  }

  /** Manual mode: delivers the oldest held frame. False if none. */
  deliverOne(): bool {
    const h = this.link.held;
    if (h.length == 0) return false;
    const p = h.shift();
    (p.to == 0 ? this.nifA : this.nifB).receive(p.buf, p.len, simNow);
    heap.free(p.buf);
    this.a.poll(simNow);
    this.b.poll(simNow);
    return true;
  }

  /** Manual mode: drops the oldest held frame. */
  dropOne(): void {
    const p = this.link.held.shift();
    heap.free(p.buf);
  }

  /** Manual mode: flags of the oldest held frame's TCP header (Ethernet + IP + 13). */
  heldFlags(): i32 {
    const h = this.link.held;
    if (h.length == 0) return -1;
    const p = h[0];
    const ipHl: u32 = this.v6 ? 40 : 20;
    return <i32>load<u8>(p.buf + 14 + ipHl + 13);
  }

  reportStats(prefix: string): void {
    const s = this.a.stats, t = this.b.stats;
    report(prefix + "a.retransmits", <f64>s.retransmits);
    report(prefix + "a.fastRetransmits", <f64>s.fastRetransmits);
    report(prefix + "a.rtos", <f64>s.rtos);
    report(prefix + "a.segsOut", <f64>s.segsOut);
    report(prefix + "a.segsIn", <f64>s.segsIn);
    report(prefix + "b.retransmits", <f64>t.retransmits);
    report(prefix + "b.fastRetransmits", <f64>t.fastRetransmits);
    report(prefix + "b.rtos", <f64>t.rtos);
    report(prefix + "b.segsOut", <f64>t.segsOut);
    report(prefix + "b.segsIn", <f64>t.segsIn);
    report(prefix + "a.oooSegs", <f64>s.oooSegs);
    report(prefix + "b.oooSegs", <f64>t.oooSegs);
    report(prefix + "a.windowProbes", <f64>s.windowProbes);
    report(prefix + "b.windowProbes", <f64>t.windowProbes);
    report(prefix + "rxBadChecksum", <f64>(this.nifA.stats.rxBadChecksum + this.nifB.stats.rxBadChecksum));
    report(prefix + "rxMalformed", <f64>(this.nifA.stats.rxMalformed + this.nifB.stats.rxMalformed));
    report(prefix + "link.sent", <f64>this.link.sent);
    report(prefix + "link.lost", <f64>this.link.lost);
    report(prefix + "link.duplicated", <f64>this.link.duplicated);
    report(prefix + "link.reordered", <f64>this.link.reordered);
    report(prefix + "link.corrupted", <f64>this.link.corrupted);
    report(prefix + "link.queueDrops", <f64>this.link.queueDrops);
    report(prefix + "pool.used", <f64>(this.a.pool.used + this.b.pool.used));
  }
}

// ---------------------------------------------------------------------------------------
// Bulk transfer under impairments
// ---------------------------------------------------------------------------------------

/**
 * A connects to B; A sends `bytesAB`, B sends `bytesBA` at the same time; both close
 * after sending. Checks every byte, EOF on both sides and a normal close.
 */
export function transfer(seed: u32, lossPpm: u32, dupPpm: u32, reorderPpm: u32, corruptPpm: u32,
                         bytesAB: u32, bytesBA: u32, flags: u32, rateMbps: u32, delayUs: u32): i32 {
  failures = 0;
  simNow = 1 * SEC;
  makePattern(seed);
  const w = new World(<u64>seed, flags);
  const link = w.link;
  link.lossPpm = lossPpm;
  link.dupPpm = dupPpm;
  link.reorderPpm = reorderPpm;
  link.corruptPpm = corruptPpm;
  link.delay = <u64>delayUs * US;
  link.rate = <u64>rateMbps * 125_000;
  const appA = new StreamApp();
  appA.toSend = bytesAB;
  const appB = new StreamApp();
  appB.toSend = bytesBA;
  w.b.listen(80, 16, new Acceptor(appB));
  const c = w.a.connect(w.tupleAB(40000, 80), appA, simNow, MAC_B);
  check(c !== null, "connect returned null");
  if (c === null) return 1;
  appA.conn = c;
  const start = simNow;
  const limit = start + 1200 * SEC;
  while (simNow < limit) {
    w.step();
    if (appA.closed && appB.closed && appA.eof && appB.eof) break;
    if (!w.advance(limit)) break;
  }
  const elapsed = simNow - start;
  report("simSeconds", <f64>elapsed / 1e9);
  report("a.received", <f64>appA.received);
  report("b.received", <f64>appB.received);
  report("mismatches", <f64>(appA.mismatches + appB.mismatches));
  report("a.reason", <f64>appA.reason);
  report("b.reason", <f64>appB.reason);
  report("goodputMbps", <f64>(bytesAB + bytesBA) * 8 / (<f64>elapsed / 1e9) / 1e6);
  if (c !== null) {
    report("a.srttUs", <f64>c.rtt.srtt / 1e3);
    report("a.cwnd", <f64>c.cc.cwnd);
    report("a.sndWscale", <f64>c.sndWscale);
    report("a.mss", <f64>c.mss);
    report("a.sackOk", c.sackOk ? 1 : 0);
    report("a.tsOk", c.tsOk ? 1 : 0);
  }
  w.reportStats("");
  check(appA.received == <u64>bytesBA, "A received all of B's bytes");
  check(appB.received == <u64>bytesAB, "B received all of A's bytes");
  check(appA.mismatches == 0 && appB.mismatches == 0, "data intact");
  check(appA.eof && appB.eof, "both saw EOF");
  check(appA.closed && appB.closed, "both closed");
  check(appA.reason == CloseReason.NORMAL && appB.reason == CloseReason.NORMAL, "normal close");
  // Run out the clock: TIME-WAIT ends, every buffer goes back to the pool.
  const end = simNow + 10 * SEC;
  while (simNow < end) { w.step(); if (!w.advance(end)) break; }
  w.step();
  report("a.connsAfter", <f64>w.a.count);
  report("b.connsAfter", <f64>w.b.count);
  check(w.a.count == 0 && w.b.count == 0, "all connections gone after TIME-WAIT");
  check(w.a.timers.size == 0 && w.b.timers.size == 0, "no timers left");
  return failures;
}

// ---------------------------------------------------------------------------------------
// Handshake and teardown, frame by frame
// ---------------------------------------------------------------------------------------

function only(ep: TcpEndpoint): TcpConnection | null {
  const all = ep.connections();
  return all.length == 1 ? all[0] : null;
}

function st(c: TcpConnection | null): i32 { return c === null ? -1 : <i32>c.state; }

/** Three-way handshake, then A closes first; checks every intermediate state. */
export function handshakeTeardown(v6: bool): i32 {
  failures = 0;
  simNow = 5 * SEC;
  makePattern(1);
  const w = new World(1, v6 ? FLAG_V6 : 0);
  w.link.manual = true;
  const appA = new StreamApp(); appA.autoClose = false;
  const appB = new StreamApp(); appB.autoClose = false;
  const acc = new Acceptor(appB);
  const l = w.b.listen(80, 4, acc);
  const c = w.a.connect(w.tupleAB(40001, 80), appA, simNow, MAC_B)!;
  check(c.state == TcpState.SYN_SENT, "A SYN-SENT after connect");
  check(w.heldFlags() == TCP_SYN, "first frame is a SYN");
  w.deliverOne();
  const s = only(w.b);
  check(st(s) == TcpState.SYN_RECEIVED, "B SYN-RECEIVED after SYN");
  check(l.synPending == 1, "one half-open on the listener");
  check(w.heldFlags() == (TCP_SYN | TCP_ACK), "B answers SYN-ACK");
  w.deliverOne();
  check(c.state == TcpState.ESTABLISHED, "A ESTABLISHED after SYN-ACK");
  check(appA.connected, "A got onConnected");
  check(w.heldFlags() == TCP_ACK, "A sends the final ACK");
  w.deliverOne();
  check(st(s) == TcpState.ESTABLISHED, "B ESTABLISHED after ACK");
  check(acc.accepted == 1 && l.synPending == 0, "B accepted once");
  check(c.sackOk && c.tsOk && c.sndWscale > 0, "options negotiated");

  // Data both ways.
  appA.toSend = 1000; appA.pump(c);
  appB.toSend = 500; appB.pump(s!);
  w.a.poll(simNow); w.b.poll(simNow);
  let guard = 0;
  while (w.link.held.length > 0 && guard++ < 100) w.deliverOne();
  check(appB.received == 1000 && appA.received == 500, "data exchanged");

  // A closes first: FIN-WAIT-1 -> FIN-WAIT-2 -> TIME-WAIT; B: CLOSE-WAIT -> LAST-ACK -> CLOSED.
  c.close();
  check(c.state == TcpState.FIN_WAIT_1, "A FIN-WAIT-1 after close");
  w.a.poll(simNow);
  check((w.heldFlags() & TCP_FIN) != 0, "A sends FIN");
  w.deliverOne();
  check(s!.state == TcpState.CLOSE_WAIT, "B CLOSE-WAIT after FIN");
  check(appB.eof, "B sees EOF");
  // B's ACK of the FIN may be delayed or immediate: deliver what is there.
  guard = 0;
  while (w.link.held.length > 0 && guard++ < 10) w.deliverOne();
  check(c.state == TcpState.FIN_WAIT_2, "A FIN-WAIT-2 after ACK of FIN");
  s!.close();
  check(s!.state == TcpState.LAST_ACK, "B LAST-ACK after close");
  w.b.poll(simNow);
  check((w.heldFlags() & TCP_FIN) != 0, "B sends FIN");
  w.deliverOne();
  check(c.state == TcpState.TIME_WAIT, "A TIME-WAIT after B's FIN");
  check(appA.eof && appA.closed && appA.reason == CloseReason.NORMAL, "A closed normally");
  check(w.heldFlags() == TCP_ACK, "A ACKs the FIN");
  w.deliverOne();
  check(s!.state == TcpState.CLOSED, "B CLOSED after last ACK");
  check(appB.closed && appB.reason == CloseReason.NORMAL, "B closed normally");
  check(w.b.count == 0, "B's table empty");
  check(w.a.count == 1 && w.a.timeWaitCount == 1, "A holds one TIME-WAIT");
  check(c.tx.buf == 0, "TIME-WAIT released the send buffer");

  // A retransmitted FIN in TIME-WAIT gets an ACK again.
  simNow += 1 * SEC;
  w.a.poll(simNow);
  check(c.state == TcpState.TIME_WAIT, "still TIME-WAIT after 1 s");
  simNow += 1 * SEC + 1;
  w.a.poll(simNow);
  check(c.state == TcpState.CLOSED && w.a.count == 0, "TIME-WAIT over after 2 MSL");
  check(w.a.pool.used == w.a.pool.used, "pool consistent");
  return failures;
}

/** Both sides close at once: FIN-WAIT-1 -> CLOSING -> TIME-WAIT on both. */
export function simultaneousClose(): i32 {
  failures = 0;
  simNow = 5 * SEC;
  makePattern(2);
  const w = new World(2, 0);
  w.link.manual = true;
  const appA = new StreamApp(); appA.autoClose = false;
  const appB = new StreamApp(); appB.autoClose = false;
  w.b.listen(80, 4, new Acceptor(appB));
  const c = w.a.connect(w.tupleAB(40002, 80), appA, simNow, MAC_B)!;
  for (let i = 0; i < 3; i++) w.deliverOne();
  const s = only(w.b)!;
  check(c.state == TcpState.ESTABLISHED && s.state == TcpState.ESTABLISHED, "established");
  c.close(); s.close();
  w.a.poll(simNow); w.b.poll(simNow);
  check(w.link.held.length == 2, "two FINs in flight");
  w.deliverOne(); w.deliverOne();
  check(c.state == TcpState.CLOSING && s.state == TcpState.CLOSING, "both CLOSING");
  let guard = 0;
  while (w.link.held.length > 0 && guard++ < 10) w.deliverOne();
  check(c.state == TcpState.TIME_WAIT && s.state == TcpState.TIME_WAIT, "both TIME-WAIT");
  return failures;
}

/** Simultaneous open (RFC 9293 figure 8): both SYN-SENT, both end ESTABLISHED. */
export function simultaneousOpen(): i32 {
  failures = 0;
  simNow = 5 * SEC;
  makePattern(3);
  const w = new World(3, 0);
  w.link.manual = true;
  const appA = new StreamApp(); appA.autoClose = false;
  const appB = new StreamApp(); appB.autoClose = false;
  const ta = w.tupleAB(5000, 6000);
  const tb = new TcpTuple();
  tb.setV4(w.addrB, 6000, w.addrA, 5000);
  const ca = w.a.connect(ta, appA, simNow, MAC_B)!;
  const cb = w.b.connect(tb, appB, simNow, MAC_A)!;
  w.deliverOne(); w.deliverOne();
  check(ca.state == TcpState.SYN_RECEIVED && cb.state == TcpState.SYN_RECEIVED, "both SYN-RECEIVED");
  let guard = 0;
  while (w.link.held.length > 0 && guard++ < 10) w.deliverOne();
  check(ca.state == TcpState.ESTABLISHED && cb.state == TcpState.ESTABLISHED, "both ESTABLISHED");
  appA.toSend = 3000; appA.pump(ca);
  w.a.poll(simNow);
  guard = 0;
  while (w.link.held.length > 0 && guard++ < 20) w.deliverOne();
  check(appB.received == 3000 && appB.mismatches == 0, "data after simultaneous open");
  return failures;
}

/** Lost SYN and lost SYN-ACK are retransmitted with backoff; connection still forms. */
export function synRetransmit(): i32 {
  failures = 0;
  simNow = 5 * SEC;
  makePattern(4);
  const w = new World(4, 0);
  w.link.manual = true;
  const appA = new StreamApp(); appA.autoClose = false;
  const appB = new StreamApp(); appB.autoClose = false;
  w.b.listen(80, 4, new Acceptor(appB));
  const c = w.a.connect(w.tupleAB(40003, 80), appA, simNow, MAC_B)!;
  w.dropOne(); // SYN lost
  const t0 = simNow;
  simNow = c.deadline;
  report("synRtoMs", <f64>(simNow - t0) / 1e6);
  check(simNow - t0 == 1 * SEC, "initial RTO is 1 s");
  w.a.poll(simNow);
  check(w.heldFlags() == TCP_SYN, "SYN retransmitted");
  w.deliverOne();
  w.dropOne(); // SYN-ACK lost
  const s = only(w.b)!;
  const t1 = simNow;
  simNow = s.deadline;
  report("synAckRtoMs", <f64>(simNow - t1) / 1e6);
  w.b.poll(simNow);
  check(w.heldFlags() == (TCP_SYN | TCP_ACK), "SYN-ACK retransmitted");
  // A's second SYN retransmission is due 2 s after the first (backoff).
  check(c.deadline - t0 >= 2 * SEC, "SYN backoff doubles");
  let guard = 0;
  while (w.link.held.length > 0 && guard++ < 10) w.deliverOne();
  check(c.state == TcpState.ESTABLISHED && s.state == TcpState.ESTABLISHED, "established after losses");
  check(c.rtt.rto >= 3 * SEC, "RFC 6298 5.7: RTO 3 s after a retransmitted SYN");
  return failures;
}

/** Active open to a port with no listener is refused by RST; give-up after SYN retries. */
export function refusedAndTimeout(): i32 {
  failures = 0;
  simNow = 5 * SEC;
  makePattern(5);
  const w = new World(5, 0);
  const appA = new StreamApp(); appA.autoClose = false;
  const c = w.a.connect(w.tupleAB(40004, 81), appA, simNow, MAC_B)!;
  let guard = 0;
  while (!appA.closed && guard++ < 100) { w.step(); if (!w.advance(simNow + 10 * SEC)) break; }
  check(c.state == TcpState.CLOSED && appA.reason == CloseReason.REFUSED, "refused by RST");
  check(w.b.stats.noListener == 1 && w.b.stats.rstOut == 1, "B answered the SYN with RST");

  // Peer that never answers: the SYN is retried synRetries times, then TIMEOUT.
  const appC = new StreamApp(); appC.autoClose = false;
  w.link.lossPpm = 1_000_000;
  const c2 = w.a.connect(w.tupleAB(40005, 80), appC, simNow, MAC_B)!;
  const t0 = simNow;
  guard = 0;
  while (!appC.closed && guard++ < 1000) { w.step(); if (!w.advance(simNow + 1000 * SEC)) break; }
  report("synGiveUpSeconds", <f64>(simNow - t0) / 1e9);
  check(c2.state == TcpState.CLOSED && appC.reason == CloseReason.TIMEOUT, "SYN timeout");
  check(w.a.stats.synRetransmits == 6, "six SYN retransmissions");
  check(w.a.count == 0, "nothing left");
  return failures;
}

// ---------------------------------------------------------------------------------------
// Segment-level tests: a scripted peer talks to one endpoint through a capturing sink
// ---------------------------------------------------------------------------------------

class Captured {
  seq: u32 = 0;
  ack: u32 = 0;
  flags: u8 = 0;
  window: u16 = 0;
  len: u32 = 0;
  tsPresent: bool = false;
  tsVal: u32 = 0;
  tsEcr: u32 = 0;
  mss: u16 = 0;
  wscale: i32 = -1;
  sackCount: i32 = 0;
  sackPermitted: bool = false;
  dstPort: u16 = 0;
  remoteLo: u64 = 0;
}

class CaptureSink extends SegmentSink {
  out: Array<Captured> = new Array<Captured>();
  keep: bool = true;
  count: u64 = 0;
  send(t: TcpTuple, linkAddr: u64, seg: TcpSegment): bool {
    this.count++;
    if (!this.keep) return true;
    const c = new Captured();
    c.seq = seg.seq; c.ack = seg.ack; c.flags = seg.flags; c.window = seg.window;
    c.len = seg.dataLen; c.tsPresent = seg.tsPresent; c.tsVal = seg.tsVal; c.tsEcr = seg.tsEcr;
    c.mss = seg.mss; c.wscale = seg.wscale; c.sackCount = seg.sackCount;
    c.sackPermitted = seg.sackPermitted;
    c.dstPort = seg.dstPort; c.remoteLo = t.remoteLo;
    this.out.push(c);
    return true;
  }
  last(): Captured { return this.out[this.out.length - 1]; }
  clear(): void { this.out.length = 0; }
}

/** A scripted remote peer: builds segments and feeds them to the endpoint under test. */
class Peer {
  ep: TcpEndpoint;
  sink: CaptureSink;
  t: TcpTuple = new TcpTuple();
  seg: TcpSegment = new TcpSegment();
  seq: u32 = 1000;
  ack: u32 = 0;
  tsVal: u32 = 100;
  useTs: bool = true;
  data: usize = heap.alloc(4096);
  localAddr: usize = heap.alloc(4);
  remoteAddr: usize = heap.alloc(4);

  constructor(ep: TcpEndpoint, sink: CaptureSink, remoteIp: u32, remotePort: u16) {
    this.ep = ep;
    this.sink = sink;
    store<u32>(this.localAddr, 0x0200000a);
    store<u32>(this.remoteAddr, remoteIp);
    this.t.setV4(this.localAddr, 80, this.remoteAddr, remotePort);
    for (let i = 0; i < 4096; i++) store<u8>(this.data + i, <u8>i);
  }

  send(flags: u8, seq: u32, ack: u32, len: u32, window: u16 = 65535): void {
    const s = this.seg.reset();
    s.srcPort = this.t.remotePort;
    s.dstPort = this.t.localPort;
    s.seq = seq; s.ack = ack; s.flags = flags; s.window = window;
    if (this.useTs) { s.tsPresent = true; s.tsVal = this.tsVal; s.tsEcr = 0; }
    s.payloadPtr = this.data; s.payloadLen = len;
    this.ep.input(this.t, s, 0x020000000099, simNow);
  }

  /** SYN with MSS 1460, wscale 7, SACK-permitted, timestamps. */
  syn(): void {
    const s = this.seg.reset();
    s.srcPort = this.t.remotePort; s.dstPort = this.t.localPort;
    s.seq = this.seq; s.flags = TCP_SYN; s.window = 65535;
    s.mss = 1460; s.wscale = 7; s.sackPermitted = true;
    if (this.useTs) { s.tsPresent = true; s.tsVal = this.tsVal; }
    this.ep.input(this.t, s, 0x020000000099, simNow);
  }

  /** Completes a handshake with the endpoint's listener; returns its connection. */
  connect(): TcpConnection | null {
    this.sink.clear();
    this.syn();
    if (this.sink.out.length == 0) return null;
    const sa = this.sink.last();
    if (sa.flags != (TCP_SYN | TCP_ACK)) return null;
    this.seq += 1;
    this.ack = sa.seq + 1;
    this.tsVal++;
    this.send(TCP_ACK, this.seq, this.ack, 0);
    this.ep.poll(simNow);
    return this.ep.lookup(this.t);
  }
}

function segmentWorld(sink: CaptureSink, cfg: TcpConfig): TcpEndpoint {
  const sec = new Uint8Array(32);
  for (let i = 0; i < 32; i++) sec[i] = <u8>(i * 37 + 11);
  return new TcpEndpoint(sink, cfg, sec);
}

/** Our FIN's sequence number in the last closedFirst(). */
let lastFinSeq: u32 = 0;
/**
 * `p` connects; we close first and the peer ACKs our FIN with its own: the connection
 * (returned) is in TIME-WAIT, and lastFinSeq holds our FIN's sequence number.
 */
function closedFirst(ep: TcpEndpoint, sink: CaptureSink, p: Peer, i: i32): TcpConnection {
  const c = p.connect()!;
  c.close();
  ep.poll(simNow);
  const fin = sink.last();
  lastFinSeq = fin.seq;
  p.send(TCP_ACK | TCP_FIN, p.seq, fin.seq + 1, 0);
  ep.poll(simNow);
  check(c.state == TcpState.TIME_WAIT, "TIME-WAIT " + i.toString());
  return c;
}

/** RFC 5961 RST handling and out-of-window segments on an established connection. */
export function hostileSegments(): i32 {
  failures = 0;
  simNow = 10 * SEC;
  const sink = new CaptureSink();
  const cfg = new TcpConfig();
  const ep = segmentWorld(sink, cfg);
  const app = new StreamApp(); app.autoClose = false;
  makePattern(9);
  ep.listen(80, 8, new Acceptor(app));
  const p = new Peer(ep, sink, 0x0900000a, 50000);
  const c = p.connect();
  check(c !== null && c.state == TcpState.ESTABLISHED, "scripted handshake");
  if (c === null) return failures;
  const rcvNxt = c.rcvNxt;
  check(rcvNxt == p.seq, "RCV.NXT after handshake");

  // 1. RST with an in-window but inexact sequence number: challenge ACK, no reset.
  sink.clear();
  p.send(TCP_RST, p.seq + 100, 0, 0);
  check(c.state == TcpState.ESTABLISHED, "inexact RST does not reset");
  check(sink.out.length == 1 && sink.last().flags == TCP_ACK && sink.last().ack == rcvNxt, "challenge ACK for inexact RST");
  // 2. RST outside the window: silently dropped.
  sink.clear();
  p.send(TCP_RST, p.seq + 0x40000000, 0, 0);
  check(c.state == TcpState.ESTABLISHED && sink.out.length == 0, "out-of-window RST ignored silently");
  // 3. SYN on an established connection: challenge ACK (RFC 5961 4).
  sink.clear();
  p.syn();
  check(c.state == TcpState.ESTABLISHED, "SYN does not reset");
  check(sink.out.length == 1 && sink.last().flags == TCP_ACK, "challenge ACK for SYN");
  // 4. Data far outside the window: ACK, nothing delivered.
  sink.clear();
  p.send(TCP_ACK | TCP_PSH, p.seq + 0x10000000, p.ack, 100);
  ep.poll(simNow);
  check(c.readable == 0 && sink.out.length == 1 && sink.last().ack == rcvNxt, "out-of-window data ACKed, dropped");
  // 5. Old duplicate data (entirely before RCV.NXT): ACK, nothing delivered.
  sink.clear();
  p.send(TCP_ACK, p.seq - 200, p.ack, 100);
  check(c.readable == 0 && sink.out.length == 1, "old data ACKed, dropped");
  // 6. ACK of data never sent: ACK back, dropped.
  sink.clear();
  p.send(TCP_ACK, p.seq, p.ack + 5000, 10);
  check(c.readable == 0 && sink.out.length == 1 && c.sndUna == p.ack, "ACK of unsent data dropped");
  // 7. ACK far below SND.UNA - MAX.SND.WND: challenge ACK (RFC 5961 5.2), data not taken.
  sink.clear();
  p.send(TCP_ACK, p.seq, p.ack - 0x20000000, 10);
  check(c.readable == 0 && sink.out.length == 1, "ancient ACK challenged");
  // 8. PAWS: an old timestamp is rejected.
  sink.clear();
  const saved = p.tsVal;
  p.tsVal = saved - 10;
  p.send(TCP_ACK, p.seq, p.ack, 10);
  p.tsVal = saved;
  check(c.readable == 0 && ep.stats.pawsDropped == 1, "PAWS drops an old timestamp");
  // 9. Valid in-order data is taken.
  p.send(TCP_ACK | TCP_PSH, p.seq, p.ack, 10);
  check(c.readable == 10, "in-order data accepted");
  p.seq += 10;
  // 10. Exact RST resets.
  p.send(TCP_RST, p.seq, 0, 0);
  ep.poll(simNow);
  check(c.state == TcpState.CLOSED && app.reason == CloseReason.RESET, "exact RST resets");
  check(ep.count == 0, "table empty after reset");

  // 11. Challenge ACKs are rate limited per second.
  const p2 = new Peer(ep, sink, 0x0a00000a, 50001);
  const c2 = p2.connect()!;
  const before = ep.stats.challengeAcks;
  for (let i = 0; i < 5000; i++) p2.send(TCP_RST, p2.seq + 1 + <u32>i, 0, 0);
  const sent = ep.stats.challengeAcks - before;
  report("challengeAcksIn1s", <f64>sent);
  check(sent <= <u64>cfg.challengeAckLimit, "challenge ACKs limited");
  check(c2.state == TcpState.ESTABLISHED, "blind RSTs do not kill the connection");

  // 12. Segments to a closed port: RST with the right numbers (RFC 9293 3.10.7.1).
  sink.clear();
  simNow += 2 * SEC;
  const p3 = new Peer(ep, sink, 0x0b00000a, 50002);
  p3.t.localPort = 81;
  p3.send(TCP_SYN, 7777, 0, 0);
  check(sink.out.length == 1 && sink.last().flags == (TCP_RST | TCP_ACK) && sink.last().ack == 7778 && sink.last().seq == 0, "RST|ACK to SYN on closed port");
  sink.clear();
  p3.send(TCP_ACK, 1, 4242, 0);
  check(sink.out.length == 1 && sink.last().flags == TCP_RST && sink.last().seq == 4242, "RST seq=SEG.ACK to ACK on closed port");
  sink.clear();
  p3.send(TCP_RST, 1, 0, 0);
  check(sink.out.length == 0, "never answer RST with RST");
  // 13. A stray ACK to the listener (no cookie): RST.
  sink.clear();
  const p4 = new Peer(ep, sink, 0x0c00000a, 50003);
  p4.send(TCP_ACK, 1, 99999, 0);
  check(sink.out.length == 1 && sink.last().flags == TCP_RST && sink.last().seq == 99999, "RST to stray ACK at listener");
  check(ep.stats.synCookiesBad == 1, "bad cookie counted");
  return failures;
}

/**
 * SYN flood: `n` SYNs from distinct spoofed sources. Half-open state stays within the
 * backlog, the rest get SYN cookies, memory stays flat; a client completing a cookie
 * handshake afterwards gets a working connection.
 */
export function synFlood(n: u32): i32 {
  failures = 0;
  simNow = 100 * SEC;
  const sink = new CaptureSink();
  sink.keep = false;
  const cfg = new TcpConfig();
  cfg.synBacklog = 64;
  const ep = segmentWorld(sink, cfg);
  const app = new StreamApp(); app.autoClose = false;
  makePattern(10);
  const acc = new Acceptor(app);
  const l = ep.listen(80, 8, acc);
  const seg = new TcpSegment();
  const t = new TcpTuple();
  const la = heap.alloc(4), ra = heap.alloc(4);
  store<u32>(la, 0x0200000a);
  const r = new Rng(77);
  const pagesBefore = memory.size();
  for (let i: u32 = 0; i < n; i++) {
    store<u32>(ra, <u32>r.next() | 1);
    t.setV4(la, 80, ra, <u16>(1024 + r.below(60000)));
    seg.reset();
    seg.srcPort = t.remotePort; seg.dstPort = 80;
    seg.seq = <u32>r.next(); seg.flags = TCP_SYN; seg.window = 65535; seg.mss = 1460;
    ep.input(t, seg, 0x020000000099, simNow);
    if ((i & 1023) == 0) { simNow += MS; ep.poll(simNow); }
  }
  ep.poll(simNow);
  const pagesAfter = memory.size();
  report("halfOpen", <f64>l.synPending);
  report("conns", <f64>ep.count);
  report("cookiesSent", <f64>ep.stats.synCookiesSent);
  report("pagesGrowth", <f64>(pagesAfter - pagesBefore));
  report("poolUsed", <f64>ep.pool.used);
  check(l.synPending <= cfg.synBacklog, "half-open bounded by the backlog");
  check(ep.count <= cfg.synBacklog, "connections bounded");
  check(ep.stats.synCookiesSent >= <u64>(n - <u32>cfg.synBacklog), "cookies for the rest");
  check(ep.pool.used == 0, "no buffers for half-open connections");
  check(pagesAfter - pagesBefore <= 16, "memory flat under the flood (<= 1 MiB growth)");

  // Half-open ones time out after the SYN-ACK retries.
  for (let i = 0; i < 200; i++) { simNow += 1 * SEC; ep.poll(simNow); }
  check(ep.count == 0 && l.synPending == 0, "half-open connections expire");

  // A legitimate client gets a cookie while the backlog is full.
  sink.keep = true;
  for (let i = 0; i < cfg.synBacklog; i++) {
    store<u32>(ra, 0x01000000 | <u32>i);
    t.setV4(la, 80, ra, 3333);
    seg.reset(); seg.srcPort = 3333; seg.dstPort = 80; seg.seq = 5; seg.flags = TCP_SYN; seg.window = 1000;
    ep.input(t, seg, 0x020000000099, simNow);
  }
  check(l.synPending == cfg.synBacklog, "backlog full again");
  sink.clear();
  const p = new Peer(ep, sink, 0x0d00000a, 44444);
  p.syn();
  check(sink.out.length == 1 && sink.last().flags == (TCP_SYN | TCP_ACK), "cookie SYN-ACK");
  const sa = sink.last();
  check(sa.tsPresent && (sa.tsVal & 0x20) != 0, "options carried in the timestamp");
  check(sa.wscale >= 0 && sa.sackPermitted, "cookie SYN-ACK offers wscale and SACK");
  // Wrong cookie: rejected.
  p.seq += 1;
  p.tsVal++;
  const s2 = p.seg.reset();
  s2.srcPort = p.t.remotePort; s2.dstPort = 80; s2.seq = p.seq; s2.ack = sa.seq + 2; s2.flags = TCP_ACK; s2.window = 1000;
  s2.tsPresent = true; s2.tsVal = p.tsVal; s2.tsEcr = sa.tsVal;
  sink.clear();
  ep.input(p.t, s2, 0x020000000099, simNow);
  check(ep.lookup(p.t) === null && sink.out.length == 1 && sink.last().flags == TCP_RST, "forged cookie refused with RST");
  // Right cookie, with 100 bytes of data in the ACK.
  s2.reset();
  s2.srcPort = p.t.remotePort; s2.dstPort = 80; s2.seq = p.seq; s2.ack = sa.seq + 1; s2.flags = TCP_ACK | TCP_PSH; s2.window = 1000;
  s2.tsPresent = true; s2.tsVal = p.tsVal; s2.tsEcr = sa.tsVal;
  s2.payloadPtr = p.data; s2.payloadLen = 100;
  ep.input(p.t, s2, 0x020000000099, simNow);
  const c = ep.lookup(p.t);
  check(c !== null && c.state == TcpState.ESTABLISHED, "cookie handshake established");
  if (c !== null) {
    check(c.readable == 100, "data in the cookie ACK delivered");
    check(c.sndWscale == 7 && c.sackOk && c.tsOk, "options restored from the cookie");
    check(c.mss == 1460 - 12, "MSS from the cookie table");
    ep.poll(simNow);
    check(acc.accepted == 1, "cookie connection accepted");
  }
  report("cookiesOk", <f64>ep.stats.synCookiesOk);
  return failures;
}

/** The connection table bound: TIME-WAIT is recycled, beyond that new SYNs get cookies. */
export function tableLimit(): i32 {
  failures = 0;
  simNow = 10 * SEC;
  const sink = new CaptureSink();
  const cfg = new TcpConfig();
  cfg.maxConnections = 8;
  cfg.timeWait = 60 * SEC;
  const ep = segmentWorld(sink, cfg);
  const app = new StreamApp(); app.autoClose = false;
  makePattern(11);
  ep.listen(80, 100, new Acceptor(app));
  // Eight connections, each closed by us first (so we hold TIME-WAIT).
  for (let i = 0; i < 8; i++) {
    closedFirst(ep, sink, new Peer(ep, sink, 0x0a000000 | (<u32>i << 24) | 0x0a, <u16>(20000 + i)), i);
  }
  check(ep.count == 8 && ep.timeWaitCount == 8, "table full of TIME-WAIT");
  const p = new Peer(ep, sink, 0x6400000a, 30000);
  const c = p.connect();
  check(c !== null && c.state == TcpState.ESTABLISHED, "new connection recycles a TIME-WAIT");
  check(ep.count == 8 && ep.stats.timeWaitRecycled == 1, "one recycled");
  check(ep.pool.used <= <u64>(8 * (cfg.rcvBuf + cfg.sndBuf)), "buffers bounded");
  return failures;
}

/**
 * TIME-WAIT timing: connections leave TIME-WAIT 2 MSL after entering it, oldest first,
 * without timer-heap entries; a retransmitted FIN is ACKed and restarts that one's 2 MSL.
 */
export function timeWaitTimer(): i32 {
  failures = 0;
  simNow = 10 * SEC;
  const sink = new CaptureSink();
  const cfg = new TcpConfig();
  cfg.timeWait = 10 * SEC;
  const ep = segmentWorld(sink, cfg);
  const app = new StreamApp(); app.autoClose = false;
  makePattern(12);
  ep.listen(80, 100, new Acceptor(app));
  const t0 = simNow;
  const peers = new Array<Peer>();
  const conns = new Array<TcpConnection>();
  const finSeq = new Array<u32>();
  // Three connections closed by us first, one second apart: TIME-WAIT at t0, t0+1, t0+2.
  for (let i = 0; i < 3; i++) {
    simNow = t0 + <u64>i * SEC;
    const p = new Peer(ep, sink, 0x0a000000 | (<u32>(i + 1) << 24) | 0x0a, <u16>(21000 + i));
    const c = closedFirst(ep, sink, p, i);
    peers.push(p); conns.push(c); finSeq.push(lastFinSeq);
  }
  check(ep.timeWaitCount == 3 && ep.timers.size == 0, "three TIME-WAIT, none in the timer heap");
  check(ep.nextDeadline(simNow) == t0 + 10 * SEC, "next deadline: the oldest TIME-WAIT end");
  // The first peer retransmits its FIN at t0+3: ACKed again, its 2 MSL restarts (t0+13).
  simNow = t0 + 3 * SEC;
  sink.clear();
  peers[0].send(TCP_ACK | TCP_FIN, peers[0].seq, finSeq[0] + 1, 0);
  ep.poll(simNow);
  check(sink.out.length == 1 && sink.last().flags == TCP_ACK && sink.last().ack == peers[0].seq + 1, "retransmitted FIN ACKed");
  check(ep.nextDeadline(simNow) == t0 + 11 * SEC, "the second is now the oldest");
  simNow = t0 + 11 * SEC;
  ep.poll(simNow);
  check(conns[0].state == TcpState.TIME_WAIT && conns[1].state == TcpState.CLOSED && conns[2].state == TcpState.TIME_WAIT, "second ended at t0+11");
  simNow = t0 + 12 * SEC;
  ep.poll(simNow);
  check(conns[2].state == TcpState.CLOSED && conns[0].state == TcpState.TIME_WAIT, "third ended at t0+12");
  check(ep.nextDeadline(simNow) == t0 + 13 * SEC, "restarted one ends at t0+13");
  simNow = t0 + 13 * SEC - 1;
  ep.poll(simNow);
  check(conns[0].state == TcpState.TIME_WAIT, "restarted one still TIME-WAIT just before");
  simNow = t0 + 13 * SEC;
  ep.poll(simNow);
  check(conns[0].state == TcpState.CLOSED && ep.count == 0 && ep.timeWaitCount == 0, "all ended");
  check(ep.nextDeadline(simNow) == 0, "no deadline left");
  return failures;
}

/** Receiver stops reading: zero window, persist probes, then the transfer completes. */
export function zeroWindow(): i32 {
  failures = 0;
  simNow = 1 * SEC;
  makePattern(12);
  const w = new World(12, FLAG_SMALL_BUF);
  w.link.delay = 1 * MS;
  const appA = new StreamApp();
  appA.toSend = 200_000;
  const appB = new StreamApp();
  appB.readPaused = true;
  w.b.listen(80, 4, new Acceptor(appB));
  const c = w.a.connect(w.tupleAB(40010, 80), appA, simNow, MAC_B)!;
  const pauseEnd = simNow + 20 * SEC;
  const limit = simNow + 300 * SEC;
  let sawZero = false;
  while (simNow < limit) {
    w.step();
    if (c.sndWnd == 0) sawZero = true;
    if (appB.readPaused && simNow >= pauseEnd) {
      appB.readPaused = false;
      const s = appB.conn;
      if (s !== null) appB.drain(s);
    }
    if (appA.closed && appB.eof && appB.closed) break;
    if (appB.eof && !appB.closeSent) { appB.closeSent = true; appB.conn!.close(); }
    if (!w.advance(appB.readPaused ? min(limit, pauseEnd) : limit)) break;
  }
  w.reportStats("");
  report("received", <f64>appB.received);
  check(sawZero, "sender saw a zero window");
  check(w.a.stats.windowProbes >= 3, "persist timer probed the window");
  check(appB.received == 200_000 && appB.mismatches == 0, "everything arrived after the window opened");
  check(c.state == TcpState.TIME_WAIT || c.state == TcpState.CLOSED, "closed");
  check(w.a.stats.timeouts == 0, "no timeout while the peer answered probes");
  return failures;
}

/** Delayed ACKs: a bulk receiver ACKs about every second segment. */
export function delayedAcks(): i32 {
  failures = 0;
  simNow = 1 * SEC;
  makePattern(13);
  const w = new World(13, 0);
  w.link.rate = 100 * 125_000;
  w.link.queueFrames = 1_000_000; // no queue drops: every immediate ACK would be a dupack
  const appA = new StreamApp();
  appA.toSend = 1_000_000;
  const appB = new StreamApp();
  w.b.listen(80, 4, new Acceptor(appB));
  w.a.connect(w.tupleAB(40011, 80), appA, simNow, MAC_B);
  const limit = simNow + 60 * SEC;
  while (simNow < limit) {
    w.step();
    if (appB.eof && !appB.closeSent) { appB.closeSent = true; appB.conn!.close(); }
    if (appA.closed && appB.closed) break;
    if (!w.advance(limit)) break;
  }
  const dataSegs = <f64>w.a.stats.segsOut;
  const acks = <f64>w.b.stats.segsOut;
  report("dataSegs", dataSegs);
  report("acks", acks);
  check(appB.received == 1_000_000 && appB.mismatches == 0, "transfer complete");
  check(acks < dataSegs * 0.7 && acks > dataSegs * 0.3, "about one ACK per two segments");
  return failures;
}

/** Server side of manyConnections (and recycledConnections): a fresh StreamApp per accepted connection. */
class Multi extends TcpListenHandler {
  apps: Array<StreamApp> = new Array<StreamApp>();
  /** Each app gives its connection back when it is closed (TcpConnection.recycle). */
  recycle: bool = false;
  onAccept(l: TcpListener, c: TcpConnection): TcpHandler | null {
    const a = new StreamApp();
    a.toSend = 5000;
    a.recycleOnClose = this.recycle;
    a.conn = c;
    this.apps.push(a);
    a.pump(c);
    return a;
  }
}

/**
 * Connection objects given back with recycle() are reused: waves of connections with
 * 2 % loss, both sides recycling, a server table of 8 (TIME-WAIT is recycled to make
 * room) and TIME-WAIT expiring between some waves. Every transfer must be intact and
 * objects must actually have been reused on both sides.
 */
export function recycledConnections(seed: u32): i32 {
  failures = 0;
  simNow = 1 * SEC;
  makePattern(seed);
  const w = new World(seed, FLAG_SMALL_BUF);
  w.link.lossPpm = 20_000;
  w.b.config.maxConnections = 8;
  const server = new Multi();
  server.recycle = true;
  w.b.listen(80, 64, server);
  let ok = 0, total = 0;
  for (let wave: u32 = 0; wave < 12; wave++) {
    const clients = new Array<StreamApp>();
    for (let i: u32 = 0; i < 6; i++) {
      const a = new StreamApp();
      a.toSend = 3000;
      a.recycleOnClose = true;
      clients.push(a);
      a.conn = w.a.connect(w.tupleAB(<u16>(20000 + wave * 8 + i), 80), a, simNow, MAC_B);
      check(a.conn !== null, "connect");
    }
    const first = server.apps.length;
    const limit = simNow + 300 * SEC;
    while (simNow < limit) {
      w.step();
      let done = server.apps.length == first + 6;
      for (let i = 0; i < clients.length && done; i++) if (!clients[i].closed) done = false;
      for (let i = first; i < server.apps.length && done; i++) if (!server.apps[i].closed) done = false;
      if (done) break;
      if (!w.advance(limit)) break;
    }
    for (let i = 0; i < clients.length; i++) {
      total++;
      if (clients[i].received == 5000 && clients[i].mismatches == 0 && clients[i].eof) ok++;
    }
    for (let i = first; i < server.apps.length; i++) {
      total++;
      if (server.apps[i].received == 3000 && server.apps[i].mismatches == 0 && server.apps[i].eof) ok++;
    }
    // Every third wave waits for TIME-WAIT (2 s here) to end; the others start at once.
    const pause = wave % 3 == 2 ? 3 * SEC : 10 * MS;
    const end = simNow + pause;
    while (simNow < end) { w.step(); if (!w.advance(end)) break; }
  }
  report("ok", <f64>ok);
  report("total", <f64>total);
  report("reusedA", <f64>w.a.stats.connectionsReused);
  report("reusedB", <f64>w.b.stats.connectionsReused);
  check(ok == total && total == 144, "every transfer intact");
  check(w.a.stats.connectionsReused > 20 && w.b.stats.connectionsReused > 20, "objects reused on both sides");
  return failures;
}

/** Bytes of `n` at `a` and `b` equal outside the `skip` ranges (field offset, 4 bytes each). */
function sameFields(a: usize, b: usize, n: usize, skip: StaticArray<usize>, what: string): void {
  for (let off: usize = 0; off < n; off++) {
    let skipped = false;
    for (let k = 0; k < skip.length; k++) if (off >= skip[k] && off < skip[k] + sizeof<usize>()) skipped = true;
    if (!skipped && load<u8>(a + off) != load<u8>(b + off)) {
      check(false, what + ": byte " + off.toString() + " differs from a new object's");
      return;
    }
  }
}

/**
 * TcpConnection.reinit() leaves a used object exactly as a new one: a connection that
 * went through a lossy transfer (SACK, retransmissions, out-of-order data, RTT samples)
 * and TIME-WAIT is compared with a fresh object, every field but the references to its
 * own parts (whose contents are compared the same way).
 */
export function reinitMatchesFresh(): i32 {
  failures = 0;
  simNow = 1 * SEC;
  makePattern(21);
  const w = new World(21, 0);
  w.link.lossPpm = 30_000;
  w.link.reorderPpm = 30_000;
  const appB = new StreamApp();
  appB.toSend = 200_000;
  w.b.listen(80, 8, new Acceptor(appB));
  const appA = new StreamApp();
  appA.toSend = 300_000;
  const used = w.a.connect(w.tupleAB(30000, 80), appA, simNow, MAC_B)!;
  const limit = simNow + 600 * SEC;
  while (simNow < limit && !(appA.closed && appB.closed)) { w.step(); if (!w.advance(limit)) break; }
  const end = simNow + 5 * SEC; // past TIME-WAIT
  while (simNow < end) { w.step(); if (!w.advance(end)) break; }
  check(used.state == TcpState.CLOSED && appA.received == 200_000 && appB.received == 300_000, "transfer done, closed");
  check(used.segsRetransmitted > 0 && used.rx.oooBytes > 0, "the connection saw loss and reordering");
  used.reinit();
  const fresh = new TcpConnection(w.a);
  const refs: StaticArray<usize> = [
    offsetof<TcpConnection>("ep"), offsetof<TcpConnection>("tuple"), offsetof<TcpConnection>("tx"),
    offsetof<TcpConnection>("rx"), offsetof<TcpConnection>("sackedStart"), offsetof<TcpConnection>("sackedEnd"),
    offsetof<TcpConnection>("rtxLogSeq"), offsetof<TcpConnection>("rtxLogMark"), offsetof<TcpConnection>("rtt"),
    offsetof<TcpConnection>("cc"),
  ];
  sameFields(changetype<usize>(used), changetype<usize>(fresh), offsetof<TcpConnection>(), refs, "TcpConnection");
  check(used.listener === null && used.handler === null && used.eventNext === null && used.hashNext === null &&
    used.dirtyNext === null && used.twPrev === null && used.twNext === null, "links cleared");
  sameFields(changetype<usize>(used.tx), changetype<usize>(fresh.tx), offsetof<SendBuffer>(), [], "SendBuffer");
  sameFields(changetype<usize>(used.rx), changetype<usize>(fresh.rx), offsetof<RecvBuffer>(),
    [offsetof<RecvBuffer>("rStart"), offsetof<RecvBuffer>("rEnd")], "RecvBuffer");
  sameFields(changetype<usize>(used.rtt), changetype<usize>(fresh.rtt), offsetof<RttEstimator>(), [], "RttEstimator");
  check(used.cc !== fresh.cc && used.cc.cwnd == fresh.cc.cwnd && used.cc.ssthresh == fresh.cc.ssthresh, "fresh congestion control");
  return failures;
}

/** A memory probe for long runs: pool and table are empty when every connection is gone. */
export function manyConnections(n: u32): i32 {
  failures = 0;
  simNow = 1 * SEC;
  makePattern(14);
  const w = new World(14, FLAG_SMALL_BUF);
  w.link.lossPpm = 10_000;
  const multi = new Multi();
  w.b.listen(80, 1024, multi);
  const clients = new Array<StreamApp>();
  for (let i: u32 = 0; i < n; i++) {
    const a = new StreamApp();
    a.toSend = 3000;
    clients.push(a);
    a.conn = w.a.connect(w.tupleAB(<u16>(10000 + i), 80), a, simNow, MAC_B);
  }
  const limit = simNow + 600 * SEC;
  while (simNow < limit) {
    w.step();
    let done = true;
    for (let i = 0; i < clients.length; i++) if (!clients[i].closed || !clients[i].eof) { done = false; break; }
    for (let i = 0; i < multi.apps.length && done; i++) if (!multi.apps[i].closed || !multi.apps[i].eof) done = false;
    if (done && multi.apps.length == <i32>n) break;
    if (!w.advance(limit)) break;
  }
  let okA = 0, okB = 0;
  for (let i = 0; i < clients.length; i++) if (clients[i].received == 5000 && clients[i].mismatches == 0) okA++;
  for (let i = 0; i < multi.apps.length; i++) if (multi.apps[i].received == 3000 && multi.apps[i].mismatches == 0) okB++;
  report("clientsOk", <f64>okA);
  report("serversOk", <f64>okB);
  check(okA == <i32>n && okB == <i32>n, "every connection transferred its data");
  const end = simNow + 10 * SEC;
  while (simNow < end) { w.step(); if (!w.advance(end)) break; }
  w.step();
  report("poolUsedAfter", <f64>(w.a.pool.used + w.b.pool.used));
  check(w.a.count == 0 && w.b.count == 0, "tables empty at the end");
  return failures;
}

/**
 * The server's buffer budget admits 4 connections: the 5th handshake is answered with
 * RST, the client sees RESET, the first four still work; freeing one admits a new one.
 */
export function budgetExhaustion(): i32 {
  failures = 0;
  simNow = 1 * SEC;
  makePattern(15);
  const w = new World(15, FLAG_SMALL_BUF);
  w.b.pool.budget = 4 * 8192;
  const multi = new Multi();
  w.b.listen(80, 64, multi);
  const clients = new Array<StreamApp>();
  for (let i = 0; i < 5; i++) {
    const a = new StreamApp();
    a.toSend = 1000;
    a.autoClose = false;
    clients.push(a);
    a.conn = w.a.connect(w.tupleAB(<u16>(20000 + i), 80), a, simNow, MAC_B);
    for (let k = 0; k < 20; k++) { w.step(); if (!w.advance(simNow + 100 * MS)) break; }
  }
  for (let k = 0; k < 200; k++) { w.step(); if (!w.advance(simNow + 100 * MS)) break; }
  let ok = 0;
  for (let i = 0; i < 4; i++) if (clients[i].received == 5000 && !clients[i].closed) ok++;
  report("okBeforeLimit", <f64>ok);
  check(ok == 4, "first four connections work");
  check(clients[4].closed && clients[4].reason == CloseReason.RESET, "fifth refused with RST");
  check(w.b.stats.noResources >= 1, "server counted the refusal");
  check(w.b.pool.used <= 4 * 8192, "budget respected");
  // Close one: its buffers return to the pool and a new connection fits.
  clients[0].conn!.abort();
  for (let k = 0; k < 50; k++) { w.step(); if (!w.advance(simNow + 100 * MS)) break; }
  const late = new StreamApp();
  late.toSend = 100;
  late.autoClose = false;
  late.conn = w.a.connect(w.tupleAB(21000, 80), late, simNow, MAC_B);
  for (let k = 0; k < 200; k++) { w.step(); if (!w.advance(simNow + 100 * MS)) break; }
  check(late.received == 5000 && !late.closed, "a freed slot admits a new connection");
  return failures;
}

/**
 * Speed of the TCP path itself: `bytes` one way over a lossless, unlimited link, frames
 * built and parsed, no per-byte checks in the application. Reports wall-clock-free
 * counters; the JS side times the call.
 */
export function bench(bytes: u32, flags: u32): i32 {
  failures = 0;
  simNow = 1 * SEC;
  makePattern(30);
  const w = new World(30, flags);
  w.link.delay = 50 * US;
  const appA = new StreamApp();
  appA.toSend = bytes;
  const appB = new StreamApp();
  appB.verify = false;
  w.b.listen(80, 4, new Acceptor(appB));
  w.a.connect(w.tupleAB(40100, 80), appA, simNow, MAC_B);
  const limit = simNow + 600 * SEC;
  while (simNow < limit) {
    w.step();
    if (appB.eof && !appB.closeSent) { appB.closeSent = true; appB.conn!.close(); }
    if (appA.closed && appB.closed) break;
    if (!w.advance(limit)) break;
  }
  report("frames", <f64>w.link.sent);
  report("received", <f64>appB.received);
  report("simSeconds", <f64>(simNow - 1 * SEC) / 1e9);
  check(appB.received == <u64>bytes, "all received");
  return failures;
}

/**
 * Random segments against one endpoint: connections in every state, segments with random
 * flags, sequence and acknowledgment numbers (near the right values or anywhere), windows,
 * options (MSS, window scale, SACK blocks, timestamps) and payloads, with time jumping
 * ahead now and then. Nothing may trap; memory and state stay within their bounds.
 */
export function fuzzSegments(seed: u32, n: u32): i32 {
  failures = 0;
  simNow = 50 * SEC;
  makePattern(seed);
  const sink = new CaptureSink();
  sink.keep = false;
  const cfg = new TcpConfig();
  cfg.maxConnections = 64;
  cfg.synBacklog = 16;
  cfg.bufferBudget = 16 * 131072;
  const ep = segmentWorld(sink, cfg);
  const multi = new Multi();
  ep.listen(80, 32, multi);
  const r = new Rng(<u64>seed);
  const peers = new Array<Peer>();
  for (let i = 0; i < 24; i++) {
    const p = new Peer(ep, sink, 0x0a000000 | (<u32>(i + 1) << 24) | 0x0a, <u16>(30000 + i));
    p.useTs = (i & 1) == 0;
    p.connect();
    peers.push(p);
  }
  const seg = new TcpSegment();
  const pagesBefore = memory.size();
  for (let k: u32 = 0; k < n; k++) {
    const p = peers[r.below(<u32>peers.length)];
    const c = ep.lookup(p.t);
    const near = r.below(4) != 0;
    seg.reset();
    seg.srcPort = p.t.remotePort;
    seg.dstPort = 80;
    const sndNxt = c !== null ? c.sndNxt : 0;
    const rcvNxt = c !== null ? c.rcvNxt : p.seq;
    seg.seq = near ? rcvNxt + r.below(200000) - 100000 : <u32>r.next();
    seg.ack = near ? sndNxt + r.below(200000) - 100000 : <u32>r.next();
    let flags = <u8>r.next();
    if (r.below(3) != 0) flags = (flags & (TCP_FIN | TCP_PSH | TCP_RST | TCP_SYN)) | TCP_ACK;
    if (r.below(4) != 0) flags &= ~(TCP_RST | TCP_SYN);
    seg.flags = flags;
    seg.window = <u16>r.next();
    if (r.below(8) == 0) seg.mss = <u16>r.next();
    if (r.below(8) == 0) seg.wscale = <i32>r.below(20) - 1;
    seg.sackPermitted = r.below(8) == 0;
    if (r.below(3) == 0) {
      seg.sackCount = <i32>r.below(5);
      for (let i = 0; i < seg.sackCount; i++) {
        const base = near ? sndNxt + r.below(400000) - 200000 : <u32>r.next();
        seg.sackLeft[i] = base;
        seg.sackRight[i] = r.below(4) == 0 ? <u32>r.next() : base + r.below(20000);
      }
    }
    if (r.below(2) == 0) {
      seg.tsPresent = true;
      p.tsVal += r.below(3);
      seg.tsVal = r.below(10) == 0 ? <u32>r.next() : p.tsVal;
      seg.tsEcr = <u32>r.next();
    }
    seg.payloadPtr = p.data;
    seg.payloadLen = r.below(3) == 0 ? 0 : r.below(4096);
    ep.input(p.t, seg, 0x020000000099, simNow);
    const roll = r.below(100);
    if (roll < 10) simNow += <u64>r.below(1000) * MS;
    else if (roll < 11) simNow += <u64>r.below(120) * SEC;
    if (roll < 30) ep.poll(simNow);
    if (roll == 50 && c !== null) c.close();
    if (roll == 51 && c !== null) c.abort();
    if (roll == 52) p.connect(); // a new handshake on the tuple (TIME-WAIT reuse, challenge ACKs)
    if (roll == 53 && c !== null) { const a = new StreamApp(); a.toSend = r.below(100000); a.pump(c); }
    check(ep.count <= cfg.maxConnections, "table bound");
    check(ep.pool.used <= cfg.bufferBudget, "buffer budget");
    if (failures > 0) break;
  }
  // Let every timer run out: all connections must eventually go away.
  for (let i = 0; i < 400 && ep.count > 0; i++) { simNow += 10 * SEC; ep.poll(simNow); }
  report("segmentsOut", <f64>sink.count);
  report("connsLeft", <f64>ep.count);
  report("pagesGrowth", <f64>(memory.size() - pagesBefore));
  report("challengeAcks", <f64>ep.stats.challengeAcks);
  report("outOfWindow", <f64>ep.stats.outOfWindow);
  check(ep.count == 0, "every connection ends once the peers go silent");
  check(ep.timers.size == 0, "no timers left");
  check(memory.size() - pagesBefore <= 64, "memory growth bounded (<= 4 MiB: the 2 MiB buffer pool and GC slack)");
  return failures;
}

/**
 * Corrupted frames reach TCP: checksum verification is off on both sides and 5 % of
 * frames get 1-4 random bytes changed (headers and options included). Data may arrive
 * damaged; what counts is that nothing traps and every connection ends by itself.
 */
export function fuzzFrames(seed: u32): i32 {
  failures = 0;
  simNow = 1 * SEC;
  makePattern(seed);
  const w = new World(<u64>seed, 0);
  w.nifA.verifyChecksums = false;
  w.nifB.verifyChecksums = false;
  const link = w.link;
  link.corruptPpm = 50_000;
  link.lossPpm = 10_000;
  link.reorderPpm = 10_000;
  link.rate = 50 * 125_000;
  const multi = new Multi();
  w.b.listen(80, 64, multi);
  const clients = new Array<StreamApp>();
  for (let i = 0; i < 8; i++) {
    const a = new StreamApp();
    a.toSend = 200_000;
    a.verify = false;
    clients.push(a);
    a.conn = w.a.connect(w.tupleAB(<u16>(41000 + i), 80), a, simNow, MAC_B);
  }
  const r = new Rng(<u64>seed * 31);
  const end = simNow + 3000 * SEC;
  while (simNow < end) {
    // Extra damage: more bytes of the frames in flight.
    const h = link.heap;
    if (h.length > 0 && r.below(4) == 0) {
      const p = h[r.below(<u32>h.length)];
      for (let k = r.below(4); k > 0; k--) {
        const i = 14 + r.below(p.len - 14);
        store<u8>(p.buf + i, <u8>r.next());
      }
    }
    w.step();
    if (w.a.count == 0 && w.b.count == 0) break;
    if (!w.advance(end)) break;
  }
  w.step();
  w.reportStats("");
  report("a.connsLeft", <f64>w.a.count);
  report("b.connsLeft", <f64>w.b.count);
  report("simSeconds", <f64>(simNow - 1 * SEC) / 1e9);
  check(w.a.count == 0 && w.b.count == 0, "every connection ended");
  check(w.a.timers.size == 0 && w.b.timers.size == 0, "no timers left");
  return failures;
}
