// Security policy database: policy records and the classifier behind the flow cache.
//
// Order (R1): rank = priority << 32 | insertion sequence, lower wins; first match
// decides (R2). The classifier is tuple space search (as in Open vSwitch) with
// merged tuples (as in TupleMerge): every table has a (source, destination) prefix
// length pair; a policy may sit in any table whose lengths are not longer than its
// own, so few tables serve many prefix-length combinations. Within a table, policies
// hash by their prefixes masked to the table's lengths into buckets kept in rank
// order. Tables are visited in order of their best rank, and the search stops once
// no remaining table can beat the match already found (priority pruning), so a
// lookup never scans all policies (R4).

import {
  Action, BK_DST, BK_SIZE, BK_SRC, BK_TABLE, COLLISION_LIMIT, CT_COUNT, CT_DIRFAM, CT_DSTLEN,
  CT_HEAD, CT_MINRANK, CT_SIZE, CT_SRCLEN, CT_USED, DIR_COUNT, Family, FK_DPORT, FK_DST, FK_FAMILY,
  FK_KIND, FK_PROTO, FK_SPORT, FK_SRC, IX_KEY, L4Kind, PO_ACTION, PO_DIR, PO_DP_HI, PO_DP_LO, PO_DST,
  PO_DSTLEN, PO_FAMILY, PO_FLAGS, PO_GEN, PO_ID, PO_NEXT, PO_PROTO, PO_RANK, PO_SEQ,
  PO_SIZE, PO_SP_HI, PO_SP_LO, PO_SRC, PO_SRCLEN, PO_TABLE, PO_TNEXT, PO_TPREV, POF_ICMP, POF_PORTS,
  MAX_ID, POF_PROTO_ANY, RECENT_ADDS, Status, PH_ACTION, PH_GEN, PH_ID, PH_SIZE,
} from './layout';
import { createIndex, idInsert, idLookup, idTake, ixFind, ixInsert, ixRemove, ixValue, ixSetValue } from './flat-index';
import { fillPool, poolFree, poolGive, poolPeek, poolTake, reservePool } from './pool';
import { hashBucketV4, hashWords } from './hash';
import { nextPow2, outOfMemory, reserve, zeroWords } from './memory';
import { countClassify } from './counters';
import { buildAll, comparedRules, initCuts, killRecord, NO_RULE, recordSlot, treeLookup, treeRef, treeRules, visited } from './cuts';

const BUCKET_WORDS: u32 = BK_SIZE >> 3;
const BUCKET_COUNT: u32 = IX_KEY + BK_SIZE; // u32 policies in the bucket, after the key
const DIRFAMS: u32 = 6;
const RANK_NONE: u64 = u64.MAX_VALUE;

export let policyBase: usize = 0;
let maxPolicies: u32 = 0;
let pool: usize = 0;
let idIndex: usize = 0;
let bucketIndex: usize = 0;
let tableBase: usize = 0;
let maxTables: u32 = 0;
let lists: usize = 0;        // DIRFAMS lists of maxTables u32 table indices, sorted by CT_MINRANK
let listLen: usize = 0;      // DIRFAMS u32
let bucketKey: usize = 0;    // scratch BK_SIZE
// Most table probes of a lookup find no bucket. A counting filter (one saturating u8
// per hash value, small enough to stay in L2) answers those without touching the
// bucket index, whose random accesses are cache misses once it outgrows the caches.
let filter: usize = 0;
let filterMask: u32 = 0;
// The decision trees (cuts.ts) hold the policies of the last rebuild; the tables
// above hold only those added since ("delta"). Removed tree policies stay as dead
// records until the next rebuild, which runs lazily (at the next lookup) once the
// delta or the dead records pass a fraction of the trees.
let deltaCount: u32 = 0;
let pendingCount: u32 = 0;   // added while a rebuild was due: in neither structure yet
const PENDING: u32 = 0xffffffff; // treeRef of a pending policy
let deadCount: u32 = 0;
let rebuildDue = false;
let treesEnabled = true;     // off: tuple space search alone (benchmarks compare the two)
export let rebuilds: u32 = 0;
let policySeq: u32 = 0;      // ids and insertion sequence
let generation: u32 = 0;     // R12 generations; never 0 for a live policy

