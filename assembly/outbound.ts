// The outbound batch path: parse every packet, look its flow up in the flow cache
// (classifier on a miss), apply the policy's action and choose the SA (R2, R4, R6).
//
// The batch runs as a pipeline of loops (software pipelining is the only prefetch
// WebAssembly has), after notes/wasm-hot-path.md: parse and hash everything; touch
// every packet's tag line of the flow cache; compare the tags and touch the entry
// whose tag matched, so that those misses overlap too; decide the policy and SA
// group, touching each group's cache line (and a touch loop for lifetimes); then
// write the verdicts.

import {
  Action, Dir, Family, FC_EPOCH, FC_GEN, FC_GROUP, FC_GROUP_GEN, FC_POLICY, FC_TAG, FK_DIR, FK_FAMILY,
  FK_PROTO, FK_SIZE, GR_BEST, GR_BEST_ID, GR_BEST_SPI, Level, PD_CAPLEN, PD_OFFSET, PD_SIZE,
  FlowState, RF_LARVAL, RF_POLICY, RF_REASON, RF_SA, RF_STATE, RF_VERDICT, Unresolved, CN_RELEASED,
  PD_WIRELEN, MAX_PACKET_BYTES, PO_GROUP, PO_T_LEVEL, PW_GROUP, PW_HASH, PW_L4OFF, PW_POLICY, PW_SIZE, PW_SPI,
  PW_STATUS, Reason, Verdict, VR_FAMILY, VR_L4OFF, VR_LARVAL, VR_POLICY, VR_PROTO, VR_REASON, VR_SA,
  VR_SIZE, VR_SPI, VR_VERDICT, VR_SEQ, LT_FLAGS,
} from './layout';
import {
  arenaBase, beginVerdict, descBase, hashFlowKey, initBatchRegions, parseDescriptor, touchBase, verdictBase, wireLength, workBase, writeVerdict,
} from './batch';
import { cacheLookup, cacheStore, entryHolds, tagCandidate, tagLine } from './flowcache';
import {
  cachedDecisionValid, classify, currentAddEpoch, policyAction, policyGenerationOf, policyIdOf, policyPtr,
} from './spd';
import { currentGroupGeneration, flowGroup, groupGenerationOf, groupPtr } from './sad';
import { larvalFor } from './larval';
import { accountPacket, lastSeq, ltPtr } from './lifetime';
import {
  bump, countCacheHit, countCacheMiss, countCacheRevalidated, countCacheStale, countSaLookup, countVerdict,
} from './counters';

let unresolved: u32 = Unresolved.Queue;
// Counting mode of the batch being processed: packets released from a resolution
// queue were counted when they were queued, so only their new verdict is counted.
let releasing = false;
// The touch loops fold what they load into this global, so that the loads that
// start the cache misses early are not optimised away.
let touchSink: u32 = 0;

export function initBatch(batch: u32, arena: u32, mode: u32): bool {
  unresolved = mode;
  return initBatchRegions(batch, arena);
}

// The flow-cache slot that the last decideFlow() hit or filled.
let decidedSlot: usize = 0;

// The policy decision (slot + 1, 0 = default) for the work record `w`, through the
// flow cache. Shared by the batch path and the per-flow convenience lookup.
// `hint`: the entry whose tag matched (tagCandidate), already touched by the batch
// path, or 0; any other case takes the full lookup, so the answer never depends on it
// (an insert earlier in the batch may have changed the bucket since).
export function decideFlow(w: usize, dir: u32, hint: usize = 0): u32 {
  const h = load<u32>(w + PW_HASH);
  const s = hint != 0 && entryHolds(hint, w, h) ? hint : cacheLookup(w, h);
  if (s != 0) {
    const slot1 = load<u32>(s + FC_POLICY);
    const epoch = load<u32>(s + FC_EPOCH);
    if (cachedDecisionValid(w, dir, slot1, load<u32>(s + FC_GEN), epoch)) {
      countCacheHit();
      const now = currentAddEpoch(dir);
      if (epoch != now) {
        store<u32>(s + FC_EPOCH, now);
        countCacheRevalidated();
      }
      decidedSlot = s;
      return slot1;
    }
    countCacheStale();
  } else {
    countCacheMiss();
  }
  const slot1 = classify(w, dir);
  decidedSlot = cacheStore(s, w, h, slot1, policyGenerationOf(slot1, dir), currentAddEpoch(dir));
  return slot1;
}

