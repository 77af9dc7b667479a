// The classifier's main structure: decision trees with equal-sized cuts (HiCuts,
// Gupta and McKeown), one tree per rule subset as in CutSplit (Li et al.), compiled
// into flat arrays of linear memory.
//
// A rebuild takes every live policy of a (direction, family), sorts them by rank
// (R1) into compact 32-byte rule records, so that a record's index is its rank
// order, and splits them by which address prefixes are long ("small" fields):
// both, source only, destination only, neither. Each subset gets a tree. A node
// cuts one field (an address word, a port, the protocol) into 2^b equal parts by
// taking b bits of the flow key; a rule goes to every child its range meets, and
// children with the same rules share a subtree. A leaf lists rule indices in rank
// order, so the first rule that matches is the leaf's answer (R2), and a lookup
// keeps the lowest index over the trees, skipping trees whose best rule cannot beat
// it.
//
// The trees are rebuilt, not edited: spd.ts puts policies added since the last
// rebuild in the tuple-space classifier (searched alongside, usually near empty)
// and marks removed ones dead in their records, and rebuilds once those grow past a
// fraction of the tree (see spd.ts). Every region is reserved at init from the
// policy capacity; a build that would not fit retries with fewer cuts, and finally
// with one leaf per subset, which always fits.

import { Family, FK_SIZE, PW_SIZE, FK_DPORT, FK_DST, FK_FAMILY, FK_KIND, FK_PROTO, FK_SPORT, FK_SRC, L4Kind, PO_DP_HI, PO_DP_LO, PO_DST, PO_DSTLEN, PO_FAMILY, PO_FLAGS, PO_PROTO, PO_SP_HI, PO_SP_LO, PO_SRC, PO_SRCLEN, POF_ICMP, POF_PORTS, POF_PROTO_ANY } from './layout';
import { copyWords, reserve, wordsEqual } from './memory';
import { liveDirFam, policyMatches, policyPtr, policyRankOf } from './spd';

// Compact rule record (internal to the data plane; the host never reads it): the
// IPv4 match fields (for IPv6, the first address words) as two v128, so that a
// leaf's rule is compared with the key in a few SIMD operations and one branch:
// lanes 0-2 match when (key & mask) == value, lane 3 when the key's ports lie in
// [low, high] as two u16 each.
const CR_VAL: usize = 0;     // v128: source word 0 masked, destination word 0 masked, PK value, ports low
const CR_MASK: usize = 16;   // v128: source mask, destination mask, PK mask, ports high
// PK: protocol | L4 kind << 8; the protocol part masked out for any protocol, the
// kind part only when port or ICMP fields constrain (R3). Ports: source port |
// destination port << 16 (ICMP: type | code << 16), [0, 0xffffffff] when unconstrained.
const CR_SIZE: usize = 32;

const DIRFAMS: u32 = 6;
const SUBSETS: u32 = 4;
const MAX_DIMS: u32 = 11;     // IPv6: 4 + 4 address words, two ports, protocol
const LEAF: u32 = 0x80000000;
export const NO_RULE: u32 = 0xffffffff;

// Tuning (measured on ClassBench acl1/fw1/ipc1_10k, docs/performance.md).
let BINTH: u32 = 8;           // rules a leaf may hold before it is cut
let SPFAC: u32 = 4;           // copies a cut may make: children + entries <= SPFAC * rules
const MAX_DEPTH: u32 = 24;
const MAX_BITS: u32 = 8;      // at most 2^8 children per node below the root
const ROOT_BITS: u32 = 12;    // and 2^12 at the root
const SMALL_V4: u32 = 16;     // a prefix at least this long is a "small" field
const SMALL_V6: u32 = 48;

