# Kernel-side peer for the backend tests (test/helpers/peer.ts runs it in the peer
# namespace with Debian's python3).
# Prints one JSON line:
#   udp ADDR PORT LEN TIMEOUT   -> {"result": "reply", "len": N, "match": bool} | "refused" | "timeout"
#   tcp ADDR PORT TIMEOUT       -> {"result": "connected" | "refused" | "timeout"}
#   burst ADDR PORT N LEN       -> {"sent": N, "replies": M, "match": K} (one at a time, 1 s timeout)
# "refused" means the kernel on the other side answered (ICMP port unreachable / TCP RST).
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

def burst(addr, port, n, size):
    s = socket.socket(family(addr), socket.SOCK_DGRAM)
    s.settimeout(1.0)
    s.connect((addr, port))
    replies = match = 0
    for _ in range(n):
        payload = os.urandom(size)
        s.send(payload)
        try:
            data = s.recv(65535)
            replies += 1
            match += data == payload
        except (socket.timeout, ConnectionRefusedError):
            pass
    return {"sent": n, "replies": replies, "match": match}

cmd = sys.argv[1]
if cmd == "udp":
    r = udp(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]))
elif cmd == "tcp":
    r = tcp(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]))
else:
    r = burst(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]))
print(json.dumps(r))
