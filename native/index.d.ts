// The JS surface of build/Release/msh_native.node. Load it only through
// host/src/native.ts (`loadNative()`), never by path.
//
// Conventions
// - Ids: links and ports are small integers. Links are process-global: a worker_thread
//   that loads the addon reaches the links the main thread created.
// - Control functions throw an Error with `code` (errno name, e.g. 'EADDRINUSE'),
//   `errno` (negative) and, when a system call failed, `syscall`. Bad arguments throw
//   TypeError ('ERR_INVALID_ARG_TYPE') or RangeError ('ERR_OUT_OF_RANGE').
// - Data-path functions (rxToGuest, txFromGuest, checkRing) return a count >= 0, or a
//   negative code when the guest's ring is corrupt: -14 (EFAULT, something points outside
//   memory) or -22 (EINVAL, impossible field value); the message, which names the ring,
//   the field and the value, is in lastError() on the same thread. They throw only for
//   caller bugs (bad argument, unknown link/port).
// - Addresses: Uint8Array of 4 (IPv4) or 16 (IPv6) bytes, network order. MACs: 6 bytes.

/** Error thrown by control calls. */
export interface NativeError extends Error {
  code: string;
  errno: number;
  syscall?: string;
  /** claim() with code 'EADDRINUSE': the port that owns the tuple. */
  ownerPort?: number;
}

export type Proto = 6 | 17;

/** Per-port counters (monotonic; reset when a port id is reused). */
export interface PortCounters {
  /** Frames / bytes copied into the guest's RX ring. */
  rx_frames: number;
  rx_bytes: number;
  /** Frames longer than the guest's slot_size (consumed and dropped). */
  rx_dropped_too_big: number;
  /** Frames steered to the port that the host parser rejects (AF_XDP: the XDP program
   * reads only up to the ports); dropped, also counted in the link's rx_malformed. */
  rx_dropped_malformed: number;
  /** Frames / bytes validated and accepted by the backend. */
  tx_frames: number;
  tx_bytes: number;
  /** TX drops by reason (wit/ABI.md "What a transmitted frame must carry"). */
  tx_bad_src_mac: number;
  tx_bad_tuple: number;
  tx_bad_ethertype: number;
  tx_malformed: number;
  tx_too_long: number;
  /** Valid frames the backend had no room for (AF_XDP: also frames over the port's share
   * of the completion ring, see xsk_tx_over_share). */
  tx_backend_full: number;
  /** Frames the TX rate limit (setTxRate) held back on the guest's TX ring; each frame is
   * counted once, however many calls it waited. */
  tx_rate_limited: number;
  /** Backend-specific extras, e.g. switch: rx_queued, rx_dropped_queue_full, rx_queue_depth. */
  [extra: string]: number;
}

export interface LinkCounters {
  /** Frames the parser rejected (delivered to the kernel port, as XDP_PASS would). */
  rx_malformed: number;
  rx_to_kernel: number;
  rx_to_ports: number;
  /** Frames larger than the backend's buffers. */
  rx_dropped_oversize: number;
  /** Claimed tuples on the link. */
  tuples: number;
  /** Backend-specific extras, e.g. switch: wire_frames, wire_bytes, wire_dropped_full. */
  [extra: string]: number;
}

export interface Tuple {
  proto: Proto;
  addr: Uint8Array;
  port: number;
}

export type ParseStatus =
  | 'ok' | 'not_ip' | 'truncated_l2' | 'bad_l3_header' | 'bad_l3_length'
  | 'bad_ext_headers' | 'truncated_l4' | 'bad_l4_header';