let capacity: u32 = 0;
let records: usize = 0;       // capacity CR_SIZE records, grouped by dirfam, rank order within
let ranges: usize = 0;        // capacity * MAX_DIMS * (u32 lo, u32 hi), by record index
let order: usize = 0;         // capacity u32: slots being sorted
let recSlot: usize = 0;        // capacity u32 by record index: policy slot (NO_RULE once removed)
export let treeRef: usize = 0; // capacity u32 by policy slot: record index + 1 (0 = not in a tree)
let nodes: usize = 0;         // u64 child entries: child code | (the child node's header, or a leaf's first record index) << 32
let nodeCap: u32 = 0;
let nodeUsed: u32 = 0;
let leaves: usize = 0;
let leafCap: u32 = 0;
let leafUsed: u32 = 0;
let scratch: usize = 0;       // rule lists during a build (u32 record indices)
let scratchCap: u32 = 0;
let counts: usize = 0;        // (1 << ROOT_BITS) + 2 i32, cut evaluation
let groupOf: usize = 0;       // (1 << ROOT_BITS) + 2 u32
let region: usize = 0;        // (MAX_DEPTH + 2) * MAX_DIMS * (u32 base, u32 width)
// Trees per dirfam, in order of their best rule: root code and best record index.
let treeRoot: usize = 0;      // DIRFAMS * SUBSETS u32
let treeHead: usize = 0;      // DIRFAMS * SUBSETS u32: the root node's header, or a root leaf's first record index
let treeMin: usize = 0;       // DIRFAMS * SUBSETS u32
let treeCount: usize = 0;     // DIRFAMS u32
let starts: usize = 0;        // DIRFAMS + 1 u32: first record of each dirfam
let overflow = false;
let spfac: u32 = 4;
let cutsAllowed = true;

export let lastAttempt: u32 = 0; // 0: full cuts, 1: fewer (space ran out), 2: leaves only
export let treeRules: u32 = 0;  // records in the trees (live or dead)
export let visited: u32 = 0;    // lookup statistics: trees walked, rules compared
export let comparedRules: u32 = 0;

export function initCuts(policies: u32): bool {
  capacity = policies;
  records = reserve(<u64>policies * CR_SIZE, 64);
  recSlot = reserve(<u64>policies * 4, 8);
  ranges = reserve(<u64>policies * MAX_DIMS * 8, 8);
  order = reserve(<u64>policies * 4, 8);
  treeRef = reserve(<u64>policies * 4, 8);
  nodeCap = policies * 16 + 8192;
  nodes = reserve(<u64>nodeCap * 8, 64);
  leafCap = policies * 48 + 4096;
  leaves = reserve(<u64>leafCap * 4, 64);
  scratchCap = policies * 48 + 4096;
  scratch = reserve(<u64>scratchCap * 4, 8);
  counts = reserve(((1 << ROOT_BITS) + 2) * 4, 8);
  groupOf = reserve(((1 << ROOT_BITS) + 2) * 4, 8);
  region = reserve((MAX_DEPTH + 2) * MAX_DIMS * 8, 8);
  treeRoot = reserve(DIRFAMS * SUBSETS * 4, 8);
  treeHead = reserve(DIRFAMS * SUBSETS * 4, 8);
  treeMin = reserve(DIRFAMS * SUBSETS * 4, 8);
  treeCount = reserve(DIRFAMS * 4, 8);
  starts = reserve((DIRFAMS + 1) * 4, 8);
  aheadKey = reserve(FK_SIZE, 8);
  return aheadKey != 0;
}

@inline function recordPtr(i: u32): usize { return records + <usize>i * CR_SIZE; }
@inline function rangeLo(i: u32, d: u32): u32 { return load<u32>(ranges + ((<usize>i * MAX_DIMS + d) << 3)); }
@inline function rangeHi(i: u32, d: u32): u32 { return load<u32>(ranges + ((<usize>i * MAX_DIMS + d) << 3) + 4); }

// The fields a node may cut: byte offset in the flow key and width in bits. IPv4
// keys use dims 0, 4, 8, 9, 10 (one address word each).
function dimOffset(d: u32): u32 {
  if (d < 4) return <u32>FK_SRC + (d << 2);
  if (d < 8) return <u32>FK_DST + ((d - 4) << 2);
  if (d == 8) return <u32>FK_SPORT;
  if (d == 9) return <u32>FK_DPORT;
  return <u32>FK_PROTO;
}
@inline function dimWidth(d: u32): u32 { return d < 8 ? 32 : d < 10 ? 16 : 8; }
@inline function dimUsed(d: u32, family: u32): bool {
  return family == Family.V6 || d == 0 || d >= 4 && (d == 4 || d >= 8);
}

@inline
function maskWord(len: u32, word: u32): u32 {
  const bits = <i32>len - <i32>(word << 5);
  if (bits <= 0) return 0;
  if (bits >= 32) return 0xffffffff;
  return <u32>0xffffffff << (32 - <u32>bits);
}

// ---------------------------------------------------------------------------
// Lookup

