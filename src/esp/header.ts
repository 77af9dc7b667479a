// What ESP encrypt and decrypt share about the ESP header itself (VPP's esp.h): its
// size, the AES-GCM additional authenticated data, and the ESN high word that the
// ICV covers but the wire does not carry (RFC 4303 §2.2.1, §3.3.2.1).

import { ESP_HEADER } from '../../assembly/wire-defs.js';
import type { EspSa } from './sa.js';

export { ESP_HEADER };

/** RFC 4106 §5: SPI | seq (8 octets), or SPI | seq high | seq low (12) with ESN. */
export function gcmAad(sa: EspSa, packet: Uint8Array, esp: number, seq: bigint): Uint8Array {
  if (!sa.esn) return packet.subarray(esp, esp + ESP_HEADER);
  const aad = Buffer.allocUnsafe(12);
  aad.set(packet.subarray(esp, esp + 4), 0);
  aad.writeUInt32BE(Number(seq >> 32n), 4);
  aad.set(packet.subarray(esp + 4, esp + 8), 8);
  return aad;
}

export function seqHigh(seq: bigint): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32BE(Number((seq >> 32n) & 0xffffffffn), 0);
  return b;
}

