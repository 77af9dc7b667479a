// Issue 15: the lookup-only call, the staged capture-buffer path and the flow
// cache's tags. R4: whatever path a packet takes (cache hit, classifier, lookup
// only), its policy is the linear scan's (R1, R2).
import { describe, expect, it } from 'vitest';
import { createEngine, packetBuffer, type Engine, type Verdicts } from '../../src/index.js';
import { loadClassBench } from '../../src/config/classbench.js';
import { ReferenceSpd, toReferenceFlow } from '../../src/reference/linear-spd.js';
import { generateTrace, randomPolicySet, Rng } from '../../src/reference/trace.js';
import { buildPacket } from '../../src/wire/build.js';
import { dataFile } from '../../src/common/paths.js';
import type { Flow, PolicySpec } from '../../src/engine/types.js';

async function world(policies: PolicySpec[], flowCacheSize = 1 << 14): Promise<{ engine: Engine; ref: ReferenceSpd }> {
  const engine = await createEngine({ maxPolicies: policies.length + 64, flowCacheSize });
  const ids = engine.addPolicies(policies);
  const ref = new ReferenceSpd();
  policies.forEach((p, i) => ref.add(p, ids[i]));
  return { engine, ref };
}

function mixedActions(i: number): Pick<PolicySpec, 'action' | 'template'> {
  if (i % 9 === 0) return { action: 'protect', template: { mode: 'tunnel', src: '192.0.2.1', dst: '198.51.100.1' } };
  return { action: i % 4 === 0 ? 'discard' : 'bypass' };
}

const VERDICT_OF = { bypass: 'bypass', discard: 'discard', protect: 'protect' } as const;

describe('engine.classify(): lookup only (issue 15, R1–R5)', () => {
  it('agrees with outbound() and with the linear scan on acl1_1k, through the cache and without it', async () => {
    const policies = loadClassBench(dataFile('classbench/acl1_1k'), { action: mixedActions });
    const { engine, ref } = await world(policies);
    const flows = generateTrace(policies, 20_000, { seed: 15 });
    const pb = packetBuffer(flows.map((f) => buildPacket(f)), 16);
    for (const cache of [true, false, true]) {
      const v = engine.classify(pb, { cache });
      expect(v.length).toBe(flows.length);
      const got = v.toArray();
      const out = engine.outbound(pb, 1);
      for (let i = 0; i < flows.length; i++) {
        const want = ref.decide('out', toReferenceFlow(flows[i]));
        expect(got[i].policyId, `flow ${i} ${JSON.stringify(flows[i])}`).toBe(want.policyId);
        expect(got[i].verdict).toBe(VERDICT_OF[want.action]);
        expect(out.policyId(i)).toBe(want.policyId);
      }
    }
  });

  it('agrees on random overlapping IPv4/IPv6 sets, given as arrays and in batches of any size', async () => {
    for (const family of [4, 6] as const) {
      const policies = randomPolicySet({ family, count: 300, seed: 40 + family });
      const { engine, ref } = await world(policies, 256);
      const flows = generateTrace(policies, 3000, { seed: 7 + family });
      const packets = flows.map((f) => buildPacket(f));
      for (const size of [1, 100, 256, 257, 3000]) {
        for (let at = 0; at < packets.length; at += size) {
          const slice = packets.slice(at, at + size);
          const v = engine.classify(slice);
          for (let j = 0; j < slice.length; j++) {
            expect(v.policyId(j), `family ${family} size ${size} flow ${at + j}`).toBe(ref.match('out', toReferenceFlow(flows[at + j])));
          }
        }
      }
    }
  });

  it('counts no verdicts, touches no SA and starts no negotiation (R7 stays with outbound)', async () => {
    const { engine } = await world([{ dir: 'out', src: '10.0.0.0/8', dst: '10.0.0.0/8', action: 'protect', template: { mode: 'transport' } }]);
    const v = engine.classify([buildPacket({ src: '10.0.0.1', dst: '10.0.0.2', proto: 'udp', srcPort: 1, dstPort: 2 })]);
    expect(v.verdict(0)).toBe('protect');
    expect(v.saId(0)).toBeNull();
    expect(engine.stats().resolution.acquires).toBe(0);
    expect(engine.pendingEvents()).toBe(0);
    expect(engine.stats().verdicts.out.protect).toBe(0);
  });

  it('reports malformed packets with their reason (R5, R24)', async () => {
    const { engine } = await world([]);
    const v = engine.classify([new Uint8Array([0x45, 0, 0])]);
    expect(v.verdict(0)).toBe('malformed');
  });

  it('refuses a bad option with a clear error', async () => {
    const { engine } = await world([]);
    expect(() => engine.classify([], { dir: 'sideways' as never })).toThrow(/dir/);
    expect(() => engine.classify([], { cache: 'no' as never })).toThrow(/cache/);
  });
});

