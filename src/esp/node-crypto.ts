// The Node adapter of the ESP stage: real ESP sealed and opened with node:crypto
// (esp/encrypt.ts, esp/decrypt.ts), keys held as KeyObjects (esp/sa.ts).

import { createHmac } from 'node:crypto';
import type { EspCrypto, EspSaHandle } from './crypto.js';
import { EspSa } from './sa.js';
import { encryptEsp } from './encrypt.js';
import { decryptEsp } from './decrypt.js';

export const nodeEspCrypto: EspCrypto = {
  name: 'node:crypto',
  createSa: (framing, spec, proto) => EspSa.create(framing, spec, proto),
  encrypt: (sa: EspSaHandle, inner, seq) => encryptEsp(sa as EspSa, inner, seq),
  decrypt: (sa: EspSaHandle, packet, esp, seq) => decryptEsp(sa as EspSa, packet, esp, seq),
  hmacSha256: (secret, message) => new Uint8Array(createHmac('sha256', secret).update(message).digest()),
};
