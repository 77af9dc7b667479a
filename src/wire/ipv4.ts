// IPv4 header (RFC 791).

import { formatAddress } from '../common/addr.js';
import { internetChecksum, onesComplementSum } from './checksum.js';
import {
  addressBytes, addressWords, availableFrom, badField, readU16, requireRange, requireRoom, tooShort, writeU16,
} from './field.js';
import * as W from '../../assembly/wire-defs.js';

export const IPV4_MIN_HEADER_LEN = W.IPV4_MIN_HEADER;
export const IPV4_MAX_HEADER_LEN = W.IPV4_MAX_HEADER;
export const IPV4_MAX_TOTAL_LEN = 0xffff;

/** Byte offsets of the fixed header's fields. */
export const Ipv4Field = {
  VER_IHL: W.IPV4_VER_IHL,
  DSCP_ECN: 1,
  TOTAL_LEN: W.IPV4_TOTAL_LEN,
  IDENT: 4,
  FLAGS_FRAG: W.IPV4_FLAGS_FRAG,
  TTL: 8,
  PROTOCOL: W.IPV4_PROTOCOL,
  CHECKSUM: 10,
  SRC_ADDR: W.IPV4_SRC,
  DST_ADDR: W.IPV4_DST,
  OPTIONS: W.IPV4_MIN_HEADER,
} as const;

const FLAG_DF = W.IPV4_FLAG_DF;
const FLAG_MF = W.IPV4_FLAG_MF;
const FRAG_OFFSET_MASK = W.IPV4_FRAG_OFFSET_MASK;
const OPTION_NOP = 0x01;

/** A checked view of an IPv4 datagram: header and payload up to the total length. */
export class Ipv4Packet {
  private constructor(readonly bytes: Uint8Array, readonly offset: number) {}

  /**
   * Accepts the view only if the header, its options and the whole datagram (the
   * total length) are present, so that no accessor can read past the bytes.
   */
  static check(bytes: Uint8Array, offset = 0): Ipv4Packet {
    const available = availableFrom('IPv4 header', bytes, offset);
    if (available < IPV4_MIN_HEADER_LEN) throw tooShort('IPv4 header', IPV4_MIN_HEADER_LEN, available);
    const version = bytes[offset] >> 4;
    if (version !== 4) throw badField('IPv4 header', 'version', version, 'must be 4');
    const headerLength = (bytes[offset] & 0x0f) * 4;
    if (headerLength < IPV4_MIN_HEADER_LEN) throw badField('IPv4 header', 'IHL', headerLength / 4, 'must be at least 5 (20 bytes)');
    if (headerLength > available) throw tooShort('IPv4 header with options', headerLength, available);
    const totalLength = readU16(bytes, offset + Ipv4Field.TOTAL_LEN);
    if (totalLength < headerLength) {
      throw badField('IPv4 header', 'total length', totalLength, `is shorter than the ${headerLength}-byte header`);
    }
    if (totalLength > available) throw tooShort('IPv4 datagram (total length)', totalLength, available);
    return new Ipv4Packet(bytes, offset);
  }

  get version(): number { return this.bytes[this.offset] >> 4; }
  /** Header length in bytes (IHL × 4). */
  get headerLength(): number { return (this.bytes[this.offset] & 0x0f) * 4; }
  get dscp(): number { return this.bytes[this.offset + Ipv4Field.DSCP_ECN] >> 2; }
  get ecn(): number { return this.bytes[this.offset + Ipv4Field.DSCP_ECN] & 0x03; }
  get totalLength(): number { return readU16(this.bytes, this.offset + Ipv4Field.TOTAL_LEN); }
  get identification(): number { return readU16(this.bytes, this.offset + Ipv4Field.IDENT); }
  get dontFragment(): boolean { return (readU16(this.bytes, this.offset + Ipv4Field.FLAGS_FRAG) & FLAG_DF) !== 0; }
  get moreFragments(): boolean { return (readU16(this.bytes, this.offset + Ipv4Field.FLAGS_FRAG) & FLAG_MF) !== 0; }
  /** Fragment offset in bytes (the field counts 8-byte units). */
  get fragmentOffset(): number { return (readU16(this.bytes, this.offset + Ipv4Field.FLAGS_FRAG) & FRAG_OFFSET_MASK) * 8; }
  /** A fragment that does not start the datagram carries no upper-layer header. */
  get isNonFirstFragment(): boolean { return this.fragmentOffset !== 0; }
  get ttl(): number { return this.bytes[this.offset + Ipv4Field.TTL]; }
  get protocol(): number { return this.bytes[this.offset + Ipv4Field.PROTOCOL]; }
  get checksum(): number { return readU16(this.bytes, this.offset + Ipv4Field.CHECKSUM); }
  /** The four source address bytes (a view, not a copy). */
  get srcAddress(): Uint8Array { return this.bytes.subarray(this.offset + Ipv4Field.SRC_ADDR, this.offset + Ipv4Field.SRC_ADDR + 4); }
  get dstAddress(): Uint8Array { return this.bytes.subarray(this.offset + Ipv4Field.DST_ADDR, this.offset + Ipv4Field.DST_ADDR + 4); }
  get src(): string { return formatAddress(4, addressWords(this.srcAddress)); }
  get dst(): string { return formatAddress(4, addressWords(this.dstAddress)); }
  get options(): Uint8Array { return this.bytes.subarray(this.offset + Ipv4Field.OPTIONS, this.offset + this.headerLength); }
  /** The payload up to the total length; bytes after it (link padding) are excluded. */
  get payload(): Uint8Array { return this.bytes.subarray(this.offset + this.headerLength, this.offset + this.totalLength); }
  /** Offset of the payload within `bytes`. */
  get payloadOffset(): number { return this.offset + this.headerLength; }

