// Linear-memory regions. Everything the engine owns is laid out once, at init(),
// from the capacities in the configuration block; memory never grows afterwards,
// so the host's typed-array views stay valid (a grow would detach them).
//
// Discipline for init code: reserve every region first, check for 0 (out of
// memory), and only then write into them.

import { CF_SIZE, RG_SIZE } from './layout';

const PAGE: u64 = 65536;
const MAX_BYTES: u64 = 0x100000000; // 4 GiB: the 32-bit address space

// The configuration block and region table sit at the start of the heap.
export const configPtr: usize = (__heap_base + 63) & ~<usize>63;
export const regionPtr: usize = configPtr + CF_SIZE;
let bump: u64 = <u64>(regionPtr + RG_SIZE);
let failed = false;

// Make sure the first page(s) exist so the host can write the configuration.
export function ensureHeader(): bool {
  return ensureMemory(bump);
}

function ensureMemory(end: u64): bool {
  const have = <u64>memory.size() * PAGE;
  if (end <= have) return true;
  if (end > MAX_BYTES) return false;
  const pages = <i32>((end - have + PAGE - 1) / PAGE);
  return memory.grow(pages) >= 0;
}

// Reserve `bytes` aligned to `align` (a power of two), growing memory as needed.
// Fresh pages are zero and memory is never handed out twice, so regions start
// zeroed. Returns 0 once memory is exhausted; every later reserve fails too.
export function reserve(bytes: u64, align: u64): usize {
  if (failed) return 0;
  const p = (bump + align - 1) & ~(align - 1);
  if (!ensureMemory(p + bytes)) {
    failed = true;
    return 0;
  }
  bump = p + bytes;
  return <usize>p;
}

export function outOfMemory(): bool {
  return failed;
}

export function heapEnd(): u64 {
  return bump;
}

export function nextPow2(n: u32): u32 {
  if (n <= 1) return 1;
  return <u32>1 << (32 - clz<u32>(n - 1));
}

// Words compare of two regions of `words` u64.
@inline
export function wordsEqual(a: usize, b: usize, words: u32): bool {
  for (let i: u32 = 0; i < words; i++) {
    if (load<u64>(a + (<usize>i << 3)) != load<u64>(b + (<usize>i << 3))) return false;
  }
  return true;
}

@inline
export function copyWords(dst: usize, src: usize, words: u32): void {
  for (let i: u32 = 0; i < words; i++) {
    store<u64>(dst + (<usize>i << 3), load<u64>(src + (<usize>i << 3)));
  }
}

@inline
export function zeroWords(dst: usize, words: u32): void {
  for (let i: u32 = 0; i < words; i++) store<u64>(dst + (<usize>i << 3), 0);
}
