// `larval bench`: a user's own SPD (setkey config) and traffic (a capture, or a
// trace generated from the SPD) through the engine, stage by stage, with the
// linear-scan reference (src/reference/linear-spd.ts) beside each stage.

import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { createEngine, type Engine } from '../engine/engine.js';
import { packetBuffer } from '../engine/packets.js';
import { LarvalError } from '../common/errors.js';
import { formatAddress } from '../common/addr.js';
import { loadSetkey, policySpec, saSpec, applyConfig } from '../config/setkey.js';
import { openCaptureSync } from '../io/capture.js';
import { ReferenceSpd, referenceSelectSa, toReferenceFlow, type ReferenceFlow, type ReferenceSa } from '../reference/linear-spd.js';
import { generateTrace } from '../reference/trace.js';
import { buildPacket } from '../wire/build.js';
import type { Flow, PolicySpec } from '../engine/types.js';

export const BENCH_HELP = `larval bench --config FILE [--capture FILE] [options]

Measures lookups on your own SPD and traffic. The policies and SAs of a setkey(8)
configuration are installed in an engine; the packets are the IP packets of a
pcap/pcapng capture (--capture), or a trace generated from the policies. Each
stage runs in batches of 256 and reports Mpps, with the plain linear scan of the
reference SPD beside it (fed pre-parsed flows, so it pays no parsing):

  cache hit         engine.classify(): the policy of every packet from a warm flow cache
  classifier miss   engine.classify({ cache: false }): every packet through the classifier
  SA selection      engine.outbound(): the whole outbound decision (policy, SA by R6,
                    lifetime counting), warm cache; reference: scan + SA choice

Before timing, the engine's policy for every packet must equal the reference's.

Options:
  --config FILE     setkey(8) configuration                                   (required)
  --capture FILE    pcap or pcapng capture; its IP packets are taken in order
  --packets N       packets to use (default: all of the capture, max 1048576;
                    generated trace: 262144)
  --seconds S       time per measurement (default 1)
  --seed N          trace seed (default 1)
  --json            print the report as JSON
  -h, --help        this help
`;

interface Stage {
  stage: string;
  engineMpps: number;
  referenceMpps: number;
  ratio: number;
}

const BATCH = 256;

/** The selector fields of an IP packet for the reference; null when the simple parse cannot tell (IPv6 extension headers, truncation). */
export function flowOfPacket(ip: Uint8Array): Flow | null {
  const dv = new DataView(ip.buffer, ip.byteOffset, ip.byteLength);
  if (ip.length < 1) return null;
  const version = ip[0] >> 4;
  let proto: number;
  let l4: number;
  let src: string;
  let dst: string;
  let fragment = false;
  if (version === 4) {
    if (ip.length < 20) return null;
    const ihl = (ip[0] & 15) * 4;
    proto = ip[9];
    l4 = ihl;
    src = formatAddress(4, [dv.getUint32(12)]);
    dst = formatAddress(4, [dv.getUint32(16)]);
    fragment = (dv.getUint16(6) & 0x1fff) !== 0;
  } else if (version === 6) {
    if (ip.length < 40) return null;
    proto = ip[6];
    l4 = 40;
    const words = (o: number) => [dv.getUint32(o), dv.getUint32(o + 4), dv.getUint32(o + 8), dv.getUint32(o + 12)];
    src = formatAddress(6, words(8));
    dst = formatAddress(6, words(24));
    if (![6, 17, 132, 58, 50, 51].includes(proto)) return null; // extension headers: not parsed here
  } else {
    return null;
  }
  const flow: Flow = { src, dst, proto };
  if (fragment) return { ...flow, fragment: true };
  if (proto === 6 || proto === 17 || proto === 132) {
    if (ip.length < l4 + 4) return null;
    flow.srcPort = dv.getUint16(l4);
    flow.dstPort = dv.getUint16(l4 + 2);
  } else if ((proto === 1 && version === 4) || (proto === 58 && version === 6)) {
    if (ip.length < l4 + 2) return null;
    flow.icmpType = ip[l4];
    flow.icmpCode = ip[l4 + 1];
  }
  return flow;
}

function rate(seconds: number, fn: () => number): number {
  fn(); // warm
  let packets = 0;
  const start = performance.now();
  let t = start;
  do {
    packets += fn();
  } while ((t = performance.now()) - start < seconds * 1000);
  return packets / ((t - start) / 1000);
}

