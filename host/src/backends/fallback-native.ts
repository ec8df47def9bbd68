// Types of the fallback backends' addon functions (native/src/fallback_addon.cc), until
// native/index.d.ts carries them; loadNative() with these added.
import { loadNative } from '../native.js';

export interface PacketLinkOptions {
  ifname: string;
  /** Default: the interface's MAC. */
  mac?: Uint8Array;
  /** IP MTU; default: the interface's. */
  mtu?: number;
  /** TPACKET_V3 block bytes (power of two >= page size), default 1 MiB. */
  blockSize?: number;
  /** Ring blocks, default 16. */
  blockCount?: number;
  /** A partly filled block is handed over after this long (rounded up to a jiffy), default 1. */
  blockTimeoutMs?: number;
  /** PACKET_QDISC_BYPASS on the TX sockets, default false. */
  qdiscBypass?: boolean;
  /** SO_SNDBUF of each port's TX socket, default 4 MiB. */
  txSndbuf?: number;
  /** RX queue bytes per port, default 4 MiB. */
  portQueueBytes?: number;
}

export interface TapLinkNativeOptions {
  /** 1..15 bytes; "%d" lets the kernel number it. */
  tapName: string;
  /** The stacks' MAC (not the tap device's own, which is the kernel's end). */
  mac: Uint8Array;
  /** Default 1500. */
  mtu?: number;
  portQueueBytes?: number;
}

export interface FallbackLinkInfo {
  backend: 'packet' | 'tap';
  ifname: string;
  ifindex: number;
  /** Set once the I/O thread stopped on a device error (wait() then throws it). */
  ioError: string | null;
  counters: Record<string, number>;
}

export interface FallbackNative {
  createPacketLink(options: PacketLinkOptions): number;
  packetLinkInfo(linkId: number): FallbackLinkInfo;
  createTapLink(options: TapLinkNativeOptions): number;
  tapLinkInfo(linkId: number): FallbackLinkInfo;
}

export function loadFallbackNative(): ReturnType<typeof loadNative> & FallbackNative {
  return loadNative() as unknown as ReturnType<typeof loadNative> & FallbackNative;
}
