// One TCP connection: the RFC 9293 state machine with RFC 6298 retransmission timing,
// RFC 5681/6582 congestion control and NewReno recovery (the window arithmetic itself is
// a pluggable CongestionControl), RFC 7323 window scaling and timestamps, RFC 2018 SACK
// (receiver side: blocks; sender side: retransmissions skip SACKed data), RFC 5961
// hardening and delayed ACKs. It knows nothing about frames or rings: segments come in
// through input() and leave through the endpoint's SegmentSink.

import { seqLt, seqLe, seqGt, seqGe, seqMax } from "./seq";
import { TcpSegment, TCP_FIN, TCP_SYN, TCP_RST, TCP_PSH, TCP_ACK } from "./segment";
import { TcpTuple } from "./tuple";
import { SendBuffer, RecvBuffer, NO_ENTRIES } from "./buffers";
import { RttEstimator } from "./rtt";
import { CongestionControl } from "./cc";
import { TimerEntry } from "./timers";
import { TcpEndpoint } from "./endpoint";
import { TcpListener } from "./listener";
import { TcpStats } from "./stats";

export const enum TcpState {
  CLOSED = 0,
  LISTEN = 1,
  SYN_SENT = 2,
  SYN_RECEIVED = 3,
  ESTABLISHED = 4,
  FIN_WAIT_1 = 5,
  FIN_WAIT_2 = 6,
  CLOSE_WAIT = 7,
  CLOSING = 8,
  LAST_ACK = 9,
  TIME_WAIT = 10,
}

export function stateName(s: TcpState): string {
  switch (s) {
    case TcpState.CLOSED: return "CLOSED";
    case TcpState.LISTEN: return "LISTEN";
    case TcpState.SYN_SENT: return "SYN-SENT";
    case TcpState.SYN_RECEIVED: return "SYN-RECEIVED";
    case TcpState.ESTABLISHED: return "ESTABLISHED";
    case TcpState.FIN_WAIT_1: return "FIN-WAIT-1";
    case TcpState.FIN_WAIT_2: return "FIN-WAIT-2";
    case TcpState.CLOSE_WAIT: return "CLOSE-WAIT";
    case TcpState.CLOSING: return "CLOSING";
    case TcpState.LAST_ACK: return "LAST-ACK";
    case TcpState.TIME_WAIT: return "TIME-WAIT";
  }
  return "?";
}

/** Why a connection ended (given to TcpHandler.onClosed and kept in closeReason). */
export const enum CloseReason {
  NONE = 0,
  /** Both sides closed (FIN exchange). */
  NORMAL = 1,
  /** The peer sent a valid RST. */
  RESET = 2,
  /** Retransmissions (or SYN retries, or FIN-WAIT-2) timed out. */
  TIMEOUT = 3,
  /** Active open answered with RST. */
  REFUSED = 4,
  /** The application called abort(), or the endpoint shut down. */
  ABORTED = 5,
  /** No buffer memory (endpoint budget) or the listener's accept queue was full. */
  NO_RESOURCES = 6,
}

/** Event bits queued on a connection and delivered by TcpEndpoint.dispatch(). */
export const EV_CONNECTED: u32 = 1;
export const EV_READABLE: u32 = 2;
export const EV_WRITABLE: u32 = 4;
export const EV_CLOSED: u32 = 8;

/**
 * Application callbacks for one connection. Called from TcpEndpoint.poll()/dispatch(),
 * never from inside segment processing; they may call read/write/close/abort freely.
 */
export class TcpHandler {
  /** An active open completed. */
  onConnected(c: TcpConnection): void {}
  /** New in-order data, or the peer's FIN (read() then returns -1 once drained). */
  onReadable(c: TcpConnection): void {}
  /** Send-buffer space became free after a write() that did not take everything. */
  onWritable(c: TcpConnection): void {}
  /** The connection is over (see CloseReason). No callback follows. */
  onClosed(c: TcpConnection, reason: CloseReason): void {}
}

/** Bytes of TCP options in a non-SYN segment with timestamps (2 NOP + 10). */
const TS_OPT_LEN: u32 = 12;
/** Duplicate ACKs that trigger fast retransmit (RFC 5681). */
const DUP_THRESH: u32 = 3;
/** Timestamps older than this are not used for PAWS (RFC 7323 5.5: 24 days). */
const PAWS_IDLE: u64 = 24 * 86400 * 1_000_000_000;
/** Most SACKed ranges the sender remembers (the scoreboard is bounded like every buffer). */
const MAX_SACKED: i32 = 32;
/** Retransmissions remembered for lost-retransmission detection. */
const RTX_LOG: i32 = 32;

export class TcpConnection extends TimerEntry {
  ep: TcpEndpoint;
  readonly tuple: TcpTuple = new TcpTuple();
  state: TcpState = TcpState.CLOSED;
  /** Listener this connection came from (passive open), while it is half-open or queued. */
  listener: TcpListener | null = null;
  handler: TcpHandler | null = null;
  /** Free for the application (e.g. an index into its own table). */
  userData: i32 = 0;
  /** Link-layer address (MAC, low 48 bits) of the next hop, learned from received frames; 0 = unknown. */
  linkAddr: u64 = 0;
  closeReason: CloseReason = CloseReason.NONE;
  /** Passive open (came through a listener). */
  passive: bool = false;
  /** Counted in its listener's half-open (SYN backlog) total. */
  halfOpen: bool = false;
  /** The application knows this connection (accepted or actively opened). */
  visible: bool = false;

  // ---- send sequence space ----
  iss: u32 = 0;
  sndUna: u32 = 0;
  sndNxt: u32 = 0;
  /** Highest sequence number sent + 1 (SND.NXT can be pulled back by a timeout). */
  sndMax: u32 = 0;
  /** Peer's window, bytes (already scaled). */
  sndWnd: u32 = 0;
  sndWl1: u32 = 0;
  sndWl2: u32 = 0;
  /** Largest window the peer ever offered (sender SWS avoidance, RFC 5961 ACK check). */
  maxSndWnd: u32 = 0;
  sndWscale: u32 = 0;
  rcvWscale: u32 = 0;
  /** Largest payload of one segment: min(peer MSS, our MSS) minus the timestamp option. */
  mss: u32 = 536;
  /** MSS without options (what the segment size is computed from). */
  mssBase: u32 = 536;
  /** MSS we announced (receiver-side heuristics). */
  rcvMss: u32 = 536;
  tx: SendBuffer = new SendBuffer();
  /** Sequence number of tx byte 0 (the oldest unacknowledged data byte). */
  txSeq: u32 = 0;
  /** The application closed its sending side: a FIN follows the last byte. */
  finQueued: bool = false;

  // ---- receive sequence space ----
  irs: u32 = 0;
  rcvNxt: u32 = 0;
  /** Right edge of the window last advertised. */
  rcvAdv: u32 = 0;
  rx: RecvBuffer = new RecvBuffer();
  /** The peer's FIN has been received in order (RCV.NXT is past it). */
  finRcvd: bool = false;
  /** A FIN arrived out of order at finSeq; it counts once the data before it is in. */
  finPending: bool = false;
  finSeq: u32 = 0;

  // ---- options ----
  /** The peer asked for window scaling in its SYN (the SYN-ACK then carries ours). */
  peerOfferedWscale: bool = false;
  tsOk: bool = false;
  tsRecent: u32 = 0;
  tsRecentAt: u64 = 0;
  lastAckSent: u32 = 0;
  sackOk: bool = false;
  /** Sender scoreboard: ranges above SND.UNA the peer reported as received (RFC 2018). */
  nSacked: i32 = 0;
  /** NO_ENTRIES until the peer first SACKs something, then MAX_SACKED entries each. */
  sackedStart: StaticArray<u32> = NO_ENTRIES;
  sackedEnd: StaticArray<u32> = NO_ENTRIES;
  /** Recovery retransmits holes below this point (everything under it was re-sent). */
  rtxNext: u32 = 0;
  /**
   * Recent recovery retransmissions (sequence number, SND.MAX at the time), a ring of
   * RTX_LOG entries: a retransmission is known lost when data sent after it is SACKed.
   */
  rtxLogSeq: StaticArray<u32> = NO_ENTRIES; // RTX_LOG entries once recovery retransmits
  rtxLogMark: StaticArray<u32> = NO_ENTRIES;
  rtxLogN: i32 = 0;

