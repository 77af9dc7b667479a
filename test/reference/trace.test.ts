import { describe, expect, it } from 'vitest';
import { parseAddress, parsePrefix } from '../../src/common/addr.js';
import { ReferenceSpd, toReferenceFlow } from '../../src/reference/linear-spd.js';
import { Rng, generateLabelledTrace, generateTrace, randomPolicySet, saSetFor } from '../../src/reference/trace.js';
import type { PolicySpec } from '../../src/engine/types.js';

const v4 = randomPolicySet({ family: 4, count: 300, seed: 7 });
const v6 = randomPolicySet({ family: 6, count: 300, seed: 8 });

function singlePolicySpd(p: PolicySpec): ReferenceSpd {
  const spd = new ReferenceSpd();
  spd.add(p, 0);
  return spd;
}

describe('Rng', () => {
  it('is deterministic by seed and stays in range', () => {
    const a = new Rng(42);
    const b = new Rng(42);
    const c = new Rng(43);
    const xs = Array.from({ length: 1000 }, () => a.next());
    expect(Array.from({ length: 1000 }, () => b.next())).toEqual(xs);
    expect(Array.from({ length: 1000 }, () => c.next())).not.toEqual(xs);
    expect(xs.every((x) => x >= 0 && x < 1)).toBe(true);
    const ints = Array.from({ length: 2000 }, () => a.int(3, 5));
    expect(new Set(ints)).toEqual(new Set([3, 4, 5]));
    expect(() => a.pick([])).toThrow();
  });

  it('covers the whole u32 range through int(0, 2^32 - 1)', () => {
    const r = new Rng(1);
    const xs = Array.from({ length: 4000 }, () => r.int(0, 0xffffffff));
    expect(Math.max(...xs)).toBeGreaterThan(0xf0000000);
    expect(Math.min(...xs)).toBeLessThan(0x10000000);
  });
});

describe('randomPolicySet', () => {
  it('is deterministic by seed', () => {
    expect(randomPolicySet({ family: 4, count: 300, seed: 7 })).toEqual(v4);
    expect(randomPolicySet({ family: 4, count: 300, seed: 9 })).not.toEqual(v4);
  });

  it('gives valid policies of the asked family and direction', () => {
    for (const [set, family] of [[v4, 4], [v6, 6]] as const) {
      const spd = new ReferenceSpd();
      set.forEach((p, i) => spd.add(p, i));
      for (const p of set) {
        const fam = p.src !== undefined ? parsePrefix(p.src, 'src').family : p.dst !== undefined ? parsePrefix(p.dst, 'dst').family : p.family;
        expect(fam).toBe(family);
        expect(p.dir).toBe('out');
      }
    }
    expect(randomPolicySet({ family: 4, count: 5, dir: 'in' }).every((p) => p.dir === 'in')).toBe(true);
  });

  it('mixes the features the differential tests need', () => {
    for (const set of [v4, v6]) {
      const has = (f: (p: PolicySpec) => boolean) => set.filter(f).length;
      expect(has((p) => p.proto === undefined)).toBeGreaterThan(30);
      expect(has((p) => p.proto === undefined && (p.srcPort !== undefined || p.dstPort !== undefined))).toBeGreaterThan(10);
      expect(has((p) => p.icmpType !== undefined || p.icmpCode !== undefined)).toBeGreaterThan(3);
      expect(has((p) => Array.isArray(p.dstPort) && p.dstPort[0] < p.dstPort[1])).toBeGreaterThan(10);
      expect(has((p) => Array.isArray(p.srcPort) && (p.srcPort[0] === 0 || p.srcPort[1] === 65535))).toBeGreaterThan(5);
      for (const action of ['bypass', 'discard', 'protect'] as const) expect(has((p) => p.action === action)).toBeGreaterThan(30);
      // Few distinct priorities -> many ties for insertion order to break.
      expect(new Set(set.map((p) => p.priority)).size).toBeLessThanOrEqual(5);
      // Templates are shared.
      const templates = new Set(set.filter((p) => p.template).map((p) => JSON.stringify(p.template)));
      expect(templates.size).toBeLessThan(10);
      expect(set.filter((p) => p.template?.mode === 'tunnel' && p.template.level === 'require').length).toBe(has((p) => p.action === 'protect'));
    }
  });

  it('overlaps heavily: inside points typically match several policies', () => {
    for (const set of [v4, v6]) {
      const { flows, origins } = generateLabelledTrace(set, 500, { seed: 3, mix: { inside: 1, corners: 0, random: 0 }, fragmentRate: 0 });
      const spds = set.map(singlePolicySpd);
      let multi = 0;
      flows.forEach((f, i) => {
        const rf = toReferenceFlow(f);
        const hits = spds.filter((s) => s.match('out', rf) !== null).length;
        expect(hits).toBeGreaterThanOrEqual(1);
        if (hits >= 2 && origins[i].kind === 'inside') multi++;
      });
      expect(multi / flows.length).toBeGreaterThan(0.5);
    }
  });
});

