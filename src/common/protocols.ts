// IP protocol names (as in /etc/protocols and setkey(8)) and numbers.

import { invalid } from './errors.js';

export const PROTOCOLS: Readonly<Record<string, number>> = Object.freeze({
  icmp: 1,
  igmp: 2,
  tcp: 6,
  udp: 17,
  gre: 47,
  esp: 50,
  ah: 51,
  'ipv6-icmp': 58,
  icmpv6: 58,
  icmp6: 58,
  ospf: 89,
  sctp: 132,
  udplite: 136,
});

const NAMES: Record<number, string> = { 1: 'icmp', 2: 'igmp', 6: 'tcp', 17: 'udp', 47: 'gre', 50: 'esp', 51: 'ah', 58: 'ipv6-icmp', 89: 'ospf', 132: 'sctp', 136: 'udplite' };

export const PROTO_ICMP = 1;
/** IPv4 in IP: ESP tunnel mode's next header for an IPv4 inner packet. */
export const PROTO_IPIP = 4;
export const PROTO_TCP = 6;
export const PROTO_UDP = 17;
/** IPv6 in IP: ESP tunnel mode's next header for an IPv6 inner packet. */
export const PROTO_IPV6 = 41;
export const PROTO_ESP = 50;
export const PROTO_AH = 51;
export const PROTO_ICMPV6 = 58;
export const PROTO_SCTP = 132;

/** Protocols whose packets carry ports that selectors can match (R3). */
export function carriesPorts(proto: number): boolean {
  return proto === PROTO_TCP || proto === PROTO_UDP || proto === PROTO_SCTP;
}

export function isIcmp(proto: number): boolean {
  return proto === PROTO_ICMP || proto === PROTO_ICMPV6;
}

/** A protocol given as a name or number -> its number. */
export function protocolNumber(value: unknown, field = 'proto'): number {
  if (typeof value === 'number') {
    if (Number.isInteger(value) && value >= 0 && value <= 255) return value;
    throw invalid(field, value, 'a protocol number must be an integer 0..255');
  }
  if (typeof value === 'string') {
    const n = PROTOCOLS[value.toLowerCase()];
    if (n !== undefined) return n;
    if (/^\d+$/.test(value)) return protocolNumber(Number(value), field);
    throw invalid(field, value, `unknown protocol name (known: ${Object.keys(PROTOCOLS).join(', ')})`);
  }
  throw invalid(field, value, 'expected a protocol name or number');
}

export function protocolName(n: number): string {
  return NAMES[n] ?? String(n);
}
