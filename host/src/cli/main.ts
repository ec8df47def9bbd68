// msh command line. One function per subcommand; errors become a message and an exit
// code, never a stack trace (set MSH_DEBUG=1 for traces).

import { readdirSync, statSync, existsSync } from 'node:fs';
import path from 'node:path';
import { MshError, UsageError } from '../errors.js';
import { buildStack, BuildError } from '../build/build.js';
import { formatInspection, inspectFile } from './inspect.js';
import { STACKS_DIR } from '../paths.js';
import { GuestTrap, StackLoadError } from '../engine/engine.js';

const USAGE = `msh — MultiStack Host: user-level protocol stacks as WebAssembly components

usage:
  msh run STACK.wasm --tuple SPEC [options] [STACK.wasm --tuple SPEC ...]
                              run stacks on an interface, beside the kernel's stack
  msh build DIR|FILE.ts [-o OUT.wasm]   compile an AssemblyScript stack into a component
  msh build --shipped         build every stack in stacks/
  msh inspect FILE.wasm       show the world, imports, exports and memory of a component
  msh status [--iface IFNAME] [--json] [--link]
                              state, failure reason, restarts, limits and counters of
                              every stack the msh host on the interface runs (--link:
                              the link's own counters: to the kernel, parser rejects)
  msh demo                    run the demo: shipped stacks answer a kernel peer in a private netns pair
  msh help                    this text

run options (each applies to the stack named before it):
  --tuple SPEC        tcp:80 | udp:10.1.2.3:53 | 'tcp:[2001:db8::1]:80' (repeatable)
  --config KEY=VALUE  passed to the stack's init (repeatable)
  --name NAME         stack name (default: file name)
  --pcap FILE         write what the stack receives and sends to FILE (pcap)
  --cpu-budget MS     longest a call into the stack may run (default 100)
  --mem-limit MIB     cap on the stack's linear memory (default 64)
  --restart no|on-failure    (default no)
  --max-restarts N    restarts (with backoff) before on-failure gives up (default 5)
  --tx-rate PPS       transmit rate limit, frames per second (default unlimited)
  --rx-coalesce US    under sustained load, pause this long after a small batch so the
                      next one is larger (default 30; 0 = off)
global run options:
  --iface IFNAME      interface (default: the one carrying the default route)
  --backend auto|xdp|packet|tap     packet I/O (default auto: the best that works here)
  --gso on|off        xdp, packet: send runs of TCP segments / equal UDP datagrams as one
                      GSO packet through a packet socket (default on)
`;

type Command = (args: string[]) => Promise<number>;

async function cmdBuild(args: string[]): Promise<number> {
  let out: string | undefined;
  const targets: string[] = [];
  let shipped = false;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '-o' || a === '--out') {
      out = args[++i];
      if (!out) throw new UsageError(`${a} needs a file name`);
    } else if (a === '--shipped') shipped = true;
    else if (a.startsWith('-')) throw new UsageError(`msh build: unknown option ${a}`);
    else targets.push(a);
  }
  if (shipped) {
    for (const d of readdirSync(STACKS_DIR)) {
      const dir = path.join(STACKS_DIR, d);
      if (statSync(dir).isDirectory() && existsSync(path.join(dir, 'index.ts'))) targets.push(dir);
    }
  }
  if (!targets.length) throw new UsageError('msh build: name a stack directory or .ts file (or --shipped)');
  if (out && targets.length > 1) throw new UsageError('msh build: -o works with one stack only');
  for (const t of targets) {
    const r = await buildStack(t, { out });
    console.log(`built ${path.relative(process.cwd(), r.out) || r.out} (${r.componentBytes} bytes, core ${r.coreBytes} bytes) from ${path.relative(process.cwd(), r.entry)}`);
  }
  return 0;
}

async function cmdInspect(args: string[]): Promise<number> {
  if (args.length !== 1 || args[0].startsWith('-')) throw new UsageError('usage: msh inspect FILE.wasm');
  console.log(formatInspection(await inspectFile(args[0])));
  return 0;
}

async function cmdHelp(): Promise<number> {
  process.stdout.write(USAGE);
  return 0;
}

const COMMANDS: Record<string, Command> = {
  build: cmdBuild,
  inspect: cmdInspect,
  help: cmdHelp,
  '--help': cmdHelp,
  '-h': cmdHelp,
  run: async (a) => (await import('./run.js')).cmdRun(a),
  status: async (a) => (await import('./status.js')).cmdStatus(a),
  demo: async (a) => (await import('./demo.js')).cmdDemo(a),
  host: async (a) => (await import('./run.js')).cmdHost(a),
};

export async function run(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  const cmd = COMMANDS[name ?? 'help'];
  try {
    if (!cmd) throw new UsageError(`unknown command '${name}'`);
    return await cmd(rest);
  } catch (e) {
    if (e instanceof MshError || e instanceof BuildError || e instanceof StackLoadError || e instanceof GuestTrap) {
      console.error(`msh: ${e.message}`);
      if (e instanceof MshError && e.hint) console.error(`  ${e.hint}`);
      if (process.env.MSH_DEBUG) console.error(e.stack);
      return e instanceof MshError ? e.exitCode : 1;
    }
    console.error(`msh: internal error: ${(e as Error).stack ?? e}`);
    return 70;
  }
}
