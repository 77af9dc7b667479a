// Security association database.
//
// SAs live in fixed records. Every SA belongs to the group of its resolution key
// with reqid "any", and (when its reqid is not 0) to the group keyed with its
// reqid too, so that a template naming a reqid and one that does not each find
// their SAs with one hash probe. A group keeps its best SA by R6 up to date on
// every change, so outbound selection is O(1) however many SAs exist.
// An SPI index ((SPI, dst), unique, and SPI alone) serves inbound lookups (R17).

import {
  Family, Level, PO_T_LEVEL, PO_T_MODE, SA_BINDING, FK_DST, FK_FAMILY, FK_SRC, GR_BEST, GR_BEST_ID, GR_BEST_SPI, GR_GEN, GR_KEY, GR_SIZE, Mode,
  PO_T_DST, PO_T_FAMILY, PO_T_PROTO, PO_T_REQID, PO_T_SRC, RK_BINDING, RK_DST, RK_FAMILY,
  RK_FLAGS, RK_MODE, RK_PAD, RK_PROTO, RK_REQID, RK_SIZE, RK_SRC, RKF_REQID_ANY, SA_ADDSEQ, SA_ADDTIME,
  SA_DST, SA_FAMILY, SA_FLAGS, SA_GROUP_ANY, SA_GROUP_EXACT, SA_ID, SA_MODE, SA_NEXT_ANY, SA_NEXT_EXACT,
  SA_PREV_ANY, SA_PREV_EXACT, SA_PROTO, SA_REQID, SA_SIZE, SA_SPI, SA_SPI_NEXT, SA_SRC, SA_STATE,
  ID_BASE, ID_MASK, IX_TAG, TAG_BIT, MAX_ID, SaSelection, SaState, SK_DST, SK_FAMILY, SK_SIZE, SK_SPI, Status,
} from './layout';
import { createIndex, idInsert, idLookup, idTake, ixFind, ixInsert, ixRemove, ixSetValue, ixValue } from './flat-index';
import { fillPool, poolFree, poolGive, poolPeek, poolTake, reservePool } from './pool';
import { hashU32, hashWords } from './hash';
import { copyWords, outOfMemory, reserve, wordsEqual, zeroWords } from './memory';
import { PROTO_AH, PROTO_ESP } from './packet';
import { bindingFind, bindingRelease, bindingRetain } from './binding';

const RK_WORDS: u32 = RK_SIZE >> 3;
const SK_WORDS: u32 = SK_SIZE >> 3;

export let saBase: usize = 0;
let maxSas: u32 = 0;
let pool: usize = 0;
let idIndex: usize = 0;
let spiDstIndex: usize = 0;  // (SPI, family, dst) -> SA slot (R17: unique)
let spiIndex: usize = 0;     // SPI -> first SA slot with that SPI (chained by SA_SPI_NEXT)
let groupBase: usize = 0;
let maxGroups: u32 = 0;
let groupPool: usize = 0;
let groupIndex: usize = 0;
let groupHead: usize = 0;    // per group: u32 first member SA slot + 1
let groupRefs: usize = 0;    // per group: u32 policies holding it in PO_GROUP
// Every group creation takes the next generation, so a cached "no group for this
// key" is known to be stale as soon as any group has been created since.
let groupGeneration: u32 = 1;
let rkScratch: usize = 0;
let skScratch: usize = 0;
let saSeq: u32 = 0;
let addSeq: u32 = 0;
let selection: u32 = SaSelection.Newest;

export function initSad(sas: u32, policies: u32, mode: u32): bool {
  maxSas = sas;
  selection = mode;
  // Each SA needs at most two groups and each policy at most one.
  maxGroups = sas * 2 + policies;
  saBase = reserve(<u64>sas * SA_SIZE, 64);
  pool = reservePool(sas);
  idIndex = createIndex(sas, 8, 0);
  spiDstIndex = createIndex(sas, SK_SIZE, 0);
  spiIndex = createIndex(sas, 8, 0);
  groupBase = reserve(<u64>maxGroups * GR_SIZE, 64);
  groupPool = reservePool(maxGroups);
  // [tag, group slot] only: keys are compared in the group records (groupFind).
  groupIndex = createIndex(maxGroups, 0, 0);
  groupHead = reserve(<u64>maxGroups * 4, 8);
  groupRefs = reserve(<u64>maxGroups * 4, 8);
  rkScratch = reserve(RK_SIZE, 8);
  skScratch = reserve(SK_SIZE, 8);
  if (outOfMemory()) return false;
  fillPool(pool, sas);
  fillPool(groupPool, maxGroups);
  return true;
}