export interface ParsedFrame {
  status: ParseStatus;
  /** EtherType after the optional 802.1Q tag. */
  ethertype: number;
  /** VLAN id when the frame had an 802.1Q tag, else null. */
  vlan: number | null;
  /** 4, 6, or 0 when not IP (then the fields below up to l4Offset are absent). */
  ipVersion: 0 | 4 | 6;
  /** Upper-layer protocol (the last IPv6 next-header). */
  proto?: number;
  src?: Uint8Array;
  dst?: Uint8Array;
  l3Offset?: number;
  /** End of the IP datagram in the frame (Ethernet padding may follow). */
  l3End?: number;
  l4Offset?: number;
  /** TCP/UDP and not a non-first fragment. */
  hasPorts: boolean;
  srcPort?: number;
  dstPort?: number;
  /** Set when the datagram is fragmented; offset in bytes. */
  fragment: { id: number; offset: number; more: boolean } | null;
}

export type TxVerdict =
  | 'ok' | 'tx_bad_src_mac' | 'tx_bad_ethertype' | 'tx_bad_tuple' | 'tx_malformed' | 'tx_too_long';

export interface SwitchLinkOptions {
  mac: Uint8Array;
  /** IP MTU, default 1500 (68..9000). TX frames longer than mtu + 14 are tx_too_long. */
  mtu?: number;
  /** Frames per stack port RX queue (default 1024), kernel queue (4096), wire-out queue (4096). */
  portQueue?: number;
  kernelQueue?: number;
  wireQueue?: number;
}

export interface BenchReferenceOptions {
  /** Default 1. */
  seconds?: number;
  /** Bytes per frame without FCS, default 64 (42..1514). */
  frameSize?: number;
  /** Frames per round, default 256. */
  batch?: number;
  /** Guest ring slots, default 256. */
  numSlots?: number;
  /** Distance between guest slot buffers, default 2048. */
  bufStride?: number;
}

export interface BenchReferenceResult {
  mpps: number;
  frames: number;
  seconds: number;
  nsPerFrame: number;
  /** Frames lost anywhere on the path (expected 0). */
  dropped: number;
}

export interface XdpLinkOptions {
  ifname: string;
  mac?: Uint8Array;
  mtu?: number;
  mode?: 'auto' | 'native' | 'generic';
  bpfObject?: string;
  framesPerQueue?: number;
  /** Send runs of TCP segments / equal UDP datagrams as GSO packets (gso.h). Default true. */
  gso?: boolean;
}

export interface PacketLinkOptions {
  ifname: string;
  mac?: Uint8Array;
  mtu?: number;
  blockSize?: number;
  blockCount?: number;
  blockTimeoutMs?: number;
  qdiscBypass?: boolean;
  txSndbuf?: number;
  portQueueBytes?: number;
  /** Send runs of TCP segments / equal UDP datagrams as GSO packets (gso.h). Default true. */
  gso?: boolean;
}

export interface TapLinkOptions {
  tapName: string;
  mac: Uint8Array;
  mtu?: number;
  portQueueBytes?: number;
}

export interface MshNative {
  // ---- links and ports (main thread) ----
  /** An in-process switch link (tests, benchmarks, simulation). */
  createSwitchLink(options: SwitchLinkOptions): number;
  /** Removes every port (waking blocked waiters), waits for calls in flight and destroys the backend: device resources are gone when it returns. */
  destroyLink(linkId: number): void;
  /** A new stack port (ids from 1; port 0 is the kernel). */
  addPort(linkId: number): number;
  /** Stops data calls on the port (wakes wait()), releases its tuples, frees its queue. */
  removePort(linkId: number, portId: number): void;
  /** A port whose stack is not running (failed, or waiting for a restart), and whose
   * worker is gone: parked, its frames are dropped (its tuples stay owned) and the backend
   * gives back what it held for it (AF_XDP: the frames on its RX ring). false undoes it. */
  parkPort(linkId: number, portId: number, parked: boolean): void;
  /** Throws code 'EADDRINUSE' ("udp 10.0.0.1:53 is already owned by port 3", `ownerPort: 3`) if taken. */
  claim(linkId: number, portId: number, proto: Proto, addr: Uint8Array, port: number): void;
  /** Throws 'ENOENT' (nobody owns it) or 'EPERM' (another port owns it). */
  release(linkId: number, portId: number, proto: Proto, addr: Uint8Array, port: number): void;
  tuples(linkId: number, portId: number): Tuple[];
  /** Classic pcap (ns timestamps) of what the port received and sent; null stops. */
  setPcap(linkId: number, portId: number, path: string | null): void;
  counters(linkId: number, portId: number): PortCounters;
  linkCounters(linkId: number): LinkCounters;

