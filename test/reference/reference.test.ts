import { describe, expect, it } from 'vitest';
import { LarvalError } from '../../src/common/errors.js';
import { ReferenceSpd, referenceSelectSa, toReferenceFlow, type ReferenceSa } from '../../src/reference/linear-spd.js';
import { generateTrace, randomPolicySet } from '../../src/reference/trace.js';
import type { Flow, PolicySpec } from '../../src/engine/types.js';

const tcp = (src: string, dst: string, srcPort: number, dstPort: number, extra: Partial<Flow> = {}): Flow =>
  ({ src, dst, proto: 'tcp', srcPort, dstPort, ...extra });
const icmp = (src: string, dst: string, icmpType: number, icmpCode = 0): Flow =>
  ({ src, dst, proto: src.includes(':') ? 'ipv6-icmp' : 'icmp', icmpType, icmpCode });

function spdOf(...policies: PolicySpec[]): ReferenceSpd {
  const spd = new ReferenceSpd();
  policies.forEach((p, i) => spd.add(p, i + 1));
  return spd;
}

const matchOut = (spd: ReferenceSpd, flow: Flow) => spd.match('out', toReferenceFlow(flow));

describe('toReferenceFlow', () => {
  it('gives TCP/UDP/SCTP kind ports and ICMP kind icmp (type in sport, code in dport)', () => {
    expect(toReferenceFlow(tcp('10.0.0.1', '10.0.0.2', 1234, 80))).toMatchObject({ family: 4, proto: 6, kind: 'ports', sport: 1234, dport: 80 });
    expect(toReferenceFlow({ src: '10.0.0.1', dst: '10.0.0.2', proto: 'sctp', srcPort: 5, dstPort: 6 })).toMatchObject({ kind: 'ports', sport: 5, dport: 6 });
    expect(toReferenceFlow(icmp('10.0.0.1', '10.0.0.2', 8, 3))).toMatchObject({ proto: 1, kind: 'icmp', sport: 8, dport: 3 });
    expect(toReferenceFlow(icmp('2001:db8::1', '2001:db8::2', 128))).toMatchObject({ family: 6, proto: 58, kind: 'icmp', sport: 128, dport: 0 });
  });

  it('treats ICMP of the other family and port-less protocols as kind none', () => {
    expect(toReferenceFlow({ src: '2001:db8::1', dst: '2001:db8::2', proto: 1, icmpType: 8 })).toMatchObject({ kind: 'none', sport: 0, dport: 0 });
    expect(toReferenceFlow({ src: '10.0.0.1', dst: '10.0.0.2', proto: 58 })).toMatchObject({ kind: 'none' });
    expect(toReferenceFlow({ src: '10.0.0.1', dst: '10.0.0.2', proto: 'gre' })).toMatchObject({ kind: 'none' });
  });

  it('drops ports and ICMP type of non-first fragments (R5)', () => {
    expect(toReferenceFlow(tcp('10.0.0.1', '10.0.0.2', 1234, 80, { fragment: true }))).toMatchObject({ kind: 'none', sport: 0, dport: 0 });
    expect(toReferenceFlow({ ...icmp('10.0.0.1', '10.0.0.2', 8), fragment: true })).toMatchObject({ kind: 'none', sport: 0 });
  });

  it('stores addresses as four words, most significant first', () => {
    const f = toReferenceFlow(tcp('2001:db8::1', '2001:db8:0:0:0:0:0:ff', 1, 2));
    expect(Array.from(f.src)).toEqual([0x20010db8, 0, 0, 1]);
    expect(Array.from(f.dst)).toEqual([0x20010db8, 0, 0, 0xff]);
  });

  it('rejects mixed families and out-of-range ports', () => {
    expect(() => toReferenceFlow(tcp('10.0.0.1', '2001:db8::1', 1, 2))).toThrow(/flow\.dst/);
    expect(() => toReferenceFlow(tcp('10.0.0.1', '10.0.0.2', 70000, 2))).toThrow(/flow\.srcPort/);
  });
});

