// Authentication Header (RFC 4302 §2): next header, payload length, reserved,
// SPI, sequence number and the ICV, whose length the payload length gives.

import { availableFrom, badField, readU16, readU32, requireRange, requireRoom, tooShort, writeU16, writeU32 } from './field.js';
import * as W from '../../assembly/wire-defs.js';

/** The fixed part, before the ICV. */
export const AH_FIXED_LEN = W.AH_FIXED_HEADER;

export const AhField = {
  NEXT_HEADER: 0,
  PAYLOAD_LEN: 1,
  RESERVED: 2,
  SPI: 4,
  SEQUENCE: 8,
  ICV: 12,
} as const;

/** A checked view of an AH header followed by the protected payload. */
export class AhHeader {
  private constructor(readonly bytes: Uint8Array, readonly offset: number) {}

  /** Accepts the view only if the fixed part and the ICV the length field announces are present. */
  static check(bytes: Uint8Array, offset = 0): AhHeader {
    const available = availableFrom('AH header', bytes, offset);
    if (available < AH_FIXED_LEN) throw tooShort('AH header', AH_FIXED_LEN, available);
    const payloadLength = bytes[offset + AhField.PAYLOAD_LEN];
    const headerLength = (payloadLength + 2) * 4;
    if (headerLength < AH_FIXED_LEN) throw badField('AH header', 'payload length', payloadLength, 'must be at least 1 (12 bytes)');
    if (headerLength > available) throw tooShort('AH header with ICV (payload length)', headerLength, available);
    return new AhHeader(bytes, offset);
  }

  get nextHeader(): number { return this.bytes[this.offset + AhField.NEXT_HEADER]; }
  /** The raw field: header length in 32-bit words minus 2. */
  get payloadLength(): number { return this.bytes[this.offset + AhField.PAYLOAD_LEN]; }
  /** Whole header length in bytes, ICV included. */
  get headerLength(): number { return (this.payloadLength + 2) * 4; }
  get reserved(): number { return readU16(this.bytes, this.offset + AhField.RESERVED); }
  get spi(): number { return readU32(this.bytes, this.offset + AhField.SPI); }
  get sequenceNumber(): number { return readU32(this.bytes, this.offset + AhField.SEQUENCE); }
  get icv(): Uint8Array { return this.bytes.subarray(this.offset + AH_FIXED_LEN, this.offset + this.headerLength); }
  /** The protected payload after the header. */
  get payload(): Uint8Array { return this.bytes.subarray(this.offset + this.headerLength); }
}

export interface AhRepr {
  nextHeader: number;
  spi: number;
  sequenceNumber: number;
  /**
   * The ICV; 12 + its length must be a multiple of 4 (of 8 when AH is carried in
   * IPv6, RFC 4302 §2.2 — the caller knows the family, this function does not).
   */
  icv: Uint8Array;
}

/** Write the header and ICV (the payload is the caller's). Returns the header length. */
export function emitAh(repr: AhRepr, buffer: Uint8Array, offset = 0): number {
  const headerLength = AH_FIXED_LEN + repr.icv.length;
  if (headerLength % 4 !== 0 || headerLength > (255 + 2) * 4) {
    throw badField('AH header', 'ICV length', repr.icv.length, 'must make the header a multiple of 4 bytes, at most 1028');
  }
  requireRoom('AH header', buffer, offset, headerLength);
  buffer[offset + AhField.NEXT_HEADER] = requireRange('nextHeader', repr.nextHeader, 0, 255);
  buffer[offset + AhField.PAYLOAD_LEN] = headerLength / 4 - 2;
  writeU16(buffer, offset + AhField.RESERVED, 0);
  writeU32(buffer, offset + AhField.SPI, requireRange('spi', repr.spi, 0, 0xffffffff));
  writeU32(buffer, offset + AhField.SEQUENCE, requireRange('sequenceNumber', repr.sequenceNumber, 0, 0xffffffff));
  buffer.set(repr.icv, offset + AH_FIXED_LEN);
  return headerLength;
}