describe('verdicts of the staged capture-buffer path (issue 15)', () => {
  it('outbound() verdicts stay correct after later calls, one batch or many', async () => {
    const policies = randomPolicySet({ family: 4, count: 200, seed: 3 });
    const { engine, ref } = await world(policies);
    const flowsA = generateTrace(policies, 600, { seed: 1 });
    const flowsB = generateTrace(policies, 600, { seed: 2 });
    const a = packetBuffer(flowsA.map((f) => buildPacket(f)), 16);
    const b = packetBuffer(flowsB.map((f) => buildPacket(f)), 16);
    const one = engine.outbound({ ...a, count: 200 }, 1);
    const many = engine.outbound(a, 1);
    const first = many.toArray();
    engine.outbound(b, 2);
    engine.classify(b);
    engine.outbound({ ...b, count: 100 }, 3);
    for (let i = 0; i < 200; i++) expect(one.policyId(i)).toBe(ref.match('out', toReferenceFlow(flowsA[i])));
    expect(many.toArray()).toEqual(first);
    for (let i = 0; i < flowsA.length; i++) expect(many.policyId(i)).toBe(ref.match('out', toReferenceFlow(flowsA[i])));
  });

  it('a one-batch buffer larger than the arena with a bad last packet is refused before any of it runs (R25)', async () => {
    const engine = await createEngine({ arenaBytes: 65575 });
    const big = new Uint8Array(30_000);
    big.set(buildPacket({ src: '10.0.0.1', dst: '10.0.0.2', proto: 'udp', srcPort: 1, dstPort: 2 }));
    const data = new Uint8Array(4 * 30_000);
    for (let i = 0; i < 4; i++) data.set(big, i * 30_000);
    const offsets = Uint32Array.of(0, 30_000, 60_000, 90_000);
    // The arena holds two at a time; the fourth ends past the data.
    expect(() => engine.outbound({ data, offsets, lengths: Uint32Array.of(30_000, 30_000, 30_000, 30_001) }, 1)).toThrow(/lengths\[3\]/);
    expect(() => engine.outbound({ data, offsets, lengths: Uint32Array.of(30_000, 30_000, 30_000, 30_000), wireLengths: Uint32Array.of(30_000, 30_000, 30_000, 29_999) }, 1)).toThrow(/wireLengths\[3\]/);
    expect(engine.stats().packets.out).toBe(0);
    // The same packets, all good, in two arena loads: every packet has its verdict
    // (a one-batch input split by the arena once returned only the last load's).
    const good = { data, offsets, lengths: Uint32Array.of(30_000, 30_000, 30_000, 30_000) };
    const v = engine.outbound(good, 1);
    expect(v.length).toBe(4);
    expect(v.counts().bypass).toBe(4);
    expect(engine.stats().packets.out).toBe(4);
    const view = engine.outboundView(good, 1);
    expect(view.length).toBe(4);
    expect(view.counts().bypass).toBe(4);
  });

  it('a classify() view is reused by the next classify(); its toArray() copy is not', async () => {
    const { engine } = await world([{ dir: 'out', dst: '10.0.0.0/8', action: 'discard' }]);
    const hit = buildPacket({ src: '1.1.1.1', dst: '10.0.0.1', proto: 'udp', srcPort: 1, dstPort: 2 });
    const miss = buildPacket({ src: '1.1.1.1', dst: '11.0.0.1', proto: 'udp', srcPort: 1, dstPort: 2 });
    const first = engine.classify(packetBuffer([hit]));
    const kept = first.toArray();
    engine.classify(packetBuffer([miss]));
    expect(kept[0].verdict).toBe('discard');
    expect(first.verdict(0)).toBe('bypass'); // documented: a view, valid until the next call
  });

  it('bad offsets in a typed-array buffer are still refused before anything is decided, naming the entry (R25)', async () => {
    const { engine } = await world([]);
    const data = new Uint8Array(200);
    const bad = { data, offsets: Uint32Array.of(0, 100, 50), lengths: Uint32Array.of(20, 20, 20) };
    expect(() => engine.outbound(bad, 1)).toThrow(/offsets\[2\]/);
    expect(() => engine.outbound({ data, offsets: Uint32Array.of(0, 190), lengths: Uint32Array.of(20, 20) }, 1)).toThrow(/lengths\[1\]/);
    expect(engine.stats().verdicts.out.malformed).toBe(0);
  });
});

