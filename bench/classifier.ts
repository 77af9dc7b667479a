// `npm run bench:classifier`: the classifier miss path, its build and its updates.
//
//   node --expose-gc dist/bench/classifier.js [--sets acl1_10k,fw1_10k,ipc1_10k] [--flows N] [--seconds S] [--rounds N] [--updates N]
//
// For each ClassBench set, two engines in one process: the decision trees with the
// tuple tables for the policies added since the last rebuild (the default), and the
// tuple tables alone (the classifier before issue 15). Both get the same policies
// (every tenth protected through a tunnel with an SA, as in `npm run bench`), the
// same distinct flows and a 4k-slot flow cache, so nearly every packet is a
// classifier miss; batches of 256 through `outbound`, alternating the two engines
// for N rounds, medians reported. Both must agree on every verdict first.
// Then: the time of a rebuild, of adding the whole set, the engine's memory, and
// the latency of single removals and re-adds in the full SPD.

import { parseArgs } from 'node:util';
import { createEngine, packetBuffer, type Engine } from '../src/index.js';
import { loadClassBench } from '../src/config/classbench.js';
import { generateTrace } from '../src/reference/trace.js';
import { buildPacket } from '../src/wire/build.js';
import { dataFile } from '../src/common/paths.js';
import type { Flow, PolicySpec, SaSpec } from '../src/engine/types.js';

const BATCH = 256;

interface RawExports {
  rebuildClassifier(): number;
  classifierTrees(on: number): number;
  classifierRebuilds(): number;
  classifierTreeBytes(): number;
  classifierTune(spaceFactor: number, leafRules: number): void;
}
function raw(e: Engine): RawExports {
  return (e as unknown as { x: RawExports }).x;
}

const TUNNELS = [
  { src: '192.0.2.1', dst: '198.51.100.1' },
  { src: '192.0.2.1', dst: '198.51.100.2' },
  { src: '192.0.2.1', dst: '198.51.100.3' },
  { src: '192.0.2.1', dst: '198.51.100.4' },
];

function spd(set: string): { policies: PolicySpec[]; sas: SaSpec[] } {
  const policies = loadClassBench(dataFile(`classbench/${set}`), {
    action: (i) => {
      if (i % 10 === 0) {
        const t = TUNNELS[(i / 10) % TUNNELS.length];
        return { action: 'protect', template: { mode: 'tunnel', src: t.src, dst: t.dst } };
      }
      return { action: i % 7 === 0 ? 'discard' : 'bypass' };
    },
  });
  const sas: SaSpec[] = TUNNELS.slice(0, 3).map((t, i) => ({ spi: 0x1000 + i, src: t.src, dst: t.dst, mode: 'tunnel' }));
  return { policies, sas };
}

function distinctFlows(policies: PolicySpec[], count: number, seed: number): Flow[] {
  const seen = new Set<string>();
  const out: Flow[] = [];
  for (let round = 0; out.length < count; round++) {
    for (const f of generateTrace(policies, Math.max(4096, Math.ceil((count - out.length) * 1.3)), { seed: seed + round, fragmentRate: 0 })) {
      const k = `${f.src}|${f.dst}|${f.proto}|${f.srcPort ?? f.icmpType ?? ''}|${f.dstPort ?? f.icmpCode ?? ''}`;
      if (seen.has(k)) continue;
      seen.add(k);
      out.push(f);
      if (out.length === count) break;
    }
  }
  return out;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
}

