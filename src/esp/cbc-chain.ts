// AES-CBC without a cipher object per packet (issue 16): node:crypto cannot give a
// cipher a new IV, so each packet used to pay for createCipheriv() (~3 µs here, the
// object, not the AES). CBC needs no new object: one long-lived context per SA and
// direction, padding off, carries the chain from one update() to the next, and each
// packet starts its own chain by a block fed in front of it.
//
//  - Sealing: the packet's IV slot holds a fresh random block R; the context encrypts
//    R | plaintext in one update(). The first output block, E(K, R ⊕ C_prev), becomes
//    the packet's IV: it is unpredictable (RFC 3602 §2.4; an encrypted random block),
//    and since the chain continues from it, the rest is exactly CBC under that IV.
//  - Opening: the context decrypts IV | ciphertext. The first output block is
//    D(K, IV) ⊕ C_prev, thrown away; from then on the chain is the packet's own.
//
// Every update() is whole blocks (the ESP frame aligns the ciphertext; an unaligned
// one is bad-esp before decryption), so the chain is never left half a block in, and
// the ICV is verified before anything is decrypted. The bytes on the wire are plain
// CBC: any peer opens them (test/esp/esp.test.ts opens them with a fresh decipher).
// An explicit IV (known-answer tests) still takes a cipher object per packet.
// AES-GCM cannot do this: its tag needs the cipher set up with the nonce.

import { createCipheriv, createDecipheriv, type Cipher, type Decipher } from 'node:crypto';
import type { EspSa } from './sa.js';

const sealing = new WeakMap<EspSa, Cipher>();
const opening = new WeakMap<EspSa, Decipher>();

/** The SA's long-lived CBC encryption context (made on first use, freed with the SA). */
export function cbcSealer(sa: EspSa): Cipher {
  let c = sealing.get(sa);
  if (c === undefined) {
    c = createCipheriv(sa.cipherName, sa.cipherKey, Buffer.alloc(sa.ivLength));
    c.setAutoPadding(false);
    sealing.set(sa, c);
  }
  return c;
}

/** The SA's long-lived CBC decryption context. */
export function cbcOpener(sa: EspSa): Decipher {
  let d = opening.get(sa);
  if (d === undefined) {
    d = createDecipheriv(sa.cipherName, sa.cipherKey, Buffer.alloc(sa.ivLength));
    d.setAutoPadding(false);
    opening.set(sa, d);
  }
  return d;
}
