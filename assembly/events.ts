// The event ring (DESIGN.md §2): the engine appends fixed-size records at the tail,
// the host reads from the head after each call and stores the new head. Nothing
// is overwritten: when the ring is full the producer keeps the event pending
// (larval.ts marks the ACQUIRE undelivered, R8c) and writes it once there is room.

import {
  EV_DIR, EV_FLOW, EV_KEY, EV_LEVEL, EV_POLICY, EV_POLICY_GEN, EV_REASON, EV_SEQ, EV_SIZE, EV_TIME, EV_TYPE,
  EVR_CAPACITY, EVR_HEAD, EVR_SIZE, EVR_TAIL, EventType, FK_SIZE, LV_DIR, LV_FLOW, LV_ID, LV_KEY, LV_LEVEL,
  LV_POLICY, LV_POLICY_GEN, RK_SIZE,
} from './layout';
import { copyWords, reserve } from './memory';

export let ringBase: usize = 0;
let records: usize = 0;
let capacity: u32 = 0;

export function initEvents(entries: u32): bool {
  capacity = entries;
  ringBase = reserve(EVR_SIZE + <u64>entries * EV_SIZE, 64);
  if (ringBase == 0) return false;
  records = ringBase + EVR_SIZE;
  store<u32>(ringBase + EVR_CAPACITY, entries);
  return true;
}

// Entries written and not yet read. The host owns EVR_HEAD; a head it wrote outside
// [tail - capacity, tail] is clamped so a bad write cannot make the engine overwrite
// unread records or read garbage.
function pending(): u32 {
  const tail = load<u32>(ringBase + EVR_TAIL);
  const used = tail - load<u32>(ringBase + EVR_HEAD);
  if (used > capacity) {
    store<u32>(ringBase + EVR_HEAD, tail);
    return 0;
  }
  return used;
}

export function ringHasRoom(): bool {
  return pending() < capacity;
}

// Discard every unread record (a KM that registers again gets the state re-sent).
export function ringDiscard(): void {
  store<u32>(ringBase + EVR_HEAD, load<u32>(ringBase + EVR_TAIL));
}

// Append an ACQUIRE for the larval SA at `lv`. The caller checked ringHasRoom().
export function writeAcquire(lv: usize, cause: u32, now: f64): void {
  const tail = load<u32>(ringBase + EVR_TAIL);
  const e = records + <usize>(tail & (capacity - 1)) * EV_SIZE;
  store<u8>(e + EV_TYPE, <u8>EventType.Acquire);
  store<u8>(e + EV_LEVEL, load<u8>(lv + LV_LEVEL));
  store<u8>(e + EV_DIR, load<u8>(lv + LV_DIR));
  store<u8>(e + EV_REASON, <u8>cause);
  store<u32>(e + EV_SEQ, load<u32>(lv + LV_ID));
  store<u32>(e + EV_POLICY, load<u32>(lv + LV_POLICY));
  store<u32>(e + EV_POLICY_GEN, load<u32>(lv + LV_POLICY_GEN));
  store<f64>(e + EV_TIME, now);
  copyWords(e + EV_KEY, lv + LV_KEY, RK_SIZE >> 3);
  copyWords(e + EV_FLOW, lv + LV_FLOW, FK_SIZE >> 3);
  store<u32>(ringBase + EVR_TAIL, tail + 1);
}
