// `npm run bench:workers` (issue 16): engine + ESP output() (AES-GCM-128, tunnel mode,
// 1400-octet inner packets, batches of 256) on 1 and on N worker threads at once, each
// the one owner of its own SA (src/tun/shard.ts). Each worker makes its own packets:
// the main thread only starts the workers and waits (no feeding, no message per batch),
// so what is measured is the workers' own scaling.
//
// Each round runs 1 worker, then N, in a fresh child process, once with V8's default
// GC (parallel and concurrent helper threads) and once with `--single-threaded-gc`
// (each worker collects on its own thread): a V8 flag is per process and must be given
// at start. Reported per run: packets/s, the ratio N/1 per round, the CPU the run used
// (in cores: worker threads vs every other thread of the process, i.e. V8's helper
// threads and the main thread), packets per CPU-second, and the machine's idle CPU
// (from /proc/stat: a second worker helps only if a second core is free). Medians over
// the rounds.
//
//   npm run bench:workers -- [--workers 2] [--seconds 3] [--rounds 7] [--gc both|default|single]

import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { runSyntheticOutput } from '../src/tun/shard.js';

const { values } = parseArgs({
  options: {
    workers: { type: 'string', default: '2' }, seconds: { type: 'string', default: '3' }, rounds: { type: 'string', default: '7' },
    gc: { type: 'string', default: 'both' }, child: { type: 'boolean', default: false },
  },
});
const N = Number(values.workers), ms = Number(values.seconds) * 1000, rounds = Number(values.rounds);

interface Run { workers: number; pps: number; idleCores: number; perCpuSecond: number; workerCores: number; otherCores: number }

function machine(): { idle: number; total: number } {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  return { idle: f[3] + f[4], total: f.reduce((a, b) => a + b, 0) };
}
/** CPU seconds of this process's threads alive now (the workers have exited by the time a run ends). */
function threadsCpu(): number {
  let ticks = 0;
  for (const t of readdirSync('/proc/self/task')) {
    try {
      const s = readFileSync(`/proc/self/task/${t}/stat`, 'utf8');
      const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
      ticks += Number(f[11]) + Number(f[12]);
    } catch { /* the thread ended */ }
  }
  return ticks / 100; // USER_HZ
}

async function run(workers: number): Promise<Run> {
  const c0 = machine(), u0 = process.cpuUsage(), s0 = threadsCpu(), t0 = performance.now();
  const r = await runSyntheticOutput({ workers, durationMs: ms });
  const wall = (performance.now() - t0) / 1000;
  const u = process.cpuUsage(u0), s1 = threadsCpu(), c1 = machine();
  const all = (u.user + u.system) / 1e6; // every thread of the process, the exited workers included
  const other = s1 - s0; // threads still alive: the main thread and V8's / libuv's helpers
  const packets = r.perWorker.reduce((n, w) => n + w.packets, 0);
  return { workers, pps: r.pps, idleCores: ((c1.idle - c0.idle) / (c1.total - c0.total)) * cpus().length, perCpuSecond: packets / all, workerCores: (all - other) / wall, otherCores: other / wall };
}

if (values.child) {
  // One round in this process (its GC mode came with its command line): 1 worker, then N.
  const one = await run(1);
  const many = await run(N);
  process.stdout.write(JSON.stringify([one, many]) + '\n');
  process.exit(0);
}

const modes = values.gc === 'both' ? ['default', 'single'] : [values.gc!];
const self = fileURLToPath(import.meta.url);
const results: Record<string, [Run, Run][]> = Object.fromEntries(modes.map((m) => [m, []]));
const started = loadavg();
for (let i = 0; i < rounds; i++) {
  for (const mode of modes) {
    const args = [...(mode === 'single' ? ['--single-threaded-gc'] : []), self, '--child', '--workers', String(N), '--seconds', String(ms / 1000)];
    const c = spawnSync(process.execPath, args, { encoding: 'utf8' });
    if (c.status !== 0) throw new Error(`child (${mode} GC) failed: ${c.stderr}`);
    results[mode].push(JSON.parse(c.stdout.trim().split('\n').pop()!) as [Run, Run]);
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const f = (x: number, d = 0) => x.toFixed(d);
for (const mode of modes) {
  console.log(`\n### ${mode === 'single' ? 'node --single-threaded-gc' : 'V8 default GC'}\n`);
  console.log(`| round | 1 worker pps | ${N} workers pps | ratio | cores used, 1 worker: worker + other threads | ${N} workers: workers + other | packets per CPU-second, 1 / ${N} | machine idle cores during 1 / ${N} |\n|---:|---:|---:|---:|---|---|---|---|`);
  results[mode].forEach(([one, many], i) => {
    console.log(`| ${i + 1} | ${f(one.pps)} | ${f(many.pps)} | ${f(many.pps / one.pps, 2)}× | ${f(one.workerCores, 2)} + ${f(one.otherCores, 2)} | ${f(many.workerCores, 2)} + ${f(many.otherCores, 2)} | ${f(one.perCpuSecond)} / ${f(many.perCpuSecond)} | ${f(one.idleCores, 2)} / ${f(many.idleCores, 2)} |`);
  });
  const rs = results[mode];
  console.log(`\nmedian ${N} workers / 1 worker: ${f(median(rs.map(([a, b]) => b.pps / a.pps)), 2)}× over ${rs.length} rounds; median pps 1 worker ${f(median(rs.map(([a]) => a.pps)))}, ${N} workers ${f(median(rs.map(([, b]) => b.pps)))}; median packets per CPU-second 1 worker ${f(median(rs.map(([a]) => a.perCpuSecond)))}`);
}
console.log(`\n(1400-octet packets, engine + ESP output(), AES-GCM-128; ${cpus().length} CPUs; load average ${started.map((x) => x.toFixed(2)).join(' ')} at start, ${loadavg().map((x) => x.toFixed(2)).join(' ')} at end)`);
