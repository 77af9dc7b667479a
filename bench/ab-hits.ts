// A/B driver for the flow-cache hit path: two builds of larval in one process,
// alternating round by round on the same packets, so that the machine's load moves
// both sides alike (a ratio of adjacent rounds, not two absolute rates). Rates are
// per second of the process's CPU time, which a busy machine disturbs less than the
// wall clock.
//
//   node --expose-gc dist/bench/ab-hits.js --a DIR [--b DIR] [--rounds N] [--seconds S] [--flows N] [--slots N] [--set NAME]
//
// DIR is a larval tree with dist/ and build/ (e.g. a copy of this one made before a
// change: `mkdir -p /tmp/A && cp -r dist build package.json /tmp/A`); --b defaults to
// this tree. The scenario is bench:native's hit-1m: the acl1_10k SPD, 1M distinct
// TCP/UDP flows in a 2M-slot cache, warmed, then `outboundView()` (`outbound()` in a
// build without it, or with LARVAL_BENCH_COPY=1) over PacketBuffers of
// 256 packets. Both builds must give every flow the same policy before timing.

import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { loadClassBench } from '../src/config/classbench.js';
import { dataFile } from '../src/common/paths.js';
import { buildPacket } from '../src/wire/build.js';
import { packetBuffer, type Engine, type EngineOptions } from '../src/index.js';
import { distinctFlows } from './flows.js';
import { median, outboundAnswers, outboundCallName, outboundRound, outboundSink, type OutboundBatch } from './outbound-rounds.js';

const BATCH = 256;

interface Build {
  createEngine(options?: EngineOptions): Promise<Engine>;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      a: { type: 'string' },
      b: { type: 'string', default: path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..') },
      rounds: { type: 'string', default: '7' },
      seconds: { type: 'string', default: '1' },
      flows: { type: 'string', default: String(1 << 20) },
      slots: { type: 'string' },
      set: { type: 'string', default: 'acl1_10k' },
    },
  });
  if (!values.a) throw new Error('ab-hits: --a DIR is required (a larval tree with dist/ and build/)');
  const dirs = [path.resolve(values.a), path.resolve(values.b!)];
  const policies = loadClassBench(dataFile(`classbench/${values.set}`));
  const flowCount = Number(values.flows);
  const slots = values.slots ? Number(values.slots) : flowCount * 2;
  const flows = distinctFlows(policies, flowCount, 21, true);
  const pb = packetBuffer(flows.map((f) => buildPacket(f)), 16);
  const inputs: OutboundBatch[] = [];
  for (let i = 0; i < flows.length; i += BATCH) {
    const n = Math.min(BATCH, flows.length - i);
    inputs.push({ data: pb.data, offsets: pb.offsets.subarray(i, i + n), lengths: pb.lengths.subarray(i, i + n) });
  }
  const engines: Engine[] = [];
  for (const dir of dirs) {
    const build = (await import(pathToFileURL(path.join(dir, 'dist/src/index.js')).href)) as Build;
    const engine = await build.createEngine({ maxPolicies: policies.length + 16, maxSAs: 16, flowCacheSize: slots, maxLarval: 16, eventRingSize: 64 });
    engine.addPolicies(policies);
    engines.push(engine);
  }
  const got = engines.map((e) => outboundAnswers(e, inputs, flows.length)); // also fills the caches
  const again = engines.map((e) => outboundAnswers(e, inputs, flows.length));
  for (let i = 0; i < flows.length; i++) {
    if (got[0][i] !== got[1][i] || again[0][i] !== got[0][i] || again[1][i] !== got[1][i]) {
      throw new Error(`ab-hits: flow ${i}: A answers ${got[0][i]}/${again[0][i]}, B ${got[1][i]}/${again[1][i]}; not timing`);
    }
  }
  const rounds = Number(values.rounds);
  const seconds = Number(values.seconds);
  const states = [{ k: 0 }, { k: 0 }];
  const before = engines.map((e) => e.stats().flowCache);
  for (let s = 0; s < 2; s++) outboundRound(engines[s], inputs, 0.5, states[s]); // V8's optimised tier
  const rates: number[][] = [[], []];
  for (let r = 0; r < rounds; r++) {
    // Alternate which side goes first, so neither always runs on the warmer machine.
    const order = r % 2 ? [1, 0] : [0, 1];
    for (const s of order) rates[s].push(outboundRound(engines[s], inputs, seconds, states[s]).cpu);
  }
  const hitRate = engines.map((e, s) => {
    const st = e.stats().flowCache;
    const hits = st.hits - before[s].hits;
    return (100 * hits / Math.max(1, hits + st.misses - before[s].misses)).toFixed(3);
  });
  const ratios = rates[1].map((b, i) => b / rates[0][i]);
  console.log(`ab-hits: ${values.set}, ${flows.length} flows, ${slots} slots, ${rounds} rounds of ${seconds}s`);
  console.log(`calls: A ${outboundCallName(engines[0])}, B ${outboundCallName(engines[1])}`);
  console.log(`A ${dirs[0]}: ${(median(rates[0]) / 1e6).toFixed(2)} Mpps (${rates[0].map((x) => (x / 1e6).toFixed(2)).join(' ')}), hit rate ${hitRate[0]} %`);
  console.log(`B ${dirs[1]}: ${(median(rates[1]) / 1e6).toFixed(2)} Mpps (${rates[1].map((x) => (x / 1e6).toFixed(2)).join(' ')}), hit rate ${hitRate[1]} %`);
  console.log(`B / A: ${median(ratios).toFixed(2)} (${ratios.map((x) => x.toFixed(2)).join(' ')})`);
  if (outboundSink() === -1) console.log(outboundSink());
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exitCode = 1;
});
