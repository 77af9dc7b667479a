// Flow cache: exact flow key (5-tuple, family, direction) -> policy decision.
//
// A bucketed table (issue 15's hit path). A key lives in one bucket of CACHE_WAYS
// ways, chosen by the low bits of its hash. Each bucket has CACHE_WAYS 16-bit tags
// (higher bits of the hash, the family, 0 = empty way) in a tag array of 2 bytes per
// way, apart from the entries. The tag array is small enough to stay within the TLB's
// reach (4 MiB for 2M ways), and the tags of a bucket are compared all at once with
// SIMD, so a lookup reads one entry, the one whose tag matched, instead of probing a
// window of lines. The batch path (outbound.ts) runs these steps across the whole
// batch so that the misses overlap.
//
// An IPv4 entry is one 32-byte way: its key is 16 bytes (addresses, ports, protocol,
// kind, direction), so the entry array is half what 64-byte entries take (64 MiB for
// 2M ways), and a random entry is cheaper to reach (fewer pages, fewer TLB misses).
// An IPv6 entry takes an aligned pair of ways (one 64-byte line) for its 40-byte key;
// its second way's tag is FC_TAG_PAIR, which no lookup matches. A cache of N slots
// therefore holds N IPv4 flows, or N/2 IPv6 flows.
//
// When a bucket is full the insert evicts (it is a cache), so entries never need
// deleting. Entries are never flushed: each carries the generation of the policy it
// names and the add epoch it was validated at, and spd.ts decides whether it still
// holds (R4).

import {
  CACHE_WAYS, FC4_GROUP_SHIFT, FC4_KEY_BITS, FC4_TAIL, FC6_GROUP, FC_EPOCH, FC_GEN, FC_GROUP_GEN, FC_KEY,
  FC_POLICY, FC_TAG_PAIR, FC_TAG_USED, FC_TAG_V6, FC_WAY, FK_DST, FK_FAMILY, FK_PROTO, FK_SPORT, FK_SIZE,
  FK_SRC, Family, PW_HASH,
} from './layout';
import { copyWords, reserve } from './memory';
import { countCacheEviction } from './counters';

const KEY_WORDS: u32 = FK_SIZE >> 3;
const WAYS: u32 = CACHE_WAYS;
const TAG_LINE: u32 = CACHE_WAYS * 2; // tag bytes per bucket
const WAY: u32 = FC_WAY;
const GROUP_LIMIT: u32 = 1 << (32 - FC4_GROUP_SHIFT); // IPv4 entries cache group slots + 1 below this

let tagBase: usize = 0;
let cacheBase: usize = 0;
let bucketMask: u32 = 0;
let used: u32 = 0;
// The way (IPv6: the pair) a full bucket gives up next: rotating, so hot keys that
// share a bucket do not keep evicting each other in the same order.
let victim: u32 = 0;

export function initFlowCache(slots: u32): bool {
  const buckets = slots >= WAYS ? slots / WAYS : 1;
  tagBase = reserve(<u64>buckets * TAG_LINE, 64);
  cacheBase = reserve(<u64>buckets * WAYS * WAY, 64);
  bucketMask = buckets - 1;
  return tagBase != 0 && cacheBase != 0;
}

export function flowCacheUsed(): u32 {
  return used;
}

@inline
function isV6(w: usize): bool {
  return load<u8>(w + FK_FAMILY) != <u8>Family.V4;
}

// The 16-bit tag of hash `h` for a key of the family `v6` says: 14 bits the bucket
// index does not use (for up to 2^17 buckets), the family, and FC_TAG_USED, so never
// 0 (an empty way) nor FC_TAG_PAIR.
@inline
function tagOf(h: u32, v6: bool): u32 {
  return ((h >> 17) & 0x3fff) | FC_TAG_USED | (v6 ? FC_TAG_V6 : 0);
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
  return cacheBase + (<usize>(h & bucketMask) * WAYS + way) * WAY;
}

// The IPv4 key of the flow key in work record `w` (its address words 1-3 are zero):
// source, destination, ports, then protocol, kind and direction packed in 12 bits.
@inline
function v4Key(w: usize): v128 {
  const x = load<u32>(w + FK_PROTO); // protocol, family, kind, direction: a byte each
  const tail = (x & 0xff) | ((x >> 8) & 0x300) | ((x >> 14) & 0xc00);
  let k = i32x4.splat(load<u32>(w + FK_SRC));
  k = i32x4.replace_lane(k, 1, load<u32>(w + FK_DST));
  k = i32x4.replace_lane(k, 2, load<u32>(w + FK_SPORT));
  return i32x4.replace_lane(k, 3, tail);
}

// Does entry `s` hold the key of work record `w`? (Its tag was checked.)
@inline
function keyEqual(s: usize, w: usize, v6: bool): bool {
  if (!v6) {
    const mask = i32x4(-1, -1, -1, FC4_KEY_BITS);
    return !v128.any_true(v128.and(v128.xor(v128.load(s + FC_KEY), v4Key(w)), mask));
  }
  const x = v128.or(v128.xor(v128.load(s + FC_KEY), v128.load(w)), v128.xor(v128.load(s + FC_KEY, 16), v128.load(w, 16)));
  return !v128.any_true(x) && load<u64>(s + FC_KEY, 32) == load<u64>(w, 32);
}

