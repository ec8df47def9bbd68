// TcpEndpoint: every TCP connection of one stack. Demultiplexes arriving segments by
// 4-tuple (keyed hash table), runs listeners (SYN backlog, SYN cookies, accept queue),
// answers segments for unknown connections, owns the timer heap, the buffer pool and the
// counters, and delivers application events. Time is the caller's `now` (ns); poll()
// returns the next deadline.
//
// Typical use inside a stack:
//   frames -> adapter.receive() -> endpoint.input(tuple, seg, mac, now)   (per frame)
//   then endpoint.poll(now) once per batch; return endpoint.nextDeadline() to the host.

import { seqGt } from "./seq";
import { siphash4 } from "./hash";
import { TcpTuple } from "./tuple";
import { TcpSegment, TCP_SYN, TCP_ACK, TCP_RST } from "./segment";
import { SegmentSink } from "./sink";
import { TcpConfig, MS } from "./config";
import { TcpStats } from "./stats";
import { TimerHeap } from "./timers";
import { BufferPool } from "./buffers";
import { TcpListener, TcpListenHandler } from "./listener";
import {
  TcpConnection, TcpHandler, TcpState, CloseReason,
  EV_CONNECTED, EV_READABLE, EV_WRITABLE, EV_CLOSED,
} from "./connection";

/** SYN-cookie MSS values (3 bits of the cookie select one). */
const COOKIE_MSS: StaticArray<u16> = [536, 1220, 1300, 1380, 1420, 1440, 1460, 8960];
/** SYN cookies stay valid for two periods of 64 s. */
const COOKIE_PERIOD: u64 = 64_000_000_000;
/** Marker bit in a cookie SYN-ACK's TSval: the low bits carry wscale and SACK-permitted. */
const TS_COOKIE_BIT: u32 = 0x20;

export class TcpEndpoint {
  readonly config: TcpConfig;
  sink: SegmentSink;
  readonly stats: TcpStats = new TcpStats();
  readonly timers: TimerHeap = new TimerHeap();
  readonly pool: BufferPool;
  /** Scratch segment for everything this endpoint sends (one at a time). */
  readonly txSeg: TcpSegment = new TcpSegment();
  private scratchTuple: TcpTuple = new TcpTuple();

  // Secrets (RFC 6528 ISNs, RFC 4987 cookies, hash buckets).
  private k0: u64;
  private k1: u64;
  private k2: u64;
  private k3: u64;
  private hashKey: u64;
  private tsOffset: u32;
  private portCounter: u32 = 0;

  private buckets: StaticArray<TcpConnection | null>;
  private bucketMask: u64;
  /** Connections in the table (every state but CLOSED). */
  count: i32 = 0;
  private lastHit: TcpConnection | null = null;

  readonly listeners: Array<TcpListener> = new Array<TcpListener>();

  /** Released connections the application gave back (TcpConnection.recycle), for reuse. */
  private spare: Array<TcpConnection> = new Array<TcpConnection>();

  private twHead: TcpConnection | null = null;
  private twTail: TcpConnection | null = null;
  timeWaitCount: i32 = 0;

  private eventHead: TcpConnection | null = null;
  private eventTail: TcpConnection | null = null;
  private dirtyHead: TcpConnection | null = null;
  private acceptsPending: bool = false;
  /** The sink refused a segment during this poll: ask to be polled again at once. */
  private blocked: bool = false;

  private challengeWindow: u64 = 0;
  private challengeCount: u32 = 0;
  private rstWindow: u64 = 0;
  private rstCount: u32 = 0;

  /**
   * `secret` must hold 32 random bytes (host randomFill); they key ISNs, SYN cookies and
   * the connection hash. Tests pass fixed bytes for reproducible runs.
   */
  constructor(sink: SegmentSink, config: TcpConfig, secret: Uint8Array) {
    if (secret.length < 32) throw new Error("TcpEndpoint needs 32 secret bytes");
    validateConfig(config);
    this.sink = sink;
    this.config = config;
    this.pool = new BufferPool(config.bufferBudget);
    const p = secret.dataStart;
    const k0 = load<u64>(p), k1 = load<u64>(p, 8), k2 = load<u64>(p, 16), k3 = load<u64>(p, 24);
    let nb: i32 = 16;
    while (nb < config.maxConnections * 2 && nb < (1 << 20)) nb <<= 1;
    this.buckets = new StaticArray<TcpConnection | null>(nb);
    this.k0 = k0; this.k1 = k1; this.k2 = k2; this.k3 = k3;
    this.hashKey = siphash4(k0, k1, 1, 2, 3, 4);
    this.tsOffset = <u32>siphash4(k2, k3, 5, 6, 7, 8);
    this.bucketMask = <u64>(nb - 1);
  }

