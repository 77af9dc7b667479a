// Packets the ESP stage makes (outbound ESP, inbound inner packets from libsodium)
// are carved one after another from slabs (issue 16): a full slab is replaced, never
// reused, so a packet handed to a socket (which keeps it while a send waits in
// libuv's queue) or kept by a caller keeps its bytes. One ArrayBuffer per ~170
// packets of 1500 octets instead of one per 5 from Node's 8 KiB Buffer pool
// (Buffer.allocUnsafe). The caller writes every octet of what it gets, as it did
// with Buffer.allocUnsafe; a kept packet keeps its slab alive.

const SLAB_BYTES = 256 * 1024;
let slab = new ArrayBuffer(SLAB_BYTES);
let slabAt = 0;

/** `n` octets for a packet (not zeroed: the caller writes them all). */
export function packetBuffer(n: number): Buffer {
  if (n > SLAB_BYTES >> 2) return Buffer.allocUnsafe(n);
  if (slabAt + n > SLAB_BYTES) {
    slab = new ArrayBuffer(SLAB_BYTES);
    slabAt = 0;
  }
  const b = Buffer.from(slab, slabAt, n);
  slabAt += (n + 7) & ~7; // 8-octet aligned, as the TUN reader's views
  return b;
}
