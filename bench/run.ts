// `npm run bench`: the engine's batched outbound path against the plain-TypeScript
// build of the same path (bench/ts-outbound.ts), measured in one process with
// benchmark.js, one batch of 256 packets per measured call.
//
//   node --expose-gc dist/bench/run.js [--only NAME[,NAME]] [--max-time SECONDS] [--rounds N] [--json FILE]
//
// The machines are shared and noisy, so each scenario is measured in N rounds that
// alternate engine and plain TS; the report gives medians, and the ratio is the
// median of the per-round ratios (each from two adjacent measurements).
//
// Scenarios (the acceptance list):
//   cache-hit-1m   flow-cache hits, 1M distinct flows, acl1_10k SPD
//   cache-hit-4k   flow-cache hits, 4k hot flows, acl1_10k SPD
//   classify-acl1  flow-cache misses through the classifier, acl1_10k SPD
//   sa-select-1m   SA selection among 1M SAs (500k transport host pairs x 2 SAs)
//   negotiate-miss new flows that each need a negotiation: classifier, larval SA
//                  created, ACQUIRE written and read as an event object (R7, R8)
//   tick           tick(now) with 1k and 1M SAs, and per expiring SA (bench/tick.ts)
//   esp-encrypt    engine.output(): decide + ESP tunnel AES-128-GCM, 64/512/1400-octet
//                  IPv4 packets, against raw node:crypto AES-128-GCM (bench/esp.ts)
//   esp-decrypt    engine.input(): decide + verify/decrypt + inner check, against raw
//                  node:crypto AES-128-GCM decryption of the same packets (bench/esp.ts)

import '../src/engine/node-platform.js';
import Benchmark from 'benchmark';
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { createEngine, packetBuffer, type Engine } from '../src/index.js';
import { loadClassBench } from '../src/config/classbench.js';
import { Rng } from '../src/reference/trace.js';
import { buildPacket } from '../src/wire/build.js';
import { dataFile } from '../src/common/paths.js';
import type { Flow, PolicySpec, SaSpec } from '../src/engine/types.js';
import { TsOutboundPath } from './ts-outbound.js';
import { tickBench } from './tick.js';
import { measure } from './measure.js';
import { espBench, gbps, type EspResult } from './esp.js';
import { distinctFlows } from './flows.js';

const BATCH = 256;

// Packets laid out one after another, as in a capture file's read buffer: both
// implementations read them from here.
interface Capture {
  data: Uint8Array;
  offsets: Uint32Array;
  lengths: Uint32Array;
  count: number;
}

interface Scenario {
  name: string;
  what: string;
  setup(): Promise<{ engine: Engine; ts: TsOutboundPath; capture: Capture; check: () => void }>;
  /**
   * Engine time added each time the timed runs wrap around the capture (so larval
   * SAs of the last pass have expired and every flow negotiates again), and whether
   * ACQUIRE events are read after each batch.
   */
  cycleMs?: number;
  drainEvents?: boolean;
}