  // =====================================================================================
  // Application API
  // =====================================================================================

  /**
   * Listens on `port` on every local address (use the returned listener's bindV4/bindV6
   * to narrow it). `backlog` bounds the accept queue; half-open connections are bounded
   * by config.synBacklog. With a handler, connections arrive through onAccept; without,
   * through listener.accept().
   */
  listen(port: u16, backlog: i32 = 128, handler: TcpListenHandler | null = null): TcpListener {
    const l = new TcpListener(port, backlog, this.config.synBacklog, handler);
    this.listeners.push(l);
    return l;
  }

  /** Stops listening; established connections stay, half-open ones are dropped. */
  unlisten(l: TcpListener): void {
    l.open = false;
    const i = this.listeners.indexOf(l);
    if (i >= 0) this.listeners.splice(i, 1);
    while (l.queue.length > 0) { const c = l.queue.pop(); if (c.state != TcpState.CLOSED) c.abort(); }
  }

  /**
   * Active open from `t`'s local address/port to its remote address/port (localPort 0
   * picks an ephemeral port; msh's host only lets a stack send from ports it owns).
   * Returns null if the tuple is in use or no memory or table space is left.
   */
  connect(t: TcpTuple, handler: TcpHandler | null, now: u64, linkAddr: u64 = 0): TcpConnection | null {
    if (!this.makeRoom()) { this.stats.noResources++; return null; }
    const tuple = this.scratchTuple.copyFrom(t);
    if (tuple.localPort == 0) {
      let found = false;
      for (let i = 0; i < 64 && !found; i++) {
        this.portCounter++;
        const h = <u32>siphash4(this.k0, this.k1, tuple.remoteLo, tuple.remoteHi, <u64>tuple.remotePort, <u64>this.portCounter);
        tuple.localPort = <u16>(49152 + (h % 16384));
        found = this.lookup(tuple) === null;
      }
      if (!found) return null;
    } else if (this.lookup(tuple) !== null) {
      return null;
    }
    const c = this.newConnection();
    c.tuple.copyFrom(tuple);
    c.linkAddr = linkAddr;
    if (!this.attachBuffers(c)) { this.stats.noResources++; return null; }
    c.handler = handler;
    c.visible = true;
    c.iss = this.isn(c.tuple, now);
    this.insert(c);
    c.openActive(now);
    return c;
  }

  /**
   * Processes one arriving segment. `t` is oriented from our side (local = destination
   * of the packet); `linkAddr` is the sender's MAC (replies go there). The caller has
   * verified the checksum and that the destination address is ours.
   */
  input(t: TcpTuple, seg: TcpSegment, linkAddr: u64, now: u64): void {
    let c = this.lookup(t);
    const flags = seg.flags;
    if (c !== null) {
      if (c.state == TcpState.TIME_WAIT && (flags & (TCP_SYN | TCP_ACK | TCP_RST)) == TCP_SYN &&
          (seqGt(seg.seq, c.rcvNxt) || (c.tsOk && seg.tsPresent && seqGt(seg.tsVal, c.tsRecent)))) {
        // RFC 9293 3.10.7.4 / RFC 6191: a new incarnation may reuse a TIME-WAIT tuple.
        this.stats.timeWaitReopened++;
        c.release(CloseReason.NORMAL);
      } else {
        if (linkAddr != 0) c.linkAddr = linkAddr;
        c.input(seg, now);
        return;
      }
    }
    this.stats.segsIn++;
    if ((flags & TCP_RST) != 0) { this.stats.rstIn++; return; }
    const l = this.findListener(t);
    if (l === null) {
      this.stats.noListener++;
      this.replyReset(t, linkAddr, seg, now);
      return;
    }
    if ((flags & TCP_ACK) != 0) {
      if ((flags & TCP_SYN) == 0 && this.config.synCookies && this.cookieAck(l, t, seg, linkAddr, now)) return;
      // RFC 9293 LISTEN: an ACK for nothing gets <SEQ=SEG.ACK><CTL=RST>.
      if (this.allowRst(now)) this.replyRst(t, linkAddr, seg.ack, 0, false);
      return;
    }
    if ((flags & TCP_SYN) == 0) return;
    this.stats.synIn++;
    if (l.synPending >= l.synBacklog || !this.makeRoom()) {
      if (this.config.synCookies) this.sendCookieSynAck(t, seg, linkAddr, now);
      else this.stats.synDropped++;
      return;
    }
    const nc = this.newConnection();
    nc.tuple.copyFrom(t);
    nc.linkAddr = linkAddr;
    nc.listener = l;
    nc.halfOpen = true;
    l.synPending++;
    nc.iss = this.isn(t, now);
    nc.openPassive(seg, now);
    this.insert(nc);
    nc.output(now);
  }

