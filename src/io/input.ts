// What the format parsers share: a window on the file and the parser contract.

import type { RecordBatch } from './batch.js';
import { CaptureError, type CaptureErrorCode } from './capture-error.js';

/** Longest captured length accepted (libpcap's MAXIMUM_SNAPLEN, 256 KiB). */
export const MAX_CAPLEN = 262_144;

/**
 * The bytes a parser sees: buf[pos, end) are read but not yet parsed, and buf[0]
 * is byte `base` of the file. eof: nothing follows buf[end - 1].
 */
export class Input {
  buf: Uint8Array;
  dv: DataView;
  pos = 0;
  end = 0;
  base = 0;
  eof = false;

  constructor(readonly file: string, buf: Uint8Array) {
    this.buf = buf;
    this.dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  setBuffer(buf: Uint8Array): void {
    this.buf = buf;
    this.dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  error(code: CaptureErrorCode, record: number, at: number, reason: string): CaptureError {
    return new CaptureError(code, this.file, record, this.base + at, reason);
  }
}

/** Per-interface facts, as the reader learnt them from the file. */
export interface InterfaceInfo {
  /** pcapng section (0 for pcap). */
  section: number;
  /** Interface id within the section (0 for pcap). */
  id: number;
  linkType: number;
  /** Snapshot length (0: no limit). */
  snapLen: number;
  /** if_name, when the IDB has one. */
  name: string | null;
  /** Timestamp units per second (if_tsresol; pcap: 10^6 or 10^9). */
  ticksPerSecond: bigint;
  /** if_tsoffset in seconds (0 when absent). */
  offsetSec: number;
  /** Whether larval can decode the interface's link type. */
  supported: boolean;
}

export interface CaptureInfo {
  format: 'pcap' | 'pcapng';
  /** Byte order of the file header (pcapng: of the most recent section header). */
  littleEndian: boolean;
  /** Format version, e.g. "2.4" (pcap) or "1.0" (pcapng, of the most recent section). */
  version: string;
  /** pcap: the magic was 0xa1b23c4d (nanosecond timestamps). pcapng: false. */
  nanoseconds: boolean;
  /** pcapng sections seen so far (pcap: 1). */
  sections: number;
  /** Every interface seen so far, in file order (pcap: the one the header describes). */
  interfaces: InterfaceInfo[];
}

/** A format parser over an Input. */
export interface Parser {
  /** Number of the next packet record. */
  readonly record: number;
  /**
   * Parses records into b (from b.count on, keeping b.count up to date) until b is
   * full (returns 0) or more input is needed: then returns how many bytes from
   * input.pos it needs, always more than input.end - input.pos, and never more than
   * the largest block a valid file may contain. Throws CaptureError.
   */
  fill(b: RecordBatch): number;
  /** Whether the file may end at input.pos. */
  atBoundary(): boolean;
  /** The error for a file that ends at input.end while need bytes were wanted from input.pos. */
  truncated(need: number): CaptureError;
  info(): CaptureInfo;
}
