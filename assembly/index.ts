// The exported ABI of larval's data plane. Control-plane calls take numbers and
// specs written into the control block; packets cross in batches (descriptors +
// arena in, verdict records out). Layout and codes: ./layout.ts, shared with the host.

import {
  Action, CF_ARENA, CF_BATCH, CF_CACHE_SLOTS, CF_DEFAULT_FWD, CF_DEFAULT_IN, CF_DEFAULT_OUT,
  CF_MAX_POLICIES, CF_MAX_SAS, CF_MAX_TABLES, CF_SA_SELECTION, CONTROL_SIZE, DIR_COUNT, Dir,
  FK_DIR, FK_FAMILY, FK_SRC, MAX_PACKET_BYTES, Mode, PO_ACTION, PO_GROUP, PO_ID, PO_T_MODE, RG_ARENA, RG_CONTROL,
  RG_COUNTERS, RG_DESCRIPTORS, RG_STAGE, RG_POLICIES, RG_SAS, RG_TOTAL, RG_VERDICTS, SaSelection, Status, SA_ID,
  PW_HASH, CF_MAX_LARVAL, CF_MAX_BINDINGS, CF_EVENT_RING, CF_UNRESOLVED, CF_RESEND_EVERY, CF_ACQUIRE_TIMEOUT,
  MAX_EVENT_RING, Unresolved, PO_T_LEVEL, Level, RG_LARVAL, RG_EVENTS, RG_OUTCOMES, GR_BEST, GR_BEST_ID, GR_KEY,
  CN_REASONS, REASON_COUNT, RF_OFFSET, CF_REPLAY_WINDOW, MAX_REPLAY_WINDOW, SA_FLAGS, SAF_ESN, CF_INVALID_SPI_RATE,
} from './layout';
import { processInbound, processInner } from './inbound';
import { flushSa, initLifetimes, lifetimeEnd, lifetimeStart, ltPtr, runTimers, supersedeOlder } from './lifetime';
import { flushBacklog, initBacklog } from './events';
import { CF_MSL, CF_SA_SWITCH, LS_OFFSET, RG_LIFETIMES, SaSwitch } from './layout';
import { hasEndpoint, saCapacity, slotInUse } from './sad';
import { inferSeq, initReplay, replayAccept, replayCheck, replayReset } from './replay';
import { bump } from './counters';
import { initEvents, ringBase } from './events';
import { bindingCount, initBindings } from './binding';
import {
  acquireFailed, beginOutcomes, expireLarvals, flushUndelivered, initLarval, installTarget, larvalBase, larvalCount,
  larvalSlotOf, outcomeBase, policyRemoved, reacquireAll, resolveKey,
} from './larval';
import { configPtr, ensureHeader, heapEnd, regionPtr, reserve } from './memory';
import { initIdMaps } from './flat-index';
import { counterBase, initCounters } from './counters';
import { initFlowCache, flowCacheUsed } from './flowcache';
import {
  initSpd, policyBase, policyPtr, policySlotOf, setDefaultAction, spdAdd, spdCount, spdGeneration, spdRemove,
  policyIdOf, defaultAction, spdRebuild, spdUseTrees, rebuilds,
} from './spd';
import { cutsMemoryUsed, treeRules, tuneCuts } from './cuts';
import {
  groupPtr, holdTemplateGroup, initSad, releaseTemplateGroup, saBase, sadAdd, sadCount, sadRemove, saGroupAny, saGroupExact,
  saPtr, saSlotOf,
} from './sad';
import { arenaBase, batchCapacity, descBase, describeStaged, hashFlowKey, setHashMask, stageBase, stagedBytes, verdictBase } from './batch';
import { decideFlow, initBatch, lookupBatch, processBatch, resolveFlowKey } from './outbound';

let initialised = false;
let controlBase: usize = 0;
let clock: f64 = 0; // engine time in ms; never goes backwards

@inline function advance(now: f64): void {
  if (now > clock) clock = now;
}

// Every call that carries time starts here: the clock moves, larval SAs whose
// acquireTimeout passed end (R10), and ACQUIREs waiting for ring room go out (R8c).
// The outcome buffer then lists every larval SA this call ends.
function begin(now: f64): void {
  if (!isNaN(now)) advance(now);
  beginOutcomes();
  expireLarvals(clock);
  runTimers(clock);
  flushUndelivered(clock);
  flushBacklog();
}

