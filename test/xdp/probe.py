# Kernel-side peer for test/xdp: sends one UDP datagram (or opens one TCP connection) and
# reports what came back, as one JSON line:
#   udp ADDR PORT LEN TIMEOUT -> {"result": "reply", "len": N, "match": bool} | "refused" | "timeout"
#   tcp ADDR PORT TIMEOUT     -> {"result": "connected"} | "refused" | "timeout"
# "refused" means the kernel on the other side answered (ICMP port unreachable / RST).
import json, os, socket, sys

def family(addr):
    return socket.AF_INET6 if ':' in addr else socket.AF_INET

def udp(addr, port, n, timeout):
    s = socket.socket(family(addr), socket.SOCK_DGRAM)
    s.settimeout(timeout)
    s.connect((addr, port))
    payload = os.urandom(n)
    s.send(payload)
    try:
        data = s.recv(65535)
        return {"result": "reply", "len": len(data), "match": data == payload}
    except ConnectionRefusedError:
        return {"result": "refused"}
    except socket.timeout:
        return {"result": "timeout"}

def tcp(addr, port, timeout):
    s = socket.socket(family(addr), socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect((addr, port))
        return {"result": "connected"}
    except ConnectionRefusedError:
        return {"result": "refused"}
    except socket.timeout:
        return {"result": "timeout"}

if sys.argv[1] == "udp":
    r = udp(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]))
else:
    r = tcp(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]))
print(json.dumps(r))