describe('R1: priority, then insertion order', () => {
  const flow = tcp('10.1.2.3', '192.168.0.9', 40000, 443);

  it('lower priority number wins regardless of insertion order', () => {
    const spd = spdOf(
      { dir: 'out', src: '10.0.0.0/8', priority: 20, action: 'discard' },
      { dir: 'out', src: '10.1.0.0/16', priority: 5, action: 'bypass' },
      { dir: 'out', dst: '192.168.0.0/24', priority: 10, action: 'discard' },
    );
    expect(matchOut(spd, flow)).toBe(2);
  });

  it('equal priorities: the earlier policy wins, even when the later is more specific', () => {
    const spd = spdOf(
      { dir: 'out', src: '10.0.0.0/8', priority: 7, action: 'discard' },
      { dir: 'out', src: '10.1.2.3/32', dst: '192.168.0.9/32', proto: 'tcp', dstPort: 443, priority: 7, action: 'bypass' },
    );
    expect(matchOut(spd, flow)).toBe(1);
  });

  it('insertion order is by add(), not by id', () => {
    const spd = new ReferenceSpd();
    spd.add({ dir: 'out', src: '10.0.0.0/8', action: 'discard' }, 99);
    spd.add({ dir: 'out', src: '10.0.0.0/8', action: 'bypass' }, 1);
    expect(matchOut(spd, flow)).toBe(99);
  });

  it('a removed policy stops matching and the next one in order takes over', () => {
    const spd = spdOf(
      { dir: 'out', src: '10.0.0.0/8', priority: 1, action: 'discard' },
      { dir: 'out', src: '10.0.0.0/8', priority: 1, action: 'bypass' },
    );
    expect(matchOut(spd, flow)).toBe(1);
    expect(spd.remove(1)).toBe(true);
    expect(spd.remove(1)).toBe(false);
    expect(spd.size).toBe(1);
    expect(matchOut(spd, flow)).toBe(2);
    // Re-added later, it is now behind policy 2 at the same priority.
    spd.add({ dir: 'out', src: '10.0.0.0/8', priority: 1, action: 'discard' }, 1);
    expect(matchOut(spd, flow)).toBe(2);
  });

  it('a policy added after lookups is seen by the next lookup', () => {
    const spd = spdOf({ dir: 'out', src: '10.0.0.0/8', priority: 5, action: 'discard' });
    const other = tcp('11.0.0.1', '192.168.0.9', 1, 2);
    expect(matchOut(spd, flow)).toBe(1);
    expect(matchOut(spd, other)).toBeNull();
    spd.add({ dir: 'out', dst: '192.168.0.0/16', priority: 9, action: 'bypass' }, 2);
    expect(matchOut(spd, other)).toBe(2);
    // Ahead of policy 1 in order, but not matching the TCP flow.
    spd.add({ dir: 'out', src: '10.0.0.0/8', proto: 'udp', priority: 1, action: 'bypass' }, 3);
    expect(matchOut(spd, flow)).toBe(1);
  });

  it('over many overlapping policies with tied priorities, the winner is the first of the individually matching ones in (priority, insertion) order', () => {
    for (const family of [4, 6] as const) {
      const policies = randomPolicySet({ family, count: 400, seed: 31 + family });
      const spd = new ReferenceSpd();
      policies.forEach((p, i) => spd.add(p, i));
      const alone = policies.map((p) => spdOf(p));
      const order = policies.map((_, i) => i).sort((a, b) => (policies[a].priority ?? 0) - (policies[b].priority ?? 0) || a - b);
      let decidedByTie = 0;
      for (const f of generateTrace(policies, 1500, { seed: family, fragmentRate: 0.05 })) {
        const rf = toReferenceFlow(f);
        const hits = order.filter((i) => alone[i].match('out', rf) !== null);
        expect(spd.match('out', rf)).toBe(hits.length === 0 ? null : hits[0]);
        if (hits.length > 1 && policies[hits[0]].priority === policies[hits[1]].priority) decidedByTie++;
      }
      expect(decidedByTie).toBeGreaterThan(100);
    }
  });

  it('priority defaults to 0', () => {
    const spd = spdOf(
      { dir: 'out', src: '10.0.0.0/8', priority: 1, action: 'discard' },
      { dir: 'out', src: '10.0.0.0/8', action: 'bypass' },
    );
    expect(matchOut(spd, flow)).toBe(2);
  });

  it('refuses a duplicate id', () => {
    const spd = spdOf({ dir: 'out', family: 4, action: 'bypass' });
    expect(() => spd.add({ dir: 'out', family: 4, action: 'bypass' }, 1)).toThrow(expect.objectContaining({ code: 'EEXIST' }));
  });
});