  // ---- timers (absolute ns, 0 = off) ----
  rtxAt: u64 = 0;
  dackAt: u64 = 0;
  persistAt: u64 = 0;
  /** TIME-WAIT end or FIN-WAIT-2 give-up time. */
  closeAt: u64 = 0;
  /** Tail loss probe (RFC 8985 7) time, and whether a probe awaits its ACK. */
  tlpAt: u64 = 0;
  tlpPending: bool = false;
  retries: u32 = 0;
  persistBackoff: u32 = 0;
  persistProbes: u32 = 0;
  rtt: RttEstimator;
  rttTiming: bool = false;
  rttSeq: u32 = 0;
  rttStart: u64 = 0;
  /** Our SYN has been acknowledged (SND.UNA moved past ISS). */
  synAcked: bool = false;
  /** The SYN was retransmitted (RFC 6298 5.7: RTO starts at >= 3 s then). */
  synRetransmitted: bool = false;

  // ---- congestion control ----
  cc: CongestionControl;
  dupAcks: u32 = 0;
  inRecovery: bool = false;
  /** RFC 6582 recover, kept as SND.MAX (highest sequence number sent + 1) when recovery or the last timeout began. */
  recover: u32 = 0;
  /** NewReno window inflation during fast recovery, bytes (may go negative on deflation). */
  inflation: i64 = 0;
  partialAcks: u32 = 0;

  // ---- ACK generation ----
  ackNow: bool = false;
  /** Full-sized segments received since the last ACK we sent. */
  unackedSegs: u32 = 0;

  // ---- application events ----
  events: u32 = 0;
  inEventList: bool = false;
  eventNext: TcpConnection | null = null;
  wantWrite: bool = false;
  closedNotified: bool = false;

  // ---- endpoint bookkeeping ----
  hashNext: TcpConnection | null = null;
  inDirtyList: bool = false;
  dirtyNext: TcpConnection | null = null;
  twPrev: TcpConnection | null = null;
  twNext: TcpConnection | null = null;
  inTwList: bool = false;
  inTable: bool = false;
  /** The application gave the object back (recycle()): reuse it once it is released. */
  recyclable: bool = false;

  // ---- counters ----
  bytesIn: u64 = 0;
  bytesOut: u64 = 0;
  segsRetransmitted: u32 = 0;

  constructor(ep: TcpEndpoint) {
    super();
    this.ep = ep;
    const c = ep.config;
    this.rtt = new RttEstimator(c.minRto, c.maxRto, c.initialRto);
    this.cc = c.cc();
  }

  /**
   * Makes a released, recycled object as new (TcpEndpoint.newConnection): every field
   * back to its initial value above, the tuple, buffers' bookkeeping and RTT estimator
   * reused, a fresh congestion control (an algorithm may keep any state). The SACK,
   * retransmission-log and out-of-order tables stay allocated (emptied). A field added
   * above must be reset here too: test/tcp (reinitMatchesFresh) compares a recycled
   * object with a fresh one field by field.
   */
  reinit(): void {
    this.deadline = 0; this.heapIndex = -1;
    this.state = TcpState.CLOSED;
    this.listener = null; this.handler = null;
    this.userData = 0; this.linkAddr = 0; this.closeReason = CloseReason.NONE;
    this.passive = false; this.halfOpen = false; this.visible = false;
    this.iss = 0; this.sndUna = 0; this.sndNxt = 0; this.sndMax = 0; this.sndWnd = 0;
    this.sndWl1 = 0; this.sndWl2 = 0; this.maxSndWnd = 0; this.sndWscale = 0; this.rcvWscale = 0;
    this.mss = 536; this.mssBase = 536; this.rcvMss = 536;
    this.tx.reset();
    this.txSeq = 0; this.finQueued = false;
    this.irs = 0; this.rcvNxt = 0; this.rcvAdv = 0;
    this.rx.reset();
    this.finRcvd = false; this.finPending = false; this.finSeq = 0;
    this.peerOfferedWscale = false; this.tsOk = false; this.tsRecent = 0; this.tsRecentAt = 0;
    this.lastAckSent = 0; this.sackOk = false; this.nSacked = 0;
    this.rtxNext = 0; this.rtxLogN = 0;
    this.rtxAt = 0; this.dackAt = 0; this.persistAt = 0; this.closeAt = 0; this.tlpAt = 0;
    this.tlpPending = false; this.retries = 0; this.persistBackoff = 0; this.persistProbes = 0;
    const c = this.ep.config;
    this.rtt.reset(c.minRto, c.maxRto, c.initialRto);
    this.rttTiming = false; this.rttSeq = 0; this.rttStart = 0;
    this.synAcked = false; this.synRetransmitted = false;
    this.cc = c.cc();
    this.dupAcks = 0; this.inRecovery = false; this.recover = 0; this.inflation = 0; this.partialAcks = 0;
    this.ackNow = false; this.unackedSegs = 0;
    this.events = 0; this.inEventList = false; this.eventNext = null;
    this.wantWrite = false; this.closedNotified = false;
    this.hashNext = null; this.inDirtyList = false; this.dirtyNext = null;
    this.twPrev = null; this.twNext = null; this.inTwList = false; this.inTable = false;
    this.recyclable = false;
    this.bytesIn = 0; this.bytesOut = 0; this.segsRetransmitted = 0;
  }

  // =====================================================================================
  // Application API
  // =====================================================================================

  /** In-order bytes ready to read. */
  @inline get readable(): u32 { return this.rx.len; }

  /** Bytes write() would accept now (0 when the sending side is closed). */
  get writable(): u32 {
    if (!this.canSend()) return 0;
    return this.tx.free;
  }

  /** The peer closed its side and every byte before its FIN has been read. */
  get eof(): bool { return this.finRcvd && this.rx.len == 0; }

  /** True in the states where data can flow (ESTABLISHED, CLOSE-WAIT). */
  get isOpen(): bool { return this.state == TcpState.ESTABLISHED || this.state == TcpState.CLOSE_WAIT; }

  /**
   * Copies up to `len` received bytes to `dst`. Returns the count, 0 when nothing is
   * buffered yet, -1 at end of stream (peer's FIN read, or the connection is closed).
   */
  read(dst: usize, len: u32): i32 {
    const n = this.rx.buf != 0 ? this.rx.read(dst, len) : 0;
    if (n > 0) { this.afterRead(); return <i32>n; }
    if (this.finRcvd || this.state == TcpState.CLOSED) { this.afterRead(); return -1; }
    return 0;
  }

  /**
   * Zero-copy access: the readable bytes are at most two pieces, contiguousReadable()
   * bytes at peekPtr(), then (readable - contiguousReadable()) bytes at wrapPtr().
   */
  @inline peekPtr(): usize { return this.rx.peekPtr(); }
  @inline contiguousReadable(): u32 { return this.rx.buf != 0 ? this.rx.contiguous() : 0; }
  @inline wrapPtr(): usize { return this.rx.buf; }
  /** Copies up to `len` readable bytes from `off` bytes in to `dst` without consuming them. */
  peek(dst: usize, off: u32, len: u32): u32 { return this.rx.buf != 0 ? this.rx.peek(dst, off, len) : 0; }
  /** Marks `n` bytes (at most contiguousReadable()) as read. */
  consume(n: u32): void {
    if (n == 0) return;
    this.rx.consume(min(n, this.rx.len));
    this.afterRead();
  }

  /**
   * Queues up to `len` bytes from `src` for sending. Returns the count taken (may be
   * short: onWritable follows when space frees up), or -1 if the sending side is closed.
   */
  write(src: usize, len: u32): i32 {
    if (!this.canSend()) return -1;
    const n = this.tx.write(src, len);
    if (n < len) this.wantWrite = true;
    if (n > 0) this.ep.markDirty(this);
    return <i32>n;
  }

  /** Writes the UTF-8 bytes of `s` (see write). */
  writeString(s: string): i32 {
    const b = String.UTF8.encode(s);
    return this.write(changetype<usize>(b), <u32>b.byteLength);
  }

  /** Asks for onWritable once send-buffer space frees up, even after a write that fit. */
  notifyWritable(): void { this.wantWrite = true; }

  /**
   * Graceful close of the sending side: a FIN follows the queued data. Reading stays
   * possible until the peer's FIN (read() returns -1).
   */
  close(): void {
    switch (this.state) {
      case TcpState.SYN_SENT:
        this.release(CloseReason.ABORTED);
        break;
      case TcpState.SYN_RECEIVED:
      case TcpState.ESTABLISHED:
        this.finQueued = true;
        this.state = TcpState.FIN_WAIT_1;
        this.ep.markDirty(this);
        break;
      case TcpState.CLOSE_WAIT:
        this.finQueued = true;
        this.state = TcpState.LAST_ACK;
        this.ep.markDirty(this);
        break;
      default:
        break;
    }
  }

