// IPv6 header and extension headers (RFC 8200): hop-by-hop and destination
// options (§4.3, §4.6), routing (§4.4), fragment (§4.5).

import { formatAddress } from '../common/addr.js';
import {
  addressBytes, addressWords, availableFrom, badField, readU16, readU32, requireRange, requireRoom, tooShort, writeU16,
  writeU32,
} from './field.js';
import * as W from '../../assembly/wire-defs.js';

export const IPV6_HEADER_LEN = W.IPV6_HEADER;

export const Ipv6Field = {
  VER_TC_FLOW: 0,
  PAYLOAD_LEN: W.IPV6_PAYLOAD_LEN,
  NEXT_HEADER: W.IPV6_NEXT_HEADER,
  HOP_LIMIT: 7,
  SRC_ADDR: W.IPV6_SRC,
  DST_ADDR: W.IPV6_DST,
} as const;

/** Next-header values of the extension headers this module knows. */
export const Ipv6NextHeader = {
  HOP_BY_HOP: W.PROTO_HOPOPTS,
  ROUTING: W.PROTO_ROUTING,
  FRAGMENT: W.PROTO_FRAGMENT,
  NO_NEXT_HEADER: W.PROTO_NONE,
  DESTINATION: W.PROTO_DSTOPTS,
  MOBILITY: W.PROTO_MOBILITY,
  HIP: W.PROTO_HIP,
  SHIM6: W.PROTO_SHIM6,
} as const;

/**
 * Extension headers in the generic layout (next header, length in 8-octet units
 * beyond the first 8), which a walker can skip without understanding them.
 */
export function isGenericExtensionHeader(nextHeader: number): boolean {
  return nextHeader === Ipv6NextHeader.HOP_BY_HOP || nextHeader === Ipv6NextHeader.ROUTING
    || nextHeader === Ipv6NextHeader.DESTINATION || nextHeader === Ipv6NextHeader.MOBILITY
    || nextHeader === Ipv6NextHeader.HIP || nextHeader === Ipv6NextHeader.SHIM6;
}

/** A checked view of an IPv6 packet: the fixed header and the payload length it declares. */
export class Ipv6Packet {
  private constructor(readonly bytes: Uint8Array, readonly offset: number) {}

  /** Accepts the view only if the fixed header and the declared payload are present. */
  static check(bytes: Uint8Array, offset = 0): Ipv6Packet {
    const available = availableFrom('IPv6 header', bytes, offset);
    if (available < IPV6_HEADER_LEN) throw tooShort('IPv6 header', IPV6_HEADER_LEN, available);
    const version = bytes[offset] >> 4;
    if (version !== 6) throw badField('IPv6 header', 'version', version, 'must be 6');
    const total = IPV6_HEADER_LEN + readU16(bytes, offset + Ipv6Field.PAYLOAD_LEN);
    if (total > available) throw tooShort('IPv6 packet (40 + payload length)', total, available);
    return new Ipv6Packet(bytes, offset);
  }

  get version(): number { return this.bytes[this.offset] >> 4; }
  get trafficClass(): number { return (readU16(this.bytes, this.offset) >> 4) & 0xff; }
  get flowLabel(): number { return readU32(this.bytes, this.offset) & 0xfffff; }
  /**
   * Bytes after the fixed header. 0 either means an empty payload or, with a
   * hop-by-hop Jumbo Payload option (RFC 2675), a jumbogram; this view does not
   * support jumbograms, so it then sees an empty payload.
   */
  get payloadLength(): number { return readU16(this.bytes, this.offset + Ipv6Field.PAYLOAD_LEN); }
  get nextHeader(): number { return this.bytes[this.offset + Ipv6Field.NEXT_HEADER]; }
  get hopLimit(): number { return this.bytes[this.offset + Ipv6Field.HOP_LIMIT]; }
  get srcAddress(): Uint8Array { return this.bytes.subarray(this.offset + Ipv6Field.SRC_ADDR, this.offset + Ipv6Field.SRC_ADDR + 16); }
  get dstAddress(): Uint8Array { return this.bytes.subarray(this.offset + Ipv6Field.DST_ADDR, this.offset + Ipv6Field.DST_ADDR + 16); }
  get src(): string { return formatAddress(6, addressWords(this.srcAddress)); }
  get dst(): string { return formatAddress(6, addressWords(this.dstAddress)); }
  get payloadOffset(): number { return this.offset + IPV6_HEADER_LEN; }
  /** Extension headers and upper layer, up to the payload length. */
  get payload(): Uint8Array { return this.bytes.subarray(this.payloadOffset, this.end); }
  /** Offset just past the packet's declared end within `bytes`. */
  get end(): number { return this.payloadOffset + this.payloadLength; }
}

