// Verdicts of a batch: one record per packet, in the engine's verdict layout,
// copied out of linear memory so they stay valid after the next engine call.
// Accessors read the records in place; get()/iteration build objects on demand.

import * as L from '../../assembly/layout.js';
import { REASON_NAMES, VERDICT_NAMES } from './codec.js';
import { invalid } from '../common/errors.js';
import type { ReasonName, VerdictName, VerdictRecord } from './types.js';

const WORDS = L.VR_SIZE / 4;

/** The verdicts of one batch, one per packet in order, read without allocating (verdict(i), reason(i), policyId(i), saId(i)). */
export class Verdicts implements Iterable<VerdictRecord> {
  readonly length: number;
  private readonly u8: Uint8Array;
  private readonly u32: Uint32Array;

  /** `records` holds length * VR_SIZE bytes, 4-byte aligned. */
  constructor(records: Uint8Array) {
    this.u8 = records;
    this.u32 = new Uint32Array(records.buffer, records.byteOffset, records.byteLength >>> 2);
    this.length = records.byteLength / L.VR_SIZE;
  }

  /** Packet i's verdict as its numeric code. */
  verdictCode(i: number): number { return this.u8[i * L.VR_SIZE + L.VR_VERDICT]; }
  /** Packet i's verdict. */
  verdict(i: number): VerdictName { return VERDICT_NAMES[this.verdictCode(i)]; }
  /** Packet i's reason as its numeric code. */
  reasonCode(i: number): number { return this.u8[i * L.VR_SIZE + L.VR_REASON]; }
  /** Why packet i got its verdict. */
  reason(i: number): ReasonName { return REASON_NAMES[this.reasonCode(i)]; }
  /** The policy that matched packet i (null for none). */
  policyId(i: number): number | null { return this.u32[i * WORDS + L.VR_POLICY / 4] || null; }
  /** The SA that protects packet i (null for none). */
  saId(i: number): number | null { return this.u32[i * WORDS + L.VR_SA / 4] || null; }
  /** The SPI of the SA that protects packet i (null for none). */
  spi(i: number): number | null { return this.u32[i * WORDS + L.VR_SPI / 4] || null; }
  /** The larval SA (= ACQUIRE sequence number) a packet without an SA waits for (R7). */
  larvalId(i: number): number | null { return this.u32[i * WORDS + L.VR_LARVAL / 4] || null; }
  /** Inbound ESP: the full sequence number (ESN inferred, R19); null otherwise. */
  seq(i: number): bigint | null {
    const lo = this.u32[i * WORDS + L.VR_SEQ / 4];
    const hi = this.u32[i * WORDS + L.VR_SEQ / 4 + 1];
    // Without ESN the high word is 0: one BigInt per call, not four (issue 16: per packet).
    if (hi === 0) return lo === 0 ? null : BigInt(lo);
    return (BigInt(hi) << 32n) | BigInt(lo);
  }
  /** Offset of the upper-layer header: where ESP goes in transport mode. */
  l4Offset(i: number): number { return this.u32[i * WORDS + L.VR_L4OFF / 4]; }

  /** Packet i's verdict as a plain object. */
  get(i: number): VerdictRecord {
    if (!Number.isInteger(i) || i < 0 || i >= this.length) throw invalid('index', i, `expected 0..${this.length - 1}`);
    const family = this.u8[i * L.VR_SIZE + L.VR_FAMILY];
    const malformed = this.verdictCode(i) === L.Verdict.Malformed;
    return {
      verdict: this.verdict(i),
      reason: this.reason(i),
      policyId: this.policyId(i),
      saId: this.saId(i),
      spi: this.spi(i),
      larvalId: this.larvalId(i),
      family: family === 4 || family === 6 ? family : null,
      proto: malformed ? null : this.u8[i * L.VR_SIZE + L.VR_PROTO],
    };
  }

  /**
   * Replace packet i's verdict: the resolution queue turns 'queued' into 'drop' when
   * its bounds refuse the packet (R9), so the record says what happened to it.
   */
  override(i: number, verdict: number, reason: number): void {
    this.u8[i * L.VR_SIZE + L.VR_VERDICT] = verdict;
    this.u8[i * L.VR_SIZE + L.VR_REASON] = reason;
  }

  /** Replace packet i's record with record j of `from` (the ESP stage: an outer packet takes its inner packet's verdict). */
  assign(i: number, from: Verdicts, j: number): void {
    this.u8.set(from.u8.subarray(j * L.VR_SIZE, (j + 1) * L.VR_SIZE), i * L.VR_SIZE);
  }

  /** Packets per verdict. */
  counts(): Record<VerdictName, number> {
    const out = Object.fromEntries(VERDICT_NAMES.map((v) => [v, 0])) as Record<VerdictName, number>;
    for (let i = 0; i < this.length; i++) out[this.verdict(i)]++;
    return out;
  }

  /** All verdicts as plain objects. */
  toArray(): VerdictRecord[] {
    return Array.from(this);
  }

  /** The verdicts as plain objects, in packet order. */
  *[Symbol.iterator](): Iterator<VerdictRecord> {
    for (let i = 0; i < this.length; i++) yield this.get(i);
  }
}

