// `msh run` on a real interface (veth in a private namespace pair), for each backend:
// stacks answer kernel peers on their tuples while the kernel keeps everything else.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createPair, destroyPair, nsExec, nsSpawn, NsPair } from '../../host/src/netns.js';
import { stackComponent, stackPath } from '../helpers/stacks.js';
import { MshProcess, tryNs, udpRequest } from './msh-process.js';

let net = 60;

describe.each(['xdp', 'packet', 'tap'])('msh run --backend %s', (backend) => {
  let p: NsPair;
  let msh: MshProcess;
  let kernelServer: ChildProcess;
  const dir = mkdtempSync(path.join(tmpdir(), 'msh-run-'));
  const pcap = path.join(dir, 'echo.pcap');

  beforeAll(async () => {
    await stackComponent('udp-echo');
    p = createPair('mshr', net++);
    kernelServer = nsSpawn(p.nsA, 'socat', ['TCP-LISTEN:8080,reuseaddr,fork', 'SYSTEM:echo from-the-kernel']);
    msh = MshProcess.start(p.nsA, ['run', '--iface', p.ifA, '--backend', backend, stackPath('udp-echo'), '--tuple', 'udp:7', '--pcap', pcap]);
    await msh.waitFor(/\[udp-echo\] running/);
  }, 60_000);

  afterAll(async () => {
    await msh?.stop();
    kernelServer?.kill('SIGKILL');
    if (p) destroyPair(p);
    rmSync(dir, { recursive: true, force: true });
  });

  it('names the backend it runs', () => {
    expect(msh.output).toMatch(backend === 'xdp' ? /AF_XDP on/ : backend === 'packet' ? /AF_PACKET/ : /tap/i);
  });

  it('echoes UDP from a kernel peer, IPv4 and IPv6', () => {
    expect(udpRequest(p.nsB, p.ipA, 7, 'hello v4\n').out).toBe('hello v4\n');
    expect(udpRequest(p.nsB, p.ip6A, 7, 'hello v6\n', true).out).toBe('hello v6\n');
  });

  it('leaves ping to the kernel', () => {
    const r = tryNs(p.nsB, 'ping', ['-c', '2', '-i', '0.2', '-W', '1', p.ipA]);
    expect(r.out).toMatch(/2 received/);
  });

  it('leaves unowned UDP ports to the kernel (port unreachable)', () => {
    const r = udpRequest(p.nsB, p.ipA, 9, 'anyone?\n');
    expect(r.status).not.toBe(0);
    expect(r.out).toMatch(/Connection refused/);
  });

  it('leaves kernel TCP servers serving', () => {
    const r = tryNs(p.nsB, 'curl', ['-s', '-m', '5', `telnet://${p.ipA}:8080`]);
    expect(r.out).toMatch(/from-the-kernel/);
  });

  it('keeps kernel applications off the owned port', () => {
    const r = tryNs(p.nsA, 'socat', ['-T', '1', 'UDP-LISTEN:7,bind=' + p.ipA, '-']);
    expect(r.status).not.toBe(0);
    expect(r.out).toMatch(/Address already in use/);
  });

  it('writes a pcap that tshark reads without complaint', async () => {
    udpRequest(p.nsB, p.ipA, 7, 'for the pcap\n');
    await new Promise((r) => setTimeout(r, 100));
    const out = nsExec(p.nsA, 'tshark', ['-r', pcap, '-T', 'fields', '-e', 'udp.srcport', '-e', 'udp.dstport']);
    const lines = out.trim().split('\n');
    expect(lines).toContain(`${lines.find((l) => l.endsWith('\t7'))?.split('\t')[0]}\t7`);
    expect(lines.some((l) => l.startsWith('7\t'))).toBe(true); // the echo it sent
  });
});