// The SA group (slot + 1, 0 = none) that a protect decision draws its SA from.
// Tunnel templates hold theirs; transport templates depend on the flow's addresses
// and `unique` ones on the flow's binding, so the group found is remembered in the
// flow-cache slot with its generation.
function decideGroup(w: usize, slot1: u32): u32 {
  const p = policyPtr(slot1 - 1);
  const held = load<u32>(p + PO_GROUP);
  if (held != 0) return held;
  const s = decidedSlot;
  const cached = load<u32>(s + FC_GROUP);
  const gen = load<u32>(s + FC_GROUP_GEN);
  if (gen != 0) {
    if (cached != 0 ? groupGenerationOf(cached) == gen : currentGroupGeneration() == gen) return cached;
  }
  countSaLookup();
  const g1 = flowGroup(p, w);
  store<u32>(s + FC_GROUP, g1);
  store<u32>(s + FC_GROUP_GEN, g1 != 0 ? groupGenerationOf(g1) : currentGroupGeneration());
  return g1;
}

@inline
function count(dir: u32, verdict: u32, reason: u32): void {
  if (releasing) bump(CN_RELEASED);
  countVerdict(dir, verdict, reason, !releasing);
}

// Write the verdict for one parsed packet from its decided policy and group.
function applyDecision(w: usize, v: usize, dir: u32, now: f64, wire: u32): void {
  const slot1 = load<u32>(w + PW_POLICY);
  const action = policyAction(slot1, dir);
  const policyId = policyIdOf(slot1);
  const reason: u32 = slot1 == 0 ? Reason.DefaultPolicy : Reason.Policy;
  if (action == Action.Bypass) {
    writeVerdict(v, Verdict.Bypass, reason, policyId, 0, load<u32>(w + PW_SPI));
    count(dir, Verdict.Bypass, reason);
    return;
  }
  if (action == Action.Discard) {
    writeVerdict(v, Verdict.Discard, reason, policyId, 0, load<u32>(w + PW_SPI));
    count(dir, Verdict.Discard, reason);
    return;
  }
  const g1 = load<u32>(w + PW_GROUP);
  const gp: usize = g1 == 0 ? 0 : groupPtr(g1 - 1);
  if (gp != 0) {
    // Count the packet on the best SA (R13). A hard limit it reaches stops that SA's
    // output (R15) and the group's next best, if any, carries the packet (R16).
    for (let best = load<u32>(gp + GR_BEST); best != 0; best = load<u32>(gp + GR_BEST)) {
      // The SA's id and SPI are read before counting: a soft limit the packet reaches
      // makes the SA dying, which can hand the group to another SA (R6), but this
      // packet was numbered on this one and must carry its SPI.
      const saId = load<u32>(gp + GR_BEST_ID);
      const spi = load<u32>(gp + GR_BEST_SPI);
      if (!accountPacket(best - 1, wire, now, true)) continue;
      writeVerdict(v, Verdict.Protect, Reason.Policy, policyId, saId, spi, lastSeq);
      count(dir, Verdict.Protect, Reason.Policy);
      return;
    }
  }
  const verdict = decideUnresolved(slot1, w, dir, now);
  writeVerdict(v, verdict, unresolvedReason, policyId, 0, verdict == Verdict.Bypass ? load<u32>(w + PW_SPI) : 0);
  store<u32>(v + VR_LARVAL, unresolvedLarval);
  count(dir, verdict, unresolvedReason);
}

// Set by decideUnresolved(): the reason of its verdict and the larval id (0 = none).
let unresolvedReason: u32 = 0;
let unresolvedLarval: u32 = 0;

