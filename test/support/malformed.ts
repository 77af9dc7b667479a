// Malformed and valid packets for the engine's parser, labelled with the reason
// the parser contract assigns them.
//
// classifyPacket() below is a deliberately plain restatement of that contract,
// written from its text and not from assembly/packet.ts, so that the engine and
// this labeller can disagree. It labels every truncation of every valid seed;
// handLabelledCases() are reasons written down by hand, which the tests hold the
// labeller to, so that a labeller bug cannot silently relabel the corpus.

import type { ReasonName } from '../../src/engine/types.js';
import { buildPacket } from '../../src/wire/build.js';
import { internetChecksum } from '../../src/wire/checksum.js';
import { emitIpv6 } from '../../src/wire/ipv6.js';

export interface MalformedCase {
  name: string;
  bytes: Uint8Array;
  /** Length on the wire when it differs from bytes.length (a capture-truncated packet). */
  wireLength?: number;
  reason: ReasonName;
}

export interface ValidSeed {
  name: string;
  bytes: Uint8Array;
  wireLength?: number;
}

/** The reasons a packet can be malformed for (the rest are policy outcomes or host errors). */
export type MalformedReason = Extract<ReasonName,
  | 'truncated' | 'bad-version' | 'bad-ihl' | 'bad-total-length' | 'bad-payload-length' | 'ext-header-truncated'
  | 'ext-chain-too-long' | 'hop-by-hop-not-first' | 'fragment-overflow' | 'l4-truncated' | 'bad-l4-header'
  | 'oversized' | 'tiny-fragment'>;

export const MALFORMED_REASONS: readonly MalformedReason[] = [
  'truncated', 'bad-version', 'bad-ihl', 'bad-total-length', 'bad-payload-length', 'ext-header-truncated',
  'ext-chain-too-long', 'hop-by-hop-not-first', 'fragment-overflow', 'l4-truncated', 'bad-l4-header', 'oversized',
  'tiny-fragment',
];

// The contract's limits, restated rather than imported so that a change to the
// engine's constants shows up as a disagreement (malformed.test.ts compares them).
export const CONTRACT_MAX_WIRE_LENGTH = 65575;
export const CONTRACT_MAX_EXT_HEADERS = 16;

// ---------------------------------------------------------------------------
// The labeller

const u16 = (b: Uint8Array, at: number): number => (b[at] << 8) | b[at + 1];

/** The contract's verdict on a packet: a malformed reason, or 'valid'. */
export function classifyPacket(bytes: Uint8Array, wireLength: number = bytes.length): MalformedReason | 'valid' {
  const cap = bytes.length;
  if (wireLength > CONTRACT_MAX_WIRE_LENGTH) return 'oversized';
  if (cap === 0) return 'truncated';
  const version = bytes[0] >> 4;
  if (version === 4) return classifyIpv4(bytes, wireLength);
  if (version === 6) return classifyIpv6(bytes, wireLength);
  return 'bad-version';
}

function classifyIpv4(b: Uint8Array, wire: number): MalformedReason | 'valid' {
  const cap = b.length;
  if (cap < 20) return 'truncated';
  const ihl = (b[0] & 0x0f) * 4;
  if (ihl < 20) return 'bad-ihl';
  if (ihl > cap) return 'truncated';
  // Total length 0: a TSO capture; the wire length stands in (capped at 65535).
  const total = u16(b, 2) === 0 ? Math.min(wire, 65535) : u16(b, 2);
  if (total < ihl || total > wire) return 'bad-total-length';
  const fragmentOffset = (u16(b, 6) & 0x1fff) * 8;
  if (fragmentOffset + (total - ihl) > 65535) return 'fragment-overflow';
  const protocol = b[9];
  if (fragmentOffset !== 0) return fragmentOffset === 8 && protocol === 6 ? 'tiny-fragment' : 'valid';
  const moreFragments = (u16(b, 6) & 0x2000) !== 0;
  return classifyUpperLayer(b, 4, protocol, ihl, total, Math.min(cap, total), moreFragments);
}

const GENERIC_EXT_HEADERS = new Set([0, 43, 60, 135, 139, 140]);