  /**
   * Runs expired timers, delivers events to handlers, sends what handlers queued.
   * Returns the next deadline (absolute ns; 0 = none; <= now = call again at once).
   */
  poll(now: u64): u64 {
    this.blocked = false;
    let guard = this.timers.size * 4 + 16;
    while (guard-- > 0) {
      const top = this.timers.top();
      if (top === null || top.deadline > now) break;
      const c = changetype<TcpConnection>(top);
      c.onTimer(now);
      if (c.heapIndex == 0 && c.deadline != 0 && c.deadline <= now) {
        // A timer that would fire again at once: push it out rather than spin.
        c.deadline = now + MS;
        this.timers.update(c);
      }
    }
    // TIME-WAIT ends, oldest first (the list is in closeAt order: all last timeWait).
    let tw = this.twHead;
    while (tw !== null && tw.closeAt <= now) {
      tw.release(CloseReason.NORMAL);
      tw = this.twHead;
    }
    this.dispatch();
    this.flush(now);
    this.dispatch();
    return this.nextDeadline(now);
  }

  /** Next deadline (see poll). */
  nextDeadline(now: u64): u64 {
    // Output waits for TX space: the host drains the ring after this call; come back
    // shortly (not "at once", which would spin while a --tx-rate limit holds frames).
    if (this.blocked || this.dirtyHead !== null) return now + 10_000;
    const top = this.timers.top();
    let d: u64 = top === null ? 0 : top.deadline;
    const tw = this.twHead;
    if (tw !== null && (d == 0 || tw.closeAt < d)) d = tw.closeAt;
    return d;
  }

  /** Sends what connections have queued (data written by the application, owed ACKs). */
  flush(now: u64): void {
    let c = this.dirtyHead;
    this.dirtyHead = null;
    while (c !== null) {
      const next = c.dirtyNext;
      c.dirtyNext = null;
      c.inDirtyList = false;
      if (c.state != TcpState.CLOSED) c.output(now);
      c = next;
    }
  }

  /** Delivers queued accepts and connection events to their handlers. */
  dispatch(): void {
    if (this.acceptsPending) {
      this.acceptsPending = false;
      for (let i = 0; i < this.listeners.length; i++) {
        const l = this.listeners[i];
        const h = l.handler;
        if (h === null) continue;
        while (l.queue.length > 0) {
          const c = l.queue.shift();
          c.listener = null;
          if (c.state == TcpState.CLOSED) continue;
          c.handler = h.onAccept(l, c);
        }
      }
    }
    let rounds = 0;
    while (this.eventHead !== null && rounds++ < 1_000_000) {
      const c = this.eventHead!;
      this.eventHead = c.eventNext;
      if (this.eventHead === null) this.eventTail = null;
      c.eventNext = null;
      c.inEventList = false;
      const ev = c.events;
      c.events = 0;
      const h = c.handler;
      if (h === null) continue;
      if ((ev & EV_CONNECTED) != 0) h.onConnected(c);
      if ((ev & EV_READABLE) != 0) h.onReadable(c);
      if ((ev & EV_WRITABLE) != 0 && c.state != TcpState.CLOSED) h.onWritable(c);
      if ((ev & EV_CLOSED) != 0) h.onClosed(c, c.closeReason);
    }
  }

