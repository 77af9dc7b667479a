// Larval SAs (docs/design.md R7–R10): the placeholder for a resolution key whose SA is
// being negotiated. The first packet that needs a missing SA creates it and sends
// exactly one ACQUIRE (R8); every later packet of that key finds it with one hash
// probe. Its packets wait in the host's resolution queue (R9); the engine tells the
// host how each larval SA ended through the outcome buffer (resolved by an SA
// install, expired after acquireTimeout, failed, or its policy removed).
//
// Larval SAs all live acquireTimeout and the engine clock never goes back, so
// creation order is expiry order: a FIFO list makes expiry cost O(expired).

import {
  AcquireCause, FK_SIZE, LV_BLOCKED, LV_CAUSE, LV_DIR, LV_EXPIRES, LV_FLAGS, LV_FLOW, LV_ID, LV_KEY,
  LV_LEVEL, LV_NEXT, LV_POLICY, LV_POLICY_GEN, LV_PREV, LV_SIZE, LV_UNDELIVERED_NEXT, LVF_UNDELIVERED,
  Level, MAX_ID, OC_COUNT, OC_HEADER, OC_KIND, OC_LARVAL, OC_SA, OC_SIZE, Outcome, PO_GEN, PO_ID,
  PO_T_LEVEL, RK_BINDING, RK_SIZE, Reason, Status, CN_ACQUIRES, CN_ACQUIRES_DEFERRED, CN_LARVAL_CREATED,
  CN_LARVAL_EXPIRED, CN_LARVAL_FAILED, CN_LARVAL_RESOLVED,
} from './layout';
import { createIndex, idInsert, idLookup, idTake, ixFind, ixInsert, ixRemove, ixValue } from './flat-index';
import { fillPool, poolFree, poolGive, poolPeek, poolTake, reservePool } from './pool';
import { hashWords } from './hash';
import { copyWords, outOfMemory, reserve, zeroWords } from './memory';
import { bindingObtain, bindingRelease, bindingRetain } from './binding';
import { ringDropAcquires, ringHasRoom, writeAcquire } from './events';
import { bump } from './counters';
import { policyPtr, policySlotOf } from './spd';
import { specFitsKey, templateKey } from './sad';

const RK_WORDS: u32 = RK_SIZE >> 3;

export let larvalBase: usize = 0;
export let outcomeBase: usize = 0;
let maxLarval: u32 = 0;
let pool: usize = 0;
let keyIndex: usize = 0;  // resolution key -> larval slot
let idIndex: usize = 0;   // larval id (ACQUIRE seq) -> larval slot
let expiryHead: u32 = 0;  // larval slot + 1, oldest first
let expiryTail: u32 = 0;
let undeliveredHead: u32 = 0; // larval slot + 1 whose ACQUIRE waits for ring room (R8c)
let undeliveredTail: u32 = 0;
let resendEvery: u32 = 0;
let timeoutMs: f64 = 0;
let larvalSeq: u32 = 0;

export function initLarval(max: u32, resend: u32, timeout: u32): bool {
  maxLarval = max;
  resendEvery = resend;
  timeoutMs = <f64>timeout;
  larvalBase = reserve(<u64>max * LV_SIZE, 64);
  pool = reservePool(max);
  keyIndex = createIndex(max, RK_SIZE, 0);
  idIndex = createIndex(max, 8, 0);
  outcomeBase = reserve(OC_HEADER + <u64>max * OC_SIZE, 8);
  if (outOfMemory()) return false;
  fillPool(pool, max);
  return true;
}

@inline export function larvalPtr(slot: u32): usize { return larvalBase + <usize>slot * LV_SIZE; }

export function larvalCount(): u32 { return maxLarval - poolFree(pool); }

// ---------------------------------------------------------------------------
// Outcomes of the current call

export function beginOutcomes(): void {
  store<u32>(outcomeBase + OC_COUNT, 0);
}

function addOutcome(id: u32, kind: u32, sa: u32): void {
  const n = load<u32>(outcomeBase + OC_COUNT);
  // A call ends only larval SAs that existed when it began (calls that create them
  // end none afterwards), at most maxLarval, so the buffer cannot overflow; the
  // check only keeps a broken invariant from writing out of bounds.
  if (n >= maxLarval) return;
  const o = outcomeBase + OC_HEADER + <usize>n * OC_SIZE;
  store<u32>(o + OC_LARVAL, id);
  store<u32>(o + OC_KIND, kind);
  store<u32>(o + OC_SA, sa);
  store<u32>(outcomeBase + OC_COUNT, n + 1);
}

// ---------------------------------------------------------------------------
// ACQUIRE delivery (R8)