describe('flow-cache tags (issue 15, R4)', () => {
  it('flows whose hashes and tags collide are still told apart by the full key', async () => {
    const policies = randomPolicySet({ family: 4, count: 150, seed: 77 });
    const { engine, ref } = await world(policies, 64);
    // Every flow hash becomes one of four values: all flows share a handful of homes
    // and tags, the 8-slot windows overflow, and only the key compare can decide.
    (engine as unknown as { x: { setHashMaskForTesting(m: number): void } }).x.setHashMaskForTesting(3);
    try {
      const flows: Flow[] = generateTrace(policies, 2000, { seed: 5 });
      const packets = flows.map((f) => buildPacket(f));
      const rng = new Rng(9);
      for (let round = 0; round < 4; round++) {
        const order = packets.map((_, i) => i).sort(() => rng.next() - 0.5);
        const v = engine.outbound(order.map((i) => packets[i]), round + 1);
        const c = engine.classify(order.map((i) => packets[i]));
        order.forEach((fi, j) => {
          const want = ref.match('out', toReferenceFlow(flows[fi]));
          expect(v.policyId(j), `round ${round} flow ${fi}`).toBe(want);
          expect(c.policyId(j)).toBe(want);
        });
      }
      const st = engine.stats().flowCache;
      expect(st.hits).toBeGreaterThan(0);
      expect(st.evictions).toBeGreaterThan(0);
    } finally {
      (engine as unknown as { x: { setHashMaskForTesting(m: number): void } }).x.setHashMaskForTesting(0xffffffff);
    }
  });

  it('IPv4 and IPv6 flows sharing buckets and tags, with transport SAs and policy changes, keep the linear scan\'s answers (R4, R6)', async () => {
    // Both families in the same buckets: every hash narrowed to one of four values and
    // a cache of 64 slots, so entries of either family evict each other all the time.
    const v4 = randomPolicySet({ family: 4, count: 80, seed: 91 });
    const v6 = randomPolicySet({ family: 6, count: 80, seed: 92 });
    // Every fifth policy protects with a transport template: its SA group depends on
    // the flow's addresses and is remembered in the flow's cache entry.
    const policies: PolicySpec[] = [...v4, ...v6].map((p, i) => {
      const { template: _t, ...rest } = p;
      return i % 5 === 0 ? { ...rest, action: 'protect', template: { mode: 'transport' } } : { ...rest, action: i % 3 ? 'bypass' : 'discard' };
    });
    const engine = await createEngine({ maxPolicies: 256, maxSAs: 1024, flowCacheSize: 64, maxLarval: 4096 });
    const ids = engine.addPolicies(policies);
    const ref = new ReferenceSpd();
    policies.forEach((p, i) => ref.add(p, ids[i]));
    const x = (engine as unknown as { x: { setHashMaskForTesting(m: number): void } }).x;
    x.setHashMaskForTesting(3);
    try {
      // 80 flows, each five times a round: some hits, and more keys than the four
      // buckets hold.
      const distinct: Flow[] = [...generateTrace(v4, 40, { seed: 3 }), ...generateTrace(v6, 40, { seed: 4 })];
      const flows = [0, 1, 2, 3, 4].flatMap(() => distinct);
      const packets = flows.map((f) => buildPacket(f));
      const sas = new Map<string, number>();
      const rng = new Rng(17);
      let protectedBySa = 0;
      for (let round = 0; round < 12; round++) {
        const order = packets.map((_, i) => i).sort(() => rng.next() - 0.5);
        const v = engine.outbound(order.map((i) => packets[i]), round + 1);
        order.forEach((fi, j) => {
          const want = ref.decide('out', toReferenceFlow(flows[fi]));
          expect(v.policyId(j), `round ${round} flow ${fi}`).toBe(want.policyId);
          if (want.action === 'protect') {
            // R6: the transport SA between the flow's own addresses, when there is one.
            const sa = sas.get(`${flows[fi].src}>${flows[fi].dst}`) ?? null;
            expect(v.saId(j), `round ${round} flow ${fi}`).toBe(sa);
            if (sa !== null) protectedBySa++;
          }
        });
        // Transport SAs for some flows' address pairs: cached groups must follow.
        for (let k = 0; k < 6; k++) {
          const f = distinct[rng.int(0, distinct.length - 1)];
          const key = `${f.src}>${f.dst}`;
          if (!sas.has(key)) sas.set(key, engine.addSA({ spi: 0x10000 + sas.size, src: f.src, dst: f.dst, mode: 'transport' }, round + 1));
        }
        // A policy of each family removed and added back (it goes to the end of the order).
        for (const base of [0, 80]) {
          const i = base + rng.int(0, 79);
          engine.removePolicy(ids[i]);
          ref.remove(ids[i]);
          ids[i] = engine.addPolicy(policies[i]);
          ref.add(policies[i], ids[i]);
        }
      }
      const st = engine.stats().flowCache;
      expect(st.hits).toBeGreaterThan(500);
      expect(st.evictions).toBeGreaterThan(500);
      expect(protectedBySa).toBeGreaterThan(0);
    } finally {
      x.setHashMaskForTesting(0xffffffff);
    }
  });
});

