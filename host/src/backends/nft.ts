// nftables tables that keep the kernel and msh's stacks out of each other's way, for the
// backends where the kernel would otherwise see owned traffic (control path only: one
// `nft -f -` per change, never per packet).
//
// - NftSteering (packet backend): AF_PACKET copies frames, the kernel still receives
//   them. Table `inet msh_<ifname>_<pid>` has an input-hook chain at priority -200 that
//   drops packets arriving on the interface for owned tuples (sets `own4`:
//   ipv4_addr . inet_proto . inet_service, `own6`: the same for IPv6), so the kernel
//   answers them with neither TCP RST nor ICMP port unreachable. AF_PACKET sees the frame
//   before the input hook, so the stack still gets it.
// - TapSteering (tap backend, "steer" mode): table `netdev msh_<ifname>_<pid>` with an
//   ingress chain on the interface that forwards owned tuples' frames, unchanged, out of
//   the tap device (the kernel never sees them), and an ingress chain on the tap that
//   forwards everything the stacks write out of the interface.
//
// Ownership of tables: every table msh creates is named `msh_<ifname>_<pid>[_<n>]` and
// carries the comment `msh owner pid=<pid> start=<starttime> ifname=<ifname>` (start: the
// owner's start time in clock ticks, /proc/<pid>/stat field 22, so a recycled PID is not
// mistaken for the owner). A table is deleted by close(), by an exit hook of the owning
// process, and otherwise (crash, kill -9) by removeStaleTables() at the next start, which
// every open() runs: a table whose owner is not alive any more is removed.

import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { MshError } from '../errors.js';
import type { OwnedTuple } from '../engine/engine.js';
import { formatAddress, formatTuple } from '../runtime/tuple.js';

export const TABLE_PREFIX = 'msh_';

export interface MshTable {
  family: string;
  name: string;
  /** Parsed from the table's comment; undefined if the comment is not msh's. */
  owner?: { pid: number; start: string; ifname: string };
}

/** Runs `nft` with a script on stdin (or arguments); throws MshError with nft's message. */
export function nft(args: string[], input?: string): string {
  try {
    return execFileSync('nft', args, { encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe'] });
  } catch (e) {
    const err = e as { code?: string; stderr?: string };
    if (err.code === 'ENOENT') {
      throw new MshError('the `nft` command (nftables) is missing; the packet and tap backends need it',
        'install it: apt-get install nftables');
    }
    const msg = (err.stderr ?? '').trim() || (e as Error).message;
    throw new MshError(`nft ${args.join(' ')} failed: ${msg}`);
  }
}

/** Start time of a process (clock ticks since boot), or undefined if it does not exist. */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which is in parentheses and may contain anything.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return rest[19]; // field 22 overall: starttime
  } catch {
    return undefined;
  }
}

function ownerAlive(owner: NonNullable<MshTable['owner']>): boolean {
  const start = processStartTime(owner.pid);
  return start !== undefined && start === owner.start;
}

/** Every msh table in this network namespace, with its owner when the comment says. */
export function listMshTables(): MshTable[] {
  const out: MshTable[] = [];
  const listing = JSON.parse(nft(['-j', 'list', 'tables']) || '{"nftables":[]}');
  for (const item of listing.nftables ?? []) {
    const t = item.table;
    if (!t || typeof t.name !== 'string' || !t.name.startsWith(TABLE_PREFIX)) continue;
    const entry: MshTable = { family: t.family, name: t.name };
    // nft 1.0.6 leaves table comments out of its JSON: read them from the text form.
    let text = '';
    try { text = nft(['list', 'table', t.family, t.name]); } catch { /* deleted meanwhile */ }
    const m = /comment "msh owner pid=(\d+) start=(\d+) ifname=([^"\s]*)"/.exec(text);
    if (m) entry.owner = { pid: Number(m[1]), start: m[2], ifname: m[3] };
    out.push(entry);
  }
  return out;
}

/**
 * Deletes msh tables whose owner process is gone (crashed or killed msh instances).
 * Tables without an msh owner comment are left alone: msh cannot tell whose they are.
 * Returns the tables removed.
 */
export function removeStaleTables(): MshTable[] {
  const removed: MshTable[] = [];
  for (const t of listMshTables()) {
    if (!t.owner || ownerAlive(t.owner)) continue;
    try {
      nft(['delete', 'table', t.family, t.name]);
      removed.push(t);
    } catch { /* raced with another msh doing the same */ }
  }
  return removed;
}

function sanitize(ifname: string): string {
  return ifname.replace(/[^A-Za-z0-9_]/g, '_');
}

/** nft's text for an element of own4/own6. */
function element(t: OwnedTuple): { set: 'own4' | 'own6'; text: string } {
  if (t.address.length !== 4 && t.address.length !== 16) throw new MshError(`bad address in ${formatTuple(t)}`);
  return { set: t.address.length === 4 ? 'own4' : 'own6', text: `${formatAddress(t.address)} . ${t.protocol} . ${t.port}` };
}

// Tables this process still has open: deleted by the exit hook if nobody closed them.
const openTables = new Set<OwnedTupleTable>();
let exitHooked = false;
function hookExit(): void {
  if (exitHooked) return;
  exitHooked = true;
  process.on('exit', () => {
    for (const t of [...openTables]) t.close();
  });
}
let opened = 0;

