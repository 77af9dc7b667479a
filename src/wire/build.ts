// buildPacket(): a Flow (the matchPolicy() input) -> the bytes of a valid IP packet
// carrying it, for tests, benchmarks and examples that need real packets.

import { parseAddress } from '../common/addr.js';
import { invalid, show } from '../common/errors.js';
import {
  PROTO_AH, PROTO_ESP, PROTO_ICMP, PROTO_ICMPV6, PROTO_SCTP, PROTO_TCP, PROTO_UDP, protocolName, protocolNumber,
} from '../common/protocols.js';
import type { Flow } from '../common/flow.js';
import { emitAh } from './ah.js';
import type { PseudoHeader } from './checksum.js';
import { emitEsp } from './esp.js';
import { addressBytes, requireRange } from './field.js';
import {
  ICMPV4_ECHO_REPLY, ICMPV4_ECHO_REQUEST, ICMPV6_ECHO_REPLY, ICMPV6_ECHO_REQUEST, emitIcmpv4, emitIcmpv6,
} from './icmp.js';
import { emitIpv4 } from './ipv4.js';
import {
  IPV6_HEADER_LEN, Ipv6NextHeader, emitIpv6, emitIpv6FragmentHeader, emitIpv6OptionsHeader, emitIpv6RoutingHeader,
} from './ipv6.js';
import { emitSctp } from './sctp.js';
import { TcpFlag, emitTcp } from './tcp.js';
import { emitUdp } from './udp.js';

export type Ipv6ExtHeaderSpec =
  | 'hop-by-hop'
  | 'routing'
  | 'destination'
  | { type: 'fragment'; /** bytes, a multiple of 8 */ offset: number; more: boolean };

/** Options of buildPacket(). */
export interface BuildOptions {
  /** Bytes after the upper-layer header (all of the data for a non-first fragment). Default 16. */
  payloadLength?: number;
  /** SPI of an ESP or AH header. Default 0x1000. */
  spi?: number;
  /** Sequence number of an ESP or AH header. Default 1. */
  sequence?: number;
  /** IPv4 TTL or IPv6 hop limit. Default 64. */
  ttl?: number;
  /** IPv6 only: extension headers, in order, between the fixed header and the upper layer. */
  ipv6ExtHeaders?: Ipv6ExtHeaderSpec[];
  /** IPv4 only: fragment offset (bytes, a multiple of 8) and the more-fragments flag. */
  ipv4Fragment?: { offset: number; more: boolean };
  /** IPv4 only: extra 4-byte words of options (NOP-filled), 0..10; the IHL grows by as many. */
  ipv4Options?: number;
}

export const DEFAULT_SPI = 0x1000;
export const DEFAULT_PAYLOAD_LENGTH = 16;
/** Where the second fragment of a datagram split for a 1500-byte MTU starts. */
export const DEFAULT_IPV4_FRAGMENT_OFFSET = 1480;
/** Same for IPv6: 1500 − 40 (fixed header) − 8 (fragment header), rounded down to 8. */
export const DEFAULT_IPV6_FRAGMENT_OFFSET = 1448;
/** HMAC-SHA1-96 / HMAC-SHA-256-128 truncated ICV sizes are 12 and 16; 12 keeps AH at 24 bytes, valid for both families. */
export const AH_ICV_LENGTH = 12;
const FIXED_IDENTIFICATION = 1;
const FIXED_SEQUENCE = 1;

type UpperLayer = 'tcp' | 'udp' | 'sctp' | 'icmp' | 'esp' | 'ah' | 'opaque';

const UPPER_HEADER_LENGTH: Record<UpperLayer, number> = {
  tcp: 20, udp: 8, sctp: 12, icmp: 8, esp: 8, ah: 12 + AH_ICV_LENGTH, opaque: 0,
};

function upperLayerOf(family: 4 | 6, protocol: number): UpperLayer {
  switch (protocol) {
    case PROTO_TCP: return 'tcp';
    case PROTO_UDP: return 'udp';
    case PROTO_SCTP: return 'sctp';
    case PROTO_ESP: return 'esp';
    case PROTO_AH: return 'ah';
    // ICMP is family-specific: protocol 1 inside IPv6 (or 58 inside IPv4) is just
    // an unknown payload to every stack, and is built as one.
    case PROTO_ICMP: return family === 4 ? 'icmp' : 'opaque';
    case PROTO_ICMPV6: return family === 6 ? 'icmp' : 'opaque';
    default: return 'opaque';
  }
}

/**
 * Build a complete, valid IPv4 or IPv6 packet for `flow`: the IP header(s), the
 * upper-layer header with a correct checksum, then `payloadLength` pattern bytes
 * (byte i is i & 0xff). Omitted ports are 0: a flow without ports names none, and
 * inventing one would make the packet match selectors the flow does not.
 * `flow.fragment` builds a non-first fragment: payload bytes only.
 *
 * A first fragment (offset 0 with more-fragments set) carries the upper-layer
 * header with lengths and checksum computed over the bytes it holds, as if the
 * datagram ended there.
 */