// Per direction: default action, its generation, and the log of recent additions
// that lets the flow cache keep entries a new policy does not affect.
let defaults: usize = 0;     // DIR_COUNT u32 Action
let defaultGen: usize = 0;   // DIR_COUNT u32
let addEpoch: usize = 0;     // DIR_COUNT u32
// What a flow-cache hit reads of its policy, 16 bytes per slot (u32 generation, id,
// action; generation 0 = free): 160 KiB for 10k policies stays in L2, where the
// 128-byte records (1.25 MiB) did not, so a hit's policy check and verdict cost no
// extra cache miss (issue 15).
let policyHot: usize = 0;
let addLog: usize = 0;       // DIR_COUNT * RECENT_ADDS * (u32 slot + 1, u32 gen)

export function initSpd(policies: u32, tables: u32, defOut: u32, defIn: u32, defFwd: u32): bool {
  maxPolicies = policies;
  maxTables = tables;
  policyBase = reserve(<u64>policies * PO_SIZE, 64);
  policyHot = reserve(<u64>policies * PH_SIZE, 64);
  pool = reservePool(policies);
  idIndex = createIndex(policies, 8, 0);
  bucketIndex = createIndex(policies, BK_SIZE, 8);
  tableBase = reserve(<u64>tables * CT_SIZE, 8);
  lists = reserve(<u64>DIRFAMS * tables * 4, 8);
  listLen = reserve(DIRFAMS * 4, 8);
  bucketKey = reserve(BK_SIZE, 8);
  const filterSize = nextPow2(policies * 8 < 4096 ? 4096 : policies * 8);
  filter = reserve(filterSize, 64);
  filterMask = filterSize - 1;
  defaults = reserve(DIR_COUNT * 4, 8);
  defaultGen = reserve(DIR_COUNT * 4, 8);
  addEpoch = reserve(DIR_COUNT * 4, 8);
  addLog = reserve(<u64>DIR_COUNT * RECENT_ADDS * 8, 8);
  if (!initCuts(policies) || outOfMemory()) return false;
  fillPool(pool, policies);
  store<u32>(defaults, defOut);
  store<u32>(defaults + 4, defIn);
  store<u32>(defaults + 8, defFwd);
  for (let d: u32 = 0; d < <u32>DIR_COUNT; d++) store<u32>(defaultGen + (<usize>d << 2), ++generation);
  return true;
}

@inline export function policyPtr(slot: u32): usize { return policyBase + <usize>slot * PO_SIZE; }
export function policyRankOf(slot: u32): u64 { return load<u64>(policyPtr(slot) + PO_RANK); }
// The dirfam of the live policy in `slot`, or -1 for a free slot.
export function liveDirFam(slot: u32): i32 {
  const p = policyPtr(slot);
  if (load<u32>(p + PO_GEN) == 0) return -1;
  return <i32>dirFam(<u32>load<u8>(p + PO_DIR), <u32>load<u8>(p + PO_FAMILY));
}
@inline function policyRank(p: usize): u64 { return load<u64>(p + PO_RANK); }
@inline function policyGen(p: usize): u32 { return load<u32>(p + PO_GEN); }
@inline function hotPtr(slot: u32): usize { return policyHot + <usize>slot * PH_SIZE; }
@inline export function defaultAction(dir: u32): u32 { return load<u32>(defaults + (<usize>dir << 2)); }
@inline function defaultGeneration(dir: u32): u32 { return load<u32>(defaultGen + (<usize>dir << 2)); }
@inline export function currentAddEpoch(dir: u32): u32 { return load<u32>(addEpoch + (<usize>dir << 2)); }

export function spdCount(): u32 { return maxPolicies - poolFree(pool); }
export function spdGeneration(): u32 { return generation; }

export function setDefaultAction(dir: u32, action: u32): i32 {
  if (dir >= <u32>DIR_COUNT || (action != Action.Bypass && action != Action.Discard)) return Status.Invalid;
  store<u32>(defaults + (<usize>dir << 2), action);
  store<u32>(defaultGen + (<usize>dir << 2), ++generation);
  return Status.Ok;
}

// Slot of the live policy `id`, or -1.
export function policySlotOf(id: u32): i32 {
  return <i32>idLookup(idIndex, id) - 1;
}

// ---------------------------------------------------------------------------
// Prefix masks over address words (most significant word first).

@inline
function maskWord(len: u32, word: u32): u32 {
  const bits = <i32>len - <i32>(word << 5);
  if (bits <= 0) return 0;
  if (bits >= 32) return 0xffffffff;
  return <u32>0xffffffff << (32 - <u32>bits);
}

