// Address helpers.
// - IPv4 addresses are host-order u32 values: 10.0.0.1 is 0x0a000001.
// - MAC addresses are host-order u64 values holding 48 bits: 02:00:00:00:00:0a is
//   0x02000000000a.
// - IPv6 addresses are `Ipv6Address` objects whose 16 bytes sit in network order at
//   `addr.ptr`, so they can be copied, compared and checksummed without conversion.
// Loads/stores and comparisons never allocate; formatting and parsing (for logs and
// configuration) do.

// ---------------------------------------------------------------------------- IPv4

/** a.b.c.d as a host-order u32. */
// @ts-ignore: decorator
@inline export function ipv4(a: u32, b: u32, c: u32, d: u32): u32 {
  return ((a & 0xff) << 24) | ((b & 0xff) << 16) | ((c & 0xff) << 8) | (d & 0xff);
}

export const IPV4_UNSPECIFIED: u32 = 0;
export const IPV4_BROADCAST: u32 = 0xffffffff;

/** Reads a network-order IPv4 address at `ptr`. */
// @ts-ignore: decorator
@inline export function loadIpv4(ptr: usize): u32 {
  return bswap<u32>(load<u32>(ptr));
}

/** Writes `addr` at `ptr` in network order. */
// @ts-ignore: decorator
@inline export function storeIpv4(ptr: usize, addr: u32): void {
  store<u32>(ptr, bswap<u32>(addr));
}

// @ts-ignore: decorator
@inline export function isIpv4Multicast(addr: u32): bool {
  return (addr >>> 28) == 0xe;
}
// @ts-ignore: decorator
@inline export function isIpv4Broadcast(addr: u32): bool {
  return addr == 0xffffffff;
}
// @ts-ignore: decorator
@inline export function isIpv4Loopback(addr: u32): bool {
  return (addr >>> 24) == 127;
}
// @ts-ignore: decorator
@inline export function isIpv4LinkLocal(addr: u32): bool {
  return (addr >>> 16) == 0xa9fe;
}
/** True for addresses no unicast packet may come from: 0/8, 224/4 multicast, 240/4 and broadcast. */
// @ts-ignore: decorator
@inline export function isIpv4Unicast(addr: u32): bool {
  return (addr >>> 24) != 0 && (addr >>> 28) < 0xe;
}

/** Dotted quad, for logs. */
export function formatIpv4(addr: u32): string {
  return (addr >>> 24).toString() + "." + ((addr >>> 16) & 0xff).toString() + "." +
    ((addr >>> 8) & 0xff).toString() + "." + (addr & 0xff).toString();
}

/** Parses a dotted quad ("10.0.0.1"); -1 when malformed. */
export function parseIpv4(s: string): i64 {
  let value: u32 = 0;
  let part: i32 = -1;
  let parts = 0;
  let digits = 0;
  for (let i = 0, n = s.length; i <= n; i++) {
    const c = i < n ? s.charCodeAt(i) : 46; // a virtual '.' ends the last part
    if (c >= 48 && c <= 57) {
      if (digits == 3 || (digits == 1 && part == 0)) return -1; // too long or leading zero
      part = (part < 0 ? 0 : part) * 10 + (c - 48);
      digits++;
      if (part > 255) return -1;
    } else if (c == 46) {
      if (digits == 0 || parts == 4) return -1;
      value = (value << 8) | <u32>part;
      parts++;
      part = -1;
      digits = 0;
    } else {
      return -1;
    }
  }
  return parts == 4 ? <i64>value : -1;
}

// ----------------------------------------------------------------------------- MAC

export const MAC_BROADCAST: u64 = 0xffffffffffff;

/** Reads a 6-byte MAC at `ptr` as a 48-bit host-order value. */
// @ts-ignore: decorator
@inline export function loadMac(ptr: usize): u64 {
  return (<u64>bswap<u32>(load<u32>(ptr)) << 16) | <u64>bswap<u16>(load<u16>(ptr, 4));
}