export interface Ipv6Repr {
  src: string | Uint8Array;
  dst: string | Uint8Array;
  nextHeader: number;
  /** Bytes after the fixed header: extension headers plus upper layer. */
  payloadLength: number;
  hopLimit?: number;
  trafficClass?: number;
  flowLabel?: number;
}

/** Write the 40-byte fixed header; the buffer must have room for the payload it declares. */
export function emitIpv6(repr: Ipv6Repr, buffer: Uint8Array, offset = 0): number {
  const payloadLength = requireRange('payloadLength', repr.payloadLength, 0, 0xffff);
  const nextHeader = requireRange('nextHeader', repr.nextHeader, 0, 255);
  const hopLimit = requireRange('hopLimit', repr.hopLimit ?? 64, 0, 255);
  const trafficClass = requireRange('trafficClass', repr.trafficClass ?? 0, 0, 255);
  const flowLabel = requireRange('flowLabel', repr.flowLabel ?? 0, 0, 0xfffff);
  const src = addressBytes(repr.src, 6, 'src');
  const dst = addressBytes(repr.dst, 6, 'dst');
  requireRoom('IPv6 packet', buffer, offset, IPV6_HEADER_LEN + payloadLength);
  writeU32(buffer, offset + Ipv6Field.VER_TC_FLOW, ((6 << 28) | (trafficClass << 20) | flowLabel) >>> 0);
  writeU16(buffer, offset + Ipv6Field.PAYLOAD_LEN, payloadLength);
  buffer[offset + Ipv6Field.NEXT_HEADER] = nextHeader;
  buffer[offset + Ipv6Field.HOP_LIMIT] = hopLimit;
  buffer.set(src, offset + Ipv6Field.SRC_ADDR);
  buffer.set(dst, offset + Ipv6Field.DST_ADDR);
  return IPV6_HEADER_LEN;
}

// ---------------------------------------------------------------------------
// Extension headers in the generic layout: hop-by-hop, destination options,
// routing (and mobility, HIP, shim6, which this module only skips).

const EXT_NEXT_HEADER = 0;
const EXT_LENGTH = 1;
const EXT_MIN_LEN = 8;

/** A checked view of an extension header in the generic (next header, length) layout. */
export class Ipv6ExtensionHeader {
  protected constructor(readonly bytes: Uint8Array, readonly offset: number) {}

  /** Accepts the view only if the whole header, as long as its length field says, is present. */
  static check(bytes: Uint8Array, offset = 0): Ipv6ExtensionHeader {
    checkGenericLength('IPv6 extension header', bytes, offset);
    return new Ipv6ExtensionHeader(bytes, offset);
  }

  get nextHeader(): number { return this.bytes[this.offset + EXT_NEXT_HEADER]; }
  /** Whole header length in bytes: (Hdr Ext Len + 1) × 8. */
  get headerLength(): number { return (this.bytes[this.offset + EXT_LENGTH] + 1) * 8; }
  /** Bytes after the next-header and length fields. */
  get data(): Uint8Array { return this.bytes.subarray(this.offset + 2, this.offset + this.headerLength); }
}

function checkGenericLength(header: string, bytes: Uint8Array, offset: number): void {
  const available = availableFrom(header, bytes, offset);
  if (available < EXT_MIN_LEN) throw tooShort(header, EXT_MIN_LEN, available);
  const length = (bytes[offset + EXT_LENGTH] + 1) * 8;
  if (length > available) throw tooShort(`${header} (length field)`, length, available);
}

/** Hop-by-hop or destination options header: TLV-encoded options after two fixed bytes. */
export class Ipv6OptionsHeader extends Ipv6ExtensionHeader {
  static override check(bytes: Uint8Array, offset = 0): Ipv6OptionsHeader {
    checkGenericLength('IPv6 options header', bytes, offset);
    return new Ipv6OptionsHeader(bytes, offset);
  }

  /** The option TLVs, padding included. */
  get options(): Uint8Array { return this.data; }
}

export const IPV6_OPTION_PAD1 = 0;
export const IPV6_OPTION_PADN = 1;

