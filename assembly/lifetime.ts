// SA lifetimes, owned by the engine (docs/design.md R13–R16).
//
// Limits: soft and hard, by packets, bytes, time since the install, time since the
// first packet, and (outbound) sequence-number exhaustion. Packets and bytes are
// checked as each packet is counted; time limits fire from a binary min-heap of
// each SA's next deadline, so tick(now) costs O(log n) per SA that has something
// due, not a scan of all SAs.
//
// States: mature → dying at a soft limit (one EXPIRE(soft), R14; still used while
// nothing newer exists) → draining when a newer SA for its template is installed or
// a hard limit is reached (never used for output again; inbound still accepted for
// 2 × msl, R15) → removed, with EXPIRE(hard) and DELETED. With a hard limit and no
// newer SA, the template's group has no usable SA and packets go to resolution
// (R16). The legacy presets remove at once instead of draining (saSwitch: delete).

import {
  EV_KEY, EV_REASON, EV_SA, EV_SPI, EV_TIME, EV_TYPE, EventType, ExpireKind, LT_BYTES, LT_DRAIN_END, LT_FIRST_USE,
  LT_HARD_ADD, LT_HARD_BYTES, LT_HARD_PACKETS, LT_HARD_USE, LT_HEAP, LT_PACKETS, LT_SEQ_OUT, LT_SIZE, LT_SOFT_ADD,
  LT_SOFT_BYTES, LT_SOFT_PACKETS, LT_SOFT_USE, RK_DST, RK_FAMILY, RK_MODE, RK_PROTO, RK_REQID, RK_SRC, SA_ADDTIME,
  SA_DST, SA_FAMILY, SA_FLAGS, SA_ID, SA_MODE, SA_PROTO, SA_REQID, SA_SPI, SA_SRC, SA_STATE, SAF_ESN, LT_FLAGS, LTF_ESN, LTF_SOFT_FIRED, LTF_USED,
  SaState, SaSwitch, SEQ_HARD_32, SEQ_SOFT_32, SEQ_SOFT_64_HIGH,
} from './layout';
import { copyWords, outOfMemory, reserve, zeroWords } from './memory';
import {
  beats, isUsable, newestWins, saPtr, sadRemove, saStateChanged, templatePeersHead, templatePeersNext,
} from './sad';
import { commitEvent, reserveEvent } from './events';

let base: usize = 0;
let heapTime: usize = 0;  // f64 per heap entry
let heapSlot: usize = 0;  // u32 per heap entry
let heapSize: u32 = 0;
let drainMs: f64 = 0;
let switchMode: u32 = SaSwitch.Drain;
// The sequence number the last accountPacket() handed out (outbound).
export let lastSeq: u64 = 0;

export function initLifetimes(maxSas: u32, mslMs: u32, sw: u32): bool {
  drainMs = 2 * <f64>mslMs;
  switchMode = sw;
  base = reserve(<u64>maxSas * LT_SIZE, 64);
  heapTime = reserve(<u64>maxSas * 8, 8);
  heapSlot = reserve(<u64>maxSas * 4, 8);
  return !outOfMemory();
}

@inline export function ltPtr(slot: u32): usize { return base + <usize>slot * LT_SIZE; }

// ---------------------------------------------------------------------------
// The deadline heap

@inline function hTime(i: u32): f64 { return load<f64>(heapTime + (<usize>i << 3)); }
@inline function hSlot(i: u32): u32 { return load<u32>(heapSlot + (<usize>i << 2)); }

function hPut(i: u32, t: f64, slot: u32): void {
  store<f64>(heapTime + (<usize>i << 3), t);
  store<u32>(heapSlot + (<usize>i << 2), slot);
  store<u32>(ltPtr(slot) + LT_HEAP, i + 1);
}

function siftUp(i: u32): void {
  const t = hTime(i);
  const s = hSlot(i);
  while (i > 0) {
    const parent = (i - 1) >> 1;
    if (hTime(parent) <= t) break;
    hPut(i, hTime(parent), hSlot(parent));
    i = parent;
  }
  hPut(i, t, s);
}

function siftDown(i: u32): void {
  const t = hTime(i);
  const s = hSlot(i);
  while (true) {
    const l: u32 = 2 * i + 1;
    if (l >= heapSize) break;
    const r: u32 = l + 1;
    const c = r < heapSize && hTime(r) < hTime(l) ? r : l;
    if (hTime(c) >= t) break;
    hPut(i, hTime(c), hSlot(c));
    i = c;
  }
  hPut(i, t, s);
}

function heapRemove(slot: u32): void {
  const pos1 = load<u32>(ltPtr(slot) + LT_HEAP);
  if (pos1 == 0) return;
  store<u32>(ltPtr(slot) + LT_HEAP, 0);
  const i = pos1 - 1;
  heapSize--;
  if (i == heapSize) return;
  hPut(i, hTime(heapSize), hSlot(heapSize));
  siftDown(i);
  siftUp(<u32>(load<u32>(ltPtr(hSlot(i)) + LT_HEAP) - 1));
}