// The entry of the first way whose tag matches the key of work record `w`, or 0:
// where the key is, if it is cached and no other key of its bucket shares its tag.
// Reads only the tag line; the batch path touches the entry before it is compared.
@inline
export function tagCandidate(w: usize): usize {
  const h = load<u32>(w + PW_HASH);
  const m = waysWithTag(tagLine(h), tagOf(h, isV6(w)));
  return m == 0 ? 0 : entryOf(h, ctz(m));
}

// Does entry `s` of the bucket of work record `w`'s hash hold its key? The way's
// tag is checked first: an insert since `s` was found may have given the way to
// another key, or made it the second half of an IPv6 entry.
@inline
export function entryHolds(s: usize, w: usize): bool {
  const h = load<u32>(w + PW_HASH);
  const v6 = isV6(w);
  const way = <u32>((s - cacheBase) / WAY) & (WAYS - 1);
  return <u32>load<u16>(tagLine(h) + (<usize>way << 1)) == tagOf(h, v6) && keyEqual(s, w, v6);
}

// The entry holding the key of work record `w`, or 0.
export function cacheLookup(w: usize): usize {
  const h = load<u32>(w + PW_HASH);
  const v6 = isV6(w);
  let m = waysWithTag(tagLine(h), tagOf(h, v6));
  while (m != 0) {
    const s = entryOf(h, ctz(m));
    if (keyEqual(s, w, v6)) return s;
    m &= m - 1;
  }
  return 0;
}

// Empty way `way` of the bucket whose tags are at `tp`, and the other half of the
// IPv6 entry it belongs to, if it does: an eviction.
function evictWay(tp: usize, way: u32): void {
  const t = <u32>load<u16>(tp + (<usize>way << 1));
  if (t == 0) return;
  countCacheEviction();
  used--;
  if (t == FC_TAG_PAIR) store<u16>(tp + (<usize>(way - 1) << 1), 0);
  else if ((t & FC_TAG_V6) != 0) store<u16>(tp + (<usize>(way + 1) << 1), 0);
  store<u16>(tp + (<usize>way << 1), 0);
}

// Store a decision for the key of work record `w`; `s` is its existing entry or 0.
// Returns the entry. The SA group of the entry is left unresolved.
export function cacheStore(s: usize, w: usize, slot1: u32, gen: u32, epoch: u32): usize {
  const v6 = isV6(w);
  if (s == 0) {
    const h = load<u32>(w + PW_HASH);
    const tp = tagLine(h);
    const free = waysWithTag(tp, 0);
    let way: u32;
    if (!v6) {
      if (free != 0) {
        way = ctz(free);
      } else {
        way = victim++ & (WAYS - 1);
        evictWay(tp, way);
      }
      s = entryOf(h, way);
      v128.store(s + FC_KEY, v4Key(w));
    } else {
      const pairs = free & (free >> 1) & 0x5555; // even ways whose next way is free too
      if (pairs != 0) {
        way = ctz(pairs);
      } else {
        way = (victim++ & (WAYS / 2 - 1)) << 1;
        evictWay(tp, way);
        evictWay(tp, way + 1);
      }
      s = entryOf(h, way);
      copyWords(s + FC_KEY, w, KEY_WORDS);
      store<u16>(tp + (<usize>(way + 1) << 1), <u16>FC_TAG_PAIR);
    }
    used++;
    store<u16>(tp + (<usize>way << 1), <u16>tagOf(h, v6));
  }
  store<u32>(s + FC_POLICY, slot1);
  store<u32>(s + FC_GEN, gen);
  store<u32>(s + FC_EPOCH, epoch);
  storeEntryGroup(s, w, 0, 0);
  return s;
}

// The SA group slot + 1 remembered in entry `s` (of work record `w`'s key), 0 = none;
// valid when FC_GROUP_GEN says so.
@inline
export function entryGroup(s: usize, w: usize): u32 {
  return isV6(w) ? load<u32>(s + FC6_GROUP) : load<u32>(s + FC4_TAIL) >> FC4_GROUP_SHIFT;
}

// Remember SA group slot + 1 `g1` (0 = none) with its generation `gen` in entry `s`.
// An IPv4 entry has 20 bits for it: a larger slot is not remembered (gen 0 = not
// resolved), so the flow's group is looked up again each time, never wrong.
export function storeEntryGroup(s: usize, w: usize, g1: u32, gen: u32): void {
  if (isV6(w)) {
    store<u32>(s + FC6_GROUP, g1);
  } else {
    const keep = load<u32>(s + FC4_TAIL) & FC4_KEY_BITS;
    if (g1 >= GROUP_LIMIT) {
      g1 = 0;
      gen = 0;
    }
    store<u32>(s + FC4_TAIL, keep | (g1 << FC4_GROUP_SHIFT));
  }
  store<u32>(s + FC_GROUP_GEN, gen);
}