// A protect policy without a usable SA: find or create the larval SA of the
// resolution key (R7, R8) and return what happens to the packet, with the reason
// and larval id in unresolvedReason / unresolvedLarval. Shared by packets and by
// local senders' flow lookups, so both follow the same rules.
function decideUnresolved(slot1: u32, w: usize, dir: u32, now: f64): u32 {
  const larval = larvalFor(slot1, w, dir, now);
  unresolvedLarval = larval > 0 ? <u32>larval : 0;
  if (load<u8>(policyPtr(slot1 - 1) + PO_T_LEVEL) == <u8>Level.Use) {
    // R7a: opportunistic protection goes out in clear and never queues; the
    // negotiation was started above (or could not be: the count says why not).
    unresolvedReason = Reason.Opportunistic;
    return Verdict.Bypass;
  }
  if (larval < 0) {
    unresolvedReason = <u32>(-larval); // larval-full, bindings-full
    return Verdict.Drop; // R23: never in clear
  }
  if (unresolved == Unresolved.Queue) {
    unresolvedReason = Reason.Resolving;
    return Verdict.Queued;
  }
  unresolvedReason = Reason.NoSa; // the legacy presets: the packet is lost
  return Verdict.Drop;
}

// The state of the flow key in work record `w` for a local sender (R11): what a
// packet of it would get now, starting the negotiation if it needs one (without
// queueing anything). The result goes to `out` (RF_* layout).
export function resolveFlowKey(w: usize, dir: u32, now: f64, out: usize): void {
  const slot1 = decideFlow(w, dir);
  const action = policyAction(slot1, dir);
  store<u32>(out + RF_POLICY, policyIdOf(slot1));
  store<u32>(out + RF_SA, 0);
  store<u32>(out + RF_LARVAL, 0);
  store<u32>(out + RF_REASON, slot1 == 0 ? Reason.DefaultPolicy : Reason.Policy);
  if (action == Action.Bypass) {
    store<u32>(out + RF_STATE, FlowState.Ready);
    store<u32>(out + RF_VERDICT, Verdict.Bypass);
    return;
  }
  if (action == Action.Discard) {
    store<u32>(out + RF_STATE, FlowState.Blocked);
    store<u32>(out + RF_VERDICT, Verdict.Discard);
    return;
  }
  const g1 = decideGroup(w, slot1);
  if (g1 != 0 && load<u32>(groupPtr(g1 - 1) + GR_BEST) != 0) {
    store<u32>(out + RF_STATE, FlowState.Ready);
    store<u32>(out + RF_VERDICT, Verdict.Protect);
    store<u32>(out + RF_SA, load<u32>(groupPtr(g1 - 1) + GR_BEST_ID));
    return;
  }
  const verdict = decideUnresolved(slot1, w, dir, now);
  store<u32>(out + RF_VERDICT, verdict);
  store<u32>(out + RF_REASON, unresolvedReason);
  store<u32>(out + RF_LARVAL, unresolvedLarval);
  store<u32>(out + RF_STATE, verdict == Verdict.Bypass ? FlowState.Ready
    : unresolvedLarval == 0 ? FlowState.Unavailable : FlowState.Pending);
}

// The batch path's first two touch loops, after stage 1 left each packet's tag line
// (or, for a malformed packet, its work record) in touchBase: touch them all, then
// compare each parsed packet's tags, leave the entry whose tag matched (or 0) in
// touchBase and touch it. Returns what was loaded, for touchSink.
function touchTags(n: u32): u32 {
  let t: u32 = 0;
  for (let i: u32 = 0; i < n; i++) t ^= load<u32>(<usize>load<u32>(touchBase + (<usize>i << 2)));
  for (let i: u32 = 0; i < n; i++) {
    const w = workBase + <usize>i * PW_SIZE;
    let c: usize = 0;
    if (load<u32>(w + PW_STATUS) == 0) c = tagCandidate(load<u32>(w + PW_HASH));
    store<u32>(touchBase + (<usize>i << 2), <u32>c);
  }
  for (let i: u32 = 0; i < n; i++) t ^= load<u32>(<usize>load<u32>(touchBase + (<usize>i << 2)));
  return t;
}

