// kv-store: a tiny key-value store over UDP, one request per datagram, one reply each.
//   SET <key> <value>   -> OK
//   GET <key>           -> VALUE <value> | NOT_FOUND
//   DEL <key>           -> DELETED | NOT_FOUND
//   COUNT               -> COUNT <n>
// Anything else gets "ERROR <why>". IPv4 and IPv6. Unlike udp-echo it parses with the SDK's
// checked views, verifies the request's UDP checksum (unless the link gives partial ones,
// see config), and builds each reply in a fresh TX buffer with the Repr emitters.
// Config: max-keys=N (default 1024), max-value=N bytes (default 512),
//         verify-checksum=yes|no (default yes).
import { Stack, registerStack, logInfo } from "../../guest-sdk/assembly/index";
import { EthernetView, EthernetRepr, ETHERTYPE_IPV4, ETHERTYPE_IPV6, ETHERNET_HEADER_LEN } from "../../guest-sdk/assembly/wire/ethernet";
import { Ipv4View, Ipv4Repr, IP_PROTO_UDP, IPV4_HEADER_LEN } from "../../guest-sdk/assembly/wire/ipv4";
import { Ipv6View, Ipv6Repr, IPV6_HEADER_LEN } from "../../guest-sdk/assembly/wire/ipv6";
import { UdpView, UdpRepr, UDP_HEADER_LEN } from "../../guest-sdk/assembly/wire/udp";
export * from "../../guest-sdk/assembly/exports";

class KvStore extends Stack {
  store: Map<string, string> = new Map();
  maxKeys: i32 = 1024;
  maxValue: i32 = 512;
  verify: bool = true;
  badChecksum: u64 = 0;

  // Reused views and reprs: nothing is allocated per frame for parsing.
  eth: EthernetView = new EthernetView();
  ip4: Ipv4View = new Ipv4View();
  ip6: Ipv6View = new Ipv6View();
  udp: UdpView = new UdpView();
  ethR: EthernetRepr = new EthernetRepr();
  ip4R: Ipv4Repr = new Ipv4Repr();
  ip6R: Ipv6Repr = new Ipv6Repr();
  udpR: UdpRepr = new UdpRepr();

  configure(key: string, value: string): string | null {
    if (key == "max-keys" || key == "max-value") {
      const n = I32.parseInt(value);
      if (isNaN(<f64>n) || n <= 0 || n > 1 << 20) return key + " must be a number from 1 to 1048576, got '" + value + "'";
      if (key == "max-keys") this.maxKeys = n; else this.maxValue = n;
      return null;
    }
    if (key == "verify-checksum") {
      if (value != "yes" && value != "no") return "verify-checksum must be yes or no";
      this.verify = value == "yes";
      return null;
    }
    return "unknown config key '" + key + "' (kv-store knows max-keys, max-value, verify-checksum)";
  }

  start(now: u64): string | null {
    logInfo("kv-store ready: max-keys " + this.maxKeys.toString() + ", max-value " + this.maxValue.toString());
    return null;
  }

  execute(request: string): string {
    const sp = request.indexOf(" ");
    const cmd = (sp < 0 ? request : request.substring(0, sp)).toUpperCase();
    const rest = sp < 0 ? "" : request.substring(sp + 1);
    if (cmd == "COUNT") return "COUNT " + this.store.size.toString();
    if (cmd == "GET" || cmd == "DEL") {
      if (rest.length == 0 || rest.indexOf(" ") >= 0) return "ERROR usage: " + cmd + " <key>";
      if (!this.store.has(rest)) return "NOT_FOUND";
      if (cmd == "DEL") { this.store.delete(rest); return "DELETED"; }
      return "VALUE " + this.store.get(rest);
    }
    if (cmd == "SET") {
      const sp2 = rest.indexOf(" ");
      if (sp2 <= 0) return "ERROR usage: SET <key> <value>";
      const key = rest.substring(0, sp2);
      const value = rest.substring(sp2 + 1);
      if (value.length > this.maxValue) return "ERROR value longer than " + this.maxValue.toString() + " bytes";
      if (!this.store.has(key) && this.store.size >= this.maxKeys) return "ERROR store full (" + this.maxKeys.toString() + " keys)";
      this.store.set(key, value);
      return "OK";
    }
    return "ERROR unknown command (SET, GET, DEL, COUNT)";
  }

