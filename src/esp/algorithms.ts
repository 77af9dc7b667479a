// ESP transforms (R22): what each algorithm needs from the packet format. The
// crypto itself is node:crypto's; nothing here touches a key's bytes.
//
//   aes-gcm-16   RFC 4106: AES-GCM with a 16-octet ICV. The key material is the AES
//                key followed by a 4-octet salt (§8.1, as setkey's -E aes-gcm-16
//                takes it); an 8-octet explicit IV; padding to 4 octets.
//   chacha20-poly1305  RFC 7634: the AEAD of RFC 8439 with a 16-octet ICV; key material
//                is the 32-octet key followed by a 4-octet salt (§2: nonce = salt | IV);
//                an 8-octet explicit IV; the AAD as for GCM (§2.1); padding to 4 octets.
//                node:crypto does it; sodium-native, when installed, is a faster
//                path for the same transform (esp/sodium.ts).
//   aes-cbc      RFC 3602: 16-octet random IV, padding to the 16-octet block. Needs
//                an integrity algorithm: larval does not run ESP without integrity
//                (R23: a flipped bit must be detected).
//   hmac-sha256-128  RFC 4868: 32-octet key, ICV the first 16 octets.
//   hmac-sha1-96     RFC 2404: 20-octet key, ICV the first 12 octets.

/** ESP encryption algorithms (node:crypto; ChaCha20-Poly1305 also through optional sodium-native). */
export type EncryptionAlgorithm = 'aes-gcm-16' | 'aes-cbc' | 'chacha20-poly1305';
/** ESP integrity algorithms (node:crypto). */
export type IntegrityAlgorithm = 'hmac-sha256-128' | 'hmac-sha1-96';

export const ENCRYPTION_ALGORITHMS: readonly EncryptionAlgorithm[] = ['aes-gcm-16', 'aes-cbc', 'chacha20-poly1305'];
export const INTEGRITY_ALGORITHMS: readonly IntegrityAlgorithm[] = ['hmac-sha256-128', 'hmac-sha1-96'];

export interface EncryptionTransform {
  /** Key material lengths accepted, octets (GCM: AES key + 4-octet salt). */
  keyLengths: readonly number[];
  /** node:crypto cipher name for a key material length. */
  cipherName(keyLength: number): string;
  /** Octets of salt at the end of the key material (RFC 4106 §8.1). */
  saltLength: number;
  ivLength: number;
  /** The payload, pad length and next header end on a multiple of this (RFC 4303 §2.4). */
  align: number;
  /** ICV of an AEAD transform; 0 when a separate integrity algorithm gives it. */
  icvLength: number;
  aead: boolean;
}

export interface IntegrityTransform {
  keyLength: number;
  /** node:crypto hash name. */
  hash: string;
  icvLength: number;
}

export const ENCRYPTION: Readonly<Record<EncryptionAlgorithm, EncryptionTransform>> = {
  'aes-gcm-16': {
    keyLengths: [20, 28, 36],
    cipherName: (n) => `aes-${(n - 4) * 8}-gcm`,
    saltLength: 4,
    ivLength: 8,
    align: 4,
    icvLength: 16,
    aead: true,
  },
  'chacha20-poly1305': {
    keyLengths: [36],
    cipherName: () => 'chacha20-poly1305',
    saltLength: 4,
    ivLength: 8,
    align: 4,
    icvLength: 16,
    aead: true,
  },
  'aes-cbc': {
    keyLengths: [16, 24, 32],
    cipherName: (n) => `aes-${n * 8}-cbc`,
    saltLength: 0,
    ivLength: 16,
    align: 16,
    icvLength: 0,
    aead: false,
  },
};

export const INTEGRITY: Readonly<Record<IntegrityAlgorithm, IntegrityTransform>> = {
  'hmac-sha256-128': { keyLength: 32, hash: 'sha256', icvLength: 16 },
  'hmac-sha1-96': { keyLength: 20, hash: 'sha1', icvLength: 12 },
};

/** Octets of padding so that payload + padding + 2 is a multiple of `align` (RFC 4303 §2.4). */
export function padLength(payloadLength: number, align: number): number {
  return (align - ((payloadLength + 2) % align)) % align;
}
