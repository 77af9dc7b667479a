// The Internet checksum (RFC 1071) and the pseudo-headers that TCP, UDP and
// ICMPv6 fold into it (RFC 793 / 768 for IPv4, RFC 8200 §8.1 for IPv6).
//
// Sums are kept as plain numbers and folded only at the end: a 32-bit double
// holds the sum of 65535 max-valued words without losing bits, so callers can
// chain partial sums (pseudo-header, then segment) by passing `initial`.

import { invalid } from '../common/errors.js';
import { availableFrom } from './field.js';

/** Fold carries until the sum fits in 16 bits (end-around carry). */
export function foldSum(sum: number): number {
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
  return sum;
}

/**
 * One's-complement sum of `length` bytes at `offset`, folded to 16 bits and added
 * to `initial`. An odd trailing byte is padded with a zero byte, as RFC 1071 says.
 */
export function onesComplementSum(bytes: Uint8Array, offset = 0, length = bytes.length - offset, initial = 0): number {
  const available = availableFrom('checksum', bytes, offset);
  if (!Number.isInteger(length) || length < 0 || length > available) {
    throw invalid('checksum length', length, `must be an integer 0..${available}`);
  }
  let sum = initial;
  const end = offset + length;
  let i = offset;
  for (; i + 1 < end; i += 2) sum += (bytes[i] << 8) | bytes[i + 1];
  if (i < end) sum += bytes[i] << 8;
  return foldSum(sum);
}

/** The value to store in a checksum field (whose bytes must be zero while summing). */
export function internetChecksum(bytes: Uint8Array, offset = 0, length = bytes.length - offset, initial = 0): number {
  return ~onesComplementSum(bytes, offset, length, initial) & 0xffff;
}

/**
 * Sum of the pseudo-header for an upper-layer protocol: source and destination
 * address bytes (4 each for IPv4, 16 for IPv6), protocol number and upper-layer
 * length. The IPv4 form carries the length in 16 bits, the IPv6 form in 32; the
 * one's-complement sum is the same for both layouts, so one function serves.
 */
export function pseudoHeaderSum(src: Uint8Array, dst: Uint8Array, protocol: number, upperLayerLength: number): number {
  if (src.length !== dst.length || (src.length !== 4 && src.length !== 16)) {
    throw invalid('pseudo-header', `${src.length}+${dst.length} address bytes`, 'needs two IPv4 (4-byte) or two IPv6 (16-byte) addresses');
  }
  if (!Number.isInteger(upperLayerLength) || upperLayerLength < 0 || upperLayerLength > 0xffffffff) {
    throw invalid('pseudo-header length', upperLayerLength, 'must be a non-negative 32-bit integer');
  }
  let sum = onesComplementSum(src) + onesComplementSum(dst);
  sum += protocol & 0xff;
  sum += Math.floor(upperLayerLength / 0x10000) + (upperLayerLength & 0xffff);
  return foldSum(sum);
}

/** Addresses for a pseudo-header: raw address bytes as they appear in the IP header. */
export interface PseudoHeader {
  src: Uint8Array;
  dst: Uint8Array;
}

/**
 * Checksum of an upper-layer segment (TCP, UDP, ICMPv6) including its pseudo-header.
 * The segment's own checksum field must be zero when computing the value to store;
 * over a segment with its stored checksum, a correct segment yields 0.
 */
export function upperLayerChecksum(pseudo: PseudoHeader, protocol: number, segment: Uint8Array): number {
  const initial = pseudoHeaderSum(pseudo.src, pseudo.dst, protocol, segment.length);
  return internetChecksum(segment, 0, segment.length, initial);
}

// The same sum for the packet path (issue 16, TUN offloads: every segment the
// gateway cuts from a TSO frame, and every packet it merges for the device, is
// summed once). No range checks (callers checked the lengths) and, where the
// bytes start on a 4-byte boundary of their ArrayBuffer, four bytes a step:
// the one's-complement sum does not depend on byte order (RFC 1071 §2(B)), so
// little-endian 32-bit words are summed, folded and byte-swapped at the end.
let wordsOf: ArrayBufferLike | null = null;
let words: Uint32Array<ArrayBufferLike> = new Uint32Array(0);

/**
 * One's-complement sum (folded to 16 bits, not complemented) of `length` bytes at
 * `offset`, plus `initial` (any non-negative sum below 2^48). The caller
 * guarantees `offset + length <= bytes.length`.
 */
export function packetSum(bytes: Uint8Array, offset: number, length: number, initial = 0): number {
  let i = offset;
  const end = offset + length;
  let sum = initial;
  const at = bytes.byteOffset + i;
  if ((at & 3) === 0 && length >= 32) {
    if (wordsOf !== bytes.buffer) {
      wordsOf = bytes.buffer;
      words = new Uint32Array(bytes.buffer, 0, bytes.buffer.byteLength >>> 2);
    }
    let k = at >>> 2;
    const kEnd = k + (length >>> 2);
    let le = 0;
    for (; k < kEnd; k++) le += words[k];
    while (le > 0xffff) le = (le % 0x10000) + Math.floor(le / 0x10000);
    sum += ((le & 0xff) << 8) | (le >>> 8);
    i += length & ~3;
  }
  for (; i + 1 < end; i += 2) sum += (bytes[i] << 8) | bytes[i + 1];
  if (i < end) sum += bytes[i] << 8;
  return foldSum(sum);
}