describe('several msh run commands on one interface', () => {
  let p: NsPair;
  const procs: MshProcess[] = [];
  beforeAll(async () => {
    await Promise.all([stackComponent('udp-echo'), stackComponent('kv-store')]);
    p = createPair('mshj', net++);
  }, 60_000);
  afterAll(async () => {
    for (const m of procs) await m.stop('SIGKILL');
    if (p) destroyPair(p);
  });

  it('joins the host already driving the interface; stopping one leaves the other serving', async () => {
    const a = MshProcess.start(p.nsA, ['run', '--iface', p.ifA, stackPath('udp-echo'), '--tuple', 'udp:7']);
    procs.push(a);
    await a.waitFor(/\[udp-echo\] running/);
    const b = MshProcess.start(p.nsA, ['run', '--iface', p.ifA, stackPath('kv-store'), '--tuple', 'udp:6379']);
    procs.push(b);
    await b.waitFor(/\[kv-store\] running/);
    expect(b.output).toMatch(/joining the msh host already driving/);
    expect(udpRequest(p.nsB, p.ipA, 7, 'to echo\n').out).toBe('to echo\n');
    expect(udpRequest(p.nsB, p.ipA, 6379, 'SET a 1').out).toBe('OK\n');

    // A third one asking for a taken tuple is refused with the owner's name.
    const c = MshProcess.start(p.nsA, ['run', '--iface', p.ifA, stackPath('udp-echo'), '--name', 'thief', '--tuple', 'udp:7']);
    expect(await c.exited).not.toBe(0);
    expect(c.output).toMatch(/cannot claim udp:10\.\d+\.0\.1:7: it is owned by stack 'udp-echo'/);

    // Stop the joiner: its tuple goes back to the kernel, the host's stack keeps serving.
    expect(await b.stop()).toBe(0);
    expect(udpRequest(p.nsB, p.ipA, 6379, 'GET a').out).toMatch(/Connection refused/);
    expect(udpRequest(p.nsB, p.ipA, 7, 'still here\n').out).toBe('still here\n');

    // A new joiner, then stop the first msh (the host): the joiner keeps being served.
    const d = MshProcess.start(p.nsA, ['run', '--iface', p.ifA, stackPath('kv-store'), '--tuple', 'udp:6379']);
    procs.push(d);
    await d.waitFor(/\[kv-store\] running/);
    a.child.kill('SIGINT');
    await a.waitFor(/still serving 1 stack/);
    expect(udpRequest(p.nsB, p.ipA, 7, 'gone\n').out).toMatch(/Connection refused/);
    expect(udpRequest(p.nsB, p.ipA, 6379, 'SET b 2').out).toBe('OK\n');
    expect(await d.stop()).toBe(0);
    expect(await a.exited).toBe(0); // the host leaves when its last client's stacks are gone
  }, 90_000);
});

describe('after kill -9', () => {
  let p: NsPair;
  beforeAll(async () => {
    await stackComponent('udp-echo');
    p = createPair('mshk', net++);
  }, 60_000);
  afterAll(() => { if (p) destroyPair(p); });

  it.each(['xdp', 'packet', 'tap'])('%s leaves nothing behind that the next start does not remove', async (backend) => {
    const m = MshProcess.start(p.nsA, ['run', '--iface', p.ifA, '--backend', backend, stackPath('udp-echo'), '--tuple', 'udp:7']);
    await m.waitFor(/\[udp-echo\] running/);
    expect(udpRequest(p.nsB, p.ipA, 7, 'x\n').out).toBe('x\n');
    // The host is the child of `ip netns exec` (which execs node): its pid is the child's pid.
    m.child.kill('SIGKILL');
    await m.exited;
    await new Promise((r) => setTimeout(r, 200));
    // No XDP program stays attached, no tap device stays, the kernel reservation is gone.
    expect(nsExec(p.nsA, 'ip', ['link', 'show', 'dev', p.ifA])).not.toMatch(/xdp/);
    expect(nsExec(p.nsA, 'ip', ['-br', 'link'])).not.toMatch(/msh-/);
    const bind = tryNs(p.nsA, 'socat', ['-T', '0.3', `UDP-LISTEN:7,bind=${p.ipA}`, '-']);
    expect(bind.out).not.toMatch(/Address already in use/);
    // The next start cleans what is left (nft tables of the packet backend) and serves again.
    const next = MshProcess.start(p.nsA, ['run', '--iface', p.ifA, '--backend', 'xdp', stackPath('udp-echo'), '--tuple', 'udp:7']);
    await next.waitFor(/\[udp-echo\] running/);
    if (backend === 'packet') expect(next.output).toMatch(/removed stale nftables table/);
    expect(nsExec(p.nsA, 'nft', ['list', 'tables'])).not.toMatch(/msh_/);
    expect(udpRequest(p.nsB, p.ipA, 7, 'y\n').out).toBe('y\n');
    expect(await next.stop()).toBe(0);
  }, 60_000);
});