/** Writes the 48-bit `mac` at `ptr` in network order. */
// @ts-ignore: decorator
@inline export function storeMac(ptr: usize, mac: u64): void {
  store<u32>(ptr, bswap<u32>(<u32>(mac >>> 16)));
  store<u16>(ptr, bswap<u16>(<u16>mac), 4);
}

/** Group (multicast or broadcast) bit of the first octet. */
// @ts-ignore: decorator
@inline export function isMacMulticast(mac: u64): bool {
  return ((mac >>> 40) & 1) != 0;
}

function hex2(v: u32): string {
  const digits = "0123456789abcdef";
  return digits.charAt((v >>> 4) & 0xf) + digits.charAt(v & 0xf);
}

/** aa:bb:cc:dd:ee:ff, for logs. */
export function formatMac(mac: u64): string {
  let s = hex2(<u32>(mac >>> 40));
  for (let shift = 32; shift >= 0; shift -= 8) s += ":" + hex2(<u32>(mac >>> shift));
  return s;
}

// ---------------------------------------------------------------------------- IPv6

/**
 * An IPv6 address. The two u64 fields hold the 16 address bytes in network order (as
 * loaded by little-endian u64 loads), so `ptr` is the address of the 16 bytes.
 */
export class Ipv6Address {
  w0: u64 = 0;
  w1: u64 = 0;

