// UDP header (RFC 768; IPv6 checksum rules from RFC 8200 §8.1).

import { PROTO_UDP } from '../common/protocols.js';
import { type PseudoHeader, upperLayerChecksum } from './checksum.js';
import { availableFrom, badField, readU16, requireRange, requireRoom, tooShort, writeU16 } from './field.js';
import * as W from '../../assembly/wire-defs.js';

export const UDP_HEADER_LEN = W.UDP_HEADER;

export const UdpField = {
  SRC_PORT: 0,
  DST_PORT: 2,
  LENGTH: W.UDP_LENGTH,
  CHECKSUM: 6,
} as const;

/** A checked view of a UDP datagram, bounded by its own length field. */
export class UdpDatagram {
  private constructor(readonly bytes: Uint8Array, readonly offset: number) {}

  /** Accepts the view only if the header is present and the length field fits the bytes. */
  static check(bytes: Uint8Array, offset = 0): UdpDatagram {
    const available = availableFrom('UDP header', bytes, offset);
    if (available < UDP_HEADER_LEN) throw tooShort('UDP header', UDP_HEADER_LEN, available);
    const length = readU16(bytes, offset + UdpField.LENGTH);
    if (length < UDP_HEADER_LEN) throw badField('UDP header', 'length', length, 'must be at least 8');
    if (length > available) throw tooShort('UDP datagram (length field)', length, available);
    return new UdpDatagram(bytes, offset);
  }

  get srcPort(): number { return readU16(this.bytes, this.offset + UdpField.SRC_PORT); }
  get dstPort(): number { return readU16(this.bytes, this.offset + UdpField.DST_PORT); }
  /** Header plus payload, from the length field. */
  get length(): number { return readU16(this.bytes, this.offset + UdpField.LENGTH); }
  get checksum(): number { return readU16(this.bytes, this.offset + UdpField.CHECKSUM); }
  get payload(): Uint8Array { return this.bytes.subarray(this.offset + UDP_HEADER_LEN, this.offset + this.length); }
  get datagram(): Uint8Array { return this.bytes.subarray(this.offset, this.offset + this.length); }

  /**
   * Over IPv4 a zero checksum means "not computed" and is accepted; over IPv6 the
   * checksum is mandatory, so zero fails (RFC 6935's tunnel exception aside).
   */
  verifyChecksum(pseudo: PseudoHeader): boolean {
    if (this.checksum === 0) return pseudo.src.length === 4;
    return upperLayerChecksum(pseudo, PROTO_UDP, this.datagram) === 0;
  }
}

export interface UdpRepr {
  srcPort: number;
  dstPort: number;
  payload?: Uint8Array;
}

/** Write header and payload at `offset` with the checksum over `pseudo`. Returns the bytes written. */
export function emitUdp(repr: UdpRepr, buffer: Uint8Array, offset: number, pseudo: PseudoHeader): number {
  const payload = repr.payload ?? new Uint8Array(0);
  const length = UDP_HEADER_LEN + payload.length;
  if (length > 0xffff) throw badField('UDP header', 'length', length, 'must fit in 16 bits');
  requireRoom('UDP datagram', buffer, offset, length);
  writeU16(buffer, offset + UdpField.SRC_PORT, requireRange('srcPort', repr.srcPort, 0, 0xffff));
  writeU16(buffer, offset + UdpField.DST_PORT, requireRange('dstPort', repr.dstPort, 0, 0xffff));
  writeU16(buffer, offset + UdpField.LENGTH, length);
  writeU16(buffer, offset + UdpField.CHECKSUM, 0);
  buffer.set(payload, offset + UDP_HEADER_LEN);
  const checksum = upperLayerChecksum(pseudo, PROTO_UDP, buffer.subarray(offset, offset + length));
  // A computed 0 is sent as 0xffff: 0 on the wire would mean "no checksum".
  writeU16(buffer, offset + UdpField.CHECKSUM, checksum === 0 ? 0xffff : checksum);
  return length;
}
