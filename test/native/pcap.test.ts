// Per-port pcap (native/src/pcap.cc): what the port received (as copied into the guest)
// and what it sent after validation, readable by tshark without warnings.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadNative, type NativeError } from '../../host/src/native.js';
import { standardRings } from './rings.js';
import { LINK_MAC, PEER_MAC, tsharkFields, udp4, udp6, v4, v6 } from './wire.js';

const native = loadNative();
const me = { src: LINK_MAC, dst: PEER_MAC };

function tsharkClean(file: string, fields: string[]) {
  const r = tsharkFields(file, fields);
  // tshark always notes that it runs as root; anything else on stderr is a complaint.
  const complaints = r.stderr.split('\n').filter((l) => l.trim() && !/Running as user "root"/.test(l));
  return { ...r, complaints };
}

describe('pcap', () => {
  let dir: string;
  let link: number;
  let port: number;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'msh-pcap-'));
    link = native.createSwitchLink({ mac: LINK_MAC });
    port = native.addPort(link);
    native.claim(link, port, 17, v4('10.0.0.2'), 7);
    native.claim(link, port, 17, v6('fd00::2'), 7);
  });
  afterEach(() => {
    native.destroyLink(link);
    rmSync(dir, { recursive: true, force: true });
  });

  it('records RX and validated TX frames; tshark reads it without warnings, also while open', () => {
    const file = path.join(dir, 'port.pcap');
    native.setPcap(link, port, file);
    const { g, rx, tx } = standardRings(16);
    const inFrames = [udp4('10.0.0.1', 1111, '10.0.0.2', 7, Buffer.from('ping4')), udp6('fd00::1', 2222, 'fd00::2', 7, Buffer.from('ping6'))];
    native.switchInject(link, inFrames);
    expect(native.rxToGuest(link, port, g.mem, rx.off, 16)).toBe(2);
    const good = udp4('10.0.0.2', 7, '10.0.0.1', 1111, Buffer.from('pong4'), me);
    const forged = udp4('10.0.0.9', 7, '10.0.0.1', 1111, Buffer.from('forged'), me);
    g.produceTx(tx.off, [good, forged]);
    expect(native.txFromGuest(link, port, g.mem, tx.off)).toBe(2);

    // Still open: every batch was flushed, so the file holds whole records.
    const open = tsharkClean(file, ['frame.len', 'ip.src', 'ipv6.src', 'udp.srcport', 'udp.dstport']);
    expect(open.status).toBe(0);
    expect(open.complaints).toEqual([]);
    expect(open.rows).toEqual([
      [String(inFrames[0].length), '10.0.0.1', '', '1111', '7'],
      [String(inFrames[1].length), '', 'fd00::1', '2222', '7'],
      [String(good.length), '10.0.0.2', '', '7', '1111'], // the forged frame is not in it
    ]);

    native.setPcap(link, port, null);
    native.switchInject(link, [udp4('10.0.0.1', 1, '10.0.0.2', 7)]);
    native.rxToGuest(link, port, g.mem, rx.off, 16);
    const closed = tsharkClean(file, ['frame.time_epoch', 'frame.cap_len']);
    expect(closed.complaints).toEqual([]);
    expect(closed.rows.length).toBe(3); // nothing after capture stopped
    const t = Number(closed.rows[0][0]);
    expect(Math.abs(t - Date.now() / 1000)).toBeLessThan(60);
    expect(closed.rows[0][0]).toMatch(/\.\d{9}$/); // nanosecond resolution
    // Byte for byte what the guest got.
    const bytes = readFileSync(file);
    expect(bytes.readUInt32LE(0)).toBe(0xa1b23c4d);
    expect(bytes.readUInt32LE(20)).toBe(1); // LINKTYPE_ETHERNET
    expect(bytes.subarray(24 + 16, 24 + 16 + inFrames[0].length)).toEqual(inFrames[0]);
  });

  it('reports an unwritable path as an Error with code and syscall', () => {
    let err: NativeError | undefined;
    try {
      native.setPcap(link, port, path.join(dir, 'no/such/dir/x.pcap'));
    } catch (e) {
      err = e as NativeError;
    }
    expect(err?.code).toBe('ENOENT');
    expect(err?.syscall).toBe('open');
    expect(err?.message).toMatch(/cannot open pcap file .*x\.pcap/);
  });
});