  /** Resets every connection (stack shutdown): RST to each synchronized peer. */
  shutdown(now: u64): void {
    for (let i = 0; i < this.buckets.length; i++) {
      let c = this.buckets[i];
      while (c !== null) {
        const next = c.hashNext;
        c.abort();
        c = next;
      }
    }
    this.dispatch();
  }

  // =====================================================================================
  // Services for connections
  // =====================================================================================

  /** MSS we can receive: link MTU minus IP and TCP headers. */
  @inline mssFor(v6: bool): u32 { return this.config.mtu - (v6 ? 60 : 40); }

  /** Smallest window-scale shift that lets a 16-bit field cover `buf` bytes (RFC 7323). */
  rcvWscaleFor(buf: u32): u32 {
    let s: u32 = 0;
    while (s < 14 && (buf >> s) > 65535) s++;
    return s;
  }

  /** Our timestamp clock (RFC 7323): 1 ms ticks from a secret offset. */
  @inline tsClock(now: u64): u32 { return <u32>(now / 1_000_000) + this.tsOffset; }

  /** RFC 6528 initial sequence number: 4 us clock plus a keyed hash of the tuple. */
  isn(t: TcpTuple, now: u64): u32 {
    const h = siphash4(this.k2, this.k3, t.localHi ^ t.remoteHi, t.localLo, t.remoteLo,
      (<u64>t.localPort << 16) | <u64>t.remotePort);
    return <u32>h + <u32>(now / 4000);
  }

  markDirty(c: TcpConnection): void {
    if (c.inDirtyList) return;
    c.inDirtyList = true;
    c.dirtyNext = this.dirtyHead;
    this.dirtyHead = c;
  }

  /** The sink refused a segment of `c`: retry on the next poll, which should come soon. */
  markBlocked(c: TcpConnection): void {
    this.blocked = true;
    this.markDirty(c);
  }

  queueEvents(c: TcpConnection): void {
    c.inEventList = true;
    c.eventNext = null;
    if (this.eventTail === null) this.eventHead = c;
    else this.eventTail!.eventNext = c;
    this.eventTail = c;
  }

  /** A passive connection finished its handshake. False: accept queue full. */
  accepted(c: TcpConnection): bool {
    const l = c.listener;
    if (c.halfOpen && l !== null) { l.synPending--; c.halfOpen = false; }
    if (l === null || !l.open) return false;
    if (l.queue.length >= l.backlog) { this.stats.acceptOverflow++; c.listener = null; return false; }
    l.queue.push(c);
    c.visible = true;
    if (l.handler !== null) this.acceptsPending = true;
    return true;
  }

  /** Gives `c` its send and receive buffers from the pool. */
  attachBuffers(c: TcpConnection): bool {
    const cfg = this.config;
    const tb = this.pool.take(cfg.sndBuf);
    if (tb == 0) { this.stats.noResources++; return false; }
    const rb = this.pool.take(cfg.rcvBuf);
    if (rb == 0) { this.pool.give(tb, cfg.sndBuf); this.stats.noResources++; return false; }
    c.tx.attach(tb, cfg.sndBuf);
    c.rx.attach(rb, cfg.rcvBuf);
    return true;
  }

  detachRx(c: TcpConnection): void {
    const cap = c.rx.cap;
    this.pool.give(c.rx.detach(), cap);
  }

  private detachTx(c: TcpConnection): void {
    const cap = c.tx.cap;
    this.pool.give(c.tx.detach(), cap);
  }

  /**
   * `c` entered TIME-WAIT: keep only what answering a retransmitted FIN needs. Its end
   * (closeAt) is timed by this list, oldest first, not by the timer heap.
   */
  enteredTimeWait(c: TcpConnection): void {
    if (c.tx.buf != 0) this.detachTx(c);
    if (c.rx.buf != 0 && c.rx.len == 0) this.detachRx(c);
    c.inTwList = true;
    c.twNext = null;
    c.twPrev = this.twTail;
    if (this.twTail !== null) this.twTail!.twNext = c; else this.twHead = c;
    this.twTail = c;
    this.timeWaitCount++;
  }

