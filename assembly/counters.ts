// Counters (R26): every packet, verdict, drop reason and lookup is counted here, in
// linear memory, where stats() reads them. The host keeps no copy.

import {
  CN_CACHE_EVICTIONS, CN_CACHE_HITS, CN_CACHE_MISSES, CN_CACHE_REVALIDATED, CN_CACHE_STALE, CN_CLASSIFY,
  CN_COUNT, CN_PACKETS, CN_REASONS, CN_RULES_COMPARED, CN_SA_LOOKUPS, CN_TABLES_PROBED, CN_VERDICTS,
  REASON_COUNT, VERDICT_COUNT,
} from './layout';
import { reserve } from './memory';

export let counterBase: usize = 0;

export function initCounters(): bool {
  counterBase = reserve(CN_COUNT * 8, 8);
  return counterBase != 0;
}

@inline
export function bump(index: u32, by: u64 = 1): void {
  const p = counterBase + (<usize>index << 3);
  store<u64>(p, load<u64>(p) + by);
}

@inline
export function countVerdict(dir: u32, verdict: u32, reason: u32, packet: bool = true): void {
  if (packet) bump(CN_PACKETS + dir);
  bump(CN_VERDICTS + dir * VERDICT_COUNT + verdict);
  bump(CN_REASONS + dir * REASON_COUNT + reason);
}

@inline export function countCacheHit(): void { bump(CN_CACHE_HITS); }
@inline export function countCacheMiss(): void { bump(CN_CACHE_MISSES); }
@inline export function countCacheStale(): void { bump(CN_CACHE_STALE); }
@inline export function countCacheRevalidated(): void { bump(CN_CACHE_REVALIDATED); }
@inline export function countCacheEviction(): void { bump(CN_CACHE_EVICTIONS); }
@inline export function countSaLookup(): void { bump(CN_SA_LOOKUPS); }

@inline
export function countClassify(probes: u32, compared: u32): void {
  bump(CN_CLASSIFY);
  bump(CN_TABLES_PROBED, probes);
  bump(CN_RULES_COMPARED, compared);
}
