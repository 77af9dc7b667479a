// The optional fast path for ChaCha20-Poly1305 ESP (RFC 7634): libsodium through
// `sodium-native` (an optionalDependency with prebuilt binaries, no compiler). With
// node:crypto every packet pays for a new cipher object (~10 µs, whatever the
// algorithm: /work/shared/notes/crypto-per-packet.md); libsodium's one-shot AEAD call
// takes the key bytes directly and costs ~2 µs for a 1400-octet packet. The bytes on
// the wire are the same: where the package is missing (or LARVAL_NO_SODIUM=1),
// esp/encrypt.ts and esp/decrypt.ts use node:crypto's chacha20-poly1305 instead.

import { createRequire } from 'node:module';
import type { EspSa } from './sa.js';

interface Sodium {
  crypto_aead_chacha20poly1305_ietf_encrypt_detached(c: Uint8Array, mac: Uint8Array, m: Uint8Array, ad: Uint8Array | null, nsec: null, npub: Uint8Array, k: Uint8Array): number;
  crypto_aead_chacha20poly1305_ietf_decrypt_detached(m: Uint8Array, nsec: null, c: Uint8Array, mac: Uint8Array, ad: Uint8Array | null, npub: Uint8Array, k: Uint8Array): void;
}

let loaded: Sodium | null | undefined;

/** sodium-native if it is installed and not disabled, else null (looked up once). */
export function sodium(): Sodium | null {
  if (loaded !== undefined) return loaded;
  loaded = null;
  if (process.env.LARVAL_NO_SODIUM === '1') return loaded;
  try {
    const m = createRequire(import.meta.url)('sodium-native') as Sodium;
    if (typeof m.crypto_aead_chacha20poly1305_ietf_encrypt_detached === 'function') loaded = m;
  } catch {
    /* not installed: node:crypto does it */
  }
  return loaded;
}

// The raw key of each SA, exported from its KeyObject once. Kept here, outside the
// SA object, so that it never shows in util.inspect or JSON of an SA.
const keys = new WeakMap<EspSa, Uint8Array>();
export function rawKey(sa: EspSa): Uint8Array {
  let k = keys.get(sa);
  if (!k) {
    k = sa.cipherKey.export();
    keys.set(sa, k);
  }
  return k;
}

/** Whether this SA's packets go through libsodium. */
export function useSodium(sa: EspSa): boolean {
  return sa.encryption === 'chacha20-poly1305' && sodium() !== null;
}