@inline export function saPtr(slot: u32): usize { return saBase + <usize>slot * SA_SIZE; }
@inline export function groupPtr(g: u32): usize { return groupBase + <usize>g * GR_SIZE; }
@inline function headPtr(g1: u32): usize { return groupHead + (<usize>(g1 - 1) << 2); }
@inline function refsPtr(g1: u32): usize { return groupRefs + (<usize>(g1 - 1) << 2); }

export function sadCount(): u32 { return maxSas - poolFree(pool); }

export function saSlotOf(id: u32): i32 {
  return <i32>idLookup(idIndex, id) - 1;
}

// ---------------------------------------------------------------------------
// R6: not dying before dying; then newest by add time; then the higher SPI.
// `oldest` reproduces KAME's key_allocsa (prefer_old): dying first, then the
// oldest install — the behaviour the 2000 mail describes.

function better(a: usize, b: usize): bool {
  const aDying = load<u8>(a + SA_STATE) == <u8>SaState.Dying;
  const bDying = load<u8>(b + SA_STATE) == <u8>SaState.Dying;
  if (selection == SaSelection.Oldest) {
    if (aDying != bDying) return aDying;
    return load<u32>(a + SA_ADDSEQ) < load<u32>(b + SA_ADDSEQ);
  }
  if (aDying != bDying) return bDying;
  const at = load<f64>(a + SA_ADDTIME);
  const bt = load<f64>(b + SA_ADDTIME);
  if (at != bt) return at > bt;
  return load<u32>(a + SA_SPI) > load<u32>(b + SA_SPI);
}

@inline function usable(sa: usize): bool {
  const st = load<u8>(sa + SA_STATE);
  return st == <u8>SaState.Mature || st == <u8>SaState.Dying;
}

// ---------------------------------------------------------------------------
// Groups

// Resolution key in rkScratch from explicit fields.
function makeKey(family: u32, proto: u32, mode: u32, reqid: u32, src: usize, dst: usize): void {
  const k = rkScratch;
  store<u8>(k + RK_FAMILY, <u8>family);
  store<u8>(k + RK_PROTO, <u8>proto);
  store<u8>(k + RK_MODE, <u8>mode);
  store<u8>(k + RK_FLAGS, <u8>(reqid == 0 ? RKF_REQID_ANY : 0));
  store<u32>(k + RK_REQID, reqid);
  copyWords(k + RK_SRC, src, 2);
  copyWords(k + RK_DST, dst, 2);
  store<u32>(k + RK_BINDING, 0);
  store<u32>(k + RK_PAD, 0);
}

// The group index keeps no keys, only [tag, group slot] (8 bytes a slot instead of
// 56: at 1M SAs that is the difference between ~50 and ~400 MiB); a tag match is
// confirmed against the key in the group record. Returns the index slot, or 0.
function groupFind(key: usize, h: u32): usize {
  const base = <usize>load<u32>(groupIndex + ID_BASE);
  const mask = load<u32>(groupIndex + ID_MASK);
  const tag = h | TAG_BIT;
  let i = h & mask;
  while (true) {
    const s = base + (<usize>i << 3);
    const t = load<u32>(s + IX_TAG);
    if (t == 0) return 0;
    if (t == tag && wordsEqual(groupPtr(ixValue(s)) + GR_KEY, key, RK_WORDS)) return s;
    i = (i + 1) & mask;
  }
  return 0;
}

function findGroup(): u32 {
  const s = groupFind(rkScratch, hashWords(rkScratch, RK_WORDS));
  return s == 0 ? 0 : ixValue(s) + 1;
}

