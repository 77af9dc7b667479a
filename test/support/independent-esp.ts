// An ESP encoder written independently of the engine, straight from the RFCs,
// using only node:crypto. Tests use it to produce packets that another ESP
// implementation must decrypt, so that both sides do not share a misreading.
//
//   RFC 4303  ESP: packet format (§2), padding (§2.4), ICV input (§3.3.2.1 incl. ESN high bits),
//             tunnel and transport modes (§3.1)
//   RFC 4106  AES-GCM in ESP: key = AES key || 4-byte salt (§8.1), nonce = salt || 8-byte IV (§4),
//             AAD = SPI || [SN high] || SN low (§5), 16-octet ICV, 4-byte padding alignment (§3.2)
//   RFC 3602  AES-CBC in ESP: 16-byte random IV carried in the payload, 16-byte block alignment
//   RFC 4868  HMAC-SHA-256-128: 256-bit key, ICV = first 128 bits of HMAC-SHA-256
//   RFC 2404  HMAC-SHA-1-96: 160-bit key, ICV = first 96 bits of HMAC-SHA-1
//   RFC 3948  UDP encapsulation: UDP header right before the ESP header, checksum 0 (IPv4)
//
// This file deliberately does not import anything from src/.

import { createCipheriv, createHmac, randomBytes, type CipherGCMTypes } from 'node:crypto';

export type IndependentEnc = 'aes-gcm-16' | 'aes-cbc';
export type IndependentAuth = 'hmac-sha256-128' | 'hmac-sha1-96' | null;

export interface IndependentSa {
  spi: number;
  mode: 'tunnel' | 'transport';
  /** Outer address family. In transport mode it must equal the inner packet's version. */
  family: 4 | 6;
  /** Outer addresses (tunnel endpoints). Ignored in transport mode, where the inner packet's own addresses are used. */
  src: string;
  dst: string;
  enc: IndependentEnc;
  /** aes-gcm-16: AES key (16/24/32 bytes) followed by the 4-byte salt (RFC 4106 §8.1); aes-cbc: AES key (16/24/32 bytes). */
  encKey: Uint8Array;
  /** Must be null for aes-gcm-16 (a combined-mode cipher carries its own ICV). */
  auth: IndependentAuth;
  /** hmac-sha256-128: 32 bytes (RFC 4868 §2.1.1); hmac-sha1-96: 20 bytes (RFC 2404 §3). */
  authKey?: Uint8Array;
  /** Extended sequence numbers (RFC 4303 §2.2.1): the high 32 bits of seq are authenticated but not sent. */
  esn?: boolean;
  /** RFC 3948 UDP encapsulation. The UDP checksum is 0 over IPv4 (RFC 3948 §2.1); over IPv6, where 0 is not allowed (RFC 8200 §8.1), it is computed. */
  udpEncap?: { sport: number; dport: number };
}

export interface IndependentEspOptions {
  /** Explicit IV: 8 bytes for aes-gcm-16 (RFC 4106 §3.1), 16 bytes for aes-cbc (RFC 3602 §3). Random when absent. */
  iv?: Uint8Array;
  /**
   * Align payload + padding + the two trailer bytes to this many bytes instead of the
   * cipher's minimum (4 for GCM, 16 for CBC). Must be a multiple of that minimum, and the
   * resulting pad length must fit in a byte (RFC 4303 §2.4 allows extra padding).
   */
  padTo?: number;
}

const IPPROTO_IPV4 = 4;
const IPPROTO_IPV6 = 41;
const IPPROTO_UDP = 17;
const IPPROTO_ESP = 50;
const DEFAULT_TTL = 64;
const DEFAULT_HOP_LIMIT = 64;

/** IPv6 next-header values that are extension headers (RFC 8200 §4, RFC 7045 / IANA list). */
const IPV6_EXTENSION_HEADERS = new Set([0, 43, 44, 50, 51, 60, 135, 139, 140, 253, 254]);

interface CipherSuite {
  ivLength: number;
  blockSize: number;
  icvLength: number;
}