// A removed policy's record can never match: no masked word equals 1 under mask 0.
export function killRecord(i: u32): void {
  const r = recordPtr(i);
  store<u32>(r + CR_VAL, 1);
  store<u32>(r + CR_MASK, 0);
  store<u32>(recSlot + (<usize>i << 2), NO_RULE);
}

@inline export function recordSlot(i: u32): u32 { return load<u32>(recSlot + (<usize>i << 2)); }

// Walk one tree to its leaf for key k. One load per level: a child's entry holds
// its own header (see buildNode), so the walk never reads a node's header and then
// its child slot; a leaf's entry holds the leaf's first record index instead, so
// that record is loaded alongside the leaf rather than after it. Returns the leaf
// code | the first record index << 32.
@inline
function walk(code: u32, h: u32, k: usize): u64 {
  while ((code & LEAF) == 0) {
    const v = load<u32>(k + (h & 0xff));
    const e = load<u64>(nodes + (<usize>code << 3) + (<usize>((v >>> ((h >>> 8) & 31)) & (h >>> 16)) << 3));
    code = <u32>e;
    h = <u32>(e >>> 32);
  }
  return <u64>code | (<u64>h << 32);
}

// Lowest record index of dirfam df that selects key k, or NO_RULE. For IPv6 the
// record's first address words filter and the full policy decides (scanLeaf).
//
// A tree walk is a chain of dependent loads. So that it overlaps other work, each
// lookup also walks the first tree (the one with the best rules, never skipped)
// for the key one work record further on (k + PW_SIZE: in a batch, the next
// packet's flow key, already parsed), and remembers the leaf entry it reached with
// a copy of that key; the processor resolves that chain while the rest of this
// packet's path runs. A later lookup uses the entry only for an identical key and
// the same build: anything else (a hit in between, a new batch, a rebuild, a key
// that is not a batch record) walks as usual, so answers never depend on it.
export function treeLookup(k: usize, df: u32): u32 {
  const n = load<u32>(treeCount + (<usize>df << 2));
  if (n == 0) return NO_RULE;
  const base = <usize>(df * SUBSETS) << 2;
  let key = i32x4.splat(load<u32>(k + FK_SRC));
  key = i32x4.replace_lane(key, 1, load<u32>(k + FK_DST));
  key = i32x4.replace_lane(key, 2, <u32>load<u8>(k + FK_PROTO) | (<u32>load<u8>(k + FK_KIND) << 8));
  key = i32x4.replace_lane(key, 3, load<u32>(k + FK_SPORT));
  const ahead = aheadBuild == builds && aheadDf == df && wordsEqual(k, aheadKey, FK_WORDS);
  const e0 = ahead ? aheadEntry : walk(load<u32>(treeRoot + base), load<u32>(treeHead + base), k);
  // The next key's first walk (see above).
  const next = k + PW_SIZE;
  copyWords(aheadKey, next, FK_WORDS);
  aheadEntry = walk(load<u32>(treeRoot + base), load<u32>(treeHead + base), aheadKey);
  aheadDf = df;
  aheadBuild = builds;
  visited++;
  let best = scanLeaf(leaves + (<usize>(<u32>e0 & ~LEAF) << 2), <u32>(e0 >>> 32), key, k, NO_RULE);
  comparedRules += scanned;
  for (let t: u32 = 1; t < n; t++) {
    if (load<u32>(treeMin + base + (<usize>t << 2)) >= best) break;
    visited++;
    const e = walk(load<u32>(treeRoot + base + (<usize>t << 2)), load<u32>(treeHead + base + (<usize>t << 2)), k);
    const found = scanLeaf(leaves + (<usize>(<u32>e & ~LEAF) << 2), <u32>(e >>> 32), key, k, best);
    comparedRules += scanned;
    if (found != NO_RULE) best = found;
  }
  return best;
}

const FK_WORDS: u32 = <u32>FK_SIZE >> 3;
let aheadKey: usize = 0;      // FK_SIZE bytes: the key the first tree was walked ahead for
let aheadEntry: u64 = 0;      // the leaf entry it reached
let aheadDf: u32 = 0xffffffff;
let aheadBuild: u32 = 0xffffffff;
let builds: u32 = 0;          // builds so far (an ahead walk is for one build only)

