// One time unit between captures and the engine: capture records carry
// nanoseconds since the Unix epoch as a bigint (exact for any capture), the engine
// and gateway take milliseconds as a number (engine time, monotonic).

import { invalid } from '../common/errors.js';

/**
 * A capture record's time as engine time: milliseconds since `originNs` (e.g. the
 * first record's `timeNs`), as a number. Pass the result as `now` to
 * `engine.outbound()` or `gateway.tick()`. Sub-millisecond precision is kept as a
 * fraction. A record earlier than `originNs` gives a negative number, which the
 * engine refuses: use the first record's time (or an earlier one) as the origin.
 */
export function captureTimeMs(timeNs: bigint, originNs: bigint = 0n): number {
  if (typeof timeNs !== 'bigint') throw invalid('timeNs', timeNs, 'expected a bigint of nanoseconds (a capture record\'s timeNs)');
  if (typeof originNs !== 'bigint') throw invalid('originNs', originNs, 'expected a bigint of nanoseconds');
  return Number(timeNs - originNs) / 1e6;
}
