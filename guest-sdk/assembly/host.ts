// Safe wrappers over the host imports (abi.ts). Each copies what the host lowered into
// guest-owned AssemblyScript objects and frees the canonical-ABI blocks.

import {
  raw_link, raw_tuples, raw_now, raw_random_bytes, raw_log, raw_next_hop_mac,
  RET_AREA, freeLowered,
} from "./abi";

export const enum Protocol { TCP = 0, UDP = 1 }
export const enum LogLevel { Trace = 0, Debug = 1, Info = 2, Warn = 3, Error = 4 }

/** IANA protocol number of a tuple's protocol. */
export function ipProtocolNumber(p: Protocol): u8 { return p == Protocol.TCP ? 6 : 17; }

export class OwnedTuple {
  constructor(public protocol: Protocol, public address: Uint8Array, public port: u16) {}
  get isV4(): bool { return this.address.length == 4; }
}

export class LinkInfo {
  name: string = "";
  mac: Uint8Array = new Uint8Array(6);
  mtu: u32 = 1500;
  ipv4: Array<Uint8Array> = [];
  ipv6: Array<Uint8Array> = [];
}

function takeBytes(ptr: usize, len: usize): Uint8Array {
  const out = new Uint8Array(<i32>len);
  memory.copy(out.dataStart, ptr, len);
  freeLowered(ptr, len);
  return out;
}

function takeString(ptr: usize, len: usize): string {
  const s = String.UTF8.decodeUnsafe(ptr, len);
  freeLowered(ptr, len);
  return s;
}

function takeAddressList(ptr: usize, len: usize): Array<Uint8Array> {
  const out = new Array<Uint8Array>();
  for (let i: usize = 0; i < len; i++) {
    const e = ptr + i * 8;
    out.push(takeBytes(load<u32>(e), load<u32>(e, 4)));
  }
  freeLowered(ptr, len);
  return out;
}

/** The link this stack is attached to. */
export function link(): LinkInfo {
  raw_link(RET_AREA);
  const r = RET_AREA;
  const info = new LinkInfo();
  // Read every field before the next import call reuses RET_AREA.
  const nameP = load<u32>(r, 0), nameL = load<u32>(r, 4);
  const macP = load<u32>(r, 8), macL = load<u32>(r, 12);
  const mtu = load<u32>(r, 16);
  const v4P = load<u32>(r, 20), v4L = load<u32>(r, 24);
  const v6P = load<u32>(r, 28), v6L = load<u32>(r, 32);
  info.name = takeString(nameP, nameL);
  info.mac = takeBytes(macP, macL);
  info.mtu = mtu;
  info.ipv4 = takeAddressList(v4P, v4L);
  info.ipv6 = takeAddressList(v6P, v6L);
  return info;
}

/** The tuples this stack owns (concrete addresses). */
export function tuples(): Array<OwnedTuple> {
  raw_tuples(RET_AREA);
  const ptr = load<u32>(RET_AREA), len = load<u32>(RET_AREA, 4);
  const out = new Array<OwnedTuple>();
  for (let i: u32 = 0; i < len; i++) {
    const e = ptr + i * 16;
    const proto = <Protocol>load<u8>(e);
    const addr = takeBytes(load<u32>(e, 4), load<u32>(e, 8));
    out.push(new OwnedTuple(proto, addr, load<u16>(e, 12)));
  }
  freeLowered(ptr, len);
  return out;
}

/** Monotonic nanoseconds (the clock of poll's `now`). */
export function now(): u64 { return raw_now(); }

/** Fills `out` with bytes from the host's CSPRNG (256 bytes per host call). */
export function randomFill(out: Uint8Array): void {
  let done = 0;
  while (done < out.length) {
    const n = min(out.length - done, 256);
    raw_random_bytes(<u32>n, RET_AREA);
    const p = load<u32>(RET_AREA), l = load<u32>(RET_AREA, 4);
    memory.copy(out.dataStart + done, p, l);
    freeLowered(p, l);
    done += n;
  }
}

/** A random u32 from the host's CSPRNG (initial sequence numbers and the like). */
export function randomU32(): u32 {
  raw_random_bytes(4, RET_AREA);
  const p = load<u32>(RET_AREA);
  const v = load<u32>(p);
  freeLowered(p, 4);
  return v;
}

export function log(level: LogLevel, message: string): void {
  const utf8 = String.UTF8.encode(message);
  raw_log(<u32>level, changetype<usize>(utf8), <usize>utf8.byteLength);
}
export function logInfo(message: string): void { log(LogLevel.Info, message); }
export function logWarn(message: string): void { log(LogLevel.Warn, message); }
export function logError(message: string): void { log(LogLevel.Error, message); }
export function logDebug(message: string): void { log(LogLevel.Debug, message); }

/**
 * MAC of the next hop towards `address` (4 or 16 bytes), or null while unknown (the host
 * starts a resolution; ask again on a later poll).
 */
export function nextHopMac(address: Uint8Array): Uint8Array | null {
  raw_next_hop_mac(address.dataStart, <usize>address.length, RET_AREA);
  if (load<u8>(RET_AREA) == 0) return null;
  return takeBytes(load<u32>(RET_AREA, 4), load<u32>(RET_AREA, 8));
}