const GCM: CipherSuite = { ivLength: 8, blockSize: 4, icvLength: 16 };
const CBC: CipherSuite = { ivLength: 16, blockSize: 16, icvLength: 0 };
const HMAC = {
  'hmac-sha256-128': { hash: 'sha256', keyLength: 32, icvLength: 16 },
  'hmac-sha1-96': { hash: 'sha1', keyLength: 20, icvLength: 12 },
} as const;

/**
 * Encapsulates one IP packet in ESP and returns the full outer IP packet.
 *
 * seq is the full sequence number: below 2^32 without ESN, below 2^64 with ESN
 * (only its low 32 bits are transmitted).
 */
export function independentEsp(
  sa: IndependentSa,
  inner: Uint8Array,
  seq: bigint,
  options: IndependentEspOptions = {},
): Uint8Array {
  validateSa(sa);
  if (!(inner instanceof Uint8Array)) throw new TypeError('inner must be a Uint8Array holding an IPv4 or IPv6 packet');
  if (typeof seq !== 'bigint') throw new TypeError(`seq must be a bigint, got ${typeof seq}`);
  const seqLimit = sa.esn ? 1n << 64n : 1n << 32n;
  if (seq < 0n || seq >= seqLimit) {
    throw new RangeError(`seq must be in 0..${seqLimit - 1n} (${sa.esn ? 'ESN' : '32-bit sequence numbers'}), got ${seq}`);
  }
  const suite = sa.enc === 'aes-gcm-16' ? GCM : CBC;
  const iv = options.iv ?? randomBytes(suite.ivLength);
  if (!(iv instanceof Uint8Array) || iv.length !== suite.ivLength) {
    throw new RangeError(`options.iv must be ${suite.ivLength} bytes for ${sa.enc}`);
  }
  const align = options.padTo ?? suite.blockSize;
  if (!Number.isInteger(align) || align < suite.blockSize || align % suite.blockSize !== 0) {
    throw new RangeError(`options.padTo must be a positive multiple of ${suite.blockSize} for ${sa.enc}, got ${options.padTo}`);
  }

  // What ESP protects, and what stays outside it.
  let protectedBytes: Uint8Array;
  let nextHeader: number;
  let outerHeader: Uint8Array; // complete except for its length / protocol fields
  const version = ipVersion(inner);
  if (sa.mode === 'tunnel') {
    if (inner.length < (version === 4 ? 20 : 40)) throw new RangeError(`inner IPv${version} packet is too short (${inner.length} bytes)`);
    protectedBytes = inner;
    nextHeader = version === 4 ? IPPROTO_IPV4 : IPPROTO_IPV6;
    outerHeader = sa.family === 4 ? ipv4Header(parseIpv4(sa.src, 'sa.src'), parseIpv4(sa.dst, 'sa.dst')) : ipv6Header(parseIpv6(sa.src, 'sa.src'), parseIpv6(sa.dst, 'sa.dst'));
  } else {
    if (version !== sa.family) {
      throw new RangeError(`sa.family is ${sa.family} but the inner packet is IPv${version}; in transport mode they must match`);
    }
    const split = version === 4 ? splitIpv4(inner) : splitIpv6(inner);
    outerHeader = split.header;
    protectedBytes = split.payload;
    nextHeader = split.protocol;
  }

  // Payload || Padding || Pad Length || Next Header (RFC 4303 §2.4, §2.5, §2.6).
  const padLength = (align - ((protectedBytes.length + 2) % align)) % align;
  if (padLength > 255) throw new RangeError(`options.padTo ${align} needs ${padLength} bytes of padding; at most 255 fit`);
  const plaintext = new Uint8Array(protectedBytes.length + padLength + 2);
  plaintext.set(protectedBytes, 0);
  for (let i = 0; i < padLength; i++) plaintext[protectedBytes.length + i] = i + 1;
  plaintext[plaintext.length - 2] = padLength;
  plaintext[plaintext.length - 1] = nextHeader;

  const header = new Uint8Array(8); // SPI, sequence number (low 32 bits)
  const headerView = new DataView(header.buffer);
  headerView.setUint32(0, sa.spi);
  headerView.setUint32(4, Number(seq & 0xffff_ffffn));
  const seqHigh = u32be(Number(seq >> 32n));

  let esp: Uint8Array;
  if (sa.enc === 'aes-gcm-16') {
    const key = sa.encKey.subarray(0, sa.encKey.length - 4);
    const salt = sa.encKey.subarray(sa.encKey.length - 4);
    const nonce = concat(salt, iv); // RFC 4106 §4
    const aad = sa.esn ? concat(header.subarray(0, 4), seqHigh, header.subarray(4, 8)) : header; // RFC 4106 §5
    const cipher = createCipheriv(`aes-${key.length * 8}-gcm` as CipherGCMTypes, key, nonce, { authTagLength: GCM.icvLength });
    cipher.setAAD(aad);
    const ciphertext = concat(cipher.update(plaintext), cipher.final());
    esp = concat(header, iv, ciphertext, cipher.getAuthTag());
  } else {
    const cipher = createCipheriv(`aes-${sa.encKey.length * 8}-cbc`, sa.encKey, iv);
    cipher.setAutoPadding(false); // ESP does its own padding
    const ciphertext = concat(cipher.update(plaintext), cipher.final());
    const body = concat(header, iv, ciphertext);
    if (sa.auth === null) {
      esp = body;
    } else {
      const { hash, icvLength } = HMAC[sa.auth];
      const hmac = createHmac(hash, sa.authKey as Uint8Array);
      hmac.update(body);
      if (sa.esn) hmac.update(seqHigh); // RFC 4303 §3.3.2.1: high-order ESN bits appended, not sent
      esp = concat(body, hmac.digest().subarray(0, icvLength));
    }
  }

  let ipPayload = esp;
  let protocol = IPPROTO_ESP;
  if (sa.udpEncap) {
    const udp = new Uint8Array(8);
    const v = new DataView(udp.buffer);
    v.setUint16(0, sa.udpEncap.sport);
    v.setUint16(2, sa.udpEncap.dport);
    v.setUint16(4, 8 + esp.length);
    v.setUint16(6, 0);
    ipPayload = concat(udp, esp);
    protocol = IPPROTO_UDP;
  }
  const outer = finishIpHeader(outerHeader, protocol, ipPayload.length);
  const packet = concat(outer, ipPayload);
  if (sa.udpEncap && (outer[0]! >> 4) === 6) {
    // A zero UDP checksum is not allowed over IPv6; compute the real one.
    const sum = udpIpv6Checksum(outer.subarray(8, 24), outer.subarray(24, 40), ipPayload);
    new DataView(packet.buffer, packet.byteOffset).setUint16(outer.length + 6, sum);
  }
  return packet;
}