export function buildPacket(flow: Flow, options: BuildOptions = {}): Uint8Array {
  if (flow === null || typeof flow !== 'object') throw invalid('flow', flow, 'expected a flow object');
  if (options === null || typeof options !== 'object') throw invalid('options', options, 'expected an options object');
  const src = parseAddress(flow.src, 'src');
  const dst = parseAddress(flow.dst, 'dst');
  if (src.family !== dst.family) {
    throw invalid('dst', flow.dst, `is an IPv${dst.family} address but src ${show(flow.src)} is IPv${src.family}`);
  }
  const family = src.family;
  const protocol = protocolNumber(flow.proto, 'proto');
  const payloadLength = requireRange('payloadLength', options.payloadLength ?? DEFAULT_PAYLOAD_LENGTH, 0, 0xffff);
  const ttl = requireRange('ttl', options.ttl ?? 64, 0, 255);
  const spi = requireRange('spi', options.spi ?? DEFAULT_SPI, 0, 0xffffffff);
  const sequence = requireRange('sequence', options.sequence ?? FIXED_SEQUENCE, 0, 0xffffffff);
  if (flow.fragment !== undefined && typeof flow.fragment !== 'boolean') throw invalid('fragment', flow.fragment, 'expected a boolean');

  const upper = upperLayerOf(family, protocol);
  const request: PacketRequest = {
    flow, family, protocol, upper, payloadLength, ttl, spi, sequence,
    pseudo: { src: addressBytes(flow.src, family, 'src'), dst: addressBytes(flow.dst, family, 'dst') },
  };
  return family === 4 ? buildIpv4(request, options) : buildIpv6(request, options);
}

interface PacketRequest {
  flow: Flow;
  family: 4 | 6;
  protocol: number;
  upper: UpperLayer;
  payloadLength: number;
  ttl: number;
  spi: number;
  sequence: number;
  pseudo: PseudoHeader;
}

function buildIpv4(req: PacketRequest, options: BuildOptions): Uint8Array {
  if (options.ipv6ExtHeaders !== undefined && (!Array.isArray(options.ipv6ExtHeaders) || options.ipv6ExtHeaders.length > 0)) {
    throw invalid('ipv6ExtHeaders', options.ipv6ExtHeaders, `IPv6 extension headers need IPv6 addresses (src ${req.flow.src} is IPv4)`);
  }
  const optionWords = requireRange('ipv4Options', options.ipv4Options ?? 0, 0, 10);

  let fragmentOffset = 0;
  let moreFragments = false;
  if (options.ipv4Fragment !== undefined) {
    const frag = options.ipv4Fragment;
    if (frag === null || typeof frag !== 'object') throw invalid('ipv4Fragment', frag, 'expected { offset, more }');
    fragmentOffset = requireFragmentOffset('ipv4Fragment.offset', frag.offset, 0x1fff * 8);
    if (typeof frag.more !== 'boolean') throw invalid('ipv4Fragment.more', frag.more, 'expected a boolean');
    moreFragments = frag.more;
  } else if (req.flow.fragment === true) {
    fragmentOffset = DEFAULT_IPV4_FRAGMENT_OFFSET;
  }
  requireFragmentAgreement(req.flow, 'ipv4Fragment.offset', fragmentOffset);
  const nonFirst = fragmentOffset !== 0;
  validateFlowFields(req, nonFirst);

  const headerLength = 20 + 4 * optionWords;
  const dataLength = (nonFirst ? 0 : UPPER_HEADER_LENGTH[req.upper]) + req.payloadLength;
  if (headerLength + dataLength > 0xffff) {
    throw invalid('payloadLength', req.payloadLength, `the IPv4 total length would be ${headerLength + dataLength}, above 65535`);
  }
  if (fragmentOffset + dataLength > 0xffff) {
    throw invalid('ipv4Fragment.offset', fragmentOffset, `offset + ${dataLength} fragment bytes would end past 65535`);
  }

  const packet = new Uint8Array(headerLength + dataLength);
  emitIpv4({
    src: req.pseudo.src, dst: req.pseudo.dst, protocol: req.protocol, payloadLength: dataLength, ttl: req.ttl,
    identification: FIXED_IDENTIFICATION, moreFragments, fragmentOffset, optionWords,
  }, packet, 0);
  emitUpperLayer(req, nonFirst, packet, headerLength);
  return packet;
}

interface PlannedExtHeader {
  type: number;
  fragment?: { offset: number; more: boolean };
}

