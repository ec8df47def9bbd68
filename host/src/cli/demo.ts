// `msh demo`: the main job, on a fresh machine. Builds a private namespace pair joined by
// veth, runs shipped stacks with msh on one side, and has kernel tools on the other side
// talk to them, next to the kernel still answering ping, a kernel TCP server and an
// unowned port. Removes everything it created, also on Ctrl-C or failure.

import { existsSync } from 'node:fs';
import path from 'node:path';
import { ChildProcess } from 'node:child_process';
import { createPair, destroyPair, nsExec, nsSpawn, NsPair } from '../netns.js';
import { REPO_ROOT, STACKS_DIR } from '../paths.js';
import { MshError } from '../errors.js';
import { missingPrivileges } from '../backends/system.js';

const MSH = path.join(REPO_ROOT, 'bin', 'msh.js');

function step(title: string): void {
  process.stdout.write(`\n\x1b[1m== ${title}\x1b[0m\n`);
}

function show(cmdline: string, out: string): void {
  process.stdout.write(`$ ${cmdline}\n${out.trimEnd().split('\n').map((l) => '  ' + l).join('\n')}\n`);
}

function peer(p: NsPair, cmd: string, args: string[], input?: string): string {
  try {
    return nsExec(p.nsB, cmd, args, { input, timeoutMs: 10_000 });
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string; status?: number };
    return `${err.stdout ?? ''}${err.stderr ?? ''}(exit ${err.status})`;
  }
}

function waitFor(child: ChildProcess, pattern: RegExp, timeoutMs: number, output: { text: string }): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new MshError(`msh did not start within ${timeoutMs} ms; its output:\n${output.text}`)), timeoutMs);
    const check = () => {
      if (pattern.test(output.text)) { clearTimeout(timer); resolve(); }
    };
    child.stdout!.on('data', (d) => { output.text += d; check(); });
    child.stderr!.on('data', (d) => { output.text += d; check(); });
    child.on('exit', (code) => { clearTimeout(timer); reject(new MshError(`msh exited with ${code} before the stacks ran:\n${output.text}`)); });
  });
}

export async function cmdDemo(args: string[]): Promise<number> {
  const backend = args.includes('--backend') ? args[args.indexOf('--backend') + 1] : 'auto';
  const missing = missingPrivileges();
  if (missing.length) throw new MshError(`the demo creates network namespaces and needs ${missing.join(', ')}`, 'run it as root');
  const stacks = ['udp-echo', 'kv-store', 'http-server'].filter((s) => existsSync(path.join(STACKS_DIR, `${s}.wasm`)));
  if (!stacks.includes('udp-echo')) throw new MshError('stacks/udp-echo.wasm is missing', 'run `npm run setup` first');

  step('1. a private network: two namespaces joined by a veth pair');
  const p = createPair('mshdemo', 99);
  let msh: ChildProcess | null = null;
  const output = { text: '' };
  try {
    show('ip -br addr (msh side)', nsExec(p.nsA, 'ip', ['-br', 'addr']));

    step('2. msh runs the shipped stacks on the msh side');
    const runArgs = [MSH, 'run', '--iface', p.ifA, '--backend', backend,
      path.join(STACKS_DIR, 'udp-echo.wasm'), '--tuple', 'udp:7'];
    if (stacks.includes('kv-store')) runArgs.push(path.join(STACKS_DIR, 'kv-store.wasm'), '--tuple', 'udp:6379');
    if (stacks.includes('http-server')) runArgs.push(path.join(STACKS_DIR, 'http-server.wasm'), '--tuple', 'tcp:80', '--config', 'size=1024');
    process.stdout.write(`$ msh ${runArgs.slice(1).join(' ').replaceAll(STACKS_DIR + '/', 'stacks/')}\n`);
    msh = nsSpawn(p.nsA, process.execPath, runArgs);
    const expectRunning = stacks.map((s) => `\\[${s}\\] running`).join('[\\s\\S]*');
    await waitFor(msh, new RegExp(stacks.length > 1 ? stacks.map((s) => `(?=[\\s\\S]*\\[${s}\\] running)`).join('') : expectRunning), 20_000, output);
    process.stdout.write(output.text.split('\n').map((l) => '  ' + l).join('\n') + '\n');
    // The kernel keeps serving everything else: a kernel TCP server on port 8080.
    const kernelServer = nsSpawn(p.nsA, 'socat', ['TCP-LISTEN:8080,reuseaddr,fork', 'SYSTEM:echo kernel-tcp-server-says-hello']);
    await new Promise((r) => setTimeout(r, 300));

    step('3. kernel tools on the peer side talk to the stacks');
    show(`echo hello-msh | socat - UDP:${p.ipA}:7        # udp-echo (Wasm, IPv4)`, peer(p, 'socat', ['-T', '2', '-', `UDP:${p.ipA}:7`], 'hello-msh\n'));
    show(`echo hello-v6 | socat - UDP6:[${p.ip6A}]:7    # udp-echo (Wasm, IPv6)`, peer(p, 'socat', ['-T', '2', '-', `UDP6:[${p.ip6A}]:7`], 'hello-v6\n'));
    if (stacks.includes('kv-store')) {
      show(`echo 'SET city Pisa' | socat - UDP:${p.ipA}:6379  # kv-store (Wasm)`, peer(p, 'socat', ['-T', '2', '-', `UDP:${p.ipA}:6379`], 'SET city Pisa'));
      show(`echo 'GET city' | socat - UDP:${p.ipA}:6379`, peer(p, 'socat', ['-T', '2', '-', `UDP:${p.ipA}:6379`], 'GET city'));
    }
    if (stacks.includes('http-server')) {
      show(`curl -sS -o /dev/null -w '%{http_code} %{size_download} bytes\\n' http://${p.ipA}/  # http-server (Wasm TCP)`,
        peer(p, 'curl', ['-sS', '-m', '5', '-o', '/dev/null', '-w', '%{http_code} %{size_download} bytes\n', `http://${p.ipA}/`]));
    }

    step('4. the kernel still answers everything msh does not own');
    show(`ping -c 2 ${p.ipA}                            # kernel`, peer(p, 'ping', ['-c', '2', '-i', '0.2', '-W', '1', p.ipA]));
    show(`curl -s telnet://${p.ipA}:8080                # kernel TCP server (socat)`, peer(p, 'curl', ['-s', '-m', '3', `telnet://${p.ipA}:8080`]));
    show(`echo x | socat - UDP:${p.ipA}:9               # unowned port: kernel says port unreachable`, peer(p, 'socat', ['-T', '1', '-', `UDP:${p.ipA}:9`], 'x\n'));
    kernelServer.kill('SIGTERM');

    step('5. stop msh; the stacks release their tuples');
    msh.kill('SIGINT');
    await new Promise<void>((r) => { msh!.once('exit', () => r()); setTimeout(r, 5000); });
    msh = null;
    show(`echo again | socat - UDP:${p.ipA}:7           # now nobody owns udp:7`, peer(p, 'socat', ['-T', '1', '-', `UDP:${p.ipA}:7`], 'again\n'));
  } finally {
    if (msh) { msh.kill('SIGKILL'); }
    destroyPair(p);
  }
  step('done: namespaces removed');
  return 0;
}
