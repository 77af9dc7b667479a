// `npm run bench:workers` (issue 16): engine + ESP output() (AES-GCM-128, tunnel mode,
// 1400-octet inner packets, batches of 256) on 1 and on N worker threads at once, each
// the one owner of its own SA (src/tun/shard.ts). Runs alternate 1, N, 1, N, ... so
// both see the same machine; reports packets/s, the ratio N/1 per pair of runs and the
// machine's idle CPU during each run (from /proc/stat: on a shared machine a second
// worker only helps if a second core is free), and packets per CPU-second of all the
// process's threads (does a worker cost more per packet when there are two?).
//
//   npm run bench:workers -- [--workers 2] [--seconds 3] [--rounds 3]

import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { runSyntheticOutput } from '../src/tun/shard.js';

const { values } = parseArgs({ options: { workers: { type: 'string', default: '2' }, seconds: { type: 'string', default: '3' }, rounds: { type: 'string', default: '3' } } });
const N = Number(values.workers), ms = Number(values.seconds) * 1000, rounds = Number(values.rounds);

function cpuTimes(): { idle: number; total: number } {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  return { idle: f[3] + f[4], total: f.reduce((a, b) => a + b, 0) };
}
async function run(workers: number): Promise<{ pps: number; idleCores: number; perCpuSecond: number }> {
  const c0 = cpuTimes();
  const u0 = process.cpuUsage();
  const r = await runSyntheticOutput({ workers, durationMs: ms });
  const u = process.cpuUsage(u0); // all threads of this process: the workers' CPU time
  const c1 = cpuTimes();
  const packets = r.perWorker.reduce((n, w) => n + w.packets, 0);
  const cores = (await import('node:os')).cpus().length;
  return { pps: r.pps, idleCores: ((c1.idle - c0.idle) / (c1.total - c0.total)) * cores, perCpuSecond: packets / ((u.user + u.system) / 1e6) };
}

const ratios: number[] = [];
console.log(`| round | 1 worker pps | ${N} workers pps | ratio | packets per CPU-second, 1 / ${N} workers | machine idle (cores) during 1 / ${N} |\n|---:|---:|---:|---:|---|---|`);
for (let i = 0; i < rounds; i++) {
  const one = await run(1);
  const many = await run(N);
  ratios.push(many.pps / one.pps);
  console.log(`| ${i + 1} | ${one.pps.toFixed(0)} | ${many.pps.toFixed(0)} | ${(many.pps / one.pps).toFixed(2)}× | ${one.perCpuSecond.toFixed(0)} / ${many.perCpuSecond.toFixed(0)} | ${one.idleCores.toFixed(2)} / ${many.idleCores.toFixed(2)} |`);
}
const sorted = [...ratios].sort((a, b) => a - b);
console.log(`\nmedian ${N} workers / 1 worker: ${sorted[sorted.length >> 1].toFixed(2)}× (1400-octet packets, engine + ESP output(), AES-GCM-128)`);
