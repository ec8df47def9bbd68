// A connection's identity: local and remote address and port (the 4-tuple) plus the
// address family. Addresses are kept as the raw network-order bytes loaded into two u64
// (IPv4: the 4 bytes in the low half of `lo`, `hi` = 0), so storing them back reproduces
// the wire bytes and comparing them is two integer compares.

import { mix64 } from "./hash";

export class TcpTuple {
  v6: bool = false;
  localHi: u64 = 0;
  localLo: u64 = 0;
  remoteHi: u64 = 0;
  remoteLo: u64 = 0;
  /** Ports in host byte order. */
  localPort: u16 = 0;
  remotePort: u16 = 0;

  /** Sets IPv4 addresses from 4 network-order bytes each at `local` and `remote`. */
  setV4(local: usize, localPort: u16, remote: usize, remotePort: u16): TcpTuple {
    this.v6 = false;
    this.localHi = 0; this.localLo = <u64>load<u32>(local);
    this.remoteHi = 0; this.remoteLo = <u64>load<u32>(remote);
    this.localPort = localPort; this.remotePort = remotePort;
    return this;
  }

  /** Sets IPv6 addresses from 16 network-order bytes each at `local` and `remote`. */
  setV6(local: usize, localPort: u16, remote: usize, remotePort: u16): TcpTuple {
    this.v6 = true;
    this.localHi = load<u64>(local); this.localLo = load<u64>(local, 8);
    this.remoteHi = load<u64>(remote); this.remoteLo = load<u64>(remote, 8);
    this.localPort = localPort; this.remotePort = remotePort;
    return this;
  }

  copyFrom(o: TcpTuple): TcpTuple {
    this.v6 = o.v6;
    this.localHi = o.localHi; this.localLo = o.localLo;
    this.remoteHi = o.remoteHi; this.remoteLo = o.remoteLo;
    this.localPort = o.localPort; this.remotePort = o.remotePort;
    return this;
  }

  @inline equals(o: TcpTuple): bool {
    return this.localPort == o.localPort && this.remotePort == o.remotePort &&
      this.remoteLo == o.remoteLo && this.localLo == o.localLo &&
      this.remoteHi == o.remoteHi && this.localHi == o.localHi && this.v6 == o.v6;
  }

  /** Writes the local address (4 or 16 bytes) at `ptr`. */
  @inline writeLocal(ptr: usize): void {
    if (this.v6) { store<u64>(ptr, this.localHi); store<u64>(ptr, this.localLo, 8); }
    else store<u32>(ptr, <u32>this.localLo);
  }

  /** Writes the remote address (4 or 16 bytes) at `ptr`. */
  @inline writeRemote(ptr: usize): void {
    if (this.v6) { store<u64>(ptr, this.remoteHi); store<u64>(ptr, this.remoteLo, 8); }
    else store<u32>(ptr, <u32>this.remoteLo);
  }

  /** Bucket hash under the key `k`. */
  @inline hash(k: u64): u64 {
    let h = mix64(this.remoteLo ^ k);
    h = mix64(h ^ this.remoteHi ^ (<u64>this.remotePort << 16 | <u64>this.localPort));
    return mix64(h ^ this.localLo ^ this.localHi ^ (this.v6 ? 1 : 0));
  }

  /** Dotted-quad or hex text of an address (diagnostics only). */
  toString(): string {
    return addrToString(this.v6, this.localHi, this.localLo) + ":" + this.localPort.toString() +
      " <-> " + addrToString(this.v6, this.remoteHi, this.remoteLo) + ":" + this.remotePort.toString();
  }
}

function addrToString(v6: bool, hi: u64, lo: u64): string {
  if (!v6) {
    const a = <u32>lo;
    return (a & 0xff).toString() + "." + ((a >> 8) & 0xff).toString() + "." +
      ((a >> 16) & 0xff).toString() + "." + (a >> 24).toString();
  }
  let s = "[";
  for (let i = 0; i < 8; i++) {
    const w: u64 = i < 4 ? hi : lo;
    const sh = <u64>((i & 3) * 16);
    const b0 = (w >> sh) & 0xff, b1 = (w >> (sh + 8)) & 0xff;
    if (i > 0) s += ":";
    s += (b0 << 8 | b1).toString(16);
  }
  return s + "]";
}