function classifyIpv6(b: Uint8Array, wire: number): MalformedReason | 'valid' {
  const cap = b.length;
  if (cap < 40) return 'truncated';
  const payloadLength = u16(b, 4);
  // Payload length 0 is a jumbogram only with a hop-by-hop header; else an empty payload.
  if ((payloadLength === 0 && b[6] === 0) || 40 + payloadLength > wire) return 'bad-payload-length';
  const end = 40 + payloadLength;
  const avail = Math.min(cap, end);
  let next = b[6];
  let off = 40;
  let walked = 0;
  let firstFragment = false;
  for (;;) {
    if (next === 0 && walked > 0) return 'hop-by-hop-not-first';
    if (GENERIC_EXT_HEADERS.has(next)) {
      if (walked === CONTRACT_MAX_EXT_HEADERS) return 'ext-chain-too-long';
      if (off + 8 > avail) return 'ext-header-truncated';
      const length = (b[off + 1] + 1) * 8;
      if (off + length > end) return 'ext-header-truncated';
      next = b[off];
      off += length;
      walked++;
    } else if (next === 44) {
      if (walked === CONTRACT_MAX_EXT_HEADERS) return 'ext-chain-too-long';
      if (off + 8 > avail) return 'ext-header-truncated';
      const fragmentOffset = u16(b, off + 2) & 0xfff8;
      firstFragment = (u16(b, off + 2) & 1) !== 0;
      next = b[off];
      off += 8;
      walked++;
      if (fragmentOffset !== 0) return fragmentOffset + (end - off) > 65535 ? 'fragment-overflow' : 'valid';
    } else if (next === 59) {
      return 'valid';
    } else {
      return classifyUpperLayer(b, 6, next, off, end, avail, firstFragment);
    }
  }
}

function classifyUpperLayer(b: Uint8Array, family: 4 | 6, protocol: number, off: number, end: number, avail: number, firstFragment: boolean): MalformedReason | 'valid' {
  switch (protocol) {
    case 6: {
      if (off + 20 > avail) return 'l4-truncated';
      const headerLength = (b[off + 12] >> 4) * 4;
      return headerLength < 20 || off + headerLength > end ? 'bad-l4-header' : 'valid';
    }
    case 17: {
      if (off + 8 > avail) return 'l4-truncated';
      // A first fragment's UDP length covers the whole datagram, not this fragment.
      const length = u16(b, off + 4);
      return length < 8 || (!firstFragment && off + length > end) ? 'bad-l4-header' : 'valid';
    }
    case 132:
      return off + 12 > avail ? 'l4-truncated' : 'valid';
    case 1:
      return family === 4 && off + 4 > avail ? 'l4-truncated' : 'valid';
    case 58:
      return family === 6 && off + 4 > avail ? 'l4-truncated' : 'valid';
    case 50:
      return off + 8 > avail ? 'l4-truncated' : 'valid';
    case 51: {
      if (off + 12 > avail) return 'l4-truncated';
      const length = (b[off + 1] + 2) * 4;
      return length < 12 || off + length > end ? 'bad-l4-header' : 'valid';
    }
    default:
      return 'valid';
  }
}

// ---------------------------------------------------------------------------
// Packet surgery

const V4 = { src: '192.0.2.1', dst: '198.51.100.2' };
const V6 = { src: '2001:db8::1', dst: '2001:db8:0:1::2' };

function setU16(b: Uint8Array, at: number, value: number): void {
  b[at] = (value >> 8) & 0xff;
  b[at + 1] = value & 0xff;
}

/**
 * A copy of `bytes` changed by `change`. An IPv4 header checksum is recomputed
 * when the header is whole, so that each case is wrong only in what it names.
 */
function edited(bytes: Uint8Array, change: (b: Uint8Array) => void): Uint8Array {
  const b = bytes.slice();
  change(b);
  const ihl = (b[0] & 0x0f) * 4;
  if (b[0] >> 4 === 4 && ihl >= 20 && ihl <= b.length) {
    setU16(b, 10, 0);
    setU16(b, 10, internetChecksum(b, 0, ihl));
  }
  return b;
}

/** The first `total` bytes of an IPv4 packet, with the total length saying so. */
function cutIpv4(bytes: Uint8Array, total: number): Uint8Array {
  return edited(bytes.subarray(0, total), (b) => setU16(b, 2, total));
}