@inline
function prefixMatches(addr: usize, prefix: usize, len: u32, family: u32): bool {
  if ((load<u32>(addr) & maskWord(len, 0)) != load<u32>(prefix)) return false;
  if (family == Family.V4 || len <= 32) return true;
  for (let i: u32 = 1; i < 4; i++) {
    if ((load<u32>(addr + (i << 2)) & maskWord(len, i)) != load<u32>(prefix + (i << 2))) return false;
  }
  return true;
}

// R3/R5: does policy `p` select the flow key `k`?
export function policyMatches(p: usize, k: usize): bool {
  const family = <u32>load<u8>(p + PO_FAMILY);
  if (family != <u32>load<u8>(k + FK_FAMILY)) return false;
  if (!prefixMatches(k + FK_SRC, p + PO_SRC, load<u8>(p + PO_SRCLEN), family)) return false;
  if (!prefixMatches(k + FK_DST, p + PO_DST, load<u8>(p + PO_DSTLEN), family)) return false;
  const flags = <u32>load<u8>(p + PO_FLAGS);
  if ((flags & POF_PROTO_ANY) == 0 && load<u8>(p + PO_PROTO) != load<u8>(k + FK_PROTO)) return false;
  if ((flags & (POF_PORTS | POF_ICMP)) != 0) {
    const want = (flags & POF_PORTS) != 0 ? L4Kind.Ports : L4Kind.Icmp;
    if (<u32>load<u8>(k + FK_KIND) != <u32>want) return false;
    // ICMP type/code sit in the port fields of both the key and the policy.
    const sp = <u32>load<u16>(k + FK_SPORT);
    const dp = <u32>load<u16>(k + FK_DPORT);
    if (sp < <u32>load<u16>(p + PO_SP_LO) || sp > <u32>load<u16>(p + PO_SP_HI)) return false;
    if (dp < <u32>load<u16>(p + PO_DP_LO) || dp > <u32>load<u16>(p + PO_DP_HI)) return false;
  }
  return true;
}

// ---------------------------------------------------------------------------
// Classifier tables

@inline function tablePtr(t: u32): usize { return tableBase + <usize>t * CT_SIZE; }
@inline function listPtr(df: u32): usize { return lists + <usize>df * maxTables * 4; }
@inline function listLength(df: u32): u32 { return load<u32>(listLen + (<usize>df << 2)); }
@inline function dirFam(dir: u32, family: u32): u32 { return dir * 2 + (family == Family.V6 ? 1 : 0); }

// Fill the bucket scratch key: (table, src & mask(srcLen), dst & mask(dstLen)).
@inline
function makeBucketKey(t: u32, src: usize, dst: usize, srcLen: u32, dstLen: u32, family: u32): void {
  const k = bucketKey;
  store<u32>(k + BK_TABLE, t);
  store<u32>(k + BK_TABLE + 4, 0);
  store<u32>(k + BK_SRC, load<u32>(src) & maskWord(srcLen, 0));
  store<u32>(k + BK_DST, load<u32>(dst) & maskWord(dstLen, 0));
  if (family == Family.V6) {
    for (let i: u32 = 1; i < 4; i++) {
      store<u32>(k + BK_SRC + (i << 2), load<u32>(src + (i << 2)) & maskWord(srcLen, i));
      store<u32>(k + BK_DST + (i << 2), load<u32>(dst + (i << 2)) & maskWord(dstLen, i));
    }
  } else {
    store<u64>(k + BK_SRC + 4, 0);
    store<u32>(k + BK_SRC + 12, 0);
    store<u64>(k + BK_DST + 4, 0);
    store<u32>(k + BK_DST + 12, 0);
  }
}

@inline function filterSlot(h: u32): usize {
  return filter + <usize>(rotr<u32>(h, 16) & filterMask);
}

function filterAdd(h: u32): void {
  const f = filterSlot(h);
  const c = load<u8>(f);
  if (c != 255) store<u8>(f, c + 1);
}

// A saturated counter stays saturated: it no longer knows how many it stands for.
function filterRemove(h: u32): void {
  const f = filterSlot(h);
  const c = load<u8>(f);
  if (c != 255) store<u8>(f, c - 1);
}

// Hash of the bucket key in bucketKey. IPv4 keys hash only their non-zero words.
@inline
function bucketHash(family: u32): u32 {
  const k = bucketKey;
  if (family == Family.V4) return hashBucketV4(load<u32>(k + BK_TABLE), load<u32>(k + BK_SRC), load<u32>(k + BK_DST));
  return hashWords(k, BUCKET_WORDS);
}

