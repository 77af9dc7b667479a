// More than one core for the gateway's ESP path (issue 16): worker threads, each the
// one owner of its SAs. An SA's sequence numbers (R13) are assigned by the engine of
// the one worker that owns it, and its anti-replay window (R19) lives only there,
// so nothing about an SA is shared between threads: no locks, no atomics on the fast
// path. The control plane (key manager, SPI allocation) stays in the main thread and
// gives each worker its own SAs, as per-CPU SAs do (RFC 9611: one Child SA per
// resource, all for the same traffic selectors; the peer's worker k receives on
// worker k's port, so an inbound SA also has one owner).
//
// This module is the control-plane side: SPI assignment (distinct per worker: the
// property that keeps (SPI, sequence number) pairs unique across workers) and a
// synthetic load that measures how engine + ESP output() scales with workers.

import { Worker } from 'node:worker_threads';
import { LarvalError } from '../common/errors.js';

/**
 * SPIs for `workers` workers, `perWorker` each, from `base` (≥ 256, RFC 4303 §2.1):
 * worker w gets base + w * perWorker + k. Distinct across workers by construction.
 */
export function assignSpis(workers: number, perWorker: number, base = 0x1000): number[][] {
  if (!Number.isInteger(workers) || workers < 1 || workers > 64) throw new LarvalError('EINVAL', `workers: expected 1..64, got ${workers}`);
  if (!Number.isInteger(perWorker) || perWorker < 1) throw new LarvalError('EINVAL', `perWorker: expected ≥ 1, got ${perWorker}`);
  if (!Number.isInteger(base) || base < 256 || base + workers * perWorker > 0xffffffff) throw new LarvalError('EINVAL', `base SPI ${base}: expected 256.. with room for ${workers * perWorker} SPIs`);
  return Array.from({ length: workers }, (_, w) => Array.from({ length: perWorker }, (_, k) => base + w * perWorker + k));
}

export interface SyntheticOptions {
  workers: number;
  /** Inner packet size, octets (whole IPv4 packet). Default 1400. */
  size?: number;
  /** Run for this long, ms (throughput), or ... */
  durationMs?: number;
  /** ... exactly this many batches per worker (property tests). */
  batches?: number;
  /** Return every (SPI, sequence number) each worker put on an ESP packet. */
  collect?: boolean;
  /** SPIs per worker (its flows are spread over them). Default 1. */
  sasPerWorker?: number;
}

export interface SyntheticWorkerResult {
  worker: number;
  packets: number;
  elapsedMs: number;
  /** With collect: SPI and sequence number of each ESP packet, interleaved. */
  pairs?: Uint32Array;
}

export interface SyntheticResult {
  workers: number;
  /** Packets of all workers over the longest worker's time. */
  pps: number;
  perWorker: SyntheticWorkerResult[];
}

/**
 * Engine + ESP output() on `workers` worker threads at once, each with its own engine,
 * policy and SAs (SPIs from assignSpis). Workers start together after all are ready.
 */
export async function runSyntheticOutput(options: SyntheticOptions): Promise<SyntheticResult> {
  const spis = assignSpis(options.workers, options.sasPerWorker ?? 1);
  const url = new URL('./output-worker.js', import.meta.url);
  const workers = spis.map((own, w) => new Worker(url, {
    workerData: { worker: w, spis: own, size: options.size ?? 1400, durationMs: options.durationMs ?? 0, batches: options.batches ?? 0, collect: options.collect ?? false },
  }));
  try {
    const ready = workers.map((wk) => new Promise<void>((resolve, reject) => {
      wk.once('error', reject);
      wk.once('message', (m) => (m === 'ready' ? resolve() : reject(new Error(`worker: ${String(m)}`))));
    }));
    await Promise.all(ready);
    const done = workers.map((wk) => new Promise<SyntheticWorkerResult>((resolve, reject) => {
      wk.once('error', reject);
      wk.once('message', (m: SyntheticWorkerResult) => resolve(m));
    }));
    for (const wk of workers) wk.postMessage('go');
    const perWorker = await Promise.all(done);
    const elapsed = Math.max(...perWorker.map((r) => r.elapsedMs));
    const packets = perWorker.reduce((s, r) => s + r.packets, 0);
    return { workers: options.workers, pps: (packets * 1000) / elapsed, perWorker };
  } finally {
    await Promise.all(workers.map((wk) => wk.terminate()));
  }
}