/** The first 40 + `payloadLength` bytes of an IPv6 packet, with the payload length saying so. */
function cutIpv6(bytes: Uint8Array, payloadLength: number): Uint8Array {
  return edited(bytes.subarray(0, 40 + payloadLength), (b) => setU16(b, 4, payloadLength));
}

const fromHex = (hex: string): Uint8Array => Uint8Array.from(hex.match(/../g)!.map((x) => parseInt(x, 16)));

// ---------------------------------------------------------------------------
// Valid seeds

const PROTOCOLS_V4 = ['tcp', 'udp', 'sctp', 'icmp', 'esp', 'ah', 'gre'] as const;
const PROTOCOLS_V6 = ['tcp', 'udp', 'sctp', 'ipv6-icmp', 'esp', 'ah', 'ospf'] as const;

function ports(proto: string): { srcPort?: number; dstPort?: number } {
  return proto === 'tcp' || proto === 'udp' || proto === 'sctp' ? { srcPort: 49152, dstPort: 443 } : {};
}

/** Valid packets of every kind; classifyPacket() says 'valid' for each. */
export function validSeeds(): ValidSeed[] {
  const seeds: ValidSeed[] = [];
  const add = (name: string, bytes: Uint8Array, wireLength?: number) => {
    seeds.push(wireLength === undefined ? { name, bytes } : { name, bytes, wireLength });
  };

  for (const proto of PROTOCOLS_V4) {
    add(`v4 ${proto}`, buildPacket({ ...V4, proto, ...ports(proto) }));
    add(`v4 ${proto} non-first fragment`, buildPacket({ ...V4, proto, fragment: true }));
  }
  for (const proto of PROTOCOLS_V6) {
    add(`v6 ${proto}`, buildPacket({ ...V6, proto, ...ports(proto) }));
    add(`v6 ${proto} non-first fragment`, buildPacket({ ...V6, proto, fragment: true }));
  }

  add('v4 tcp, 1 option word', buildPacket({ ...V4, proto: 'tcp', ...ports('tcp') }, { ipv4Options: 1 }));
  add('v4 udp, 10 option words (IHL 15)', buildPacket({ ...V4, proto: 'udp', ...ports('udp') }, { ipv4Options: 10 }));
  add('v4 icmp, options, echo reply', buildPacket({ ...V4, proto: 'icmp', icmpType: 0, icmpCode: 0 }, { ipv4Options: 2 }));
  add('v4 udp first fragment', buildPacket({ ...V4, proto: 'udp', ...ports('udp') }, { ipv4Fragment: { offset: 0, more: true } }));
  add('v4 tcp first fragment with options', buildPacket({ ...V4, proto: 'tcp', ...ports('tcp') }, { ipv4Fragment: { offset: 0, more: true }, ipv4Options: 1 }));
  add('v4 esp non-first fragment with options', buildPacket({ ...V4, proto: 'esp', fragment: true }, { ipv4Options: 1 }));
  add('v4 tcp without payload', buildPacket({ ...V4, proto: 'tcp', ...ports('tcp') }, { payloadLength: 0 }));

  add('v6 udp after hop-by-hop', buildPacket({ ...V6, proto: 'udp', ...ports('udp') }, { ipv6ExtHeaders: ['hop-by-hop'] }));
  add('v6 tcp after hop-by-hop, destination, routing', buildPacket({ ...V6, proto: 'tcp', ...ports('tcp') }, { ipv6ExtHeaders: ['hop-by-hop', 'destination', 'routing'] }));
  add('v6 esp after routing', buildPacket({ ...V6, proto: 'esp' }, { ipv6ExtHeaders: ['routing'] }));
  add('v6 ah after destination options', buildPacket({ ...V6, proto: 'ah' }, { ipv6ExtHeaders: ['destination'] }));
  add('v6 icmpv6 after hop-by-hop', buildPacket({ ...V6, proto: 'ipv6-icmp', icmpType: 143 }, { ipv6ExtHeaders: ['hop-by-hop'] }));
  add('v6 tcp first fragment', buildPacket({ ...V6, proto: 'tcp', ...ports('tcp') }, { ipv6ExtHeaders: [{ type: 'fragment', offset: 0, more: true }] }));
  add('v6 udp first fragment, destination options after it', buildPacket({ ...V6, proto: 'udp', ...ports('udp') }, {
    ipv6ExtHeaders: ['hop-by-hop', { type: 'fragment', offset: 0, more: true }, 'destination'],
  }));
  add('v6 sctp non-first fragment after hop-by-hop and routing', buildPacket({ ...V6, proto: 'sctp', fragment: true }, { ipv6ExtHeaders: ['hop-by-hop', 'routing'] }));
  add('v6 no next header after hop-by-hop', buildPacket({ ...V6, proto: 59 }, { ipv6ExtHeaders: ['hop-by-hop'], payloadLength: 0 }));

  // Real packets (also in test/wire/real-packets.test.ts).
  // tcp-handshake-nano.pcap, record 1, Linux SLL header stripped.
  add('real: v4 tcp SYN with options', fromHex(
    '4500003c29a940004006db5f839bd7458974515eb64000502f842acb00000000' +
    'a0026a4050c40000020405500402080a436a03620000000001030307'));
  // LINKTYPE_RAW_ipv6.pcap, record 1.
  add('real: v6 udp DNS query', fromHex(
    '600000000025114020010db8000000000000000000000001262000fe00000000' +
    '000000000000000930390035002598b312340100000100000000000007657861' +
    '6d706c6503636f6d0000010001'));

  for (const seed of handLabelledValid()) add(seed.name, seed.bytes, seed.wireLength);
  return seeds;
}

