// CUBIC (RFC 9438), compact: cubic window growth in congestion avoidance with the
// Reno-friendly estimate, multiplicative decrease by beta = 0.7, fast convergence.
// Slow start is standard (no HyStart). Arithmetic is in f64 segments.

import { CongestionControl } from "./cc";

const C: f64 = 0.4;
const BETA: f64 = 0.7;
/** Reno-friendly additive increase per RTT for beta = 0.7 (RFC 9438 eq. 4). */
const ALPHA: f64 = 3.0 * (1.0 - BETA) / (1.0 + BETA);

export class Cubic extends CongestionControl {
  /** Window (segments) before the last reduction. */
  wMax: f64 = 0;
  /** wMax before that, for fast convergence. */
  wLastMax: f64 = 0;
  /** Start of the current congestion-avoidance epoch (ns), 0 = none. */
  epochStart: u64 = 0;
  k: f64 = 0;
  /** Reno-friendly window estimate (segments). */
  wEst: f64 = 0;
  /** Window in segments with fractions, so small per-ACK steps accumulate. */
  w: f64 = 0;

  init(mss: u32, initialWindow: u32, now: u64): void {
    this.mss = mss;
    this.cwnd = initialWindow;
    this.w = <f64>initialWindow / <f64>mss;
  }

  onAck(acked: u32, inFlight: u32, cwndLimited: bool, rtt: u64, now: u64): void {
    if (!cwndLimited) return;
    const mss = <f64>this.mss;
    const segs = <f64>acked / mss;
    if (this.cwnd < this.ssthresh) {
      this.w += min(segs, 2.0);
    } else {
      if (this.epochStart == 0) {
        this.epochStart = now;
        if (this.wMax < this.w) { this.k = 0; this.wMax = this.w; }
        else this.k = Math.cbrt((this.wMax - this.w) / C);
        this.wEst = this.w;
      }
      const t = <f64>(now - this.epochStart + rtt) / 1e9;
      const d = t - this.k;
      const target = C * d * d * d + this.wMax;
      this.wEst += ALPHA * segs / this.w;
      if (target > this.w) {
        // Grow toward the target within one RTT, at most 1.5x per RTT (RFC 9438 4.4).
        const limit = 1.5 * this.w;
        const goal = target < limit ? target : limit;
        this.w += (goal - this.w) * segs / this.w;
      }
      if (this.wEst > this.w) this.w = this.wEst;
    }
    this.sync();
  }

  private reduce(): void {
    // Fast convergence (RFC 9438 4.7).
    if (this.w < this.wLastMax) this.wMax = this.w * (1.0 + BETA) / 2.0;
    else this.wMax = this.w;
    this.wLastMax = this.w;
    this.epochStart = 0;
    let ss = this.w * BETA;
    if (ss < 2.0) ss = 2.0;
    this.ssthresh = <u32>(ss * <f64>this.mss);
  }

  onLoss(inFlight: u32, now: u64): void {
    this.w = <f64>this.cwnd / <f64>this.mss;
    this.reduce();
    this.w = <f64>this.ssthresh / <f64>this.mss;
    this.sync();
  }

  onRecoveryEnd(inFlight: u32, now: u64): void {
    this.w = <f64>this.ssthresh / <f64>this.mss;
    this.sync();
  }

  onRto(inFlight: u32, now: u64): void {
    this.w = <f64>this.cwnd / <f64>this.mss;
    this.reduce();
    this.w = 1.0;
    this.sync();
  }

  private sync(): void {
    const c = this.w * <f64>this.mss;
    this.cwnd = c > 4e9 ? 4000000000 : <u32>c;
    if (this.cwnd < this.mss) this.cwnd = this.mss;
  }

  get name(): string { return "cubic"; }
}

export function newCubic(): CongestionControl { return new Cubic(); }
