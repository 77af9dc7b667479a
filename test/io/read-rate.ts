// Read rate of the capture readers (a script, not a test):
//
//   npx tsc -p tsconfig.json --outDir /tmp/larval-build --noEmit false --declaration false --sourceMap false
//   node /tmp/larval-build/test/io/read-rate.js [records=1000000] [size=100]
//
// Writes a pcap and a pcapng of RECORDS raw-IP packets of SIZE bytes to the
// temporary directory, then times reading them back several ways. Every way
// touches each record's IP packet (first byte and length), as a consumer would.

import { rmSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PcapWriter, createPcapWriter, createPcapngWriter, openCapture, openCaptureSync } from '../../src/io/capture.js';

const records = Number(process.argv[2] ?? 1_000_000);
const size = Number(process.argv[3] ?? 100);

function packet(i: number): Uint8Array {
  const p = new Uint8Array(size);
  p[0] = 0x45;
  p[2] = size >> 8;
  p[3] = size & 255;
  p[8] = 64;
  p[9] = 50;
  p.set([10, 0, (i >> 8) & 255, i & 255, 10, 1, 0, 1], 12);
  return p;
}

async function write(path: string, format: 'pcap' | 'pcapng'): Promise<number> {
  const t0 = performance.now();
  const packets = Array.from({ length: 256 }, (_, i) => packet(i));
  const w = format === 'pcap'
    ? await createPcapWriter(path, { nanoseconds: true })
    : await createPcapngWriter(path, { interfaces: [{ linkType: 101 }] });
  for (let i = 0; i < records; i++) {
    const sec = 1_700_000_000 + Math.floor(i / 100_000);
    const ns = (i % 100_000) * 10_000;
    const p = w instanceof PcapWriter ? w.writeFrame(packets[i & 255]!, sec, ns) : w.writeFrame(0, packets[i & 255]!, sec, ns);
    if (p) await p;
  }
  await w.close();
  return performance.now() - t0;
}

interface Result {
  n: number;
  check: number;
}

async function batchesAsync(path: string): Promise<Result> {
  let n = 0;
  let check = 0;
  for await (const b of openCapture(path).batches()) {
    const bytes = b.bytes;
    for (let i = 0; i < b.count; i++) {
      const at = b.ipOffset[i]!;
      if (at >= 0) check += bytes[at]! + b.ipLength[i]! + b.timeFracNs[i]!;
    }
    n += b.count;
  }
  return { n, check };
}

function batchesSync(path: string): Result {
  let n = 0;
  let check = 0;
  for (const b of openCaptureSync(path).batches()) {
    const bytes = b.bytes;
    for (let i = 0; i < b.count; i++) {
      const at = b.ipOffset[i]!;
      if (at >= 0) check += bytes[at]! + b.ipLength[i]! + b.timeFracNs[i]!;
    }
    n += b.count;
  }
  return { n, check };
}

async function batchViews(path: string): Promise<Result> {
  // What src/replay/replay.ts does: a subarray per IP packet.
  let n = 0;
  let check = 0;
  for await (const b of openCapture(path).batches()) {
    for (let i = 0; i < b.count; i++) {
      const ip = b.ip(i);
      if (ip !== null) check += ip[0]! + ip.length + b.timeFracNs[i]!;
    }
    n += b.count;
  }
  return { n, check };
}

async function recordsAsync(path: string): Promise<Result> {
  let n = 0;
  let check = 0;
  for await (const r of openCapture(path)) {
    if (r.ip !== null) check += r.ip[0]! + r.ip.length + Number(r.timeNs % 1_000_000_000n);
    n++;
  }
  return { n, check };
}

async function time(name: string, path: string, run: () => Promise<Result> | Result): Promise<void> {
  await run(); // warm up (and the page cache)
  let best = Infinity;
  let result: Result = { n: 0, check: 0 };
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now();
    result = await run();
    best = Math.min(best, performance.now() - t0);
  }
  if (result.n !== records) throw new Error(`${name}: read ${result.n} records, wrote ${records}`);
  const mb = (await stat(path)).size / 1e6;
  console.log(`${name.padEnd(42)} ${(records / best / 1e3).toFixed(2).padStart(6)} M records/s  ${(mb / best * 1000).toFixed(0).padStart(5)} MB/s  (${best.toFixed(0)} ms)`);
}

const dir = tmpdir();
const pcap = join(dir, `larval-read-rate-${process.pid}.pcap`);
const pcapng = join(dir, `larval-read-rate-${process.pid}.pcapng`);
try {
  console.log(`${records} records of ${size} bytes (raw IPv4), node ${process.version}`);
  console.log(`write pcap:   ${(await write(pcap, 'pcap')).toFixed(0)} ms, ${((await stat(pcap)).size / 1e6).toFixed(1)} MB`);
  console.log(`write pcapng: ${(await write(pcapng, 'pcapng')).toFixed(0)} ms, ${((await stat(pcapng)).size / 1e6).toFixed(1)} MB`);
  for (const [format, path] of [['pcap', pcap], ['pcapng', pcapng]] as const) {
    await time(`${format}: batches(), async, offsets`, path, () => batchesAsync(path));
    await time(`${format}: batches(), sync, offsets`, path, () => batchesSync(path));
    await time(`${format}: batches(), async, b.ip(i) views`, path, () => batchViews(path));
    await time(`${format}: records (for await ... of)`, path, () => recordsAsync(path));
  }
} finally {
  rmSync(pcap, { force: true });
  rmSync(pcapng, { force: true });
}