// Process descriptors 0..n-1 in direction `dir`, writing n verdict records.
// A pipeline of loops, so that the cache misses of each stage overlap across the batch.
// `release`: the packets come out of a resolution queue (R9) and were counted then.
export function processBatch(n: u32, dir: u32, now: f64, release: bool): void {
  releasing = release;
  // 1. parse and hash
  for (let i: u32 = 0; i < n; i++) {
    const w = workBase + <usize>i * PW_SIZE;
    const a: usize = parseDescriptor(i, dir) == 0 ? tagLine(load<u32>(w + PW_HASH)) : w;
    store<u32>(touchBase + (<usize>i << 2), <u32>a);
  }
  // 2. touch the flow cache's tag lines
  let t = touchTags(n);
  // 3. decide the policy (cache, classifier on a miss) and the SA group; touch it
  for (let i: u32 = 0; i < n; i++) {
    const w = workBase + <usize>i * PW_SIZE;
    if (load<u32>(w + PW_STATUS) != 0) continue;
    const slot1 = decideFlow(w, dir, <usize>load<u32>(touchBase + (<usize>i << 2)));
    store<u32>(w + PW_POLICY, slot1);
    if (policyAction(slot1, dir) == Action.Protect) {
      const g1 = decideGroup(w, slot1);
      store<u32>(w + PW_GROUP, g1);
      if (g1 != 0) t ^= load<u32>(groupPtr(g1 - 1) + GR_BEST);
    }
  }
  // 3b. touch the lifetime record of each group's best SA: the verdict loop counts
  // the packet there (R13), and these misses overlap here instead of one by one.
  for (let i: u32 = 0; i < n; i++) {
    const w = workBase + <usize>i * PW_SIZE;
    const g1 = load<u32>(w + PW_GROUP);
    if (g1 == 0 || load<u32>(w + PW_STATUS) != 0) continue;
    const best = load<u32>(groupPtr(g1 - 1) + GR_BEST);
    if (best != 0) t ^= load<u32>(ltPtr(best - 1) + LT_FLAGS);
  }
  touchSink ^= t;
  // 4. verdicts
  for (let i: u32 = 0; i < n; i++) {
    const w = workBase + <usize>i * PW_SIZE;
    const v = verdictBase + <usize>i * VR_SIZE;
    const status = beginVerdict(w, v);
    if (status != 0) {
      count(dir, Verdict.Malformed, status);
      continue;
    }
    applyDecision(w, v, dir, now, wireLength(i));
  }
}

// Lookup only (the host's Engine.classify): the policy decision of each packet of
// the batch in direction `dir`, through the flow cache (`useCache`) or straight from
// the classifier, with none of the rest of the packet path: no SA selection, no
// accounting, no larval SAs, no verdict counters. A record gets the action as its
// verdict (bypass, protect, discard; malformed with its reason) and the policy id.
export function lookupBatch(n: u32, dir: u32, useCache: bool): void {
  for (let i: u32 = 0; i < n; i++) {
    const w = workBase + <usize>i * PW_SIZE;
    const a: usize = parseDescriptor(i, dir) == 0 ? tagLine(load<u32>(w + PW_HASH)) : w;
    store<u32>(touchBase + (<usize>i << 2), <u32>a);
  }
  if (useCache) touchSink ^= touchTags(n);
  for (let i: u32 = 0; i < n; i++) {
    const w = workBase + <usize>i * PW_SIZE;
    const v = verdictBase + <usize>i * VR_SIZE;
    if (beginVerdict(w, v) != 0) continue;
    const slot1 = useCache ? decideFlow(w, dir, <usize>load<u32>(touchBase + (<usize>i << 2))) : classify(w, dir);
    const action = policyAction(slot1, dir);
    const verdict: u32 = action == Action.Protect ? Verdict.Protect : action == Action.Discard ? Verdict.Discard : Verdict.Bypass;
    writeVerdict(v, verdict, slot1 == 0 ? Reason.DefaultPolicy : Reason.Policy, policyIdOf(slot1), 0, load<u32>(w + PW_SPI));
  }
}
