// Ethernet II frames (no 802.1Q tag decoding: a tagged frame shows ETHERTYPE_VLAN).
//
//  0      6      12         14
//  | dst  | src  | ethertype | payload
import { loadMac, storeMac } from "./ip";
import { DETACHED_BUF, rangeOk } from "./view";

export const ETHERNET_HEADER_LEN: u32 = 14;
export const ETHERTYPE_IPV4: u16 = 0x0800;
export const ETHERTYPE_ARP: u16 = 0x0806;
export const ETHERTYPE_VLAN: u16 = 0x8100;
export const ETHERTYPE_IPV6: u16 = 0x86dd;

/** Checked view of an Ethernet II frame (see view.ts for the contract). */
export class EthernetView {
  ptr: usize = DETACHED_BUF;
  len: u32 = 0;

  /** Re-targets this view; false (and detached) when shorter than 14 bytes. */
  wrap(ptr: usize, len: u32): bool {
    if (len < ETHERNET_HEADER_LEN || !rangeOk(ptr, len)) {
      this.ptr = DETACHED_BUF;
      this.len = 0;
      return false;
    }
    this.ptr = ptr;
    this.len = len;
    return true;
  }
  /** Same as wrap: an Ethernet header has no field to check. */
  wrapRaw(ptr: usize, len: u32): bool {
    return this.wrap(ptr, len);
  }

  // @ts-ignore: decorator
  @inline dst(): u64 { return loadMac(this.ptr); }
  // @ts-ignore: decorator
  @inline setDst(mac: u64): void { storeMac(this.ptr, mac); }
  // @ts-ignore: decorator
  @inline src(): u64 { return loadMac(this.ptr + 6); }
  // @ts-ignore: decorator
  @inline setSrc(mac: u64): void { storeMac(this.ptr + 6, mac); }
  /** Address of the 6 destination bytes. */
  // @ts-ignore: decorator
  @inline dstPtr(): usize { return this.ptr; }
  /** Address of the 6 source bytes. */
  // @ts-ignore: decorator
  @inline srcPtr(): usize { return this.ptr + 6; }
  // @ts-ignore: decorator
  @inline etherType(): u16 { return bswap<u16>(load<u16>(this.ptr, 12)); }
  // @ts-ignore: decorator
  @inline setEtherType(v: u16): void { store<u16>(this.ptr, bswap<u16>(v), 12); }
  // @ts-ignore: decorator
  @inline payloadPtr(): usize { return this.ptr + ETHERNET_HEADER_LEN; }
  /** Everything after the header, including any padding of short frames. */
  // @ts-ignore: decorator
  @inline payloadLen(): u32 { return this.len > ETHERNET_HEADER_LEN ? this.len - ETHERNET_HEADER_LEN : 0; }
}

/** Plain Ethernet header fields. */
export class EthernetRepr {
  dst: u64 = 0;
  src: u64 = 0;
  etherType: u16 = 0;

  parse(view: EthernetView): bool {
    if (view.len < ETHERNET_HEADER_LEN) return false;
    this.dst = view.dst();
    this.src = view.src();
    this.etherType = view.etherType();
    return true;
  }
  /** Writes the 14-byte header; false when the view is too short. */
  emit(view: EthernetView): bool {
    if (view.len < ETHERNET_HEADER_LEN) return false;
    view.setDst(this.dst);
    view.setSrc(this.src);
    view.setEtherType(this.etherType);
    return true;
  }
  headerLen(): u32 { return ETHERNET_HEADER_LEN; }
  /** Frame length for an `payloadLen`-byte payload. */
  bufferLen(payloadLen: u32): u32 { return ETHERNET_HEADER_LEN + payloadLen; }
}