function findBucket(t: u32, src: usize, dst: usize, family: u32): usize {
  const tp = tablePtr(t);
  makeBucketKey(t, src, dst, load<u8>(tp + CT_SRCLEN), load<u8>(tp + CT_DSTLEN), family);
  return ixFind(bucketIndex, bucketKey, bucketHash(family));
}

// findBucket for IPv6 lookups: the filter first.
@inline
function probeBucket(t: u32, src: usize, dst: usize, family: u32): usize {
  const tp = tablePtr(t);
  makeBucketKey(t, src, dst, load<u8>(tp + CT_SRCLEN), load<u8>(tp + CT_DSTLEN), family);
  const h = bucketHash(family);
  if (load<u8>(filterSlot(h)) == 0) return 0;
  return ixFind(bucketIndex, bucketKey, h);
}

function findTable(df: u32, srcLen: u32, dstLen: u32): i32 {
  const list = listPtr(df);
  const n = listLength(df);
  for (let i: u32 = 0; i < n; i++) {
    const t = load<u32>(list + (<usize>i << 2));
    const tp = tablePtr(t);
    if (<u32>load<u8>(tp + CT_SRCLEN) == srcLen && <u32>load<u8>(tp + CT_DSTLEN) == dstLen) return <i32>t;
  }
  return -1;
}

function createTable(df: u32, srcLen: u32, dstLen: u32): i32 {
  for (let t: u32 = 0; t < maxTables; t++) {
    const tp = tablePtr(t);
    if (load<u8>(tp + CT_USED) != 0) continue;
    store<u8>(tp + CT_SRCLEN, <u8>srcLen);
    store<u8>(tp + CT_DSTLEN, <u8>dstLen);
    store<u8>(tp + CT_DIRFAM, <u8>df);
    store<u8>(tp + CT_USED, 1);
    store<u32>(tp + CT_COUNT, 0);
    store<u32>(tp + CT_HEAD, 0);
    store<u64>(tp + CT_MINRANK, RANK_NONE);
    const n = listLength(df);
    store<u32>(listPtr(df) + (<usize>n << 2), t);
    store<u32>(listLen + (<usize>df << 2), n + 1);
    return <i32>t;
  }
  return -1;
}

// Keep the list sorted by CT_MINRANK after table `t`'s rank changed (or it emptied).
function resortTable(df: u32, t: u32): void {
  const list = listPtr(df);
  const n = listLength(df);
  let i: u32 = 0;
  while (load<u32>(list + (<usize>i << 2)) != t) i++;
  const rank = load<u64>(tablePtr(t) + CT_MINRANK);
  while (i > 0) {
    const prev = load<u32>(list + (<usize>(i - 1) << 2));
    if (load<u64>(tablePtr(prev) + CT_MINRANK) <= rank) break;
    store<u32>(list + (<usize>i << 2), prev);
    i--;
  }
  while (i + 1 < n) {
    const next = load<u32>(list + (<usize>(i + 1) << 2));
    if (load<u64>(tablePtr(next) + CT_MINRANK) >= rank) break;
    store<u32>(list + (<usize>i << 2), next);
    i++;
  }
  store<u32>(list + (<usize>i << 2), t);
}

function dropTable(df: u32, t: u32): void {
  const list = listPtr(df);
  const n = listLength(df);
  let i: u32 = 0;
  while (load<u32>(list + (<usize>i << 2)) != t) i++;
  for (; i + 1 < n; i++) store<u32>(list + (<usize>i << 2), load<u32>(list + (<usize>(i + 1) << 2)));
  store<u32>(listLen + (<usize>df << 2), n - 1);
  store<u8>(tablePtr(t) + CT_USED, 0);
}

// Relaxed tuple for a new table: lengths rounded down, so later policies with
// slightly longer prefixes can share it.
@inline function relax(len: u32, family: u32): u32 {
  return family == Family.V6 ? len & ~7 : len & ~3;
}