// Group (slot + 1) for the key in rkScratch, created if absent; 0 if out of room.
function obtainGroup(): u32 {
  const found = findGroup();
  if (found != 0) return found;
  const next = poolPeek(groupPool);
  if (next < 0) return 0;
  const g = <u32>next;
  if (ixInsert(groupIndex, rkScratch, hashWords(rkScratch, RK_WORDS), g) == 0) return 0;
  poolTake(groupPool);
  const gp = groupPtr(g);
  zeroWords(gp, GR_SIZE >> 3);
  copyWords(gp + GR_KEY, rkScratch, RK_WORDS);
  groupGeneration++;
  if (groupGeneration == 0) groupGeneration = 1; // 0 means "not resolved" in the flow cache
  store<u32>(gp + GR_GEN, groupGeneration);
  store<u32>(headPtr(g + 1), 0);
  store<u32>(refsPtr(g + 1), 0);
  return g + 1;
}

function releaseGroup(g1: u32): void {
  if (load<u32>(headPtr(g1)) != 0 || load<u32>(refsPtr(g1)) != 0) return;
  const gp = groupPtr(g1 - 1);
  const s = groupFind(gp + GR_KEY, hashWords(gp + GR_KEY, RK_WORDS));
  if (s != 0) ixRemove(groupIndex, s);
  zeroWords(gp, GR_SIZE >> 3); // GR_GEN 0: cached references to it go stale
  poolGive(groupPool, g1 - 1);
}

// The best SA is copied into the group's cache line with its id and SPI, so the
// packet path reads one line per packet.
function setBest(gp: usize, best1: u32): void {
  store<u32>(gp + GR_BEST, best1);
  store<u32>(gp + GR_BEST_ID, best1 == 0 ? 0 : load<u32>(saPtr(best1 - 1) + SA_ID));
  store<u32>(gp + GR_BEST_SPI, best1 == 0 ? 0 : load<u32>(saPtr(best1 - 1) + SA_SPI));
}

// Member links: `exact` selects the SA_*_EXACT pair, else SA_*_ANY.
@inline function nextOff(exact: bool): usize { return exact ? SA_NEXT_EXACT : SA_NEXT_ANY; }
@inline function prevOff(exact: bool): usize { return exact ? SA_PREV_EXACT : SA_PREV_ANY; }

function joinGroup(g1: u32, slot: u32, exact: bool): void {
  const gp = groupPtr(g1 - 1);
  const sa = saPtr(slot);
  const head = load<u32>(headPtr(g1));
  store<u32>(sa + nextOff(exact), head);
  store<u32>(sa + prevOff(exact), 0);
  if (head != 0) store<u32>(saPtr(head - 1) + prevOff(exact), slot + 1);
  store<u32>(headPtr(g1), slot + 1);
  const best = load<u32>(gp + GR_BEST);
  if (usable(sa) && (best == 0 || better(sa, saPtr(best - 1)))) setBest(gp, slot + 1);
}

function recomputeBest(g1: u32, exact: bool): void {
  let best: u32 = 0;
  for (let m = load<u32>(headPtr(g1)); m != 0; m = load<u32>(saPtr(m - 1) + nextOff(exact))) {
    const sa = saPtr(m - 1);
    if (usable(sa) && (best == 0 || better(sa, saPtr(best - 1)))) best = m;
  }
  setBest(groupPtr(g1 - 1), best);
}

function leaveGroup(g1: u32, slot: u32, exact: bool): void {
  const sa = saPtr(slot);
  const next = load<u32>(sa + nextOff(exact));
  const prev = load<u32>(sa + prevOff(exact));
  if (prev == 0) store<u32>(headPtr(g1), next);
  else store<u32>(saPtr(prev - 1) + nextOff(exact), next);
  if (next != 0) store<u32>(saPtr(next - 1) + prevOff(exact), prev);
  if (load<u32>(groupPtr(g1 - 1) + GR_BEST) == slot + 1) recomputeBest(g1, exact);
  releaseGroup(g1);
}

// A tunnel template resolves to one group for the policy's lifetime: hold it.
export function holdTemplateGroup(policy: usize): u32 {
  makeKey(load<u8>(policy + PO_T_FAMILY), load<u8>(policy + PO_T_PROTO), Mode.Tunnel,
          load<u32>(policy + PO_T_REQID), policy + PO_T_SRC, policy + PO_T_DST);
  const g1 = obtainGroup();
  if (g1 != 0) store<u32>(refsPtr(g1), load<u32>(refsPtr(g1)) + 1);
  return g1;
}