function buildIpv6(req: PacketRequest, options: BuildOptions): Uint8Array {
  if (options.ipv4Fragment !== undefined) {
    throw invalid('ipv4Fragment', options.ipv4Fragment, `needs IPv4 addresses (src ${req.flow.src} is IPv6); use ipv6ExtHeaders`);
  }
  if (options.ipv4Options !== undefined && options.ipv4Options !== 0) {
    throw invalid('ipv4Options', options.ipv4Options, `needs IPv4 addresses (src ${req.flow.src} is IPv6)`);
  }
  const chain = planIpv6Chain(req.flow, options.ipv6ExtHeaders);
  const fragment = chain.find((h) => h.fragment !== undefined)?.fragment;
  const nonFirst = fragment !== undefined && fragment.offset !== 0;
  validateFlowFields(req, nonFirst);

  const extLength = chain.length * 8;
  const dataLength = (nonFirst ? 0 : UPPER_HEADER_LENGTH[req.upper]) + req.payloadLength;
  if (extLength + dataLength > 0xffff) {
    throw invalid('payloadLength', req.payloadLength, `the IPv6 payload length would be ${extLength + dataLength}, above 65535`);
  }
  if (fragment !== undefined && fragment.offset + dataLength > 0xffff) {
    throw invalid('ipv6ExtHeaders', fragment, `fragment offset + ${dataLength} fragment bytes would end past 65535`);
  }

  const packet = new Uint8Array(IPV6_HEADER_LEN + extLength + dataLength);
  emitIpv6({
    src: req.pseudo.src, dst: req.pseudo.dst, nextHeader: chain.length > 0 ? chain[0].type : req.protocol,
    payloadLength: extLength + dataLength, hopLimit: req.ttl,
  }, packet, 0);
  let offset = IPV6_HEADER_LEN;
  chain.forEach((header, i) => {
    const nextHeader = i + 1 < chain.length ? chain[i + 1].type : req.protocol;
    if (header.fragment !== undefined) {
      offset += emitIpv6FragmentHeader({
        nextHeader, fragmentOffset: header.fragment.offset, moreFragments: header.fragment.more,
        identification: FIXED_IDENTIFICATION,
      }, packet, offset);
    } else if (header.type === Ipv6NextHeader.ROUTING) {
      offset += emitIpv6RoutingHeader({ nextHeader }, packet, offset);
    } else {
      offset += emitIpv6OptionsHeader({ nextHeader }, packet, offset);
    }
  });
  emitUpperLayer(req, nonFirst, packet, offset);
  return packet;
}

const EXT_HEADER_TYPES: Record<string, number> = {
  'hop-by-hop': Ipv6NextHeader.HOP_BY_HOP,
  routing: Ipv6NextHeader.ROUTING,
  destination: Ipv6NextHeader.DESTINATION,
};

function planIpv6Chain(flow: Flow, specs: unknown): PlannedExtHeader[] {
  if (specs !== undefined && !Array.isArray(specs)) throw invalid('ipv6ExtHeaders', specs, 'expected an array');
  const chain: PlannedExtHeader[] = [];
  ((specs ?? []) as unknown[]).forEach((spec, i) => {
    const field = `ipv6ExtHeaders[${i}]`;
    if (typeof spec === 'string' && spec in EXT_HEADER_TYPES) {
      // RFC 8200 §4.1: hop-by-hop may only follow the fixed header directly.
      if (spec === 'hop-by-hop' && i !== 0) throw invalid(field, spec, 'a hop-by-hop header must come first');
      chain.push({ type: EXT_HEADER_TYPES[spec] });
      return;
    }
    if (spec !== null && typeof spec === 'object' && (spec as { type?: unknown }).type === 'fragment') {
      const { offset, more } = spec as { offset: unknown; more: unknown };
      if (chain.some((h) => h.fragment !== undefined)) throw invalid(field, spec, 'only one fragment header may appear');
      if (typeof more !== 'boolean') throw invalid(`${field}.more`, more, 'expected a boolean');
      chain.push({ type: Ipv6NextHeader.FRAGMENT, fragment: { offset: requireFragmentOffset(`${field}.offset`, offset, 0xfff8), more } });
      return;
    }
    throw invalid(field, spec, "expected 'hop-by-hop', 'routing', 'destination' or { type: 'fragment', offset, more }");
  });

  let fragmentIndex = chain.findIndex((h) => h.fragment !== undefined);
  if (flow.fragment === true && fragmentIndex < 0) {
    chain.push({ type: Ipv6NextHeader.FRAGMENT, fragment: { offset: DEFAULT_IPV6_FRAGMENT_OFFSET, more: false } });
    fragmentIndex = chain.length - 1;
  }
  if (fragmentIndex >= 0) {
    const fragment = chain[fragmentIndex].fragment!;
    requireFragmentAgreement(flow, `ipv6ExtHeaders[${fragmentIndex}].offset`, fragment.offset);
    // Headers after the fragment header belong to the fragmentable part, which a
    // non-first fragment holds only a later slice of.
    if (fragment.offset !== 0 && fragmentIndex !== chain.length - 1) {
      throw invalid(`ipv6ExtHeaders[${fragmentIndex + 1}]`, specs, 'no header can follow the fragment header of a non-first fragment');
    }
  }
  return chain;
}