describe('generateTrace', () => {
  it('is deterministic by seed', () => {
    const a = generateTrace(v4, 2000, { seed: 11 });
    expect(generateTrace(v4, 2000, { seed: 11 })).toEqual(a);
    expect(generateTrace(v4, 2000, { seed: 12 })).not.toEqual(a);
    expect(generateTrace(v4, 2000)).toEqual(generateTrace(v4, 2000));
  });

  it('inside points are inside the policy they were aimed at (unless fragments of a port policy)', () => {
    for (const set of [v4, v6]) {
      const spds = set.map(singlePolicySpd);
      const { flows, origins } = generateLabelledTrace(set, 4000, { seed: 5, fragmentRate: 0.05 });
      let checked = 0;
      flows.forEach((f, i) => {
        const o = origins[i];
        if (o.kind !== 'inside') return;
        const p = set[o.policy];
        const needsTransportHeader = p.srcPort !== undefined || p.dstPort !== undefined || p.icmpType !== undefined || p.icmpCode !== undefined;
        if (f.fragment && needsTransportHeader) return;
        expect(spds[o.policy].match('out', toReferenceFlow(f)), `flow ${i} ${JSON.stringify(f)} vs ${JSON.stringify(p)}`).toBe(0);
        checked++;
      });
      expect(checked).toBeGreaterThan(1500);
    }
  });

  it('corner points sit on the first or last address of the prefixes and at range edges', () => {
    const { flows, origins } = generateLabelledTrace(v4, 3000, { seed: 6, mix: { inside: 0, corners: 1, random: 0 }, fragmentRate: 0 });
    let portEdges = 0;
    let outsideRange = 0;
    flows.forEach((f, i) => {
      const p = v4[origins[i].policy];
      for (const [addr, prefix] of [[f.src, p.src], [f.dst, p.dst]] as const) {
        const a = parseAddress(addr, 'a').words[0];
        if (prefix === undefined) {
          expect([0, 0xffffffff]).toContain(a);
          continue;
        }
        const { words, len } = parsePrefix(prefix, 'p');
        const hostMask = len === 0 ? 0xffffffff : len === 32 ? 0 : (0xffffffff >>> len);
        expect((a & ~hostMask) >>> 0).toBe(words[0]);
        expect([0, hostMask]).toContain((a & hostMask) >>> 0);
      }
      if (Array.isArray(p.dstPort) && f.dstPort !== undefined) {
        const [lo, hi] = p.dstPort;
        expect([lo, hi, Math.max(0, lo - 1), Math.min(65535, hi + 1)]).toContain(f.dstPort);
        portEdges++;
        if (f.dstPort < lo || f.dstPort > hi) outsideRange++;
      }
    });
    expect(portEdges).toBeGreaterThan(100);
    // lo-1 / hi+1 really leave the range a good part of the time.
    expect(outsideRange / portEdges).toBeGreaterThan(0.2);
  });

  it('roughly keeps the mix proportions', () => {
    const n = 20000;
    for (const mix of [undefined, { inside: 1, corners: 1, random: 2 }]) {
      const { origins } = generateLabelledTrace(v4, n, { seed: 2, mix });
      const want = mix ?? { inside: 0.5, corners: 0.2, random: 0.3 };
      const total = want.inside + want.corners + want.random;
      const share = (k: string) => origins.filter((o) => o.kind === k).length / n;
      expect(share('inside')).toBeCloseTo(want.inside / total, 1);
      expect(share('corner')).toBeCloseTo(want.corners / total, 1);
      expect(share('random')).toBeCloseTo(want.random / total, 1);
      expect(Math.abs(share('inside') - want.inside / total)).toBeLessThan(0.02);
      expect(Math.abs(share('random') - want.random / total)).toBeLessThan(0.02);
    }
  });

  it('marks the asked fraction as fragments, and fragments carry no ports or ICMP fields', () => {
    const n = 20000;
    const dflt = generateTrace(v4, n, { seed: 4 }).filter((f) => f.fragment).length / n;
    expect(Math.abs(dflt - 0.01)).toBeLessThan(0.004);
    const flows = generateTrace(v6, n, { seed: 4, fragmentRate: 0.2 });
    const frags = flows.filter((f) => f.fragment);
    expect(Math.abs(frags.length / n - 0.2)).toBeLessThan(0.015);
    for (const f of frags) expect([f.srcPort, f.dstPort, f.icmpType, f.icmpCode]).toEqual([undefined, undefined, undefined, undefined]);
    expect(generateTrace(v6, 2000, { seed: 4, fragmentRate: 0 }).some((f) => f.fragment)).toBe(false);
  });

  it('sets ports only on TCP/UDP/SCTP flows and type/code only on the family ICMP', () => {
    for (const set of [v4, v6]) {
      const family = set === v4 ? 4 : 6;
      for (const f of generateTrace(set, 5000, { seed: 9, fragmentRate: 0 })) {
        const proto = f.proto as number;
        expect(typeof proto).toBe('number');
        expect(parseAddress(f.src, 's').family).toBe(family);
        const ports = [6, 17, 132].includes(proto);
        const icmp = proto === (family === 4 ? 1 : 58);
        expect(f.srcPort !== undefined && f.dstPort !== undefined).toBe(ports);
        expect(f.icmpType !== undefined && f.icmpCode !== undefined).toBe(icmp);
      }
    }
  });

  it('random points follow the families of the policy set', () => {
    const mixed = [...v4.slice(0, 100), ...v6.slice(0, 300)];
    const flows = generateTrace(mixed, 8000, { seed: 1, mix: { inside: 0, corners: 0, random: 1 } });
    const share6 = flows.filter((f) => f.src.includes(':')).length / flows.length;
    expect(Math.abs(share6 - 0.75)).toBeLessThan(0.03);
    // Without policies every point is random and IPv4.
    expect(generateTrace([], 100, { seed: 1 }).every((f) => !f.src.includes(':'))).toBe(true);
  });
});

