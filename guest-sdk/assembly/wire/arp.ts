// ARP for Ethernet + IPv4 (RFC 826), the only combination this view accepts.
//
//  0     2     4    5    6    8          14         18         24         28
//  | htype | ptype |hlen|plen| oper | sha      | spa      | tha      | tpa      |
import { loadIpv4, loadMac, storeIpv4, storeMac } from "./ip";
import { DETACHED_BUF, rangeOk } from "./view";

export const ARP_LEN: u32 = 28;
export const ARP_REQUEST: u16 = 1;
export const ARP_REPLY: u16 = 2;

/** Checked view of an Ethernet/IPv4 ARP packet. */
export class ArpView {
  ptr: usize = DETACHED_BUF;
  len: u32 = 0;

  /**
   * Re-targets this view. False (and detached) when shorter than 28 bytes or not
   * htype 1 / ptype 0x0800 / hlen 6 / plen 4.
   */
  wrap(ptr: usize, len: u32): bool {
    // htype, ptype, hlen, plen as one u48 comparison: 00 01 08 00 06 04.
    if (len < ARP_LEN || !rangeOk(ptr, len) ||
        load<u32>(ptr) != 0x00080100 || load<u16>(ptr, 4) != 0x0406) {
      this.ptr = DETACHED_BUF;
      this.len = 0;
      return false;
    }
    this.ptr = ptr;
    this.len = len;
    return true;
  }
  /** Re-targets for emitting: only the length is checked. */
  wrapRaw(ptr: usize, len: u32): bool {
    if (len < ARP_LEN || !rangeOk(ptr, len)) {
      this.ptr = DETACHED_BUF;
      this.len = 0;
      return false;
    }
    this.ptr = ptr;
    this.len = len;
    return true;
  }

  hardwareType(): u16 { return bswap<u16>(load<u16>(this.ptr)); }
  protocolType(): u16 { return bswap<u16>(load<u16>(this.ptr, 2)); }
  hardwareLen(): u8 { return load<u8>(this.ptr, 4); }
  protocolLen(): u8 { return load<u8>(this.ptr, 5); }
  /** Writes htype 1, ptype 0x0800, hlen 6, plen 4. */
  setEthernetIpv4(): void {
    store<u32>(this.ptr, 0x00080100);
    store<u16>(this.ptr, 0x0406, 4);
  }
  operation(): u16 { return bswap<u16>(load<u16>(this.ptr, 6)); }
  setOperation(v: u16): void { store<u16>(this.ptr, bswap<u16>(v), 6); }
  senderMac(): u64 { return loadMac(this.ptr + 8); }
  setSenderMac(v: u64): void { storeMac(this.ptr + 8, v); }
  senderIp(): u32 { return loadIpv4(this.ptr + 14); }
  setSenderIp(v: u32): void { storeIpv4(this.ptr + 14, v); }
  targetMac(): u64 { return loadMac(this.ptr + 18); }
  setTargetMac(v: u64): void { storeMac(this.ptr + 18, v); }
  targetIp(): u32 { return loadIpv4(this.ptr + 24); }
  setTargetIp(v: u32): void { storeIpv4(this.ptr + 24, v); }
}

/** Plain ARP fields (Ethernet/IPv4 only). */
export class ArpRepr {
  operation: u16 = 0;
  senderMac: u64 = 0;
  senderIp: u32 = 0;
  targetMac: u64 = 0;
  targetIp: u32 = 0;

  parse(view: ArpView): bool {
    if (view.len < ARP_LEN) return false;
    this.operation = view.operation();
    this.senderMac = view.senderMac();
    this.senderIp = view.senderIp();
    this.targetMac = view.targetMac();
    this.targetIp = view.targetIp();
    return true;
  }
  emit(view: ArpView): bool {
    if (view.len < ARP_LEN) return false;
    view.setEthernetIpv4();
    view.setOperation(this.operation);
    view.setSenderMac(this.senderMac);
    view.setSenderIp(this.senderIp);
    view.setTargetMac(this.targetMac);
    view.setTargetIp(this.targetIp);
    return true;
  }
  headerLen(): u32 { return ARP_LEN; }
  bufferLen(): u32 { return ARP_LEN; }
}