// Does the record at r select the key (as a vector: source, destination, protocol |
// kind << 8, ports)? Lanes 0-2: (key & mask) == value; lane 3: both u16 halves within
// [low, high]. A few SIMD operations and one branch per rule.
@inline
function recordSelects(r: usize, key: v128): bool {
  const val = v128.load(r + CR_VAL);
  const mask = v128.load(r + CR_MASK);
  const fields = i32x4.eq(v128.and(key, mask), val);
  const ports = v128.and(i16x8.ge_u(key, val), i16x8.le_u(key, mask));
  return i16x8.all_true(v128.bitselect(ports, fields, i32x4(0, 0, 0, -1)));
}

// The first record of the leaf (whose first record index is `first`) that selects
// key k and is below `best`, or NO_RULE; `scanned` says how many were compared. For
// IPv6 the record's first words filtered and the full policy (spd.ts
// policyMatches) decides.
let scanned: u32 = 0;
@inline
function scanLeaf(leaf: usize, first: u32, key: v128, k: usize, best: u32): u32 {
  // The first rule's record is read before the leaf's count (the shared empty
  // leaf's `first` is 0: a harmless read), so the two loads overlap.
  const selects = recordSelects(recordPtr(first), key);
  const count = load<u32>(leaf);
  scanned = 0;
  if (count == 0 || first >= best) return NO_RULE;
  scanned = 1;
  if (selects && (load<u8>(k + FK_FAMILY) != <u8>Family.V6 || policyMatches(policyPtr(recordSlot(first)), k))) return first;
  let i: u32 = 1;
  for (; i < count; i++) {
    const idx = load<u32>(leaf + 4 + (<usize>i << 2));
    if (idx >= best) break;
    if (!recordSelects(recordPtr(idx), key)) continue;
    if (load<u8>(k + FK_FAMILY) == <u8>Family.V6 && !policyMatches(policyPtr(recordSlot(idx)), k)) continue;
    scanned = i + 1;
    return idx;
  }
  scanned = i;
  return NO_RULE;
}

// ---------------------------------------------------------------------------
// Build

// Slots of the live policies of dirfam df, sorted by rank: heap sort on `order`.
function siftDown(a: usize, start: u32, end: u32): void {
  let root = start;
  while (true) {
    let child = root * 2 + 1;
    if (child >= end) return;
    const cr = policyRankOf(load<u32>(a + (<usize>child << 2)));
    let pick = child;
    let pr = cr;
    if (child + 1 < end) {
      const r2 = policyRankOf(load<u32>(a + (<usize>(child + 1) << 2)));
      if (r2 > cr) { pick = child + 1; pr = r2; }
    }
    const rr = policyRankOf(load<u32>(a + (<usize>root << 2)));
    if (rr >= pr) return;
    const tmp = load<u32>(a + (<usize>root << 2));
    store<u32>(a + (<usize>root << 2), load<u32>(a + (<usize>pick << 2)));
    store<u32>(a + (<usize>pick << 2), tmp);
    root = pick;
  }
}

function sortByRank(a: usize, n: u32): void {
  if (n < 2) return;
  for (let s = <i32>(n / 2) - 1; s >= 0; s--) siftDown(a, <u32>s, n);
  for (let end = n - 1; end > 0; end--) {
    const tmp = load<u32>(a);
    store<u32>(a, load<u32>(a + (<usize>end << 2)));
    store<u32>(a + (<usize>end << 2), tmp);
    siftDown(a, 0, end);
  }
}

