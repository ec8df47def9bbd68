// Shared pieces of the fallback-backend tests: the driver process (driver.mjs inside a
// namespace, JSON lines) and kernel-side probes run in the peer namespace.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { existsSync, statSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, resolve, join } from 'node:path';
import { nsExec } from '../../host/src/netns.js';

export const here = dirname(fileURLToPath(import.meta.url));
export const root = resolve(here, '../..');
// Backend tests need root (network namespaces, raw sockets, tap devices, nftables); CI runs
// as root, so they run there and on this machine. Without root they are skipped, not failed.
export const isRoot = process.getuid?.() === 0;
const addonPath = process.env.MSH_NATIVE_ADDON || resolve(root, 'build/Release/msh_native.node');

/** The driver runs the compiled control code (dist/): refuse to test a stale build. */
export function requireBuild(): void {
  if (!existsSync(addonPath)) throw new Error(`build first (bash scripts/build.sh): ${addonPath} missing`);
  const srcDir = join(root, 'host/src/backends');
  for (const f of readdirSync(srcDir).filter((n) => n.endsWith('.ts'))) {
    const js = join(root, 'dist/host/src/backends', f.replace(/\.ts$/, '.js'));
    if (!existsSync(js) || statSync(js).mtimeMs < statSync(join(srcDir, f)).mtimeMs) {
      throw new Error(`dist/ is older than host/src/backends/${f}: run bash scripts/build.sh (or npx tsc -p tsconfig.json)`);
    }
  }
}

export interface Claim { proto: 'udp' | 'tcp'; addr: string; port: number }
export interface DriverConfig {
  backend: 'packet' | 'tap';
  ifname?: string;
  nft?: boolean;
  packet?: Record<string, unknown>;
  tap?: { mode: 'steer' | 'routed'; addresses?: string[]; tapName?: string };
  ports?: { echo?: boolean; claims: Claim[] }[];
}

/** test/backends/driver.mjs in a namespace. */
export class Driver {
  private waiters: ((o: any) => void)[] = [];
  private backlog: any[] = [];
  stderr = '';
  exited: Promise<number | null>;

  private constructor(readonly proc: ChildProcess) {
    createInterface({ input: proc.stdout! }).on('line', (l) => {
      let o: any;
      try { o = JSON.parse(l); } catch { o = { noise: l }; }
      const w = this.waiters.shift();
      if (w) w(o); else this.backlog.push(o);
    });
    proc.stderr!.on('data', (d) => { this.stderr += d; });
    this.exited = new Promise((r) => proc.on('exit', (code) => r(code)));
  }

  static start(ns: string, cfg: DriverConfig): Driver {
    const p = spawn('ip', ['netns', 'exec', ns, process.execPath, resolve(here, 'driver.mjs'), JSON.stringify(cfg)],
      { stdio: ['pipe', 'pipe', 'pipe'] });
    return new Driver(p);
  }

  next(timeoutMs = 10_000): Promise<any> {
    const b = this.backlog.shift();
    if (b) return Promise.resolve(b);
    return new Promise((res, rej) => {
      const t = setTimeout(() => rej(new Error(`driver silent for ${timeoutMs} ms; stderr: ${this.stderr}`)), timeoutMs);
      this.waiters.push((o) => { clearTimeout(t); res(o); });
    });
  }

  async ready(): Promise<any> {
    const o = await this.next();
    if (!o.ready) throw new Error(`driver failed: ${JSON.stringify(o)} ${this.stderr}`);
    return o.ready;
  }

  async stats(): Promise<any> {
    this.proc.stdin!.write('stats\n');
    for (;;) {
      const o = await this.next();
      if (o.error) throw new Error(`driver: ${o.error}`);
      if (o.stats) return o.stats;
    }
  }

  async command(line: string): Promise<any> {
    this.proc.stdin!.write(line + '\n');
    const o = await this.next();
    if (o.error) throw new Error(`driver: ${line}: ${o.error}`);
    return o;
  }

  /** The driver's own clean exit: prints its stats, closes the link, exits 0. */
  async quit(): Promise<number | null> {
    this.proc.stdin!.write('quit\n');
    return this.exited;
  }

  kill(sig: NodeJS.Signals = 'SIGKILL'): void {
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill(sig);
  }

  /** Kills and waits; for afterAll. */
  async stop(): Promise<void> {
    this.kill();
    await this.exited;
  }
}

const peerPy = resolve(here, 'peer.py');

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
export function socatEcho(ns: string, target: string, text: string): string {
  return nsExec(ns, 'socat', ['-t', '0.5', '-', target], { input: text });
}

export function nftTables(ns: string): string[] {
  return nsExec(ns, 'nft', ['list', 'tables']).split('\n').map((l) => l.trim()).filter(Boolean);
}
export function links(ns: string): string[] {
  return JSON.parse(nsExec(ns, 'ip', ['-j', 'link', 'show'])).map((l: any) => l.ifname);
}
