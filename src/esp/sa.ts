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
import { NATT_PORT } from '../../assembly/wire-defs.js';
import {
  ENCRYPTION, INTEGRITY,
  type EncryptionAlgorithm, type EncryptionTransform, type IntegrityAlgorithm, type IntegrityTransform,
} from './algorithms.js';

export type { KeyMaterial, EspKeysSpec, EspTransformInfo, EspFraming } from './keys.js';
import type { EspKeysSpec, EspFraming, EspTransformInfo } from './keys.js';
import { checkEspKeys } from './keys.js';

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
    const checked = checkEspKeys(spec, proto);
    if (checked === null) return null;
    return new EspSa(framing, checked.keys, { cipher: checked.cipher, auth: checked.auth });
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

