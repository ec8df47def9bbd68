# Sends malformed and unusual frames from the peer namespace to a udp-echo stack on
# IPV4/IPV6 port 7 (scapy; /usr/bin/python3), and reports the echoes that came back.
#   malformed.py IFNAME DST_MAC IPV4 IPV6 SRC_IPV4 SRC_IPV6
# Prints one JSON object: {"sent": {case: frames}, "echoed": [payload, ...]}.
# Every case's payload names the case, so the test can tell which were answered.
import json, os, socket, sys, time, logging
logging.getLogger("scapy.runtime").setLevel(logging.ERROR)
from scapy.all import (Ether, IP, IPv6, UDP, Raw, IPOption_NOP, IPv6ExtHdrHopByHop,
                       IPv6ExtHdrRouting, IPv6ExtHdrDestOpt, IPv6ExtHdrFragment,
                       fragment, fragment6, sendp, get_if_hwaddr)

ifname, dst_mac, ip4, ip6, src4, src6 = sys.argv[1:7]
SPORT = 40007
eth = Ether(src=get_if_hwaddr(ifname), dst=dst_mac)
def u4(payload, **ip): return eth / IP(src=src4, dst=ip4, **ip) / UDP(sport=SPORT, dport=7) / Raw(payload)
def u6(payload): return eth / IPv6(src=src6, dst=ip6) / UDP(sport=SPORT, dport=7) / Raw(payload)
def raw(b): return Ether(bytes(b))

cases = {}
# Well-formed frames the stack must receive and echo.
cases["good4"] = [u4(b"good4")]
cases["good6"] = [u6(b"good6")]
cases["v4opts"] = [u4(b"v4opts", options=[IPOption_NOP()] * 8)]
cases["v6chain"] = [eth / IPv6(src=src6, dst=ip6) / IPv6ExtHdrHopByHop() / IPv6ExtHdrRouting(addresses=[], segleft=0)
                    / IPv6ExtHdrDestOpt() / UDP(sport=SPORT, dport=7) / Raw(b"v6chain")]
# Fragments of an owned flow: every fragment must reach the stack (udp-echo does not
# reassemble, so they are counted, not echoed).
cases["frag4"] = fragment(eth / IP(src=src4, dst=ip4, id=777) / UDP(sport=SPORT, dport=7) / Raw(b"f" * 3000), fragsize=1200)
cases["frag6"] = fragment6(eth / IPv6(src=src6, dst=ip6) / IPv6ExtHdrFragment(id=778) / UDP(sport=SPORT, dport=7) / Raw(b"g" * 3000), 1280)
# Malformed frames: none may crash anything; none may reach the stack as if valid.
good = bytes(u4(b"bad"))
cases["eth_only"] = [Ether(good[:14])]
cases["trunc_ip"] = [Ether(good[:14 + 12])]                     # IPv4 header cut short
cases["trunc_udp"] = [Ether(good[:14 + 20 + 4])]                # UDP header cut short
cases["bad_ihl"] = [Ether(good[:14] + bytes([0x43]) + good[15:])]  # IHL 3 (< 5)
cases["ihl_past_end"] = [Ether(good[:14] + bytes([0x4f]) + good[15:14 + 40])]  # IHL 15, frame shorter
b = bytearray(good); b[16:18] = (1400).to_bytes(2, "big")         # total length past the frame
cases["totlen_long"] = [Ether(bytes(b))]
b = bytearray(good); b[16:18] = (10).to_bytes(2, "big")           # total length inside the header
cases["totlen_short"] = [Ether(bytes(b))]
b = bytearray(good); b[38:40] = (4).to_bytes(2, "big")            # UDP length < 8
cases["udplen_short"] = [Ether(bytes(b))]
b = bytearray(good); b[38:40] = (900).to_bytes(2, "big")          # UDP length past the datagram
cases["udplen_long"] = [Ether(bytes(b))]
g6 = bytes(eth / IPv6(src=src6, dst=ip6) / IPv6ExtHdrHopByHop() / UDP(sport=SPORT, dport=7) / Raw(b"bad6"))
cases["v6_trunc_ext"] = [Ether(g6[:14 + 40 + 4])]                # extension header cut short
b = bytearray(g6); b[18:20] = (3000).to_bytes(2, "big")           # payload length past the frame
cases["v6_paylen_long"] = [Ether(bytes(b))]
cases["garbage"] = [Ether(bytes(eth)[:12] + b"\x08\x00" + os.urandom(n)) for n in (1, 19, 40, 200, 1000)]
cases["garbage6"] = [Ether(bytes(eth)[:12] + b"\x86\xdd" + os.urandom(n)) for n in (1, 39, 60, 500)]
cases = {k: v for k, v in cases.items() if v}

s4 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s4.bind((src4, SPORT)); s4.settimeout(0.2)
s6 = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); s6.bind((src6, SPORT)); s6.settimeout(0.2)
for name, frames in cases.items():
    sendp(frames, iface=ifname, verbose=False)
echoed = []
deadline = time.time() + 2
while time.time() < deadline:
    for s in (s4, s6):
        try:
            echoed.append(s.recv(4096).decode("latin-1"))
        except socket.timeout:
            pass
print(json.dumps({"sent": {k: len(v) for k, v in cases.items()}, "echoed": echoed}))