  /**
   * Gives the object back: the application keeps no reference to it and makes no more
   * calls on it. Call it in onClosed (or later); before the connection was reported
   * closed it does nothing. Once the connection is fully released (at once, or when its
   * TIME-WAIT ends) the endpoint reuses the object for a later connection instead of
   * allocating a new one: under a high connection rate that saves most of the
   * allocation and garbage-collection work per connection. Optional: without it the
   * object is simply collected.
   */
  recycle(): void {
    if (!this.closedNotified || this.recyclable) return;
    this.recyclable = true;
    if (this.state == TcpState.CLOSED) this.ep.recycleConnection(this);
  }

  /** Drops the connection at once, telling the peer with RST (RFC 9293 ABORT). */
  abort(): void {
    switch (this.state) {
      case TcpState.SYN_RECEIVED:
      case TcpState.ESTABLISHED:
      case TcpState.FIN_WAIT_1:
      case TcpState.FIN_WAIT_2:
      case TcpState.CLOSE_WAIT:
      case TcpState.CLOSING:
      case TcpState.LAST_ACK:
        this.sendRst(this.sndNxt);
        break;
      default:
        break;
    }
    this.release(CloseReason.ABORTED);
  }

  // =====================================================================================
  // Opening
  // =====================================================================================

  /** Starts an active open (the endpoint has set tuple, iss and buffers). */
  openActive(now: u64): void {
    this.state = TcpState.SYN_SENT;
    this.initSendSpace(this.iss);
    const c = this.ep.config;
    this.rcvWscale = c.windowScale ? this.ep.rcvWscaleFor(c.rcvBuf) : 0;
    this.rcvMss = this.ep.mssFor(this.tuple.v6);
    this.recover = this.iss;
    this.output(now);
  }

  /** Sets up a passive open from a SYN (state SYN-RECEIVED); the caller then calls output(). */
  openPassive(seg: TcpSegment, now: u64): void {
    this.state = TcpState.SYN_RECEIVED;
    this.passive = true;
    this.initSendSpace(this.iss);
    this.irs = seg.seq;
    this.rcvNxt = seg.seq + 1;
    this.rcvAdv = this.rcvNxt;
    this.recover = this.iss;
    this.applySynOptions(seg, now, true);
    this.sndWnd = <u32>seg.window; // never scaled in a SYN
    this.maxSndWnd = this.sndWnd;
    this.sndWl1 = seg.seq;
    this.sndWl2 = this.iss;
  }

  /**
   * Creates the state of a connection whose handshake a SYN cookie completed: the ACK
   * `seg` acknowledges our SYN-ACK with ISS = seg.ack - 1.
   */
  openFromCookie(seg: TcpSegment, mss: u32, wscale: i32, sackOk: bool, tsOk: bool, now: u64): void {
    this.state = TcpState.SYN_RECEIVED;
    this.passive = true;
    this.iss = seg.ack - 1;
    this.initSendSpace(this.iss);
    this.sndNxt = seg.ack;
    this.sndMax = seg.ack;
    this.irs = seg.seq - 1;
    this.rcvNxt = seg.seq;
    this.recover = this.iss;
    const c = this.ep.config;
    this.rcvMss = this.ep.mssFor(this.tuple.v6);
    if (wscale >= 0 && c.windowScale) {
      this.sndWscale = <u32>min(wscale, 14);
      this.rcvWscale = this.ep.rcvWscaleFor(c.rcvBuf);
    }
    this.sackOk = sackOk && c.sack;
    this.tsOk = tsOk && c.timestamps;
    if (this.tsOk) { this.tsRecent = seg.tsVal; this.tsRecentAt = now; }
    this.setMss(mss);
    // Our SYN-ACK advertised min(rcvBuf, 65535) unscaled; the peer may send that much.
    this.rcvAdv = this.rcvNxt + min(c.rcvBuf, 65535);
    this.sndWl1 = seg.seq - 1;
    this.sndWl2 = this.iss;
  }

  private initSendSpace(iss: u32): void {
    this.sndUna = iss;
    this.sndNxt = iss;
    this.sndMax = iss;
    this.txSeq = iss + 1;
  }

  private applySynOptions(seg: TcpSegment, now: u64, passive: bool): void {
    const c = this.ep.config;
    const v6 = this.tuple.v6;
    this.rcvMss = this.ep.mssFor(v6);
    this.peerOfferedWscale = seg.wscale >= 0;
    if (c.windowScale && seg.wscale >= 0) {
      // RFC 7323 2.3: a shift above 14 is used as 14.
      this.sndWscale = <u32>min(seg.wscale, 14);
      if (passive) this.rcvWscale = this.ep.rcvWscaleFor(c.rcvBuf);
    } else {
      this.sndWscale = 0;
      this.rcvWscale = 0;
    }
    this.sackOk = c.sack && seg.sackPermitted;
    this.tsOk = c.timestamps && seg.tsPresent;
    if (this.tsOk) { this.tsRecent = seg.tsVal; this.tsRecentAt = now; }
    // RFC 9293 3.7.1: without the option assume 536 (IPv4) / 1220 (IPv6).
    this.setMss(seg.mss != 0 ? <u32>seg.mss : (v6 ? 1220 : 536));
  }

  private setMss(peerMss: u32): void {
    let base = min(peerMss, this.ep.mssFor(this.tuple.v6));
    if (base < 64) base = 64; // a hostile tiny MSS must not turn every byte into a segment
    this.mssBase = base;
    this.mss = this.tsOk ? base - TS_OPT_LEN : base;
  }

  /** Buffers attached and the congestion controller started: data can flow. */
  private synchronized(now: u64): bool {
    if (this.tx.buf == 0 && !this.ep.attachBuffers(this)) return false;
    const c = this.ep.config;
    const iw = min(c.initialWindowSegments * this.mss, max(2 * this.mss, 14600));
    this.cc.init(this.mss, iw, now);
    // RFC 6298 5.7: after a retransmitted SYN without an RTT sample, RTO restarts at 3 s.
    if (this.synRetransmitted && !this.rtt.hasSample && this.rtt.rto < 3 * 1_000_000_000) this.rtt.rto = 3 * 1_000_000_000;
    return true;
  }

  // =====================================================================================
  // Segment arrival (RFC 9293 3.10.7)
  // =====================================================================================

  /** Processes one arriving segment whose checksum and addresses have been verified. */
  input(seg: TcpSegment, now: u64): void {
    this.ep.stats.segsIn++;
    switch (this.state) {
      case TcpState.CLOSED:
      case TcpState.LISTEN:
        return;
      case TcpState.SYN_SENT:
        this.inputSynSent(seg, now);
        break;
      default:
        this.inputSynchronized(seg, now);
        break;
    }
    if (this.state != TcpState.CLOSED) this.output(now);
    this.rearm();
  }

  private inputSynSent(seg: TcpSegment, now: u64): void {
    const flags = seg.flags;
    const hasAck = (flags & TCP_ACK) != 0;
    if (hasAck && (seqLe(seg.ack, this.iss) || seqGt(seg.ack, this.sndMax))) {
      // Acknowledges something we never sent: reset it unless it is a reset.
      if ((flags & TCP_RST) == 0) this.ep.replyRst(this.tuple, this.linkAddr, seg.ack, 0, false);
      return;
    }
    if ((flags & TCP_RST) != 0) {
      // RFC 5961 3.2 / RFC 9293: only an RST that acknowledges our SYN refuses the connection.
      if (hasAck) this.release(CloseReason.REFUSED);
      return;
    }
    if ((flags & TCP_SYN) == 0) return;
    this.irs = seg.seq;
    this.rcvNxt = seg.seq + 1;
    this.rcvAdv = this.rcvNxt;
    this.applySynOptions(seg, now, false);
    if (hasAck) {
      this.onNewAck(seg, now);
      this.sndWnd = <u32>seg.window; // the SYN-ACK's window is never scaled
      this.maxSndWnd = this.sndWnd;
      this.sndWl1 = seg.seq;
      this.sndWl2 = seg.ack;
      if (!this.synchronized(now)) { this.sendRst(this.sndNxt); this.release(CloseReason.NO_RESOURCES); return; }
      this.state = TcpState.ESTABLISHED;
      this.ep.stats.activeOpens++;
      this.ackNow = true;
      this.queueEvent(EV_CONNECTED);
      // Data in a SYN-ACK is not accepted here; the peer retransmits it.
    } else {
      // Simultaneous open: answer with SYN-ACK from SYN-RECEIVED.
      this.state = TcpState.SYN_RECEIVED;
      this.sndWnd = <u32>seg.window;
      this.maxSndWnd = this.sndWnd;
      this.sndWl1 = seg.seq;
      this.sndNxt = this.iss;
    }
  }

