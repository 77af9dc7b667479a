// A pool of record slots: a stack of free slot numbers, so taking and returning a
// slot is O(1) and slots are reused. One per fixed-capacity table (policies, SAs,
// SA groups). Layout: [u32 free count][u32 slots...].

import { reserve } from './memory';

// Reserve a pool for `capacity` slots; fill it with fillPool() once memory is known to fit.
export function reservePool(capacity: u32): usize {
  return reserve(8 + <u64>capacity * 4, 8);
}

// All slots free, handed out in ascending order.
export function fillPool(pool: usize, capacity: u32): void {
  for (let i: u32 = 0; i < capacity; i++) store<u32>(pool + 8 + (<usize>i << 2), capacity - 1 - i);
  store<u32>(pool, capacity);
}

// The slot the next poolTake() returns, or -1 when none is free.
export function poolPeek(pool: usize): i32 {
  const free = load<u32>(pool);
  return free == 0 ? -1 : <i32>load<u32>(pool + 8 + (<usize>(free - 1) << 2));
}

export function poolTake(pool: usize): i32 {
  const slot = poolPeek(pool);
  if (slot >= 0) store<u32>(pool, load<u32>(pool) - 1);
  return slot;
}

// Slots currently free.
export function poolFree(pool: usize): u32 {
  return load<u32>(pool);
}

export function poolGive(pool: usize, slot: u32): void {
  const free = load<u32>(pool);
  store<u32>(pool + 8 + (<usize>free << 2), slot);
  store<u32>(pool, free + 1);
}