interface Result {
  scenario: string;
  what: string;
  packets: number;
  enginePps: number;
  tsPps: number;
  ratio: number;
  /** Per round: [engine pps, plain TS pps]. */
  rounds: Array<[number, number]>;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function progress(msg: string): void {
  if (process.stderr.isTTY) process.stderr.write(`\r\x1b[K${msg}`);
}

const TUNNELS = [
  { src: '192.0.2.1', dst: '198.51.100.1' },
  { src: '192.0.2.1', dst: '198.51.100.2' },
  { src: '192.0.2.1', dst: '198.51.100.3' },
  { src: '192.0.2.1', dst: '198.51.100.4' },
];

// acl1_10k with every tenth rule protected through one of four tunnels (three with SAs).
function acl1Spd(): { policies: PolicySpec[]; sas: SaSpec[] } {
  const policies = loadClassBench(dataFile('classbench/acl1_10k'), {
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

function capture(packets: Uint8Array[]): Capture {
  return { ...packetBuffer(packets, 16), count: packets.length }; // 16: a pcap record header
}

function slice(c: Capture, from: number, n: number) {
  return { data: c.data, offsets: c.offsets.subarray(from, from + n), lengths: c.lengths.subarray(from, from + n) };
}

async function build(policies: PolicySpec[], sas: SaSpec[], flows: Flow[], cacheSlots: number, maxSAs = 1024, maxLarval = 4096): Promise<{ engine: Engine; ts: TsOutboundPath; capture: Capture }> {
  const engine = await createEngine({ maxPolicies: policies.length + 16, maxSAs, flowCacheSize: cacheSlots, maxLarval, eventRingSize: 1024 });
  const ids = engine.addPolicies(policies);
  const ts = new TsOutboundPath({ cacheSlots, maxGroups: maxSAs * 2 + policies.length, batch: BATCH, maxPolicyId: ids[ids.length - 1] });
  policies.forEach((p, i) => ts.addPolicy(p, ids[i]));
  sas.forEach((sa, i) => {
    const id = engine.addSA(sa, 0);
    ts.addSA(sa, id, 0);
    if (i % 65536 === 0) progress(`installing SAs: ${i}/${sas.length}`);
  });
  return { engine, ts, capture: capture(flows.map((f) => buildPacket(f))) };
}

// Both implementations must give the same verdicts on every packet before timing.
function crossCheck(engine: Engine, ts: TsOutboundPath, c: Capture, label: string, limit = c.count): void {
  for (let i = 0; i < limit; i += BATCH) {
    const n = Math.min(BATCH, limit - i);
    const v = engine.outbound(slice(c, i, n), 1);
    ts.outbound(c.data, c.offsets, c.lengths, i, n, 1);
    engine.readEvents();
    ts.events.length = 0;
    for (let j = 0; j < n; j++) {
      const o = j * 4;
      const same = v.verdictCode(j) === ts.out[o] && (v.policyId(j) ?? 0) === ts.out[o + 1] && (v.saId(j) ?? 0) === ts.out[o + 2];
      if (!same) throw new Error(`${label}: engine and TS path disagree on packet ${i + j}: ${JSON.stringify(v.get(j))} vs [${ts.out.slice(o, o + 4).join(', ')}]`);
    }
    if ((i / BATCH) % 512 === 0) progress(`${label}: warming and cross-checking ${i}/${limit}`);
  }
}

const scenarios: Scenario[] = [
  {
    name: 'cache-hit-1m',
    what: 'flow-cache hits, 1M distinct flows (acl1_10k SPD)',
    async setup() {
      const { policies, sas } = acl1Spd();
      const flows = distinctFlows(policies, 1 << 20, 11);
      const r = await build(policies, sas, flows, 1 << 21);
      return { ...r, check: () => crossCheck(r.engine, r.ts, r.capture, 'cache-hit-1m') };
    },
  },
  {
    name: 'cache-hit-4k',
    what: 'flow-cache hits, 4k hot flows (acl1_10k SPD)',
    async setup() {
      const { policies, sas } = acl1Spd();
      const flows = distinctFlows(policies, 4096, 12);
      const r = await build(policies, sas, flows, 1 << 14);
      return { ...r, check: () => crossCheck(r.engine, r.ts, r.capture, 'cache-hit-4k') };
    },
  },
  {
    name: 'classify-acl1',
    what: 'flow-cache misses through the classifier (acl1_10k, 1M distinct flows, 4k-slot cache)',
    async setup() {
      const { policies, sas } = acl1Spd();
      const flows = distinctFlows(policies, 1 << 20, 13);
      const r = await build(policies, sas, flows, 4096);
      // Warm both (JIT tiers) on a slice; the timed runs then cycle through flows that
      // a 4k-slot cache cannot hold, so nearly every packet is classified.
      return { ...r, check: () => crossCheck(r.engine, r.ts, r.capture, 'classify-acl1', 32768) };
    },
  },
  {
    name: 'sa-select-1m',
    what: 'SA selection among 1M SAs (500k transport host pairs x 2 SAs, flow-cache hits)',
    async setup() {
      const pairs = 1 << 19;
      const policies: PolicySpec[] = [{ dir: 'out', src: '10.0.0.0/8', dst: '10.0.0.0/8', action: 'protect', template: { mode: 'transport' } }];
      const rng = new Rng(14);
      const flows: Flow[] = [];
      const sas: SaSpec[] = [];
      for (let i = 0; i < pairs; i++) {
        const src = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
        const dst = `10.${128 + ((i >> 16) & 127)}.${(i >> 8) & 255}.${i & 255}`;
        // An older and a newer SA per pair: R6 must pick the newer.
        sas.push({ spi: 0x10000 + 2 * i, src, dst, mode: 'transport' }, { spi: 0x10000 + 2 * i + 1, src, dst, mode: 'transport', state: rng.chance(0.1) ? 'dying' : 'mature' });
        flows.push({ src, dst, proto: 'udp', srcPort: 4000 + (i & 1023), dstPort: 53 });
      }
      for (let i = flows.length - 1; i > 0; i--) {
        const j = rng.int(0, i);
        [flows[i], flows[j]] = [flows[j], flows[i]];
      }
      const r = await build(policies, sas, flows, 1 << 20, sas.length);
      return {
        ...r,
        check: () => {
          crossCheck(r.engine, r.ts, r.capture, 'sa-select-1m');
          const v = r.engine.outbound(slice(r.capture, 0, 1024), 1);
          if (v.counts().protect !== 1024) throw new Error('sa-select-1m: not every packet found its SA');
        },
      };
    },
  },
  {
    name: 'negotiate-miss',
    what: 'new flows needing negotiation: classify, create larval SA, ACQUIRE event (256k host pairs, 4k-slot cache)',
    cycleMs: 30_001,
    drainEvents: true,
    async setup() {
      const pairs = 1 << 18;
      const policies: PolicySpec[] = [{ dir: 'out', src: '10.0.0.0/8', dst: '10.0.0.0/8', action: 'protect', template: { mode: 'transport' } }];
      const flows: Flow[] = [];
      for (let i = 0; i < pairs; i++) {
        flows.push({ src: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, dst: `10.${128 + ((i >> 16) & 127)}.${(i >> 8) & 255}.${i & 255}`, proto: 'udp', srcPort: 4000, dstPort: 53 });
      }
      const r = await build(policies, [], flows, 4096, 1024, pairs);
      return {
        ...r,
        check: () => {
          crossCheck(r.engine, r.ts, r.capture, 'negotiate-miss', 4096);
          if (r.engine.stats().resolution.acquires !== 4096) throw new Error('negotiate-miss: expected one ACQUIRE per new flow');
        },
      };
    },
  },
];

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      only: { type: 'string' },
      'max-time': { type: 'string', default: '3' },
      rounds: { type: 'string', default: '3' },
      json: { type: 'string' },
    },
  });
  const only = values.only ? new Set(values.only.split(',')) : null;
  const maxTime = Number(values['max-time']);
  const roundCount = Math.max(1, Number(values.rounds));
  const results: Result[] = [];
  console.log(`larval bench — node ${process.version}, batch ${BATCH}, benchmark.js ${Benchmark.version}, ${roundCount} rounds of max ${maxTime}s per case`);
  for (const sc of scenarios) {
    if (only && !only.has(sc.name)) continue;
    const { engine, ts, capture: c, check } = await sc.setup();
    check();
    progress('');
    const batches = Math.floor(c.count / BATCH);
    const inputs = Array.from({ length: batches }, (_, b) => slice(c, b * BATCH, BATCH));
    let k = 0;
    let j = 0;
    // Both start a full cycle after the check pass, so its larval SAs have expired.
    const cycle = sc.cycleMs ?? 0;
    let tEngine = 2 + cycle;
    let tTs = 2 + cycle;
    const drain = sc.drainEvents === true;
    const rounds: Array<[number, number]> = [];
    for (let round = 0; round < roundCount; round++) {
      const eng = await measure(`${sc.name} engine`, () => {
        engine.outbound(inputs[k], tEngine);
        if (drain) engine.readEvents();
        k = k + 1 === batches ? 0 : k + 1;
        if (k === 0) tEngine += cycle;
      }, maxTime);
      const tsb = await measure(`${sc.name} ts`, () => {
        ts.outbound(c.data, c.offsets, c.lengths, j * BATCH, BATCH, tTs);
        if (drain) ts.events.length = 0;
        j = j + 1 === batches ? 0 : j + 1;
        if (j === 0) tTs += cycle;
      }, maxTime);
      rounds.push([eng.hz * BATCH, tsb.hz * BATCH]);
      progress(`${sc.name}: round ${round + 1}/${roundCount}`);
    }
    progress('');
    const r: Result = {
      scenario: sc.name,
      what: sc.what,
      packets: c.count,
      enginePps: median(rounds.map((x) => x[0])),
      tsPps: median(rounds.map((x) => x[1])),
      ratio: median(rounds.map((x) => x[0] / x[1])),
      rounds,
    };
    results.push(r);
    const st = engine.stats();
    console.log(
      `${sc.name.padEnd(14)} engine ${(r.enginePps / 1e6).toFixed(2).padStart(7)} Mpps   ` +
      `plain TS ${(r.tsPps / 1e6).toFixed(3).padStart(7)} Mpps   ratio ${r.ratio.toFixed(1)}x ` +
      `(rounds ${r.rounds.map(([e, t]) => (e / t).toFixed(1)).join(' ')})   ` +
      `(cache hits ${st.flowCache.hits}, misses ${st.flowCache.misses}, tables/lookup ${(st.classifier.tablesProbed / Math.max(1, st.classifier.lookups)).toFixed(1)})`,
    );
    (globalThis as { gc?: () => void }).gc?.();
  }
  if (results.length) {
    console.log('\n| scenario | engine (Mpps) | plain TS (Mpps) | engine / TS |');
    console.log('|---|---:|---:|---:|');
  }
  for (const r of results) console.log(`| ${r.what} | ${(r.enginePps / 1e6).toFixed(2)} | ${(r.tsPps / 1e6).toFixed(3)} | ${r.ratio.toFixed(1)}x |`);
  if (!only || only.has('tick')) {
    const ticks = await tickBench(maxTime);
    console.log('\n| tick(now) | engine | plain-TS scan of all deadlines | scan / engine |');
    console.log('|---|---:|---:|---:|');
    for (const r of ticks) {
      console.log(`| ${r.what} | ${r.engineNs.toFixed(0)} ns${Number.isNaN(r.tsNs) ? ' per expired SA' : ''} | ${Number.isNaN(r.tsNs) ? '—' : r.tsNs.toFixed(0) + ' ns'} | ${Number.isNaN(r.ratio) ? '—' : r.ratio.toFixed(0) + 'x'} |`);
    }
  }
  const esp: EspResult[] = [];
  for (const direction of ['encrypt', 'decrypt'] as const) {
    if (!only || only.has(`esp-${direction}`)) esp.push(...await espBench(direction, maxTime, roundCount));
  }
  if (esp.length) {
    console.log('\n| ESP (tunnel, AES-128-GCM, IPv4) | inner size | larval (kpps) | larval (Gbit/s) | raw node:crypto (kpps) | raw (Gbit/s) | raw / larval |');
    console.log('|---|---:|---:|---:|---:|---:|---:|');
    for (const r of esp) {
      console.log(`| ${r.direction === 'encrypt' ? 'output(): encapsulate + encrypt' : 'input(): decrypt + decapsulate'} | ${r.size} B | ${(r.larvalPps / 1e3).toFixed(0)} | ${gbps(r.larvalPps, r.size).toFixed(2)} | ${(r.rawPps / 1e3).toFixed(0)} | ${gbps(r.rawPps, r.size).toFixed(2)} | ${r.ratio.toFixed(2)}× |`);
    }
  }
  if (values.json) writeFileSync(values.json, JSON.stringify({ node: process.version, batch: BATCH, results, esp }, null, 2));
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
