// A plain reference for the anti-replay window (R19), written from the RFC's
// definitions rather than from the engine's ring bitmap: a set of the sequence
// numbers accepted, the highest one, and ESN inference as "the one value in the
// window's 2^32-wide span whose low bits are on the wire" (RFC 4303 Appendix A2.2).
// The differential test runs it next to the engine over random sequences.

import type { ReasonName } from '../engine/types.js';

const SPAN = 2n ** 32n;

export class ReferenceReplayWindow {
  private top = 0n;
  private readonly seen = new Set<bigint>();

  constructor(readonly window: number, readonly esn: boolean) {}

  /** The full sequence number for the 32 wire bits, or null when it lies below every window. */
  infer(seql: number): bigint | null {
    if (!this.esn) return BigInt(seql);
    const bottom = this.top - BigInt(this.window) + 1n; // may be <= 0 early on
    const seq = bottom + ((((BigInt(seql) - bottom) % SPAN) + SPAN) % SPAN);
    return seq <= 0n ? null : seq;
  }

  check(seql: number): { ok: boolean; reason: ReasonName | null; seq: bigint | null } {
    const seq = this.infer(seql);
    if (seq === null || seq === 0n) return { ok: false, reason: 'replay-too-old', seq };
    if (seq > this.top) return { ok: true, reason: null, seq };
    if (this.top - seq >= BigInt(this.window)) return { ok: false, reason: 'replay-too-old', seq };
    if (this.seen.has(seq)) return { ok: false, reason: 'replayed', seq };
    return { ok: true, reason: null, seq };
  }

  accept(seql: number): { ok: boolean; reason: ReasonName | null; seq: bigint | null } {
    const r = this.check(seql);
    if (!r.ok) return r;
    const seq = r.seq!;
    this.seen.add(seq);
    if (seq > this.top) {
      this.top = seq;
      const floor = seq - BigInt(this.window);
      for (const s of this.seen) if (s <= floor) this.seen.delete(s);
    }
    return r;
  }
}