export function releaseTemplateGroup(g1: u32): void {
  store<u32>(refsPtr(g1), load<u32>(refsPtr(g1)) - 1);
  releaseGroup(g1);
}

// The resolution key of a template for the flow key at `k` (binding not yet set):
// a tunnel template names its endpoints; a transport template's endpoints are the
// flow's own addresses. Written to a scratch area that the next call overwrites.
export function templateKey(policy: usize, k: usize): usize {
  if (load<u8>(policy + PO_T_MODE) == <u8>Mode.Tunnel) {
    makeKey(load<u8>(policy + PO_T_FAMILY), load<u8>(policy + PO_T_PROTO), Mode.Tunnel,
            load<u32>(policy + PO_T_REQID), policy + PO_T_SRC, policy + PO_T_DST);
  } else {
    makeKey(load<u8>(k + FK_FAMILY), load<u8>(policy + PO_T_PROTO), Mode.Transport,
            load<u32>(policy + PO_T_REQID), k + FK_SRC, k + FK_DST);
  }
  return rkScratch;
}

// The group (slot + 1, 0 = none) that holds the SAs for a template whose key
// depends on the flow: a transport template (the flow's addresses are the SA
// endpoints, R6) or a `unique` one (the flow's own binding).
export function flowGroup(policy: usize, k: usize): u32 {
  const key = templateKey(policy, k);
  if (load<u8>(policy + PO_T_LEVEL) == <u8>Level.Unique) {
    const binding = bindingFind(key, k);
    if (binding == 0) return 0;
    store<u32>(key + RK_BINDING, binding);
  }
  return findGroup();
}

// Does the SA spec at `spec` fit the resolution key at `key` (R6's template rule)?
export function specFitsKey(spec: usize, key: usize): bool {
  if (load<u8>(spec + SA_FAMILY) != load<u8>(key + RK_FAMILY)) return false;
  if (load<u8>(spec + SA_PROTO) != load<u8>(key + RK_PROTO)) return false;
  if (load<u8>(spec + SA_MODE) != load<u8>(key + RK_MODE)) return false;
  if ((load<u8>(key + RK_FLAGS) & RKF_REQID_ANY) == 0 && load<u32>(spec + SA_REQID) != load<u32>(key + RK_REQID)) return false;
  for (let i: usize = 0; i < 16; i += 8) {
    if (load<u64>(spec + SA_SRC + i) != load<u64>(key + RK_SRC + i)) return false;
    if (load<u64>(spec + SA_DST + i) != load<u64>(key + RK_DST + i)) return false;
  }
  return true;
}

// R17: the SA an inbound ESP packet belongs to, by (SPI, destination), else by SPI
// alone when exactly one SA has that SPI. (SPI, destination) is unique, so the
// RFC 4301 level (SPI, destination, source) would find the same SA. Returns the
// SA slot or -1.
export function spiLookup(spi: u32, family: u32, dst: usize): i32 {
  makeSpiKey(spi, family, dst);
  const sd = ixFind(spiDstIndex, skScratch, hashWords(skScratch, SK_WORDS));
  if (sd != 0) return <i32>ixValue(sd);
  store<u64>(skScratch, <u64>spi);
  const so = ixFind(spiIndex, skScratch, hashU32(spi));
  if (so == 0) return -1;
  const slot = ixValue(so);
  return load<u32>(saPtr(slot) + SA_SPI_NEXT) == 0 ? <i32>slot : -1; // ambiguous: no guess
}

// The groups (slot + 1, 0 = none) an installed SA joined: with reqid "any", exact.
export function saGroupAny(slot: u32): u32 { return load<u32>(saPtr(slot) + SA_GROUP_ANY); }
export function saGroupExact(slot: u32): u32 { return load<u32>(saPtr(slot) + SA_GROUP_EXACT); }

@inline export function groupGenerationOf(g1: u32): u32 {
  return load<u32>(groupPtr(g1 - 1) + GR_GEN);
}

// The generation a cached "no group" must carry to still be true.
@inline export function currentGroupGeneration(): u32 {
  return groupGeneration;
}

