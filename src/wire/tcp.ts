// TCP header (RFC 9293 §3.1).

import { PROTO_TCP } from '../common/protocols.js';
import { type PseudoHeader, upperLayerChecksum } from './checksum.js';
import { availableFrom, badField, readU16, readU32, requireRange, requireRoom, tooShort, writeU16, writeU32 } from './field.js';
import * as W from '../../assembly/wire-defs.js';

export const TCP_MIN_HEADER_LEN = W.TCP_MIN_HEADER;

export const TcpField = {
  SRC_PORT: 0,
  DST_PORT: 2,
  SEQ_NUM: 4,
  ACK_NUM: 8,
  DATA_OFFSET: 12,
  FLAGS: 13,
  WINDOW: 14,
  CHECKSUM: 16,
  URGENT: 18,
  OPTIONS: 20,
} as const;

export const TcpFlag = {
  FIN: 0x01,
  SYN: 0x02,
  RST: 0x04,
  PSH: 0x08,
  ACK: 0x10,
  URG: 0x20,
  ECE: 0x40,
  CWR: 0x80,
} as const;

/** A checked view of a TCP segment: `bytes` from `offset` to the end are the segment. */
export class TcpSegment {
  private constructor(readonly bytes: Uint8Array, readonly offset: number) {}

  /** Accepts the view only if the header and its options (data offset × 4) are present. */
  static check(bytes: Uint8Array, offset = 0): TcpSegment {
    const available = availableFrom('TCP header', bytes, offset);
    if (available < TCP_MIN_HEADER_LEN) throw tooShort('TCP header', TCP_MIN_HEADER_LEN, available);
    const dataOffset = bytes[offset + TcpField.DATA_OFFSET] >> 4;
    if (dataOffset < 5) throw badField('TCP header', 'data offset', dataOffset, 'must be at least 5 (20 bytes)');
    if (dataOffset * 4 > available) throw tooShort('TCP header with options', dataOffset * 4, available);
    return new TcpSegment(bytes, offset);
  }

  get srcPort(): number { return readU16(this.bytes, this.offset + TcpField.SRC_PORT); }
  get dstPort(): number { return readU16(this.bytes, this.offset + TcpField.DST_PORT); }
  get seqNumber(): number { return readU32(this.bytes, this.offset + TcpField.SEQ_NUM); }
  get ackNumber(): number { return readU32(this.bytes, this.offset + TcpField.ACK_NUM); }
  /** Header length in bytes (data offset × 4). */
  get headerLength(): number { return (this.bytes[this.offset + TcpField.DATA_OFFSET] >> 4) * 4; }
  /** The eight flag bits (CWR..FIN); test with TcpFlag. */
  get flags(): number { return this.bytes[this.offset + TcpField.FLAGS]; }
  get window(): number { return readU16(this.bytes, this.offset + TcpField.WINDOW); }
  get checksum(): number { return readU16(this.bytes, this.offset + TcpField.CHECKSUM); }
  get urgentPointer(): number { return readU16(this.bytes, this.offset + TcpField.URGENT); }
  get options(): Uint8Array { return this.bytes.subarray(this.offset + TcpField.OPTIONS, this.offset + this.headerLength); }
  get payload(): Uint8Array { return this.bytes.subarray(this.offset + this.headerLength); }
  /** Header and payload: everything the checksum covers besides the pseudo-header. */
  get segment(): Uint8Array { return this.bytes.subarray(this.offset); }

  verifyChecksum(pseudo: PseudoHeader): boolean {
    return upperLayerChecksum(pseudo, PROTO_TCP, this.segment) === 0;
  }
}

export interface TcpRepr {
  srcPort: number;
  dstPort: number;
  seqNumber?: number;
  ackNumber?: number;
  /** TcpFlag bits; default ACK. */
  flags?: number;
  window?: number;
  urgentPointer?: number;
  payload?: Uint8Array;
}

/**
 * Write a 20-byte header (no options) and the payload at `offset`, with the
 * checksum over `pseudo`. Returns the bytes written.
 */
export function emitTcp(repr: TcpRepr, buffer: Uint8Array, offset: number, pseudo: PseudoHeader): number {
  const payload = repr.payload ?? new Uint8Array(0);
  const length = TCP_MIN_HEADER_LEN + payload.length;
  requireRoom('TCP segment', buffer, offset, length);
  const b = buffer;
  writeU16(b, offset + TcpField.SRC_PORT, requireRange('srcPort', repr.srcPort, 0, 0xffff));
  writeU16(b, offset + TcpField.DST_PORT, requireRange('dstPort', repr.dstPort, 0, 0xffff));
  writeU32(b, offset + TcpField.SEQ_NUM, requireRange('seqNumber', repr.seqNumber ?? 0, 0, 0xffffffff));
  writeU32(b, offset + TcpField.ACK_NUM, requireRange('ackNumber', repr.ackNumber ?? 0, 0, 0xffffffff));
  b[offset + TcpField.DATA_OFFSET] = (TCP_MIN_HEADER_LEN / 4) << 4;
  b[offset + TcpField.FLAGS] = requireRange('flags', repr.flags ?? TcpFlag.ACK, 0, 0xff);
  writeU16(b, offset + TcpField.WINDOW, requireRange('window', repr.window ?? 0xffff, 0, 0xffff));
  writeU16(b, offset + TcpField.CHECKSUM, 0);
  writeU16(b, offset + TcpField.URGENT, requireRange('urgentPointer', repr.urgentPointer ?? 0, 0, 0xffff));
  b.set(payload, offset + TCP_MIN_HEADER_LEN);
  const checksum = upperLayerChecksum(pseudo, PROTO_TCP, b.subarray(offset, offset + length));
  writeU16(b, offset + TcpField.CHECKSUM, checksum);
  return length;
}
