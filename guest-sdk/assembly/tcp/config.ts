// Tunables of a TcpEndpoint. Defaults follow the RFCs unless noted; times in ns.

import { CongestionControl, newNewReno } from "./cc";
import { newCubic } from "./cc-cubic";
import { newFixedWindow } from "./cc-fixed";

export const MS: u64 = 1_000_000;
export const SEC: u64 = 1_000_000_000;

export class TcpConfig {
  /** IP MTU of the link; MSS = mtu - 40 (IPv4) or mtu - 60 (IPv6). */
  mtu: u32 = 1500;
  /** Receive buffer per connection, bytes (power of two, 1 KiB .. 1 GiB). */
  rcvBuf: u32 = 65536;
  /** Send buffer per connection, bytes (power of two, 1 KiB .. 1 GiB). */
  sndBuf: u32 = 65536;
  /** All connection buffers together never exceed this many bytes. */
  bufferBudget: u64 = 32 << 20;
  /** Connections in every state, TIME-WAIT included; the oldest TIME-WAIT is recycled first. */
  maxConnections: i32 = 4096;
  /** Half-open (SYN-RECEIVED) connections per listener before SYN cookies take over. */
  synBacklog: i32 = 256;
  /** Answer SYNs beyond the backlog with SYN cookies (RFC 4987) instead of dropping them. */
  synCookies: bool = true;
  /** Disable Nagle's algorithm: send a partial segment at once even with data in flight. */
  noDelay: bool = true;
  /** Offer/accept RFC 7323 window scaling, RFC 2018 SACK, RFC 7323 timestamps. */
  windowScale: bool = true;
  sack: bool = true;
  timestamps: bool = true;
  /** RFC 6298 bounds. RFC 6298 asks for a 1 s minimum; 200 ms is what deployed stacks use. */
  minRto: u64 = 200 * MS;
  maxRto: u64 = 60 * SEC;
  initialRto: u64 = 1 * SEC;
  /** Delayed-ACK timeout (RFC 5681: < 500 ms); 0 = acknowledge every segment at once. */
  delayedAck: u64 = 40 * MS;
  /** TIME-WAIT lasts this long (2 MSL). */
  timeWait: u64 = 60 * SEC;
  /** A FIN-WAIT-2 connection whose peer never closes is dropped after this long. */
  finWait2Timeout: u64 = 60 * SEC;
  /** Retransmissions of one segment before the connection is aborted (R2). */
  maxRetries: u32 = 12;
  /** Retransmissions of a SYN or SYN-ACK before giving up. */
  synRetries: u32 = 6;
  /** Initial window in segments (RFC 6928 caps it at 10 and 14600 bytes). */
  initialWindowSegments: u32 = 10;
  /** Challenge ACKs (RFC 5961) the endpoint sends per second at most. */
  challengeAckLimit: u32 = 1000;
  /** Congestion control for new connections. */
  cc: () => CongestionControl = newNewReno;
}

/** The congestion-control factory called `name` ("newreno", "cubic", "fixed"), or null. */
export function ccFactoryByName(name: string): (() => CongestionControl) | null {
  if (name == "newreno" || name == "reno") return newNewReno;
  if (name == "cubic") return newCubic;
  if (name == "fixed") return newFixedWindow;
  return null;
}