describe('saSetFor', () => {
  it('covers the shared templates, leaves some without SAs, and keeps SPIs unique per destination', () => {
    const policies = [...randomPolicySet({ family: 4, count: 2000, seed: 21 }), ...randomPolicySet({ family: 6, count: 2000, seed: 22 })];
    const sas = saSetFor(policies, { seed: 3, perTemplate: 4 });
    expect(saSetFor(policies, { seed: 3, perTemplate: 4 })).toEqual(sas);
    const templateKeys = new Set(policies.filter((p) => p.template).map((p) => `${p.template!.src}|${p.template!.dst}|${p.template!.reqid ?? 0}`));
    const covered = new Set(sas.map((s) => `${s.src}|${s.dst}|${s.reqid ?? 0}`));
    for (const k of covered) expect(templateKeys.has(k)).toBe(true);
    expect(covered.size).toBeGreaterThan(0);
    expect(covered.size).toBeLessThan(templateKeys.size);
    const perKey = new Map<string, number>();
    for (const s of sas) perKey.set(`${s.src}|${s.dst}|${s.reqid}`, (perKey.get(`${s.src}|${s.dst}|${s.reqid}`) ?? 0) + 1);
    expect(Math.max(...perKey.values())).toBeGreaterThan(1);
    expect(Math.max(...perKey.values())).toBeLessThanOrEqual(4);
    const spiKeys = sas.map((s) => `${s.dst}|${s.spi}`);
    expect(new Set(spiKeys).size).toBe(sas.length);
    expect(sas.every((s) => s.spi >= 256 && s.spi <= 0xffffffff && s.mode === 'tunnel')).toBe(true);
    expect(sas.some((s) => s.state === 'dying')).toBe(true);
    expect(sas.some((s) => s.state === 'mature')).toBe(true);
  });
});