// Choose the table for a new policy, creating one if needed. -1 when none can be had.
function chooseTable(df: u32, p: usize): i32 {
  const family = <u32>load<u8>(p + PO_FAMILY);
  const sL = <u32>load<u8>(p + PO_SRCLEN);
  const dL = <u32>load<u8>(p + PO_DSTLEN);
  const list = listPtr(df);
  const n = listLength(df);
  let best: i32 = -1;
  let bestSpecific: i32 = -1;
  let fallback: i32 = -1;
  let fallbackSpecific: i32 = -1;
  for (let i: u32 = 0; i < n; i++) {
    const t = load<u32>(list + (<usize>i << 2));
    const tp = tablePtr(t);
    const tsL = <u32>load<u8>(tp + CT_SRCLEN);
    const tdL = <u32>load<u8>(tp + CT_DSTLEN);
    if (tsL > sL || tdL > dL) continue;
    const specific = <i32>(tsL + tdL);
    if (specific > fallbackSpecific) { fallback = <i32>t; fallbackSpecific = specific; }
    const b = findBucket(t, p + PO_SRC, p + PO_DST, family);
    const count: u32 = b == 0 ? 0 : load<u32>(b + BUCKET_COUNT);
    if (count < <u32>COLLISION_LIMIT && specific > bestSpecific) { best = <i32>t; bestSpecific = specific; }
  }
  if (best >= 0) return best;
  const rsL = relax(sL, family);
  const rdL = relax(dL, family);
  if (findTable(df, rsL, rdL) < 0) {
    const t = createTable(df, rsL, rdL);
    if (t >= 0) return t;
  } else {
    // The relaxed table is crowded for these prefixes: give them their exact tuple.
    const exact = findTable(df, sL, dL);
    if (exact >= 0) return exact; // identical prefixes: the bucket simply grows
    const t = createTable(df, sL, dL);
    if (t >= 0) return t;
  }
  return fallback; // out of tables: any compatible one is still correct
}

function classifierInsert(slot: u32): i32 {
  const p = policyPtr(slot);
  const family = <u32>load<u8>(p + PO_FAMILY);
  const df = dirFam(<u32>load<u8>(p + PO_DIR), family);
  const ti = chooseTable(df, p);
  if (ti < 0) return Status.ClassifierFull;
  const t = <u32>ti;
  const tp = tablePtr(t);
  const rank = policyRank(p);
  let b = findBucket(t, p + PO_SRC, p + PO_DST, family);
  if (b == 0) {
    const h = bucketHash(family);
    b = ixInsert(bucketIndex, bucketKey, h, 0);
    if (b == 0) return Status.IndexFull;
    store<u32>(b + BUCKET_COUNT, 0);
    filterAdd(h);
  }
  // Insert into the bucket chain in rank order.
  let prev: u32 = 0;
  let cur = ixValue(b);
  while (cur != 0 && policyRank(policyPtr(cur - 1)) < rank) {
    prev = cur;
    cur = load<u32>(policyPtr(cur - 1) + PO_NEXT);
  }
  store<u32>(p + PO_NEXT, cur);
  if (prev == 0) ixSetValue(b, slot + 1);
  else store<u32>(policyPtr(prev - 1) + PO_NEXT, slot + 1);
  store<u32>(b + BUCKET_COUNT, load<u32>(b + BUCKET_COUNT) + 1);
  // Table membership.
  store<u32>(p + PO_TABLE, t);
  const head = load<u32>(tp + CT_HEAD);
  store<u32>(p + PO_TNEXT, head);
  store<u32>(p + PO_TPREV, 0);
  if (head != 0) store<u32>(policyPtr(head - 1) + PO_TPREV, slot + 1);
  store<u32>(tp + CT_HEAD, slot + 1);
  store<u32>(tp + CT_COUNT, load<u32>(tp + CT_COUNT) + 1);
  if (rank < load<u64>(tp + CT_MINRANK)) {
    store<u64>(tp + CT_MINRANK, rank);
    resortTable(df, t);
  }
  return Status.Ok;
}

function classifierRemove(slot: u32): void {
  const p = policyPtr(slot);
  const family = <u32>load<u8>(p + PO_FAMILY);
  const df = dirFam(<u32>load<u8>(p + PO_DIR), family);
  const t = load<u32>(p + PO_TABLE);
  const tp = tablePtr(t);
  const b = findBucket(t, p + PO_SRC, p + PO_DST, family);
  // Unlink from the bucket chain.
  let prev: u32 = 0;
  let cur = ixValue(b);
  while (cur != slot + 1) {
    prev = cur;
    cur = load<u32>(policyPtr(cur - 1) + PO_NEXT);
  }
  const next = load<u32>(p + PO_NEXT);
  if (prev == 0) ixSetValue(b, next);
  else store<u32>(policyPtr(prev - 1) + PO_NEXT, next);
  const left = load<u32>(b + BUCKET_COUNT) - 1;
  if (left == 0) {
    filterRemove(bucketHash(family));
    ixRemove(bucketIndex, b);
  } else {
    store<u32>(b + BUCKET_COUNT, left);
  }
  // Unlink from the table's members.
  const tn = load<u32>(p + PO_TNEXT);
  const tpv = load<u32>(p + PO_TPREV);
  if (tpv == 0) store<u32>(tp + CT_HEAD, tn);
  else store<u32>(policyPtr(tpv - 1) + PO_TNEXT, tn);
  if (tn != 0) store<u32>(policyPtr(tn - 1) + PO_TPREV, tpv);
  const count = load<u32>(tp + CT_COUNT) - 1;
  store<u32>(tp + CT_COUNT, count);
  if (count == 0) {
    dropTable(df, t);
    return;
  }
  if (policyRank(p) == load<u64>(tp + CT_MINRANK)) {
    let min = RANK_NONE;
    for (let m = load<u32>(tp + CT_HEAD); m != 0; m = load<u32>(policyPtr(m - 1) + PO_TNEXT)) {
      const r = policyRank(policyPtr(m - 1));
      if (r < min) min = r;
    }
    store<u64>(tp + CT_MINRANK, min);
    resortTable(df, t);
  }
}

