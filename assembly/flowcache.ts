// Flow cache: exact flow key (5-tuple, family, direction) -> policy decision.
//
// A flat table of one-cache-line slots. A key lives within CACHE_WINDOW slots of its
// home; when the window is full the insert evicts one slot of it (it is a cache),
// so lookups never probe more than the window and slots never need deleting.
// Entries are never flushed: each carries the generation of the policy it names and
// the add epoch it was validated at, and spd.ts decides whether it still holds.

import { CACHE_WINDOW, FC_EPOCH, FC_GEN, FC_GROUP, FC_GROUP_GEN, FC_KEY, FC_POLICY, FC_SIZE, FC_TAG, FK_SIZE, TAG_BIT } from './layout';
import { copyWords, reserve, wordsEqual } from './memory';
import { countCacheEviction } from './counters';

const KEY_WORDS: u32 = FK_SIZE >> 3;

let cacheBase: usize = 0;
let cacheMask: u32 = 0;
let used: u32 = 0;

export function initFlowCache(slots: u32): bool {
  cacheBase = reserve(<u64>slots * FC_SIZE, 64);
  cacheMask = slots - 1;
  return cacheBase != 0;
}

export function flowCacheUsed(): u32 {
  return used;
}

@inline
export function homeSlot(h: u32): usize {
  return cacheBase + <usize>(h & cacheMask) * FC_SIZE;
}

// The slot holding key `k` (hash `h`), or 0.
@inline
export function cacheLookup(k: usize, h: u32): usize {
  const tag = h | TAG_BIT;
  for (let i: u32 = 0; i < <u32>CACHE_WINDOW; i++) {
    const s = cacheBase + <usize>((h + i) & cacheMask) * FC_SIZE;
    const t = load<u32>(s + FC_TAG);
    if (t == 0) return 0;
    if (t == tag && wordsEqual(s + FC_KEY, k, KEY_WORDS)) return s;
  }
  return 0;
}

// Store a decision for key `k`; `s` is its existing slot or 0. Returns the slot.
// The SA group of the entry is left unresolved.
export function cacheStore(s: usize, k: usize, h: u32, slot1: u32, gen: u32, epoch: u32): usize {
  if (s == 0) {
    for (let i: u32 = 0; i < <u32>CACHE_WINDOW; i++) {
      const c = cacheBase + <usize>((h + i) & cacheMask) * FC_SIZE;
      if (load<u32>(c + FC_TAG) == 0) { s = c; used++; break; }
    }
    if (s == 0) {
      // Window full: evict a slot chosen by other bits of the hash, so hot keys that
      // share a home do not keep evicting each other in the same order.
      s = cacheBase + <usize>((h + ((h >> 24) & (<u32>CACHE_WINDOW - 1))) & cacheMask) * FC_SIZE;
      countCacheEviction();
    }
    copyWords(s + FC_KEY, k, KEY_WORDS);
    store<u32>(s + FC_TAG, h | TAG_BIT);
  }
  store<u32>(s + FC_POLICY, slot1);
  store<u32>(s + FC_GEN, gen);
  store<u32>(s + FC_EPOCH, epoch);
  store<u32>(s + FC_GROUP, 0);
  store<u32>(s + FC_GROUP_GEN, 0);
  return s;
}
