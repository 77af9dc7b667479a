// R6 (SA choice), R17 (duplicate (SPI, dst) refused), and the SA side of R25.
import { describe, expect, it } from 'vitest';
import { createEngine, LarvalError } from '../../src/index.js';
import { engineWith, ipv4 } from './helpers.js';

const TUNNEL = { mode: 'tunnel', src: '192.0.2.1', dst: '198.51.100.1' } as const;
const protectAll = { dir: 'out', src: '10.0.0.0/8', dst: '10.0.0.0/8', action: 'protect', template: TUNNEL } as const;
const pkt = ipv4('10.0.0.1', '10.0.0.2', 17, 1000, 53);
const sa = (spi: number, extra: object = {}) => ({ spi, src: '192.0.2.1', dst: '198.51.100.1', mode: 'tunnel' as const, ...extra });

describe('R6: newest non-dying SA wins', () => {
  it('chooses the newest SA by add time', async () => {
    const { engine } = await engineWith([protectAll]);
    engine.addSA(sa(0x1001), 1000);
    const newer = engine.addSA(sa(0x1002), 2000);
    expect(engine.outbound([pkt], 2000).saId(0)).toBe(newer);
  });

  it('prefers a non-dying SA over a newer dying one', async () => {
    const { engine } = await engineWith([protectAll]);
    const mature = engine.addSA(sa(0x1001), 1000);
    engine.addSA(sa(0x1002, { state: 'dying' }), 2000);
    const v = engine.outbound([pkt], 2000);
    expect(v.saId(0)).toBe(mature);
    expect(v.spi(0)).toBe(0x1001);
  });

  it('uses a dying SA when it is the only one (R14: still used while no newer SA exists)', async () => {
    const { engine } = await engineWith([protectAll]);
    const dying = engine.addSA(sa(0x1001, { state: 'dying' }), 1000);
    expect(engine.outbound([pkt], 1000).saId(0)).toBe(dying);
  });

  it('breaks an add-time tie by the higher SPI', async () => {
    const { engine } = await engineWith([protectAll]);
    const high = engine.addSA(sa(0xf0000000), 5000);
    engine.addSA(sa(0x2000), 5000);
    expect(engine.outbound([pkt], 5000).saId(0)).toBe(high);
  });

  it("saSelection 'oldest' reproduces the legacy choice (KAME prefer_old)", async () => {
    const { engine } = await engineWith([protectAll], { saSelection: 'oldest' });
    const old = engine.addSA(sa(0x1001), 1000);
    engine.addSA(sa(0x1002), 2000);
    expect(engine.outbound([pkt], 3000).saId(0)).toBe(old);
  });

  it('falls back to the next best SA when the best is removed; with none left the packet waits for resolution, never sent in clear (R7, R23)', async () => {
    const { engine } = await engineWith([protectAll]);
    const a = engine.addSA(sa(0x1001), 1000);
    const b = engine.addSA({ ...sa(0x1002), state: 'dying' }, 2000); // newer but dying: a stays best (R6)
    expect(engine.outbound([pkt], 2500).saId(0)).toBe(a);
    engine.removeSA(a);
    expect(engine.outbound([pkt], 3000).saId(0)).toBe(b);
    engine.removeSA(b);
    const v = engine.outbound([pkt], 3000);
    expect(v.verdict(0)).toBe('queued');
    expect(v.reason(0)).toBe('resolving');
    expect(v.larvalId(0)).toBeGreaterThan(0);
    expect(engine.stats().resolution.acquires).toBe(1);
  });

  it('R15: a newer SA takes over at once; the one it replaced drains and is never used for output again', async () => {
    const { engine } = await engineWith([protectAll]);
    const a = engine.addSA(sa(0x1001), 1000);
    const b = engine.addSA(sa(0x1002), 2000);
    expect(engine.getSA(a)).toMatchObject({ state: 'draining', drainEnd: 2000 + 60_000 });
    engine.removeSA(b);
    expect(engine.outbound([pkt], 3000).verdict(0)).toBe('queued'); // R16: to resolution, not back to a
  });

  it('never chooses an SA that does not fit the template (endpoints, mode, protocol)', async () => {
    const { engine } = await engineWith([protectAll]);
    engine.addSA({ spi: 0x3001, src: '192.0.2.1', dst: '198.51.100.2', mode: 'tunnel' }, 1000); // other peer
    engine.addSA({ spi: 0x3002, src: '192.0.2.1', dst: '198.51.100.1', mode: 'transport' }, 1000); // other mode
    engine.addSA({ spi: 0x3003, src: '192.0.2.1', dst: '198.51.100.1', mode: 'tunnel', proto: 'ah' }, 1000); // other proto
    expect(engine.outbound([pkt], 1000).verdict(0)).toBe('queued');
  });

  it('honours reqid: a template with a reqid takes only SAs with that reqid; reqid 0 takes any', async () => {
    const { engine, ids } = await engineWith([
      { ...protectAll, dst: '10.1.0.0/16', template: { ...TUNNEL, reqid: 7 } },
      { ...protectAll, dst: '10.2.0.0/16', template: { ...TUNNEL, reqid: 0 } },
    ]);
    const r8 = engine.addSA(sa(0x4001, { reqid: 8 }), 1000);
    const toReqid7 = ipv4('10.0.0.1', '10.1.0.1', 17, 1, 2);
    const toAny = ipv4('10.0.0.1', '10.2.0.1', 17, 1, 2);
    let v = engine.outbound([toReqid7, toAny], 1000);
    expect(v.get(0)).toMatchObject({ verdict: 'queued', policyId: ids[0] });
    expect(v.get(1)).toMatchObject({ verdict: 'protect', saId: r8 });
    const r7 = engine.addSA(sa(0x4002, { reqid: 7 }), 1000);
    v = engine.outbound([toReqid7, toAny], 1000);
    expect(v.saId(0)).toBe(r7);
    // Both fit the any-reqid template; same add time, so the higher SPI wins.
    expect(v.saId(1)).toBe(r7);
  });

  it('transport mode: SAs are between the packet\'s own addresses', async () => {
    const { engine } = await engineWith([{ dir: 'out', src: '10.0.0.0/8', dst: '10.0.0.0/8', action: 'protect', template: { mode: 'transport' } }]);
    const ab = engine.addSA({ spi: 0x5001, src: '10.0.0.1', dst: '10.0.0.2', mode: 'transport' }, 1000);
    const v = engine.outbound([ipv4('10.0.0.1', '10.0.0.2', 6, 1, 2), ipv4('10.0.0.1', '10.0.0.3', 6, 1, 2)], 1000);
    expect(v.saId(0)).toBe(ab);
    expect(v.verdict(1)).toBe('queued');
  });

  it('transport mode: a cached flow sees its SA group appear, go and come back (group generations)', async () => {
    const { engine } = await engineWith([{ dir: 'out', src: '10.0.0.0/8', dst: '10.0.0.0/8', action: 'protect', template: { mode: 'transport' } }]);
    const p = ipv4('10.0.0.1', '10.0.0.2', 17, 1000, 53);
    const other = ipv4('10.0.0.1', '10.0.0.3', 17, 1000, 53);
    expect(engine.outbound([p, other], 1).verdict(0)).toBe('queued'); // cached: no group for this pair
    // A group for another pair must not be mistaken for this one.
    const ac = engine.addSA({ spi: 0x6001, src: '10.0.0.1', dst: '10.0.0.3', mode: 'transport' }, 2);
    let v = engine.outbound([p, other], 2);
    expect([v.verdict(0), v.saId(1)]).toEqual(['queued', ac]);
    const ab = engine.addSA({ spi: 0x6002, src: '10.0.0.1', dst: '10.0.0.2', mode: 'transport' }, 3);
    expect(engine.outbound([p], 3).saId(0)).toBe(ab);
    // The group goes away with its last SA; its slot is reused by another pair's group.
    engine.removeSA(ab);
    engine.removeSA(ac);
    const ad = engine.addSA({ spi: 0x6003, src: '10.0.0.1', dst: '10.0.0.4', mode: 'transport' }, 4);
    v = engine.outbound([p, other, ipv4('10.0.0.1', '10.0.0.4', 17, 1000, 53)], 4);
    expect([v.verdict(0), v.verdict(1), v.saId(2)]).toEqual(['queued', 'queued', ad]);
    const ab2 = engine.addSA({ spi: 0x6004, src: '10.0.0.1', dst: '10.0.0.2', mode: 'transport' }, 5);
    expect(engine.outbound([p], 5).saId(0)).toBe(ab2);
    expect(engine.stats().flowCache.misses).toBe(3); // p, other, and the 10.0.0.4 flow: the rest were hits
  });

  it("level 'use' without an SA sends in clear with reason opportunistic (R7a)", async () => {
    const { engine, ids } = await engineWith([{ ...protectAll, template: { ...TUNNEL, level: 'use' } }]);
    expect(engine.outbound([pkt], 0).get(0)).toMatchObject({ verdict: 'bypass', reason: 'opportunistic', policyId: ids[0] });
    const id = engine.addSA(sa(0x1001), 0);
    expect(engine.outbound([pkt], 0).get(0)).toMatchObject({ verdict: 'protect', saId: id });
  });
});