// Engine time of the SA's first packet, or -1.
@inline function firstUse(lt: usize): f64 {
  return (load<u32>(lt + LT_FLAGS) & LTF_USED) != 0 ? load<f64>(lt + LT_FIRST_USE) : -1;
}

// The SA's next deadline, or Infinity.
function nextDeadline(slot: u32): f64 {
  const sa = saPtr(slot);
  const lt = ltPtr(slot);
  if (load<u8>(sa + SA_STATE) == <u8>SaState.Draining) return load<f64>(lt + LT_DRAIN_END);
  const added = load<f64>(sa + SA_ADDTIME);
  const used = firstUse(lt);
  let t = Infinity;
  if ((load<u32>(lt + LT_FLAGS) & LTF_SOFT_FIRED) == 0) {
    const softAdd = load<f64>(lt + LT_SOFT_ADD);
    if (softAdd > 0) t = min(t, added + softAdd);
    const softUse = load<f64>(lt + LT_SOFT_USE);
    if (softUse > 0 && used >= 0) t = min(t, used + softUse);
  }
  const hardAdd = load<f64>(lt + LT_HARD_ADD);
  if (hardAdd > 0) t = min(t, added + hardAdd);
  const hardUse = load<f64>(lt + LT_HARD_USE);
  if (hardUse > 0 && used >= 0) t = min(t, used + hardUse);
  return t;
}

// Put the SA's timer at its next deadline (or take it out).
function arm(slot: u32): void {
  const t = nextDeadline(slot);
  const pos1 = load<u32>(ltPtr(slot) + LT_HEAP);
  if (t == Infinity) {
    heapRemove(slot);
    return;
  }
  if (pos1 == 0) {
    hPut(heapSize, t, slot);
    heapSize++;
    siftUp(heapSize - 1);
    return;
  }
  const i = pos1 - 1;
  store<f64>(heapTime + (<usize>i << 3), t);
  siftUp(i);
  siftDown(<u32>(load<u32>(ltPtr(slot) + LT_HEAP) - 1));
}

// ---------------------------------------------------------------------------
// Events

function emit(slot: u32, type: u32, kind: u32, now: f64): void {
  const r = reserveEvent();
  if (r == 0) return;
  const sa = saPtr(slot);
  store<u8>(r + EV_TYPE, <u8>type);
  store<u8>(r + EV_REASON, <u8>kind);
  store<u32>(r + EV_SA, load<u32>(sa + SA_ID));
  store<u32>(r + EV_SPI, load<u32>(sa + SA_SPI));
  store<f64>(r + EV_TIME, now);
  store<u8>(r + EV_KEY + RK_FAMILY, load<u8>(sa + SA_FAMILY));
  store<u8>(r + EV_KEY + RK_PROTO, load<u8>(sa + SA_PROTO));
  store<u8>(r + EV_KEY + RK_MODE, load<u8>(sa + SA_MODE));
  store<u32>(r + EV_KEY + RK_REQID, load<u32>(sa + SA_REQID));
  copyWords(r + EV_KEY + RK_SRC, sa + SA_SRC, 2);
  copyWords(r + EV_KEY + RK_DST, sa + SA_DST, 2);
  commitEvent();
}

// ---------------------------------------------------------------------------
// Transitions

// A new SA: limits and the last sequence number sent from the spec (LT layout at
// `spec`), counters at zero.
export function lifetimeStart(slot: u32, spec: usize): void {
  const lt = ltPtr(slot);
  zeroWords(lt, LT_SIZE >> 3);
  copyWords(lt + LT_SOFT_PACKETS, spec + LT_SOFT_PACKETS, (LT_DRAIN_END - LT_SOFT_PACKETS) >> 3);
  store<u64>(lt + LT_SEQ_OUT, load<u64>(spec + LT_SEQ_OUT));
  // The per-packet path reads only this record: keep the SA's ESN flag here too.
  store<u32>(lt + LT_FLAGS, (load<u32>(saPtr(slot) + SA_FLAGS) & SAF_ESN) != 0 ? LTF_ESN : 0);
  arm(slot);
}

// The SA is being removed (by anyone): its timer goes.
export function lifetimeEnd(slot: u32): void {
  heapRemove(slot);
}

function softExpire(slot: u32, now: f64): void {
  const sa = saPtr(slot);
  const lt = ltPtr(slot);
  const flags = load<u32>(lt + LT_FLAGS);
  if ((flags & LTF_SOFT_FIRED) != 0) return;
  store<u32>(lt + LT_FLAGS, flags | LTF_SOFT_FIRED);
  if (load<u8>(sa + SA_STATE) == <u8>SaState.Mature) {
    store<u8>(sa + SA_STATE, <u8>SaState.Dying); // R14
    saStateChanged(slot);
  }
  emit(slot, EventType.Expire, ExpireKind.Soft, now);
  arm(slot);
}