/** Valid packets at the edges of the contract, each chosen by hand to be valid. */
export function handLabelledValid(): ValidSeed[] {
  const tcp1500 = buildPacket({ ...V4, proto: 'tcp', ...ports('tcp') }, { payloadLength: 1460 });
  const v6Tcp1500 = buildPacket({ ...V6, proto: 'tcp', ...ports('tcp') }, { payloadLength: 1432, ipv6ExtHeaders: ['hop-by-hop'] });
  const icmpHeaderOnly = buildPacket({ ...V4, proto: 'icmp' }, { payloadLength: 0 });
  const icmpv6HeaderOnly = buildPacket({ ...V6, proto: 'ipv6-icmp' }, { payloadLength: 0 });
  const noNextHeader = buildPacket({ ...V6, proto: 59 }, { ipv6ExtHeaders: ['destination'], payloadLength: 0 });
  // Only the header of a 65575-byte packet: emitted empty, then given its real payload length.
  const biggestV6 = new Uint8Array(40);
  emitIpv6({ src: V6.src, dst: V6.dst, nextHeader: 59, payloadLength: 0 }, biggestV6);
  setU16(biggestV6, 4, 0xffff);

  return [
    { name: 'capture-truncated v4 tcp: 54 of 1500 bytes, headers whole', bytes: tcp1500.slice(0, 54), wireLength: 1500 },
    { name: 'capture-truncated v6 tcp: 96 of 1500 bytes, headers whole', bytes: v6Tcp1500.slice(0, 96), wireLength: 1500 },
    { name: 'capture-truncated v4 tcp: exactly the 40 header bytes', bytes: tcp1500.slice(0, 40), wireLength: 1500 },
    { name: 'wire length 65575: the largest IPv6 packet, 40 bytes captured', bytes: biggestV6, wireLength: 65575 },
    { name: 'v4 udp with 6 bytes of link padding after the total length', bytes: Uint8Array.from([...buildPacket({ ...V4, proto: 'udp' }, { payloadLength: 10 }), 0, 0, 0, 0, 0, 0]) },
    { name: 'v4 icmp with only type, code and checksum', bytes: cutIpv4(icmpHeaderOnly, 24) },
    { name: 'v6 icmpv6 with only type, code and checksum', bytes: cutIpv6(icmpv6HeaderOnly, 4) },
    { name: 'v4 protocol 58 (ICMPv6 number) with 1 byte: not checked in IPv4', bytes: cutIpv4(buildPacket({ ...V4, proto: 58 }), 21) },
    { name: 'v6 protocol 1 (ICMPv4 number) with 1 byte: not checked in IPv6', bytes: cutIpv6(buildPacket({ ...V6, proto: 1 }), 1) },
    { name: 'v4 udp non-first fragment at offset 8 (the tiny-fragment rule is TCP only)', bytes: buildPacket({ ...V4, proto: 'udp' }, { ipv4Fragment: { offset: 8, more: true } }) },
    { name: 'v4 tcp non-first fragment at offset 16', bytes: buildPacket({ ...V4, proto: 'tcp' }, { ipv4Fragment: { offset: 16, more: true } }) },
    { name: 'v4 tcp non-first fragment with 1 byte of data', bytes: buildPacket({ ...V4, proto: 'tcp', fragment: true }, { payloadLength: 1 }) },
    { name: 'v4 fragment ending exactly at 65535', bytes: buildPacket({ ...V4, proto: 'udp' }, { ipv4Fragment: { offset: 65528, more: false }, payloadLength: 7 }) },
    { name: 'v6 fragment ending exactly at 65535', bytes: buildPacket({ ...V6, proto: 'udp' }, { ipv6ExtHeaders: [{ type: 'fragment', offset: 65528, more: false }], payloadLength: 7 }) },
    { name: 'v6 tcp after exactly 16 destination-options headers', bytes: buildPacket({ ...V6, proto: 'tcp' }, { ipv6ExtHeaders: new Array(16).fill('destination') }) },
    { name: 'v6 mobility header, then no next header', bytes: edited(noNextHeader, (b) => { b[6] = 135; }) },
    { name: 'v6 shim6 header, then no next header', bytes: edited(noNextHeader, (b) => { b[6] = 140; }) },
    // A real first fragment's UDP length covers the whole (here 2008-byte) datagram.
    { name: 'v4 first fragment whose UDP length covers the 2008-byte datagram', bytes: edited(buildPacket({ ...V4, proto: 'udp' }, { ipv4Fragment: { offset: 0, more: true }, payloadLength: 1472 }), (b) => setU16(b, 24, 2008)) },
    { name: 'v6 first fragment whose UDP length covers the whole datagram', bytes: edited(buildPacket({ ...V6, proto: 'udp' }, { ipv6ExtHeaders: [{ type: 'fragment', offset: 0, more: true }], payloadLength: 64 }), (b) => setU16(b, 52, 3000)) },
    // TCP segmentation offload: the capture shows total length 0 for a large segment.
    { name: 'v4 tcp with total length 0 (TSO capture)', bytes: edited(buildPacket({ ...V4, proto: 'tcp' }, { payloadLength: 1000 }), (b) => setU16(b, 2, 0)) },
    { name: 'v6 payload length 0 with no next header: an empty payload', bytes: edited(noNextHeader.slice(0, 40), (b) => { setU16(b, 4, 0); b[6] = 59; }) },
  ];
}