// ---------------------------------------------------------------------------
// Add and remove

function makeSpiKey(spi: u32, family: u32, dst: usize): void {
  store<u32>(skScratch + SK_SPI, spi);
  store<u32>(skScratch + SK_FAMILY, family);
  copyWords(skScratch + SK_DST, dst, 2);
}

function specValid(spec: usize): bool {
  const family = <u32>load<u8>(spec + SA_FAMILY);
  const proto = <u32>load<u8>(spec + SA_PROTO);
  const mode = <u32>load<u8>(spec + SA_MODE);
  const state = <u32>load<u8>(spec + SA_STATE);
  if (family != Family.V4 && family != Family.V6) return false;
  if (proto != PROTO_ESP && proto != PROTO_AH) return false;
  if (mode != Mode.Transport && mode != Mode.Tunnel) return false;
  return state == SaState.Mature || state == SaState.Dying;
}

// Add the SA described at `spec`; `binding` (0 = none) reserves it for one flow of
// a `unique` template. Returns its slot (>= 0) or a Status.
export function sadAdd(spec: usize, now: f64, binding: u32): i32 {
  if (!specValid(spec)) return Status.Invalid;
  const family = <u32>load<u8>(spec + SA_FAMILY);
  const spi = load<u32>(spec + SA_SPI);
  makeSpiKey(spi, family, spec + SA_DST);
  const spiHash = hashWords(skScratch, SK_WORDS);
  if (ixFind(spiDstIndex, skScratch, spiHash) != 0) return Status.Duplicate; // R17
  if (saSeq >= <u32>MAX_ID) return Status.IdsExhausted;
  const taken = poolTake(pool);
  if (taken < 0) return Status.TableFull;
  const slot = <u32>taken;
  const sa = saPtr(slot);
  zeroWords(sa, SA_SIZE >> 3);
  store<u8>(sa + SA_STATE, load<u8>(spec + SA_STATE));
  store<u8>(sa + SA_FAMILY, <u8>family);
  store<u8>(sa + SA_PROTO, load<u8>(spec + SA_PROTO));
  store<u8>(sa + SA_MODE, load<u8>(spec + SA_MODE));
  store<u32>(sa + SA_SPI, spi);
  store<u32>(sa + SA_REQID, load<u32>(spec + SA_REQID));
  copyWords(sa + SA_SRC, spec + SA_SRC, 2);
  copyWords(sa + SA_DST, spec + SA_DST, 2);
  store<u32>(sa + SA_FLAGS, load<u32>(spec + SA_FLAGS));
  const id = ++saSeq;
  store<u32>(sa + SA_ID, id);
  store<f64>(sa + SA_ADDTIME, now);
  store<u32>(sa + SA_ADDSEQ, ++addSeq);
  // The indexes and the group pool are sized for maxSas SAs, so none of these can
  // fail once a slot was free.
  idInsert(idIndex, id, slot);
  ixInsert(spiDstIndex, skScratch, spiHash, slot);
  store<u64>(skScratch, <u64>spi);
  const spiSlot = ixFind(spiIndex, skScratch, hashU32(spi));
  if (spiSlot == 0) {
    ixInsert(spiIndex, skScratch, hashU32(spi), slot);
  } else {
    store<u32>(sa + SA_SPI_NEXT, ixValue(spiSlot) + 1);
    ixSetValue(spiSlot, slot);
  }
  const proto = <u32>load<u8>(sa + SA_PROTO);
  const mode = <u32>load<u8>(sa + SA_MODE);
  const reqid = load<u32>(sa + SA_REQID);
  if (binding != 0) {
    store<u32>(sa + SA_BINDING, binding);
    bindingRetain(binding);
  }
  makeKey(family, proto, mode, 0, sa + SA_SRC, sa + SA_DST);
  store<u32>(rkScratch + RK_BINDING, binding);
  const any = obtainGroup();
  store<u32>(sa + SA_GROUP_ANY, any);
  joinGroup(any, slot, false);
  if (reqid != 0) {
    makeKey(family, proto, mode, reqid, sa + SA_SRC, sa + SA_DST);
    store<u32>(rkScratch + RK_BINDING, binding);
    const exact = obtainGroup();
    store<u32>(sa + SA_GROUP_EXACT, exact);
    joinGroup(exact, slot, true);
  }
  return <i32>slot;
}