/**
 * Write a hop-by-hop or destination options header holding `options` (encoded
 * TLVs), padded with Pad1/PadN to a multiple of 8 bytes. Returns its length.
 */
export function emitIpv6OptionsHeader(repr: { nextHeader: number; options?: Uint8Array }, buffer: Uint8Array, offset = 0): number {
  const nextHeader = requireRange('nextHeader', repr.nextHeader, 0, 255);
  const options = repr.options ?? new Uint8Array(0);
  const length = Math.ceil((2 + options.length) / 8) * 8;
  if (length > 256 * 8) throw badField('IPv6 options header', 'options', options.length, 'do not fit in 2048 bytes');
  requireRoom('IPv6 options header', buffer, offset, length);
  buffer[offset + EXT_NEXT_HEADER] = nextHeader;
  buffer[offset + EXT_LENGTH] = length / 8 - 1;
  buffer.set(options, offset + 2);
  // At most 7 padding bytes are ever needed here; Linux rejects longer pad runs.
  const pad = length - 2 - options.length;
  const at = offset + 2 + options.length;
  if (pad === 1) {
    buffer[at] = IPV6_OPTION_PAD1;
  } else if (pad > 1) {
    buffer[at] = IPV6_OPTION_PADN;
    buffer[at + 1] = pad - 2;
    buffer.fill(0, at + 2, at + pad);
  }
  return length;
}

const ROUTING_TYPE = 2;
const ROUTING_SEGMENTS_LEFT = 3;

export class Ipv6RoutingHeader extends Ipv6ExtensionHeader {
  static override check(bytes: Uint8Array, offset = 0): Ipv6RoutingHeader {
    checkGenericLength('IPv6 routing header', bytes, offset);
    return new Ipv6RoutingHeader(bytes, offset);
  }

  get routingType(): number { return this.bytes[this.offset + ROUTING_TYPE]; }
  get segmentsLeft(): number { return this.bytes[this.offset + ROUTING_SEGMENTS_LEFT]; }
  /** Type-specific data after the four fixed bytes. */
  get typeSpecificData(): Uint8Array { return this.bytes.subarray(this.offset + 4, this.offset + this.headerLength); }
}

/** RFC 4727's experimental routing type: no defined data, so any node may carry it. */
export const IPV6_ROUTING_TYPE_EXPERIMENTAL = 253;

/**
 * Write a routing header. `data` is the type-specific part after the four fixed
 * bytes; 4 + data.length must be a multiple of 8. The default, an experimental
 * type with segments left 0 and four zero bytes, is one every node skips
 * (RFC 8200 §4.4: an unrecognised type with segments left 0 is ignored).
 */
export function emitIpv6RoutingHeader(
  repr: { nextHeader: number; routingType?: number; segmentsLeft?: number; data?: Uint8Array },
  buffer: Uint8Array,
  offset = 0,
): number {
  const nextHeader = requireRange('nextHeader', repr.nextHeader, 0, 255);
  const routingType = requireRange('routingType', repr.routingType ?? IPV6_ROUTING_TYPE_EXPERIMENTAL, 0, 255);
  const segmentsLeft = requireRange('segmentsLeft', repr.segmentsLeft ?? 0, 0, 255);
  const data = repr.data ?? new Uint8Array(4);
  const length = 4 + data.length;
  if (length % 8 !== 0 || length > 256 * 8) {
    throw badField('IPv6 routing header', 'data length', data.length, 'must make the header a multiple of 8 bytes, at most 2048');
  }
  requireRoom('IPv6 routing header', buffer, offset, length);
  buffer[offset + EXT_NEXT_HEADER] = nextHeader;
  buffer[offset + EXT_LENGTH] = length / 8 - 1;
  buffer[offset + ROUTING_TYPE] = routingType;
  buffer[offset + ROUTING_SEGMENTS_LEFT] = segmentsLeft;
  buffer.set(data, offset + 4);
  return length;
}

// ---------------------------------------------------------------------------
// Fragment header: fixed 8 bytes, no length field.

export const IPV6_FRAGMENT_HEADER_LEN = 8;

const FRAG_NEXT_HEADER = 0;
const FRAG_OFFSET_FLAGS = 2;
const FRAG_IDENT = 4;

export class Ipv6FragmentHeader {
  private constructor(readonly bytes: Uint8Array, readonly offset: number) {}

