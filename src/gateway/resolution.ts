// The resolution queue (docs/design.md R9): packets whose SA is being negotiated wait
// here, per larval SA, in arrival order. Two bounds keep memory fixed however hard
// the flood: packets per larval SA and bytes over all queues. A packet over either
// bound is refused (tail drop) and the caller counts it with its reason.
//
// Queued bytes are counted as the packet's length plus PACKET_OVERHEAD, what one
// held packet costs in the JS heap beyond its bytes (its own Uint8Array and
// ArrayBuffer, the record, the array slot: measured on Node 20 as ~250 bytes, see
// docs/performance.md), so that the bound is on memory actually used and a flood of
// tiny packets is bounded as well as a flood of large ones.

import * as L from '../../assembly/layout.js';

export const PACKET_OVERHEAD = 256;

export interface QueuedPacket {
  data: Uint8Array;
  /** Engine time (ms) at which the packet was first queued. */
  queuedAt: number;
}

export interface QueueLimits {
  /** Packets per larval SA. */
  packets: number;
  /** Bytes over all queues (packet bytes + PACKET_OVERHEAD each). */
  bytes: number;
}

export class ResolutionQueue {
  readonly limits: Readonly<QueueLimits>;
  private readonly queues = new Map<number, QueuedPacket[]>();
  private held = 0;
  private heldBytes = 0;
  private peakBytes = 0;

  constructor(limits: QueueLimits) {
    this.limits = Object.freeze({ ...limits });
  }

  /** Hold a packet for larval SA `larvalId`. Returns 0 when held, or the Reason it was refused. */
  enqueue(larvalId: number, data: Uint8Array, queuedAt: number): number {
    let q = this.queues.get(larvalId);
    if (q !== undefined && q.length >= this.limits.packets) return L.Reason.QueueFull;
    const cost = data.length + PACKET_OVERHEAD;
    if (this.heldBytes + cost > this.limits.bytes) return L.Reason.QueueBytes;
    if (q === undefined) {
      q = [];
      this.queues.set(larvalId, q);
    }
    q.push({ data, queuedAt });
    this.held++;
    this.heldBytes += cost;
    if (this.heldBytes > this.peakBytes) this.peakBytes = this.heldBytes;
    return 0;
  }

  /** Remove and return a larval SA's packets, oldest first. */
  take(larvalId: number): QueuedPacket[] {
    const q = this.queues.get(larvalId);
    if (q === undefined) return [];
    this.queues.delete(larvalId);
    this.held -= q.length;
    for (const p of q) this.heldBytes -= p.data.length + PACKET_OVERHEAD;
    return q;
  }

  stats(): { packets: number; bytes: number; peakBytes: number; queues: number; maxPacketsPerQueue: number; maxBytes: number } {
    return {
      packets: this.held,
      bytes: this.heldBytes,
      peakBytes: this.peakBytes,
      queues: this.queues.size,
      maxPacketsPerQueue: this.limits.packets,
      maxBytes: this.limits.bytes,
    };
  }
}