function emitAcquire(slot: u32, cause: u32, now: f64): void {
  const lv = larvalPtr(slot);
  if ((load<u8>(lv + LV_FLAGS) & LVF_UNDELIVERED) != 0) return; // one is already waiting
  if (undeliveredHead == 0 && ringHasRoom()) {
    writeAcquire(lv, cause, now);
    bump(CN_ACQUIRES);
    return;
  }
  // R8c: the ring is full (or others wait before it): keep it undelivered, in order.
  store<u8>(lv + LV_FLAGS, load<u8>(lv + LV_FLAGS) | LVF_UNDELIVERED);
  store<u8>(lv + LV_CAUSE, <u8>cause);
  store<u32>(lv + LV_UNDELIVERED_NEXT, 0);
  if (undeliveredTail == 0) undeliveredHead = slot + 1;
  else store<u32>(larvalPtr(undeliveredTail - 1) + LV_UNDELIVERED_NEXT, slot + 1);
  undeliveredTail = slot + 1;
  bump(CN_ACQUIRES_DEFERRED);
}

// Write waiting ACQUIREs while the ring has room.
export function flushUndelivered(now: f64): void {
  while (undeliveredHead != 0 && ringHasRoom()) {
    const slot = undeliveredHead - 1;
    const lv = larvalPtr(slot);
    undeliveredHead = load<u32>(lv + LV_UNDELIVERED_NEXT);
    if (undeliveredHead == 0) undeliveredTail = 0;
    store<u8>(lv + LV_FLAGS, load<u8>(lv + LV_FLAGS) & ~<u8>LVF_UNDELIVERED);
    writeAcquire(lv, load<u8>(lv + LV_CAUSE), now);
    bump(CN_ACQUIRES);
  }
}

function unlinkUndelivered(slot: u32): void {
  let prev: u32 = 0;
  let cur = undeliveredHead;
  while (cur != 0 && cur != slot + 1) {
    prev = cur;
    cur = load<u32>(larvalPtr(cur - 1) + LV_UNDELIVERED_NEXT);
  }
  if (cur == 0) return;
  const next = load<u32>(larvalPtr(slot) + LV_UNDELIVERED_NEXT);
  if (prev == 0) undeliveredHead = next;
  else store<u32>(larvalPtr(prev - 1) + LV_UNDELIVERED_NEXT, next);
  if (undeliveredTail == slot + 1) undeliveredTail = prev;
}

// R8a: a key manager registered again. Unread ACQUIREs were meant for the old one:
// drop them and send every pending ACQUIRE once more, oldest first (other unread
// events stay for the new key manager).
export function reacquireAll(now: f64): u32 {
  ringDropAcquires();
  for (let cur = undeliveredHead; cur != 0;) {
    const lv = larvalPtr(cur - 1);
    store<u8>(lv + LV_FLAGS, load<u8>(lv + LV_FLAGS) & ~<u8>LVF_UNDELIVERED);
    cur = load<u32>(lv + LV_UNDELIVERED_NEXT);
  }
  undeliveredHead = 0;
  undeliveredTail = 0;
  let n: u32 = 0;
  for (let cur = expiryHead; cur != 0; cur = load<u32>(larvalPtr(cur - 1) + LV_NEXT)) {
    emitAcquire(cur - 1, AcquireCause.Reregister, now);
    n++;
  }
  return n;
}

// ---------------------------------------------------------------------------
// Find or create (the packet path)

// The larval SA for a packet with flow key at `k` that policy slot `slot1` protects
// and that has no usable SA. Returns its id (> 0), or -Reason when it cannot exist.
export function larvalFor(slot1: u32, k: usize, dir: u32, now: f64): i32 {
  const p = policyPtr(slot1 - 1);
  const key = templateKey(p, k);
  const level = <u32>load<u8>(p + PO_T_LEVEL);
  let binding: u32 = 0;
  if (level == Level.Unique) {
    binding = bindingObtain(key, k);
    if (binding == 0) return -(<i32>Reason.BindingsFull);
    store<u32>(key + RK_BINDING, binding);
  }
  const h = hashWords(key, RK_WORDS);
  const s = ixFind(keyIndex, key, h);
  if (s != 0) {
    const slot = ixValue(s);
    const lv = larvalPtr(slot);
    if (resendEvery != 0) {
      // Legacy presets only (R8 forbids this by default): KAME's blockacq_count.
      const blocked = load<u32>(lv + LV_BLOCKED);
      if (blocked >= resendEvery) {
        store<u32>(lv + LV_BLOCKED, 0);
        emitAcquire(slot, AcquireCause.Resend, now);
      } else {
        store<u32>(lv + LV_BLOCKED, blocked + 1);
      }
    }
    return <i32>load<u32>(lv + LV_ID);
  }
  const next = poolPeek(pool);
  if (next < 0 || larvalSeq >= <u32>MAX_ID) {
    if (binding != 0) bindingRelease(binding, 0);
    return -(<i32>Reason.LarvalFull);
  }
  const slot = <u32>next;
  // The key index is sized for maxLarval entries, so this insert cannot fail.
  ixInsert(keyIndex, key, h, slot);
  poolTake(pool);
  const lv = larvalPtr(slot);
  zeroWords(lv, LV_SIZE >> 3);
  copyWords(lv + LV_KEY, key, RK_WORDS);
  copyWords(lv + LV_FLOW, k, FK_SIZE >> 3);
  const id = ++larvalSeq;
  store<u32>(lv + LV_ID, id);
  store<u32>(lv + LV_POLICY, load<u32>(p + PO_ID));
  store<u32>(lv + LV_POLICY_GEN, load<u32>(p + PO_GEN));
  store<u8>(lv + LV_LEVEL, <u8>level);
  store<u8>(lv + LV_DIR, <u8>dir);
  store<f64>(lv + LV_EXPIRES, now + timeoutMs);
  idInsert(idIndex, id, slot);
  if (binding != 0) bindingRetain(binding);
  store<u32>(lv + LV_PREV, expiryTail);
  if (expiryTail == 0) expiryHead = slot + 1;
  else store<u32>(larvalPtr(expiryTail - 1) + LV_NEXT, slot + 1);
  expiryTail = slot + 1;
  bump(CN_LARVAL_CREATED);
  emitAcquire(slot, AcquireCause.New, now);
  return <i32>id;
}