describe('errors a user will hit', () => {
  let p: NsPair;
  beforeAll(async () => {
    await stackComponent('udp-echo');
    p = createPair('mshe', net++);
  }, 60_000);
  afterAll(() => { if (p) destroyPair(p); });

  async function fails(args: string[], pattern: RegExp, ns = p.nsA, wrap: string[] = []): Promise<number | null> {
    const m = wrap.length
      ? new MshProcess(nsSpawn(ns, wrap[0], [...wrap.slice(1), process.execPath, path.join(path.dirname(stackPath('x')), '../../bin/msh.js'), ...args]))
      : MshProcess.start(ns, args);
    const code = await m.exited;
    expect(m.output).toMatch(pattern);
    expect(m.output).not.toMatch(/\n\s+at /); // a message, not a stack trace
    return code;
  }

  it('a tuple a kernel application holds, naming it', async () => {
    const holder = nsSpawn(p.nsA, 'socat', [`UDP-LISTEN:5353,bind=${p.ipA}`, '-']);
    await new Promise((r) => setTimeout(r, 300));
    try {
      expect(await fails(['run', '--iface', p.ifA, stackPath('udp-echo'), '--tuple', 'udp:5353'], /a kernel application already holds it \(socat \(pid \d+\)\)/)).toBe(1);
    } finally {
      holder.kill('SIGKILL');
    }
  });

  it('no such interface', async () => {
    expect(await fails(['run', '--iface', 'nosuch0', stackPath('udp-echo'), '--tuple', 'udp:7'], /no such interface: nosuch0[\s\S]*interfaces here:/)).toBe(1);
  });

  it('a bad --tuple, --backend, --gso or --rx-coalesce', async () => {
    expect(await fails(['run', stackPath('udp-echo'), '--tuple', 'udp:7:8'], /bad --tuple 'udp:7:8'/)).toBe(2);
    expect(await fails(['run', '--backend', 'netmap', stackPath('udp-echo'), '--tuple', 'udp:7'], /--backend netmap: expected one of auto, xdp, packet, tap/)).toBe(2);
    expect(await fails(['run', '--gso', 'maybe', stackPath('udp-echo'), '--tuple', 'udp:7'], /--gso maybe: expected on or off/)).toBe(2);
    expect(await fails(['run', stackPath('udp-echo'), '--tuple', 'udp:7', '--rx-coalesce', '-5'], /--rx-coalesce -5: expected microseconds from 0 \(off\) to 10000/)).toBe(2);
    expect(await fails(['run', '--rx-coalesce', '10', stackPath('udp-echo'), '--tuple', 'udp:7'], /--rx-coalesce must follow the stack it applies to/)).toBe(2);
  });

  it('an address that is not the interface\'s', async () => {
    expect(await fails(['run', '--iface', p.ifA, stackPath('udp-echo'), '--tuple', 'udp:10.250.0.1:7'], /10\.250\.0\.1 is not an address of interface/)).toBe(2);
  });

  it('missing privileges', async () => {
    const code = await fails(['run', '--iface', p.ifA, stackPath('udp-echo'), '--tuple', 'udp:7'], /needs CAP_NET_ADMIN[\s\S]*run it as root/, p.nsA,
      ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all']);
    expect(code).toBe(1);
  });

  it('a file that is not a stack', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'msh-bad-'));
    const f = path.join(dir, 'text.wasm');
    (await import('node:fs')).writeFileSync(f, 'not wasm at all');
    try {
      expect(await fails(['run', '--iface', p.ifA, f, '--tuple', 'udp:7'], /not a WebAssembly binary/)).toBe(1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    expect(existsSync(f)).toBe(false);
  });
});

describe('a port a stopped kernel server left in TIME-WAIT', () => {
  let p: NsPair;
  let msh: MshProcess | null = null;
  let server: ChildProcess | null = null;
  beforeAll(async () => {
    await stackComponent('http-server');
    p = createPair('mshw', net++);
  }, 60_000);
  afterAll(async () => {
    if (server && server.exitCode === null) server.kill('SIGKILL');
    await msh?.stop();
    if (p) destroyPair(p);
  });

  /** Binds a kernel socket to `host`:8080 with SO_REUSEADDR in namespace A: the errno name, or 'ok'. */
  const kernelBind = (host: string): string => nsExec(p.nsA, 'python3', ['-c',
    'import socket, sys\ns = socket.socket()\ns.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n' +
    `try:\n    s.bind(('${host}', 8080)); s.listen(); print('ok')\nexcept OSError as e:\n    import errno; print(errno.errorcode[e.errno])\n`]).trim();

  it('msh takes it at once, serves on it, and keeps kernel applications off it', async () => {
    // A kernel server (SO_REUSEADDR, as nginx) answers one connection and closes first:
    // its side of the connection stays in TIME-WAIT for 60 s after it exits.
    server = nsSpawn(p.nsA, 'python3', ['-c',
      'import socket\ns = socket.socket()\ns.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n' +
      `s.bind(('${p.ipA}', 8080))\ns.listen()\nc, _ = s.accept()\nc.sendall(b'bye')\nc.close()\ns.close()\n`]);
    let got = '';
    for (let i = 0; i < 50 && got !== 'bye'; i++) { // until the server listens
      await new Promise((r) => setTimeout(r, 100));
      got = tryNs(p.nsB, 'socat', ['-T', '2', '-u', `TCP:${p.ipA}:8080`, '-']).out; // reads only: the server closes first
    }
    expect(got).toBe('bye');
    await new Promise((r) => server!.exitCode !== null ? r(null) : server!.once('exit', r));
    expect(nsExec(p.nsA, 'ss', ['-Htan', 'state', 'time-wait', 'sport', '= :8080'])).toMatch(/:8080/);

    msh = MshProcess.start(p.nsA, ['run', '--iface', p.ifA, stackPath('http-server'), '--tuple', 'tcp:8080']);
    await msh.waitFor(/\[http-server\] running/);
    expect(nsExec(p.nsB, 'curl', ['-sS', '--max-time', '5', '-o', '/dev/null', '-w', '%{http_code}', `http://${p.ipA}:8080/`])).toBe('200');
    // While msh owns it, no kernel application gets the port, SO_REUSEADDR or not.
    expect(kernelBind(p.ipA)).toBe('EADDRINUSE');
    expect(kernelBind('0.0.0.0')).toBe('EADDRINUSE');
    expect(await msh.stop()).toBe(0);
    msh = null;
    // Released with the stack.
    expect(kernelBind(p.ipA)).toBe('ok');
  }, 60_000);
});