// Walk a bucket chain (rank order) for the first policy that selects `k` and beats
// `bestRank`. Returns its slot + 1, or 0.
@inline
function scanBucket(b: usize, k: usize, bestRank: u64): u32 {
  for (let cur = ixValue(b); cur != 0; cur = load<u32>(policyPtr(cur - 1) + PO_NEXT)) {
    const p = policyPtr(cur - 1);
    if (policyRank(p) >= bestRank) return 0;
    compared++;
    if (policyMatches(p, k)) return cur;
  }
  return 0;
}

// Best policy for flow key `k` in direction `dir`: slot + 1, or 0 for the default.
export function classify(k: usize, dir: u32): u32 {
  if (rebuildDue) spdRebuild();
  visited = 0;
  comparedRules = 0;
  const rec = treeLookup(k, load<u8>(k + FK_FAMILY) == <u8>Family.V6 ? dir * 2 + 1 : dir * 2);
  compared = comparedRules;
  const best = tableLookup(k, dir, rec);
  countClassify(visited + probes, compared);
  return best;
}

let compared: u32 = 0;       // rules compared by the lookup under way
let probes: u32 = 0;         // tables probed by the last tableLookup

// The rest of a lookup after the trees gave record `rec` (or NO_RULE): the tuple
// tables of the policies added since the last rebuild, searched while they can beat
// it (R1, R2). Returns slot + 1, or 0 for the default; `probes` and `compared` are
// updated.
function tableLookup(k: usize, dir: u32, rec: u32): u32 {
  const family = <u32>load<u8>(k + FK_FAMILY);
  const df = dirFam(dir, family);
  const list = listPtr(df);
  const n = listLength(df);
  let best: u32 = rec != NO_RULE ? recordSlot(rec) + 1 : 0;
  probes = 0;
  // Usually no tables (nothing added since the last rebuild): the answer's rank,
  // a read of its 128-byte policy record, is needed only to compare with them.
  if (n == 0) return best;
  let bestRank = best != 0 ? policyRank(policyPtr(best - 1)) : RANK_NONE;
  if (family == Family.V4) {
    // IPv4 keys: one address word each; hash from registers, build the key for the
    // index only when the filter says a bucket may exist.
    const src = load<u32>(k + FK_SRC);
    const dst = load<u32>(k + FK_DST);
    for (let i: u32 = 0; i < n; i++) {
      const t = load<u32>(list + (<usize>i << 2));
      const tp = tablePtr(t);
      if (load<u64>(tp + CT_MINRANK) >= bestRank) break; // priority pruning
      probes++;
      const ms = src & maskWord(load<u8>(tp + CT_SRCLEN), 0);
      const md = dst & maskWord(load<u8>(tp + CT_DSTLEN), 0);
      const h = hashBucketV4(t, ms, md);
      if (load<u8>(filterSlot(h)) == 0) continue;
      const bk = bucketKey;
      store<u64>(bk + BK_TABLE, <u64>t);
      store<u64>(bk + BK_SRC, <u64>ms);
      store<u64>(bk + BK_SRC + 8, 0);
      store<u64>(bk + BK_DST, <u64>md);
      store<u64>(bk + BK_DST + 8, 0);
      const b = ixFind(bucketIndex, bk, h);
      if (b == 0) continue;
      const found = scanBucket(b, k, bestRank);
      if (found != 0) {
        best = found;
        bestRank = policyRank(policyPtr(found - 1));
      }
    }
  } else {
    for (let i: u32 = 0; i < n; i++) {
      const t = load<u32>(list + (<usize>i << 2));
      const tp = tablePtr(t);
      if (load<u64>(tp + CT_MINRANK) >= bestRank) break; // priority pruning
      probes++;
      const b = probeBucket(t, k + FK_SRC, k + FK_DST, family);
      if (b == 0) continue;
      const found = scanBucket(b, k, bestRank);
      if (found != 0) {
        best = found;
        bestRank = policyRank(policyPtr(found - 1));
      }
    }
  }
  return best;
}