// ---------------------------------------------------------------------------
// Endings

function endLarval(slot: u32, kind: u32, sa: u32): void {
  const lv = larvalPtr(slot);
  const id = load<u32>(lv + LV_ID);
  addOutcome(id, kind, sa);
  const s = ixFind(keyIndex, lv + LV_KEY, hashWords(lv + LV_KEY, RK_WORDS));
  if (s != 0) ixRemove(keyIndex, s);
  idTake(idIndex, id);
  const next = load<u32>(lv + LV_NEXT);
  const prev = load<u32>(lv + LV_PREV);
  if (prev == 0) expiryHead = next;
  else store<u32>(larvalPtr(prev - 1) + LV_NEXT, next);
  if (next == 0) expiryTail = prev;
  else store<u32>(larvalPtr(next - 1) + LV_PREV, prev);
  if ((load<u8>(lv + LV_FLAGS) & LVF_UNDELIVERED) != 0) unlinkUndelivered(slot);
  const binding = load<u32>(lv + LV_KEY + RK_BINDING);
  if (binding != 0) bindingRelease(binding);
  zeroWords(lv, LV_SIZE >> 3);
  poolGive(pool, slot);
  if (kind == Outcome.Resolved) bump(CN_LARVAL_RESOLVED);
  else if (kind == Outcome.Expired) bump(CN_LARVAL_EXPIRED);
  else if (kind == Outcome.Failed) bump(CN_LARVAL_FAILED);
}

// R10: end every larval SA whose acquireTimeout has passed at `now`.
export function expireLarvals(now: f64): void {
  while (expiryHead != 0) {
    const slot = expiryHead - 1;
    if (load<f64>(larvalPtr(slot) + LV_EXPIRES) > now) break;
    endLarval(slot, Outcome.Expired, 0);
  }
}

// An SA was installed whose group key is at `key` and whose group now has a usable
// best SA `saId`: the larval SA of that key (if any) is resolved (R9).
export function resolveKey(key: usize, saId: u32): void {
  const s = ixFind(keyIndex, key, hashWords(key, RK_WORDS));
  if (s != 0) endLarval(ixValue(s), Outcome.Resolved, saId);
}

// The binding of the larval SA with ACQUIRE sequence `seq` that the SA spec at
// `spec` answers (R12), or a Status when the install must be refused.
export function installTarget(seq: u32, spec: usize): i32 {
  const slot1 = idLookup(idIndex, seq);
  if (slot1 == 0) return Status.Stale;
  const lv = larvalPtr(slot1 - 1);
  const ps = policySlotOf(load<u32>(lv + LV_POLICY));
  if (ps < 0 || load<u32>(policyPtr(<u32>ps) + PO_GEN) != load<u32>(lv + LV_POLICY_GEN)) return Status.PolicyChanged;
  if (!specFitsKey(spec, lv + LV_KEY)) return Status.TemplateMismatch;
  return <i32>load<u32>(lv + LV_KEY + RK_BINDING);
}

// R8b: the key manager answered ACQUIRE `seq` with an error. With `retry` the
// ACQUIRE is sent again; otherwise the larval SA fails (its queue is dropped).
export function acquireFailed(seq: u32, retry: bool, now: f64): i32 {
  const slot1 = idLookup(idIndex, seq);
  if (slot1 == 0) return Status.Stale;
  if (retry) {
    store<u32>(larvalPtr(slot1 - 1) + LV_BLOCKED, 0);
    emitAcquire(slot1 - 1, AcquireCause.Retry, now);
  } else {
    endLarval(slot1 - 1, Outcome.Failed, 0);
  }
  return Status.Ok;
}

// The policy `id` was removed: its larval SAs end and their packets are decided again.
export function policyRemoved(id: u32): void {
  let cur = expiryHead;
  while (cur != 0) {
    const lv = larvalPtr(cur - 1);
    const next = load<u32>(lv + LV_NEXT);
    if (load<u32>(lv + LV_POLICY) == id) endLarval(cur - 1, Outcome.PolicyRemoved, 0);
    cur = next;
  }
}

export function larvalSlotOf(id: u32): i32 {
  return <i32>idLookup(idIndex, id) - 1;
}