  onFrame(ptr: usize, len: u32, now: u64): void {
    const eth = this.eth;
    if (!eth.wrap(ptr, len)) return;
    this.ethR.parse(eth);
    const l3 = ptr + ETHERNET_HEADER_LEN, l3len = len - ETHERNET_HEADER_LEN;
    let v6 = false;
    let udpPtr: usize, udpLen: u32;
    if (this.ethR.etherType == ETHERTYPE_IPV4) {
      if (!this.ip4.wrap(l3, l3len) || !this.ip4R.parse(this.ip4) || this.ip4R.protocol != IP_PROTO_UDP) return;
      if (this.ip4R.moreFrags || this.ip4R.fragOffset != 0) return;
      udpPtr = l3 + this.ip4.headerLen();
      udpLen = this.ip4R.payloadLen;
    } else if (this.ethR.etherType == ETHERTYPE_IPV6) {
      if (!this.ip6.wrap(l3, l3len) || !this.ip6R.parse(this.ip6) || this.ip6R.nextHeader != IP_PROTO_UDP) return;
      udpPtr = l3 + this.ip6R.upperLayerOffset;
      udpLen = this.ip6R.payloadLen;
      v6 = true;
    } else return;
    const udp = this.udp;
    if (!udp.wrap(udpPtr, udpLen) || !this.udpR.parse(udp)) return;
    if (this.verify) {
      const ok = v6 ? udp.verifyChecksumV6(this.ip6R.src.ptr, this.ip6R.dst.ptr) : udp.verifyChecksumV4(this.ip4R.src, this.ip4R.dst);
      if (!ok) { this.badChecksum++; return; }
    }
    let request = String.UTF8.decodeUnsafe(this.udpR.payloadPtr, this.udpR.payloadLen);
    while (request.endsWith("\n") || request.endsWith("\r")) request = request.substring(0, request.length - 1);
    const reply = String.UTF8.encode(this.execute(request) + "\n");
    this.sendReply(v6, changetype<usize>(reply), <u32>reply.byteLength);
  }

  /** Builds Ethernet + IP + UDP back to the sender in a fresh TX buffer. */
  sendReply(v6: bool, payload: usize, payloadLen: u32): void {
    const buf = this.txBuffer();
    if (buf == 0) return; // TX ring full: drop, the client retries
    const ipLen: u32 = v6 ? IPV6_HEADER_LEN : IPV4_HEADER_LEN;
    const total = ETHERNET_HEADER_LEN + ipLen + UDP_HEADER_LEN + payloadLen;
    if (total > this.tx.slotSize) return;
    const eth = this.eth;
    eth.wrapRaw(buf, total);
    const er = this.ethR;
    const peer = er.src;
    er.src = er.dst;
    er.dst = peer;
    er.emit(eth);
    const l3 = buf + ETHERNET_HEADER_LEN;
    const udpPtr = l3 + ipLen;
    const ur = this.udpR;
    const sport = ur.srcPort;
    ur.srcPort = ur.dstPort;
    ur.dstPort = sport;
    ur.payloadPtr = payload;
    ur.payloadLen = payloadLen;
    const udp = this.udp;
    udp.wrapRaw(udpPtr, UDP_HEADER_LEN + payloadLen);
    if (v6) {
      const r = this.ip6R;
      const s = new Ipv6Repr(); // the parsed request's addresses, swapped
      s.src.copyFrom(r.dst);
      s.dst.copyFrom(r.src);
      s.nextHeader = IP_PROTO_UDP;
      s.hopLimit = 64;
      s.payloadLen = UDP_HEADER_LEN + payloadLen;
      this.ip6.wrapRaw(l3, ipLen + s.payloadLen);
      s.emit(this.ip6);
      ur.emitV6(udp, s.src.ptr, s.dst.ptr);
    } else {
      const r = new Ipv4Repr();
      r.src = this.ip4R.dst;
      r.dst = this.ip4R.src;
      r.protocol = IP_PROTO_UDP;
      r.ttl = 64;
      r.payloadLen = UDP_HEADER_LEN + payloadLen;
      this.ip4.wrapRaw(l3, ipLen + r.payloadLen);
      r.emit(this.ip4);
      this.ip4.fillChecksum();
      ur.emitV4(udp, r.src, r.dst);
    }
    this.send(total);
  }
}

registerStack(new KvStore());
