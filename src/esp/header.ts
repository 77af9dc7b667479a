// What ESP encrypt and decrypt share about the ESP header itself (VPP's esp.h): its
// size, the AES-GCM additional authenticated data, and the ESN high word that the
// ICV covers but the wire does not carry (RFC 4303 §2.2.1, §3.3.2.1).

import { ESP_HEADER } from '../../assembly/wire-defs.js';
import type { EspSa } from './sa.js';

export { ESP_HEADER };

// The AEAD's AAD and nonce are filled into scratch buffers, one per packet: node:crypto
// and libsodium copy them during the call, and a copy of 8 or 12 octets costs less
// than a Buffer view or allocation per packet (issue 16, third pass). The seal and the
// open of ESP (encrypt.ts, decrypt.ts) both run synchronously, so they share them.
const aad8 = Buffer.alloc(8);
const aad12 = Buffer.alloc(12);
const nonce12 = Buffer.alloc(12);

/**
 * RFC 4106 §5 / RFC 7634 §2.1: SPI | seq (8 octets), or SPI | seq high | seq low (12)
 * with ESN, copied from the ESP header at `esp`. A scratch buffer: valid until the next call.
 */
export function gcmAad(sa: EspSa, packet: Uint8Array, esp: number, seq: bigint): Uint8Array {
  if (!sa.esn) {
    for (let i = 0; i < 8; i++) aad8[i] = packet[esp + i];
    return aad8;
  }
  for (let i = 0; i < 4; i++) aad12[i] = packet[esp + i];
  aad12.writeUInt32BE(Number(seq >> 32n), 4);
  for (let i = 4; i < 8; i++) aad12[4 + i] = packet[esp + i];
  return aad12;
}

/**
 * The AEAD nonce, salt | IV (RFC 4106 §4, RFC 7634 §2), with the IV read at `ivAt` of
 * `packet`. A scratch buffer: valid until the next call.
 */
export function aeadNonce(sa: EspSa, packet: Uint8Array, ivAt: number): Buffer {
  const salt = sa.salt;
  for (let i = 0; i < 4; i++) nonce12[i] = salt[i];
  for (let i = 0; i < 8; i++) nonce12[4 + i] = packet[ivAt + i];
  return nonce12;
}

export function seqHigh(seq: bigint): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32BE(Number((seq >> 32n) & 0xffffffffn), 0);
  return b;
}

