// Kernel-side probes run in a test's peer namespace (test/helpers/peer.py, socat).
import { fileURLToPath } from 'node:url';
import { dirname, resolve } from 'node:path';
import { nsExec } from '../../host/src/netns.js';

const peerPy = resolve(dirname(fileURLToPath(import.meta.url)), 'peer.py');

/** One UDP datagram from the peer: {result: 'reply', len, match} | 'refused' | 'timeout'. */
export function probeUdp(ns: string, addr: string, port: number, len = 32, timeoutS = 1.5): any {
  return JSON.parse(nsExec(ns, '/usr/bin/python3', [peerPy, 'udp', addr, String(port), String(len), String(timeoutS)]));
}
/** One TCP connect from the peer: {result: 'connected' | 'refused' | 'timeout'}. */
export function probeTcp(ns: string, addr: string, port: number, timeoutS = 1.5): any {
  return JSON.parse(nsExec(ns, '/usr/bin/python3', [peerPy, 'tcp', addr, String(port), String(timeoutS)]));
}
/** `n` UDP datagrams of `len` bytes, one at a time: {sent, replies, match}. */
export function udpBurst(ns: string, addr: string, port: number, n: number, len = 64): { sent: number; replies: number; match: number } {
  return JSON.parse(nsExec(ns, '/usr/bin/python3', [peerPy, 'burst', addr, String(port), String(n), String(len)], { timeoutMs: 60_000 }));
}
/** `text` to `target` (a socat address) and back. */
export function socatEcho(ns: string, target: string, text: string): string {
  return nsExec(ns, 'socat', ['-t', '0.5', '-', target], { input: text });
}