  // ---- data path (the port's worker thread) ----
  /** Moves up to `max` queued frames into free RX slots; publishes tail once. */
  rxToGuest(linkId: number, portId: number, memory: ArrayBuffer, rxRingOffset: number, max?: number): number;
  /** TX rate limit of the port, frames per second (0: unlimited); starts a fresh, full
   * token bucket (depth: max(32 frames, 20 ms at the rate)). Any thread. */
  setTxRate(linkId: number, portId: number, framesPerSecond: number): void;
  /** Validates and sends the frames in [head, tail) (at most `max`, and at most what the
   * port's rate limit allows now: the rest stay on the ring); advances head once. */
  txFromGuest(linkId: number, portId: number, memory: ArrayBuffer, txRingOffset: number, max?: number): number;
  /** Full check of a ring (header and every slot), e.g. right after init. 0 or negative. */
  checkRing(memory: ArrayBuffer, ringOffset: number, which?: string): number;
  /** Blocks until the port may have frames (>0), the timeout passes (0) or wake(). timeoutMs < 0: forever. */
  wait(linkId: number, portId: number, timeoutMs: number): number;
  wake(linkId: number, portId: number): void;
  /** Message of the last failure on this thread. */
  lastError(): string;

  // ---- in-process switch only ----
  /** Frames from "the wire": parsed, classified, queued to the owner or the kernel port. Returns frames queued. */
  switchInject(linkId: number, frames: Uint8Array[]): number;
  /** Injects `count` copies of `template` natively (each parsed and classified). */
  switchGenerate(linkId: number, template: Uint8Array, count: number): number;
  /** Frames queued for the kernel port (nobody owns them). */
  switchDrainKernel(linkId: number, max?: number): Uint8Array[];
  /** Frames stacks transmitted. */
  switchDrainWire(linkId: number, max?: number): Uint8Array[];
  /** Discard mode: transmitted frames are copied to a scratch buffer and counted only. */
  switchSetWireDiscard(linkId: number, discard: boolean): void;

  // ---- diagnostics and benchmarks ----
  parseFrame(frame: Uint8Array): ParsedFrame;
  /** The port the link would deliver `frame` to (0: the kernel). */
  classifyRx(linkId: number, frame: Uint8Array): number;
  /** The TX verdict for `frame` sent by `portId`, without sending it. */
  txCheck(linkId: number, portId: number, frame: Uint8Array): TxVerdict;
  /** The C++ reference loop of the switch benchmark (see native/src/bench_reference.h). */
  benchReference(options?: BenchReferenceOptions): BenchReferenceResult;
  /** The benchmark's UDP frame: 10.0.0.1:1234 (02:00:00:00:00:01) -> 10.0.0.2:7 (`mac`). */
  benchUdpFrame(mac: Uint8Array, size?: number): Uint8Array;

  // ---- kernel reservations (native/src/reserve.cc) ----
  /** Binds a kernel socket to the tuple so kernel applications get EADDRINUSE; returns its fd. */
  reservePort(proto: Proto, addr: Uint8Array, port: number): number;
  releasePort(fd: number): void;

  // ---- device backends (native/src/xdp_addon.cc, fallback_addon.cc; documented there) ----
  createXdpLink(options: XdpLinkOptions): number;
  xdpLinkInfo(linkId: number): Record<string, unknown> & { mode: 'native' | 'generic' };
  createPacketLink(options: PacketLinkOptions): number;
  packetLinkInfo(linkId: number): Record<string, unknown>;
  createTapLink(options: TapLinkOptions): number;
  tapLinkInfo(linkId: number): Record<string, unknown>;
  linkInfo?(linkId: number): { mode?: string; [k: string]: unknown } | undefined;
}