// ---------------------------------------------------------------------------
// Hand-labelled malformed packets

/** Malformed packets whose reasons were worked out by hand from the contract. */
export function handLabelledCases(): MalformedCase[] {
  const tcp = buildPacket({ ...V4, proto: 'tcp', ...ports('tcp') }); // 20 + 20 + 16 = 56 bytes
  const udp = buildPacket({ ...V4, proto: 'udp', ...ports('udp') }); // 20 + 8 + 16 = 44 bytes
  const bare = buildPacket({ ...V4, proto: 253 }, { payloadLength: 0 }); // a 20-byte header, nothing after
  const v6Tcp = buildPacket({ ...V6, proto: 'tcp', ...ports('tcp') }); // 40 + 20 + 16 = 76 bytes
  const tcp1500 = buildPacket({ ...V4, proto: 'tcp', ...ports('tcp') }, { payloadLength: 1460 });
  const v6Tcp1500 = buildPacket({ ...V6, proto: 'tcp', ...ports('tcp') }, { payloadLength: 1432, ipv6ExtHeaders: ['hop-by-hop'] });
  const cases: MalformedCase[] = [];
  const add = (name: string, reason: MalformedReason, bytes: Uint8Array, wireLength?: number) => {
    cases.push(wireLength === undefined ? { name, bytes, reason } : { name, bytes, wireLength, reason });
  };

  add('empty packet', 'truncated', new Uint8Array(0));
  add('a single 0x45 byte', 'truncated', Uint8Array.of(0x45));
  add('IPv4 header cut at 19 bytes', 'truncated', tcp.slice(0, 19));
  add('IPv6 header cut at 39 bytes', 'truncated', v6Tcp.slice(0, 39));
  add('version 5', 'bad-version', edited(tcp, (b) => { b[0] = 0x55; }));
  add('version 0', 'bad-version', edited(tcp, (b) => { b[0] = 0x05; }));
  add('version 15, one byte', 'bad-version', Uint8Array.of(0xf0));
  add('IHL 4', 'bad-ihl', edited(tcp, (b) => { b[0] = 0x44; }));
  add('IHL 0', 'bad-ihl', edited(tcp, (b) => { b[0] = 0x40; }));
  add('IHL 15 in a 20-byte packet', 'truncated', edited(bare, (b) => { b[0] = 0x4f; }));
  add('IHL 6 with the option word cut off (22 bytes)', 'truncated',
    buildPacket({ ...V4, proto: 253 }, { ipv4Options: 1, payloadLength: 0 }).slice(0, 22));
  add('total length 19', 'bad-total-length', edited(tcp, (b) => setU16(b, 2, 19)));
  add('total length 100 in a 56-byte packet', 'bad-total-length', edited(tcp, (b) => setU16(b, 2, 100)));
  add('total length 22 below a 24-byte header (IHL 6)', 'bad-total-length',
    edited(buildPacket({ ...V4, proto: 253 }, { ipv4Options: 1, payloadLength: 4 }), (b) => setU16(b, 2, 22)));
  add('UDP length 7', 'bad-l4-header', edited(udp, (b) => setU16(b, 24, 7)));
  add('UDP length 25 past a 24-byte datagram', 'bad-l4-header', edited(udp, (b) => setU16(b, 24, 25)));
  add('TCP data offset 4', 'bad-l4-header', edited(tcp, (b) => { b[32] = 0x40; }));
  add('TCP data offset 15 past the end of a 56-byte packet', 'bad-l4-header', edited(tcp, (b) => { b[32] = 0xf0; }));
  add('TCP header of 19 bytes', 'l4-truncated', cutIpv4(tcp, 39));
  add('ICMP header of 3 bytes', 'l4-truncated', cutIpv4(buildPacket({ ...V4, proto: 'icmp' }), 23));
  add('ESP header of 7 bytes', 'l4-truncated', cutIpv4(buildPacket({ ...V4, proto: 'esp' }), 27));
  add('AH header of 11 bytes', 'l4-truncated', cutIpv4(buildPacket({ ...V4, proto: 'ah' }), 31));
  add('SCTP header of 11 bytes', 'l4-truncated', cutIpv4(buildPacket({ ...V4, proto: 'sctp' }), 31));
  add('ICMPv6 header of 3 bytes', 'l4-truncated', cutIpv6(buildPacket({ ...V6, proto: 'ipv6-icmp' }), 3));
  add('v6 TCP data offset 4', 'bad-l4-header', edited(v6Tcp, (b) => { b[52] = 0x40; }));
  add('v6 UDP length 7', 'bad-l4-header', edited(buildPacket({ ...V6, proto: 'udp' }), (b) => setU16(b, 44, 7)));

  add('IPv6 payload length 0 with a hop-by-hop header (jumbogram)', 'bad-payload-length',
    edited(buildPacket({ ...V6, proto: 'tcp' }, { ipv6ExtHeaders: ['hop-by-hop'] }), (b) => setU16(b, 4, 0)));
  add('IPv6 payload length 0 before a TCP header: the TCP header lies outside the datagram', 'l4-truncated', edited(v6Tcp, (b) => setU16(b, 4, 0)));
  add('IPv6 payload length 100 in a 76-byte packet', 'bad-payload-length', edited(v6Tcp, (b) => setU16(b, 4, 100)));
  // icmpv6-length-zero.pcapng, record 1 (Ethernet stripped): a fuzzed neighbour
  // advertisement with payload length 0 and 32 bytes after the header: the ICMPv6
  // header lies outside the (empty) payload.
  add('real: icmpv6-length-zero.pcapng #1', 'l4-truncated', fromHex(
    '6000000000003afffe80000000000000025a28fffe08f1506e02000000000000' +
    '000000000000004188000b2020800000fe80000000aaaaaaaaaaaaaaaaaaaaaa' +
    'aaaaaaaaaaaaaaaa'));

  add('IPv6 with 17 destination-options headers', 'ext-chain-too-long',
    buildPacket({ ...V6, proto: 'tcp' }, { ipv6ExtHeaders: new Array(17).fill('destination') }));
  add('IPv6 with 16 destination-options headers, then a fragment header', 'ext-chain-too-long',
    buildPacket({ ...V6, proto: 'tcp' }, { ipv6ExtHeaders: [...new Array(16).fill('destination'), { type: 'fragment', offset: 0, more: true }] }));
  add('hop-by-hop after a routing header', 'hop-by-hop-not-first',
    edited(buildPacket({ ...V6, proto: 'tcp' }, { ipv6ExtHeaders: ['routing', 'destination'] }), (b) => { b[40] = 0; }));
  add('hop-by-hop after hop-by-hop', 'hop-by-hop-not-first',
    edited(buildPacket({ ...V6, proto: 'tcp' }, { ipv6ExtHeaders: ['hop-by-hop', 'destination'] }), (b) => { b[40] = 0; }));
  add('destination options claiming 88 bytes in an 84-byte packet', 'ext-header-truncated',
    edited(buildPacket({ ...V6, proto: 'tcp' }, { ipv6ExtHeaders: ['destination'] }), (b) => { b[41] = 10; }));
  add('fragment header with only 4 bytes present', 'ext-header-truncated',
    cutIpv6(buildPacket({ ...V6, proto: 'udp' }, { ipv6ExtHeaders: [{ type: 'fragment', offset: 0, more: true }] }), 4));
  add('HIP header claiming 16 bytes where 8 are', 'ext-header-truncated',
    edited(buildPacket({ ...V6, proto: 59 }, { ipv6ExtHeaders: ['destination'], payloadLength: 0 }), (b) => { b[6] = 139; b[41] = 1; }));

  add('v4 fragment overflow: offset 65528 + 16 bytes', 'fragment-overflow',
    edited(buildPacket({ ...V4, proto: 'udp', fragment: true }), (b) => setU16(b, 6, 0x1fff)));
  add('v6 fragment overflow: offset 65528 + 16 bytes', 'fragment-overflow',
    edited(buildPacket({ ...V6, proto: 'udp', fragment: true }), (b) => setU16(b, 42, 0xfff8)));
  add('RFC 1858 tiny fragment: TCP at offset 8', 'tiny-fragment',
    buildPacket({ ...V4, proto: 'tcp' }, { ipv4Fragment: { offset: 8, more: true } }));
  add('RFC 1858 tiny fragment, last fragment', 'tiny-fragment',
    buildPacket({ ...V4, proto: 'tcp' }, { ipv4Fragment: { offset: 8, more: false }, payloadLength: 1 }));

  add('wire length 70000', 'oversized', tcp, 70000);
  add('wire length 65576', 'oversized', v6Tcp, 65576);
  add('capture-truncated: TCP header cut off (30 of 1500 bytes)', 'l4-truncated', tcp1500.slice(0, 30), 1500);
  add('capture-truncated: hop-by-hop header cut off (44 of 1500 bytes)', 'ext-header-truncated', v6Tcp1500.slice(0, 44), 1500);
  add('capture-truncated: IHL 6 with 21 bytes captured', 'truncated',
    buildPacket({ ...V4, proto: 'udp' }, { ipv4Options: 1 }).slice(0, 21), 48);
  add('v6 first fragment with TCP header of 10 bytes', 'l4-truncated',
    cutIpv6(buildPacket({ ...V6, proto: 'tcp' }, { ipv6ExtHeaders: [{ type: 'fragment', offset: 0, more: true }] }), 18));
  add('UDP length 2008 in an unfragmented 44-byte packet', 'bad-l4-header', edited(udp, (b) => setU16(b, 24, 2008)));
  add('AH payload length 0: an 8-byte AH header', 'bad-l4-header', edited(buildPacket({ ...V4, proto: 'ah' }), (b) => { b[21] = 0; }));
  add('AH payload length 20: 88 bytes past the end', 'bad-l4-header', edited(buildPacket({ ...V4, proto: 'ah' }), (b) => { b[21] = 20; }));
  return cases;
}