// ---------------------------------------------------------------------------
// Add and remove

// Validate the spec at `spec` (PO_* layout). The host validates user input with
// named errors; this guards the engine's own invariants against a buggy host.
function specValid(spec: usize): bool {
  const dir = <u32>load<u8>(spec + PO_DIR);
  const family = <u32>load<u8>(spec + PO_FAMILY);
  const action = <u32>load<u8>(spec + PO_ACTION);
  if (dir >= <u32>DIR_COUNT || action > <u32>Action.Protect) return false;
  if (family != Family.V4 && family != Family.V6) return false;
  const maxLen: u32 = family == Family.V4 ? 32 : 128;
  if (<u32>load<u8>(spec + PO_SRCLEN) > maxLen || <u32>load<u8>(spec + PO_DSTLEN) > maxLen) return false;
  if (load<u16>(spec + PO_SP_LO) > load<u16>(spec + PO_SP_HI)) return false;
  if (load<u16>(spec + PO_DP_LO) > load<u16>(spec + PO_DP_HI)) return false;
  return true;
}

// Add the policy described at `spec`. Returns its slot (>= 0) or a Status.
export function spdAdd(spec: usize): i32 {
  if (!specValid(spec)) return Status.Invalid;
  if (policySeq >= <u32>MAX_ID) return Status.IdsExhausted;
  const next = poolPeek(pool);
  if (next < 0) return Status.TableFull;
  const slot = <u32>next;
  const p = policyPtr(slot);
  memory.copy(p, spec, PO_SIZE);
  const family = <u32>load<u8>(p + PO_FAMILY);
  // Canonical prefixes: host bits cleared.
  for (let i: u32 = 0; i < 4; i++) {
    const off = <usize>(i << 2);
    const sm = family == Family.V4 && i > 0 ? 0 : maskWord(load<u8>(p + PO_SRCLEN), i);
    const dm = family == Family.V4 && i > 0 ? 0 : maskWord(load<u8>(p + PO_DSTLEN), i);
    store<u32>(p + PO_SRC + off, load<u32>(p + PO_SRC + off) & sm);
    store<u32>(p + PO_DST + off, load<u32>(p + PO_DST + off) & dm);
  }
  const id = policySeq + 1;
  store<u32>(p + PO_ID, id);
  store<u32>(p + PO_SEQ, id);
  store<u32>(p + PO_GEN, generation + 1);
  // While a rebuild is due (it runs before the next lookup), a new policy waits for
  // it instead of entering the tables: bulk loads cost one rebuild, not 10k inserts.
  const pending = rebuildDue;
  if (!pending) {
    const status = classifierInsert(slot);
    if (status != Status.Ok) {
      zeroWords(p, PO_SIZE >> 3);
      return status;
    }
  }
  if (idInsert(idIndex, id, slot) == 0) {
    if (!pending) classifierRemove(slot);
    zeroWords(p, PO_SIZE >> 3);
    return Status.IndexFull;
  }
  policySeq = id;
  generation++;
  poolTake(pool);
  const hot = hotPtr(slot);
  store<u32>(hot + PH_GEN, generation);
  store<u32>(hot + PH_ID, id);
  store<u32>(hot + PH_ACTION, <u32>load<u8>(p + PO_ACTION));
  if (pending) {
    store<u32>(treeRef + (<usize>slot << 2), PENDING);
    pendingCount++;
  } else {
    store<u32>(treeRef + (<usize>slot << 2), 0);
    deltaCount++;
  }
  checkRebuild();
  // Remember the addition so cached flows it does not select stay valid.
  const dir = <u32>load<u8>(p + PO_DIR);
  const epoch = currentAddEpoch(dir) + 1;
  store<u32>(addEpoch + (<usize>dir << 2), epoch);
  const entry = addLog + (<usize>(dir * RECENT_ADDS + (epoch % RECENT_ADDS)) << 3);
  store<u32>(entry, slot + 1);
  store<u32>(entry + 4, generation);
  return <i32>slot;
}

