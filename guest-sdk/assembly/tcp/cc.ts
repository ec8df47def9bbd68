// Pluggable congestion control. The connection owns loss detection and recovery
// bookkeeping (duplicate ACKs, NewReno's recover point and window inflation, RTO); an
// algorithm only decides how the congestion window moves. Adding one = one small class
// extending CongestionControl plus one line in ccFactory().

/** A congestion-control algorithm's state for one connection. Sizes are bytes. */
export abstract class CongestionControl {
  /** Congestion window: bytes the connection may have in flight (outside recovery). */
  cwnd: u32 = 0;
  /** Slow-start threshold. */
  ssthresh: u32 = u32.MAX_VALUE;
  /** Sender MSS the window is counted in. */
  mss: u32 = 536;

  /** Called once when the connection is synchronized; `initialWindow` per RFC 5681/6928. */
  init(mss: u32, initialWindow: u32, now: u64): void {
    this.mss = mss;
    this.cwnd = initialWindow;
  }

  /**
   * `acked` bytes were newly acknowledged outside loss recovery. `cwndLimited` is true
   * when the sender was using its whole window (an application-limited sender must not
   * grow it, RFC 7661); `rtt` is the latest RTT sample in ns (0 if none yet).
   */
  abstract onAck(acked: u32, inFlight: u32, cwndLimited: bool, rtt: u64, now: u64): void;

  /** Loss detected by duplicate ACKs (fast retransmit): set ssthresh and cwnd. */
  abstract onLoss(inFlight: u32, now: u64): void;

  /** Fast recovery ended with an ACK covering the recovery point (RFC 6582 step 3). */
  onRecoveryEnd(inFlight: u32, now: u64): void {
    const f = inFlight > this.mss ? inFlight : this.mss;
    const w = f + this.mss;
    this.cwnd = w < this.ssthresh ? w : this.ssthresh;
  }

  /** The retransmission timer expired (RFC 5681 eq. 4, loss window of one segment). */
  abstract onRto(inFlight: u32, now: u64): void;

  abstract get name(): string;

  @inline protected halfFlight(inFlight: u32): u32 {
    const h = inFlight >> 1;
    const floor: u32 = 2 * this.mss;
    return h > floor ? h : floor;
  }
}

/** NewReno window management (RFC 5681), with appropriate byte counting (RFC 3465, L = 2). */
export class NewReno extends CongestionControl {
  /** Bytes acknowledged toward the next congestion-avoidance increment. */
  bytesAcked: u32 = 0;

  onAck(acked: u32, inFlight: u32, cwndLimited: bool, rtt: u64, now: u64): void {
    if (!cwndLimited) return;
    if (this.cwnd < this.ssthresh) {
      this.cwnd += min(acked, 2 * this.mss);
    } else {
      this.bytesAcked += acked;
      if (this.bytesAcked >= this.cwnd) {
        this.bytesAcked -= this.cwnd;
        this.cwnd += this.mss;
      }
    }
  }

  onLoss(inFlight: u32, now: u64): void {
    this.ssthresh = this.halfFlight(inFlight);
    this.cwnd = this.ssthresh;
    this.bytesAcked = 0;
  }

  onRto(inFlight: u32, now: u64): void {
    this.ssthresh = this.halfFlight(inFlight);
    this.cwnd = this.mss;
    this.bytesAcked = 0;
  }

  get name(): string { return "newreno"; }
}

export function newNewReno(): CongestionControl { return new NewReno(); }