  private inputSynchronized(seg: TcpSegment, now: u64): void {
    const st = this.stats();
    const flags = seg.flags;
    const isRst = (flags & TCP_RST) != 0;
    const isSyn = (flags & TCP_SYN) != 0;

    // Simultaneous open (RFC 9293 figure 8): the peer's SYN-ACK repeats its SYN's sequence
    // number; take it as the ACK of our SYN if it acknowledges exactly that.
    if (this.state == TcpState.SYN_RECEIVED && !this.passive && isSyn && (flags & TCP_ACK) != 0 &&
        !isRst && seg.seq == this.irs) {
      if (!(seqGt(seg.ack, this.sndUna) && seqLe(seg.ack, this.sndMax))) return;
      seg.flags = flags & ~(TCP_SYN | TCP_FIN);
      seg.seq = this.irs + 1;
      seg.payloadLen = 0;
      this.inputSynchronized(seg, now);
      return;
    }
    // A retransmitted SYN while our SYN-ACK is unacknowledged: send the SYN-ACK again.
    if (this.state == TcpState.SYN_RECEIVED && isSyn && (flags & TCP_ACK) == 0 && !isRst) {
      if (seg.seq == this.irs) { this.sndNxt = this.iss; }
      return;
    }

    // PAWS (RFC 7323 5.3).
    if (this.tsOk && seg.tsPresent && !isRst && seqLt(seg.tsVal, this.tsRecent) &&
        now - this.tsRecentAt < PAWS_IDLE) {
      st.pawsDropped++;
      this.ackNow = true;
      return;
    }

    // Acceptability (RFC 9293 3.10.7.4, first check).
    const origSeq = seg.seq;
    const origLen = seg.payloadLen;
    const segLen = seg.seqLen;
    const wnd = this.receiveWindow();
    const rn = this.rcvNxt;
    let ok: bool;
    if (segLen == 0) {
      ok = wnd == 0 ? origSeq == rn : (seqLe(rn, origSeq) && seqLt(origSeq, rn + wnd));
    } else if (wnd == 0) {
      ok = false;
    } else {
      const last = origSeq + segLen - 1;
      ok = (seqLe(rn, origSeq) && seqLt(origSeq, rn + wnd)) || (seqLe(rn, last) && seqLt(last, rn + wnd));
    }
    if (!ok) {
      // A zero window still takes the ACK and window of a segment at RCV.NXT (RFC 9293 3.8.6.2).
      if (wnd == 0 && origSeq == rn && !isRst && !isSyn) {
        seg.payloadLen = 0;
        seg.flags &= ~TCP_FIN;
        this.ackNow = true;
      } else {
        st.outOfWindow++;
        if (!isRst) this.ackNow = true;
        // A retransmitted FIN in TIME-WAIT restarts the 2 MSL timer (RFC 9293).
        if (this.state == TcpState.TIME_WAIT && (flags & TCP_FIN) != 0) this.ep.restartTimeWait(this, now);
        return;
      }
    }

    // RST (RFC 5961 3.2): exact match resets, anything else in the window is challenged.
    if (isRst) {
      st.rstIn++;
      if (this.state == TcpState.TIME_WAIT) return; // RFC 1337: no TIME-WAIT assassination
      if (origSeq == rn) {
        this.release(this.state == TcpState.SYN_RECEIVED && this.passive ? CloseReason.NONE : CloseReason.RESET);
      } else {
        this.challengeAck(now);
      }
      return;
    }

    // SYN in a synchronized state (RFC 5961 4.2): challenge, never reset.
    if (isSyn) {
      this.challengeAck(now);
      return;
    }

    if ((flags & TCP_ACK) == 0) return;

    // Timestamps: remember the peer's newest TSval for echoing (RFC 7323 4.3).
    if (this.tsOk && seg.tsPresent && seqLe(origSeq, this.lastAckSent) && seqGe(seg.tsVal, this.tsRecent)) {
      this.tsRecent = seg.tsVal;
      this.tsRecentAt = now;
    }

    // ---- ACK processing ----
    const ack = seg.ack;
    if (this.state == TcpState.SYN_RECEIVED) {
      if (seqGt(ack, this.sndUna) && seqLe(ack, this.sndMax)) {
        if (!this.establishPassive(now)) return;
      } else {
        this.ep.replyRst(this.tuple, this.linkAddr, ack, 0, false);
        return;
      }
    }
    if (seqGt(ack, this.sndMax)) {
      // Acknowledges data never sent: ACK and drop (RFC 9293; RFC 5961 5.2).
      this.ackNow = true;
      return;
    }
    if (seqLt(ack, this.sndUna - this.maxSndWnd)) {
      this.challengeAck(now);
      return;
    }
    const newWnd = <u32>seg.window << this.sndWscale;
    const sackedNew = this.sackOk && seg.sackCount > 0 && this.updateScoreboard(seg);
    if (seqGt(ack, this.sndUna)) {
      this.onNewAck(seg, now);
    } else if (ack == this.sndUna && this.sndMax != this.sndUna &&
               (sackedNew || (origLen == 0 && (flags & TCP_FIN) == 0 && newWnd == this.sndWnd))) {
      // RFC 5681 duplicate ACK, or (RFC 6675) any ACK that SACKs new data, even one
      // riding on a data segment.
      this.onDupAck(now);
    }
    // Window update (RFC 9293 3.10.7.4, fifth check).
    if (seqLt(this.sndWl1, origSeq) || (this.sndWl1 == origSeq && seqLe(this.sndWl2, ack))) {
      if (newWnd > this.sndWnd && this.persistAt != 0) this.persistAt = 0;
      this.sndWnd = newWnd;
      this.sndWl1 = origSeq;
      this.sndWl2 = ack;
      if (newWnd > this.maxSndWnd) this.maxSndWnd = newWnd;
    }
    // Any acceptable ACK shows the peer is alive: zero-window probing may go on forever.
    this.persistProbes = 0;

    const finAcked = this.finQueued && this.sndUna == this.txSeq + this.tx.len + 1;
    switch (this.state) {
      case TcpState.FIN_WAIT_1:
        if (finAcked) {
          this.state = TcpState.FIN_WAIT_2;
          this.closeAt = now + this.ep.config.finWait2Timeout;
        }
        break;
      case TcpState.CLOSING:
        if (finAcked) { this.enterTimeWait(now); return; }
        break;
      case TcpState.LAST_ACK:
        if (finAcked) { this.release(CloseReason.NORMAL); return; }
        break;
      default:
        break;
    }

    // ---- data ----
    if (seg.payloadLen > 0) {
      if (this.state == TcpState.ESTABLISHED || this.state == TcpState.FIN_WAIT_1 || this.state == TcpState.FIN_WAIT_2) {
        this.receiveData(seg, now);
      } else {
        // Data after the peer's FIN cannot be valid.
        this.ackNow = true;
      }
    }

    // ---- FIN ----
    if ((seg.flags & TCP_FIN) != 0) {
      const fs = origSeq + origLen;
      if (fs == this.rcvNxt && !this.finRcvd) {
        this.finArrived(now);
      } else if (seqGt(fs, this.rcvNxt)) {
        this.finPending = true;
        this.finSeq = fs;
        this.ackNow = true;
      } else {
        // Duplicate FIN: acknowledge again; in TIME-WAIT restart 2 MSL.
        this.ackNow = true;
        if (this.state == TcpState.TIME_WAIT) this.ep.restartTimeWait(this, now);
      }
    }
  }

  /** The final ACK of a passive open arrived: attach buffers and hand the connection over. */
  private establishPassive(now: u64): bool {
    if (!this.synchronized(now)) {
      this.sendRst(this.sndMax);
      this.release(CloseReason.NO_RESOURCES);
      return false;
    }
    this.state = this.finQueued ? TcpState.FIN_WAIT_1 : TcpState.ESTABLISHED;
    if (!this.passive) {
      // Simultaneous open: the application opened this connection itself.
      this.ep.stats.activeOpens++;
      this.queueEvent(EV_CONNECTED);
      return true;
    }
    this.ep.stats.passiveOpens++;
    if (!this.ep.accepted(this)) {
      this.sendRst(this.sndMax);
      this.release(CloseReason.NO_RESOURCES);
      return false;
    }
    return true;
  }