// ---------------------------------------------------------------------------
// The corpus

/**
 * Hand-labelled cases, then every proper prefix of every valid seed, labelled by
 * classifyPacket(): once as a packet that really is that short on the wire, and
 * once as a capture of the full-length packet (wireLength = the seed's wire length).
 * Prefixes the contract still calls valid are left out.
 */
export function malformedCorpus(): MalformedCase[] {
  const corpus = handLabelledCases();
  for (const seed of validSeeds()) {
    const wire = seed.wireLength ?? seed.bytes.length;
    for (let n = 0; n < seed.bytes.length; n++) {
      const prefix = seed.bytes.slice(0, n);
      const cut = classifyPacket(prefix);
      if (cut !== 'valid') corpus.push({ name: `${seed.name}: cut to ${n} bytes`, bytes: prefix, reason: cut });
      const captured = classifyPacket(prefix, wire);
      if (captured !== 'valid' && wire !== n) {
        corpus.push({ name: `${seed.name}: ${n} of ${wire} bytes captured`, bytes: prefix, wireLength: wire, reason: captured });
      }
    }
  }
  return corpus;
}

// ---------------------------------------------------------------------------
// Random corruptions

/** mulberry32: small, fast and reproducible across runs and platforms. */
function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 0x100000000;
  };
}

