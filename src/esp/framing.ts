// How an outbound packet is framed as ESP (RFC 4303, RFC 3948), without any
// cryptography: header lengths, padding, and the checks that make a packet one that
// cannot be encapsulated (R23). esp/encrypt.ts seals into this frame with node:crypto;
// the page's adapter (esp/unsealed.ts) takes the same decisions without sealing.

import { Reason } from '../../assembly/layout.js';
import { IPV4_MIN_HEADER as IPV4_HEADER, IPV6_HEADER, UDP_HEADER, ESP_HEADER, PROTO_IPIP, PROTO_IPV6 } from '../../assembly/wire-defs.js';
import { Ipv6NextHeader } from '../wire/ipv6.js';
import { ENCRYPTION, INTEGRITY, padLength, type EncryptionTransform, type IntegrityTransform } from './algorithms.js';

const MAX_IP = 65535;

/** What framing needs of an SA. */
export interface FramedSa {
  mode: 'tunnel' | 'transport';
  family: 4 | 6;
  enc: EncryptionTransform;
  encap: { sport: number; dport: number } | null;
  ivLength: number;
  icvLength: number;
}

export interface EspFrame {
  headerLength: number;   // octets of IP header in front of ESP (and UDP)
  payloadStart: number;   // where the protected payload starts in `inner`
  nextHeader: number;
  nhAt: number;           // transport: where the protocol/next-header octet is
  pad: number;
  udp: number;
  espLength: number;
  total: number;
  family: number;
}

/** The frame of `inner` on `sa`, or Reason.CannotEncapsulate. */
export function espFrame(sa: FramedSa, inner: Uint8Array, padding?: number): EspFrame | Reason {
  const innerVersion = inner[0] >> 4;
  let headerLength: number;
  let payloadStart: number;
  let nextHeader: number;
  let nhAt = -1;
  if (sa.mode === 'tunnel') {
    headerLength = sa.family === 4 ? IPV4_HEADER : IPV6_HEADER;
    payloadStart = 0;
    nextHeader = innerVersion === 4 ? PROTO_IPIP : PROTO_IPV6;
  } else {
    const split = transportSplit(inner);
    if (split === null) return Reason.CannotEncapsulate;
    headerLength = payloadStart = split.headerLength;
    nextHeader = split.nextHeader;
    nhAt = split.nhAt;
  }
  const payload = inner.length - payloadStart;
  const pad = paddingFor(sa, payload, padding);
  if (pad < 0) return Reason.CannotEncapsulate;
  const udp = sa.encap ? UDP_HEADER : 0;
  const ctLength = payload + pad + 2;
  const espLength = ESP_HEADER + sa.ivLength + ctLength + sa.icvLength;
  const total = headerLength + udp + espLength;
  const family = sa.mode === 'tunnel' ? sa.family : innerVersion;
  if ((family === 4 ? total : total - IPV6_HEADER) > MAX_IP) return Reason.CannotEncapsulate;
  return { headerLength, payloadStart, nextHeader, nhAt, pad, udp, espLength, total, family };
}

/** Octets of padding: the minimum, or the caller's (TFC) if it keeps the alignment; -1 if not. */
export function paddingFor(sa: Pick<FramedSa, 'enc'>, payloadLength: number, padding?: number): number {
  const pad = padding ?? padLength(payloadLength, sa.enc.align);
  return Number.isInteger(pad) && pad >= 0 && pad <= 255 && (payloadLength + pad + 2) % sa.enc.align === 0 ? pad : -1;
}

// Transport mode: the IP header (IPv6: with hop-by-hop and routing headers, which
// options go inside). Fragments are refused: IPsec applies before fragmentation
// (RFC 4301 §7), so a fragment cannot be protected in transport mode.
function transportSplit(inner: Uint8Array): { headerLength: number; nextHeader: number; nhAt: number } | null {
  if (inner[0] >> 4 === 4) {
    if (((inner[6] & 0x3f) | inner[7]) !== 0) return null; // MF or an offset
    return { headerLength: (inner[0] & 0x0f) * 4, nextHeader: inner[9], nhAt: 9 };
  }
  let nhAt = 6;
  let off = IPV6_HEADER;
  let next = inner[6];
  while (next === Ipv6NextHeader.HOP_BY_HOP || next === Ipv6NextHeader.ROUTING) {
    if (off + 2 > inner.length) return null;
    nhAt = off;
    next = inner[off];
    off += (inner[off + 1] + 1) * 8;
  }
  if (next === Ipv6NextHeader.FRAGMENT || off > inner.length) return null;
  return { headerLength: off, nextHeader: next, nhAt };
}

/** The framing facts of an SA from its checked key fields (esp/keys.ts). */
export function framedSa(mode: 'tunnel' | 'transport', family: 4 | 6, keys: { encryption: { algorithm: keyof typeof ENCRYPTION }; integrity?: { algorithm: keyof typeof INTEGRITY }; encap?: { sport?: number; dport?: number } }, nattPort: number): FramedSa {
  const enc = ENCRYPTION[keys.encryption.algorithm];
  const auth = keys.integrity ? INTEGRITY[keys.integrity.algorithm] : null;
  return {
    mode, family, enc,
    encap: keys.encap ? { sport: keys.encap.sport ?? nattPort, dport: keys.encap.dport ?? nattPort } : null,
    ivLength: enc.ivLength,
    icvLength: enc.aead ? enc.icvLength : auth!.icvLength,
  };
}