  static check(bytes: Uint8Array, offset = 0): Ipv6FragmentHeader {
    const available = availableFrom('IPv6 fragment header', bytes, offset);
    if (available < IPV6_FRAGMENT_HEADER_LEN) throw tooShort('IPv6 fragment header', IPV6_FRAGMENT_HEADER_LEN, available);
    return new Ipv6FragmentHeader(bytes, offset);
  }

  get nextHeader(): number { return this.bytes[this.offset + FRAG_NEXT_HEADER]; }
  get headerLength(): number { return IPV6_FRAGMENT_HEADER_LEN; }
  /** Offset of this fragment's data in the original packet's fragmentable part, in bytes. */
  get fragmentOffset(): number { return readU16(this.bytes, this.offset + FRAG_OFFSET_FLAGS) & 0xfff8; }
  get moreFragments(): boolean { return (this.bytes[this.offset + FRAG_OFFSET_FLAGS + 1] & 1) !== 0; }
  get identification(): number { return readU32(this.bytes, this.offset + FRAG_IDENT); }
  get isNonFirstFragment(): boolean { return this.fragmentOffset !== 0; }
}

export function emitIpv6FragmentHeader(
  repr: { nextHeader: number; fragmentOffset: number; moreFragments: boolean; identification?: number },
  buffer: Uint8Array,
  offset = 0,
): number {
  const nextHeader = requireRange('nextHeader', repr.nextHeader, 0, 255);
  const fragmentOffset = requireRange('fragmentOffset', repr.fragmentOffset, 0, 0xfff8);
  if (fragmentOffset % 8 !== 0) throw badField('IPv6 fragment header', 'fragment offset', fragmentOffset, 'must be a multiple of 8 bytes');
  const identification = requireRange('identification', repr.identification ?? 0, 0, 0xffffffff);
  requireRoom('IPv6 fragment header', buffer, offset, IPV6_FRAGMENT_HEADER_LEN);
  buffer[offset + FRAG_NEXT_HEADER] = nextHeader;
  buffer[offset + 1] = 0;
  writeU16(buffer, offset + FRAG_OFFSET_FLAGS, fragmentOffset | (repr.moreFragments ? 1 : 0));
  writeU32(buffer, offset + FRAG_IDENT, identification);
  return IPV6_FRAGMENT_HEADER_LEN;
}

// ---------------------------------------------------------------------------
// Walking the chain

export interface Ipv6ChainEntry {
  /** The header's type: the next-header value that announced it. */
  type: number;
  /** Offset within the packet's bytes. */
  offset: number;
  length: number;
}

export interface Ipv6Chain {
  headers: Ipv6ChainEntry[];
  /** The next-header value after the last extension header. */
  protocol: number;
  /** Offset of what that value announces within the packet's bytes. */
  offset: number;
  /**
   * Set when a fragment header with a nonzero offset was met: what follows it is
   * a slice of the original packet's data, not a header, so the walk stops there.
   */
  nonFirstFragment: boolean;
}

/**
 * Walk the extension headers of a checked packet with checked views, bounded by
 * the payload length. Stops at the first header that is not an extension header
 * (AH and ESP included: they are upper layers for the walk) and at a non-first
 * fragment. Throws a LarvalError if a header runs past the payload.
 */
export function walkIpv6Chain(packet: Ipv6Packet): Ipv6Chain {
  const bytes = packet.bytes.subarray(0, packet.end);
  const headers: Ipv6ChainEntry[] = [];
  let protocol = packet.nextHeader;
  let offset = packet.payloadOffset;
  while (true) {
    if (isGenericExtensionHeader(protocol)) {
      const header = Ipv6ExtensionHeader.check(bytes, offset);
      headers.push({ type: protocol, offset, length: header.headerLength });
      protocol = header.nextHeader;
      offset += header.headerLength;
    } else if (protocol === Ipv6NextHeader.FRAGMENT) {
      const header = Ipv6FragmentHeader.check(bytes, offset);
      headers.push({ type: protocol, offset, length: IPV6_FRAGMENT_HEADER_LEN });
      protocol = header.nextHeader;
      offset += IPV6_FRAGMENT_HEADER_LEN;
      if (header.isNonFirstFragment) return { headers, protocol, offset, nonFirstFragment: true };
    } else {
      return { headers, protocol, offset, nonFirstFragment: false };
    }
  }
}
