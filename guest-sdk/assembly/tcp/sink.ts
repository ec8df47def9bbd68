// Where the state machine's segments go. The frame adapter (netif.ts) implements it by
// building Ethernet + IP + TCP into a TX slot; tests implement it with a simulated link.

import { TcpTuple } from "./tuple";
import { TcpSegment } from "./segment";

export abstract class SegmentSink {
  /**
   * Sends `seg` on `tuple` (local = source) to the next hop whose link-layer address is
   * `linkAddr` (a MAC in the low 48 bits; 0 = not known yet, the sink may look it up).
   * The segment and its payload pieces are valid only during the call. Returns false when
   * the segment cannot go out now (TX ring full, next hop unknown); TCP then behaves as
   * if it was lost and retries later.
   */
  abstract send(tuple: TcpTuple, linkAddr: u64, seg: TcpSegment): bool;
}