// Record i from the policy at p: the compact match fields and the ranges per dim.
function writeRecord(i: u32, slot: u32, p: usize): void {
  const r = recordPtr(i);
  const family = <u32>load<u8>(p + PO_FAMILY);
  const sl = <u32>load<u8>(p + PO_SRCLEN);
  const dl = <u32>load<u8>(p + PO_DSTLEN);
  const flags = <u32>load<u8>(p + PO_FLAGS);
  const anyProto = (flags & POF_PROTO_ANY) != 0;
  const fields = (flags & (POF_PORTS | POF_ICMP)) != 0;
  const want: u32 = (flags & POF_PORTS) != 0 ? L4Kind.Ports : L4Kind.Icmp;
  store<u32>(r + CR_VAL, load<u32>(p + PO_SRC));
  store<u32>(r + CR_MASK, maskWord(sl, 0));
  store<u32>(r + CR_VAL + 4, load<u32>(p + PO_DST));
  store<u32>(r + CR_MASK + 4, maskWord(dl, 0));
  store<u32>(r + CR_VAL + 8, (anyProto ? 0 : <u32>load<u8>(p + PO_PROTO)) | (fields ? want << 8 : 0));
  store<u32>(r + CR_MASK + 8, (anyProto ? 0 : 0xff) | (fields ? 0xff00 : 0));
  store<u32>(r + CR_VAL + 12, fields ? <u32>load<u16>(p + PO_SP_LO) | (<u32>load<u16>(p + PO_DP_LO) << 16) : 0);
  store<u32>(r + CR_MASK + 12, fields ? <u32>load<u16>(p + PO_SP_HI) | (<u32>load<u16>(p + PO_DP_HI) << 16) : 0xffffffff);
  store<u32>(recSlot + (<usize>i << 2), slot);
  const g = ranges + (<usize>i * MAX_DIMS << 3);
  for (let w: u32 = 0; w < 4; w++) {
    const wordUsed = family == Family.V6 || w == 0;
    const sm = wordUsed ? maskWord(sl, w) : 0;
    const dm = wordUsed ? maskWord(dl, w) : 0;
    const sv = wordUsed ? load<u32>(p + PO_SRC + (<usize>w << 2)) : 0;
    const dv = wordUsed ? load<u32>(p + PO_DST + (<usize>w << 2)) : 0;
    store<u32>(g + (<usize>w << 3), sv & sm);
    store<u32>(g + (<usize>w << 3) + 4, (sv & sm) | ~sm);
    store<u32>(g + (<usize>(w + 4) << 3), dv & dm);
    store<u32>(g + (<usize>(w + 4) << 3) + 4, (dv & dm) | ~dm);
  }
  // Ports and ICMP fields constrain only when their flag says so (R3); otherwise any
  // value of the key's fields (0 for packets without ports) lies in the range.
  const constrained = fields;
  store<u32>(g + (8 << 3), constrained ? <u32>load<u16>(p + PO_SP_LO) : 0);
  store<u32>(g + (8 << 3) + 4, constrained ? <u32>load<u16>(p + PO_SP_HI) : 0xffff);
  store<u32>(g + (9 << 3), constrained ? <u32>load<u16>(p + PO_DP_LO) : 0);
  store<u32>(g + (9 << 3) + 4, constrained ? <u32>load<u16>(p + PO_DP_HI) : 0xffff);
  store<u32>(g + (10 << 3), anyProto ? 0 : <u32>load<u8>(p + PO_PROTO));
  store<u32>(g + (10 << 3) + 4, anyProto ? 0xff : <u32>load<u8>(p + PO_PROTO));
}

@inline function regionBase(depth: u32, d: u32): usize { return region + ((<usize>depth * MAX_DIMS + d) << 3); }

function makeLeaf(list: u32, n: u32): u32 {
  if (n == 0) return LEAF; // the shared empty leaf at 0
  if (leafUsed + 1 + n > leafCap) { overflow = true; return LEAF; }
  const at = leafUsed;
  const lp = leaves + (<usize>at << 2);
  store<u32>(lp, n);
  memory.copy(lp + 4, scratch + (<usize>list << 2), <usize>n << 2);
  leafUsed += 1 + n;
  return LEAF | at;
}

// First and last child (of 2^b over the node's region on dim d) that rule i meets.
@inline
function childSpan(i: u32, d: u32, base: u32, width: u32, b: u32): u64 {
  const shift = width - b;
  const top: u32 = width == 32 ? 0xffffffff : base + ((<u32>1 << width) - 1);
  let lo = rangeLo(i, d);
  let hi = rangeHi(i, d);
  if (lo < base) lo = base;
  if (hi > top) hi = top;
  const first = (lo - base) >>> shift;
  const last = (hi - base) >>> shift;
  return (<u64>first << 32) | <u64>last;
}

// The first record index of a leaf (0 for the shared empty leaf, whose next word is 0).
@inline function leafFirst(code: u32): u32 { return load<u32>(leaves + (<usize>(code & ~LEAF) << 2) + 4); }

// The header of the node buildNode last returned: field offset in the key | shift
// << 8 | (children - 1) << 16. Its parent stores it beside the child's code.
let builtHeader: u32 = 0;

