// Flow bindings of `unique` templates. A `unique` policy needs one SA per flow
// (docs/design.md §1: the resolution key is the template plus the packet's flow), so
// each (template key, flow) pair gets a binding id, and the SAs installed for it
// carry that id in their resolution key (RK_BINDING). A binding lives while a
// larval SA or an SA refers to it; the table has a fixed capacity (maxBindings).

import { BD_FLOW, BD_KEY, BD_SIZE, BR_INDEX_KEY, BR_REFS, BR_SIZE, FK_SIZE, RK_BINDING, RK_SIZE } from './layout';
import { createIndex, ixFind, ixInsert, ixRemove, ixValue } from './flat-index';
import { fillPool, poolFree, poolGive, poolPeek, poolTake, reservePool } from './pool';
import { hashWords } from './hash';
import { copyWords, outOfMemory, reserve, zeroWords } from './memory';

const BD_WORDS: u32 = BD_SIZE >> 3;

let recordBase: usize = 0;
let capacity: u32 = 0;
let pool: usize = 0;
let index: usize = 0;
let scratch: usize = 0;

export function initBindings(max: u32): bool {
  capacity = max;
  recordBase = reserve(<u64>max * BR_SIZE, 8);
  pool = reservePool(max);
  index = createIndex(max, BD_SIZE, 0);
  scratch = reserve(BD_SIZE, 8);
  if (outOfMemory()) return false;
  fillPool(pool, max);
  return true;
}

@inline function recordPtr(id: u32): usize { return recordBase + <usize>(id - 1) * BR_SIZE; }

export function bindingCount(): u32 { return capacity - poolFree(pool); }

// The index key for template key `rk` (its RK_BINDING ignored) and flow key `fk`.
function makeKey(rk: usize, fk: usize): usize {
  copyWords(scratch + BD_KEY, rk, RK_SIZE >> 3);
  store<u32>(scratch + BD_KEY + RK_BINDING, 0);
  copyWords(scratch + BD_FLOW, fk, FK_SIZE >> 3);
  return scratch;
}

// The binding id of (rk, fk), or 0.
export function bindingFind(rk: usize, fk: usize): u32 {
  const k = makeKey(rk, fk);
  const s = ixFind(index, k, hashWords(k, BD_WORDS));
  return s == 0 ? 0 : ixValue(s);
}

// The binding id of (rk, fk), created with no references if absent; 0 when full.
export function bindingObtain(rk: usize, fk: usize): u32 {
  const k = makeKey(rk, fk);
  const h = hashWords(k, BD_WORDS);
  const s = ixFind(index, k, h);
  if (s != 0) return ixValue(s);
  const next = poolPeek(pool);
  if (next < 0) return 0;
  const id = <u32>next + 1;
  if (ixInsert(index, k, h, id) == 0) return 0;
  poolTake(pool);
  const r = recordPtr(id);
  store<u32>(r + BR_REFS, 0);
  copyWords(r + BR_INDEX_KEY, k, BD_WORDS);
  return id;
}

export function bindingRetain(id: u32): void {
  const r = recordPtr(id);
  store<u32>(r + BR_REFS, load<u32>(r + BR_REFS) + 1);
}

// Drop one reference (or none, with `by` 0: free it if nothing refers to it).
export function bindingRelease(id: u32, by: u32 = 1): void {
  const r = recordPtr(id);
  const refs = load<u32>(r + BR_REFS) - by;
  store<u32>(r + BR_REFS, refs);
  if (refs != 0) return;
  const k = r + BR_INDEX_KEY;
  const s = ixFind(index, k, hashWords(k, BD_WORDS));
  if (s != 0) ixRemove(index, s);
  zeroWords(r, BR_SIZE >> 3);
  poolGive(pool, id - 1);
}
