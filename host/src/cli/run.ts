// `msh run`: run stacks on an interface. The first `msh run` for an interface becomes its
// host (opens the backend, serves the control socket); later ones join it and ask it to
// run their stacks. A host keeps running while any client's stacks run.

import net from 'node:net';
import { readFileSync, unlinkSync } from 'node:fs';
import { MshError } from '../errors.js';
import { parseRunArgs, RunStackArgs } from './run-args.js';
import { defaultInterface, missingPrivileges, readLinkInfo } from '../backends/system.js';
import { LinkOptions, openInterfaceLink, OpenLink } from '../backends/index.js';
import { DEFAULTS, StackEvent, StackHost, StackSpec } from '../runtime/stack-host.js';
import { V8Engine } from '../engine/v8.js';
import { StackLoadError } from '../engine/engine.js';
import { connectControl, controlSocketPath, LineChannel, listenControl, Reply } from '../runtime/control.js';
import { parseTuple } from '../runtime/tuple.js';

function log(line: string): void {
  process.stdout.write(`${new Date().toISOString().slice(11, 23)} ${line}\n`);
}

function formatEvent(e: StackEvent): string {
  return e.kind === 'log' ? `[${e.stack}] ${e.level}: ${e.message}` : `[${e.stack}] ${e.message}`;
}

function toSpec(s: RunStackArgs): StackSpec {
  let component: Uint8Array;
  try {
    component = readFileSync(s.file);
  } catch (e) {
    throw new MshError(`${s.file}: cannot read it (${(e as NodeJS.ErrnoException).code})`, 'build a stack with `msh build <dir>`');
  }
  return { ...s, component };
}

/**
 * A stack as a joining `msh run` sent it over the control socket (JSON): tuples travel
 * as their text (a Uint8Array address would arrive as a plain object) and are parsed
 * again here.
 */
function fromWire(s: RunStackArgs): RunStackArgs {
  return { ...s, tuples: s.tuples.map((t) => parseTuple(String(t.text))) };
}

function checkPrivileges(): void {
  const missing = missingPrivileges();
  if (missing.length) {
    throw new MshError(`msh run needs ${missing.join(', ')} to drive an interface (running as uid ${process.getuid?.()})`, 'run it as root (sudo msh run ...)');
  }
}

export async function cmdRun(argv: string[]): Promise<number> {
  const args = parseRunArgs(argv);
  checkPrivileges();
  const iface = args.iface ?? defaultInterface();
  readLinkInfo(iface); // fails early with a clear message on a bad --iface
  // Unreadable files and components that are not stacks fail before anything starts.
  const engine = new V8Engine();
  for (const s of args.stacks) {
    try {
      engine.compile(toSpec(s).component, { memLimitBytes: s.memLimitBytes ?? DEFAULTS.memLimitBytes });
    } catch (e) {
      if (e instanceof StackLoadError) throw new MshError(`${s.file}: ${e.message}`);
      throw e;
    }
  }
  const sockPath = controlSocketPath(iface);
  const existing = await connectControl(sockPath);
  if (existing) {
    if (args.backend !== 'auto' || args.gso !== undefined)
      log(`msh: joining the host that already drives ${iface}: its --backend and --gso stay as they are`);
    return runAsClient(existing, args.stacks, iface);
  }
  return runAsHost(iface, args.backend, args.stacks, sockPath, { gso: args.gso });
}

/** Hidden `msh host`: a host with no stacks of its own, for scripts. */
export async function cmdHost(argv: string[]): Promise<number> {
  checkPrivileges();
  let iface: string | undefined, backend: any = 'auto', gso: boolean | undefined;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--iface') iface = argv[++i];
    else if (argv[i] === '--backend') backend = argv[++i];
    else if (argv[i] === '--gso') gso = argv[++i] !== 'off';
  }
  iface ??= defaultInterface();
  return runAsHost(iface, backend, [], controlSocketPath(iface), { gso });
}

