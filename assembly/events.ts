// The event ring (docs/design.md §2): the engine appends fixed-size records at the tail,
// the host reads from the head after each call and stores the new head. Nothing
// is overwritten: when the ring is full the producer keeps the event pending
// (larval.ts marks the ACQUIRE undelivered, R8c) and writes it once there is room.

import {
  EV_DIR, EV_FLOW, EV_KEY, EV_LEVEL, EV_POLICY, EV_POLICY_GEN, EV_REASON, EV_SEQ, EV_SIZE, EV_TIME, EV_TYPE,
  EVR_CAPACITY, EVR_HEAD, EVR_SIZE, EVR_TAIL, EventType, FK_SIZE, LV_DIR, LV_FLOW, LV_ID, LV_KEY, LV_LEVEL,
  LV_POLICY, LV_POLICY_GEN, RK_SIZE,
} from './layout';
import { copyWords, reserve } from './memory';
import { hashWords } from './hash';
import { bump } from './counters';
import { CN_EVENTS_LOST, CN_INVALID_SPI_EVENTS, CN_INVALID_SPI_SUPPRESSED, FK_SRC } from './layout';

export let ringBase: usize = 0;
let records: usize = 0;
let capacity: u32 = 0;

// R18 rate limit: one INVALID_SPI per (SPI, peer) per second, found in a small
// direct-mapped table of recent reports, and at most `invalidSpiRate` per second.
const RECENT = 256;
const RECENT_SIZE = 16; // u32 spi, u32 peer hash, f64 time
let recent: usize = 0;
let invalidSpiRate: u32 = 0;
let rateWindowStart: f64 = -Infinity;
let rateWindowCount: u32 = 0;

export function initEvents(entries: u32, invalidSpiPerSecond: u32): bool {
  capacity = entries;
  invalidSpiRate = invalidSpiPerSecond;
  recent = reserve(RECENT * RECENT_SIZE, 8);
  ringBase = reserve(EVR_SIZE + <u64>entries * EV_SIZE, 64);
  if (ringBase == 0 || recent == 0) return false;
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

// R18: an inbound ESP packet with flow key `k` carried SPI `spi`, which names no SA.
// Tell the key manager (the peer may have rebooted), at a bounded rate: events the
// limit or a full ring holds back are counted, never queued.
export function noteInvalidSpi(k: usize, spi: u32, now: f64): void {
  const peer = hashWords(k + FK_SRC, 2);
  const e = recent + <usize>((peer ^ (spi * 0x9e3779b1)) & (RECENT - 1)) * RECENT_SIZE;
  if (load<u32>(e) == spi && load<u32>(e + 4) == peer && now - load<f64>(e + 8) < 1000) {
    bump(CN_INVALID_SPI_SUPPRESSED);
    return;
  }
  if (now - rateWindowStart >= 1000) {
    rateWindowStart = now;
    rateWindowCount = 0;
  }
  if (rateWindowCount >= invalidSpiRate || !ringHasRoom()) {
    bump(CN_INVALID_SPI_SUPPRESSED);
    return;
  }
  rateWindowCount++;
  store<u32>(e, spi);
  store<u32>(e + 4, peer);
  store<f64>(e + 8, now);
  const tail = load<u32>(ringBase + EVR_TAIL);
  const r = records + <usize>(tail & (capacity - 1)) * EV_SIZE;
  memory.fill(r, 0, EV_SIZE);
  store<u8>(r + EV_TYPE, <u8>EventType.InvalidSpi);
  store<u32>(r + EV_SEQ, spi);
  store<f64>(r + EV_TIME, now);
  copyWords(r + EV_FLOW, k, FK_SIZE >> 3);
  store<u32>(ringBase + EVR_TAIL, tail + 1);
  bump(CN_INVALID_SPI_EVENTS);
}

// ---------------------------------------------------------------------------
// EXPIRE and DELETED (R14, R15) must reach the key manager even when the ring is
// full: they wait in a backlog (bounded; what it cannot hold is counted as lost)
// and move to the ring as it drains.

let backlog: usize = 0;
let backlogCap: u32 = 0;
let backlogHead: u32 = 0;
let backlogCount: u32 = 0;
let reservedInRing = false;

export function initBacklog(entries: u32): bool {
  backlogCap = entries;
  backlog = reserve(<u64>entries * EV_SIZE, 64);
  return backlog != 0;
}

// Where to write the next record (then commitEvent()), or 0 when it is lost.
export function reserveEvent(): usize {
  let r: usize;
  if (backlogCount == 0 && ringHasRoom()) {
    reservedInRing = true;
    r = records + <usize>(load<u32>(ringBase + EVR_TAIL) & (capacity - 1)) * EV_SIZE;
  } else if (backlogCount < backlogCap) {
    reservedInRing = false;
    r = backlog + <usize>((backlogHead + backlogCount) % backlogCap) * EV_SIZE;
  } else {
    bump(CN_EVENTS_LOST);
    return 0;
  }
  memory.fill(r, 0, EV_SIZE);
  return r;
}

export function commitEvent(): void {
  if (reservedInRing) store<u32>(ringBase + EVR_TAIL, load<u32>(ringBase + EVR_TAIL) + 1);
  else backlogCount++;
}

export function flushBacklog(): void {
  while (backlogCount != 0 && ringHasRoom()) {
    const tail = load<u32>(ringBase + EVR_TAIL);
    memory.copy(records + <usize>(tail & (capacity - 1)) * EV_SIZE, backlog + <usize>backlogHead * EV_SIZE, EV_SIZE);
    store<u32>(ringBase + EVR_TAIL, tail + 1);
    backlogHead = (backlogHead + 1) % backlogCap;
    backlogCount--;
  }
}

// R8a: unread ACQUIREs are about to be written again for a new key manager; drop
// them from the ring and keep every other unread record, in order.
export function ringDropAcquires(): void {
  const head = load<u32>(ringBase + EVR_HEAD);
  const tail = load<u32>(ringBase + EVR_TAIL);
  let out = head;
  for (let i = head; i != tail; i++) {
    const r = records + <usize>(i & (capacity - 1)) * EV_SIZE;
    if (load<u8>(r + EV_TYPE) == <u8>EventType.Acquire) continue;
    if (out != i) memory.copy(records + <usize>(out & (capacity - 1)) * EV_SIZE, r, EV_SIZE);
    out++;
  }
  store<u32>(ringBase + EVR_TAIL, out);
}