// Remove an SA by id. Returns its former slot (>= 0) or NotFound.
export function sadRemove(id: u32): i32 {
  const taken = idTake(idIndex, id);
  if (taken < 0) return Status.NotFound;
  const slot = <u32>taken;
  const sa = saPtr(slot);
  // Take it out of use first: a group's best must never name a dead SA.
  store<u8>(sa + SA_STATE, <u8>SaState.Free);
  leaveGroup(load<u32>(sa + SA_GROUP_ANY), slot, false);
  const exact = load<u32>(sa + SA_GROUP_EXACT);
  if (exact != 0) leaveGroup(exact, slot, true);
  const spi = load<u32>(sa + SA_SPI);
  makeSpiKey(spi, load<u8>(sa + SA_FAMILY), sa + SA_DST);
  const sd = ixFind(spiDstIndex, skScratch, hashWords(skScratch, SK_WORDS));
  if (sd != 0) ixRemove(spiDstIndex, sd);
  store<u64>(skScratch, <u64>spi);
  const so = ixFind(spiIndex, skScratch, hashU32(spi));
  if (so != 0) {
    const next = load<u32>(sa + SA_SPI_NEXT);
    if (ixValue(so) == slot) {
      if (next == 0) ixRemove(spiIndex, so);
      else ixSetValue(so, next - 1);
    } else {
      let cur = ixValue(so);
      while (load<u32>(saPtr(cur) + SA_SPI_NEXT) != slot + 1) cur = load<u32>(saPtr(cur) + SA_SPI_NEXT) - 1;
      store<u32>(saPtr(cur) + SA_SPI_NEXT, next);
    }
  }
  const binding = load<u32>(sa + SA_BINDING);
  if (binding != 0) bindingRelease(binding);
  zeroWords(sa, SA_SIZE >> 3);
  poolGive(pool, slot);
  return <i32>slot;
}

// ---------------------------------------------------------------------------
// For lifetimes (lifetime.ts)

export function newestWins(): bool {
  return selection == SaSelection.Newest;
}

// The SA's state changed: its groups' best SAs follow (R6).
export function saStateChanged(slot: u32): void {
  const sa = saPtr(slot);
  recomputeBest(load<u32>(sa + SA_GROUP_ANY), false);
  const exact = load<u32>(sa + SA_GROUP_EXACT);
  if (exact != 0) recomputeBest(exact, true);
}

// Members of the SA's own template (same endpoints, protocol, mode, reqid and
// binding): the exact group when it has a reqid, else the "any" group, whose
// members with reqid 0 are that template. First member slot + 1 and next.
export function templatePeersHead(slot: u32): u32 {
  const sa = saPtr(slot);
  const exact = load<u32>(sa + SA_GROUP_EXACT);
  return load<u32>(headPtr(exact != 0 ? exact : load<u32>(sa + SA_GROUP_ANY)));
}

export function templatePeersNext(owner: u32, member1: u32): u32 {
  return load<u32>(saPtr(member1 - 1) + nextOff(load<u32>(saPtr(owner) + SA_GROUP_EXACT) != 0));
}

@inline export function isUsable(slot: u32): bool { return usable(saPtr(slot)); }

// Does SA `a` come before SA `b` by R6?
export function beats(a: u32, b: u32): bool { return better(saPtr(a), saPtr(b)); }

// R21: does the SA have `addr` (family, 4 address words) as an endpoint?
export function hasEndpoint(slot: u32, family: u32, addr: usize): bool {
  const sa = saPtr(slot);
  if (<u32>load<u8>(sa + SA_FAMILY) != family) return false;
  return (load<u64>(sa + SA_SRC) == load<u64>(addr) && load<u64>(sa + SA_SRC + 8) == load<u64>(addr + 8)) ||
    (load<u64>(sa + SA_DST) == load<u64>(addr) && load<u64>(sa + SA_DST + 8) == load<u64>(addr + 8));
}

export function saCapacity(): u32 { return maxSas; }

@inline export function slotInUse(slot: u32): bool { return load<u8>(saPtr(slot) + SA_STATE) != <u8>SaState.Free; }
