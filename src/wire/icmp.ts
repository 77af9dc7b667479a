// ICMPv4 (RFC 792) and ICMPv6 (RFC 4443) headers: type, code, checksum and four
// type-specific bytes. The layouts are identical; the checksums differ in that
// ICMPv6 covers an IPv6 pseudo-header and ICMPv4 does not.

import { PROTO_ICMPV6 } from '../common/protocols.js';
import { type PseudoHeader, internetChecksum, upperLayerChecksum } from './checksum.js';
import { availableFrom, readU16, readU32, requireRange, requireRoom, tooShort, writeU16, writeU32 } from './field.js';

export const ICMP_HEADER_LEN = 8;

export const IcmpField = {
  TYPE: 0,
  CODE: 1,
  CHECKSUM: 2,
  REST_OF_HEADER: 4,
  IDENTIFIER: 4,
  SEQUENCE: 6,
} as const;

export const ICMPV4_ECHO_REPLY = 0;
export const ICMPV4_ECHO_REQUEST = 8;
export const ICMPV6_ECHO_REQUEST = 128;
export const ICMPV6_ECHO_REPLY = 129;

abstract class IcmpHeaderView {
  protected constructor(readonly bytes: Uint8Array, readonly offset: number) {}

  protected static checkLength(header: string, bytes: Uint8Array, offset: number): void {
    const available = availableFrom(header, bytes, offset);
    if (available < ICMP_HEADER_LEN) throw tooShort(header, ICMP_HEADER_LEN, available);
  }

  get type(): number { return this.bytes[this.offset + IcmpField.TYPE]; }
  get code(): number { return this.bytes[this.offset + IcmpField.CODE]; }
  get checksum(): number { return readU16(this.bytes, this.offset + IcmpField.CHECKSUM); }
  /** The four type-specific bytes after the checksum, as one network-order word. */
  get restOfHeader(): number { return readU32(this.bytes, this.offset + IcmpField.REST_OF_HEADER); }
  /** Echo identifier (meaningful for echo request/reply only). */
  get identifier(): number { return readU16(this.bytes, this.offset + IcmpField.IDENTIFIER); }
  get sequenceNumber(): number { return readU16(this.bytes, this.offset + IcmpField.SEQUENCE); }
  get payload(): Uint8Array { return this.bytes.subarray(this.offset + ICMP_HEADER_LEN); }
  get message(): Uint8Array { return this.bytes.subarray(this.offset); }
}

/** A checked view of an ICMPv4 message; `bytes` from `offset` to the end are the message. */
export class Icmpv4Packet extends IcmpHeaderView {
  static check(bytes: Uint8Array, offset = 0): Icmpv4Packet {
    IcmpHeaderView.checkLength('ICMPv4 header', bytes, offset);
    return new Icmpv4Packet(bytes, offset);
  }

  verifyChecksum(): boolean {
    return internetChecksum(this.message) === 0;
  }
}

/** A checked view of an ICMPv6 message; `bytes` from `offset` to the end are the message. */
export class Icmpv6Packet extends IcmpHeaderView {
  static check(bytes: Uint8Array, offset = 0): Icmpv6Packet {
    IcmpHeaderView.checkLength('ICMPv6 header', bytes, offset);
    return new Icmpv6Packet(bytes, offset);
  }

  verifyChecksum(pseudo: PseudoHeader): boolean {
    return upperLayerChecksum(pseudo, PROTO_ICMPV6, this.message) === 0;
  }
}

export interface IcmpRepr {
  type: number;
  code: number;
  /** The four type-specific bytes as one word (echo: identifier << 16 | sequence). */
  restOfHeader?: number;
  payload?: Uint8Array;
}

function emitIcmpFields(repr: IcmpRepr, buffer: Uint8Array, offset: number): number {
  const payload = repr.payload ?? new Uint8Array(0);
  const length = ICMP_HEADER_LEN + payload.length;
  requireRoom('ICMP message', buffer, offset, length);
  buffer[offset + IcmpField.TYPE] = requireRange('type', repr.type, 0, 255);
  buffer[offset + IcmpField.CODE] = requireRange('code', repr.code, 0, 255);
  writeU16(buffer, offset + IcmpField.CHECKSUM, 0);
  writeU32(buffer, offset + IcmpField.REST_OF_HEADER, requireRange('restOfHeader', repr.restOfHeader ?? 0, 0, 0xffffffff));
  buffer.set(payload, offset + ICMP_HEADER_LEN);
  return length;
}

/** Write an ICMPv4 message with its checksum. Returns the bytes written. */
export function emitIcmpv4(repr: IcmpRepr, buffer: Uint8Array, offset = 0): number {
  const length = emitIcmpFields(repr, buffer, offset);
  writeU16(buffer, offset + IcmpField.CHECKSUM, internetChecksum(buffer, offset, length));
  return length;
}

/** Write an ICMPv6 message with its checksum over `pseudo`. Returns the bytes written. */
export function emitIcmpv6(repr: IcmpRepr, buffer: Uint8Array, offset: number, pseudo: PseudoHeader): number {
  const length = emitIcmpFields(repr, buffer, offset);
  writeU16(buffer, offset + IcmpField.CHECKSUM, upperLayerChecksum(pseudo, PROTO_ICMPV6, buffer.subarray(offset, offset + length)));
  return length;
}
