// The host's half of an ESP SA: its keys and how its packets are framed. The
// engine's SA table (WASM) holds selectors, state, counters and the replay window,
// never a key (docs/design.md §7); this object is found by the SA id the engine's
// verdict names.
//
// Keys are node:crypto KeyObjects made once at install: the bytes are not kept in a
// JS array, and no dump, log line or error message can print them (inspect and JSON
// show only algorithm names and key sizes).

import { createSecretKey, type KeyObject } from 'node:crypto';
import { inspect } from 'node:util';
import { LarvalError, invalid } from '../common/errors.js';
import { NATT_PORT } from '../../assembly/wire-defs.js';
import {
  ENCRYPTION, ENCRYPTION_ALGORITHMS, INTEGRITY, INTEGRITY_ALGORITHMS,
  type EncryptionAlgorithm, type EncryptionTransform, type IntegrityAlgorithm, type IntegrityTransform,
} from './algorithms.js';

/** Key material: bytes, or a hex string (an optional 0x prefix, as setkey writes it). */
export type KeyMaterial = Uint8Array | string;

/** An SA's keys and algorithms, as SaSpec takes them. */
export interface EspKeysSpec {
  encryption?: { algorithm: EncryptionAlgorithm; key: KeyMaterial };
  integrity?: { algorithm: IntegrityAlgorithm; key: KeyMaterial };
  /** UDP encapsulation (RFC 3948). Ports default to 4500. */
  encap?: { sport?: number; dport?: number };
}

/** What dump()/getSA() show of an SA's transform: names and sizes, never keys. */
export interface EspTransformInfo {
  encryption: { algorithm: EncryptionAlgorithm; keyBits: number };
  integrity: { algorithm: IntegrityAlgorithm; keyBits: number } | null;
  encap: { sport: number; dport: number } | null;
}

export interface EspFraming {
  spi: number;
  mode: 'tunnel' | 'transport';
  family: 4 | 6;
  /** Tunnel endpoints (network byte order, 4 or 16 octets). */
  src: Uint8Array;
  dst: Uint8Array;
  esn: boolean;
}

/** The ESP state of one SA: keys, algorithms, sequence numbers. Keys never appear in logs, errors or inspect(). */
export class EspSa {
  readonly spi: number;
  readonly mode: 'tunnel' | 'transport';
  readonly family: 4 | 6;
  readonly src: Uint8Array;
  readonly dst: Uint8Array;
  readonly esn: boolean;
  readonly encryption: EncryptionAlgorithm;
  readonly enc: EncryptionTransform;
  readonly cipherName: string;
  readonly cipherKey: KeyObject;
  /** RFC 4106 salt (GCM), the 4 octets after the AES key; empty for CBC. */
  readonly salt: Uint8Array;
  readonly integrity: IntegrityAlgorithm | null;
  readonly auth: IntegrityTransform | null;
  readonly authKey: KeyObject | null;
  readonly encap: { sport: number; dport: number } | null;
  readonly ivLength: number;
  readonly icvLength: number;
  /** Identification field of the outer IPv4 headers this SA writes (tunnel mode). */
  ipId = 0;
  private readonly keyBits: number;

  private constructor(framing: EspFraming, keys: Required<Pick<EspKeysSpec, 'encryption'>> & EspKeysSpec, material: { cipher: Uint8Array; auth: Uint8Array | null }) {
    this.spi = framing.spi;
    this.mode = framing.mode;
    this.family = framing.family;
    this.src = framing.src;
    this.dst = framing.dst;
    this.esn = framing.esn;
    this.encryption = keys.encryption.algorithm;
    this.enc = ENCRYPTION[this.encryption];
    const n = material.cipher.length;
    this.cipherName = this.enc.cipherName(n);
    this.keyBits = (n - this.enc.saltLength) * 8;
    this.cipherKey = createSecretKey(material.cipher.subarray(0, n - this.enc.saltLength));
    this.salt = Uint8Array.from(material.cipher.subarray(n - this.enc.saltLength));
    this.integrity = keys.integrity?.algorithm ?? null;
    this.auth = this.integrity ? INTEGRITY[this.integrity] : null;
    this.authKey = material.auth ? createSecretKey(material.auth) : null;
    this.encap = keys.encap ? { sport: keys.encap.sport ?? NATT_PORT, dport: keys.encap.dport ?? NATT_PORT } : null;
    this.ivLength = this.enc.ivLength;
    this.icvLength = this.enc.aead ? this.enc.icvLength : this.auth!.icvLength;
    material.cipher.fill(0);
    material.auth?.fill(0);
  }