  /** True when the stored header checksum is correct. */
  verifyChecksum(): boolean {
    return onesComplementSum(this.bytes, this.offset, this.headerLength) === 0xffff;
  }

  /** Recompute the header checksum in place (after a field was changed). */
  fillChecksum(): void {
    fillIpv4Checksum(this.bytes, this.offset);
  }
}

/** What an IPv4 header says, independent of its encoding. */
export interface Ipv4Repr {
  src: string | Uint8Array;
  dst: string | Uint8Array;
  protocol: number;
  /** Bytes after the header (options included in the header, not here). */
  payloadLength: number;
  ttl?: number;
  identification?: number;
  dscp?: number;
  ecn?: number;
  dontFragment?: boolean;
  moreFragments?: boolean;
  /** Fragment offset in bytes: a multiple of 8, at most 65528. */
  fragmentOffset?: number;
  /** Extra 32-bit option words (0..10), filled with NOP options. */
  optionWords?: number;
}

export function ipv4HeaderLength(repr: Pick<Ipv4Repr, 'optionWords'>): number {
  return IPV4_MIN_HEADER_LEN + 4 * requireRange('optionWords', repr.optionWords ?? 0, 0, 10);
}

/**
 * Write the header (options and checksum included) at `offset`; the payload is the
 * caller's to write after it. Returns the header length. The buffer must have room
 * for the whole datagram, because the total length field promises it.
 */
export function emitIpv4(repr: Ipv4Repr, buffer: Uint8Array, offset = 0): number {
  const headerLength = ipv4HeaderLength(repr);
  const payloadLength = requireRange('payloadLength', repr.payloadLength, 0, IPV4_MAX_TOTAL_LEN - headerLength);
  const protocol = requireRange('protocol', repr.protocol, 0, 255);
  const ttl = requireRange('ttl', repr.ttl ?? 64, 0, 255);
  const identification = requireRange('identification', repr.identification ?? 0, 0, 0xffff);
  const dscp = requireRange('dscp', repr.dscp ?? 0, 0, 63);
  const ecn = requireRange('ecn', repr.ecn ?? 0, 0, 3);
  const fragmentOffset = requireRange('fragmentOffset', repr.fragmentOffset ?? 0, 0, FRAG_OFFSET_MASK * 8);
  if (fragmentOffset % 8 !== 0) throw badField('IPv4 header', 'fragment offset', fragmentOffset, 'must be a multiple of 8 bytes');
  const src = addressBytes(repr.src, 4, 'src');
  const dst = addressBytes(repr.dst, 4, 'dst');
  const totalLength = headerLength + payloadLength;
  requireRoom('IPv4 datagram', buffer, offset, totalLength);

  const b = buffer;
  b[offset + Ipv4Field.VER_IHL] = 0x40 | (headerLength / 4);
  b[offset + Ipv4Field.DSCP_ECN] = (dscp << 2) | ecn;
  writeU16(b, offset + Ipv4Field.TOTAL_LEN, totalLength);
  writeU16(b, offset + Ipv4Field.IDENT, identification);
  const flags = (repr.dontFragment ? FLAG_DF : 0) | (repr.moreFragments ? FLAG_MF : 0);
  writeU16(b, offset + Ipv4Field.FLAGS_FRAG, flags | (fragmentOffset / 8));
  b[offset + Ipv4Field.TTL] = ttl;
  b[offset + Ipv4Field.PROTOCOL] = protocol;
  b.set(src, offset + Ipv4Field.SRC_ADDR);
  b.set(dst, offset + Ipv4Field.DST_ADDR);
  b.fill(OPTION_NOP, offset + Ipv4Field.OPTIONS, offset + headerLength);
  fillIpv4Checksum(b, offset);
  return headerLength;
}

function fillIpv4Checksum(bytes: Uint8Array, offset: number): void {
  const headerLength = (bytes[offset] & 0x0f) * 4;
  writeU16(bytes, offset + Ipv4Field.CHECKSUM, 0);
  writeU16(bytes, offset + Ipv4Field.CHECKSUM, internetChecksum(bytes, offset, headerLength));
}
