// Issue 6: a capture of 10M packets (1.16 GB) replays in bounded memory. The rate is
// a benchmark's business (npm run bench:replay, docs/performance.md); this checks
// that every record is accounted for and that memory does not grow with the file.
import { statSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CONFIG, generate } from '../../bench/replay-big.js';
import { parseSetkey, policySpec, saSpec } from '../../src/config/setkey.js';
import { openCapture } from '../../src/io/reader.js';
import { replay } from '../../src/replay/replay.js';

describe('replay of a 10M-packet, 1.16 GB capture (R24: bounded memory)', () => {
  it('accounts for every record, and resident memory stays within a fixed bound', async () => {
    const file = join(tmpdir(), `larval-big-${process.pid}.pcap`);
    const packets = 10_000_000;
    try {
      await generate(file, packets);
      expect(statSync(file).size).toBeGreaterThan(1.1e9);
      const config = parseSetkey(CONFIG);
      const before = process.memoryUsage().rss;
      let peak = before;
      const cap = openCapture(file);
      const report = await replay(cap.batches(), { policies: config.policies.map(policySpec), sas: config.sas.map(saSpec) }, {
        preset: 'larval',
        progress: () => (peak = Math.max(peak, process.memoryUsage().rss)),
      });
      expect(report.records).toBe(packets);
      expect(report.verdicts.out.bypass + report.verdicts.out.discard).toBe(packets);
      expect(cap.stats!.maxBufferBytes).toBeLessThanOrEqual(16 << 20);
      // The capture is 1.16 GB; the process grows by a small fraction of it.
      expect(peak - before).toBeLessThan(128 << 20);
    } finally {
      try { unlinkSync(file); } catch { /* not created */ }
    }
  }, 120_000);
});