  /** Address of the 16 network-order bytes inside this object. */
  get ptr(): usize {
    return changetype<usize>(this) + offsetof<Ipv6Address>("w0");
  }
  /** Copies 16 network-order bytes from `src`. */
  // @ts-ignore: decorator
  @inline loadFrom(src: usize): void {
    this.w0 = load<u64>(src);
    this.w1 = load<u64>(src, 8);
  }
  /** Writes the 16 network-order bytes to `dst`. */
  // @ts-ignore: decorator
  @inline storeTo(dst: usize): void {
    store<u64>(dst, this.w0);
    store<u64>(dst, this.w1, 8);
  }
  // @ts-ignore: decorator
  @inline copyFrom(other: Ipv6Address): void {
    this.w0 = other.w0;
    this.w1 = other.w1;
  }
  // @ts-ignore: decorator
  @inline equals(other: Ipv6Address): bool {
    return this.w0 == other.w0 && this.w1 == other.w1;
  }
  /** Compares with 16 network-order bytes at `p`. */
  // @ts-ignore: decorator
  @inline equalsAt(p: usize): bool {
    return this.w0 == load<u64>(p) && this.w1 == load<u64>(p, 8);
  }
  /** Byte `i` (0..15) of the address in network order. */
  byte(i: u32): u8 {
    return <u8>((i < 8 ? this.w0 >>> (<u64>i << 3) : this.w1 >>> (<u64>(i - 8) << 3)) & 0xff);
  }
  /** 16-bit group `i` (0..7), host order. */
  group(i: u32): u16 {
    return (<u16>this.byte(i << 1) << 8) | <u16>this.byte((i << 1) + 1);
  }
  /** Sets the address from eight 16-bit groups. */
  setGroups(g0: u16, g1: u16, g2: u16, g3: u16, g4: u16, g5: u16, g6: u16, g7: u16): void {
    this.w0 = <u64>bswap<u16>(g0) | (<u64>bswap<u16>(g1) << 16) |
      (<u64>bswap<u16>(g2) << 32) | (<u64>bswap<u16>(g3) << 48);
    this.w1 = <u64>bswap<u16>(g4) | (<u64>bswap<u16>(g5) << 16) |
      (<u64>bswap<u16>(g6) << 32) | (<u64>bswap<u16>(g7) << 48);
  }
  isUnspecified(): bool {
    return (this.w0 | this.w1) == 0;
  }
  isLoopback(): bool {
    return this.w0 == 0 && this.w1 == 0x0100000000000000;
  }
  isMulticast(): bool {
    return (this.w0 & 0xff) == 0xff;
  }
  /** fe80::/10 */
  isLinkLocal(): bool {
    return (this.w0 & 0xc0ff) == 0x80fe;
  }
  /** ::ffff:a.b.c.d */
  isIpv4Mapped(): bool {
    return this.w0 == 0 && (this.w1 & 0xffffffff) == 0xffff0000;
  }
  /** The embedded IPv4 address of an IPv4-mapped address (host order). */
  ipv4(): u32 {
    return bswap<u32>(<u32>(this.w1 >>> 32));
  }
  /** Sets ::ffff:a.b.c.d from a host-order IPv4 address. */
  setIpv4Mapped(addr: u32): void {
    this.w0 = 0;
    this.w1 = 0xffff0000 | (<u64>bswap<u32>(addr) << 32);
  }
  /** Sets the solicited-node multicast address ff02::1:ffXX:XXXX of `unicast` (RFC 4291). */
  setSolicitedNode(unicast: Ipv6Address): void {
    this.w0 = 0x02ff;
    this.w1 = 0x000000ff01000000 | (unicast.w1 & 0xffffff0000000000);
  }
  /** RFC 5952 text form (lower case, longest zero run of 2+ groups as "::"), for logs. */
  toString(): string {
    let bestStart = -1;
    let bestLen = 1;
    for (let i = 0; i < 8;) {
      if (this.group(i) != 0) {
        i++;
        continue;
      }
      let j = i;
      while (j < 8 && this.group(j) == 0) j++;
      if (j - i > bestLen) {
        bestStart = i;
        bestLen = j - i;
      }
      i = j;
    }
    let s = "";
    for (let i = 0; i < 8; i++) {
      if (i == bestStart) {
        s += "::";
        i += bestLen - 1;
        continue;
      }
      if (s.length > 0 && !s.endsWith(":")) s += ":";
      s += (<u32>this.group(i)).toString(16);
    }
    return s;
  }
  /** Parses the text form (no zone, no embedded dotted quad); false when malformed. */
  parse(s: string): bool {
    const groups = new StaticArray<u16>(8);
    let count = 0;
    let gap = -1;
    let i = 0;
    const n = s.length;
    if (n < 2) return false;
    if (s.charCodeAt(0) == 58) {
      if (s.charCodeAt(1) != 58) return false;
      gap = 0;
      i = 2;
      if (i == n) {
        this.w0 = 0;
        this.w1 = 0;
        return true;
      }
    }
    while (i < n) {
      let v: u32 = 0;
      let digits = 0;
      while (i < n) {
        const c = s.charCodeAt(i);
        let d: i32 = 0;
        if (c >= 48 && c <= 57) d = c - 48;
        else if (c >= 97 && c <= 102) d = c - 87;
        else if (c >= 65 && c <= 70) d = c - 55;
        else break;
        v = (v << 4) | <u32>d;
        if (++digits > 4) return false;
        i++;
      }
      if (digits == 0 || count == 8) return false;
      groups[count++] = <u16>v;
      if (i == n) break;
      if (s.charCodeAt(i) != 58) return false;
      i++;
      if (i < n && s.charCodeAt(i) == 58) {
        if (gap >= 0) return false;
        gap = count;
        i++;
        if (i == n) break;
      } else if (i == n) {
        return false; // trailing single ':'
      }
    }
    if (gap < 0 ? count != 8 : count > 7) return false;
    const out = new StaticArray<u16>(8);
    if (gap < 0) {
      for (let k = 0; k < 8; k++) out[k] = groups[k];
    } else {
      const tail = count - gap;
      for (let k = 0; k < gap; k++) out[k] = groups[k];
      for (let k = 0; k < tail; k++) out[8 - tail + k] = groups[gap + k];
    }
    this.setGroups(out[0], out[1], out[2], out[3], out[4], out[5], out[6], out[7]);
    return true;
  }
}
