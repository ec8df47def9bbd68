// The parent side of the native-link test drivers (test/backends/driver.mjs,
// test/xdp/driver.mjs, built on test/helpers/link-driver.mjs): a driver process inside a
// network namespace, talking JSON lines.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { dirname, resolve } from 'node:path';

export const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
// Backend tests need root (network namespaces, raw sockets, tap devices, nftables, XDP);
// CI runs as root, so they run there and on this machine. Without root they are skipped,
// not failed.
export const isRoot = process.getuid?.() === 0;
/** The addon the drivers load: $MSH_NATIVE_ADDON (e.g. a sanitizer build) or build/Release. */
export const addonPath = process.env.MSH_NATIVE_ADDON || resolve(root, 'build/Release/msh_native.node');

export interface Claim { proto: 'udp' | 'tcp'; addr: string; port: number }
export interface PortConfig { echo?: boolean; claims: Claim[] }

/** A driver script run in namespace `ns` with its config as the one argument. */
export class Driver {
  private waiters: ((o: any) => void)[] = [];
  private backlog: any[] = [];
  stderr = '';
  exited: Promise<number | null>;
  readonly proc: ChildProcess;

  constructor(script: string, ns: string, cfg: object) {
    this.proc = spawn('ip', ['netns', 'exec', ns, process.execPath, script, JSON.stringify(cfg)],
      { stdio: ['pipe', 'pipe', 'pipe'] });
    createInterface({ input: this.proc.stdout! }).on('line', (l) => {
      let o: any;
      try { o = JSON.parse(l); } catch { o = { noise: l }; }
      const w = this.waiters.shift();
      if (w) w(o); else this.backlog.push(o);
    });
    this.proc.stderr!.on('data', (d) => { this.stderr += d; });
    this.exited = new Promise((r) => this.proc.on('exit', (code) => r(code)));
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

  /** Sends a command (see the driver script) and returns its reply. */
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