// Build the subtree over the n record indices at scratch[list..]; depth selects its
// region. Returns the child code (node offset, or LEAF | leaf offset).
function buildNode(list: u32, n: u32, depth: u32, family: u32, scratchTop: u32): u32 {
  if (overflow) return LEAF;
  if (n <= BINTH || depth >= MAX_DEPTH || !cutsAllowed) return makeLeaf(list, n);
  const lp = scratch + (<usize>list << 2);
  // Choose the cut: per dim, the most bits the space measure allows; over dims, the
  // smallest largest child, then the fewest copies.
  let bestD: u32 = 0xff;
  let bestB: u32 = 0;
  let bestMax: u32 = n;
  let bestSum: u64 = u64.MAX_VALUE;
  const maxBits = depth == 0 ? ROOT_BITS : MAX_BITS;
  for (let d: u32 = 0; d < MAX_DIMS; d++) {
    if (!dimUsed(d, family)) continue;
    const width = load<u32>(regionBase(depth, d) + 4);
    if (width == 0) continue;
    const base = load<u32>(regionBase(depth, d));
    let dMax: u32 = n;
    let dSum: u64 = 0;
    let dB: u32 = 0;
    const limit = width < maxBits ? width : maxBits;
    for (let b: u32 = 1; b <= limit; b++) {
      const m = <u32>1 << b;
      memory.fill(counts, 0, (<usize>m + 1) << 2);
      for (let j: u32 = 0; j < n; j++) {
        const span = childSpan(load<u32>(lp + (<usize>j << 2)), d, base, width, b);
        const f = <usize>(span >>> 32);
        const l = <usize>(<u32>span);
        store<i32>(counts + (f << 2), load<i32>(counts + (f << 2)) + 1);
        store<i32>(counts + ((l + 1) << 2), load<i32>(counts + ((l + 1) << 2)) - 1);
      }
      let run: i32 = 0;
      let mx: u32 = 0;
      let sum: u64 = 0;
      for (let c: u32 = 0; c < m; c++) {
        run += load<i32>(counts + (<usize>c << 2));
        if (<u32>run > mx) mx = <u32>run;
        sum += <u64>run;
      }
      if (b > 1 && sum + <u64>m > <u64>spfac * n) break;
      dMax = mx; dSum = sum; dB = b;
    }
    if (dB == 0) continue;
    if (dMax < bestMax || (dMax == bestMax && dSum < bestSum)) {
      bestD = d; bestB = dB; bestMax = dMax; bestSum = dSum;
    }
  }
  if (bestD == 0xff || bestMax >= n) return makeLeaf(list, n);
  const d = bestD;
  const b = bestB;
  const m = <u32>1 << b;
  const base = load<u32>(regionBase(depth, d));
  const width = load<u32>(regionBase(depth, d) + 4);
  const shift = width - b;
  if (nodeUsed + m > nodeCap) { overflow = true; return LEAF; }
  const node = nodeUsed;
  nodeUsed += m;
  const np = nodes + (<usize>node << 3);
  const header = dimOffset(d) | (shift << 8) | ((m - 1) << 16);
  // Children whose rule sets are equal are one group (one subtree): a new group
  // starts where some rule starts or the rule after some rule's end.
  memory.fill(counts, 0, (<usize>m + 1) << 2);
  for (let j: u32 = 0; j < n; j++) {
    const span = childSpan(load<u32>(lp + (<usize>j << 2)), d, base, width, b);
    store<i32>(counts + (<usize>(span >>> 32) << 2), 1);
    store<i32>(counts + ((<usize>(<u32>span) + 1) << 2), 1);
  }
  let groups: u32 = 0;
  for (let c: u32 = 0; c < m; c++) {
    if (c == 0 || load<i32>(counts + (<usize>c << 2)) != 0) groups++;
    store<u32>(groupOf + (<usize>c << 2), groups - 1);
  }
  // Count members per group (the counts array is reused: groups <= m).
  memory.fill(counts, 0, (<usize>groups + 1) << 2);
  let total: u32 = 0;
  for (let j: u32 = 0; j < n; j++) {
    const span = childSpan(load<u32>(lp + (<usize>j << 2)), d, base, width, b);
    const g0 = load<u32>(groupOf + (<usize>(span >>> 32) << 2));
    const g1 = load<u32>(groupOf + (<usize>(<u32>span) << 2));
    for (let g = g0; g <= g1; g++) store<i32>(counts + (<usize>g << 2), load<i32>(counts + (<usize>g << 2)) + 1);
    total += g1 - g0 + 1;
  }
  if (scratchTop + total > scratchCap) { overflow = true; return LEAF; }
  // Lay the groups' lists out after scratchTop (counts become start offsets), then
  // fill them in the parent's (rank) order.
  let at = scratchTop;
  for (let g: u32 = 0; g < groups; g++) {
    const c = <u32>load<i32>(counts + (<usize>g << 2));
    store<i32>(counts + (<usize>g << 2), <i32>at);
    at += c;
  }
  // counts[g] is now the fill cursor; remember the starts in the node's child slots
  // temporarily (the child codes replace them below).
  for (let g: u32 = 0; g < groups; g++) store<u32>(np + (<usize>g << 3), load<u32>(counts + (<usize>g << 2)));
  for (let j: u32 = 0; j < n; j++) {
    const idx = load<u32>(lp + (<usize>j << 2));
    const span = childSpan(idx, d, base, width, b);
    const g0 = load<u32>(groupOf + (<usize>(span >>> 32) << 2));
    const g1 = load<u32>(groupOf + (<usize>(<u32>span) << 2));
    for (let g = g0; g <= g1; g++) {
      const pos = <u32>load<i32>(counts + (<usize>g << 2));
      store<u32>(scratch + (<usize>pos << 2), idx);
      store<i32>(counts + (<usize>g << 2), <i32>(pos + 1));
    }
  }
  // Group starts and ends: start = saved slot, end = the cursor. Copy both out of
  // the shared arrays before recursing (the recursion reuses counts and groupOf).
  const saved = scratchTop + total; // starts/ends/first child of each group
  if (saved + groups * 3 > scratchCap) { overflow = true; return LEAF; }
  for (let g: u32 = 0; g < groups; g++) {
    store<u32>(scratch + (<usize>(saved + g * 3) << 2), load<u32>(np + (<usize>g << 3)));
    store<u32>(scratch + (<usize>(saved + g * 3 + 1) << 2), <u32>load<i32>(counts + (<usize>g << 2)));
  }
  let g: u32 = 0;
  for (let c: u32 = 0; c < m; c++) {
    if (load<u32>(groupOf + (<usize>c << 2)) != g || c == 0) {
      g = load<u32>(groupOf + (<usize>c << 2));
      store<u32>(scratch + (<usize>(saved + g * 3 + 2) << 2), c);
    }
  }
  const top = saved + groups * 3;
  for (let gi: u32 = 0; gi < groups; gi++) {
    const start = load<u32>(scratch + (<usize>(saved + gi * 3) << 2));
    const end = load<u32>(scratch + (<usize>(saved + gi * 3 + 1) << 2));
    const c0 = load<u32>(scratch + (<usize>(saved + gi * 3 + 2) << 2));
    const c1 = gi + 1 < groups ? load<u32>(scratch + (<usize>(saved + (gi + 1) * 3 + 2) << 2)) - 1 : m - 1;
    // The child's region: the parent's, narrowed on d to child c0; a group of
    // several children is not an aligned range, so its subtree cuts d no further.
    memory.copy(regionBase(depth + 1, 0), regionBase(depth, 0), MAX_DIMS * 8);
    if (c1 == c0) {
      store<u32>(regionBase(depth + 1, d), base + (c0 << shift));
      store<u32>(regionBase(depth + 1, d) + 4, shift);
    } else {
      store<u32>(regionBase(depth + 1, d) + 4, 0);
    }
    const code = buildNode(start, end - start, depth + 1, family, top);
    const entry = <u64>code | (<u64>((code & LEAF) != 0 ? leafFirst(code) : builtHeader) << 32);
    for (let c = c0; c <= c1; c++) store<u64>(np + (<usize>c << 3), entry);
  }
  builtHeader = header;
  return node;
}