// Values that steer a parser into its less travelled branches: header lengths,
// version nibbles, extension-header and upper-layer protocol numbers.
const INTERESTING_BYTES = [0x00, 0x01, 0x05, 0x07, 0x08, 0x0f, 0x10, 0x40, 0x44, 0x45, 0x4f, 0x60, 0x7f, 0x80, 0xf0, 0xff];
const NEXT_HEADERS = [0, 1, 6, 17, 43, 44, 50, 51, 58, 59, 60, 132, 135, 139, 140, 255];

/**
 * `count` corrupted packets derived from the valid seeds and the hand-labelled
 * cases, reproducible from `seed`: bit flips, byte overwrites, truncations,
 * extensions, and rewrites of the length and next-header fields.
 */
export function randomCorruptions(seed: number, count: number): Uint8Array[] {
  const random = prng(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)];
  const sources = [...validSeeds().map((s) => s.bytes), ...handLabelledCases().map((c) => c.bytes)].filter((b) => b.length <= 2048);
  const out: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    let b = pick(sources).slice();
    const mutations = 1 + Math.floor(random() * 4);
    for (let m = 0; m < mutations; m++) {
      const at = Math.floor(random() * Math.max(b.length, 1));
      switch (Math.floor(random() * 7)) {
        case 0:
          if (b.length > 0) b[at] ^= 1 << Math.floor(random() * 8);
          break;
        case 1:
          if (b.length > 0) b[at] = Math.floor(random() * 256);
          break;
        case 2:
          if (b.length > 0) b[at] = pick(INTERESTING_BYTES);
          break;
        case 3:
          b = b.slice(0, Math.floor(random() * (b.length + 1)));
          break;
        case 4: {
          const extra = Uint8Array.from({ length: 1 + Math.floor(random() * 64) }, () => Math.floor(random() * 256));
          b = Uint8Array.from([...b, ...extra]);
          break;
        }
        case 5: {
          // The field that bounds everything after it: IPv4 total length or IPv6 payload length.
          const field = b.length > 0 && b[0] >> 4 === 6 ? 4 : 2;
          if (b.length >= field + 2) setU16(b, field, random() < 0.5 ? Math.floor(random() * 0x10000) : Math.floor(random() * (b.length + 16)));
          break;
        }
        case 6: {
          const field = b.length > 0 && b[0] >> 4 === 6 ? 6 : 9;
          if (b.length > field) b[field] = pick(NEXT_HEADERS);
          break;
        }
      }
    }
    out.push(b);
  }
  return out;
}