// ---------------------------------------------------------------------------
// Validation

function validateSa(sa: IndependentSa): void {
  if (sa === null || typeof sa !== 'object') throw new TypeError('sa must be an object');
  if (!Number.isInteger(sa.spi) || sa.spi < 0 || sa.spi > 0xffff_ffff) throw new RangeError(`sa.spi must be a 32-bit unsigned integer, got ${sa.spi}`);
  if (sa.mode !== 'tunnel' && sa.mode !== 'transport') throw new TypeError(`sa.mode must be 'tunnel' or 'transport', got ${String(sa.mode)}`);
  if (sa.family !== 4 && sa.family !== 6) throw new TypeError(`sa.family must be 4 or 6, got ${String(sa.family)}`);
  if (!(sa.encKey instanceof Uint8Array)) throw new TypeError('sa.encKey must be a Uint8Array');
  if (sa.enc === 'aes-gcm-16') {
    if (![20, 28, 36].includes(sa.encKey.length)) {
      throw new RangeError(`sa.encKey for aes-gcm-16 must be a 16/24/32-byte AES key plus a 4-byte salt (20/28/36 bytes), got ${sa.encKey.length}`);
    }
    if (sa.auth !== null) throw new TypeError(`sa.auth must be null with aes-gcm-16 (RFC 4106 provides the ICV), got ${String(sa.auth)}`);
  } else if (sa.enc === 'aes-cbc') {
    if (![16, 24, 32].includes(sa.encKey.length)) throw new RangeError(`sa.encKey for aes-cbc must be 16, 24 or 32 bytes, got ${sa.encKey.length}`);
    if (sa.auth !== null) {
      const spec = HMAC[sa.auth];
      if (spec === undefined) throw new TypeError(`sa.auth must be 'hmac-sha256-128', 'hmac-sha1-96' or null, got ${String(sa.auth)}`);
      if (!(sa.authKey instanceof Uint8Array)) throw new TypeError(`sa.authKey must be a Uint8Array for ${sa.auth}`);
      if (sa.authKey.length !== spec.keyLength) throw new RangeError(`sa.authKey for ${sa.auth} must be ${spec.keyLength} bytes, got ${sa.authKey.length}`);
    }
  } else {
    throw new TypeError(`sa.enc must be 'aes-gcm-16' or 'aes-cbc', got ${String(sa.enc)}`);
  }
  if (sa.esn !== undefined && typeof sa.esn !== 'boolean') throw new TypeError('sa.esn must be a boolean');
  if (sa.udpEncap !== undefined) {
    for (const port of ['sport', 'dport'] as const) {
      const value = sa.udpEncap[port];
      if (!Number.isInteger(value) || value < 1 || value > 0xffff) throw new RangeError(`sa.udpEncap.${port} must be in 1..65535, got ${value}`);
    }
  }
}