  /**
   * A retransmitted FIN in TIME-WAIT restarts 2 MSL: `c` moves to the end of the list,
   * which keeps the list in closeAt order.
   */
  restartTimeWait(c: TcpConnection, now: u64): void {
    c.closeAt = now + this.config.timeWait;
    if (!c.inTwList || this.twTail === c) return;
    const p = c.twPrev, n = c.twNext;
    if (p !== null) p.twNext = n; else this.twHead = n;
    if (n !== null) n.twPrev = p;
    c.twNext = null;
    c.twPrev = this.twTail;
    this.twTail!.twNext = c;
    this.twTail = c;
  }

  /** Takes a closed connection out of every structure and returns its buffers. */
  remove(c: TcpConnection): void {
    if (c.inTable) this.unlink(c);
    this.timers.remove(c);
    c.deadline = 0;
    if (c.inTwList) {
      const p = c.twPrev, n = c.twNext;
      if (p !== null) p.twNext = n; else this.twHead = n;
      if (n !== null) n.twPrev = p; else this.twTail = p;
      c.twPrev = null; c.twNext = null; c.inTwList = false;
      this.timeWaitCount--;
    }
    const l = c.listener;
    if (c.halfOpen && l !== null) { l.synPending--; c.halfOpen = false; }
    if (c.tx.buf != 0) this.detachTx(c);
    if (c.rx.buf != 0) this.detachRx(c);
  }

  /** RFC 5961 7: challenge ACKs are rate-limited per endpoint. */
  allowChallengeAck(now: u64): bool {
    if (now - this.challengeWindow >= 1_000_000_000) { this.challengeWindow = now; this.challengeCount = 0; }
    if (this.challengeCount >= this.config.challengeAckLimit) { this.stats.challengeAcksLimited++; return false; }
    this.challengeCount++;
    return true;
  }

  /** RSTs to segments without a connection are rate-limited like challenge ACKs. */
  private allowRst(now: u64): bool {
    if (now - this.rstWindow >= 1_000_000_000) { this.rstWindow = now; this.rstCount = 0; }
    if (this.rstCount >= this.config.challengeAckLimit) { this.stats.rstLimited++; return false; }
    this.rstCount++;
    return true;
  }

  /** Sends a bare RST (<SEQ=seq><CTL=RST>, or with ACK=ack when withAck) on `t`. */
  replyRst(t: TcpTuple, linkAddr: u64, seq: u32, ack: u32, withAck: bool): void {
    const s = this.txSeg.reset();
    s.srcPort = t.localPort;
    s.dstPort = t.remotePort;
    s.seq = seq;
    s.ack = withAck ? ack : 0;
    s.flags = withAck ? (TCP_RST | TCP_ACK) : TCP_RST;
    if (this.sink.send(t, linkAddr, s)) { this.stats.rstOut++; this.stats.segsOut++; }
  }

  /** RFC 9293 3.10.7.1: the answer to a segment for which no connection exists. */
  private replyReset(t: TcpTuple, linkAddr: u64, seg: TcpSegment, now: u64): void {
    if (!this.allowRst(now)) return;
    if ((seg.flags & TCP_ACK) != 0) this.replyRst(t, linkAddr, seg.ack, 0, false);
    else this.replyRst(t, linkAddr, 0, seg.seq + seg.seqLen, true);
  }

  // =====================================================================================
  // SYN cookies (RFC 4987)
  // =====================================================================================
  //
  // ISN = period(5 bits) | mss index(3 bits) | MAC(24 bits) where MAC is a keyed hash of
  // the tuple, the period, the peer's ISN and the MSS index. With timestamps, the low bits
  // of our TSval carry the window scale and SACK-permitted, as the peer echoes them.

  private cookieMac(t: TcpTuple, period: u32, peerIsn: u32, mssIdx: u32): u32 {
    const h = siphash4(this.k0, this.k1,
      t.remoteHi ^ (t.localHi << 1), t.remoteLo ^ (t.localLo << 3),
      (<u64>t.localPort << 48) | (<u64>t.remotePort << 32) | <u64>(t.v6 ? 1 : 0),
      (<u64>period << 32) | <u64>peerIsn | (<u64>mssIdx << 61));
    return <u32>h & 0xffffff;
  }