describe('R17: (SPI, dst) is unique', () => {
  it('refuses a duplicate (SPI, dst) with EEXIST and keeps the first SA', async () => {
    const engine = await createEngine();
    const first = engine.addSA(sa(0x1001), 0);
    expect(() => engine.addSA(sa(0x1001), 0)).toThrowError(expect.objectContaining({ code: 'EEXIST' }));
    expect(engine.dump().sas.map((s) => s.id)).toEqual([first]);
    // Same SPI to another destination is a different SA.
    engine.addSA({ ...sa(0x1001), dst: '198.51.100.9' }, 0);
    expect(engine.stats().tables.sas).toBe(2);
    // After removal the (SPI, dst) is free again.
    engine.removeSA(first);
    expect(engine.addSA(sa(0x1001), 0)).toBeGreaterThan(0);
  });
});

describe('SA table limits and errors (R25)', () => {
  it('a full SA table is an ETABLEFULL error, never a silent loss', async () => {
    const engine = await createEngine({ maxSAs: 2 });
    engine.addSA(sa(0x1001));
    engine.addSA(sa(0x1002));
    const err = (() => { try { engine.addSA(sa(0x1003)); } catch (e) { return e; } })();
    expect(err).toBeInstanceOf(LarvalError);
    expect(err).toMatchObject({ code: 'ETABLEFULL', field: 'maxSAs' });
    expect(engine.stats().tables.sas).toBe(2);
  });

  it('names the field and the value of a bad SA', async () => {
    const engine = await createEngine();
    expect(() => engine.addSA({ ...sa(0x1001), spi: 12 })).toThrow(/spi.*12/);
    expect(() => engine.addSA({ ...sa(0x1001), dst: '2001:db8::1' })).toThrow(/dst.*2001:db8::1/);
    expect(() => engine.addSA({ ...sa(0x1001), mode: 'tunel' as never })).toThrow(/mode.*tunel/);
    expect(() => engine.addSA({ ...sa(0x1001), src: '300.1.1.1' })).toThrow(/src.*300\.1\.1\.1/);
    expect(() => engine.removeSA(99)).toThrowError(expect.objectContaining({ code: 'ENOENT' }));
  });

  it('dump() returns SAs with their state and add time', async () => {
    const engine = await createEngine();
    engine.addSA({ ...sa(0x1001), reqid: 3, state: 'dying' }, 1234);
    expect(engine.dump().sas).toEqual([
      {
        id: 1, spi: 0x1001, src: '192.0.2.1', dst: '198.51.100.1', family: 4, proto: 'esp', mode: 'tunnel', reqid: 3, state: 'dying', esn: false, addTime: 1234,
        usage: { packets: 0, bytes: 0, lastSeq: 0n, firstUse: null }, drainEnd: null, transform: null,
      },
    ]);
  });
});