// ---------------------------------------------------------------------------
// IP headers

function ipVersion(packet: Uint8Array): 4 | 6 {
  if (packet.length === 0) throw new RangeError('inner packet is empty');
  const version = packet[0]! >> 4;
  if (version !== 4 && version !== 6) throw new RangeError(`inner packet has IP version ${version}; expected 4 or 6`);
  return version;
}

/** Outer IPv4 header without options: TTL 64, ID 0, no flags; length, protocol and checksum filled in later. */
function ipv4Header(src: Uint8Array, dst: Uint8Array): Uint8Array {
  const h = new Uint8Array(20);
  h[0] = 0x45;
  h[8] = DEFAULT_TTL;
  h.set(src, 12);
  h.set(dst, 16);
  return h;
}

/** Outer IPv6 header: traffic class and flow label 0, hop limit 64. */
function ipv6Header(src: Uint8Array, dst: Uint8Array): Uint8Array {
  const h = new Uint8Array(40);
  h[0] = 0x60;
  h[7] = DEFAULT_HOP_LIMIT;
  h.set(src, 8);
  h.set(dst, 24);
  return h;
}

/** Sets the protocol / next header and the length fields, and the IPv4 header checksum. Returns a copy. */
function finishIpHeader(header: Uint8Array, protocol: number, payloadLength: number): Uint8Array {
  const h = header.slice();
  const v = new DataView(h.buffer);
  if ((h[0]! >> 4) === 4) {
    const total = h.length + payloadLength;
    if (total > 0xffff) throw new RangeError(`the ESP packet would be ${total} bytes, more than an IPv4 packet can hold`);
    v.setUint16(2, total);
    h[9] = protocol;
    v.setUint16(10, 0);
    v.setUint16(10, internetChecksum(h));
  } else {
    if (payloadLength > 0xffff) throw new RangeError(`the ESP payload would be ${payloadLength} bytes, more than an IPv6 packet can hold without a jumbogram`);
    v.setUint16(4, payloadLength);
    h[6] = protocol;
  }
  return h;
}

interface Split {
  header: Uint8Array;
  payload: Uint8Array;
  protocol: number;
}

function splitIpv4(packet: Uint8Array): Split {
  if (packet.length < 20) throw new RangeError(`inner IPv4 packet is too short (${packet.length} bytes)`);
  const v = new DataView(packet.buffer, packet.byteOffset, packet.byteLength);
  const headerLength = (packet[0]! & 0x0f) * 4;
  const total = v.getUint16(2);
  if (headerLength < 20 || headerLength > total || total > packet.length) {
    throw new RangeError(`inner IPv4 header is inconsistent (IHL ${headerLength} bytes, total length ${total}, ${packet.length} bytes given)`);
  }
  if ((v.getUint16(6) & 0x3fff) !== 0) throw new RangeError('transport mode applies to whole datagrams; the inner IPv4 packet is a fragment');
  return { header: packet.slice(0, headerLength), payload: packet.subarray(headerLength, total), protocol: packet[9]! };
}