  private receiveData(seg: TcpSegment, now: u64): void {
    const st = this.stats();
    let seq = seg.seq;
    let ptr = seg.payloadPtr;
    let len = seg.payloadLen;
    // Trim what we already have.
    if (seqLt(seq, this.rcvNxt)) {
      const skip = this.rcvNxt - seq;
      if (skip >= len) { this.ackNow = true; return; }
      ptr += skip; len -= skip; seq = this.rcvNxt;
    }
    // Trim what does not fit in the buffer.
    const space = this.rx.free;
    const off = seq - this.rcvNxt;
    if (off >= space) { seg.flags &= ~TCP_FIN; this.ackNow = true; st.outOfWindow++; return; }
    if (off + len > space) { len = space - off; seg.flags &= ~TCP_FIN; }
    const hadHoles = this.rx.nRanges > 0;
    const adv = this.rx.insert(this.rcvNxt, seq, ptr, len);
    if (adv < 0) { st.oooDropped++; this.ackNow = true; return; }
    if (adv == 0) {
      // Out of order: an immediate duplicate ACK (with SACK) drives the sender's recovery.
      st.oooSegs++;
      this.ackNow = true;
      return;
    }
    this.rcvNxt += <u32>adv;
    this.bytesIn += <u64>adv;
    // FIN-WAIT-2 gives up on a silent peer, not on one still sending (half-close).
    if (this.state == TcpState.FIN_WAIT_2) this.closeAt = now + this.ep.config.finWait2Timeout;
    this.queueEvent(EV_READABLE);
    if (this.finPending && this.rcvNxt == this.finSeq) this.finArrived(now);
    if (hadHoles) { this.ackNow = true; return; } // filled (part of) a gap: ACK at once
    // Delayed ACK: at least every second full-sized segment (RFC 5681 4.2, RFC 1122).
    this.unackedSegs++;
    const dack = this.ep.config.delayedAck;
    if (dack == 0 || this.unackedSegs >= 2) {
      this.ackNow = true;
    } else if (this.dackAt == 0) {
      this.dackAt = now + dack;
    }
  }

  /** The peer's FIN is next in sequence: consume it and change state. */
  private finArrived(now: u64): void {
    this.finPending = false;
    this.finRcvd = true;
    this.rcvNxt += 1;
    this.ackNow = true;
    this.queueEvent(EV_READABLE);
    switch (this.state) {
      case TcpState.SYN_RECEIVED:
      case TcpState.ESTABLISHED:
        this.state = TcpState.CLOSE_WAIT;
        break;
      case TcpState.FIN_WAIT_1: {
        const finAcked = this.finQueued && this.sndUna == this.txSeq + this.tx.len + 1;
        if (finAcked) this.enterTimeWait(now);
        else this.state = TcpState.CLOSING;
        break;
      }
      case TcpState.FIN_WAIT_2:
        this.enterTimeWait(now);
        break;
      default:
        break;
    }
  }

  /** SND.UNA moves forward to seg.ack (acceptable, new). */
  private onNewAck(seg: TcpSegment, now: u64): void {
    const ack = seg.ack;
    const flightBefore = this.sndNxt - this.sndUna;
    let acked = ack - this.sndUna;
    if (!this.synAcked) { acked -= 1; this.synAcked = true; } // our SYN
    let dataAcked = min(acked, this.tx.len);
    this.tx.consume(dataAcked);
    this.txSeq += dataAcked;
    this.sndUna = ack;
    if (seqLt(this.sndNxt, ack)) this.sndNxt = ack;
    if (seqLt(this.rtxNext, ack)) this.rtxNext = ack;
    this.pruneScoreboard();
    this.bytesOut += <u64>dataAcked;

    // RTT sample under Karn's rule: only a segment that was never retransmitted is timed.
    if (this.rttTiming && seqGt(ack, this.rttSeq)) {
      this.rtt.sample(now - this.rttStart);
      this.rttTiming = false;
    }
    this.retries = 0;
    this.rtt.backoff = 0;
    this.persistBackoff = 0;
    this.tlpAt = 0;        // re-armed by output() while data is outstanding
    this.tlpPending = false;

    if (this.state != TcpState.SYN_SENT && this.state != TcpState.SYN_RECEIVED) {
      if (this.inRecovery) {
        if (seqGe(ack, this.recover)) {
          this.inRecovery = false;
          this.inflation = 0;
          this.cc.onRecoveryEnd(this.sndMax - this.sndUna, now);
        } else {
          // Partial ACK (RFC 6582 3.2 step 5): retransmit the next hole, deflate.
          this.partialAcks++;
          this.retransmitHole(now);
          this.inflation -= <i64>dataAcked;
          if (dataAcked >= this.mss) this.inflation += <i64>this.mss;
          if (this.partialAcks == 1) this.rtxAt = now + this.rtt.current();
        }
      } else {
        const cwndLimited = flightBefore + this.mss > this.cc.cwnd;
        this.cc.onAck(dataAcked, flightBefore, cwndLimited, this.rtt.latest, now);
      }
    }
    this.dupAcks = 0;

    // RFC 6298 5.2/5.3: stop the timer when all is acknowledged, else restart it.
    if (this.sndUna == this.sndMax) this.rtxAt = 0;
    else if (!this.inRecovery || this.partialAcks != 1) this.rtxAt = now + this.rtt.current();

    if (dataAcked > 0 && this.wantWrite && this.tx.free > 0) {
      this.wantWrite = false;
      this.queueEvent(EV_WRITABLE);
    }
  }

  private onDupAck(now: u64): void {
    this.dupAcks++;
    this.stats().dupAcksIn++;
    if (this.inRecovery) {
      // Lost retransmission: data sent after our retransmission of SND.UNA has been
      // SACKed (DupThresh segments of it), yet SND.UNA did not move. Send it again rather
      // than wait for the timeout.
      if (this.sackOk && this.nSacked > 0) {
        const i = this.rtxLogFind(this.sndUna);
        if (i >= 0 && seqGe(this.sackedEnd[this.nSacked - 1], this.rtxLogMark[i % RTX_LOG] + DUP_THRESH * this.mss)) {
          this.rtxLogSeq[i % RTX_LOG] = this.sndUna - 1; // forget it: one resend per detection
          this.rtxNext = this.sndUna;
          this.stats().lostRetransmits++;
        }
      }
      // With SACK a duplicate ACK may reveal another hole: repair it instead of sending
      // new data, so each ACK still releases one segment.
      if (!(this.sackOk && this.nSacked > 0 && this.retransmitHole(now))) this.inflation += <i64>this.mss;
      return;
    }
    // Early retransmit (RFC 5827): with fewer than four segments outstanding and nothing
    // new to send, fewer duplicate ACKs can ever arrive, so fewer are required.
    let thresh = DUP_THRESH;
    if (!this.hasUnsent() || this.sndWnd <= this.sndNxt - this.sndUna) {
      const segs = (this.sndMax - this.sndUna + this.mss - 1) / this.mss;
      if (segs < 4) thresh = segs > 1 ? segs - 1 : 1;
    }
    // RFC 6582 step 2: only when the ACK covers more than `recover` (the highest sequence
    // number sent when the previous episode began: SND.MAX - 1 then), i.e. ack >= SND.MAX then.
    if (this.dupAcks >= thresh && seqGe(this.sndUna, this.recover)) {
      this.tlpAt = 0;
      // Fast retransmit, then fast recovery (RFC 6582 3.2 steps 2-4).
      const flight = this.sndMax - this.sndUna;
      this.cc.onLoss(flight, now);
      this.recover = this.sndMax;
      this.inRecovery = true;
      this.partialAcks = 0;
      this.inflation = <i64>(DUP_THRESH * this.mss);
      this.rtxNext = this.sndUna;
      this.rtxLogN = 0;
      this.stats().fastRetransmits++;
      this.retransmitHole(now);
      this.rtxAt = now + this.rtt.current();
    }
  }