async function engineFor(policies: PolicySpec[], sas: SaSpec[], trees: boolean): Promise<{ engine: Engine; addMs: number; firstLookupMs: number; ids: number[] }> {
  const engine = await createEngine({ maxPolicies: policies.length + 16, maxSAs: 1024, flowCacheSize: 4096, maxLarval: 4096, eventRingSize: 1024 });
  if (raw(engine).classifierTrees(trees ? 1 : 0) !== 1) throw new Error('classifierTrees switch refused');
  const t0 = performance.now();
  const ids = engine.addPolicies(policies);
  const t1 = performance.now();
  // The trees are built lazily, by the first lookup after the additions: building
  // a SPD end to end is addPolicies plus that lookup.
  engine.matchPolicy('out', { src: '192.0.2.7', dst: '198.51.100.7', proto: 'tcp', srcPort: 1024, dstPort: 80 });
  const firstLookupMs = performance.now() - t1;
  const addMs = t1 - t0;
  sas.forEach((sa) => engine.addSA(sa, 0));
  return { engine, addMs, firstLookupMs, ids };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      sets: { type: 'string', default: 'acl1_10k,fw1_10k,ipc1_10k' },
      flows: { type: 'string', default: String(1 << 20) },
      seconds: { type: 'string', default: '1.5' },
      rounds: { type: 'string', default: '3' },
      updates: { type: 'string', default: '4000' },
      spfac: { type: 'string', default: '0' },
      binth: { type: 'string', default: '0' },
    },
  });
  const flowCount = Number(values.flows);
  const seconds = Number(values.seconds);
  const rounds = Number(values.rounds);
  const updates = Number(values.updates);
  console.log(`larval classifier bench — node ${process.version}, batch ${BATCH}, ${flowCount} flows, 4k-slot flow cache, ${rounds} rounds of ${seconds}s per engine`);
  const rows: string[] = [];
  for (const set of values.sets!.split(',')) {
    const { policies, sas } = spd(set);
    const flows = distinctFlows(policies, flowCount, 13);
    const pb = packetBuffer(flows.map((f) => buildPacket(f)), 16);
    const batches = Math.floor(flows.length / BATCH);
    const inputs = Array.from({ length: batches }, (_, b) => ({ data: pb.data, offsets: pb.offsets.subarray(b * BATCH, b * BATCH + BATCH), lengths: pb.lengths.subarray(b * BATCH, b * BATCH + BATCH) }));
    const tree = await engineFor(policies, sas, true);
    const tss = await engineFor(policies, sas, false);
    // Rebuild time with the tuning given (the first build ran in engineFor's first lookup).
    raw(tree.engine).classifierTune(Number(values.spfac), Number(values.binth));
    const tb = performance.now();
    raw(tree.engine).rebuildClassifier();
    const firstBuildMs = performance.now() - tb;
    // Later rebuilds (optimised WebAssembly tier), as the lazy rebuilds run.
    const builds: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t1 = performance.now();
      raw(tree.engine).rebuildClassifier();
      builds.push(performance.now() - t1);
    }
    const buildMs = median(builds);
    // Agreement on every packet, which also warms both.
    for (let b = 0; b < batches; b++) {
      const a = tree.engine.outbound(inputs[b], 1);
      const c = tss.engine.outbound(inputs[b], 1);
      for (let j = 0; j < BATCH; j++) {
        if (a.verdictCode(j) !== c.verdictCode(j) || a.policyId(j) !== c.policyId(j) || a.saId(j) !== c.saId(j)) {
          throw new Error(`${set}: trees and tables disagree on packet ${b * BATCH + j}`);
        }
      }
      tree.engine.readEvents();
      tss.engine.readEvents();
    }
    const rate: Record<string, number[]> = { tree: [], tss: [] };
    let k = 0;
    for (let r = 0; r < rounds; r++) {
      for (const [name, e] of [['tree', tree.engine], ['tss', tss.engine]] as const) {
        let n = 0;
        const t0 = performance.now();
        let t = t0;
        while (t - t0 < seconds * 1000) {
          for (let i = 0; i < 16; i++) {
            e.outbound(inputs[k], 2);
            k = k + 1 === batches ? 0 : k + 1;
          }
          n += 16 * BATCH;
          t = performance.now();
        }
        rate[name].push(n / ((t - t0) / 1000));
      }
    }
    // For scale: the same engine on 2k hot flows (8 batches), nearly all cache hits:
    // what a packet costs with no classifier work at all.
    const hot: number[] = [];
    for (let r = 0; r < rounds; r++) {
      let n = 0;
      const t0 = performance.now();
      let t = t0;
      while (t - t0 < seconds * 500) {
        for (let i = 0; i < 16; i++) tree.engine.outbound(inputs[i & 7], 2);
        n += 16 * BATCH;
        t = performance.now();
      }
      hot.push(n / ((t - t0) / 1000));
    }
    const hitMpps = median(hot) / 1e6;
    const st = tree.engine.stats();
    const treeMpps = median(rate.tree) / 1e6;
    const tssMpps = median(rate.tss) / 1e6;
    const ratios = rate.tree.map((x, i) => x / rate.tss[i]);
    // Updates: remove a random policy and add it back (a new id, last in its
    // priority's order), one call each, timed one by one.
    const x = raw(tree.engine);
    const rebuildsBefore = x.classifierRebuilds();
    const ids = [...tree.ids];
    const lat: number[] = [];
    let seed = 7;
    let rebuildMs = 0;
    for (let u = 0; u < updates; u++) {
      seed = (seed * 1103515245 + 12345) >>> 0;
      const at = seed % ids.length;
      const idx = at;
      let t0 = process.hrtime.bigint();
      tree.engine.removePolicy(ids[idx]);
      lat.push(Number(process.hrtime.bigint() - t0) / 1000);
      t0 = process.hrtime.bigint();
      ids[idx] = tree.engine.addPolicy(policies[idx]);
      lat.push(Number(process.hrtime.bigint() - t0) / 1000);
      // Lookups between updates (the lazy rebuild runs in them when it is due).
      if (u % 8 === 7) {
        const before = x.classifierRebuilds();
        const tl = performance.now();
        tree.engine.outbound(inputs[u % batches], 3);
        if (x.classifierRebuilds() !== before) rebuildMs += performance.now() - tl;
      }
    }
    const rebuildsDuring = x.classifierRebuilds() - rebuildsBefore;
    const mem = st.memoryBytes / 2 ** 20;
    const line = `${set}: misses trees ${treeMpps.toFixed(2)} Mpps, tables ${tssMpps.toFixed(2)} Mpps, trees/tables ${median(ratios).toFixed(2)}x (rounds ${ratios.map((r) => r.toFixed(2)).join(' ')}), cache hits ${hitMpps.toFixed(2)} Mpps; ` +
      `per lookup ${(st.classifier.tablesProbed / st.classifier.lookups).toFixed(2)} trees+tables, ${(st.classifier.rulesCompared / st.classifier.lookups).toFixed(2)} rules; ` +
      `build end to end ${(tree.addMs + tree.firstLookupMs).toFixed(0)} ms (addPolicies ${tree.addMs.toFixed(0)} + first lookup ${tree.firstLookupMs.toFixed(0)}); rebuild ${buildMs.toFixed(1)} ms median of 5 (first explicit ${firstBuildMs.toFixed(1)} ms; tree nodes+leaves ${((x.classifierTreeBytes() & 0x3fffffff) / 2 ** 20).toFixed(2)} MiB, attempt ${x.classifierTreeBytes() >>> 30}), engine memory ${mem.toFixed(1)} MiB (tables alone ${(tss.engine.stats().memoryBytes / 2 ** 20).toFixed(1)} MiB); ` +
      `updates: ${lat.length} calls, median ${median(lat)?.toFixed(1)} µs, p99 ${quantile(lat, 0.99)?.toFixed(1)} µs, max ${Math.max(...lat).toFixed(0)} µs; ${rebuildsDuring} lazy rebuilds (${rebuildMs.toFixed(0)} ms in lookups, ${(rebuildMs * 1000 / lat.length).toFixed(1)} µs per update amortised)`;
    console.log(line);
    rows.push(`| ${set} | ${treeMpps.toFixed(2)} | ${tssMpps.toFixed(2)} | ${median(ratios).toFixed(2)}× | ${hitMpps.toFixed(2)} | ${(tree.addMs + tree.firstLookupMs).toFixed(0)} ms | ${buildMs.toFixed(0)} ms | ${mem.toFixed(1)} MiB | ${median(lat)?.toFixed(1)} / ${quantile(lat, 0.99)?.toFixed(1)} µs |`);
    (globalThis as { gc?: () => void }).gc?.();
  }
  console.log('\n| set | misses, trees (Mpps) | misses, tables only (Mpps) | ratio | hits, 2k hot flows (Mpps) | build end to end (addPolicies + first lookup) | rebuild | engine memory | update median / p99 |');
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of rows) console.log(r);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