  private sendCookieSynAck(t: TcpTuple, seg: TcpSegment, linkAddr: u64, now: u64): void {
    const cfg = this.config;
    let peerMss: u32 = seg.mss != 0 ? <u32>seg.mss : (t.v6 ? 1220 : 536);
    peerMss = min(peerMss, this.mssFor(t.v6));
    let idx: u32 = 0;
    for (let i = COOKIE_MSS.length - 1; i >= 0; i--) {
      if (<u32>COOKIE_MSS[i] <= peerMss) { idx = <u32>i; break; }
    }
    const period = <u32>(now / COOKIE_PERIOD);
    const cookie = ((period & 31) << 27) | (idx << 24) | this.cookieMac(t, period & 31, seg.seq, idx);
    const s = this.txSeg.reset();
    s.srcPort = t.localPort;
    s.dstPort = t.remotePort;
    s.seq = cookie;
    s.ack = seg.seq + 1;
    s.flags = TCP_SYN | TCP_ACK;
    s.window = <u16>min(cfg.rcvBuf, 65535);
    s.mss = <u16>this.mssFor(t.v6);
    if (seg.tsPresent && cfg.timestamps) {
      // Options survive only through the timestamp echo; without it, offer none.
      // The peer's shift goes into the TSval; ours is recomputed from the config.
      const ws: u32 = cfg.windowScale && seg.wscale >= 0 ? <u32>min(seg.wscale, 14) : 0xf;
      const sack: u32 = cfg.sack && seg.sackPermitted ? 0x10 : 0;
      s.tsPresent = true;
      s.tsVal = ((this.tsClock(now) - 64) & ~<u32>0x3f) | TS_COOKIE_BIT | sack | ws;
      s.tsEcr = seg.tsVal;
      if (ws != 0xf) s.wscale = <i32>this.rcvWscaleFor(cfg.rcvBuf);
      s.sackPermitted = sack != 0;
    }
    if (this.sink.send(t, linkAddr, s)) { this.stats.synCookiesSent++; this.stats.segsOut++; }
  }

  /** An ACK to a listener without a half-open connection: a returning SYN cookie? */
  private cookieAck(l: TcpListener, t: TcpTuple, seg: TcpSegment, linkAddr: u64, now: u64): bool {
    const cookie = seg.ack - 1;
    const cPeriod = cookie >> 27;
    const idx = (cookie >> 24) & 7;
    const cur = <u32>(now / COOKIE_PERIOD);
    const age = (cur - cPeriod) & 31;
    if (age > 1 || this.cookieMac(t, cPeriod, seg.seq - 1, idx) != (cookie & 0xffffff)) {
      this.stats.synCookiesBad++;
      return false;
    }
    if (!this.makeRoom() || l.queue.length >= l.backlog) {
      this.stats.noResources++;
      return false;
    }
    let wscale: i32 = -1;
    let sackOk = false;
    let tsOk = false;
    if (seg.tsPresent && (seg.tsEcr & TS_COOKIE_BIT) != 0) {
      tsOk = true;
      const ws = seg.tsEcr & 0xf;
      wscale = ws != 0xf ? <i32>ws : -1; // the peer's shift, echoed back to us
      sackOk = (seg.tsEcr & 0x10) != 0;
    }
    const c = this.newConnection();
    c.tuple.copyFrom(t);
    c.linkAddr = linkAddr;
    c.listener = l;
    c.openFromCookie(seg, <u32>COOKIE_MSS[idx], wscale, sackOk, tsOk, now);
    this.insert(c);
    this.stats.synCookiesOk++;
    c.input(seg, now);
    return true;
  }

  // =====================================================================================
  // Connection table
  // =====================================================================================