// Build every tree from the live policies among the first `slots` policy slots
// (spd.ts liveDirFam). Returns the number of records; treeRef maps each of those
// policies' slots to its record.
export function buildAll(slots: u32): u32 {
  // Records grouped by dirfam, rank order within.
  let n: u32 = 0;
  memory.fill(treeRef, 0, <usize>capacity << 2);
  const dfStart = starts;
  for (let df: u32 = 0; df < DIRFAMS; df++) {
    const start = n;
    for (let s: u32 = 0; s < slots; s++) {
      if (liveDirFam(s) == <i32>df) store<u32>(order + (<usize>(n++) << 2), s);
    }
    sortByRank(order + (<usize>start << 2), n - start);
    store<u32>(dfStart + (<usize>df << 2), start);
  }
  store<u32>(dfStart + (<usize>DIRFAMS << 2), n);
  for (let i: u32 = 0; i < n; i++) {
    const s = load<u32>(order + (<usize>i << 2));
    writeRecord(i, s, policyPtr(s));
    store<u32>(treeRef + (<usize>s << 2), i + 1);
  }
  // Try with the full cut budget, then less, then leaves only (which always fit).
  let attempt: u32 = 0;
  for (; attempt < 3; attempt++) {
    spfac = attempt == 0 ? SPFAC : 1;
    cutsAllowed = attempt < 2;
    overflow = false;
    nodeUsed = 0;
    store<u64>(leaves, 0); // the shared empty leaf, and 0 as its "first record" (leafFirst)
    leafUsed = 2;
    for (let df: u32 = 0; df < DIRFAMS && !overflow; df++) buildDirFam(df, load<u32>(starts + (<usize>df << 2)), load<u32>(starts + (<usize>(df + 1) << 2)));
    if (!overflow) break;
  }
  lastAttempt = attempt;
  builds++;
  treeRules = n;
  return n;
}

