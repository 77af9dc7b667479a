// Random truncations and byte corruptions of every capture in data/captures
// (plus a synthetic pcapng with every block type): each case reads to the end
// or throws a CaptureError, never anything else, in bounded time and memory.
// Seeded, so every run tries the same cases; a failure names the case.
//
// Most cases read from memory (fast); some read from a file with a random chunk
// size, which must give exactly the same records and error as from memory.
// A synchronous loop cannot be interrupted, so "never hangs" is checked as each
// case's duration (and, for file cases, a timeout on the whole read).

import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CaptureError, MAX_CAPLEN, PCAPNG_MAX_BLOCK, openCapture, openCaptureSync, type RecordBatch } from '../../src/io/capture.js';
import { concat, epb, ethernet, idb, ifName, ipv4, ipv6, opb, prng, shb, spb, tsoffset, tsresol } from './capture-builders.js';

const DIR = 'data/captures';
/** Cases per file and kind in memory, and per file from a file. */
const MEMORY_CASES = 400;
const FILE_CASES = 10;
/** Longest a single in-memory case may take (they take well under a millisecond). */
const CASE_LIMIT_MS = 1000;

const tmp = mkdtempSync(join(tmpdir(), 'larval-capture-fuzz-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** A pcapng with two sections of opposite byte order, every packet block type, options and skipped blocks. */
function synthetic(): Uint8Array {
  const parts: Uint8Array[] = [shb(true, [{ code: 4, value: new TextEncoder().encode('fuzz') }])];
  parts.push(idb(1, true, 2000, [ifName('eth0'), tsresol(9), tsoffset(100n)]), idb(101, true, 0, [tsresol(0x80 | 20)]));
  for (let i = 0; i < 4; i++) {
    parts.push(epb(0, 1_700_000_000_000_000_000n + BigInt(i), ethernet(0x0800, ipv4(40 + i), [0x8100]), true));
    parts.push(epb(1, 123_456_789_012n + BigInt(i), ipv6(20 + i), true, 200));
  }
  parts.push(spb(100, ethernet(0x86dd, ipv6(20))));
  parts.push(shb(false), idb(0, false, 0, [tsresol(3)]), idb(113, false));
  for (let i = 0; i < 3; i++) {
    parts.push(epb(0, 1_700_000_000_000n + BigInt(i), concat(Uint8Array.of(2, 0, 0, 0), ipv4(30)), false));
    parts.push(opb(1, 5n, concat(new Uint8Array(14), Uint8Array.of(0x08, 0x00), ipv4(28)), false));
  }
  return concat(...parts);
}

const corpus: [name: string, bytes: Uint8Array][] = [
  ...readdirSync(DIR).sort().map((f): [string, Uint8Array] => [f, new Uint8Array(readFileSync(join(DIR, f)))]),
  ['synthetic.pcapng', synthetic()],
];

const INTERESTING_32 = [0, 1, 4, 11, 12, 16, 0x7f, 0x80, 0xff, 0xffff, 0x10000, 0x40000, 0x40001, 0x7fffffff, 0x80000000, 0xfffffff0, 0xfffffffc, 0xffffffff, 0x1000000, 0x1000004];

function mutate(bytes: Uint8Array, random: () => number): { bytes: Uint8Array; what: string } {
  const out = bytes.slice();
  const n = out.length;
  const pick = (k: number) => Math.floor(random() * k);
  const kind = pick(4);
  if (n === 0) return { bytes: out, what: 'nothing to corrupt' };
  if (kind === 0) {
    const changes: string[] = [];
    for (let i = 0, k = 1 + pick(4); i < k; i++) {
      const at = pick(n);
      out[at] = pick(256);
      changes.push(`[${at}]=${out[at]}`);
    }
    return { bytes: out, what: `bytes ${changes.join(' ')}` };
  }
  if (kind === 1) {
    const at = pick(n);
    const bit = pick(8);
    out[at] = out[at]! ^ (1 << bit);
    return { bytes: out, what: `bit ${bit} of byte ${at}` };
  }
  // A 32-bit word (at a multiple of 4, where pcapng and pcap fields sit) set to a boundary value, either byte order.
  const at = n >= 4 ? pick(Math.floor(n / 4)) * 4 : 0;
  const value = INTERESTING_32[pick(INTERESTING_32.length)]!;
  const le = kind === 2;
  for (let i = 0; i < 4 && at + i < n; i++) out[at + i] = (value >>> (le ? 8 * i : 24 - 8 * i)) & 255;
  return { bytes: out, what: `u32 at ${at} = 0x${value.toString(16)} ${le ? 'LE' : 'BE'}` };
}

/** Reads a batch's records into comparable rows, checking what must hold of every record. */
function rows(b: RecordBatch, out: string[], where: string): void {
  for (let i = 0; i < b.count; i++) {
    const caplen = b.caplen[i]!;
    const off = b.offset[i]!;
    const ipOff = b.ipOffset[i]!;
    const ok = off + caplen <= b.bytes.length && caplen <= b.wireLength[i]! && caplen <= MAX_CAPLEN
      && b.timeFracNs[i]! < 1e9 && Number.isSafeInteger(b.timeSec[i]!)
      && (ipOff < 0 ? b.ipLength[i] === 0 && b.reason(i) !== null
        : ipOff >= off && ipOff + b.ipLength[i]! <= off + caplen && b.ipLength[i]! <= b.ipWireLength[i]! && b.reason(i) === null);
    if (!ok) throw new Error(`${where}: record ${b.firstIndex + i} breaks an invariant: ${JSON.stringify(b.record(i), (_k, v) => (typeof v === 'bigint' ? String(v) : v instanceof Uint8Array ? v.length : v))}`);
    out.push(`${b.firstIndex + i} ${b.timeSec[i]}.${b.timeFracNs[i]} ${caplen}/${b.wireLength[i]} ${b.linkType[i]} ${ipOff < 0 ? -1 : ipOff - off}+${b.ipLength[i]}/${b.ipWireLength[i]} ${b.reasonCode[i]}`);
  }
}

interface Outcome {
  rows: string[];
  error: string | null;
  code: string | null;
}

function readMemory(bytes: Uint8Array, name: string): Outcome {
  const out: string[] = [];
  try {
    for (const b of openCaptureSync(bytes, { name, batchSize: 5 }).batches()) rows(b, out, name);
    return { rows: out, error: null, code: null };
  } catch (e) {
    if (e instanceof CaptureError) return { rows: out, error: e.message, code: e.code };
    throw new Error(`${name}: not a CaptureError: ${String(e)}`, { cause: e });
  }
}

async function readFile(path: string, name: string, chunkSize: number): Promise<Outcome & { maxBuffer: number }> {
  const out: string[] = [];
  const capture = openCapture(path, { chunkSize });
  try {
    for await (const b of capture.batches()) rows(b, out, name);
    return { rows: out, error: null, code: null, maxBuffer: capture.stats!.maxBufferBytes };
  } catch (e) {
    if (e instanceof CaptureError) return { rows: out, error: e.message.replace(path, name), code: e.code, maxBuffer: capture.stats!.maxBufferBytes };
    throw new Error(`${name}: not a CaptureError: ${String(e)}`, { cause: e });
  }
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no result after ${ms} ms (hang?)`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

const stats = { cases: 0, read: 0, refused: {} as Record<string, number>, slowestMs: 0 };

describe('fuzzing the capture readers', () => {
  afterAll(() => {
    const refused = Object.entries(stats.refused).map(([k, v]) => `${k} ${v}`).join(', ');
    console.log(`capture fuzz: ${stats.cases} cases, ${stats.read} read to the end, refused: ${refused}; slowest case ${stats.slowestMs.toFixed(2)} ms`);
  });

  function count(o: Outcome): void {
    stats.cases++;
    if (o.code === null) stats.read++;
    else stats.refused[o.code] = (stats.refused[o.code] ?? 0) + 1;
  }

  it.each(corpus)('%s: truncations and corruptions read to the end or throw a CaptureError', (name, bytes) => {
    const random = prng(0x1a2b3c4d ^ bytes.length ^ name.length);
    const cases: { bytes: Uint8Array; what: string }[] = [];
    for (let i = 0; i < MEMORY_CASES; i++) {
      const at = i < 40 && i < bytes.length ? i : Math.floor(random() * bytes.length);
      cases.push({ bytes: bytes.subarray(0, at), what: `truncated to ${at} bytes` });
    }
    for (let i = 0; i < MEMORY_CASES; i++) cases.push(mutate(bytes, random));
    for (const c of cases) {
      const label = `${name} ${c.what}`;
      const t0 = performance.now();
      const outcome = readMemory(c.bytes, label);
      const ms = performance.now() - t0;
      stats.slowestMs = Math.max(stats.slowestMs, ms);
      expect(ms, `${label} took ${ms} ms`).toBeLessThan(CASE_LIMIT_MS);
      count(outcome);
      if (outcome.error !== null) expect(outcome.error.startsWith(`${label}: record `), outcome.error).toBe(true);
    }
  });

  it.each(corpus)('%s: from a file with a random chunk size, the same records and error as from memory, in bounded memory', async (name, bytes) => {
    const random = prng(0x5eed ^ bytes.length);
    for (let i = 0; i < FILE_CASES; i++) {
      const c = i % 2 === 0
        ? { bytes: bytes.subarray(0, Math.floor(random() * bytes.length)), what: 'truncated' }
        : mutate(bytes, random);
      const label = `${name} ${c.what}`;
      const path = join(tmp, `case-${i}-${name}`);
      writeFileSync(path, c.bytes);
      const chunkSize = 16 + Math.floor(random() * 600);
      const fromFile = await withTimeout(readFile(path, label, chunkSize), 10_000, label);
      const fromMemory = readMemory(c.bytes, label);
      expect({ rows: fromFile.rows, error: fromFile.error }, `${label}, chunk ${chunkSize}`).toEqual({ rows: fromMemory.rows, error: fromMemory.error });
      expect(fromFile.maxBuffer).toBeLessThanOrEqual(Math.max(chunkSize, PCAPNG_MAX_BLOCK));
      count(fromFile);
    }
  });
});
