// Flow cache: exact flow key (5-tuple, family, direction) -> policy decision.
//
// A bucketed table (issue 15's hit path). A key lives in one bucket of CACHE_WAYS
// entries, chosen by the low bits of its hash. Each bucket has CACHE_WAYS 16-bit tags
// (higher bits of the hash; 0 = empty way) in a tag array of 2 bytes per entry, apart
// from the entries (one cache line each: key, decision). The tag array is small
// enough to stay within the TLB's reach (4 MiB for 2M entries), and the tags of a
// bucket are compared all at once with SIMD, so a lookup reads one entry line, the
// one whose tag matched, instead of probing a window of lines. The batch path
// (outbound.ts) runs these steps across the whole batch so that the misses overlap.
//
// When a bucket is full the insert evicts one of its entries (it is a cache), so
// entries never need deleting. Entries are never flushed: each carries the
// generation of the policy it names and the add epoch it was validated at, and
// spd.ts decides whether it still holds (R4).

import { CACHE_WAYS, FC_EPOCH, FC_GEN, FC_GROUP, FC_GROUP_GEN, FC_KEY, FC_POLICY, FC_SIZE, FC_TAG, FK_SIZE, TAG_BIT } from './layout';
import { copyWords, reserve } from './memory';
import { countCacheEviction } from './counters';

const KEY_WORDS: u32 = FK_SIZE >> 3;
const WAYS: u32 = CACHE_WAYS;
const TAG_LINE: u32 = CACHE_WAYS * 2; // tag bytes per bucket

let tagBase: usize = 0;
let cacheBase: usize = 0;
let bucketMask: u32 = 0;
let used: u32 = 0;
// The way a full bucket gives up next: rotating, so hot keys that share a bucket do
// not keep evicting each other in the same order.
let victim: u32 = 0;

export function initFlowCache(slots: u32): bool {
  const buckets = slots >= WAYS ? slots / WAYS : 1;
  tagBase = reserve(<u64>buckets * TAG_LINE, 64);
  cacheBase = reserve(<u64>buckets * WAYS * FC_SIZE, 64);
  bucketMask = buckets - 1;
  return tagBase != 0 && cacheBase != 0;
}

export function flowCacheUsed(): u32 {
  return used;
}

// The 16-bit tag of hash `h`: bits the bucket index does not use (for up to 2^17
// buckets), never 0 (0 marks an empty way).
@inline
function tagOf(h: u32): u32 {
  return (h >> 17) | 0x8000;
}

// The tags of the bucket of hash `h`: what the batch path touches first.
@inline
export function tagLine(h: u32): usize {
  return tagBase + <usize>(h & bucketMask) * TAG_LINE;
}

// Bit i set: way i of the bucket whose tags are at `tp` holds tag `tag`.
@inline
function waysWithTag(tp: usize, tag: u32): u32 {
  const t = i16x8.splat(<i16>tag);
  const lo = i16x8.bitmask(i16x8.eq(v128.load(tp), t));
  const hi = i16x8.bitmask(i16x8.eq(v128.load(tp, 16), t));
  return <u32>lo | (<u32>hi << 8);
}

@inline
function entryOf(h: u32, way: u32): usize {
  return cacheBase + (<usize>(h & bucketMask) * WAYS + way) * FC_SIZE;
}

// The entry of the first way whose tag matches hash `h`'s, or 0: where the key of
// `h` is, if it is cached and no other key of its bucket shares its tag. Reads only
// the tag line; the batch path touches the entry before it is compared.
@inline
export function tagCandidate(h: u32): usize {
  const m = waysWithTag(tagLine(h), tagOf(h));
  return m == 0 ? 0 : entryOf(h, ctz(m));
}

@inline
function keyEqual(s: usize, k: usize): bool {
  const x = v128.or(v128.xor(v128.load(s + FC_KEY), v128.load(k)), v128.xor(v128.load(s + FC_KEY, 16), v128.load(k, 16)));
  return !v128.any_true(x) && load<u64>(s + FC_KEY, 32) == load<u64>(k, 32);
}

// Does entry `s` hold key `k` (hash `h`)?
@inline
export function entryHolds(s: usize, k: usize, h: u32): bool {
  return load<u32>(s + FC_TAG) == (h | TAG_BIT) && keyEqual(s, k);
}

// The entry holding key `k` (hash `h`), or 0.
export function cacheLookup(k: usize, h: u32): usize {
  let m = waysWithTag(tagLine(h), tagOf(h));
  while (m != 0) {
    const s = entryOf(h, ctz(m));
    if (entryHolds(s, k, h)) return s;
    m &= m - 1;
  }
  return 0;
}

// Store a decision for key `k`; `s` is its existing entry or 0. Returns the entry.
// The SA group of the entry is left unresolved.
export function cacheStore(s: usize, k: usize, h: u32, slot1: u32, gen: u32, epoch: u32): usize {
  if (s == 0) {
    const tp = tagLine(h);
    const free = waysWithTag(tp, 0);
    let way: u32;
    if (free != 0) {
      way = ctz(free);
      used++;
    } else {
      way = victim++ & (WAYS - 1);
      countCacheEviction();
    }
    s = entryOf(h, way);
    copyWords(s + FC_KEY, k, KEY_WORDS);
    store<u32>(s + FC_TAG, h | TAG_BIT);
    store<u16>(tp + (<usize>way << 1), <u16>tagOf(h));
  }
  store<u32>(s + FC_POLICY, slot1);
  store<u32>(s + FC_GEN, gen);
  store<u32>(s + FC_EPOCH, epoch);
  store<u32>(s + FC_GROUP, 0);
  store<u32>(s + FC_GROUP_GEN, 0);
  return s;
}