describe('R2: first match decides, otherwise the default', () => {
  it('no match gives policyId null and the default action, bypass unless set', () => {
    const spd = spdOf({ dir: 'out', src: '10.0.0.0/8', action: 'discard' });
    const outside = toReferenceFlow(tcp('11.0.0.1', '10.0.0.1', 1, 2));
    expect(spd.decide('out', outside)).toEqual({ policyId: null, action: 'bypass' });
    spd.setDefault('out', 'discard');
    expect(spd.decide('out', outside)).toEqual({ policyId: null, action: 'discard' });
    expect(spd.decide('in', outside)).toEqual({ policyId: null, action: 'bypass' });
  });

  it('decide returns the policy and its spec', () => {
    const template = { mode: 'tunnel' as const, src: '192.0.2.1', dst: '192.0.2.2', reqid: 3 };
    const spec: PolicySpec = { dir: 'out', src: '10.0.0.0/8', action: 'protect', template };
    const spd = spdOf(spec);
    expect(spd.decide('out', toReferenceFlow(tcp('10.0.0.1', '8.8.8.8', 1, 2)))).toEqual({ policyId: 1, action: 'protect', spec });
  });

  it('directions are separate databases', () => {
    const spd = spdOf({ dir: 'in', src: '10.0.0.0/8', action: 'discard' });
    const f = toReferenceFlow(tcp('10.0.0.1', '10.0.0.2', 1, 2));
    expect(spd.match('out', f)).toBeNull();
    expect(spd.match('in', f)).toBe(1);
    expect(spd.match('fwd', f)).toBeNull();
  });

  it('setDefault refuses protect', () => {
    expect(() => new ReferenceSpd().setDefault('out', 'protect' as never)).toThrow(LarvalError);
  });
});