describe('engine.outboundView(): outbound() read in place (issue 15)', () => {
  // Two engines fed the same calls, one through outbound(), one through outboundView():
  // every record must be the same, including SA selection (R6), sequence numbers
  // (R13), larval SAs and their ACQUIREs (R7, R8), and the counters.
  async function twin(): Promise<Engine[]> {
    const engines: Engine[] = [];
    const saIds: number[] = [];
    for (let k = 0; k < 2; k++) {
      const engine = await createEngine({ maxPolicies: 64, maxSAs: 64, flowCacheSize: 512, batchSize: 64, maxLarval: 32 });
      engine.addPolicies([
        { dir: 'out', src: '10.1.0.0/16', dst: '10.2.0.0/16', action: 'protect', template: { mode: 'tunnel', src: '192.0.2.1', dst: '198.51.100.1' } },
        { dir: 'out', src: '10.3.0.0/16', dst: '10.4.0.0/16', action: 'protect', template: { mode: 'transport' } },
        { dir: 'out', src: '10.5.0.0/16', dst: '10.0.0.0/8', action: 'protect', template: { mode: 'tunnel', src: '192.0.2.1', dst: '198.51.100.9' } },
        { dir: 'out', src: '10.6.0.0/16', dst: '10.0.0.0/8', action: 'protect', template: { mode: 'transport', level: 'use' } },
        { dir: 'out', src: '10.7.0.0/16', action: 'discard' },
        { dir: 'out', src: '2001:db8:1::/48', dst: '2001:db8:2::/48', action: 'protect', template: { mode: 'tunnel', src: '2001:db8::1', dst: '2001:db8::2' } },
        { dir: 'out', src: '2001:db8:7::/48', action: 'discard' },
      ]);
      saIds.push(engine.addSA({ spi: 0x1001, src: '192.0.2.1', dst: '198.51.100.1', mode: 'tunnel' }, 1));
      engine.addSA({ spi: 0x2001, src: '10.3.0.1', dst: '10.4.0.1', mode: 'transport' }, 1);
      engine.addSA({ spi: 0x3001, src: '2001:db8::1', dst: '2001:db8::2', mode: 'tunnel' }, 1);
      engines.push(engine);
    }
    expect(saIds[1]).toBe(saIds[0]);
    return engines;
  }

  function packetOf(rng: Rng): Uint8Array {
    const n = rng.int(0, 7);
    const v6 = rng.next() < 0.2;
    const port = rng.int(1, 4);
    if (rng.next() < 0.02) return new Uint8Array([0x45, 0, 0, rng.int(0, 255)]); // malformed (R5)
    if (v6) {
      const pre = ['2001:db8:1::', '2001:db8:7::', '2001:db8:9::'][n % 3];
      return buildPacket({ src: `${pre}${rng.int(1, 3)}`, dst: `2001:db8:2::${rng.int(1, 3)}`, proto: 'tcp', srcPort: 1000 + port, dstPort: 80 });
    }
    return buildPacket({ src: `10.${n}.0.${rng.int(1, 3)}`, dst: `10.${n === 0 ? 9 : n + 1}.0.${rng.int(1, 3)}`, proto: rng.next() < 0.5 ? 'udp' : 'tcp', srcPort: 2000 + port, dstPort: 53 });
  }

  it('gives exactly the records outbound() gives, batch after batch, with SAs coming and going', async () => {
    const [copy, view] = await twin();
    const rng = new Rng(1515);
    let now = 10;
    const kept: { records: ReturnType<Verdicts['toArray']>; seqs: (bigint | null)[]; v: Verdicts }[] = [];
    for (let round = 0; round < 300; round++) {
      const size = [1, 3, 64, 65, 200][round % 5];
      const packets = Array.from({ length: size }, () => packetOf(rng));
      const input = round % 2 ? packetBuffer(packets, 16) : packets;
      now += 5;
      const a = copy.outbound(input, now);
      const b = view.outboundView(input, now);
      expect(b.length).toBe(a.length);
      const want = a.toArray();
      expect(b.toArray(), `round ${round}`).toEqual(want);
      for (let i = 0; i < a.length; i++) {
        expect(b.seq(i)).toBe(a.seq(i));
        expect(b.l4Offset(i)).toBe(a.l4Offset(i));
      }
      if (round % 37 === 0) kept.push({ records: want, seqs: want.map((_, i) => a.seq(i)), v: a });
      // SAs come and go between batches: SA selection (R6), then resolution (R7) when none is left.
      if (round === 100) for (const e of [copy, view]) e.removeSA(1); // the first SA added (twin() checks the ids agree)
      if (round === 150) for (const e of [copy, view]) e.addSA({ spi: 0x1002, src: '192.0.2.1', dst: '198.51.100.1', mode: 'tunnel' }, now);
      if (round === 200) for (const e of [copy, view]) e.addSA({ spi: 0x5001, src: '192.0.2.1', dst: '198.51.100.9', mode: 'tunnel' }, now);
    }
    // The mix did exercise SA selection and resolution on both sides.
    const st = [copy.stats(), view.stats()];
    expect(st[1].verdicts).toEqual(st[0].verdicts);
    expect(st[1].resolution).toEqual(st[0].resolution);
    expect(st[0].verdicts.out.protect).toBeGreaterThan(100);
    expect(st[0].verdicts.out.queued).toBeGreaterThan(0);
    expect(st[0].verdicts.out.discard).toBeGreaterThan(0);
    expect(st[0].verdicts.out.malformed).toBeGreaterThan(0);
    expect(st[0].resolution.acquires).toBeGreaterThan(0);
    expect(view.readEvents()).toEqual(copy.readEvents());
    // outbound()'s results stay valid across later calls (the gateway keeps them).
    for (const k of kept) {
      expect(k.v.toArray()).toEqual(k.records);
      expect(k.records.map((_, i) => k.v.seq(i))).toEqual(k.seqs);
    }
  });

  it('is a view: the next call changes it (one batch and many), while its toArray() copy stays', async () => {
    const [engine] = await twin();
    const discard = buildPacket({ src: '10.7.0.1', dst: '1.1.1.1', proto: 'udp', srcPort: 1, dstPort: 2 });
    const clear = buildPacket({ src: '1.1.1.1', dst: '11.0.0.1', proto: 'udp', srcPort: 1, dstPort: 2 });
    for (const size of [1, 100]) { // one batch of 64, and two
      const first = engine.outboundView(packetBuffer(Array(size).fill(discard)), 1);
      const kept = first.toArray();
      expect(first.verdict(0)).toBe('discard');
      engine.outboundView(packetBuffer(Array(size).fill(clear)), 1);
      expect(kept[0].verdict).toBe('discard');
      expect(first.verdict(0)).toBe('bypass'); // documented: valid only until the next call
      expect(first.verdict(size - 1)).toBe('bypass');
    }
    // outbound() copies: the same sequence leaves its result alone.
    const copied = engine.outbound(packetBuffer([discard]), 1);
    engine.outboundView(packetBuffer([clear]), 1);
    expect(copied.verdict(0)).toBe('discard');
  });
});
