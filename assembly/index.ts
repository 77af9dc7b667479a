// The exported ABI of larval's data plane. Control-plane calls take numbers and
// specs written into the control block; packets cross in batches (descriptors +
// arena in, verdict records out). Layout and codes: ./layout.ts, shared with the host.

import {
  Action, CF_ARENA, CF_BATCH, CF_CACHE_SLOTS, CF_DEFAULT_FWD, CF_DEFAULT_IN, CF_DEFAULT_OUT,
  CF_MAX_POLICIES, CF_MAX_SAS, CF_MAX_TABLES, CF_SA_SELECTION, CONTROL_SIZE, DIR_COUNT, Dir,
  FK_DIR, MAX_PACKET_BYTES, Mode, PO_ACTION, PO_GROUP, PO_ID, PO_T_MODE, RG_ARENA, RG_CONTROL,
  RG_COUNTERS, RG_DESCRIPTORS, RG_POLICIES, RG_SAS, RG_TOTAL, RG_VERDICTS, SaSelection, Status, SA_ID,
  PW_HASH,
} from './layout';
import { configPtr, ensureHeader, heapEnd, regionPtr, reserve } from './memory';
import { initIdMaps } from './flat-index';
import { counterBase, initCounters } from './counters';
import { initFlowCache, flowCacheUsed } from './flowcache';
import {
  initSpd, policyBase, policyPtr, policySlotOf, setDefaultAction, spdAdd, spdCount, spdGeneration, spdRemove,
  policyIdOf, defaultAction,
} from './spd';
import { holdTemplateGroup, initSad, releaseTemplateGroup, saBase, sadAdd, sadCount, sadRemove, saPtr, saSlotOf } from './sad';
import { arenaBase, batchCapacity, decideFlow, descBase, hashFlowKey, initBatch, processBatch, verdictBase } from './outbound';

let initialised = false;
let controlBase: usize = 0;
let clock: f64 = 0; // engine time in ms; never goes backwards

@inline function advance(now: f64): void {
  if (now > clock) clock = now;
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
  if (controlBase == 0 || !initIdMaps() || !initCounters() || !initBatch(batch, arena) ||
      !initSpd(policies, tables, load<u32>(c + CF_DEFAULT_OUT), load<u32>(c + CF_DEFAULT_IN), load<u32>(c + CF_DEFAULT_FWD)) ||
      !initSad(sas, policies, selection) || !initFlowCache(cacheSlots)) {
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
  if (load<u8>(p + PO_ACTION) == <u8>Action.Protect && load<u8>(p + PO_T_MODE) == <u8>Mode.Tunnel) {
    const g1 = holdTemplateGroup(p);
    if (g1 == 0) {
      spdRemove(id);
      return Status.TableFull;
    }
    store<u32>(p + PO_GROUP, g1);
  }
  return <i32>id;
}

export function removePolicy(id: u32): i32 {
  if (!initialised) return Status.NotInitialised;
  const slot = policySlotOf(id);
  if (slot < 0) return Status.NotFound;
  const group1 = load<u32>(policyPtr(<u32>slot) + PO_GROUP);
  spdRemove(id);
  if (group1 != 0) releaseTemplateGroup(group1);
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
// current time). Returns its id (> 0) or a Status.
export function addSA(now: f64): i32 {
  if (!initialised) return Status.NotInitialised;
  if (!isNaN(now)) advance(now);
  const slot = sadAdd(controlBase, clock);
  if (slot < 0) return slot;
  return <i32>load<u32>(saPtr(<u32>slot) + SA_ID);
}

export function removeSA(id: u32): i32 {
  if (!initialised) return Status.NotInitialised;
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
// `now`. Returns n or a Status.
export function outbound(n: u32, now: f64): i32 {
  if (!initialised) return Status.NotInitialised;
  if (n > batchCapacity) return Status.Invalid;
  if (!isNaN(now)) advance(now);
  processBatch(n, Dir.Out);
  return <i32>n;
}

export function engineTime(): f64 {
  return clock;
}

export function flowCacheEntries(): u32 {
  return flowCacheUsed();
}