// Where the host writes the configuration (CF_* layout) before init().
export function configBlock(): usize {
  ensureHeader();
  return configPtr;
}

function isPow2(x: u32): bool {
  return x != 0 && (x & (x - 1)) == 0;
}

// Lay out every table from the configuration. Returns Status.
export function init(): i32 {
  if (initialised) return Status.Invalid;
  const c = configPtr;
  const policies = load<u32>(c + CF_MAX_POLICIES);
  const sas = load<u32>(c + CF_MAX_SAS);
  const cacheSlots = load<u32>(c + CF_CACHE_SLOTS);
  const batch = load<u32>(c + CF_BATCH);
  const arena = load<u32>(c + CF_ARENA);
  const tables = load<u32>(c + CF_MAX_TABLES);
  const selection = load<u32>(c + CF_SA_SELECTION);
  const maxLarval = load<u32>(c + CF_MAX_LARVAL);
  const maxBindings = load<u32>(c + CF_MAX_BINDINGS);
  const ring = load<u32>(c + CF_EVENT_RING);
  const unresolved = load<u32>(c + CF_UNRESOLVED);
  if (maxLarval == 0 || maxBindings == 0 || !isPow2(ring) || ring > <u32>MAX_EVENT_RING) return Status.Invalid;
  if (unresolved > <u32>Unresolved.Eagain || load<u32>(c + CF_ACQUIRE_TIMEOUT) == 0) return Status.Invalid;
  const replayWindow = load<u32>(c + CF_REPLAY_WINDOW);
  if (replayWindow < 32 || replayWindow > <u32>MAX_REPLAY_WINDOW || (replayWindow & 31) != 0) return Status.Invalid;
  const sw = load<u32>(c + CF_SA_SWITCH);
  if (sw > <u32>SaSwitch.Delete) return Status.Invalid;
  if (policies == 0 || sas == 0 || batch == 0 || tables == 0) return Status.Invalid;
  if (!isPow2(cacheSlots) || cacheSlots > 0x10000000) return Status.Invalid;
  if (arena < <u32>MAX_PACKET_BYTES) return Status.Invalid;
  if (selection != SaSelection.Newest && selection != SaSelection.Oldest) return Status.Invalid;
  for (let d: u32 = 0; d < <u32>DIR_COUNT; d++) {
    const a = load<u32>(c + CF_DEFAULT_OUT + (<usize>d << 2));
    if (a != Action.Bypass && a != Action.Discard) return Status.Invalid;
  }
  // Each step reserves its regions (growing memory) before writing into them, and
  // stops at the first region that does not fit in 4 GiB.
  controlBase = reserve(CONTROL_SIZE, 64);
  if (controlBase == 0 || !initIdMaps() || !initCounters() || !initBatch(batch, arena, unresolved) ||
      !initSpd(policies, tables, load<u32>(c + CF_DEFAULT_OUT), load<u32>(c + CF_DEFAULT_IN), load<u32>(c + CF_DEFAULT_FWD)) ||
      !initSad(sas, policies, selection) || !initFlowCache(cacheSlots) || !initBindings(maxBindings) ||
      !initLarval(maxLarval, load<u32>(c + CF_RESEND_EVERY), load<u32>(c + CF_ACQUIRE_TIMEOUT)) || !initEvents(ring, load<u32>(c + CF_INVALID_SPI_RATE)) ||
      !initReplay(sas, replayWindow) || !initLifetimes(sas, load<u32>(c + CF_MSL), sw) ||
      !initBacklog(min<u32>(sas * 3, 65536))) {
    return Status.OutOfMemory;
  }
  const r = regionPtr;
  store<u32>(r + RG_CONTROL, <u32>controlBase);
  store<u32>(r + RG_DESCRIPTORS, <u32>descBase);
  store<u32>(r + RG_ARENA, <u32>arenaBase);
  store<u32>(r + RG_VERDICTS, <u32>verdictBase);
  store<u32>(r + RG_COUNTERS, <u32>counterBase);
  store<u32>(r + RG_POLICIES, <u32>policyBase);
  store<u32>(r + RG_SAS, <u32>saBase);
  store<u32>(r + RG_LARVAL, <u32>larvalBase);
  store<u32>(r + RG_EVENTS, <u32>ringBase);
  store<u32>(r + RG_OUTCOMES, <u32>outcomeBase);
  store<u32>(r + RG_LIFETIMES, <u32>ltPtr(0));
  store<u32>(r + RG_STAGE, <u32>stageBase);
  store<u32>(r + RG_TOTAL, <u32>min<u64>(heapEnd(), 0xffffffff));
  initialised = true;
  return Status.Ok;
}

