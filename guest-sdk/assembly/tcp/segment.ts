// The TCP state machine's view of one segment: header fields and parsed options, the
// same shape as the wire module's TcpRepr (guest-sdk/assembly/wire/tcp.ts) so the frame
// adapter copies field by field. Output segments may carry their payload in two pieces
// (the send buffer is a ring); input segments use only the first.

export const TCP_FIN: u8 = 0x01;
export const TCP_SYN: u8 = 0x02;
export const TCP_RST: u8 = 0x04;
export const TCP_PSH: u8 = 0x08;
export const TCP_ACK: u8 = 0x10;
export const TCP_URG: u8 = 0x20;
export const TCP_ECE: u8 = 0x40;
export const TCP_CWR: u8 = 0x80;

/** Most SACK blocks one segment carries (4 without timestamps, 3 with). */
export const MAX_SACK_BLOCKS: i32 = 4;

export class TcpSegment {
  srcPort: u16 = 0;
  dstPort: u16 = 0;
  seq: u32 = 0;
  ack: u32 = 0;
  flags: u8 = 0;
  /** Window field as on the wire (not scaled). */
  window: u16 = 0;
  urgent: u16 = 0;
  /** MSS option, 0 = absent. */
  mss: u16 = 0;
  /** Window-scale option shift, -1 = absent. */
  wscale: i32 = -1;
  sackPermitted: bool = false;
  sackCount: i32 = 0;
  sackLeft: StaticArray<u32> = new StaticArray<u32>(MAX_SACK_BLOCKS);
  sackRight: StaticArray<u32> = new StaticArray<u32>(MAX_SACK_BLOCKS);
  tsPresent: bool = false;
  tsVal: u32 = 0;
  tsEcr: u32 = 0;
  payloadPtr: usize = 0;
  payloadLen: u32 = 0;
  /** Second payload piece (output only): bytes that follow the first piece. */
  payload2Ptr: usize = 0;
  payload2Len: u32 = 0;

  /** Clears everything to "no options, no payload". */
  reset(): TcpSegment {
    this.srcPort = 0; this.dstPort = 0; this.seq = 0; this.ack = 0; this.flags = 0;
    this.window = 0; this.urgent = 0; this.mss = 0; this.wscale = -1;
    this.sackPermitted = false; this.sackCount = 0;
    this.tsPresent = false; this.tsVal = 0; this.tsEcr = 0;
    this.payloadPtr = 0; this.payloadLen = 0; this.payload2Ptr = 0; this.payload2Len = 0;
    return this;
  }

  @inline has(flag: u8): bool { return (this.flags & flag) != 0; }

  /** Total payload bytes over both pieces. */
  @inline get dataLen(): u32 { return this.payloadLen + this.payload2Len; }

  /** Sequence space the segment occupies: payload plus one each for SYN and FIN. */
  @inline get seqLen(): u32 {
    return this.payloadLen + this.payload2Len + ((this.flags & TCP_SYN) != 0 ? 1 : 0) + ((this.flags & TCP_FIN) != 0 ? 1 : 0);
  }
}