  /** The connection for `t`, or null. */
  lookup(t: TcpTuple): TcpConnection | null {
    const last = this.lastHit;
    if (last !== null && last.tuple.equals(t)) return last;
    let c = unchecked(this.buckets[<i32>(t.hash(this.hashKey) & this.bucketMask)]);
    while (c !== null) {
      if (c.tuple.equals(t)) { this.lastHit = c; return c; }
      c = c.hashNext;
    }
    return null;
  }

  private insert(c: TcpConnection): void {
    const i = <i32>(c.tuple.hash(this.hashKey) & this.bucketMask);
    c.hashNext = unchecked(this.buckets[i]);
    unchecked(this.buckets[i] = c);
    c.inTable = true;
    this.count++;
  }

  private unlink(c: TcpConnection): void {
    const i = <i32>(c.tuple.hash(this.hashKey) & this.bucketMask);
    let p = unchecked(this.buckets[i]);
    if (p === c) {
      unchecked(this.buckets[i] = c.hashNext);
    } else {
      while (p !== null && p.hashNext !== c) p = p.hashNext;
      if (p !== null) p.hashNext = c.hashNext;
    }
    c.hashNext = null;
    c.inTable = false;
    this.count--;
    if (this.lastHit === c) this.lastHit = null;
  }

  /** A connection object: a recycled one made as new, else a new one. */
  private newConnection(): TcpConnection {
    if (this.spare.length == 0) return new TcpConnection(this);
    const c = this.spare.pop();
    c.reinit();
    this.stats.connectionsReused++;
    return c;
  }

  /**
   * `c` is released and its application gave it back: keep it for newConnection. Not
   * while an endpoint list still links it (its next poll unlinks it; it is collected).
   */
  recycleConnection(c: TcpConnection): void {
    if (c.inEventList || c.inDirtyList || c.inTable || c.inTwList || c.heapIndex >= 0) return;
    if (this.spare.length < this.config.maxConnections) this.spare.push(c);
  }

  /** Makes sure one more connection fits, recycling the oldest TIME-WAIT if needed. */
  private makeRoom(): bool {
    if (this.count < this.config.maxConnections) return true;
    const tw = this.twHead;
    if (tw === null) return false;
    this.stats.timeWaitRecycled++;
    tw.release(CloseReason.NORMAL);
    return this.count < this.config.maxConnections;
  }

  private findListener(t: TcpTuple): TcpListener | null {
    let wildcard: TcpListener | null = null;
    const ls = this.listeners;
    for (let i = 0; i < ls.length; i++) {
      const l = unchecked(ls[i]);
      if (l.port != t.localPort) continue;
      if (l.anyAddr) { wildcard = l; continue; }
      if (l.v6 == t.v6 && l.addrHi == t.localHi && l.addrLo == t.localLo) return l;
    }
    return wildcard;
  }

  /** Every connection in the table (tests and diagnostics). */
  connections(): Array<TcpConnection> {
    const out = new Array<TcpConnection>();
    for (let i = 0; i < this.buckets.length; i++) {
      let c = this.buckets[i];
      while (c !== null) { out.push(c); c = c.hashNext; }
    }
    return out;
  }
}

/** Brings a config into range (builds run with --noAssert: this must not rely on assert). */
function validateConfig(c: TcpConfig): void {
  c.rcvBuf = pow2Within(c.rcvBuf);
  c.sndBuf = pow2Within(c.sndBuf);
  if (c.mtu < 1280) c.mtu = 1280; // IPv6 minimum; IPv4 links this small are not supported
  if (c.mtu > 65535) c.mtu = 65535;
  if (c.maxConnections < 1) c.maxConnections = 1;
  if (c.synBacklog < 1) c.synBacklog = 1;
  if (c.timeWait < MS) c.timeWait = MS;
  if (c.finWait2Timeout < MS) c.finWait2Timeout = MS;
  if (c.minRto < MS) c.minRto = MS;
  if (c.maxRto < c.minRto) c.maxRto = c.minRto;
  if (c.initialRto < c.minRto) c.initialRto = c.minRto;
  if (c.initialWindowSegments < 1) c.initialWindowSegments = 1;
}

/** `n` rounded up to a power of two within 1 KiB .. 1 GiB. */
function pow2Within(n: u32): u32 {
  let p: u32 = 1024;
  while (p < n && p < (1 << 30)) p <<= 1;
  return p;
}