  /**
   * Validate the key fields of an SA spec. Returns null when the spec has none (an SA
   * the engine can select but the host cannot protect with: its packets are dropped
   * `no-keys`, R23). Errors name the field and the sizes, never the key.
   */
  static create(framing: EspFraming, spec: EspKeysSpec, proto: 'esp' | 'ah'): EspSa | null {
    const { encryption, integrity, encap } = spec;
    if (encryption === undefined && integrity === undefined && encap === undefined) return null;
    if (proto !== 'esp') throw new LarvalError('EINVAL', 'encryption/integrity/encap: only ESP SAs carry keys here (AH is selected but not computed)', { field: 'proto' });
    if (encryption === undefined) throw new LarvalError('EINVAL', 'encryption: an ESP SA with keys needs an encryption algorithm (aes-gcm-16 or aes-cbc)', { field: 'encryption' });
    const alg = pick(encryption, 'encryption', ENCRYPTION_ALGORITHMS);
    const t = ENCRYPTION[alg];
    const cipher = keyBytes(encryption.key, 'encryption.key');
    if (!t.keyLengths.includes(cipher.length)) {
      throw new LarvalError('EINVAL', `encryption.key: ${alg} takes ${t.keyLengths.join(', ')} octets${t.saltLength ? ` (${alg === 'chacha20-poly1305' ? `ChaCha20 key + ${t.saltLength}-octet salt, RFC 7634 §2` : `AES key + ${t.saltLength}-octet salt, RFC 4106 §8.1`})` : ''}, got ${cipher.length}`, { field: 'encryption.key' });
    }
    let auth: Uint8Array | null = null;
    if (t.aead) {
      if (integrity !== undefined) throw new LarvalError('EINVAL', `integrity: ${alg} authenticates by itself; give no integrity algorithm (RFC 4106 §3)`, { field: 'integrity' });
    } else {
      if (integrity === undefined) throw new LarvalError('EINVAL', `integrity: ${alg} needs an integrity algorithm (hmac-sha256-128 or hmac-sha1-96); ESP without integrity is refused (R23)`, { field: 'integrity' });
      const a = pick(integrity, 'integrity', INTEGRITY_ALGORITHMS);
      auth = keyBytes(integrity.key, 'integrity.key');
      if (auth.length !== INTEGRITY[a].keyLength) {
        throw new LarvalError('EINVAL', `integrity.key: ${a} takes ${INTEGRITY[a].keyLength} octets, got ${auth.length}`, { field: 'integrity.key' });
      }
    }
    if (encap !== undefined) {
      if (typeof encap !== 'object' || encap === null) throw invalid('encap', encap, 'expected { sport?, dport? }');
      for (const k of Object.keys(encap)) if (k !== 'sport' && k !== 'dport') throw invalid(`encap.${k}`, (encap as Record<string, unknown>)[k], 'unknown field');
      for (const k of ['sport', 'dport'] as const) {
        const v = encap[k];
        if (v !== undefined && (!Number.isInteger(v) || v < 1 || v > 65535)) throw invalid(`encap.${k}`, v, 'expected a UDP port 1..65535');
      }
    }
    return new EspSa(framing, { encryption, integrity, encap }, { cipher, auth });
  }

  /** The SA's algorithms and SPI, without keys. */
  info(): EspTransformInfo {
    return {
      encryption: { algorithm: this.encryption, keyBits: this.keyBits },
      integrity: this.integrity ? { algorithm: this.integrity, keyBits: this.auth!.keyLength * 8 } : null,
      encap: this.encap ? { ...this.encap } : null,
    };
  }

  /** For JSON.stringify: the SA without its keys. */
  toJSON(): EspTransformInfo {
    return this.info();
  }

  /** For util.inspect: the SA without its keys. */
  [inspect.custom](): string {
    const i = this.info();
    return `EspSa { spi: 0x${this.spi.toString(16)}, ${i.encryption.algorithm}-${i.encryption.keyBits}${i.integrity ? ` + ${i.integrity.algorithm}` : ''}${i.encap ? ', udp-encap' : ''}, keys: [redacted] }`;
  }
}

function pick<T extends string>(value: { algorithm: unknown; key: unknown }, field: string, options: readonly T[]): T {
  if (typeof value !== 'object' || value === null) throw new LarvalError('EINVAL', `${field}: expected { algorithm, key }`, { field });
  for (const k of Object.keys(value)) if (k !== 'algorithm' && k !== 'key') throw new LarvalError('EINVAL', `${field}.${k}: unknown field`, { field: `${field}.${k}` });
  if (!options.includes(value.algorithm as T)) throw invalid(`${field}.algorithm`, value.algorithm, `expected one of ${options.join(', ')}`);
  return value.algorithm as T;
}

// A copy of the key bytes (zeroed once the KeyObjects are made). The error messages
// here say what is wrong with the shape of the key, never what it contains.
function keyBytes(key: unknown, field: string): Uint8Array {
  if (key instanceof Uint8Array) return Uint8Array.from(key);
  if (typeof key === 'string') {
    const hex = key.startsWith('0x') || key.startsWith('0X') ? key.slice(2) : key;
    if (hex.length === 0 || hex.length % 2 !== 0 || !/^[0-9a-fA-F]+$/.test(hex)) {
      throw new LarvalError('EINVAL', `${field}: expected an even number of hex digits (optionally 0x-prefixed) or a Uint8Array; got a string of ${key.length} characters that is not hex (contents not shown)`, { field });
    }
    return Uint8Array.from(Buffer.from(hex, 'hex'));
  }
  throw new LarvalError('EINVAL', `${field}: expected a Uint8Array or a hex string, got ${key === null ? 'null' : typeof key}`, { field });
}
