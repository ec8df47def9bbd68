// The 3-tuple table (native/src/classifier.cc): ownership, RX demux by destination,
// TX validation by source, and IP fragments following their first fragment.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadNative, type NativeError } from '../../host/src/native.js';
import {
  arp, eth, fragments4, ipv4, ipv6, LINK_MAC, PEER_MAC, tcp, tcp4, udp, udp4, udp6, v4, v6,
} from './wire.js';

const native = loadNative();

function thrown(fn: () => unknown): NativeError {
  try {
    fn();
  } catch (e) {
    return e as NativeError;
  }
  throw new Error('expected an exception');
}

describe('classifier', () => {
  let link: number;
  let a: number;
  let b: number;
  beforeEach(() => {
    link = native.createSwitchLink({ mac: LINK_MAC });
    a = native.addPort(link);
    b = native.addPort(link);
  });
  afterEach(() => native.destroyLink(link));

  it('claims, refuses a second owner with EADDRINUSE naming the owner, releases', () => {
    native.claim(link, a, 17, v4('10.0.0.2'), 53);
    native.claim(link, a, 17, v4('10.0.0.2'), 53); // idempotent for the owner
    const e = thrown(() => native.claim(link, b, 17, v4('10.0.0.2'), 53));
    expect(e.code).toBe('EADDRINUSE');
    expect(e.errno).toBe(-98);
    expect(e.message).toBe(`udp 10.0.0.2:53 is already owned by port ${a}`);
    expect(e.ownerPort).toBe(a);
    // Same address and port, other protocol or family: different tuples.
    native.claim(link, b, 6, v4('10.0.0.2'), 53);
    native.claim(link, b, 17, v6('fd00::2'), 53);
    expect(native.linkCounters(link).tuples).toBe(3);
    const r = thrown(() => native.release(link, b, 17, v4('10.0.0.2'), 53));
    expect(r.code).toBe('EPERM');
    expect(r.message).toContain(`owned by port ${a}`);
    expect(thrown(() => native.release(link, a, 17, v4('10.0.0.9'), 53)).code).toBe('ENOENT');
    native.release(link, a, 17, v4('10.0.0.2'), 53);
    native.claim(link, b, 17, v4('10.0.0.2'), 53);
    expect(native.tuples(link, b).map((t) => `${t.proto} ${Buffer.from(t.addr).toString('hex')} ${t.port}`).sort())
      .toEqual(['17 0a000002 53', '17 fd000000000000000000000000000002 53', '6 0a000002 53']);
  });

  it('rejects bad tuples and unknown ports', () => {
    expect(thrown(() => native.claim(link, a, 1 as 6, v4('10.0.0.2'), 53)).code).toBe('ERR_OUT_OF_RANGE');
    expect(thrown(() => native.claim(link, a, 17, Buffer.alloc(5), 53)).code).toBe('ERR_OUT_OF_RANGE');
    expect(thrown(() => native.claim(link, a, 17, v4('10.0.0.2'), 0)).code).toBe('ERR_OUT_OF_RANGE');
    expect(thrown(() => native.claim(link, 0, 17, v4('10.0.0.2'), 53)).code).toBe('ENOENT');
    expect(thrown(() => native.claim(link, 999, 17, v4('10.0.0.2'), 53)).code).toBe('ENOENT');
    expect(thrown(() => native.claim(12345, a, 17, v4('10.0.0.2'), 53)).code).toBe('ENOENT');
    expect(thrown(() => native.removePort(link, 0)).code).toBe('ENOENT');
  });

  it('removing a port releases its tuples', () => {
    native.claim(link, a, 17, v4('10.0.0.2'), 53);
    native.claim(link, a, 6, v4('10.0.0.2'), 80);
    native.removePort(link, a);
    expect(native.linkCounters(link).tuples).toBe(0);
    native.claim(link, b, 17, v4('10.0.0.2'), 53);
    expect(native.classifyRx(link, udp4('10.0.0.1', 9, '10.0.0.2', 53))).toBe(b);
  });

  it('demuxes RX by destination tuple; everything else goes to the kernel (0)', () => {
    native.claim(link, a, 17, v4('10.0.0.2'), 53);
    native.claim(link, b, 6, v4('10.0.0.2'), 80);
    native.claim(link, b, 17, v6('fd00::2'), 53);
    expect(native.classifyRx(link, udp4('10.0.0.1', 9, '10.0.0.2', 53))).toBe(a);
    expect(native.classifyRx(link, udp4('10.0.0.1', 9, '10.0.0.2', 53, undefined, { vlan: 5 }))).toBe(a);
    expect(native.classifyRx(link, tcp4('10.0.0.1', 9, '10.0.0.2', 80))).toBe(b);
    expect(native.classifyRx(link, udp6('fd00::1', 9, 'fd00::2', 53))).toBe(b);
    expect(native.classifyRx(link, udp4('10.0.0.1', 9, '10.0.0.2', 54))).toBe(0); // other port
    expect(native.classifyRx(link, tcp4('10.0.0.1', 9, '10.0.0.2', 53))).toBe(0); // other proto
    expect(native.classifyRx(link, udp4('10.0.0.1', 9, '10.0.0.3', 53))).toBe(0); // other address
    expect(native.classifyRx(link, udp4('10.0.0.2', 53, '10.0.0.1', 9))).toBe(0); // source does not count
    expect(native.classifyRx(link, arp())).toBe(0);
    const icmp = eth({ ethertype: 0x0800 }, ipv4({ src: v4('10.0.0.1'), dst: v4('10.0.0.2'), proto: 1, raw: true }, Buffer.alloc(8)));
    expect(native.classifyRx(link, icmp)).toBe(0);
    expect(native.classifyRx(link, udp4('10.0.0.1', 9, '10.0.0.2', 53).subarray(0, 40))).toBe(0); // malformed
  });

  it('fragments of an owned datagram follow its first fragment; unknown ones go to the kernel', () => {
    native.claim(link, a, 17, v4('10.0.0.2'), 53);
    const mine = fragments4({ src: v4('10.0.0.1'), dst: v4('10.0.0.2'), proto: 17, id: 77 }, udp(5000, 53, Buffer.alloc(2000)), 800);
    const other = fragments4({ src: v4('10.0.0.1'), dst: v4('10.0.0.2'), proto: 17, id: 78 }, udp(5000, 99, Buffer.alloc(2000)), 800);
    const orphan = fragments4({ src: v4('10.0.0.1'), dst: v4('10.0.0.2'), proto: 17, id: 79 }, udp(5000, 53, Buffer.alloc(2000)), 800);
    expect(mine.map((f) => native.classifyRx(link, f))).toEqual([a, a, a]);
    expect(other.map((f) => native.classifyRx(link, f))).toEqual([0, 0, 0]);
    // Later fragments whose first fragment was never seen cannot be attributed.
    expect(orphan.slice(1).map((f) => native.classifyRx(link, f))).toEqual([0, 0]);
    // Same id from another source is another datagram.
    const spoof = fragments4({ src: v4('10.0.0.9'), dst: v4('10.0.0.2'), proto: 17, id: 77 }, udp(5000, 53, Buffer.alloc(2000)), 800);
    expect(native.classifyRx(link, spoof[1])).toBe(0);
    // IPv6 fragment header.
    native.claim(link, b, 17, v6('fd00::2'), 4789);
    const f6 = (offset: number, more: boolean, body: Buffer) => eth({ ethertype: 0x86dd }, ipv6({ src: v6('fd00::1'), dst: v6('fd00::2'), proto: 17, ext: [{ type: 44, offset, more, id: 0xabcdef }], raw: true }, body));
    expect(native.classifyRx(link, f6(0, true, udp(1, 4789, Buffer.alloc(16))))).toBe(b);
    expect(native.classifyRx(link, f6(24, false, Buffer.alloc(16)))).toBe(b);
    // Removing the owner forgets its fragments.
    native.removePort(link, a);
    expect(native.classifyRx(link, mine[2])).toBe(0);
  });

  describe('TX validation', () => {
    beforeEach(() => {
      native.claim(link, a, 17, v4('10.0.0.2'), 53);
      native.claim(link, a, 6, v6('fd00::2'), 80);
      native.claim(link, b, 17, v4('10.0.0.2'), 54);
    });
    const me = { src: LINK_MAC, dst: PEER_MAC };

    it('accepts frames from the port\'s own tuples', () => {
      expect(native.txCheck(link, a, udp4('10.0.0.2', 53, '10.0.0.1', 9, undefined, me))).toBe('ok');
      const t6 = eth({ ethertype: 0x86dd, ...me }, ipv6({ src: v6('fd00::2'), dst: v6('fd00::1'), proto: 6 }, tcp(80, 40000, Buffer.from('HTTP/1.1 200 OK'))));
      expect(native.txCheck(link, a, t6)).toBe('ok');
      // Padding up to the 60-byte Ethernet minimum is allowed.
      const small = udp4('10.0.0.2', 53, '10.0.0.1', 9, Buffer.alloc(0), me);
      expect(native.txCheck(link, a, Buffer.concat([small, Buffer.alloc(60 - small.length)]))).toBe('ok');
    });

    it('drops a forged source MAC', () => {
      expect(native.txCheck(link, a, udp4('10.0.0.2', 53, '10.0.0.1', 9, undefined, { src: PEER_MAC, dst: PEER_MAC }))).toBe('tx_bad_src_mac');
    });

    it('drops forged addresses, ports, protocols and other ports\' tuples', () => {
      expect(native.txCheck(link, a, udp4('10.0.0.3', 53, '10.0.0.1', 9, undefined, me))).toBe('tx_bad_tuple'); // address
      expect(native.txCheck(link, a, udp4('10.0.0.2', 5353, '10.0.0.1', 9, undefined, me))).toBe('tx_bad_tuple'); // port
      expect(native.txCheck(link, a, tcp4('10.0.0.2', 53, '10.0.0.1', 9, undefined, me))).toBe('tx_bad_tuple'); // proto
      expect(native.txCheck(link, a, udp4('10.0.0.2', 54, '10.0.0.1', 9, undefined, me))).toBe('tx_bad_tuple'); // b's tuple
      expect(native.txCheck(link, b, udp4('10.0.0.2', 54, '10.0.0.1', 9, undefined, me))).toBe('ok');
      const c = native.addPort(link); // a port without tuples cannot send anything
      expect(native.txCheck(link, c, udp4('10.0.0.2', 54, '10.0.0.1', 9, undefined, me))).toBe('tx_bad_tuple');
      const icmp = eth({ ethertype: 0x0800, ...me }, ipv4({ src: v4('10.0.0.2'), dst: v4('10.0.0.1'), proto: 1, raw: true }, Buffer.from('0000ffff00000000', 'hex')));
      expect(native.txCheck(link, a, icmp)).toBe('tx_bad_tuple');
    });

    it('drops ARP, VLAN-tagged and other EtherTypes', () => {
      expect(native.txCheck(link, a, eth({ ethertype: 0x0806, ...me }, Buffer.alloc(28)))).toBe('tx_bad_ethertype');
      expect(native.txCheck(link, a, udp4('10.0.0.2', 53, '10.0.0.1', 9, undefined, { ...me, vlan: 3 }))).toBe('tx_bad_ethertype');
      expect(native.txCheck(link, a, eth({ ethertype: 0x88cc, ...me }, Buffer.alloc(46)))).toBe('tx_bad_ethertype');
    });

    it('drops malformed frames and inconsistent lengths', () => {
      const good = udp4('10.0.0.2', 53, '10.0.0.1', 9, Buffer.alloc(100), me);
      expect(native.txCheck(link, a, good.subarray(0, 13))).toBe('tx_malformed');
      expect(native.txCheck(link, a, good.subarray(0, 100))).toBe('tx_malformed'); // IP length > frame
      expect(native.txCheck(link, a, Buffer.concat([good, Buffer.alloc(4)]))).toBe('tx_malformed'); // trailing bytes
      const udpLen = eth({ ethertype: 0x0800, ...me }, ipv4({ src: v4('10.0.0.2'), dst: v4('10.0.0.1'), proto: 17 }, udp(53, 9, Buffer.alloc(20), 20)));
      expect(native.txCheck(link, a, udpLen)).toBe('tx_malformed'); // UDP length != IP payload
      const ihl = eth({ ethertype: 0x0800, ...me }, ipv4({ src: v4('10.0.0.2'), dst: v4('10.0.0.1'), proto: 17, ihl: 3 }, udp(53, 9, Buffer.alloc(20))));
      expect(native.txCheck(link, a, ihl)).toBe('tx_malformed');
    });

    it('drops frames longer than MTU + Ethernet header', () => {
      expect(native.txCheck(link, a, udp4('10.0.0.2', 53, '10.0.0.1', 9, Buffer.alloc(1500 - 28), me))).toBe('ok');
      expect(native.txCheck(link, a, udp4('10.0.0.2', 53, '10.0.0.1', 9, Buffer.alloc(1501 - 28), me))).toBe('tx_too_long');
    });

    it('accepts later fragments only after the port sent the first fragment', () => {
      const frags = fragments4({ src: v4('10.0.0.2'), dst: v4('10.0.0.1'), proto: 17, id: 4242 }, udp(53, 9, Buffer.alloc(3000)), 1480)
        .map((f) => { LINK_MAC.copy(f, 6); PEER_MAC.copy(f, 0); return f; });
      expect(native.txCheck(link, a, frags[1])).toBe('tx_bad_tuple'); // no first fragment yet
      expect(native.txCheck(link, b, frags[0])).toBe('tx_bad_tuple'); // b does not own 53
      expect(native.txCheck(link, a, frags[0])).toBe('ok');
      expect(native.txCheck(link, a, frags[1])).toBe('ok');
      expect(native.txCheck(link, a, frags[2])).toBe('ok');
      expect(native.txCheck(link, b, frags[2])).toBe('tx_bad_tuple'); // a's datagram, not b's
    });
  });
});