describe('R3: selector fields', () => {
  it('prefixes of any length, including /0 and host prefixes, in both families', () => {
    const spd = spdOf(
      { dir: 'out', src: '10.0.0.0/31', dst: '0.0.0.0/0', action: 'discard' },
      { dir: 'out', src: '2001:db8:0:2::/63', action: 'discard' },
      { dir: 'out', dst: '2001:db8::ff/128', action: 'discard' },
    );
    expect(matchOut(spd, tcp('10.0.0.1', '1.2.3.4', 1, 2))).toBe(1);
    expect(matchOut(spd, tcp('10.0.0.2', '1.2.3.4', 1, 2))).toBeNull();
    expect(matchOut(spd, tcp('2001:db8:0:3:ffff::1', '::1', 1, 2))).toBe(2);
    expect(matchOut(spd, tcp('2001:db8:0:2::', '::1', 1, 2))).toBe(2);
    expect(matchOut(spd, tcp('2001:db8:0:4::', '::1', 1, 2))).toBeNull();
    expect(matchOut(spd, tcp('2001:db8:0:1:ffff:ffff:ffff:ffff', '::1', 1, 2))).toBeNull();
    expect(matchOut(spd, tcp('::1', '2001:db8::ff', 1, 2))).toBe(3);
    expect(matchOut(spd, tcp('::1', '2001:db8::fe', 1, 2))).toBeNull();
  });

  it('a packet of the wrong family never matches, even a selector of any address', () => {
    const spd = spdOf({ dir: 'out', family: 6, action: 'discard' }, { dir: 'out', src: '::/0', action: 'discard' });
    expect(matchOut(spd, tcp('10.0.0.1', '10.0.0.2', 1, 2))).toBeNull();
    // IPv4 0.0.0.0 and IPv6 :: have the same words; only the family tells them apart.
    const v4any = spdOf({ dir: 'out', src: '0.0.0.0/0', action: 'discard' });
    expect(matchOut(v4any, tcp('::', '::', 1, 2))).toBeNull();
    expect(matchOut(v4any, tcp('0.0.0.0', '0.0.0.0', 1, 2))).toBe(1);
  });

  it('protocol any or equal', () => {
    const spd = spdOf({ dir: 'out', family: 4, proto: 'udp', action: 'discard' }, { dir: 'out', family: 4, action: 'bypass' });
    expect(matchOut(spd, { src: '1.1.1.1', dst: '2.2.2.2', proto: 17, srcPort: 1, dstPort: 2 })).toBe(1);
    expect(matchOut(spd, { src: '1.1.1.1', dst: '2.2.2.2', proto: 'gre' })).toBe(2);
  });

  it('port ranges are inclusive sub-ranges on both ends', () => {
    const spd = spdOf({ dir: 'out', family: 4, proto: 'tcp', srcPort: [1024, 2047], dstPort: [80, 81], action: 'discard' });
    expect(matchOut(spd, tcp('1.1.1.1', '2.2.2.2', 1024, 80))).toBe(1);
    expect(matchOut(spd, tcp('1.1.1.1', '2.2.2.2', 2047, 81))).toBe(1);
    expect(matchOut(spd, tcp('1.1.1.1', '2.2.2.2', 1023, 80))).toBeNull();
    expect(matchOut(spd, tcp('1.1.1.1', '2.2.2.2', 2048, 80))).toBeNull();
    expect(matchOut(spd, tcp('1.1.1.1', '2.2.2.2', 1500, 82))).toBeNull();
    expect(matchOut(spd, tcp('1.1.1.1', '2.2.2.2', 1500, 79))).toBeNull();
  });

  it('a single port number means [n, n]; an omitted range is any', () => {
    const spd = spdOf({ dir: 'out', family: 4, proto: 'udp', dstPort: 53, action: 'discard' });
    expect(matchOut(spd, { src: '1.1.1.1', dst: '2.2.2.2', proto: 'udp', srcPort: 65535, dstPort: 53 })).toBe(1);
    expect(matchOut(spd, { src: '1.1.1.1', dst: '2.2.2.2', proto: 'udp', srcPort: 0, dstPort: 54 })).toBeNull();
  });

  it('proto-any policy with ports matches TCP, UDP and SCTP only, never ICMP or GRE', () => {
    const spd = spdOf({ dir: 'out', family: 4, dstPort: [0, 1023], action: 'discard' });
    expect(matchOut(spd, tcp('1.1.1.1', '2.2.2.2', 5, 22))).toBe(1);
    expect(matchOut(spd, { src: '1.1.1.1', dst: '2.2.2.2', proto: 'udp', srcPort: 5, dstPort: 53 })).toBe(1);
    expect(matchOut(spd, { src: '1.1.1.1', dst: '2.2.2.2', proto: 'sctp', srcPort: 5, dstPort: 1023 })).toBe(1);
    // ICMP type 8 code 0 would be "inside" [0, 1023] if ICMP were read as ports.
    expect(matchOut(spd, icmp('1.1.1.1', '2.2.2.2', 8, 0))).toBeNull();
    expect(matchOut(spd, { src: '1.1.1.1', dst: '2.2.2.2', proto: 'gre' })).toBeNull();
  });

  it('ports of [0, 65535] are "any": such a policy also matches ICMP', () => {
    const spd = spdOf({ dir: 'out', family: 4, srcPort: [0, 65535], dstPort: [0, 65535], action: 'discard' });
    expect(matchOut(spd, icmp('1.1.1.1', '2.2.2.2', 8))).toBe(1);
    expect(matchOut(spd, { src: '1.1.1.1', dst: '2.2.2.2', proto: 'gre' })).toBe(1);
  });

  it('ICMP is selected by type and code, never through ports', () => {
    const spd = spdOf(
      { dir: 'out', family: 4, proto: 'icmp', icmpType: 8, icmpCode: 0, priority: 1, action: 'discard' },
      { dir: 'out', family: 4, proto: 'icmp', icmpType: 3, priority: 2, action: 'discard' },
      { dir: 'out', family: 4, proto: 'icmp', icmpCode: 4, priority: 3, action: 'discard' },
      { dir: 'out', family: 6, proto: 'ipv6-icmp', icmpType: 135, priority: 4, action: 'discard' },
    );
    expect(matchOut(spd, icmp('1.1.1.1', '2.2.2.2', 8, 0))).toBe(1);
    expect(matchOut(spd, icmp('1.1.1.1', '2.2.2.2', 8, 1))).toBeNull();
    expect(matchOut(spd, icmp('1.1.1.1', '2.2.2.2', 3, 13))).toBe(2);
    expect(matchOut(spd, icmp('1.1.1.1', '2.2.2.2', 11, 4))).toBe(3);
    expect(matchOut(spd, icmp('2001:db8::1', '2001:db8::2', 135))).toBe(4);
    expect(matchOut(spd, icmp('2001:db8::1', '2001:db8::2', 136))).toBeNull();
    // Port fields on an ICMP flow are not type/code.
    expect(matchOut(spd, { src: '1.1.1.1', dst: '2.2.2.2', proto: 'icmp', srcPort: 8, dstPort: 0 })).toBeNull();
  });

  it('refuses selectors R3 cannot express', () => {
    const add = (p: Omit<PolicySpec, 'dir' | 'action'>) => () => new ReferenceSpd().add({ dir: 'out', action: 'bypass', ...p }, 1);
    expect(add({ family: 4, proto: 'icmp', dstPort: 80 })).toThrow(/dstPort: .*carries no ports/);
    expect(add({ family: 4, proto: 'gre', srcPort: [1, 2] })).toThrow(/srcPort/);
    expect(add({ family: 4, icmpType: 8 })).toThrow(/icmpType: needs proto 'icmp'/);
    expect(add({ family: 6, proto: 'icmp', icmpType: 128 })).toThrow(/icmpType: needs proto 'ipv6-icmp'/);
    expect(add({ src: '10.0.0.0/8', dst: '2001:db8::/32' })).toThrow(/dst/);
    expect(add({ src: '10.0.0.0/8', family: 6 })).toThrow(/family/);
    expect(add({})).toThrow(/family: required/);
    expect(add({ family: 4, proto: 'tcp', dstPort: [90, 80] })).toThrow(/dstPort/);
    expect(add({ src: '10.0.0.1/8' })).toThrow(/host bits/);
    expect(() => new ReferenceSpd().add({ dir: 'out', family: 4, action: 'protect' }, 1)).toThrow(/template/);
  });
});