export async function benchCommand(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      config: { type: 'string' },
      capture: { type: 'string' },
      packets: { type: 'string' },
      seconds: { type: 'string', default: '1' },
      seed: { type: 'string', default: '1' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(BENCH_HELP);
    return;
  }
  if (values.config === undefined) throw new LarvalError('EINVAL', '--config FILE is required (larval bench --help)');
  const seconds = Number(values.seconds);
  if (!(seconds > 0 && seconds <= 600)) throw new LarvalError('EINVAL', `--seconds: expected a number of seconds in (0, 600] (got ${JSON.stringify(values.seconds)})`);
  const limit = values.packets === undefined ? undefined : Number(values.packets);
  if (limit !== undefined && !(Number.isInteger(limit) && limit > 0 && limit <= 1 << 20)) {
    throw new LarvalError('EINVAL', `--packets: expected an integer 1..1048576 (got ${JSON.stringify(values.packets)})`);
  }
  const config = await loadSetkey(values.config);
  const outPolicies: PolicySpec[] = config.policies.filter((p) => (p.dir ?? 'out') === 'out').map(policySpec);

  let packets: Uint8Array[];
  if (values.capture !== undefined) {
    packets = [];
    const max = limit ?? 1 << 20;
    for (const r of openCaptureSync(values.capture)) {
      if (r.ip === null) continue;
      packets.push(r.ip.slice());
      if (packets.length === max) break;
    }
    if (packets.length === 0) throw new LarvalError('EINVAL', `${values.capture}: no IP packets in the capture`);
  } else {
    if (outPolicies.length === 0) throw new LarvalError('EINVAL', `${values.config}: no outbound policies to generate traffic from; give --capture`);
    packets = generateTrace(outPolicies, limit ?? 1 << 18, { seed: Number(values.seed) }).map((f) => buildPacket(f));
  }
  const flows = packets.map(flowOfPacket);
  const refFlows: (ReferenceFlow | null)[] = flows.map((f) => (f === null ? null : toReferenceFlow(f)));

  const slots = Math.max(1024, 2 ** Math.ceil(Math.log2(packets.length * 2)));
  const engine: Engine = await createEngine({
    maxPolicies: Math.max(16, config.policies.length + 16),
    maxSAs: Math.max(16, config.sas.length + 16),
    flowCacheSize: slots,
  });
  const t0 = performance.now();
  const { policyIds, saIds } = applyConfig(engine, config, 0);
  const buildMs = performance.now() - t0;
  const ref = new ReferenceSpd();
  config.policies.forEach((p, i) => ref.add(policySpec(p), policyIds[i]));
  const refSas: ReferenceSa[] = config.sas.map((sa, i) => ({ ...saSpec(sa), id: saIds[i], addTime: 0, addSeq: i + 1, state: sa.state ?? 'mature' }));

  // Agreement first: the engine's policy for every packet the reference can read.
  const pb = packetBuffer(packets);
  const batches: { data: Uint8Array; offsets: Uint32Array; lengths: Uint32Array }[] = [];
  for (let i = 0; i < packets.length; i += BATCH) {
    batches.push({ data: pb.data, offsets: pb.offsets.subarray(i, i + BATCH), lengths: pb.lengths.subarray(i, i + BATCH) });
  }
  let compared = 0;
  let mismatches = 0;
  const all = engine.classify(pb, { cache: false });
  for (let i = 0; i < packets.length; i++) {
    const f = refFlows[i];
    if (f === null || all.verdict(i) === 'malformed') continue;
    compared++;
    if (all.policyId(i) !== ref.match('out', f)) mismatches++;
  }
  if (mismatches) throw new LarvalError('EINVAL', `engine and reference disagree on ${mismatches} of ${compared} packets: not measuring`);

  let k = 0;
  const next = () => {
    const b = batches[k];
    k = k + 1 === batches.length ? 0 : k + 1;
    return b;
  };
  let r = 0;
  const scan = () => {
    let n = 0;
    for (let j = 0; j < BATCH; j++) {
      const f = refFlows[r];
      r = r + 1 === refFlows.length ? 0 : r + 1;
      if (f !== null) ref.match('out', f);
      n++;
    }
    return n;
  };
  const scanAndSelect = () => {
    let n = 0;
    for (let j = 0; j < BATCH; j++) {
      const f = refFlows[r];
      const flow = flows[r];
      r = r + 1 === refFlows.length ? 0 : r + 1;
      if (f !== null && flow !== null) {
        const d = ref.decide('out', f);
        if (d.action === 'protect' && d.spec?.template) referenceSelectSa(refSas, d.spec.template, flow, 'newest');
      }
      n++;
    }
    return n;
  };
  engine.classify(pb); // fill the cache
  const stages: Stage[] = [];
  const add = (stage: string, e: number, s: number) => stages.push({ stage, engineMpps: e / 1e6, referenceMpps: s / 1e6, ratio: e / s });
  const refScan = rate(seconds, scan);
  add('cache hit', rate(seconds, () => engine.classify(next()).length), refScan);
  add('classifier miss', rate(seconds, () => engine.classify(next(), { cache: false }).length), refScan);
  let now = 1;
  add('SA selection', rate(seconds, () => engine.outbound(next(), now++).length), rate(seconds, scanAndSelect));
  engine.readEvents();

  const report = {
    config: values.config,
    capture: values.capture ?? null,
    packets: packets.length,
    policies: config.policies.length,
    sas: config.sas.length,
    buildMs: Number(buildMs.toFixed(1)),
    engineMemoryMiB: Number((engine.stats().memoryBytes / 2 ** 20).toFixed(1)),
    agreement: { compared, mismatches },
    stages: stages.map((s) => ({ ...s, engineMpps: Number(s.engineMpps.toFixed(3)), referenceMpps: Number(s.referenceMpps.toFixed(3)), ratio: Number(s.ratio.toFixed(1)) })),
  };
  if (values.json) {
    process.stdout.write(JSON.stringify(report, null, 2) + '\n');
    return;
  }
  const lines = [
    `larval bench: ${report.policies} policies, ${report.sas} SAs (installed in ${report.buildMs} ms, engine memory ${report.engineMemoryMiB} MiB), ${report.packets} packets ${report.capture ? `from ${report.capture}` : '(generated trace)'}`,
    `agreement with the linear scan: ${compared} packets compared, ${mismatches} differ${compared < packets.length ? ` (${packets.length - compared} malformed or not parsed by the reference)` : ''}`,
    '',
    'stage              engine Mpps   linear scan Mpps   engine / scan',
    ...report.stages.map((s) => `${s.stage.padEnd(18)} ${s.engineMpps.toFixed(3).padStart(11)}   ${s.referenceMpps.toFixed(3).padStart(16)}   ${s.ratio.toFixed(1).padStart(12)}x`),
  ];
  process.stdout.write(lines.join('\n') + '\n');
}