export function regions(): usize {
  return regionPtr;
}

// ---------------------------------------------------------------------------
// SPD

// Add the policy spec in the control block. Returns its id (> 0) or a Status.
export function addPolicy(): i32 {
  if (!initialised) return Status.NotInitialised;
  const slot = spdAdd(controlBase);
  if (slot < 0) return slot;
  const p = policyPtr(<u32>slot);
  const id = load<u32>(p + PO_ID);
  // A tunnel template's group is fixed; a `unique` one's depends on the flow.
  if (load<u8>(p + PO_ACTION) == <u8>Action.Protect && load<u8>(p + PO_T_MODE) == <u8>Mode.Tunnel &&
      load<u8>(p + PO_T_LEVEL) != <u8>Level.Unique) {
    const g1 = holdTemplateGroup(p);
    if (g1 == 0) {
      spdRemove(id);
      return Status.TableFull;
    }
    store<u32>(p + PO_GROUP, g1);
  }
  return <i32>id;
}

// Remove a policy. Its larval SAs end with Outcome.PolicyRemoved: the host decides
// their queued packets again under the SPD as it is now.
export function removePolicy(id: u32): i32 {
  if (!initialised) return Status.NotInitialised;
  const slot = policySlotOf(id);
  if (slot < 0) return Status.NotFound;
  begin(NaN);
  const group1 = load<u32>(policyPtr(<u32>slot) + PO_GROUP);
  spdRemove(id);
  if (group1 != 0) releaseTemplateGroup(group1);
  if (larvalCount() != 0) policyRemoved(id);
  return Status.Ok;
}

export function setDefault(dir: u32, action: u32): i32 {
  if (!initialised) return Status.NotInitialised;
  return setDefaultAction(dir, action);
}

export function defaultOf(dir: u32): i32 {
  if (!initialised) return Status.NotInitialised;
  return dir < <u32>DIR_COUNT ? <i32>defaultAction(dir) : Status.Invalid;
}

export function policySlot(id: u32): i32 {
  return initialised ? policySlotOf(id) : Status.NotInitialised;
}

// Rebuild the classifier's trees now (they are otherwise rebuilt lazily, see
// spd.ts). Returns the number of policies in them.
export function rebuildClassifier(): u32 {
  if (!initialised) return 0;
  spdRebuild();
  return treeRules;
}

// Benchmarks: tuple space search alone (0) or trees with it (1); only while the
// SPD is empty. Returns 1 when the switch took.
export function classifierTrees(on: u32): u32 {
  return initialised && spdUseTrees(on != 0) ? 1 : 0;
}

// Benchmarks: the trees' space factor and leaf size (0 keeps a value).
export function classifierTune(spaceFactor: u32, leafRules: u32): void {
  tuneCuts(spaceFactor, leafRules);
}

export function classifierRebuilds(): u32 {
  return rebuilds;
}

// Bytes of tree nodes and leaves in use after the last rebuild.
export function classifierTreeBytes(): u32 {
  return cutsMemoryUsed();
}

export function policyCount(): u32 {
  return spdCount();
}

export function policyGeneration(): u32 {
  return spdGeneration();
}

// The policy id (0 = the default action) for the flow key in the control block,
// through the same flow cache as packets.
export function lookupFlow(dir: u32): i32 {
  if (!initialised) return Status.NotInitialised;
  if (dir >= <u32>DIR_COUNT) return Status.Invalid;
  const w = controlBase;
  store<u8>(w + FK_DIR, <u8>dir);
  store<u32>(w + PW_HASH, hashFlowKey(w));
  return <i32>policyIdOf(decideFlow(w, dir));
}

// ---------------------------------------------------------------------------
// SAD

