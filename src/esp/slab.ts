// Packets the ESP stage makes (outbound ESP, inbound inner packets from libsodium)
// are carved one after another from slabs (issue 16): a full slab is replaced, never
// reused, so a packet handed to a socket (which keeps it while a send waits in
// libuv's queue) or kept by a caller keeps its bytes. One ArrayBuffer per ~170
// packets of 1500 octets instead of one per 5 from Node's 8 KiB Buffer pool
// (Buffer.allocUnsafe). The caller writes every octet of what it gets, as it did
// with Buffer.allocUnsafe; a kept packet keeps its slab alive.
//
// A fresh slab still costs: V8 zeroes 256 KiB and the kernel faults its pages in on
// first touch, ~0.2-0.6 µs per 1400-octet packet measured here (issue 16, third pass),
// and the collector has to find the old ones. A caller that knows no packet outlives
// its batch (the TUN gateway: its sends went out synchronously, its TUN writes are
// synchronous) opens a scratch scope around the batch: inside it packets come from
// one scratch arena that is reused from its start by the next scope. If something
// did keep a packet (a send waits in libuv's queue), the caller says so when it ends
// the scope and the arena is abandoned to its holders; the next scope gets a new one.

const SLAB_BYTES = 256 * 1024;
let slab = new ArrayBuffer(SLAB_BYTES);
let slabAt = 0;

/** The scratch arena: one batch of 256 packets of 1500 octets fits; a larger batch continues on slabs. */
const SCRATCH_BYTES = 512 * 1024;
let scratch = new ArrayBuffer(SCRATCH_BYTES);
let scratchAt = 0;
/** Open scratch scopes (a scope inside a scope shares the outer one's arena). */
let scratchDepth = 0;
/** A scope of the current nesting kept a packet. */
let scratchKept = false;

/** `n` octets for a packet (not zeroed: the caller writes them all). */
export function packetBuffer(n: number): Buffer {
  if (n > SLAB_BYTES >> 2) return Buffer.allocUnsafe(n);
  if (scratchDepth > 0 && scratchAt + n <= SCRATCH_BYTES) {
    const b = Buffer.from(scratch, scratchAt, n);
    scratchAt += (n + 7) & ~7;
    return b;
  }
  if (slabAt + n > SLAB_BYTES) {
    slab = new ArrayBuffer(SLAB_BYTES);
    slabAt = 0;
  }
  const b = Buffer.from(slab, slabAt, n);
  slabAt += (n + 7) & ~7; // 8-octet aligned, as the TUN reader's views
  return b;
}

/**
 * Start a scratch scope: until endScratch(), packetBuffer() reuses the scratch arena
 * from its start, overwriting what earlier scopes got. Only for a caller that drops
 * every packet of the scope before it ends (see the top of this file). Synchronous:
 * nothing else runs on this thread in between.
 */
export function beginScratch(): void {
  if (scratchDepth++ === 0) scratchAt = 0;
}

/** End the scratch scope; `kept`: a packet of this scope is still referenced (a queued send), so the arena is left to it. */
export function endScratch(kept: boolean): void {
  if (kept) scratchKept = true;
  if (--scratchDepth > 0) return;
  if (scratchKept && scratchAt > 0) scratch = new ArrayBuffer(SCRATCH_BYTES);
  scratchKept = false;
  scratchAt = 0;
}
