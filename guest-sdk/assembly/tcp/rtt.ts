// Retransmission timeout per RFC 6298: smoothed RTT and variance from samples taken
// under Karn's rule (the caller never samples a retransmitted segment), exponential
// backoff on expiry, bounded by a minimum and a maximum.

export class RttEstimator {
  srtt: u64 = 0;
  rttvar: u64 = 0;
  /** RTO before backoff. */
  rto: u64;
  /** Times the timer expired since the last new sample (RFC 6298 5.5). */
  backoff: u32 = 0;
  hasSample: bool = false;
  /** Latest sample (ns). */
  latest: u64 = 0;
  minRto: u64;
  maxRto: u64;

  constructor(minRto: u64, maxRto: u64, initialRto: u64) {
    this.minRto = minRto;
    this.maxRto = maxRto;
    this.rto = initialRto;
  }

  /** As new (a recycled connection). */
  reset(minRto: u64, maxRto: u64, initialRto: u64): void {
    this.srtt = 0; this.rttvar = 0; this.backoff = 0; this.hasSample = false; this.latest = 0;
    this.minRto = minRto; this.maxRto = maxRto; this.rto = initialRto;
  }

  /** Takes one RTT measurement `r` (ns). */
  sample(r: u64): void {
    if (r == 0) r = 1;
    this.latest = r;
    if (!this.hasSample) {
      this.srtt = r;
      this.rttvar = r >> 1;
      this.hasSample = true;
    } else {
      const delta = this.srtt > r ? this.srtt - r : r - this.srtt;
      this.rttvar = (3 * this.rttvar + delta) >> 2; // beta = 1/4
      this.srtt = (7 * this.srtt + r) >> 3;          // alpha = 1/8
    }
    // G, the clock granularity, is 1 ns here: K*RTTVAR always dominates.
    let rto = this.srtt + 4 * this.rttvar;
    if (rto < this.minRto) rto = this.minRto;
    if (rto > this.maxRto) rto = this.maxRto;
    this.rto = rto;
    this.backoff = 0;
  }

  /** The timeout to arm now: RTO doubled once per expiry, at most maxRto. */
  current(): u64 {
    let r = this.rto;
    for (let i: u32 = 0; i < this.backoff && r < this.maxRto; i++) r <<= 1;
    return r < this.maxRto ? r : this.maxRto;
  }
}