/** A table with the own4/own6 sets; subclasses add the chains that use them. */
abstract class OwnedTupleTable {
  readonly table: string;
  private elements = new Map<string, OwnedTuple>();
  private closed = false;

  protected constructor(readonly family: 'inet' | 'netdev', readonly ifname: string, chains: string) {
    if (!/^[^\s"\\/]{1,15}$/.test(ifname)) throw new MshError(`cannot steer interface '${ifname}' with nftables: unusual name`);
    removeStaleTables();
    const pid = process.pid;
    const start = processStartTime(pid) ?? '0';
    const n = opened++;
    this.table = `${TABLE_PREFIX}${sanitize(ifname)}_${pid}${n ? `_${n}` : ''}`;
    const script = [
      `table ${family} ${this.table} {`,
      `  comment "msh owner pid=${pid} start=${start} ifname=${ifname}"`,
      '  set own4 { type ipv4_addr . inet_proto . inet_service; }',
      '  set own6 { type ipv6_addr . inet_proto . inet_service; }',
      chains,
      '}',
    ].join('\n');
    nft(['-f', '-'], script);
    openTables.add(this);
    hookExit();
  }

  /** Adds tuples to the sets (one nft transaction). */
  add(...tuples: OwnedTuple[]): void {
    const fresh = tuples.filter((t) => !this.elements.has(formatTuple(t)));
    if (!fresh.length) return;
    this.apply('add', fresh);
    for (const t of fresh) this.elements.set(formatTuple(t), t);
  }

  /** Removes tuples from the sets (one nft transaction); unknown tuples are ignored. */
  remove(...tuples: OwnedTuple[]): void {
    const known = tuples.filter((t) => this.elements.has(formatTuple(t)));
    if (!known.length || this.closed) return;
    this.apply('delete', known);
    for (const t of known) this.elements.delete(formatTuple(t));
  }

  /** The tuples currently in the sets. */
  tuples(): OwnedTuple[] {
    return [...this.elements.values()];
  }

  /** Deletes the table. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    openTables.delete(this);
    try { nft(['delete', 'table', this.family, this.table]); } catch { /* already gone */ }
  }

  private apply(verb: 'add' | 'delete', tuples: OwnedTuple[]): void {
    if (this.closed) throw new MshError(`nft table ${this.table} is closed`);
    const lines = tuples.map((t) => {
      const e = element(t);
      return `${verb} element ${this.family} ${this.table} ${e.set} { ${e.text} }`;
    });
    nft(['-f', '-'], lines.join('\n') + '\n');
  }
}

/**
 * The packet backend's kernel filter: packets arriving on `ifname` for an owned tuple
 * are dropped in the input hook (priority -200, before the kernel's sockets and its
 * RST / port-unreachable answers). IPv4 fragments are reassembled before the input hook,
 * so they match too; IPv6 fragments reach the input hook unreassembled and do not.
 */
export class NftSteering extends OwnedTupleTable {
  private constructor(ifname: string) {
    const dev = JSON.stringify(ifname);
    super('inet', ifname, [
      '  chain input {',
      '    type filter hook input priority -200; policy accept;',
      `    iifname ${dev} ip daddr . meta l4proto . th dport @own4 counter drop`,
      `    iifname ${dev} ip6 daddr . meta l4proto . th dport @own6 counter drop`,
      '  }',
    ].join('\n'));
  }

  /** Removes stale msh tables, then creates this process's table for `ifname`. */
  static open(ifname: string): NftSteering {
    return new NftSteering(ifname);
  }

  /** Packets the kernel filter dropped (sum of both rules' counters). */
  dropped(): number {
    const text = nft(['list', 'chain', 'inet', this.table, 'input']);
    let n = 0;
    for (const m of text.matchAll(/counter packets (\d+)/g)) n += Number(m[1]);
    return n;
  }
}

/**
 * The tap backend's steering ("steer" mode): frames arriving on `ifname` for an owned
 * tuple are forwarded, unchanged, out of `tap` (netdev ingress, before the kernel's IP
 * layer sees them); everything the stacks write into the tap is forwarded out of
 * `ifname`. The stacks therefore use the interface's own MAC and addresses, exactly as
 * with the xdp and packet backends. IPv4/IPv6 fragments after the first carry no ports
 * and are not forwarded (they go to the kernel, which drops the incomplete datagram).
 */
export class TapSteering extends OwnedTupleTable {
  private constructor(ifname: string, readonly tap: string) {
    const dev = JSON.stringify(ifname), tapDev = JSON.stringify(tap);
    super('netdev', ifname, [
      '  chain from_wire {',
      `    type filter hook ingress device ${dev} priority -500; policy accept;`,
      `    ip daddr . meta l4proto . th dport @own4 counter fwd to ${tapDev}`,
      `    ip6 daddr . meta l4proto . th dport @own6 counter fwd to ${tapDev}`,
      '  }',
      '  chain from_stacks {',
      `    type filter hook ingress device ${tapDev} priority -500; policy accept;`,
      `    counter fwd to ${dev}`,
      '  }',
    ].join('\n'));
  }

  static open(ifname: string, tap: string): TapSteering {
    return new TapSteering(ifname, tap);
  }
}