  /** Index (into the ring, unreduced) of the latest logged retransmission of `seq`, or -1. */
  private rtxLogFind(seq: u32): i32 {
    const n = this.rtxLogN;
    const lo = n > RTX_LOG ? n - RTX_LOG : 0;
    for (let i = n - 1; i >= lo; i--) if (this.rtxLogSeq[i % RTX_LOG] == seq) return i;
    return -1;
  }

  /** Records the peer's SACK blocks above SND.UNA in the bounded scoreboard; true if any was new. */
  private updateScoreboard(seg: TcpSegment): bool {
    let grew = false;
    for (let i = 0; i < seg.sackCount; i++) {
      let s = seg.sackLeft[i], e = seg.sackRight[i];
      // Ignore blocks that are empty, inverted, below SND.UNA or beyond what we sent.
      if (!seqLt(s, e) || seqLe(e, this.sndUna) || seqGt(e, this.sndMax)) continue;
      if (seqLt(s, this.sndUna)) s = this.sndUna;
      let first = 0;
      const n = this.nSacked;
      while (first < n && seqLt(this.sackedEnd[first], s)) first++;
      let last = first;
      while (last < n && seqLe(this.sackedStart[last], e)) {
        if (seqLt(this.sackedStart[last], s)) s = this.sackedStart[last];
        if (seqGt(this.sackedEnd[last], e)) e = this.sackedEnd[last];
        last++;
      }
      const merged = last - first;
      if (merged == 1 && this.sackedStart[first] == s && this.sackedEnd[first] == e) continue; // nothing new
      grew = true;
      if (this.sackedStart.length == 0) {
        this.sackedStart = new StaticArray<u32>(MAX_SACKED);
        this.sackedEnd = new StaticArray<u32>(MAX_SACKED);
      }
      if (merged == 0) {
        if (n == MAX_SACKED) continue; // bounded: forget blocks that do not fit
        for (let j = n; j > first; j--) { this.sackedStart[j] = this.sackedStart[j - 1]; this.sackedEnd[j] = this.sackedEnd[j - 1]; }
        this.nSacked = n + 1;
      } else if (merged > 1) {
        const drop = merged - 1;
        for (let j = first + 1; j + drop < n; j++) { this.sackedStart[j] = this.sackedStart[j + drop]; this.sackedEnd[j] = this.sackedEnd[j + drop]; }
        this.nSacked = n - drop;
      }
      this.sackedStart[first] = s;
      this.sackedEnd[first] = e;
    }
    return grew;
  }

  /** Drops scoreboard entries at or below SND.UNA. */
  private pruneScoreboard(): void {
    let k = 0;
    const n = this.nSacked;
    while (k < n && seqLe(this.sackedEnd[k], this.sndUna)) k++;
    if (k > 0) {
      for (let j = 0; j + k < n; j++) { this.sackedStart[j] = this.sackedStart[j + k]; this.sackedEnd[j] = this.sackedEnd[j + k]; }
      this.nSacked = n - k;
    }
    if (this.nSacked > 0 && seqLt(this.sackedStart[0], this.sndUna)) this.sackedStart[0] = this.sndUna;
  }

  // =====================================================================================
  // Output
  // =====================================================================================

  /**
   * Sends what the windows allow: SYN/SYN-ACK, data, FIN, or a pure ACK when one is
   * owed. Returns false if the sink refused a segment (retry on a later flush).
   */
  output(now: u64): bool {
    const st = this.state;
    if (st == TcpState.CLOSED || st == TcpState.LISTEN) return true;
    if (st == TcpState.SYN_SENT || st == TcpState.SYN_RECEIVED) {
      if (this.sndNxt == this.iss) {
        const flags: u8 = st == TcpState.SYN_SENT ? TCP_SYN : (TCP_SYN | TCP_ACK);
        if (!this.emit(this.iss, flags, 0, 0, now)) return this.blocked();
        this.sndNxt = this.iss + 1;
        this.sndMax = seqMax(this.sndMax, this.sndNxt);
        if (this.retries == 0 && !this.rttTiming) { this.rttTiming = true; this.rttSeq = this.iss; this.rttStart = now; }
        if (this.rtxAt == 0) this.rtxAt = now + this.rtt.current();
      } else if (this.ackNow && st == TcpState.SYN_RECEIVED) {
        this.ackNow = false; // the SYN-ACK retransmission answers in time
      }
      this.rearm();
      return true;
    }
    if (st == TcpState.TIME_WAIT) {
      if (this.ackNow && !this.emit(this.sndMax, TCP_ACK, 0, 0, now)) return this.blocked();
      return true;
    }

    let sent = false;
    const cwnd = this.effectiveWindow();
    const noDelay = this.ep.config.noDelay;
    while (true) {
      const txEnd = this.txSeq + this.tx.len;
      if (seqGt(this.sndNxt, txEnd)) break; // FIN already sent
      const flight = this.sndNxt - this.sndUna;
      const off = this.sndNxt - this.txSeq;
      const avail = this.tx.len - off;
      const wnd = min(this.sndWnd, cwnd);
      const usable = wnd > flight ? wnd - flight : 0;
      const segMax = this.segmentRoom();
      let len = min(min(avail, usable), segMax);
      const fin = this.finQueued && len == avail;
      if (len == 0 && !fin) break;
      if (len < segMax && !fin) {
        if (len < avail) {
          // Window-limited partial segment: send only if it is a large part of the
          // peer's biggest window (sender SWS avoidance, RFC 9293 3.8.6.2.1).
          if (len < (this.maxSndWnd >> 1) || len == 0) break;
        } else if (!noDelay && flight > 0) {
          break; // Nagle: a small tail waits for the ACK of what is in flight
        }
      }
      let flags: u8 = TCP_ACK;
      if (fin) flags |= TCP_FIN;
      if (len > 0 && len == avail) flags |= TCP_PSH;
      const isNew = seqGe(this.sndNxt, this.sndMax);
      if (!this.emit(this.sndNxt, flags, off, len, now)) return this.blocked();
      if (isNew) {
        if (!this.rttTiming) { this.rttTiming = true; this.rttSeq = this.sndNxt; this.rttStart = now; }
      } else {
        this.ep.stats.retransmits++;
        this.segsRetransmitted++;
      }
      this.sndNxt += len + (fin ? 1 : 0);
      this.sndMax = seqMax(this.sndMax, this.sndNxt);
      if (this.rtxAt == 0) this.rtxAt = now + this.rtt.current();
      this.persistAt = 0;
      sent = true;
      if (fin) break;
    }
    if (!sent && this.ackNow) {
      // A pure ACK carries SND.MAX, not a SND.NXT a timeout pulled back: an old sequence
      // number would be outside the peer's window and its ACK field ignored, and two
      // such peers would answer each other's ACKs forever.
      if (!this.emit(this.sndMax, TCP_ACK, 0, 0, now)) return this.blocked();
    }
    // Data waits but nothing is in flight to bring an ACK: the persist timer probes.
    if (this.sndUna == this.sndNxt && this.rtxAt == 0 && this.persistAt == 0 && this.hasUnsent()) {
      this.persistAt = now + this.persistInterval();
    }
    this.armTailProbe(now);
    this.rearm();
    return true;
  }

  /**
   * Tail loss probe (RFC 8985 7.2): with SACK, data outstanding and no recovery running,
   * probe after 2 SRTT (plus a delayed-ACK allowance for a single segment) so a lost tail
   * is repaired by fast recovery instead of a retransmission timeout.
   */
  private armTailProbe(now: u64): void {
    if (!this.sackOk || this.inRecovery || this.tlpPending || this.tlpAt != 0 ||
        this.sndUna == this.sndMax || this.rtxAt == 0 || !this.rtt.hasSample) return;
    let pto = 2 * this.rtt.srtt;
    if (this.sndMax - this.sndUna <= this.mss && this.ep.config.delayedAck != 0) pto += 200 * 1_000_000;
    if (pto < 10 * 1_000_000) pto = 10 * 1_000_000;
    const at = now + pto;
    if (at < this.rtxAt) this.tlpAt = at;
  }

