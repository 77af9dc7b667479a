// A flat open-addressing index: fixed-size slots [u32 tag][u32 value][key][extra],
// linear probing, backward-shift deletion (no tombstones, so probe chains never
// rot under churn). Used for the control-plane maps (ids, SPIs, SA groups) and the
// classifier's buckets. The flow cache has its own specialised table.
//
// Each index is described by an ID_* record so one set of functions serves all.

import { ID_BASE, ID_COUNT, ID_KEYWORDS, ID_LIMIT, ID_MASK, ID_SIZE, ID_SLOT, IX_KEY, IX_TAG, IX_VALUE, TAG_BIT } from './layout';
import { copyWords, nextPow2, reserve, wordsEqual } from './memory';
import { hashU32 } from './hash';

// Lay out an index for at most `entries` keys at load factor <= 0.5.
// Returns the descriptor, or 0 when memory ran out.
export function createIndex(entries: u32, keyBytes: u32, extraBytes: u32): usize {
  const d = reserve(ID_SIZE, 8);
  const capacity = nextPow2(entries < 8 ? 16 : entries * 2);
  const slot = (IX_KEY + keyBytes + extraBytes + 7) & ~7;
  const base = reserve(<u64>capacity * slot, 64);
  if (d == 0 || base == 0) return 0;
  store<u32>(d + ID_BASE, <u32>base);
  store<u32>(d + ID_MASK, capacity - 1);
  store<u32>(d + ID_SLOT, slot);
  store<u32>(d + ID_KEYWORDS, keyBytes >> 3);
  store<u32>(d + ID_COUNT, 0);
  store<u32>(d + ID_LIMIT, entries);
  return d;
}

@inline
function tagOf(h: u32): u32 {
  return h | TAG_BIT;
}

// The slot holding `key`, or 0.
export function ixFind(d: usize, key: usize, h: u32): usize {
  const base = <usize>load<u32>(d + ID_BASE);
  const mask = load<u32>(d + ID_MASK);
  const slot = <usize>load<u32>(d + ID_SLOT);
  const words = load<u32>(d + ID_KEYWORDS);
  const tag = tagOf(h);
  let i = h & mask;
  while (true) {
    const s = base + <usize>i * slot;
    const t = load<u32>(s + IX_TAG);
    if (t == 0) return 0;
    if (t == tag && wordsEqual(s + IX_KEY, key, words)) return s;
    i = (i + 1) & mask;
  }
  return 0;
}

// Insert a key known to be absent. Returns the slot, or 0 when the index is at its limit.
export function ixInsert(d: usize, key: usize, h: u32, value: u32): usize {
  const count = load<u32>(d + ID_COUNT);
  if (count >= load<u32>(d + ID_LIMIT)) return 0;
  const base = <usize>load<u32>(d + ID_BASE);
  const mask = load<u32>(d + ID_MASK);
  const slot = <usize>load<u32>(d + ID_SLOT);
  let i = h & mask;
  while (true) {
    const s = base + <usize>i * slot;
    if (load<u32>(s + IX_TAG) == 0) {
      store<u32>(s + IX_TAG, tagOf(h));
      store<u32>(s + IX_VALUE, value);
      copyWords(s + IX_KEY, key, load<u32>(d + ID_KEYWORDS));
      store<u32>(d + ID_COUNT, count + 1);
      return s;
    }
    i = (i + 1) & mask;
  }
  return 0;
}

// Remove the entry in slot `s` and close the gap so later probes still find their keys.
export function ixRemove(d: usize, s: usize): void {
  const base = <usize>load<u32>(d + ID_BASE);
  const mask = load<u32>(d + ID_MASK);
  const slot = <usize>load<u32>(d + ID_SLOT);
  let i = <u32>((s - base) / slot);
  let j = i;
  while (true) {
    j = (j + 1) & mask;
    const sj = base + <usize>j * slot;
    const t = load<u32>(sj + IX_TAG);
    if (t == 0) break;
    const home = t & mask;
    // The entry at j may move back to the hole at i unless its home lies
    // cyclically in (i, j].
    const stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
    if (!stays) {
      memory.copy(base + <usize>i * slot, sj, slot);
      i = j;
    }
  }
  memory.fill(base + <usize>i * slot, 0, slot);
  store<u32>(d + ID_COUNT, load<u32>(d + ID_COUNT) - 1);
}

@inline
export function ixValue(s: usize): u32 {
  return load<u32>(s + IX_VALUE);
}

@inline
export function ixSetValue(s: usize, v: u32): void {
  store<u32>(s + IX_VALUE, v);
}

// u32 -> u32 maps (ids to slots): the key is the id widened to one u64 word.
let idScratch: usize = 0;

export function initIdMaps(): bool {
  idScratch = reserve(8, 8);
  return idScratch != 0;
}

function idFind(d: usize, id: u32): usize {
  store<u64>(idScratch, <u64>id);
  return ixFind(d, idScratch, hashU32(id));
}

export function idInsert(d: usize, id: u32, value: u32): usize {
  store<u64>(idScratch, <u64>id);
  return ixInsert(d, idScratch, hashU32(id), value);
}

// Remove `id` and return the value it held, or -1 when absent.
export function idTake(d: usize, id: u32): i32 {
  const s = idFind(d, id);
  if (s == 0) return -1;
  const value = ixValue(s);
  ixRemove(d, s);
  return <i32>value;
}

// The value stored for `id` plus one, or 0 when absent.
export function idLookup(d: usize, id: u32): u32 {
  const s = idFind(d, id);
  return s == 0 ? 0 : ixValue(s) + 1;
}