function requireFragmentOffset(field: string, value: unknown, max: number): number {
  const offset = requireRange(field, value, 0, max);
  if (offset % 8 !== 0) throw invalid(field, value, 'a fragment offset is a multiple of 8 bytes');
  return offset;
}

function requireFragmentAgreement(flow: Flow, field: string, offset: number): void {
  if (flow.fragment === true && offset === 0) {
    throw invalid(field, offset, 'flow.fragment asks for a non-first fragment, whose offset is nonzero');
  }
  if (flow.fragment === false && offset !== 0) {
    throw invalid(field, offset, 'a nonzero offset makes a non-first fragment, but flow.fragment is false');
  }
}

function validateFlowFields(req: PacketRequest, nonFirst: boolean): void {
  const { flow, upper } = req;
  for (const field of ['srcPort', 'dstPort'] as const) {
    const value = flow[field];
    if (value === undefined) continue;
    if (upper !== 'tcp' && upper !== 'udp' && upper !== 'sctp') {
      throw invalid(field, value, `ports need proto tcp, udp or sctp (proto is ${protocolName(req.protocol)})`);
    }
    if (nonFirst) throw invalid(field, value, 'a non-first fragment carries no upper-layer header, so no ports');
    requireRange(field, value, 0, 0xffff);
  }
  for (const field of ['icmpType', 'icmpCode'] as const) {
    const value = flow[field];
    if (value === undefined) continue;
    if (upper !== 'icmp') {
      const hint = req.family === 6 ? "ICMP over IPv6 is proto 'ipv6-icmp' (58)" : "ICMP over IPv4 is proto 'icmp' (1)";
      throw invalid(field, value, `needs an ICMP protocol (proto is ${protocolName(req.protocol)}; ${hint})`);
    }
    if (nonFirst) throw invalid(field, value, 'a non-first fragment carries no ICMP header');
    requireRange(field, value, 0, 255);
  }
}

function patternPayload(length: number): Uint8Array {
  const payload = new Uint8Array(length);
  for (let i = 0; i < length; i++) payload[i] = i & 0xff;
  return payload;
}

function emitUpperLayer(req: PacketRequest, nonFirst: boolean, packet: Uint8Array, offset: number): void {
  const payload = patternPayload(req.payloadLength);
  if (nonFirst) {
    packet.set(payload, offset);
    return;
  }
  const { flow, pseudo } = req;
  const srcPort = flow.srcPort ?? 0;
  const dstPort = flow.dstPort ?? 0;
  switch (req.upper) {
    case 'tcp':
      emitTcp({
        srcPort, dstPort, seqNumber: FIXED_SEQUENCE, ackNumber: FIXED_SEQUENCE, flags: TcpFlag.ACK | TcpFlag.PSH, payload,
      }, packet, offset, pseudo);
      return;
    case 'udp':
      emitUdp({ srcPort, dstPort, payload }, packet, offset, pseudo);
      return;
    case 'sctp':
      emitSctp({ srcPort, dstPort, verificationTag: FIXED_SEQUENCE, chunks: payload }, packet, offset);
      return;
    case 'icmp': {
      const echoRequest = req.family === 4 ? ICMPV4_ECHO_REQUEST : ICMPV6_ECHO_REQUEST;
      const type = flow.icmpType ?? echoRequest;
      const code = flow.icmpCode ?? 0;
      // Echo messages carry identifier and sequence; for other types those bytes are unused.
      const isEcho = type === echoRequest || type === (req.family === 4 ? ICMPV4_ECHO_REPLY : ICMPV6_ECHO_REPLY);
      const repr = { type, code, restOfHeader: isEcho ? (FIXED_IDENTIFICATION << 16) | FIXED_SEQUENCE : 0, payload };
      if (req.family === 4) emitIcmpv4(repr, packet, offset);
      else emitIcmpv6(repr, packet, offset, pseudo);
      return;
    }
    case 'esp':
      emitEsp({ spi: req.spi, sequenceNumber: req.sequence, payload }, packet, offset);
      return;
    case 'ah': {
      // The bytes after AH are opaque here, so AH announces "no next header".
      const length = emitAh({
        nextHeader: Ipv6NextHeader.NO_NEXT_HEADER, spi: req.spi, sequenceNumber: req.sequence,
        icv: new Uint8Array(AH_ICV_LENGTH),
      }, packet, offset);
      packet.set(payload, offset + length);
      return;
    }
    case 'opaque':
      packet.set(payload, offset);
      return;
  }
}
