# Sends hand-made frames from the peer namespace (scapy; run with /usr/bin/python3) to
# exercise the XDP program's parser on what socket tools cannot produce.
#   craft.py IFNAME DST_MAC IPV4 IPV6 CASE[,CASE...] SRC_IPV4 SRC_IPV6
# CASE: vlan     UDP to IPV4:7 inside one 802.1Q tag
#       v6ext    UDP to [IPV6]:7 behind a hop-by-hop and a destination options header
#       v4opts   UDP to IPV4:7 with IPv4 options (IHL 7)
#       trunc    IPv4 UDP to port 7 cut inside the UDP header (parse error, passed)
#       latefrag a non-first IPv4 fragment of a datagram never seen (passed)
import sys
import logging
logging.getLogger("scapy.runtime").setLevel(logging.ERROR)
from scapy.all import Ether, Dot1Q, IP, IPv6, UDP, IPv6ExtHdrHopByHop, IPv6ExtHdrDestOpt, IPOption_NOP, Raw, sendp, get_if_hwaddr

ifname, dst_mac, ip4, ip6, case = sys.argv[1:6]
src_mac = get_if_hwaddr(ifname)
eth = Ether(src=src_mac, dst=dst_mac)
src4 = sys.argv[6] if len(sys.argv) > 6 else None
src6 = sys.argv[7] if len(sys.argv) > 7 else None
def frame(case):
    if case == "vlan":
        return eth / Dot1Q(vlan=100) / IP(src=src4, dst=ip4) / UDP(sport=40000, dport=7) / Raw(b"vlan")
    elif case == "v6ext":
        return eth / IPv6(src=src6, dst=ip6) / IPv6ExtHdrHopByHop() / IPv6ExtHdrDestOpt() / UDP(sport=40000, dport=7) / Raw(b"v6ext")
    elif case == "v4opts":
        return eth / IP(src=src4, dst=ip4, options=[IPOption_NOP()] * 8) / UDP(sport=40000, dport=7) / Raw(b"v4opts")
    elif case == "trunc":
        full = bytes(eth / IP(src=src4, dst=ip4) / UDP(sport=40000, dport=7) / Raw(b"x"))
        return Ether(full[:14 + 20 + 2])  # the UDP header stops after the source port
    elif case == "latefrag":
        return eth / IP(src=src4, dst=ip4, proto=17, id=4242, frag=100, flags=0) / Raw(b"y" * 64)
    else:
        raise SystemExit("unknown case " + case)

sendp([frame(c) for c in case.split(',')], iface=ifname, verbose=False)
print("sent")
