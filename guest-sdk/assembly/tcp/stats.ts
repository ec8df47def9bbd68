// Always-on counters of one TcpEndpoint: the stack's TCP story in numbers.

export class TcpStats {
  segsIn: u64 = 0;
  segsOut: u64 = 0;
  /** Segments to a port nobody listens on (answered with RST). */
  noListener: u64 = 0;
  activeOpens: u64 = 0;
  passiveOpens: u64 = 0;
  synIn: u64 = 0;
  /** SYNs dropped: backlog or connection table full and cookies off. */
  synDropped: u64 = 0;
  synCookiesSent: u64 = 0;
  synCookiesOk: u64 = 0;
  synCookiesBad: u64 = 0;
  synRetransmits: u64 = 0;
  retransmits: u64 = 0;
  fastRetransmits: u64 = 0;
  /** Tail loss probes sent (RFC 8985). */
  tailProbes: u64 = 0;
  /** Retransmissions found lost through SACK (sent again before the timeout). */
  lostRetransmits: u64 = 0;
  rtos: u64 = 0;
  timeouts: u64 = 0;
  dupAcksIn: u64 = 0;
  delayedAcks: u64 = 0;
  windowProbes: u64 = 0;
  outOfWindow: u64 = 0;
  pawsDropped: u64 = 0;
  challengeAcks: u64 = 0;
  challengeAcksLimited: u64 = 0;
  rstIn: u64 = 0;
  rstOut: u64 = 0;
  rstLimited: u64 = 0;
  oooSegs: u64 = 0;
  /** Out-of-order segments dropped because the reassembly range table was full. */
  oooDropped: u64 = 0;
  acceptOverflow: u64 = 0;
  /** Connections refused for lack of buffer memory (budget) or table space. */
  noResources: u64 = 0;
  timeWaitRecycled: u64 = 0;
  timeWaitReopened: u64 = 0;
  /** Connection objects reused (TcpConnection.recycle) instead of allocated. */
  connectionsReused: u64 = 0;
  finWait2Timeouts: u64 = 0;
  /** The sink refused a segment (TX ring full, next hop unknown). */
  txBlocked: u64 = 0;

  toString(): string {
    return "segs_in=" + this.segsIn.toString() + " segs_out=" + this.segsOut.toString() +
      " active=" + this.activeOpens.toString() + " passive=" + this.passiveOpens.toString() +
      " syn_in=" + this.synIn.toString() + " syn_dropped=" + this.synDropped.toString() +
      " cookies_sent=" + this.synCookiesSent.toString() + " cookies_ok=" + this.synCookiesOk.toString() +
      " cookies_bad=" + this.synCookiesBad.toString() +
      " rtx=" + this.retransmits.toString() + " fast_rtx=" + this.fastRetransmits.toString() +
      " rto=" + this.rtos.toString() + " tlp=" + this.tailProbes.toString() + " timeouts=" + this.timeouts.toString() +
      " dupacks_in=" + this.dupAcksIn.toString() + " oow=" + this.outOfWindow.toString() +
      " paws=" + this.pawsDropped.toString() + " challenge_acks=" + this.challengeAcks.toString() +
      " rst_in=" + this.rstIn.toString() + " rst_out=" + this.rstOut.toString() +
      " ooo=" + this.oooSegs.toString() + " ooo_dropped=" + this.oooDropped.toString() +
      " no_resources=" + this.noResources.toString() + " accept_overflow=" + this.acceptOverflow.toString() +
      " tw_recycled=" + this.timeWaitRecycled.toString() + " tx_blocked=" + this.txBlocked.toString() +
      " reused=" + this.connectionsReused.toString();
  }
}
