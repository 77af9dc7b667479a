// `npm run bench:native`: larval against native DPDK on the same rules and flows.
//
//   node --expose-gc dist/bench/native.js [--rounds N] [--seconds S] [--only NAME[,NAME]] [--flows N]
//
// Scenarios:
//   miss-acl1, miss-fw1, miss-ipc1
//        classifier misses: larval `outboundView` (outbound() whose verdicts are read in
//        place; LARVAL_BENCH_COPY=1: `outbound`) with a 4k-slot flow cache, so every one
//        of the 1M distinct flows misses and is classified, against rte_acl_classify
//        (default algorithm, and the scalar one) on the same ClassBench rules;
//   hit-1m
//        flow-cache hits: the 1M acl1 flows in a 2M-slot cache (warm), against
//        rte_hash_lookup_bulk on a 2M-entry rte_hash holding the same flows (the
//        ready 16-byte keys: the issue's anchor), and, alternated with it, rte_hash
//        fed the same raw packets as larval, each key taken out of its packet first.
//
// The C programs (bench/native/*.c) are benchmark tooling only: they are compiled
// here with `cc $(pkg-config --cflags --libs libdpdk)` into build/native/, and the
// whole run is skipped, saying why, when cc, pkg-config or libdpdk-dev is missing.
// Before timing, every answer (the first matching rule by ClassBench line order, or
// none) must be identical on both sides. The sides then alternate round by round;
// a ratio is the median of the per-round ratios of adjacent measurements.

import { execFileSync, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createEngine, packetBuffer, type Engine } from '../src/index.js';
import { loadClassBench } from '../src/config/classbench.js';
import { parseAddress, parsePrefix } from '../src/common/addr.js';
import { protocolNumber } from '../src/common/protocols.js';
import { buildPacket } from '../src/wire/build.js';
import { dataFile, findUp } from '../src/common/paths.js';
import type { Flow, PolicySpec } from '../src/engine/types.js';
import { distinctFlows } from './flows.js';
import { median, outboundAnswers, outboundCallName, outboundRound, outboundSink } from './outbound-rounds.js';

const BATCH = 256;


