// The local control socket of a running msh host: one per (network namespace, interface),
// owner-only (0600 in a 0700 directory). Later `msh run` commands for the same interface
// join the host through it instead of fighting over the XDP program. Newline-delimited JSON.

import net from 'node:net';
import { chmodSync, mkdirSync, statSync, unlinkSync } from 'node:fs';
import path from 'node:path';

export const CONTROL_DIR = process.env.MSH_RUN_DIR ?? '/run/msh';

export function controlSocketPath(ifname: string): string {
  // Interfaces are named per network namespace; key the socket by the namespace too.
  const ns = statSync('/proc/self/ns/net').ino;
  return path.join(CONTROL_DIR, `ns${ns}-${ifname}.sock`);
}

export type Request =
  | { id: number; op: 'start'; stack: any }
  | { id: number; op: 'stop'; name: string }
  | { id: number; op: 'list' };

export type Reply = { id: number; ok: true; data?: any } | { id: number; ok: false; error: string; hint?: string };

export class LineChannel {
  private buf = '';
  constructor(readonly sock: net.Socket, onMessage: (m: any) => void) {
    sock.setEncoding('utf8');
    sock.on('data', (chunk: string) => {
      this.buf += chunk;
      let nl;
      while ((nl = this.buf.indexOf('\n')) >= 0) {
        const line = this.buf.slice(0, nl);
        this.buf = this.buf.slice(nl + 1);
        if (!line.trim()) continue;
        try { onMessage(JSON.parse(line)); } catch { /* a malformed line is ignored */ }
      }
      if (this.buf.length > 1 << 20) sock.destroy(); // no unbounded buffering
    });
  }
  send(m: unknown): void {
    if (!this.sock.destroyed) this.sock.write(JSON.stringify(m) + '\n');
  }
}

/** Connects to a running host; null if none is there (a stale socket file is removed). */
export function connectControl(sockPath: string): Promise<net.Socket | null> {
  return new Promise((resolve) => {
    const s = net.connect(sockPath);
    s.once('connect', () => resolve(s));
    s.once('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'ECONNREFUSED') {
        try { unlinkSync(sockPath); } catch { /* raced */ }
      }
      resolve(null);
    });
  });
}

export function listenControl(sockPath: string, onClient: (s: net.Socket) => void): Promise<net.Server> {
  mkdirSync(path.dirname(sockPath), { recursive: true, mode: 0o700 });
  chmodSync(path.dirname(sockPath), 0o700);
  return new Promise((resolve, reject) => {
    const server = net.createServer(onClient);
    server.once('error', reject);
    const old = process.umask(0o177);
    server.listen(sockPath, () => {
      process.umask(old);
      chmodSync(sockPath, 0o600);
      resolve(server);
    });
  });
}
