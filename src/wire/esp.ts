// ESP header (RFC 4303 §2): SPI and sequence number. What follows (IV, encrypted
// payload, padding, trailer, ICV) depends on the SA and is opaque here.

import { availableFrom, readU32, requireRange, requireRoom, tooShort, writeU32 } from './field.js';
import * as W from '../../assembly/wire-defs.js';

export const ESP_HEADER_LEN = W.ESP_HEADER;

export const EspField = {
  SPI: 0,
  SEQUENCE: 4,
  PAYLOAD: 8,
} as const;

/** A checked view of an ESP packet; `bytes` from `offset` to the end are the packet. */
export class EspPacket {
  private constructor(readonly bytes: Uint8Array, readonly offset: number) {}

  static check(bytes: Uint8Array, offset = 0): EspPacket {
    const available = availableFrom('ESP header', bytes, offset);
    if (available < ESP_HEADER_LEN) throw tooShort('ESP header', ESP_HEADER_LEN, available);
    return new EspPacket(bytes, offset);
  }

  get spi(): number { return readU32(this.bytes, this.offset + EspField.SPI); }
  get sequenceNumber(): number { return readU32(this.bytes, this.offset + EspField.SEQUENCE); }
  /** Everything after the header: still encrypted, trailer and ICV included. */
  get payload(): Uint8Array { return this.bytes.subarray(this.offset + ESP_HEADER_LEN); }
}

export interface EspRepr {
  spi: number;
  sequenceNumber: number;
  payload?: Uint8Array;
}

/** Write the header and the (already protected) payload. Returns the bytes written. */
export function emitEsp(repr: EspRepr, buffer: Uint8Array, offset = 0): number {
  const payload = repr.payload ?? new Uint8Array(0);
  const length = ESP_HEADER_LEN + payload.length;
  requireRoom('ESP packet', buffer, offset, length);
  writeU32(buffer, offset + EspField.SPI, requireRange('spi', repr.spi, 0, 0xffffffff));
  writeU32(buffer, offset + EspField.SEQUENCE, requireRange('sequenceNumber', repr.sequenceNumber, 0, 0xffffffff));
  buffer.set(payload, offset + ESP_HEADER_LEN);
  return length;
}
