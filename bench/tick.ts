// tick(now) with many SAs (R13): the engine keeps each SA's next deadline in a heap,
// so a tick costs in proportion to the SAs that have something due, not to all SAs.
// Measured: a tick with nothing due at 1k and at 1M SAs, and the cost per expiring
// SA when 1M SAs expire over time; next to a plain-TS scan of every SA's deadlines
// (what a timer-less design does on each tick) in the same run.

import { createEngine, type Engine } from '../src/index.js';
import { measure } from './measure.js';
import { Rng } from '../src/reference/trace.js';

const HORIZON = 1_000_000; // ms over which hard add-time limits are spread

async function engineWithSas(count: number, seed: number): Promise<{ engine: Engine; deadlines: Float64Array }> {
  const engine = await createEngine({ maxSAs: count, maxPolicies: 16, msl: 0, saSwitch: 'delete' });
  const rng = new Rng(seed);
  const deadlines = new Float64Array(count);
  for (let i = 0; i < count; i++) {
    const addTime = 1000 + rng.int(0, HORIZON);
    deadlines[i] = addTime;
    engine.addSA({
      spi: 0x1000 + i, src: '192.0.2.1', dst: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, mode: 'tunnel',
      lifetime: { hard: { addTime } },
    }, 0);
    if (i % 65536 === 0 && process.stderr.isTTY) process.stderr.write(`\r\x1b[Kinstalling SAs: ${i}/${count}`);
  }
  if (process.stderr.isTTY) process.stderr.write('\r\x1b[K');
  return { engine, deadlines };
}

export interface TickResult { what: string; engineNs: number; tsNs: number; ratio: number }

export async function tickBench(maxTime: number): Promise<TickResult[]> {
  const results: TickResult[] = [];
  for (const count of [1 << 10, 1 << 20]) {
    const { engine, deadlines } = await engineWithSas(count, count);
    let t = 1; // nothing is due before 1000
    const idle = await measure(`tick idle ${count}`, () => { engine.tick(t); t += 1e-6; }, maxTime, 10);
    // The plain-TS job without timers: look at every SA's deadline on each tick.
    let due = 0;
    const scan = await measure(`scan ${count}`, () => {
      for (let i = 0; i < deadlines.length; i++) if (deadlines[i] <= t) due++;
    }, maxTime, 10);
    results.push({ what: `tick with nothing due, ${count.toLocaleString('en-US')} SAs`, engineNs: idle.stats.mean * 1e9, tsNs: scan.stats.mean * 1e9, ratio: scan.stats.mean / idle.stats.mean });
    if (count === 1 << 20) {
      // Expire them all, 1 ms of engine time per tick (~1 SA due per tick on average).
      const start = process.hrtime.bigint();
      let removed = 0;
      let events = 0;
      for (let now = 1000; now <= HORIZON + 1000; now += 1) {
        engine.tick(now);
        if (now % 256 === 0) events += engine.readEvents().length; // EXPIRE(hard) + DELETED per SA, as a KM reads them
      }
      events += engine.readEvents().length;
      if (events !== 2 * count) throw new Error(`tick: expected ${2 * count} events, read ${events}`);
      removed = count - engine.stats().tables.sas;
      const ns = Number(process.hrtime.bigint() - start);
      results.push({ what: `tick that expires SAs, 1,048,576 SAs over ${HORIZON / 1000} s of engine time, 1 ms per tick (${removed.toLocaleString('en-US')} removed; their EXPIRE and DELETED events read)`, engineNs: ns / removed, tsNs: NaN, ratio: NaN });
    }
    void due;
  }
  return results;
}