describe('R5: non-first fragments carry no ports', () => {
  const spd = spdOf(
    { dir: 'out', family: 4, proto: 'tcp', dstPort: 80, priority: 1, action: 'discard' },
    { dir: 'out', family: 4, proto: 'icmp', icmpType: 8, priority: 2, action: 'discard' },
    { dir: 'out', family: 4, proto: 'tcp', priority: 3, action: 'bypass' },
  );

  it('match only port-any policies', () => {
    expect(matchOut(spd, tcp('1.1.1.1', '2.2.2.2', 5, 80))).toBe(1);
    expect(matchOut(spd, tcp('1.1.1.1', '2.2.2.2', 5, 80, { fragment: true }))).toBe(3);
  });

  it('ICMP fragments do not match type/code selectors', () => {
    expect(matchOut(spd, icmp('1.1.1.1', '2.2.2.2', 8))).toBe(2);
    expect(matchOut(spd, { ...icmp('1.1.1.1', '2.2.2.2', 8), fragment: true })).toBeNull();
  });
});

describe('R6: referenceSelectSa', () => {
  const tunnel = { mode: 'tunnel' as const, src: '192.0.2.1', dst: '198.51.100.1', reqid: 0 };
  const flow = { src: '10.0.0.1', dst: '10.9.0.1' };
  let nextId = 1;
  const sa = (over: Partial<ReferenceSa>): ReferenceSa => ({
    id: nextId, spi: 0x1000 + nextId, src: '192.0.2.1', dst: '198.51.100.1', mode: 'tunnel',
    addTime: 0, addSeq: nextId++, state: 'mature', ...over,
  });
  const ids = (x: ReferenceSa | null) => x?.id ?? null;

  it('newest: not dying before dying, even when the dying one is newer', () => {
    const old = sa({ id: 1, addTime: 100, addSeq: 1 });
    const dying = sa({ id: 2, addTime: 200, addSeq: 2, state: 'dying' });
    expect(ids(referenceSelectSa([dying, old], tunnel, flow, 'newest'))).toBe(1);
    // With only dying SAs left, a dying one is still used (R14).
    expect(ids(referenceSelectSa([dying], tunnel, flow, 'newest'))).toBe(2);
  });

  it('newest: larger add time wins among equally alive SAs', () => {
    const a = sa({ id: 1, addTime: 100, addSeq: 2, spi: 0xffff0000 });
    const b = sa({ id: 2, addTime: 300, addSeq: 1, spi: 0x100 });
    expect(ids(referenceSelectSa([a, b], tunnel, flow, 'newest'))).toBe(2);
  });

  it('newest: equal add times go to the higher SPI, compared unsigned', () => {
    const low = sa({ id: 1, addTime: 100, spi: 0x7fffffff });
    const high = sa({ id: 2, addTime: 100, spi: 0x80000000 });
    expect(ids(referenceSelectSa([high, low], tunnel, flow, 'newest'))).toBe(2);
    expect(ids(referenceSelectSa([low, high], tunnel, flow, 'newest'))).toBe(2);
  });

  it('oldest (legacy): dying before mature, then the earliest install', () => {
    const mature1 = sa({ id: 1, addSeq: 1, addTime: 0 });
    const dying3 = sa({ id: 3, addSeq: 3, addTime: 50, state: 'dying' });
    const dying2 = sa({ id: 2, addSeq: 2, addTime: 50, state: 'dying' });
    const mature4 = sa({ id: 4, addSeq: 4, addTime: 60 });
    expect(ids(referenceSelectSa([mature4, dying3, mature1, dying2], tunnel, flow, 'oldest'))).toBe(2);
    expect(ids(referenceSelectSa([mature4, mature1], tunnel, flow, 'oldest'))).toBe(1);
  });

  it('tunnel endpoints are compared as addresses, not strings', () => {
    const v6 = { mode: 'tunnel' as const, src: '2001:db8::1', dst: '2001:db8:0:0::2' };
    const s = sa({ id: 1, src: '2001:0db8::0001', dst: '2001:db8::2' });
    expect(ids(referenceSelectSa([s], v6, flow, 'newest'))).toBe(1);
    expect(ids(referenceSelectSa([sa({ src: '2001:db8::1', dst: '2001:db8::3' })], v6, flow, 'newest'))).toBeNull();
  });

  it('proto and mode must be equal; proto defaults to esp', () => {
    const ah = sa({ id: 1, proto: 'ah', addTime: 9 });
    const esp = sa({ id: 2, addTime: 1 });
    expect(ids(referenceSelectSa([ah, esp], tunnel, flow, 'newest'))).toBe(2);
    expect(ids(referenceSelectSa([ah, esp], { ...tunnel, proto: 'ah' }, flow, 'newest'))).toBe(1);
    const transportSa = sa({ id: 3, mode: 'transport', src: '10.0.0.1', dst: '10.9.0.1' });
    expect(ids(referenceSelectSa([transportSa], tunnel, flow, 'newest'))).toBeNull();
  });

  it('reqid: template reqid 0 or omitted takes any SA; otherwise reqids must be equal', () => {
    const r5 = sa({ id: 1, reqid: 5, addTime: 1 });
    const r7 = sa({ id: 2, reqid: 7, addTime: 2 });
    const none = sa({ id: 3, addTime: 3 });
    expect(ids(referenceSelectSa([r5, r7, none], { ...tunnel, reqid: 5 }, flow, 'newest'))).toBe(1);
    expect(ids(referenceSelectSa([r5, r7, none], { ...tunnel, reqid: 0 }, flow, 'newest'))).toBe(3);
    const { reqid: _unused, ...noReqid } = tunnel;
    expect(ids(referenceSelectSa([r5, r7], noReqid, flow, 'newest'))).toBe(2);
    expect(ids(referenceSelectSa([r5, r7, none], { ...tunnel, reqid: 9 }, flow, 'newest'))).toBeNull();
  });

  it("transport mode takes the flow's own addresses as endpoints", () => {
    const transport = { mode: 'transport' as const, reqid: 0 };
    const mine = sa({ id: 1, mode: 'transport', src: '10.0.0.1', dst: '10.9.0.1' });
    const reverse = sa({ id: 2, mode: 'transport', src: '10.9.0.1', dst: '10.0.0.1', addTime: 50 });
    const tunnelSa = sa({ id: 3, addTime: 99 });
    expect(ids(referenceSelectSa([reverse, tunnelSa, mine], transport, flow, 'newest'))).toBe(1);
    expect(ids(referenceSelectSa([reverse, tunnelSa, mine], transport, { src: '10.0.0.2', dst: '10.9.0.1' }, 'newest'))).toBeNull();
  });

  it('does not reorder its input', () => {
    const list = [sa({ id: 1, addTime: 1 }), sa({ id: 2, addTime: 2 })];
    referenceSelectSa(list, tunnel, flow, 'newest');
    expect(list.map((s) => s.id)).toEqual([1, 2]);
  });
});