  /** Sends the tail probe: the last segment sent, again (RFC 8985 7.3). */
  private onTailProbe(now: u64): void {
    const s = this.state;
    if (s != TcpState.ESTABLISHED && s != TcpState.FIN_WAIT_1 && s != TcpState.CLOSE_WAIT &&
        s != TcpState.CLOSING && s != TcpState.LAST_ACK) return;
    if (this.sndUna == this.sndMax || this.inRecovery) return;
    const txEnd = this.txSeq + this.tx.len;
    const finSent = this.finQueued && seqGt(this.sndMax, txEnd);
    const dataEnd = finSent ? txEnd : this.sndMax;
    const len = min(this.segmentRoom(), dataEnd - this.sndUna);
    const seq = dataEnd - len;
    let flags: u8 = TCP_ACK;
    if (finSent) flags |= TCP_FIN;
    if (!this.emit(seq, flags, seq - this.txSeq, len, now)) { this.ep.markBlocked(this); return; }
    if (this.rttTiming && seqLe(seq, this.rttSeq)) this.rttTiming = false; // Karn
    this.tlpPending = true;
    this.ep.stats.tailProbes++;
    this.ep.stats.retransmits++;
    this.segsRetransmitted++;
    this.rtxAt = now + this.rtt.current();
  }

  @inline private blocked(): bool {
    this.ep.stats.txBlocked++;
    this.ep.markBlocked(this);
    this.rearm();
    return false;
  }

  /** Unsent data, or a FIN still to send. */
  private hasUnsent(): bool {
    const txEnd = this.txSeq + this.tx.len;
    if (seqLt(this.sndNxt, txEnd)) return true;
    return this.finQueued && this.sndNxt == txEnd;
  }

  /** Payload room of the next data segment: MSS less the options it will carry. */
  @inline private segmentRoom(): u32 {
    let room = this.mss;
    if (this.sackOk && this.rx.nRanges > 0) {
      const blocks = min(this.rx.nRanges, this.tsOk ? 3 : 4);
      room -= <u32>(2 + 8 * blocks + 2); // SACK option padded with 2 NOPs
    }
    return room;
  }

  /** Congestion window in effect: NewReno inflation in recovery, RFC 3042 limited transmit. */
  private effectiveWindow(): u32 {
    const cw = this.cc.cwnd;
    if (this.inRecovery) {
      const w = <i64>cw + this.inflation;
      return w < <i64>this.mss ? this.mss : (w > 0xffffffff ? 0xffffffff : <u32>w);
    }
    if (this.dupAcks > 0 && this.dupAcks < DUP_THRESH) return cw + this.dupAcks * this.mss;
    return cw;
  }

  /**
   * Retransmits one segment during recovery: the first hole at or above rtxNext that the
   * peer has not SACKed (just SND.UNA without SACK information, RFC 6582).
   */
  private retransmitHole(now: u64): bool {
    const useSack = this.sackOk && this.nSacked > 0;
    let seq = useSack ? seqMax(this.rtxNext, this.sndUna) : this.sndUna;
    // Skip SACKed ranges.
    let limit: u32 = this.sndMax;
    for (let i = 0; i < this.nSacked; i++) {
      const s = this.sackedStart[i], e = this.sackedEnd[i];
      if (seqLe(s, seq) && seqLt(seq, e)) { seq = e; continue; }
      if (seqGt(s, seq)) { limit = s; break; }
    }
    // With SACK only holes below the highest SACKed byte are known lost; without it
    // NewReno repairs one hole per partial ACK, at SND.UNA.
    if (useSack && !seqLt(seq, this.sackedEnd[this.nSacked - 1])) return false;
    const txEnd = this.txSeq + this.tx.len;
    const off = seq - this.txSeq;
    let len: u32 = 0;
    if (seqLt(seq, txEnd)) len = min(min(this.mss, txEnd - seq), limit - seq);
    const fin = this.finQueued && seq + len == txEnd && seqGt(this.sndMax, txEnd);
    if (len == 0 && !fin) return false;
    let flags: u8 = TCP_ACK;
    if (fin) flags |= TCP_FIN;
    if (!this.emit(seq, flags, off, len, now)) { this.ep.markBlocked(this); return false; }
    // Karn: a retransmitted segment is never timed.
    if (this.rttTiming && seqLe(seq, this.rttSeq) && seqLt(this.rttSeq, seq + len + (fin ? 1 : 0))) this.rttTiming = false;
    this.rtxNext = seq + len + (fin ? 1 : 0);
    const k = this.rtxLogN % RTX_LOG;
    if (this.rtxLogSeq.length == 0) {
      this.rtxLogSeq = new StaticArray<u32>(RTX_LOG);
      this.rtxLogMark = new StaticArray<u32>(RTX_LOG);
    }
    this.rtxLogSeq[k] = seq;
    this.rtxLogMark[k] = this.sndMax;
    this.rtxLogN++;
    this.ep.stats.retransmits++;
    this.segsRetransmitted++;
    return true;
  }

  /**
   * Builds one segment into the endpoint's scratch segment and hands it to the sink.
   * `off`/`len` select payload from the send buffer. Every segment except the first SYN
   * carries ACK and our current window; sending it settles any ACK we owed.
   */
  private emit(seq: u32, flags: u8, off: u32, len: u32, now: u64): bool {
    const ep = this.ep;
    const c = ep.config;
    const seg = ep.txSeg.reset();
    seg.srcPort = this.tuple.localPort;
    seg.dstPort = this.tuple.remotePort;
    seg.seq = seq;
    seg.flags = flags;
    const syn = (flags & TCP_SYN) != 0;
    if ((flags & TCP_ACK) != 0) seg.ack = this.rcvNxt;
    seg.window = this.windowField(syn);
    if (syn) {
      seg.mss = <u16>this.rcvMss;
      const active = (flags & TCP_ACK) == 0;
      if (active) {
        if (c.windowScale) seg.wscale = <i32>this.rcvWscale;
        seg.sackPermitted = c.sack;
        if (c.timestamps) { seg.tsPresent = true; seg.tsVal = ep.tsClock(now); seg.tsEcr = 0; }
      } else {
        if (c.windowScale && this.peerOfferedWscale) seg.wscale = <i32>this.rcvWscale;
        seg.sackPermitted = this.sackOk;
        if (this.tsOk) { seg.tsPresent = true; seg.tsVal = ep.tsClock(now); seg.tsEcr = this.tsRecent; }
      }
    } else {
      if (this.tsOk) { seg.tsPresent = true; seg.tsVal = ep.tsClock(now); seg.tsEcr = this.tsRecent; }
      if (this.sackOk && this.rx.nRanges > 0) this.rx.fillSack(seg, this.tsOk ? 3 : 4);
    }
    if (len > 0) this.tx.slice(seg, off, len);
    if (!ep.sink.send(this.tuple, this.linkAddr, seg)) return false;
    ep.stats.segsOut++;
    if ((flags & TCP_ACK) != 0) {
      this.lastAckSent = this.rcvNxt;
      this.ackNow = false;
      this.unackedSegs = 0;
      this.dackAt = 0;
    }
    return true;
  }

  /**
   * Window field for an outgoing segment, with receiver SWS avoidance (RFC 9293
   * 3.8.6.2.2): the right edge moves only in steps of min(buffer/2, MSS), never back.
   */
  private windowField(syn: bool): u16 {
    const c = this.ep.config;
    const free = this.rx.buf != 0 ? this.rx.free : c.rcvBuf;
    if (syn) {
      const w = min(free, 65535);
      this.rcvAdv = this.rcvNxt + w;
      return <u16>w;
    }
    const cur = seqGt(this.rcvAdv, this.rcvNxt) ? this.rcvAdv - this.rcvNxt : 0;
    let w = free;
    if (w > cur && w - cur < this.swsThreshold()) w = cur;
    let scaled = w >> this.rcvWscale;
    if (scaled > 65535) scaled = 65535;
    const adv = scaled << this.rcvWscale;
    // Never pull the right edge back (rounding by the scale could, by a few bytes).
    if (seqGt(this.rcvNxt + adv, this.rcvAdv)) this.rcvAdv = this.rcvNxt + adv;
    return <u16>scaled;
  }

  @inline private swsThreshold(): u32 {
    const half = (this.rx.cap != 0 ? this.rx.cap : this.ep.config.rcvBuf) >> 1;
    return min(half, this.rcvMss);
  }

  /** Receive window for the acceptability test: what we advertised or can take, whichever is larger. */
  private receiveWindow(): u32 {
    const adv = seqGt(this.rcvAdv, this.rcvNxt) ? this.rcvAdv - this.rcvNxt : 0;
    if (this.rx.buf == 0) return adv;
    const free = this.rx.free;
    return free > adv ? free : adv;
  }

