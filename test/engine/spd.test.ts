// R1–R5 through the engine's per-flow lookup, and the policy side of R25.
import { describe, expect, it } from 'vitest';
import { createEngine, LarvalError } from '../../src/index.js';
import { engineWith, ipv4 } from './helpers.js';

const flow = (src: string, dst: string, proto: string | number, extra: object = {}) => ({ src, dst, proto, ...extra });

describe('R1: priority, then insertion order', () => {
  it('a lower priority number wins regardless of insertion order', async () => {
    const { engine, ids } = await engineWith([
      { dir: 'out', src: '10.0.0.0/8', action: 'bypass', priority: 10 },
      { dir: 'out', src: '10.1.0.0/16', action: 'discard', priority: 5 },
    ]);
    expect(engine.matchPolicy('out', flow('10.1.2.3', '1.1.1.1', 'udp'))).toBe(ids[1]);
    expect(engine.matchPolicy('out', flow('10.2.2.3', '1.1.1.1', 'udp'))).toBe(ids[0]);
  });

  it('equal priorities: the earlier policy wins, even when the later one is more specific', async () => {
    const { engine, ids } = await engineWith([
      { dir: 'out', src: '10.0.0.0/8', action: 'bypass', priority: 3 },
      { dir: 'out', src: '10.1.2.3/32', dst: '1.1.1.1/32', proto: 'udp', action: 'discard', priority: 3 },
    ]);
    expect(engine.matchPolicy('out', flow('10.1.2.3', '1.1.1.1', 'udp'))).toBe(ids[0]);
  });

  it('priorities up to 2^32-1 order correctly', async () => {
    const { engine, ids } = await engineWith([
      { dir: 'out', family: 4, action: 'bypass', priority: 0xffffffff },
      { dir: 'out', family: 4, action: 'discard', priority: 0x80000000 },
    ]);
    expect(engine.matchPolicy('out', flow('1.2.3.4', '5.6.7.8', 'tcp'))).toBe(ids[1]);
  });
});

describe('R2: first match decides; no match takes the default action', () => {
  it('returns null and applies the default action when nothing matches', async () => {
    const { engine } = await engineWith([{ dir: 'out', src: '10.0.0.0/8', action: 'protect', template: { mode: 'tunnel', src: '1.1.1.1', dst: '2.2.2.2' } }]);
    expect(engine.matchPolicy('out', flow('11.0.0.1', '1.1.1.1', 'tcp'))).toBeNull();
    const pkt = ipv4('11.0.0.1', '1.1.1.1', 6, 1, 2);
    expect(engine.outbound([pkt]).get(0)).toMatchObject({ verdict: 'bypass', reason: 'default-policy', policyId: null });
    engine.setDefaultAction('out', 'discard');
    expect(engine.outbound([pkt]).get(0)).toMatchObject({ verdict: 'discard', reason: 'default-policy', policyId: null });
    expect(engine.dump().defaults.out).toBe('discard');
  });

  it('directions have separate SPDs', async () => {
    const { engine, ids } = await engineWith([
      { dir: 'in', family: 4, action: 'discard' },
      { dir: 'fwd', family: 4, action: 'bypass' },
    ]);
    const f = flow('1.1.1.1', '2.2.2.2', 'tcp');
    expect(engine.matchPolicy('out', f)).toBeNull();
    expect(engine.matchPolicy('in', f)).toBe(ids[0]);
    expect(engine.matchPolicy('fwd', f)).toBe(ids[1]);
  });
});

