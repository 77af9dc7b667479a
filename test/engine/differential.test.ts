// R4 (with R1–R3, R5, R6): the engine's matchPolicy and outbound verdicts equal the
// plain linear-scan reference for every packet of large traces, on the ClassBench
// rule sets and on random overlapping IPv4/IPv6 policy sets, also after random
// removals and additions of policies between batches (flow-cache invalidation).
import { describe, expect, it } from 'vitest';
import { createEngine, type Engine } from '../../src/index.js';
import { loadClassBench } from '../../src/config/classbench.js';
import { ReferenceSpd, referenceSelectSa, toReferenceFlow, type ReferenceSa } from '../../src/reference/linear-spd.js';
import { generateTrace, randomPolicySet, Rng, saSetFor } from '../../src/reference/trace.js';
import { buildPacket } from '../../src/wire/build.js';
import { dataFile } from '../../src/common/paths.js';
import type { Flow, PolicySpec, SaSpec, VerdictName } from '../../src/engine/types.js';

const PACKETS = 100_000;
const ROUNDS = 4;

const TUNNELS = [
  { src: '192.0.2.1', dst: '198.51.100.1' },
  { src: '192.0.2.1', dst: '198.51.100.2' },
  { src: '2001:db8::1', dst: '2001:db8::2' },
  { src: '192.0.2.1', dst: '198.51.100.9' }, // never gets an SA
];

// ClassBench rules get mixed actions; every fifth rule protects through a tunnel.
function classBenchPolicies(file: string): PolicySpec[] {
  return loadClassBench(dataFile(`classbench/${file}`), {
    action: (i) => {
      if (i % 5 === 0) {
        const t = TUNNELS[(i / 5) % TUNNELS.length];
        return { action: 'protect', template: { mode: 'tunnel', src: t.src, dst: t.dst, reqid: i % 3 === 0 ? 7 : 0, level: i % 25 === 0 ? 'use' : 'require' } };
      }
      return { action: i % 3 === 0 ? 'discard' : 'bypass' };
    },
  });
}

const TUNNEL_SAS: SaSpec[] = [
  { spi: 0x1001, src: '192.0.2.1', dst: '198.51.100.1', mode: 'tunnel' },
  { spi: 0x1002, src: '192.0.2.1', dst: '198.51.100.1', mode: 'tunnel', reqid: 7, state: 'dying' },
  { spi: 0x1003, src: '192.0.2.1', dst: '198.51.100.2', mode: 'tunnel', reqid: 7 },
  { spi: 0x1004, src: '2001:db8::1', dst: '2001:db8::2', mode: 'tunnel' },
  { spi: 0x1005, src: '2001:db8::1', dst: '2001:db8::2', mode: 'tunnel' },
];

interface World {
  engine: Engine;
  ref: ReferenceSpd;
  specs: Map<number, PolicySpec>;
  sas: ReferenceSa[];
  addSeq: number;
}

async function world(policies: PolicySpec[], sas: SaSpec[], cache: number): Promise<World> {
  // Room for a larval SA per distinct resolution key of the trace: the reference
  // does not model a full larval table.
  const engine = await createEngine({ maxPolicies: policies.length * 2 + 100, maxSAs: sas.length + 100, flowCacheSize: cache, maxLarval: 1 << 18, maxBindings: 1 << 18 });
  const w: World = { engine, ref: new ReferenceSpd(), specs: new Map(), sas: [], addSeq: 0 };
  addPolicies(w, policies);
  sas.forEach((sa, i) => {
    // Several SAs share an add time, so the SPI tie-break of R6 is exercised.
    const now = Math.floor(i / 2) * 10;
    const id = engine.addSA(sa, now);
    w.sas.push({ ...sa, id, addTime: now, addSeq: ++w.addSeq, state: sa.state ?? 'mature' });
  });
  return w;
}

function addPolicies(w: World, policies: PolicySpec[]): void {
  const ids = w.engine.addPolicies(policies);
  policies.forEach((p, i) => {
    w.ref.add(p, ids[i]);
    w.specs.set(ids[i], p);
  });
}

function expected(w: World, flow: Flow): { verdict: VerdictName; policyId: number | null; saId: number | null } {
  const d = w.ref.decide('out', toReferenceFlow(flow));
  if (d.action !== 'protect') return { verdict: d.action, policyId: d.policyId, saId: null };
  const t = d.spec!.template!;
  const sa = referenceSelectSa(w.sas, t, flow, 'newest');
  if (sa) return { verdict: 'protect', policyId: d.policyId, saId: sa.id };
  return { verdict: t.level === 'use' ? 'bypass' : 'queued', policyId: d.policyId, saId: null }; // R7, R7a
}

