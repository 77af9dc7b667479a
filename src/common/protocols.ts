// IP protocol names (as in /etc/protocols and setkey(8)) and numbers.

import { invalid } from './errors.js';

import {
  PROTO_AH, PROTO_ESP, PROTO_GRE, PROTO_ICMP, PROTO_ICMPV6, PROTO_IGMP, PROTO_OSPF, PROTO_SCTP, PROTO_TCP, PROTO_UDP, PROTO_UDPLITE,
} from '../../assembly/wire-defs.js';

// The numbers are defined once, in assembly/wire-defs.ts (shared with the data plane).
export {
  PROTO_AH, PROTO_ESP, PROTO_ICMP, PROTO_ICMPV6, PROTO_IPIP, PROTO_IPV6, PROTO_SCTP, PROTO_TCP, PROTO_UDP,
} from '../../assembly/wire-defs.js';

/** Canonical names, as /etc/protocols spells them; protocolName() gives these. */
const CANONICAL: readonly (readonly [string, number])[] = [
  ['icmp', PROTO_ICMP], ['igmp', PROTO_IGMP], ['tcp', PROTO_TCP], ['udp', PROTO_UDP], ['gre', PROTO_GRE], ['esp', PROTO_ESP],
  ['ah', PROTO_AH], ['ipv6-icmp', PROTO_ICMPV6], ['ospf', PROTO_OSPF], ['sctp', PROTO_SCTP], ['udplite', PROTO_UDPLITE],
];

/** Names setkey(8) and users write, canonical and aliases -> number. */
export const PROTOCOLS: Readonly<Record<string, number>> = Object.freeze({
  ...Object.fromEntries(CANONICAL),
  icmpv6: PROTO_ICMPV6,
  icmp6: PROTO_ICMPV6,
});

const NAMES: Readonly<Record<number, string>> = Object.fromEntries(CANONICAL.map(([name, n]) => [n, name]));

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