describe('R3: selector fields', () => {
  it('prefixes of any length, IPv4 and IPv6', async () => {
    const { engine, ids } = await engineWith([
      { dir: 'out', src: '10.1.2.0/23', action: 'bypass' },
      { dir: 'out', src: '2001:db8:a::/47', dst: '2001:db8:ffff::1/128', action: 'discard' },
      { dir: 'out', dst: '2001:db8::/127', action: 'discard' },
    ]);
    expect(engine.matchPolicy('out', flow('10.1.3.255', '1.1.1.1', 'tcp'))).toBe(ids[0]);
    expect(engine.matchPolicy('out', flow('10.1.4.0', '1.1.1.1', 'tcp'))).toBeNull();
    expect(engine.matchPolicy('out', flow('2001:db8:b:ffff::1', '2001:db8:ffff::1', 'udp'))).toBe(ids[1]);
    expect(engine.matchPolicy('out', flow('2001:db8:c::1', '2001:db8:ffff::1', 'udp'))).toBeNull();
    expect(engine.matchPolicy('out', flow('::1', '2001:db8::1', 'udp'))).toBe(ids[2]);
    expect(engine.matchPolicy('out', flow('::1', '2001:db8::2', 'udp'))).toBeNull();
  });

  it('a packet of the wrong family never matches, even an any/any policy', async () => {
    const { engine, ids } = await engineWith([{ dir: 'out', family: 6, action: 'discard' }]);
    expect(engine.matchPolicy('out', flow('1.1.1.1', '2.2.2.2', 'tcp'))).toBeNull();
    expect(engine.matchPolicy('out', flow('::1', '::2', 'tcp'))).toBe(ids[0]);
  });

  it('port ranges are inclusive sub-ranges and match only TCP, UDP and SCTP', async () => {
    const { engine, ids } = await engineWith([{ dir: 'out', family: 4, dstPort: [1000, 2000], srcPort: 53, action: 'discard' }]);
    for (const proto of ['tcp', 'udp', 'sctp']) {
      expect(engine.matchPolicy('out', flow('1.1.1.1', '2.2.2.2', proto, { srcPort: 53, dstPort: 1000 }))).toBe(ids[0]);
      expect(engine.matchPolicy('out', flow('1.1.1.1', '2.2.2.2', proto, { srcPort: 53, dstPort: 2000 }))).toBe(ids[0]);
      expect(engine.matchPolicy('out', flow('1.1.1.1', '2.2.2.2', proto, { srcPort: 53, dstPort: 2001 }))).toBeNull();
      expect(engine.matchPolicy('out', flow('1.1.1.1', '2.2.2.2', proto, { srcPort: 54, dstPort: 1500 }))).toBeNull();
    }
    // ICMP with type/code equal to the port numbers must not match through the port fields.
    expect(engine.matchPolicy('out', flow('1.1.1.1', '2.2.2.2', 'icmp', { icmpType: 53, icmpCode: 232 }))).toBeNull();
    expect(engine.matchPolicy('out', flow('1.1.1.1', '2.2.2.2', 'gre'))).toBeNull();
  });

  it('ICMP type/code select ICMP only; ICMPv6 for IPv6', async () => {
    const { engine, ids } = await engineWith([
      { dir: 'out', family: 4, proto: 'icmp', icmpType: 8, action: 'discard' },
      { dir: 'out', family: 6, proto: 'ipv6-icmp', icmpType: 135, icmpCode: 0, action: 'bypass' },
    ]);
    expect(engine.matchPolicy('out', flow('1.1.1.1', '2.2.2.2', 'icmp', { icmpType: 8, icmpCode: 3 }))).toBe(ids[0]);
    expect(engine.matchPolicy('out', flow('1.1.1.1', '2.2.2.2', 'icmp', { icmpType: 0 }))).toBeNull();
    expect(engine.matchPolicy('out', flow('1.1.1.1', '2.2.2.2', 'udp', { srcPort: 8, dstPort: 0 }))).toBeNull();
    expect(engine.matchPolicy('out', flow('::1', '::2', 'ipv6-icmp', { icmpType: 135, icmpCode: 0 }))).toBe(ids[1]);
    expect(engine.matchPolicy('out', flow('::1', '::2', 'ipv6-icmp', { icmpType: 135, icmpCode: 1 }))).toBeNull();
  });

  it('ICMP packets match through the batch path too (type/code parsed from the packet)', async () => {
    const { engine, ids } = await engineWith([{ dir: 'out', family: 4, proto: 'icmp', icmpType: 8, action: 'discard' }]);
    const v = engine.outbound([ipv4('1.1.1.1', '2.2.2.2', 1, 8, 0), ipv4('1.1.1.1', '2.2.2.2', 1, 0, 0)]);
    expect(v.policyId(0)).toBe(ids[0]);
    expect(v.policyId(1)).toBeNull();
  });
});

