// The page's ESP adapter (issue 18): every decision of the ESP stage that the replay
// report counts — keys present and well-formed (R23 `no-keys`), a packet that cannot
// be encapsulated (framing, esp/framing.ts) — taken exactly as in Node, but no ESP
// bytes are computed: a browser has no synchronous AES, and the report needs
// verdicts, not ciphertext. A protected packet comes out as UNSEALED (no bytes).
// Inbound ESP cannot be verified here: it is dropped `no-keys` and counted in
// `unverified`, so the page can say so (the example captures hold none).

import { Reason } from '../../assembly/layout.js';
import { NATT_PORT } from '../../assembly/wire-defs.js';
import type { EspCrypto, EspSaHandle } from './crypto.js';
import { checkEspKeys, type EspTransformInfo } from './keys.js';
import { espFrame, framedSa, type FramedSa } from './framing.js';

/** What a protected packet is on this adapter: a packet that left, without its bytes. */
export const UNSEALED = new Uint8Array(0);

interface UnsealedSa extends EspSaHandle {
  frame: FramedSa;
}

export const unsealed = { unverified: 0 };

export const unsealedEspCrypto: EspCrypto = {
  name: 'unsealed',
  createSa(framing, spec, proto) {
    const checked = checkEspKeys(spec, proto);
    if (checked === null) return null;
    checked.cipher.fill(0);
    checked.auth?.fill(0);
    const k = checked.keys;
    const frame = framedSa(framing.mode, framing.family, k, NATT_PORT);
    const info: EspTransformInfo = {
      encryption: { algorithm: k.encryption.algorithm, keyBits: (checked.cipher.length - frame.enc.saltLength) * 8 },
      integrity: k.integrity ? { algorithm: k.integrity.algorithm, keyBits: checked.auth!.length * 8 } : null,
      encap: frame.encap ? { ...frame.encap } : null,
    };
    const sa: UnsealedSa = { frame, info: () => info };
    return sa;
  },
  encrypt(sa, inner) {
    const f = espFrame((sa as UnsealedSa).frame, inner);
    return typeof f === 'number' ? f : UNSEALED;
  },
  decrypt() {
    unsealed.unverified++;
    return Reason.NoKeys;
  },
  hmacSha256() {
    // Test keys for the scripted key manager: never used to seal here, so any
    // 32 octets of the right shape do.
    return new Uint8Array(32);
  },
};
