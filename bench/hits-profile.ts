// One engine, the hit-1m scenario of bench:native (or --flows N), timed rounds only:
// for `node --cpu-prof dist/bench/hits-profile.js [--flows N] [--seconds S]`.
import { parseArgs } from 'node:util';
import { loadClassBench } from '../src/config/classbench.js';
import { dataFile } from '../src/common/paths.js';
import { buildPacket } from '../src/wire/build.js';
import { createEngine, packetBuffer } from '../src/index.js';
import { distinctFlows } from './flows.js';
import { outboundAnswers, outboundRound, outboundSink, type OutboundBatch } from './outbound-rounds.js';

const { values } = parseArgs({ options: { flows: { type: 'string', default: String(1 << 20) }, seconds: { type: 'string', default: '5' } } });
const policies = loadClassBench(dataFile('classbench/acl1_10k'));
const flows = distinctFlows(policies, Number(values.flows), 21, true);
const pb = packetBuffer(flows.map((f) => buildPacket(f)), 16);
const inputs: OutboundBatch[] = [];
for (let i = 0; i < flows.length; i += 256) {
  const n = Math.min(256, flows.length - i);
  inputs.push({ data: pb.data, offsets: pb.offsets.subarray(i, i + n), lengths: pb.lengths.subarray(i, i + n) });
}
const engine = await createEngine({ maxPolicies: policies.length + 16, maxSAs: 16, flowCacheSize: flows.length * 2, maxLarval: 16, eventRingSize: 64 });
engine.addPolicies(policies);
outboundAnswers(engine, inputs, flows.length);
const state = { k: 0 };
outboundRound(engine, inputs, 0.5, state);
const r = outboundRound(engine, inputs, Number(values.seconds), state);
console.log(`${flows.length} flows: ${(r.wall / 1e6).toFixed(2)} Mpps wall, ${(r.cpu / 1e6).toFixed(2)} Mpps CPU`);
if (outboundSink() === -1) console.log(outboundSink());
