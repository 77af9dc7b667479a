// What the batch API takes: packets as separate byte arrays, or laid out in one
// buffer with offsets and lengths (PacketBuffer), as a capture reader or a ring
// holds them. Below the engine and its verdicts so that both can use them.

/** A packet for the batch API: bytes, or bytes cut short by a capture with their length on the wire. */
export type PacketInput = Uint8Array | { data: Uint8Array; wireLength?: number };

/**
 * Packets laid out one after another in one buffer (a capture read buffer, a ring):
 * packet i is data[offsets[i], offsets[i] + lengths[i]). Offsets must not decrease.
 * The engine copies each batch's byte range with one copy instead of one per packet.
 */
export interface PacketBuffer {
  data: Uint8Array;
  offsets: ArrayLike<number>;
  lengths: ArrayLike<number>;
  /** Lengths on the wire, where a capture cut packets short. Default: lengths. */
  wireLengths?: ArrayLike<number>;
  /** Packets to take from the start of offsets/lengths. Default: offsets.length. */
  count?: number;
}

export function isPacketBuffer(x: unknown): x is PacketBuffer {
  return typeof x === 'object' && x !== null && !Array.isArray(x) && (x as PacketBuffer).data instanceof Uint8Array && 'offsets' in x;
}

/**
 * Lay packets out one after another in one buffer, as a capture reader or a ring
 * would hold them, leaving `gap` bytes before each (a capture's record header).
 */
export function packetBuffer(packets: readonly Uint8Array[], gap = 0): { data: Uint8Array; offsets: Uint32Array; lengths: Uint32Array } {
  const offsets = new Uint32Array(packets.length);
  const lengths = new Uint32Array(packets.length);
  let size = 0;
  packets.forEach((p, i) => {
    size += gap;
    offsets[i] = size;
    lengths[i] = p.length;
    size += p.length;
  });
  const data = new Uint8Array(size);
  packets.forEach((p, i) => data.set(p, offsets[i]));
  return { data, offsets, lengths };
}

/** Packet i of a batch, as a view (no copy). */
export function packetAt(packets: readonly PacketInput[] | PacketBuffer, i: number): Uint8Array {
  if (Array.isArray(packets)) {
    const p = (packets as readonly PacketInput[])[i];
    return p instanceof Uint8Array ? p : p.data;
  }
  const pb = packets as PacketBuffer;
  const o = pb.offsets[i];
  return pb.data.subarray(o, o + pb.lengths[i]);
}