function buildDirFam(df: u32, from: u32, to: u32): void {
  const family = (df & 1) != 0 ? Family.V6 : Family.V4;
  let trees: u32 = 0;
  const base = <usize>(df * SUBSETS) << 2;
  for (let sub: u32 = 0; sub < SUBSETS; sub++) {
    // The subset's record indices, in rank order, at the start of scratch.
    let n: u32 = 0;
    for (let i = from; i < to; i++) {
      if (subsetOfRecord(i, family) == sub) store<u32>(scratch + (<usize>(n++) << 2), i);
    }
    if (n == 0) continue;
    for (let d: u32 = 0; d < MAX_DIMS; d++) {
      store<u32>(regionBase(0, d), 0);
      store<u32>(regionBase(0, d) + 4, dimWidth(d));
    }
    const code = buildNode(0, n, 0, family, n);
    if (overflow) return;
    const head = (code & LEAF) != 0 ? leafFirst(code) : builtHeader;
    // Insert in order of the best record (the first of the subset).
    const min = load<u32>(scratch);
    let at = trees;
    while (at > 0 && load<u32>(treeMin + base + (<usize>(at - 1) << 2)) > min) {
      store<u32>(treeMin + base + (<usize>at << 2), load<u32>(treeMin + base + (<usize>(at - 1) << 2)));
      store<u32>(treeRoot + base + (<usize>at << 2), load<u32>(treeRoot + base + (<usize>(at - 1) << 2)));
      store<u32>(treeHead + base + (<usize>at << 2), load<u32>(treeHead + base + (<usize>(at - 1) << 2)));
      at--;
    }
    store<u32>(treeMin + base + (<usize>at << 2), min);
    store<u32>(treeRoot + base + (<usize>at << 2), code);
    store<u32>(treeHead + base + (<usize>at << 2), head);
    trees++;
  }
  store<u32>(treeCount + (<usize>df << 2), trees);
}

// The subset from the record's ranges (the masks give the prefix lengths).
@inline
function subsetOfRecord(i: u32, family: u32): u32 {
  let sl: u32 = 0;
  let dl: u32 = 0;
  const words: u32 = family == Family.V6 ? 4 : 1;
  for (let w: u32 = 0; w < words; w++) {
    sl += <u32>popcnt<u32>(~(rangeLo(i, w) ^ rangeHi(i, w)));
    dl += <u32>popcnt<u32>(~(rangeLo(i, w + 4) ^ rangeHi(i, w + 4)));
  }
  const t = family == Family.V6 ? SMALL_V6 : SMALL_V4;
  return (sl >= t ? 0 : 1) | (dl >= t ? 0 : 2);
}

export function clearTrees(): void {
  memory.fill(treeCount, 0, DIRFAMS * 4);
  memory.fill(treeRef, 0, <usize>capacity << 2);
  treeRules = 0;
  builds++;
}

// Benchmarks: set the build's tuning (0 keeps a value).
export function tuneCuts(spaceFactor: u32, leafRules: u32): void {
  if (spaceFactor != 0) SPFAC = spaceFactor;
  if (leafRules != 0) BINTH = leafRules;
}

export function cutsMemoryUsed(): u32 {
  return (nodeUsed * 8 + leafUsed * 4) | lastAttempt << 30;
}
