// The shape of an SA's key fields and their checks, without any cryptography: the
// setkey parser and the engine check keys alike in Node and in the page (issue 18);
// esp/sa.ts makes the node:crypto keys from what checkEspKeys() returns.

import { LarvalError, invalid } from '../common/errors.js';
import {
  ENCRYPTION, ENCRYPTION_ALGORITHMS, INTEGRITY, INTEGRITY_ALGORITHMS,
  type EncryptionAlgorithm, type IntegrityAlgorithm,
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

/** An SA's key fields, checked: the algorithms and copies of the key bytes. */
export interface CheckedKeys {
  keys: Required<Pick<EspKeysSpec, 'encryption'>> & EspKeysSpec;
  cipher: Uint8Array;
  auth: Uint8Array | null;
}

/**
 * Validate the key fields of an SA spec. Returns null when the spec has none (an SA
 * the engine can select but the host cannot protect with: its packets are dropped
 * `no-keys`, R23). Errors name the field and the sizes, never the key.
 */
export function checkEspKeys(spec: EspKeysSpec, proto: 'esp' | 'ah'): CheckedKeys | null {
    const { encryption, integrity, encap } = spec;
    if (encryption === undefined && integrity === undefined && encap === undefined) return null;
    if (proto !== 'esp') throw new LarvalError('EINVAL', 'encryption/integrity/encap: only ESP SAs carry keys here (AH is selected but not computed)', { field: 'proto' });
    if (encryption === undefined) throw new LarvalError('EINVAL', 'encryption: an ESP SA with keys needs an encryption algorithm (aes-gcm-16, aes-cbc or chacha20-poly1305)', { field: 'encryption' });
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
    return { keys: { encryption, integrity, encap }, cipher, auth };
  }

/** Octets of an even-length hex string (already checked). */
export function hexBytes(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
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
    return hexBytes(hex);
  }
  throw new LarvalError('EINVAL', `${field}: expected a Uint8Array or a hex string, got ${key === null ? 'null' : typeof key}`, { field });
}