// Remove the SA: EXPIRE(hard) when its life ran out (`expired`), then DELETED.
function remove(slot: u32, now: f64, expired: bool = true): void {
  if (expired) emit(slot, EventType.Expire, ExpireKind.Hard, now);
  emit(slot, EventType.Deleted, 0, now);
  heapRemove(slot);
  sadRemove(load<u32>(saPtr(slot) + SA_ID));
}

// R15: the SA is never used for output again (a newer SA, or a hard limit).
export function stopOutput(slot: u32, now: f64): void {
  const sa = saPtr(slot);
  if (load<u8>(sa + SA_STATE) == <u8>SaState.Draining) return;
  if (switchMode == SaSwitch.Delete) {
    remove(slot, now);
    return;
  }
  store<u8>(sa + SA_STATE, <u8>SaState.Draining);
  store<f64>(ltPtr(slot) + LT_DRAIN_END, now + drainMs);
  saStateChanged(slot);
  arm(slot);
}

// R15 at install: with newest-wins selection, the older SAs of the new SA's
// template stop being used for output at once.
export function supersedeOlder(slot: u32, now: f64): void {
  if (!newestWins()) return;
  const reqid = load<u32>(saPtr(slot) + SA_REQID);
  let m = templatePeersHead(slot);
  while (m != 0) {
    const next = templatePeersNext(slot, m);
    // Only SAs the new one beats by R6: a new SA installed as dying does not push
    // out a mature one.
    if (m - 1 != slot && isUsable(m - 1) && load<u32>(saPtr(m - 1) + SA_REQID) == reqid && beats(slot, m - 1)) stopOutput(m - 1, now);
    m = next;
  }
}

// Fire every deadline due at `now`.
export function runTimers(now: f64): void {
  while (heapSize != 0 && hTime(0) <= now) {
    const slot = hSlot(0);
    const sa = saPtr(slot);
    const lt = ltPtr(slot);
    if (load<u8>(sa + SA_STATE) == <u8>SaState.Draining) {
      remove(slot, now);
      continue;
    }
    const added = load<f64>(sa + SA_ADDTIME);
    const used = firstUse(lt);
    const hardAdd = load<f64>(lt + LT_HARD_ADD);
    const hardUse = load<f64>(lt + LT_HARD_USE);
    if ((hardAdd > 0 && added + hardAdd <= now) || (hardUse > 0 && used >= 0 && used + hardUse <= now)) {
      stopOutput(slot, now);
      continue;
    }
    softExpire(slot, now); // the only other deadline a live SA has
    arm(slot);
  }
}

// Count one packet of `bytes` on SA `slot` at `now`. Outbound, it also takes the
// next sequence number (lastSeq) and returns false when a hard limit forbids the
// SA to carry it (the SA then stops output); inbound packets are always counted.
export function accountPacket(slot: u32, bytes: u32, now: f64, outbound: bool): bool {
  const lt = ltPtr(slot);
  const flags = load<u32>(lt + LT_FLAGS);
  const packets = load<u64>(lt + LT_PACKETS) + 1;
  const total = load<u64>(lt + LT_BYTES) + bytes;
  const hardPackets = load<u64>(lt + LT_HARD_PACKETS);
  const hardBytes = load<u64>(lt + LT_HARD_BYTES);
  let seq: u64 = 0;
  if (outbound) {
    seq = load<u64>(lt + LT_SEQ_OUT) + 1;
    const esn = (flags & LTF_ESN) != 0;
    if ((hardPackets != 0 && packets > hardPackets) || (hardBytes != 0 && total > hardBytes) || (!esn && seq > SEQ_HARD_32) || seq == 0) {
      stopOutput(slot, now);
      return false;
    }
    store<u64>(lt + LT_SEQ_OUT, seq);
    lastSeq = seq;
  }
  store<u64>(lt + LT_PACKETS, packets);
  store<u64>(lt + LT_BYTES, total);
  if ((flags & LTF_USED) == 0) {
    store<u32>(lt + LT_FLAGS, flags | LTF_USED);
    store<f64>(lt + LT_FIRST_USE, now);
    if (load<f64>(lt + LT_SOFT_USE) > 0 || load<f64>(lt + LT_HARD_USE) > 0) arm(slot);
  }
  if (!outbound && ((hardPackets != 0 && packets >= hardPackets) || (hardBytes != 0 && total >= hardBytes))) {
    stopOutput(slot, now);
    return true;
  }
  if ((flags & LTF_SOFT_FIRED) == 0) {
    const softPackets = load<u64>(lt + LT_SOFT_PACKETS);
    const softBytes = load<u64>(lt + LT_SOFT_BYTES);
    const esn = (flags & LTF_ESN) != 0;
    if ((softPackets != 0 && packets >= softPackets) || (softBytes != 0 && total >= softBytes) ||
        (outbound && (esn ? <u32>(seq >> 32) >= SEQ_SOFT_64_HIGH : seq >= SEQ_SOFT_32))) {
      softExpire(slot, now);
    }
  }
  return true;
}

// R21: remove an SA of a peer that restarted (DELETED; its life did not run out).
export function flushSa(slot: u32, now: f64): void {
  remove(slot, now, false);
}
