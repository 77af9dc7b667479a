// The ESP stage's cryptography as an adapter (issue 18): the engine and the ESP stage
// hold an EspCrypto and never import node:crypto, so that the same core runs in a
// browser. Node's adapter (esp/node-crypto.ts) seals and opens real ESP with
// node:crypto; the page's (esp/unsealed.ts) decides everything the report needs
// without computing ESP bytes (the replay report needs verdicts, not ciphertext).

import type { EspFraming, EspKeysSpec, EspTransformInfo } from './keys.js';

/** The host's half of an ESP SA, as an adapter made it: opaque to the engine. */
export interface EspSaHandle {
  info(): EspTransformInfo;
}

/** The ESP cryptography a platform gives the engine: makes SA handles from keys, seals and opens ESP (Node: node:crypto; the page: unsealed decisions only). */
export interface EspCrypto {
  /** What the adapter does, for messages and the page: 'node:crypto' or 'unsealed'. */
  readonly name: string;
  /** Check an SA's key fields and hold its keys; null when the spec has none (R23: `no-keys`). Throws LarvalError on a bad key. */
  createSa(framing: EspFraming, spec: EspKeysSpec, proto: 'esp' | 'ah'): EspSaHandle | null;
  /** ESP for `inner` on `sa` with sequence number `seq`, or the drop Reason (R22, R23). */
  encrypt(sa: EspSaHandle, inner: Uint8Array, seq: bigint): Uint8Array | number;
  /** The inner packet of the ESP packet whose ESP header starts at `esp`, or the drop Reason (R17–R19). */
  decrypt(sa: EspSaHandle, packet: Uint8Array, esp: number, seq: bigint): Uint8Array | number;
  /** HMAC-SHA-256(secret, message): the scripted key manager's deterministic test keys. */
  hmacSha256(secret: string, message: string): Uint8Array;
}
