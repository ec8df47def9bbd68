// `msh status [--iface IFNAME] [--json]`: what the msh host driving an interface runs,
// asked over its control socket ('list'): each stack's state, why it failed, restarts,
// limits and counters. Reads only; changes nothing.

import { MshError, UsageError } from '../errors.js';
import { defaultInterface } from '../backends/system.js';
import { connectControl, controlSocketPath, LineChannel, Reply } from '../runtime/control.js';
import { formatCounters, type StackStatus } from '../runtime/stack-host.js';

/** The link as a whole, as the control socket's 'link' request returns it. */
export interface LinkStatus {
  iface: string;
  /** The backend and its mode, e.g. "AF_XDP on veth0 (native mode, GSO on)". */
  backend: string;
  /** Frames nobody owns (to the kernel), parser rejects, backend extras (XDP program counters). */
  counters: Record<string, number>;
}

/** Asks the host driving `iface` for its stacks; null when no host drives it. */
export function queryStatus(iface: string, timeoutMs = 5000): Promise<StackStatus[] | null> {
  return query<StackStatus[]>(iface, 'list', timeoutMs);
}

/** Asks the host driving `iface` about the link; null when no host drives it. */
export function queryLink(iface: string, timeoutMs = 5000): Promise<LinkStatus | null> {
  return query<LinkStatus>(iface, 'link', timeoutMs);
}

async function query<T>(iface: string, op: string, timeoutMs: number): Promise<T | null> {
  const sock = await connectControl(controlSocketPath(iface));
  if (!sock) return null;
  try {
    const reply = await new Promise<Reply>((resolve, reject) => {
      const timer = setTimeout(() => reject(new MshError(`the msh host for ${iface} did not answer within ${timeoutMs} ms`)), timeoutMs);
      const ch = new LineChannel(sock, (m) => {
        if (m.id === 1) { clearTimeout(timer); resolve(m as Reply); }
      });
      sock.once('close', () => { clearTimeout(timer); reject(new MshError(`the msh host for ${iface} closed the connection`)); });
      ch.send({ id: 1, op });
    });
    if (!reply.ok) throw new MshError(`the msh host for ${iface} refused: ${reply.error}`, reply.hint);
    return reply.data as T;
  } finally {
    sock.destroy();
  }
}

function formatStatus(link: LinkStatus, stacks: StackStatus[]): string {
  const lines = [`msh host on ${link.iface}: ${link.backend}; ${stacks.length} stack${stacks.length === 1 ? '' : 's'}`,
    `  link counters: ${formatCounters(link.counters)}`];
  for (const s of stacks) {
    const l = s.limits;
    lines.push(`  ${s.name}: ${s.state}${s.restarts ? `, ${s.restarts} restart${s.restarts === 1 ? '' : 's'}` : ''}, up ${(s.uptimeMs / 1000).toFixed(0)} s`);
    if (s.reason) lines.push(`    ${s.state === 'running' ? 'last failure' : 'reason'}: ${s.reason}`);
    if (s.guestMessage && !s.reason.includes(s.guestMessage)) lines.push(`    stack said: ${s.guestMessage}`);
    lines.push(`    tuples: ${s.tuples.join(' ')}`);
    lines.push(`    limits: cpu budget ${l.cpuBudgetMs} ms, memory ${l.memLimitMiB} MiB, tx rate ${l.txRate ? `${l.txRate}/s` : 'unlimited'}, rx coalesce ${l.rxCoalesceUs ? `${l.rxCoalesceUs} us` : 'off'}, restart ${l.restart}${l.restart === 'on-failure' ? ` (max ${l.maxRestarts})` : ''}`);
    lines.push(`    counters: ${formatCounters(s.counters)}`);
  }
  return lines.join('\n');
}

export async function cmdStatus(argv: string[]): Promise<number> {
  let iface: string | undefined;
  let json = false;
  let linkOnly = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--iface') {
      iface = argv[++i];
      if (!iface) throw new UsageError('--iface needs an interface name');
    } else if (a.startsWith('--iface=')) iface = a.slice('--iface='.length);
    else if (a === '--json') json = true;
    else if (a === '--link') linkOnly = true;
    else throw new UsageError(`msh status: unknown argument ${a}`);
  }
  iface ??= defaultInterface();
  const link = await queryLink(iface);
  const stacks = link && await queryStatus(iface);
  if (!link || !stacks) {
    throw new MshError(`no msh host is driving ${iface} in this network namespace`, 'start one with `msh run ... --iface ' + iface + '`');
  }
  // --json: the stacks (one object each); --link [--json]: the link alone.
  if (linkOnly) console.log(json ? JSON.stringify(link) : `${link.iface}: ${link.backend}\n  counters: ${formatCounters(link.counters)}`);
  else console.log(json ? JSON.stringify(stacks) : formatStatus(link, stacks));
  return 0;
}
