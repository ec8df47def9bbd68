// Experimental example: a fixed congestion window that ignores loss. Useful as a baseline
// in benchmarks and to show the smallest possible CongestionControl. Never use it on a
// shared network: it does not back off.

import { CongestionControl } from "./cc";

/** Window in segments for FixedWindow connections created from now on. */
export let fixedWindowSegments: u32 = 64;
export function setFixedWindowSegments(n: u32): void { fixedWindowSegments = n > 0 ? n : 1; }

export class FixedWindow extends CongestionControl {
  init(mss: u32, initialWindow: u32, now: u64): void {
    this.mss = mss;
    this.cwnd = fixedWindowSegments * mss;
  }
  onAck(acked: u32, inFlight: u32, cwndLimited: bool, rtt: u64, now: u64): void {}
  onLoss(inFlight: u32, now: u64): void {}
  onRecoveryEnd(inFlight: u32, now: u64): void {}
  onRto(inFlight: u32, now: u64): void {}
  get name(): string { return "fixed"; }
}

export function newFixedWindow(): CongestionControl { return new FixedWindow(); }