async function runAsClient(sock: net.Socket, stacks: RunStackArgs[], iface: string): Promise<number> {
  let nextId = 1;
  const pending = new Map<number, (r: Reply) => void>();
  const mine = new Set(stacks.map((s) => s.name));
  const failed = new Set<string>();
  let started = false;
  let leaving = false;
  let resolveDone!: (code: number) => void;
  const done = new Promise<number>((r) => (resolveDone = r));
  const ch = new LineChannel(sock, (m) => {
    if (m.event) {
      const e = m.event as StackEvent;
      log(formatEvent(e));
      if (e.kind === 'state' && e.state === 'failed' && mine.has(e.stack)) {
        failed.add(e.stack);
        if (started) leaveIfAllFailed();
      }
    } else pending.get(m.id)?.(m);
  });
  // Nothing of this command runs any more: leave (the host releases the failed stacks'
  // tuples when the connection closes) and say so with the exit status.
  const leaveIfAllFailed = () => {
    if (leaving || failed.size < mine.size) return;
    leaving = true;
    log(`every stack of this command failed; leaving the msh host for ${iface}`);
    sock.end();
    resolveDone(1);
  };
  const call = (req: any) => new Promise<Reply>((r) => { const id = nextId++; pending.set(id, r); ch.send({ ...req, id }); });
  sock.on('close', () => { if (!leaving) log(`the msh host for ${iface} went away`); resolveDone(1); });
  log(`joining the msh host already driving ${iface}`);
  for (const s of stacks) {
    const r = await call({ op: 'start', stack: s });
    if (!r.ok) {
      console.error(`msh: ${r.error}`);
      if (r.hint) console.error(`  ${r.hint}`);
      leaving = true;
      sock.destroy();
      return 1;
    }
  }
  started = true;
  leaveIfAllFailed();
  const stop = async () => {
    for (const name of mine) await call({ op: 'stop', name });
    leaving = true;
    sock.end();
    resolveDone(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  return done;
}

async function runAsHost(iface: string, backend: any, stacks: RunStackArgs[], sockPath: string,
  linkOptions: LinkOptions = {}): Promise<number> {
  const link: OpenLink = await openInterfaceLink(iface, backend, linkOptions);
  log(`msh host on ${iface}: ${link.description}`);
  const host = new StackHost(link.binding);
  const owners = new Map<string, LineChannel | null>(); // stack -> client (null: this process)
  let shuttingDown = false;
  let exitCode = 0;
  let resolveDone!: () => void;
  const done = new Promise<void>((r) => (resolveDone = r));

  host.on('event', (e: StackEvent) => {
    const owner = owners.get(e.stack);
    if (owner) owner.send({ event: e });
    else log(formatEvent(e));
    if (e.kind === 'state' && e.state === 'failed' && owner === null) {
      const ownLeft = [...owners].filter(([n, o]) => o === null && host.get(n)?.state !== 'failed');
      if (!ownLeft.length && !shuttingDown) {
        exitCode = 1;
        void shutdown();
      }
    }
  });

  const startStack = async (s: RunStackArgs, owner: LineChannel | null) => {
    owners.set(s.name, owner);
    try {
      await host.start(toSpec(s));
    } catch (e) {
      owners.delete(s.name);
      throw e;
    }
  };

  const server = await listenControl(sockPath, (sock) => {
    const names = new Set<string>();
    const ch: LineChannel = new LineChannel(sock, async (m) => {
      const reply = (r: { ok: boolean; data?: unknown; error?: string; hint?: string }) => ch.send({ ...r, id: m.id });
      try {
        if (m.op === 'start') {
          await startStack(fromWire(m.stack), ch);
          names.add(m.stack.name);
          reply({ ok: true });
        } else if (m.op === 'stop') {
          if (names.has(m.name)) { await host.stop(m.name); names.delete(m.name); owners.delete(m.name); }
          reply({ ok: true });
        } else if (m.op === 'list') {
          reply({ ok: true, data: host.status() }); // StackStatus[] (msh status)
        } else if (m.op === 'link') {
          // The link as a whole (msh status): frames nobody owns, parser rejects, backend extras.
          reply({ ok: true, data: { iface, backend: link.description, counters: host.linkCounters() } });
        } else reply({ ok: false, error: `unknown request ${m.op}` });
      } catch (e) {
        reply({ ok: false, error: (e as Error).message, hint: (e as MshError).hint });
      }
    });
    sock.on('error', () => {});
    sock.on('close', async () => {
      // A client that goes away (Ctrl-C, kill -9) takes its stacks with it.
      for (const n of names) { if (host.get(n)) await host.stop(n); owners.delete(n); }
      names.clear();
      if (shuttingDown && ![...owners.values()].some((o) => o !== null)) resolveDone();
    });
  });

  const cleanup = () => {
    server.close();
    try { unlinkSync(sockPath); } catch { /* gone */ }
    host.close();
    link.close();
  };

  const shutdown = async () => {
    if (shuttingDown) return;
    shuttingDown = true;
    for (const [n, o] of owners) if (o === null && host.get(n)) await host.stop(n);
    const remote = [...owners.values()].filter((o) => o !== null).length;
    if (remote) log(`own stacks stopped; still serving ${remote} stack(s) of other msh run commands`);
    else resolveDone();
  };
  process.on('SIGINT', () => void shutdown());
  process.on('SIGTERM', () => void shutdown());

  try {
    for (const s of stacks) await startStack(s, null);
  } catch (e) {
    await host.stopAll();
    cleanup();
    throw e;
  }
  await done;
  await host.stopAll();
  cleanup();
  log('msh host stopped');
  return exitCode;
}
