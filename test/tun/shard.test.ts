// Issue 16: the gateway's ESP path on several worker threads, one owner per SA. The
// property that matters (R13, RFC 4303 §3.3.3): no (SPI, sequence number) pair is ever
// used twice, across all workers together. The workers run the built code
// (dist/: worker threads load JavaScript), so `npm run build` comes first, as for the
// TUN end-to-end test.
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const dist = new URL('../../dist/src/tun/shard.js', import.meta.url);
const built = existsSync(dist);
if (!built) console.warn('SKIPPED: worker sharding test: run npm run build first (worker threads run dist/)');
type Shard = typeof import('../../src/tun/shard.js');
const load = async (): Promise<Shard> => (await import(dist.href)) as Shard;

describe.skipIf(!built)('ESP output on worker threads, one owner per SA (issue 16, R13)', () => {
  it('assignSpis gives every worker SPIs no other worker has, all ≥ 256 (RFC 4303 §2.1), for any shape', async () => {
    const { assignSpis } = await load();
    for (let workers = 1; workers <= 8; workers++) {
      for (const perWorker of [1, 2, 7]) {
        const spis = assignSpis(workers, perWorker, 256 + workers * 1000);
        const all = spis.flat();
        expect(new Set(all).size).toBe(workers * perWorker);
        expect(all.every((s) => s >= 256)).toBe(true);
      }
    }
    expect(() => assignSpis(0, 1)).toThrow(/workers/);
    expect(() => assignSpis(2, 1, 255)).toThrow(/SPI/);
  });

  for (const [workers, sasPerWorker] of [[2, 1], [2, 3], [3, 2]] as const) {
    it(`${workers} workers × ${sasPerWorker} SAs running at once: no (SPI, sequence number) pair twice; each worker uses only its SPIs; each SA's numbers run 1, 2, 3, … without a gap`, async () => {
      const { runSyntheticOutput, assignSpis } = await load();
      const batches = 6;
      const r = await runSyntheticOutput({ workers, sasPerWorker, batches, collect: true, size: 200 });
      const own = assignSpis(workers, sasPerWorker);
      const seen = new Set<string>();
      const bySpi = new Map<number, number[]>();
      let total = 0;
      for (const w of r.perWorker) {
        const pairs = w.pairs!;
        expect(pairs.length / 2).toBe(w.packets);
        expect(w.packets).toBe(batches * 256); // every packet protected
        for (let i = 0; i < pairs.length; i += 2) {
          const [spi, seq] = [pairs[i], pairs[i + 1]];
          expect(own[w.worker]).toContain(spi);
          const key = `${spi}/${seq}`;
          expect(seen.has(key)).toBe(false);
          seen.add(key);
          bySpi.set(spi, [...(bySpi.get(spi) ?? []), seq]);
          total++;
        }
      }
      expect(seen.size).toBe(total);
      for (const seqs of bySpi.values()) {
        const sorted = [...seqs].sort((a, b) => a - b);
        // The warm-up batch took the first numbers; after it they follow on without a gap.
        for (let i = 1; i < sorted.length; i++) expect(sorted[i]).toBe(sorted[i - 1] + 1);
      }
    }, 60_000);
  }
});