  /** After the application read: send a window update if the window opened a lot. */
  private afterRead(): void {
    if (this.state == TcpState.TIME_WAIT || this.state == TcpState.CLOSED) {
      if (this.rx.len == 0 && this.rx.buf != 0) this.ep.detachRx(this);
      return;
    }
    if (this.finRcvd) return;
    const cur = seqGt(this.rcvAdv, this.rcvNxt) ? this.rcvAdv - this.rcvNxt : 0;
    const free = this.rx.free;
    if (free > cur && free - cur >= this.swsThreshold() && free >= 2 * cur) {
      this.ackNow = true;
      this.ep.markDirty(this);
    }
  }

  /** RST for this connection: <SEQ=seq><CTL=RST>. */
  private sendRst(seq: u32): void {
    this.ep.replyRst(this.tuple, this.linkAddr, seq, 0, false);
  }

  private challengeAck(now: u64): void {
    if (this.ep.allowChallengeAck(now)) {
      this.ep.stats.challengeAcks++;
      this.ackNow = true;
    }
  }

  // =====================================================================================
  // Timers
  // =====================================================================================

  /** Runs every expired timer of this connection. */
  onTimer(now: u64): void {
    if (this.closeAt != 0 && now >= this.closeAt) {
      this.closeAt = 0;
      if (this.state == TcpState.FIN_WAIT_2) this.ep.stats.finWait2Timeouts++;
      this.release(this.state == TcpState.TIME_WAIT ? CloseReason.NORMAL : CloseReason.TIMEOUT);
      return;
    }
    if (this.dackAt != 0 && now >= this.dackAt) {
      this.dackAt = 0;
      this.ackNow = true;
      this.ep.stats.delayedAcks++;
    }
    if (this.rtxAt != 0 && now >= this.rtxAt) {
      this.rtxAt = 0;
      this.onRetransmitTimeout(now);
      if (this.state == TcpState.CLOSED) return;
    }
    if (this.persistAt != 0 && now >= this.persistAt) {
      this.persistAt = 0;
      this.onPersist(now);
      if (this.state == TcpState.CLOSED) return;
    }
    if (this.tlpAt != 0 && now >= this.tlpAt) {
      this.tlpAt = 0;
      this.onTailProbe(now);
    }
    this.output(now);
    this.rearm(true);
  }

  private onRetransmitTimeout(now: u64): void {
    const c = this.ep.config;
    const st = this.stats();
    if (this.state == TcpState.SYN_SENT || this.state == TcpState.SYN_RECEIVED) {
      if (this.synAcked) return;
      this.retries++;
      if (this.retries > c.synRetries) {
        st.timeouts++;
        this.release(this.state == TcpState.SYN_SENT ? CloseReason.TIMEOUT : CloseReason.NONE);
        return;
      }
      st.synRetransmits++;
      this.synRetransmitted = true;
      this.rtt.backoff++;
      this.rttTiming = false;
      this.sndNxt = this.iss;
      return;
    }
    if (this.sndUna == this.sndMax) return;
    this.retries++;
    if (this.retries > c.maxRetries) {
      st.timeouts++;
      this.sendRst(this.sndNxt);
      this.release(CloseReason.TIMEOUT);
      return;
    }
    st.rtos++;
    this.tlpAt = 0;
    this.tlpPending = false;
    // RFC 5681 eq. 4 and RFC 6582: loss window, forget recovery, go back to SND.UNA.
    this.cc.onRto(this.sndMax - this.sndUna, now);
    this.inRecovery = false;
    this.inflation = 0;
    this.dupAcks = 0;
    this.recover = this.sndMax;
    this.rtt.backoff++;
    this.rttTiming = false;
    this.sndNxt = this.sndUna;
    this.rtxNext = this.sndUna;
    // RFC 2018: the receiver may renege on SACKed data; start over from SND.UNA.
    this.nSacked = 0;
  }

  private persistInterval(): u64 {
    let r = this.rtt.current();
    for (let i: u32 = 0; i < this.persistBackoff && r < this.ep.config.maxRto; i++) r <<= 1;
    return min(r, this.ep.config.maxRto);
  }

  /** Persist timer: probe a zero window, or push data the SWS rules held back. */
  private onPersist(now: u64): void {
    if (this.sndUna != this.sndNxt || !this.hasUnsent()) return;
    const st = this.stats();
    this.persistProbes++;
    if (this.persistProbes > this.ep.config.maxRetries * 2) {
      st.timeouts++;
      this.sendRst(this.sndNxt);
      this.release(CloseReason.TIMEOUT);
      return;
    }
    const txEnd = this.txSeq + this.tx.len;
    const avail = txEnd - this.sndNxt;
    if (this.sndWnd == 0 || avail == 0) {
      // An old sequence number is outside the peer's window: it must answer with an
      // ACK that carries its current window.
      st.windowProbes++;
      if (!this.emit(this.sndUna - 1, TCP_ACK, 0, 0, now)) this.ep.markBlocked(this);
    } else {
      // Usable window below the SWS threshold: send what fits (RFC 9293 override timeout).
      const len = min(min(avail, this.sndWnd), this.mss);
      const off = this.sndNxt - this.txSeq;
      if (this.emit(this.sndNxt, TCP_ACK | (len == avail ? TCP_PSH : 0), off, len, now)) {
        this.sndNxt += len;
        this.sndMax = seqMax(this.sndMax, this.sndNxt);
        if (this.rtxAt == 0) this.rtxAt = now + this.rtt.current();
      } else this.ep.markBlocked(this);
    }
    this.persistBackoff++;
    if (this.rtxAt == 0) this.persistAt = now + this.persistInterval();
  }

  /** Recomputes this connection's earliest deadline and its place in the timer heap. */
  rearm(exact: bool = false): void {
    let d: u64 = 0;
    if (this.rtxAt != 0) d = this.rtxAt;
    if (this.dackAt != 0 && (d == 0 || this.dackAt < d)) d = this.dackAt;
    if (this.persistAt != 0 && (d == 0 || this.persistAt < d)) d = this.persistAt;
    // TIME-WAIT ends are kept in order by the endpoint's TIME-WAIT list, not the heap.
    if (this.closeAt != 0 && this.state != TcpState.TIME_WAIT && (d == 0 || this.closeAt < d)) d = this.closeAt;
    if (this.tlpAt != 0 && (d == 0 || this.tlpAt < d)) d = this.tlpAt;
    if (this.state == TcpState.CLOSED) d = 0;
    if (d == this.deadline && (d == 0 || this.heapIndex >= 0)) return;
    // Lazy: a deadline that moved later (the RTO restarts on every ACK) stays at its
    // earlier place in the heap; when that fires, onTimer finds nothing due and re-arms
    // exactly. This saves a heap update per ACK for one early wake-up per RTO.
    if (!exact && this.heapIndex >= 0 && this.deadline != 0 && (d == 0 || d > this.deadline)) return;
    this.deadline = d;
    this.ep.timers.update(this);
  }

  // =====================================================================================
  // Closing
  // =====================================================================================

  private enterTimeWait(now: u64): void {
    this.state = TcpState.TIME_WAIT;
    this.tlpAt = 0;
    this.rtxAt = 0;
    this.persistAt = 0;
    this.dackAt = 0;
    this.closeAt = now + this.ep.config.timeWait;
    this.ep.enteredTimeWait(this);
    this.rearm(true); // out of the timer heap: the TIME-WAIT list times it
    this.notifyClosed(CloseReason.NORMAL);
  }

  /** Ends the connection: leaves every endpoint structure, returns buffers, tells the app. */
  release(reason: CloseReason): void {
    if (this.state == TcpState.CLOSED) return;
    this.state = TcpState.CLOSED;
    this.rtxAt = 0; this.dackAt = 0; this.persistAt = 0; this.closeAt = 0; this.tlpAt = 0;
    this.ep.remove(this);
    this.notifyClosed(reason);
    if (this.recyclable) this.ep.recycleConnection(this);
  }

  private notifyClosed(reason: CloseReason): void {
    if (this.closedNotified) return;
    this.closedNotified = true;
    this.closeReason = reason;
    if (this.visible) this.queueEvent(EV_CLOSED);
  }

  @inline queueEvent(ev: u32): void {
    this.events |= ev;
    if (!this.inEventList) this.ep.queueEvents(this);
  }

  /** Can the application still queue data (its side is open)? */
  @inline private canSend(): bool {
    if (this.finQueued || this.tx.buf == 0) return false;
    const s = this.state;
    return s == TcpState.ESTABLISHED || s == TcpState.CLOSE_WAIT || s == TcpState.SYN_SENT || s == TcpState.SYN_RECEIVED;
  }

  @inline private stats(): TcpStats { return this.ep.stats; }
}