// Add the SA spec in the control block at engine time `now` (NaN: the engine's
// current time). `acquireSeq` (0 = none) names the ACQUIRE it answers (R12): the
// install is refused when that ACQUIRE is no longer pending, its policy changed, or
// the SA does not fit its template; a `unique` ACQUIRE binds the SA to its flow.
// Every larval SA whose key now has a usable SA ends as resolved (R9).
// Returns the SA id (> 0) or a Status.
export function addSA(now: f64, acquireSeq: u32): i32 {
  if (!initialised) return Status.NotInitialised;
  begin(now);
  let binding: u32 = 0;
  if (acquireSeq != 0) {
    const t = installTarget(acquireSeq, controlBase);
    if (t < 0) return t;
    binding = <u32>t;
  }
  const slot = sadAdd(controlBase, clock, binding);
  if (slot < 0) return slot;
  replayReset(<u32>slot);
  lifetimeStart(<u32>slot, controlBase + LS_OFFSET);
  supersedeOlder(<u32>slot, clock); // R15
  resolveGroup(saGroupAny(<u32>slot));
  resolveGroup(saGroupExact(<u32>slot));
  return <i32>load<u32>(saPtr(<u32>slot) + SA_ID);
}

function resolveGroup(g1: u32): void {
  if (g1 == 0) return;
  const gp = groupPtr(g1 - 1);
  if (load<u32>(gp + GR_BEST) != 0) resolveKey(gp + GR_KEY, load<u32>(gp + GR_BEST_ID));
}

export function removeSA(id: u32): i32 {
  if (!initialised) return Status.NotInitialised;
  begin(NaN);
  const at = saSlotOf(id);
  if (at >= 0) lifetimeEnd(<u32>at);
  const slot = sadRemove(id);
  return slot < 0 ? slot : Status.Ok;
}

export function saSlot(id: u32): i32 {
  return initialised ? saSlotOf(id) : Status.NotInitialised;
}

export function saCount(): u32 {
  return sadCount();
}

// ---------------------------------------------------------------------------
// Packets

// Process `n` outbound packets described in the descriptor region at engine time
// `now`. `release` != 0: they come out of a resolution queue (counted when queued).
// Returns n or a Status.
export function outbound(n: u32, now: f64, release: u32): i32 {
  if (!initialised) return Status.NotInitialised;
  if (n > batchCapacity) return Status.Invalid;
  begin(now);
  processBatch(n, Dir.Out, clock, release != 0);
  return <i32>n;
}

// Descriptors for `n` packets of a capture-like buffer staged at RG_STAGE (offsets,
// lengths and, with `wires` != 0, wire lengths): the host's per-packet work done
// here. Returns how many fit in the arena; stagedByteCount() is the byte range to copy.
// With `check` != 0 the staged packets are first checked against a buffer of
// `dataLength` bytes (in order, in bounds, wire lengths no shorter than lengths);
// 0 if one fails (the host then validates them itself and says what is wrong).
export function describeBuffer(n: u32, wires: u32, check: u32, dataLength: u32): i32 {
  if (!initialised) return Status.NotInitialised;
  if (n == 0 || n > batchCapacity) return Status.Invalid;
  return <i32>describeStaged(n, wires != 0, check != 0, dataLength);
}

// Lookup only: the policy decision of `n` packets in direction `dir` (Engine.classify),
// through the flow cache unless `cache` is 0.
export function lookup(n: u32, dir: u32, cache: u32): i32 {
  if (!initialised) return Status.NotInitialised;
  if (n > batchCapacity || dir >= <u32>DIR_COUNT) return Status.Invalid;
  lookupBatch(n, dir, cache != 0);
  return <i32>n;
}

// Tests only: AND every flow hash with `mask` (0xffffffff restores it), to force
// flow-cache tag collisions between distinct flows.
export function setHashMaskForTesting(mask: u32): void {
  setHashMask(mask);
}

export function stagedByteCount(): u32 {
  return stagedBytes;
}

// Process `n` inbound packets (outer headers) at engine time `now` (R17–R20).
export function inbound(n: u32, now: f64): i32 {
  if (!initialised) return Status.NotInitialised;
  if (n > batchCapacity) return Status.Invalid;
  begin(now);
  processInbound(n, clock);
  return <i32>n;
}

// Process `n` decrypted inner packets; each descriptor names its SA and sequence
// number (PD_SA, PD_SEQ). The anti-replay window moves here (R19), then R20.
export function inboundInner(n: u32, now: f64): i32 {
  if (!initialised) return Status.NotInitialised;
  if (n > batchCapacity) return Status.Invalid;
  begin(now);
  processInner(n, clock);
  return <i32>n;
}

