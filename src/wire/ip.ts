// The few fields a per-packet classifier of whole IP packets needs (replay's
// direction logic), read without allocating a view per packet. Offsets and sizes
// come from assembly/wire-defs.ts like every other reader of these headers.

import * as W from '../../assembly/wire-defs.js';
import { readU16 } from './field.js';

/** Where an IP packet's fields are: filled in place by summarizeIp(). */
export interface IpSummary {
  family: 4 | 6;
  protocol: number;
  /** Offset of the upper-layer header (after the IPv4 options; IPv6: the fixed header only). */
  l4: number;
  srcAt: number;
  dstAt: number;
}

/** An IpSummary to reuse across packets. */
export function ipSummary(): IpSummary {
  return { family: 4, protocol: 0, l4: 0, srcAt: 0, dstAt: 0 };
}

/**
 * Fill `out` for the packet in `bytes`; false when it is neither IPv4 nor IPv6 or
 * too short for its fixed header (then `out` is unchanged).
 */
export function summarizeIp(bytes: Uint8Array, out: IpSummary): boolean {
  const version = bytes.length > 0 ? bytes[0] >> 4 : 0;
  if (version === 4 && bytes.length >= W.IPV4_MIN_HEADER) {
    out.family = 4;
    out.protocol = bytes[W.IPV4_PROTOCOL];
    out.l4 = (bytes[W.IPV4_VER_IHL] & 15) * 4;
    out.srcAt = W.IPV4_SRC;
    out.dstAt = W.IPV4_DST;
    return true;
  }
  if (version === 6 && bytes.length >= W.IPV6_HEADER) {
    out.family = 6;
    out.protocol = bytes[W.IPV6_NEXT_HEADER];
    out.l4 = W.IPV6_HEADER;
    out.srcAt = W.IPV6_SRC;
    out.dstAt = W.IPV6_DST;
    return true;
  }
  return false;
}

/** The UDP destination port at `l4`, or -1 when the UDP header is not all there. */
export function udpDestinationPort(bytes: Uint8Array, l4: number): number {
  return bytes.length >= l4 + W.UDP_HEADER ? readU16(bytes, l4 + 2) : -1;
}

/**
 * Offset of the IKE header in a UDP payload at `l4` to `port`: right after the UDP
 * header on 500, after the non-ESP marker on 4500 (RFC 3948 §2.2); -1 when the
 * datagram carries no whole IKE header (or, on 4500, is ESP).
 */
export function ikeHeaderAt(bytes: Uint8Array, l4: number, port: number): number {
  let at = -1;
  if (port === W.IKE_PORT) at = l4 + W.UDP_HEADER;
  else if (port === W.NATT_PORT && bytes.length >= l4 + W.UDP_HEADER + W.NON_ESP_MARKER_LEN) {
    const m = l4 + W.UDP_HEADER;
    if ((bytes[m] | bytes[m + 1] | bytes[m + 2] | bytes[m + 3]) === 0) at = m + W.NON_ESP_MARKER_LEN;
  }
  return at >= 0 && bytes.length >= at + W.IKE_HEADER ? at : -1;
}

/** An IKE_SA_INIT request that starts a new IKE SA: exchange type 34, responder SPI zero. */
export function isIkeSaInitStart(bytes: Uint8Array, at: number): boolean {
  if (bytes[at + W.IKE_EXCHANGE_TYPE] !== W.IKE_SA_INIT) return false;
  for (let i = 0; i < 8; i++) if (bytes[at + W.IKE_RESPONDER_SPI + i] !== 0) return false;
  return true;
}