// Remove a policy by id. Returns its former slot (>= 0) or NotFound.
export function spdRemove(id: u32): i32 {
  const taken = idTake(idIndex, id);
  if (taken < 0) return Status.NotFound;
  const slot = <u32>taken;
  const ref = load<u32>(treeRef + (<usize>slot << 2));
  if (ref == PENDING) {
    store<u32>(treeRef + (<usize>slot << 2), 0);
    pendingCount--;
  } else if (ref != 0) {
    killRecord(ref - 1);
    store<u32>(treeRef + (<usize>slot << 2), 0);
    deadCount++;
  } else {
    classifierRemove(slot);
    deltaCount--;
  }
  checkRebuild();
  // Generation 0 marks the slot free: cached flows that point at it go stale.
  zeroWords(policyPtr(slot), PO_SIZE >> 3);
  zeroWords(hotPtr(slot), PH_SIZE >> 3);
  poolGive(pool, slot);
  generation++;
  return <i32>slot;
}

// ---------------------------------------------------------------------------
// Rebuild of the trees

const DELTA_MIN: u32 = 32;

// Rebuild once the tables hold more than 1/16 of the trees' policies (at least
// DELTA_MIN), or dead records pass 1/4: lookups stay within a bounded factor of a
// fresh build, and a rebuild's cost is spread over that many changes.
function checkRebuild(): void {
  if (!treesEnabled) return;
  const live = treeRules - deadCount;
  const deltaLimit = max<u32>(DELTA_MIN, live >> 4);
  const deadLimit = max<u32>(DELTA_MIN, live >> 2);
  rebuildDue = pendingCount != 0 || deltaCount > deltaLimit || deadCount > deadLimit;
}

// Build the trees from every live policy and empty the tables. Answers do not
// change (R4): both structures give the first match by rank (R1, R2).
export function spdRebuild(): void {
  if (!treesEnabled) return;
  buildAll(maxPolicies);
  for (let df: u32 = 0; df < DIRFAMS; df++) {
    while (listLength(df) != 0) {
      const tp = tablePtr(load<u32>(listPtr(df)));
      while (load<u8>(tp + CT_USED) != 0 && load<u32>(tp + CT_HEAD) != 0) classifierRemove(load<u32>(tp + CT_HEAD) - 1);
    }
  }
  deltaCount = 0;
  deadCount = 0;
  pendingCount = 0;
  rebuildDue = false;
  rebuilds++;
}

// Switch the trees off (only while the SPD is empty): every policy stays in the
// tables. For benchmarks that compare the two classifiers in one process.
export function spdUseTrees(on: bool): bool {
  if (spdCount() != 0) return false;
  treesEnabled = on;
  return true;
}

// Is the cached decision (policy slot + 1 or 0, with its generation, validated at
// add epoch `epoch`) still what the classifier would answer for key `k`?
// Removal is caught by the generation; additions by the log of recent additions,
// and when too many were added since, the entry is simply not trusted.
export function cachedDecisionValid(k: usize, dir: u32, slot1: u32, gen: u32, epoch: u32): bool {
  if (slot1 != 0) {
    if (load<u32>(hotPtr(slot1 - 1) + PH_GEN) != gen) return false;
  } else if (defaultGeneration(dir) != gen) {
    return false;
  }
  const now = currentAddEpoch(dir);
  if (epoch == now) return true;
  const rank = slot1 != 0 ? policyRank(policyPtr(slot1 - 1)) : RANK_NONE;
  if (now - epoch > <u32>RECENT_ADDS) return false;
  for (let e = epoch + 1; e != now + 1; e++) {
    const entry = addLog + (<usize>(dir * RECENT_ADDS + (e % RECENT_ADDS)) << 3);
    const added = load<u32>(entry);
    const p = policyPtr(added - 1);
    if (policyGen(p) != load<u32>(entry + 4)) continue; // removed since
    if (policyRank(p) < rank && policyMatches(p, k)) return false;
  }
  return true;
}

export function policyAction(slot1: u32, dir: u32): u32 {
  return slot1 == 0 ? defaultAction(dir) : load<u32>(hotPtr(slot1 - 1) + PH_ACTION);
}

export function policyIdOf(slot1: u32): u32 {
  return slot1 == 0 ? 0 : load<u32>(hotPtr(slot1 - 1) + PH_ID);
}

export function policyGenerationOf(slot1: u32, dir: u32): u32 {
  return slot1 == 0 ? defaultGeneration(dir) : load<u32>(hotPtr(slot1 - 1) + PH_GEN);
}