describe('R5: non-first fragments carry no ports', () => {
  it('match only selectors whose port ranges are any', async () => {
    const { engine, ids } = await engineWith([
      { dir: 'out', family: 4, proto: 'udp', dstPort: 53, action: 'discard' },
      { dir: 'out', family: 4, proto: 'udp', action: 'bypass' },
    ]);
    expect(engine.matchPolicy('out', flow('1.1.1.1', '2.2.2.2', 'udp', { dstPort: 53 }))).toBe(ids[0]);
    expect(engine.matchPolicy('out', flow('1.1.1.1', '2.2.2.2', 'udp', { fragment: true }))).toBe(ids[1]);
    // The same through real bytes: a non-first fragment of a UDP datagram to port 53.
    const frag = ipv4('1.1.1.1', '2.2.2.2', 17, 1000, 53);
    new DataView(frag.buffer).setUint16(6, 185); // offset 1480 bytes, MF clear
    expect(engine.outbound([frag]).policyId(0)).toBe(ids[1]);
  });
});

describe('R25: policies are validated and errors name field and value', () => {
  const cases: Array<[object, RegExp]> = [
    [{ dir: 'up', family: 4, action: 'bypass' }, /dir.*"up"/],
    [{ dir: 'out', src: '10.0.0.1/8', action: 'bypass' }, /src.*host bits.*10\.0\.0\.1\/8/],
    [{ dir: 'out', src: '10.0.0.0/33', action: 'bypass' }, /src.*0\.\.32/],
    [{ dir: 'out', src: '10.0.0.0/8', dst: '::/0', action: 'bypass' }, /dst.*family/],
    [{ dir: 'out', action: 'bypass' }, /family.*required/],
    [{ dir: 'out', family: 4, proto: 'tcpp', action: 'bypass' }, /proto.*"tcpp"/],
    [{ dir: 'out', family: 4, proto: 'icmp', dstPort: 80, action: 'bypass' }, /dstPort.*R3/],
    [{ dir: 'out', family: 4, proto: 'tcp', icmpType: 8, action: 'bypass' }, /icmpType.*'icmp'/],
    [{ dir: 'out', family: 6, proto: 'icmp', icmpType: 8, action: 'bypass' }, /icmpType.*'ipv6-icmp'/],
    [{ dir: 'out', family: 4, dstPort: [20, 10], action: 'bypass' }, /dstPort.*lo must not exceed hi/],
    [{ dir: 'out', family: 4, dstPort: [0, 70000], action: 'bypass' }, /dstPort\[1\].*70000/],
    [{ dir: 'out', family: 4, priority: -1, action: 'bypass' }, /priority.*-1/],
    [{ dir: 'out', family: 4, action: 'protect' }, /template.*required/],
    [{ dir: 'out', family: 4, action: 'bypass', template: { mode: 'tunnel' } }, /template.*only a 'protect'/],
    [{ dir: 'out', family: 4, action: 'protect', template: { mode: 'tunnel', src: '1.1.1.1' } }, /template\.dst/],
    [{ dir: 'out', family: 4, action: 'protect', template: { mode: 'transport', dst: '1.1.1.1' } }, /template\.dst.*transport/],
    [{ dir: 'out', family: 4, action: 'protect', template: { mode: 'tunnel', src: '1.1.1.1', dst: '1.1.1.2', level: 'must' } }, /template\.level.*"must"/],
    [{ dir: 'out', family: 4, action: 'bypass', colour: 'red' }, /colour.*unknown field/],
  ];
  it.each(cases)('%j', async (spec, message) => {
    const engine = await createEngine();
    let err: unknown;
    try {
      engine.addPolicy(spec as never);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(LarvalError);
    expect((err as LarvalError).code).toBe('EINVAL');
    expect((err as LarvalError).message).toMatch(message);
    expect(engine.stats().tables.policies).toBe(0);
  });

  it('addPolicies is all-or-nothing and names the failing index', async () => {
    const engine = await createEngine();
    expect(() => engine.addPolicies([
      { dir: 'out', family: 4, action: 'bypass' },
      { dir: 'out', src: 'nonsense', action: 'bypass' },
    ])).toThrow(/policies\[1\]\.src/);
    expect(engine.stats().tables.policies).toBe(0);
  });

  it('a full policy table is ETABLEFULL and rolls back a batch add', async () => {
    const engine = await createEngine({ maxPolicies: 3 });
    engine.addPolicy({ dir: 'out', family: 4, action: 'bypass' });
    expect(() => engine.addPolicies([1, 2, 3].map((i) => ({ dir: 'out' as const, src: `10.0.0.${i}/32`, action: 'bypass' as const }))))
      .toThrowError(expect.objectContaining({ code: 'ETABLEFULL' }));
    expect(engine.stats().tables.policies).toBe(1);
  });

  it('removing an unknown policy is ENOENT; a removed id is never reused', async () => {
    const { engine, ids } = await engineWith([{ dir: 'out', family: 4, action: 'bypass' }]);
    engine.removePolicy(ids[0]);
    expect(() => engine.removePolicy(ids[0])).toThrowError(expect.objectContaining({ code: 'ENOENT' }));
    expect(engine.addPolicy({ dir: 'out', family: 4, action: 'bypass' })).not.toBe(ids[0]);
  });

  it('engine options are validated', async () => {
    await expect(createEngine({ maxPolicies: 0 })).rejects.toThrow(/options\.maxPolicies.*0/);
    await expect(createEngine({ saSelection: 'random' as never })).rejects.toThrow(/options\.saSelection/);
    await expect(createEngine({ flowCacheSz: 1 } as never)).rejects.toThrow(/options\.flowCacheSz.*unknown option/);
  });

  it('tables that do not fit in 4 GiB are ENOMEM, not a crash', async () => {
    await expect(createEngine({ maxSAs: 1 << 24 })).rejects.toMatchObject({ code: 'ENOMEM' });
  });
});

describe('R12: dump() shows the SPD with generations', () => {
  it('generations change with every policy change and dump lists policies in evaluation order', async () => {
    const { engine, ids } = await engineWith([
      { dir: 'out', src: '10.0.0.0/8', proto: 'tcp', dstPort: [80, 443], priority: 5, action: 'discard' },
      { dir: 'out', src: '10.0.0.0/8', priority: 1, action: 'protect', template: { mode: 'tunnel', src: '192.0.2.1', dst: '192.0.2.2', reqid: 4, level: 'unique' } },
    ]);
    const before = engine.dump();
    expect(before.policies.map((p) => p.id)).toEqual([ids[1], ids[0]]);
    expect(before.policies[1]).toMatchObject({ id: ids[0], dir: 'out', src: '10.0.0.0/8', dst: '0.0.0.0/0', proto: 6, dstPort: [80, 443], srcPort: [0, 65535], action: 'discard', template: null });
    expect(before.policies[0].template).toEqual({ proto: 'esp', mode: 'tunnel', level: 'unique', reqid: 4, src: '192.0.2.1', dst: '192.0.2.2' });
    expect(new Set(before.policies.map((p) => p.generation)).size).toBe(2);
    engine.removePolicy(ids[0]);
    const after = engine.dump();
    expect(after.generation).toBeGreaterThan(before.generation);
    expect(after.policies.map((p) => p.id)).toEqual([ids[1]]);
    expect(engine.getPolicy(ids[0])).toBeNull();
    expect(engine.getPolicy(ids[1])).toEqual(after.policies[0]);
  });
});