// Advance engine time: larval SAs past acquireTimeout end (R10). Returns how many
// larval SAs ended (the outcome buffer lists them).
export function tick(now: f64): i32 {
  if (!initialised) return Status.NotInitialised;
  begin(now);
  return <i32>load<u32>(outcomeBase);
}

// R11: the state of the flow key in the control block for a local sender, written
// at RF_OFFSET of the control block; starts a negotiation if one is needed.
export function resolveFlow(dir: u32, now: f64): i32 {
  if (!initialised) return Status.NotInitialised;
  if (dir >= <u32>DIR_COUNT) return Status.Invalid;
  begin(now);
  const w = controlBase;
  store<u8>(w + FK_DIR, <u8>dir);
  store<u32>(w + PW_HASH, hashFlowKey(w));
  resolveFlowKey(w, dir, clock, controlBase + RF_OFFSET);
  return Status.Ok;
}

// R8b: the key manager could not negotiate ACQUIRE `seq`; retry != 0 asks for the
// ACQUIRE again, otherwise the larval SA fails.
export function acquireError(seq: u32, retry: u32, now: f64): i32 {
  if (!initialised) return Status.NotInitialised;
  begin(now);
  return acquireFailed(seq, retry != 0, clock);
}

// R8a: a key manager (re)registered: unread ACQUIREs are dropped and every pending
// ACQUIRE is written again. Returns how many.
export function reacquire(now: f64): i32 {
  if (!initialised) return Status.NotInitialised;
  begin(now);
  return <i32>reacquireAll(clock);
}

// The host read events up to the head it stored: write waiting ACQUIREs (R8c) and
// EXPIRE/DELETED records from the backlog.
export function eventsRead(): void {
  if (!initialised) return;
  flushUndelivered(clock);
  flushBacklog();
}

// R21: remove every SA that has the address in the control block (family at
// FK_FAMILY, words at FK_SRC) as an endpoint. Returns how many.
export function flushPeer(now: f64): i32 {
  if (!initialised) return Status.NotInitialised;
  begin(now);
  const family = <u32>load<u8>(controlBase + FK_FAMILY);
  let n = 0;
  for (let s: u32 = 0, cap = saCapacity(); s < cap; s++) {
    if (slotInUse(s) && hasEndpoint(s, family, controlBase + FK_SRC)) {
      flushSa(s, clock);
      n++;
    }
  }
  return n;
}

// Drops the host makes (its resolution queue, R9/R10) are counted with the
// engine's counters, so stats() reads every drop from one place (R26).
export function countDrops(dir: u32, reason: u32, n: u32): i32 {
  if (!initialised) return Status.NotInitialised;
  if (dir >= <u32>DIR_COUNT || reason >= <u32>REASON_COUNT) return Status.Invalid;
  bump(CN_REASONS + dir * REASON_COUNT + reason, n);
  return Status.Ok;
}

// ---------------------------------------------------------------------------
// Anti-replay (R19), one packet at a time (the inbound batch path uses the same
// functions). The full sequence number inferred for `seql` is written as a u64 at
// the start of the control block.

function replaySlot(saId: u32): i32 {
  return saSlotOf(saId);
}

// Would a packet with low sequence bits `seql` be accepted on SA `saId`? 0, a
// Reason (replayed, replay-too-old), or a Status.
export function replayCheckSeq(saId: u32, seql: u32): i32 {
  if (!initialised) return Status.NotInitialised;
  const slot = replaySlot(saId);
  if (slot < 0) return Status.NotFound;
  const seq = inferSeq(<u32>slot, seql, (load<u32>(saPtr(<u32>slot) + SA_FLAGS) & SAF_ESN) != 0);
  store<u64>(controlBase, seq);
  return <i32>replayCheck(<u32>slot, seq);
}

// Check and, when acceptable, record it (the ICV verified). Same results.
export function replayAcceptSeq(saId: u32, seql: u32): i32 {
  const r = replayCheckSeq(saId, seql);
  if (r != 0) return r;
  replayAccept(<u32>replaySlot(saId), load<u64>(controlBase));
  return 0;
}

export function larvalSlot(id: u32): i32 {
  return initialised ? larvalSlotOf(id) : Status.NotInitialised;
}

export function larvals(): u32 {
  return larvalCount();
}

export function bindings(): u32 {
  return bindingCount();
}

export function engineTime(): f64 {
  return clock;
}

export function flowCacheEntries(): u32 {
  return flowCacheUsed();
}