function splitIpv6(packet: Uint8Array): Split {
  if (packet.length < 40) throw new RangeError(`inner IPv6 packet is too short (${packet.length} bytes)`);
  const v = new DataView(packet.buffer, packet.byteOffset, packet.byteLength);
  const payloadLength = v.getUint16(4);
  if (40 + payloadLength > packet.length) {
    throw new RangeError(`inner IPv6 payload length ${payloadLength} exceeds the ${packet.length - 40} bytes given`);
  }
  const protocol = packet[6]!;
  if (IPV6_EXTENSION_HEADERS.has(protocol)) {
    throw new RangeError(`inner IPv6 packet starts with extension header ${protocol}; transport mode here supports only packets without extension headers`);
  }
  return { header: packet.slice(0, 40), payload: packet.subarray(40, 40 + payloadLength), protocol };
}

// ---------------------------------------------------------------------------
// Addresses and checksums

function parseIpv4(text: string, field: string): Uint8Array {
  const parts = typeof text === 'string' ? text.split('.') : [];
  if (parts.length !== 4 || !parts.every((p) => /^(0|[1-9]\d{0,2})$/.test(p) && Number(p) <= 255)) {
    throw new TypeError(`${field} must be a dotted-quad IPv4 address, got ${JSON.stringify(text)}`);
  }
  return Uint8Array.from(parts.map(Number));
}

function parseIpv6(text: string, field: string): Uint8Array {
  const bad = (): TypeError => new TypeError(`${field} must be an IPv6 address, got ${JSON.stringify(text)}`);
  if (typeof text !== 'string') throw bad();
  let s = text;
  const lastColon = s.lastIndexOf(':');
  if (s.includes('.', lastColon)) {
    // A trailing dotted quad, as in ::ffff:192.0.2.1, stands for the last two groups.
    const quad = parseIpv4(s.slice(lastColon + 1), field);
    const hex = (hi: number, lo: number): string => ((hi << 8) | lo).toString(16);
    s = `${s.slice(0, lastColon + 1)}${hex(quad[0]!, quad[1]!)}:${hex(quad[2]!, quad[3]!)}`;
  }
  const halves = s.split('::');
  if (halves.length > 2) throw bad();
  const groups = (part: string): number[] => {
    if (part === '') return [];
    return part.split(':').map((g) => {
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) throw bad();
      return parseInt(g, 16);
    });
  };
  let words: number[];
  if (halves.length === 2) {
    const head = groups(halves[0]!);
    const rest = groups(halves[1]!);
    const zeros = 8 - head.length - rest.length;
    if (zeros < 1) throw bad();
    words = [...head, ...new Array<number>(zeros).fill(0), ...rest];
  } else {
    words = groups(s);
  }
  if (words.length !== 8) throw bad();
  const out = new Uint8Array(16);
  words.forEach((w, i) => {
    out[2 * i] = w >> 8;
    out[2 * i + 1] = w & 0xff;
  });
  return out;
}

/** RFC 1071 one's-complement sum, complemented. */
function internetChecksum(...parts: Uint8Array[]): number {
  let sum = 0;
  for (const bytes of parts) {
    for (let i = 0; i < bytes.length; i += 2) sum += (bytes[i]! << 8) | (bytes[i + 1] ?? 0);
    // Parts other than the last are always of even length here.
  }
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

function udpIpv6Checksum(src: Uint8Array, dst: Uint8Array, udp: Uint8Array): number {
  const pseudo = new Uint8Array(40);
  pseudo.set(src, 0);
  pseudo.set(dst, 16);
  new DataView(pseudo.buffer).setUint32(32, udp.length);
  pseudo[39] = IPPROTO_UDP;
  const sum = internetChecksum(pseudo, udp);
  return sum === 0 ? 0xffff : sum;
}

function u32be(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n);
  return b;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}