// Remove ~3% of policies and add as many new ones (random rules of the same set at
// random priorities), mirroring both in the reference.
function mutate(w: World, rng: Rng, pool: PolicySpec[]): void {
  const ids = [...w.specs.keys()];
  const removals = Math.max(5, Math.floor(ids.length * 0.03));
  for (let i = 0; i < removals; i++) {
    const id = ids[rng.int(0, ids.length - 1)];
    if (!w.specs.has(id)) continue;
    w.engine.removePolicy(id);
    w.ref.remove(id);
    w.specs.delete(id);
  }
  const additions: PolicySpec[] = [];
  for (let i = 0; i < removals; i++) {
    const p = pool[rng.int(0, pool.length - 1)];
    additions.push({ ...p, priority: rng.int(0, pool.length) });
  }
  addPolicies(w, additions);
}

async function differential(policies: PolicySpec[], sas: SaSpec[], options: { cache: number; seed: number }): Promise<{ checked: number; stats: ReturnType<Engine['stats']> }> {
  const w = await world(policies, sas, options.cache);
  const rng = new Rng(options.seed);
  const flows = generateTrace(policies, PACKETS, { seed: options.seed, fragmentRate: 0.02 });
  const packets = flows.map((f) => buildPacket(f));
  const per = PACKETS / ROUNDS;
  let checked = 0;
  const mismatches: string[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    if (round > 0) mutate(w, rng, policies);
    // This round's new flows, plus the previous round's again: those hit the cache
    // entries made before the mutation, which must not give stale answers.
    const from = round * per;
    const lo = Math.max(0, from - per / 2);
    const slice = packets.slice(lo, from + per);
    // Engine time is monotonic (R25): the SAs were added at up to 10 ms per pair.
    const v = w.engine.outbound(slice, w.engine.time + round + 1);
    for (let i = 0; i < slice.length; i++) {
      const flow = flows[lo + i];
      const want = expected(w, flow);
      const got = { verdict: v.verdict(i), policyId: v.policyId(i), saId: v.saId(i) };
      if (got.verdict !== want.verdict || got.policyId !== want.policyId || got.saId !== want.saId) {
        if (mismatches.length < 10) mismatches.push(`round ${round} packet ${lo + i} ${JSON.stringify(flow)}: engine ${JSON.stringify(got)} reference ${JSON.stringify(want)}`);
      }
      checked++;
    }
    // The per-flow API goes through the same cache; check a share of flows with it.
    for (let i = from; i < from + per; i += 4) {
      const got = w.engine.matchPolicy('out', flows[i]);
      const want = w.ref.match('out', toReferenceFlow(flows[i]));
      if (got !== want && mismatches.length < 10) mismatches.push(`round ${round} matchPolicy ${JSON.stringify(flows[i])}: engine ${got} reference ${want}`);
    }
  }
  expect(mismatches).toEqual([]);
  return { checked, stats: w.engine.stats() };
}

describe('R4: engine = linear-scan reference, with policy churn between batches', () => {
  for (const file of ['acl1_10k', 'fw1_10k', 'ipc1_10k']) {
    it(`ClassBench ${file}: ${PACKETS} packets and matchPolicy lookups`, async () => {
      const { checked, stats } = await differential(classBenchPolicies(file), TUNNEL_SAS, { cache: 1 << 16, seed: file.length * 7 + file.charCodeAt(0) });
      expect(checked).toBeGreaterThanOrEqual(PACKETS);
      // The structure really was used: cache hits, stale entries after removals,
      // and a classifier that did not scan everything.
      expect(stats.flowCache.hits).toBeGreaterThan(0);
      expect(stats.flowCache.stale + stats.flowCache.revalidated).toBeGreaterThan(0);
      expect(stats.classifier.rulesCompared / stats.classifier.lookups).toBeLessThan(200);
      expect(stats.verdicts.out.protect).toBeGreaterThan(0);
      expect(stats.verdicts.out.queued).toBeGreaterThan(0); // protect without an SA: queued (R7)
    });
  }

  for (const family of [4, 6] as const) {
    it(`random overlapping IPv${family} policies: ${PACKETS} packets, tiny flow cache`, async () => {
      const policies = randomPolicySet({ family, count: 3000, seed: 40 + family });
      const sas = saSetFor(policies, { seed: 50 + family, perTemplate: 3 });
      const { checked, stats } = await differential(policies, sas, { cache: 1024, seed: 60 + family });
      expect(checked).toBeGreaterThanOrEqual(PACKETS);
      expect(stats.flowCache.evictions).toBeGreaterThan(0);
      expect(stats.verdicts.out.protect).toBeGreaterThan(0);
    });
  }
});