function has(cmd: string, args: string[]): boolean {
  try {
    execFileSync(cmd, args, { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Why the native side cannot run here, or null. */
function missing(): string | null {
  if (process.platform !== 'linux') return `DPDK anchors run on Linux only (this is ${process.platform})`;
  if (!has('cc', ['--version'])) return 'no C compiler (cc) on PATH';
  if (!has('pkg-config', ['--version'])) return 'pkg-config is not installed';
  if (!has('pkg-config', ['--exists', 'libdpdk'])) return 'libdpdk-dev is not installed (pkg-config cannot find libdpdk)';
  return null;
}

function compile(root: string, outDir: string): { acl: string; hash: string } {
  const flags = execFileSync('pkg-config', ['--cflags', '--libs', 'libdpdk'], { encoding: 'utf8' }).trim().split(/\s+/);
  const out = { acl: path.join(outDir, 'acl'), hash: path.join(outDir, 'hash') };
  for (const name of ['acl', 'hash'] as const) {
    execFileSync('cc', ['-O3', '-o', out[name], path.join(root, 'bench/native', `${name}.c`), ...flags], { stdio: 'inherit' });
  }
  return out;
}

// ---------------------------------------------------------------------------
// Files the C programs read (layouts in bench/native/common.h)

function ipv4Word(a: string): number {
  const p = parseAddress(a, 'address');
  if (p.family !== 4) throw new Error(`bench:native: IPv4 only (got ${a})`);
  return p.words[0] >>> 0;
}

function rulesFile(policies: PolicySpec[]): Uint8Array {
  const w = new Uint32Array(policies.length * 9);
  policies.forEach((p, i) => {
    const src = parsePrefix(p.src ?? '0.0.0.0/0', 'src');
    const dst = parsePrefix(p.dst ?? '0.0.0.0/0', 'dst');
    if (src.family !== 4 || dst.family !== 4) throw new Error('bench:native: IPv4 rules only');
    const range = (r: PolicySpec['srcPort']): [number, number] => (r === undefined ? [0, 65535] : typeof r === 'number' ? [r, r] : [r[0], r[1]]);
    const [splo, sphi] = range(p.srcPort);
    const [dplo, dphi] = range(p.dstPort);
    const proto = p.proto === undefined ? 0 : protocolNumber(p.proto) | (0xff << 8);
    w.set([src.words[0] >>> 0, src.len, dst.words[0] >>> 0, dst.len, splo, sphi, dplo, dphi, proto], i * 9);
  });
  return new Uint8Array(w.buffer);
}

function flowsFile(flows: Flow[]): Uint8Array {
  const buf = new Uint8Array(flows.length * 16);
  const dv = new DataView(buf.buffer);
  flows.forEach((f, i) => {
    const o = i * 16;
    dv.setUint8(o, protocolNumber(f.proto));
    dv.setUint32(o + 4, ipv4Word(f.src), false);
    dv.setUint32(o + 8, ipv4Word(f.dst), false);
    dv.setUint16(o + 12, f.srcPort ?? 0, false);
    dv.setUint16(o + 14, f.dstPort ?? 0, false);
  });
  return buf;
}

/** larval's input batches as one file (layout in bench/native/common.h). */
function packetsFile(inputs: { data: Uint8Array; offsets: ArrayLike<number>; lengths: ArrayLike<number> }[]): Uint8Array {
  const n = inputs.reduce((a, b) => a + b.offsets.length, 0);
  const data = inputs[0]?.data ?? new Uint8Array(0);
  if (inputs.some((b) => b.data !== data)) throw new Error('bench:native: the batches must share one buffer');
  const head = new Uint32Array(1 + 2 * n);
  head[0] = n;
  let i = 0;
  for (const b of inputs) {
    for (let k = 0; k < b.offsets.length; k++, i++) {
      head[1 + i] = b.offsets[k];
      head[1 + n + i] = b.lengths[k];
    }
  }
  const out = new Uint8Array(head.byteLength + data.length);
  out.set(new Uint8Array(head.buffer), 0);
  out.set(data, head.byteLength);
  return out;
}

// ---------------------------------------------------------------------------
// The two sides

class NativeSide {
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly lines: AsyncIterator<string>;
  ready: Record<string, number> = {};

  constructor(bin: string, args: string[]) {
    this.child = spawn(bin, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stderr.on('data', (d: Buffer) => process.stderr.write(`[${path.basename(bin)}] ${d}`));
    this.lines = createInterface({ input: this.child.stdout })[Symbol.asyncIterator]();
  }

  private async line(): Promise<string> {
    const r = await this.lines.next();
    if (r.done) throw new Error('bench:native: the native program ended early (see its output above)');
    return r.value;
  }

  async start(): Promise<void> {
    const l = await this.line();
    if (!l.startsWith('ready')) throw new Error(`bench:native: unexpected line ${l}`);
    for (const kv of l.slice(6).split(' ')) {
      const [k, v] = kv.split('=');
      this.ready[k] = Number(v);
    }
  }

  /** One timed round: packets per wall second, and per CPU second of the program (`cpu`). */
  async run(seconds: number, alg = 'default'): Promise<number> {
    this.child.stdin.write(`run ${seconds} ${alg}\n`);
    const l = await this.line();
    const m = /^mpps ([\d.]+)/.exec(l);
    if (!m) throw new Error(`bench:native: unexpected line ${l}`);
    this.cpu = Number(/cpu_mpps ([\d.]+)/.exec(l)?.[1] ?? NaN) * 1e6;
    return Number(m[1]) * 1e6;
  }

  cpu = NaN;

  async quit(): Promise<void> {
    this.child.stdin.end('quit\n');
    await new Promise((resolve) => this.child.on('close', resolve));
  }
}

interface LarvalSide {
  engine: Engine;
  inputs: { data: Uint8Array; offsets: Uint32Array; lengths: Uint32Array }[];
  /** addPolicies, then the first lookup, which builds the classifier's trees (they are built lazily). */
  addMs: number;
  firstLookupMs: number;
}

async function larvalSide(policies: PolicySpec[], flows: Flow[], cacheSlots: number): Promise<LarvalSide> {
  const engine = await createEngine({ maxPolicies: policies.length + 16, maxSAs: 16, flowCacheSize: cacheSlots, maxLarval: 16, eventRingSize: 64 });
  const t0 = performance.now();
  const ids = engine.addPolicies(policies);
  const t1 = performance.now();
  engine.matchPolicy('out', flows[0]);
  const firstLookupMs = performance.now() - t1;
  const addMs = t1 - t0;
  ids.forEach((id, i) => {
    if (id !== i + 1) throw new Error('bench:native: expected policy ids 1..n in rule order');
  });
  const pb = packetBuffer(flows.map((f) => buildPacket(f)), 16);
  const inputs = [];
  for (let i = 0; i < flows.length; i += BATCH) {
    const n = Math.min(BATCH, flows.length - i);
    inputs.push({ data: pb.data, offsets: pb.offsets.subarray(i, i + n), lengths: pb.lengths.subarray(i, i + n) });
  }
  return { engine, inputs, addMs, firstLookupMs };
}

function agree(label: string, mine: Uint32Array, theirs: Uint32Array): void {
  if (mine.length !== theirs.length) throw new Error(`${label}: ${mine.length} larval answers vs ${theirs.length} native`);
  let bad = 0;
  let first = -1;
  for (let i = 0; i < mine.length; i++) {
    if (mine[i] !== theirs[i]) {
      if (first < 0) first = i;
      bad++;
    }
  }
  if (bad) throw new Error(`${label}: ${bad} of ${mine.length} answers differ (first: flow ${first}, larval rule ${mine[first]}, native ${theirs[first]}); not timing`);
  console.log(`${label}: all ${mine.length} answers identical`);
}

interface Row {
  scenario: string;
  larval: number[];
  native: number[];
  /** The same rounds per CPU second of each side: what compares on a loaded machine. */
  larvalCpu: number[];
  nativeCpu: number[];
  /** A second native variant, alternated with the others: rte_acl's scalar algorithm,
   *  or rte_hash taking each key out of the same raw packets larval is fed. */
  variant?: { name: string; rates: number[] };
  notes: string;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      rounds: { type: 'string', default: '5' },
      seconds: { type: 'string', default: '1.5' },
      only: { type: 'string' },
      flows: { type: 'string', default: String(1 << 20) },
    },
  });
  const why = missing();
  if (why) {
    console.log(`bench:native skipped: ${why}. It needs a Linux machine with a C compiler, pkg-config and libdpdk-dev (Debian: apt-get install build-essential pkg-config libdpdk-dev); larval itself needs none of them.`);
    return;
  }
  const root = path.dirname(findUp('package.json', path.dirname(fileURLToPath(import.meta.url)))!);
  const outDir = path.join(root, 'build/native');
  mkdirSync(outDir, { recursive: true });
  const bins = compile(root, outDir);
  const rounds = Math.max(1, Number(values.rounds));
  const seconds = Number(values.seconds);
  const flowCount = Number(values.flows);
  const only = values.only ? new Set(values.only.split(',')) : null;
  const dpdk = execFileSync('pkg-config', ['--modversion', 'libdpdk'], { encoding: 'utf8' }).trim();
  console.log(`bench:native — node ${process.version}, DPDK ${dpdk}, ${os.cpus()[0]?.model ?? '?'} x${os.cpus().length}, ${rounds} alternating rounds of ${seconds}s per side, batches of ${BATCH}`);

  const rows: Row[] = [];
  let callName = 'outbound';
  const builds: string[] = [];
  let acl1: { policies: PolicySpec[]; flows: Flow[] } | null = null;
  for (const set of ['acl1_10k', 'fw1_10k', 'ipc1_10k']) {
    const name = `miss-${set.split('_')[0]}`;
    const wantHit = set === 'acl1_10k' && (!only || only.has('hit-1m'));
    if (only && !only.has(name) && !wantHit) continue;
    const policies = loadClassBench(dataFile(`classbench/${set}`));
    const flows = distinctFlows(policies, flowCount, 21, true);
    if (set === 'acl1_10k') acl1 = { policies, flows };
    if (only && !only.has(name)) continue;
    const rulesPath = path.join(outDir, `${set}.rules`);
    const flowsPath = path.join(outDir, `${set}.flows`);
    const answersPath = path.join(outDir, `${set}.acl-answers`);
    writeFileSync(rulesPath, rulesFile(policies));
    writeFileSync(flowsPath, flowsFile(flows));
    const side = await larvalSide(policies, flows, 4096);
    callName = outboundCallName(side.engine);
    const native = new NativeSide(bins.acl, [rulesPath, flowsPath, answersPath]);
    await native.start();
    const theirs = new Uint32Array(readFileSync(answersPath).buffer.slice(0));
    agree(`${set}: larval classifier vs rte_acl`, outboundAnswers(side.engine, side.inputs, flows.length), theirs);
    builds.push(`| ${set} (${policies.length} rules) | ${(side.addMs + side.firstLookupMs).toFixed(0)} ms (addPolicies ${side.addMs.toFixed(0)} + first lookup, which builds the trees, ${side.firstLookupMs.toFixed(0)}), engine memory ${(side.engine.stats().memoryBytes / 2 ** 20).toFixed(1)} MiB | ${native.ready.build_ms.toFixed(0)} ms, RSS +${((native.ready.rss_kib - native.ready.rss_before_kib) / 1024).toFixed(0)} MiB (peak ${(native.ready.hwm_kib / 1024).toFixed(0)} MiB) |`);
    const row: Row = { scenario: `classifier misses, ${set} (4k-slot cache)`, larval: [], native: [], larvalCpu: [], nativeCpu: [], variant: { name: 'rte_acl scalar', rates: [] }, notes: '' };
    const state = { k: 0 };
    outboundRound(side.engine, side.inputs, 0.5, state); // warm: V8's optimised WebAssembly tier
    await native.run(0.5);
    for (let r = 0; r < rounds; r++) {
      const rate = outboundRound(side.engine, side.inputs, seconds, state);
      row.larval.push(rate.wall);
      row.larvalCpu.push(rate.cpu);
      row.native.push(await native.run(seconds));
      row.nativeCpu.push(native.cpu);
      row.variant!.rates.push(await native.run(seconds, 'scalar'));
    }
    const st = side.engine.stats();
    row.notes = `${(st.classifier.tablesProbed / Math.max(1, st.classifier.lookups)).toFixed(1)} tables probed per lookup, cache hit rate ${(100 * st.flowCache.hits / Math.max(1, st.flowCache.hits + st.flowCache.misses)).toFixed(2)} %`;
    await native.quit();
    rows.push(row);
    report(row);
  }

  if ((!only || only.has('hit-1m')) && acl1) {
    const { policies, flows } = acl1;
    const side = await larvalSide(policies, flows, flows.length * 2);
    callName = outboundCallName(side.engine);
    const mine = outboundAnswers(side.engine, side.inputs, flows.length); // fills the cache
    const flowsPath = path.join(outDir, 'acl1_10k.flows');
    const givenPath = path.join(outDir, 'acl1_10k.larval-answers');
    const answersPath = path.join(outDir, 'acl1_10k.hash-answers');
    writeFileSync(flowsPath, flowsFile(flows));
    writeFileSync(givenPath, mine);
    const packetsPath = path.join(outDir, 'acl1_10k.packets');
    writeFileSync(packetsPath, packetsFile(side.inputs));
    const native = new NativeSide(bins.hash, [flowsPath, givenPath, answersPath, String(flows.length * 2), packetsPath]);
    await native.start();
    agree('acl1_10k: larval flow-cache hits vs rte_hash_lookup_bulk', outboundAnswers(side.engine, side.inputs, flows.length), new Uint32Array(readFileSync(answersPath).buffer.slice(0)));
    const before = side.engine.stats().flowCache;
    const row: Row = { scenario: `flow-cache hits, ${flows.length} flows, ${flows.length * 2} slots (acl1_10k)`, larval: [], native: [], larvalCpu: [], nativeCpu: [], variant: { name: 'rte_hash + parse of the raw packets', rates: [] }, notes: '' };
    const state = { k: 0 };
    outboundRound(side.engine, side.inputs, 0.5, state);
    await native.run(0.5);
    for (let r = 0; r < rounds; r++) {
      const rate = outboundRound(side.engine, side.inputs, seconds, state);
      row.larval.push(rate.wall);
      row.larvalCpu.push(rate.cpu);
      row.native.push(await native.run(seconds));
      row.nativeCpu.push(native.cpu);
      row.variant!.rates.push(await native.run(seconds, 'parse'));
    }
    const after = side.engine.stats().flowCache;
    const hits = after.hits - before.hits;
    const misses = after.misses - before.misses;
    row.notes = `larval hit rate ${(100 * hits / Math.max(1, hits + misses)).toFixed(3)} %; rte_hash insert of ${flows.length} keys ${native.ready.build_ms.toFixed(0)} ms`;
    await native.quit();
    rows.push(row);
    report(row);
  }

  console.log(`\nload average ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}; the CPU-time column: the same rounds per CPU second of each side, what compares when other programs share the CPUs`);
  console.log(`\n| scenario | larval \`${callName}\`, batches of 256 (Mpps) | native (Mpps) | larval / native | per round | larval / native, CPU time | other native variant (Mpps) | larval / variant |`);
  console.log('|---|---:|---:|---:|---|---:|---:|---:|');
  for (const r of rows) {
    const ratios = r.larval.map((l, i) => l / r.native[i]);
    const sc = r.variant?.rates.length ? r.variant.rates : null;
    console.log(`| ${r.scenario} | ${(median(r.larval) / 1e6).toFixed(2)} | ${r.scenario.startsWith('flow-cache') ? 'rte_hash_lookup_bulk' : 'rte_acl'} ${(median(r.native) / 1e6).toFixed(2)} | **${median(ratios).toFixed(2)}** | ${ratios.map((x) => x.toFixed(2)).join(' ')} | ${cpuRatio(r)} | ${sc ? `${r.variant!.name} ${(median(sc) / 1e6).toFixed(2)}` : '—'} | ${sc ? median(r.larval.map((l, i) => l / sc[i])).toFixed(2) : '—'} |`);
  }
  if (builds.length) {
    console.log('\n| rule set | larval: addPolicies + first lookup (build), engine memory | rte_acl: add + build, memory |');
    console.log('|---|---:|---:|');
    for (const b of builds) console.log(b);
  }
  for (const r of rows) console.log(`note: ${r.scenario}: ${r.notes}`);
  if (outboundSink() === -1) console.log(outboundSink());
}

function cpuRatio(r: Row): string {
  const ratios = r.larvalCpu.map((l, i) => l / r.nativeCpu[i]).filter((x) => Number.isFinite(x));
  return ratios.length ? `${median(ratios).toFixed(2)} (${ratios.map((x) => x.toFixed(2)).join(' ')})` : '—';
}

function report(r: Row): void {
  const ratios = r.larval.map((l, i) => l / r.native[i]);
  console.log(`${r.scenario}: larval ${(median(r.larval) / 1e6).toFixed(2)} Mpps, native ${(median(r.native) / 1e6).toFixed(2)} Mpps, ratio ${median(ratios).toFixed(2)} (${ratios.map((x) => x.toFixed(2)).join(' ')})${r.variant?.rates.length ? `, ${r.variant.name} ${(median(r.variant.rates) / 1e6).toFixed(2)} Mpps` : ''}; per CPU second ${cpuRatio(r)}; ${r.notes}`);
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exitCode = 1;
});
