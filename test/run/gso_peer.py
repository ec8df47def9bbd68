#!/usr/bin/env python3
# Peer of test/run/gso.test.ts: sends bursts of UDP datagrams to an echo server from two
# sockets (two flows), each burst a run of equal sizes with a shorter last one, so that
# the echoes leave msh as runs it can send as GSO packets. Every datagram carries a
# unique payload. Prints JSON: how many were sent, echoed intact, lost, corrupted, and
# echoed out of order per flow.
#   gso_peer.py HOST PORT BURSTS
import json
import socket
import sys
import time

host, port, bursts = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
fam = socket.AF_INET6 if ':' in host else socket.AF_INET
flows = [socket.socket(fam, socket.SOCK_DGRAM) for _ in range(2)]
SO_RCVBUFFORCE = 33  # root: past net.core.rmem_max, so no echo is lost at this socket
for s in flows:
    s.connect((host, port))
    try:
        s.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 32 << 20)
    except OSError:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32 << 20)
    s.setblocking(False)


def payload(flow, burst, i, size):
    head = b'%d/%d/%d:' % (flow, burst, i)
    body = bytes((flow * 31 + burst * 7 + i + k) & 0xff for k in range(max(0, size - len(head))))
    return (head + body)[:size] if size >= len(head) else head


sent = [[] for _ in flows]
got = [[] for _ in flows]


def drain():
    # Echoes read as they come (between bursts too), so none waits in a full buffer.
    idle = True
    for f, s in enumerate(flows):
        while True:
            try:
                got[f].append(s.recv(65535))
                idle = False
            except BlockingIOError:
                break
    return idle


sizes = [24, 100, 512, 1000, 1400, 1452]
for b in range(bursts):
    size = sizes[b % len(sizes)]
    n = 8 + b % 40
    for f, s in enumerate(flows):
        for i in range(n):
            p = payload(f, b, i, size if i + 1 < n else max(1, size // 2))
            while True:
                try:
                    s.send(p)
                    break
                except BlockingIOError:
                    drain()
            sent[f].append(p)
    drain()

want = sum(len(x) for x in sent)
deadline = time.time() + 5
while sum(len(x) for x in got) < want and time.time() < deadline:
    if drain():
        time.sleep(0.001)

result = {'sent': want, 'echoed': 0, 'corrupt': 0, 'out_of_order': 0}
for f in range(len(flows)):
    index = {p: i for i, p in enumerate(sent[f])}
    last = -1
    for p in got[f]:
        i = index.get(p)
        if i is None:
            result['corrupt'] += 1
            continue
        result['echoed'] += 1
        if i < last:
            result['out_of_order'] += 1
        last = i
result['lost'] = want - result['echoed'] - result['corrupt']
print(json.dumps(result))
