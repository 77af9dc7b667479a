// Inbound ESP (RFC 4303 §3.4), after the engine found the SA by SPI (R17) and the
// sequence number passed the anti-replay pre-check (R19): verify the ICV, decrypt,
// check the trailer, and give back the inner packet — tunnel mode's inner packet,
// or transport mode's packet rebuilt around its payload. The window moves only
// when the caller hands the result to Engine.inboundDecrypted().
//
// Every failure is a Reason for a counted drop; nothing throws for packet content.

import { createDecipheriv, createHmac, timingSafeEqual } from 'node:crypto';
import { Reason } from '../../assembly/layout.js';
import { IPV6_HEADER, PROTO_ESP, PROTO_IPIP, PROTO_IPV6, PROTO_UDP, UDP_HEADER } from '../../assembly/wire-defs.js';
import { internetChecksum } from '../wire/checksum.js';
import { Ipv6NextHeader } from '../wire/ipv6.js';
import { aeadNonce, ESP_HEADER, gcmAad, seqHigh } from './header.js';
import type { EspSa } from './sa.js';
import { rawKey, sodium, useSodium } from './sodium.js';
import { packetBuffer } from './slab.js';
import { cbcOpener } from './cbc-chain.js';

/** The ICV, copied from the packet (scratch, per packet). */
const tag16 = Buffer.alloc(16);

/**
 * Decrypt the ESP packet that starts at `esp` in `packet` (the outer IP packet, as
 * the engine's inbound verdict located it) with sequence number `seq` (ESN
 * inferred by the engine). Returns the inner packet or the Reason of the drop.
 */
export function decryptEsp(sa: EspSa, packet: Uint8Array, esp: number, seq: bigint): Uint8Array | Reason {
  const v4 = packet[0] >> 4 === 4;
  // The engine checked the outer IPv4 header's checksum (R24): the ICV does not cover it.
  const end = v4 ? (packet[2] << 8) | packet[3] : IPV6_HEADER + ((packet[4] << 8) | packet[5]);
  if (end > packet.length || end < esp) return Reason.BadEsp; // captured short: the ICV cannot be checked
  const plain = openAt(sa, packet, esp, end, seq);
  if (typeof plain === 'number') return plain;
  const { payloadLength, nextHeader } = opened;
  if (sa.mode === 'tunnel') {
    const version = payloadLength > 0 ? plain[0] >> 4 : 0;
    if (!((nextHeader === PROTO_IPIP && version === 4) || (nextHeader === PROTO_IPV6 && version === 6))) return Reason.BadEsp;
    return plain.subarray(0, payloadLength);
  }
  const payload = plain.subarray(0, payloadLength);
  return rebuildTransport(Buffer.from(packet.buffer, packet.byteOffset, packet.byteLength), esp, payload, nextHeader, v4);
}

/**
 * Verify and decrypt one ESP packet (SPI through ICV, `bytes`): the parsing half
 * that decryptEsp() frames. Returns the payload and next header, or the Reason.
 */
export function openEsp(sa: EspSa, bytes: Uint8Array, seq: bigint): { payload: Buffer; nextHeader: number } | Reason {
  const plain = openAt(sa, bytes, 0, bytes.length, seq);
  if (typeof plain === 'number') return plain;
  return { payload: plain.subarray(0, opened.payloadLength), nextHeader: opened.nextHeader };
}

/** What the last successful openAt() found in the trailer (no object per packet). */
const opened = { payloadLength: 0, nextHeader: 0 };

// Verify and decrypt the ESP packet at [start, end) of `packet`; the whole decrypted
// payload | padding | trailer, its payload length and next header in `opened`.
function openAt(sa: EspSa, packet: Uint8Array, start: number, end: number, seq: bigint): Buffer | Reason {
  const ivAt = start + ESP_HEADER;
  const ctAt = ivAt + sa.ivLength;
  const icvAt = end - sa.icvLength;
  const ctLength = icvAt - ctAt;
  if (ctLength < 2 || ctLength % sa.enc.align !== 0) return Reason.BadEsp;
  let plain: Buffer;
  // Views without Buffer's subarray, the tag and AAD copied into scratch buffers
  // (issue 16, third pass: fewer objects per packet).
  const ct = new Uint8Array(packet.buffer, packet.byteOffset + ctAt, ctLength);
  if (sa.enc.aead && useSodium(sa)) {
    // RFC 7634 through libsodium (esp/sodium.ts); the ICV is checked before any plaintext is used.
    plain = packetBuffer(ctLength);
    for (let i = 0; i < 16; i++) tag16[i] = packet[icvAt + i];
    try {
      sodium()!.crypto_aead_chacha20poly1305_ietf_decrypt_detached(plain, null, ct, tag16, gcmAad(sa, packet, start, seq), aeadNonce(sa, packet, ivAt), rawKey(sa));
    } catch {
      return Reason.IntegrityFailed;
    }
  } else if (sa.enc.aead) {
    const d = createDecipheriv(sa.cipherName as 'aes-128-gcm', sa.cipherKey, aeadNonce(sa, packet, ivAt)); // setAuthTag gets 16 octets; no options object (issue 16)
    d.setAAD(gcmAad(sa, packet, start, seq));
    for (let i = 0; i < 16; i++) tag16[i] = packet[icvAt + i];
    d.setAuthTag(tag16);
    plain = d.update(ct);
    try {
      d.final();
    } catch {
      return Reason.IntegrityFailed;
    }
  } else {
    // Verify before decrypting (RFC 4303 §3.4.4.1).
    const b = Buffer.from(packet.buffer, packet.byteOffset, packet.byteLength);
    const h = createHmac(sa.auth!.hash, sa.authKey!);
    h.update(b.subarray(start, icvAt));
    if (sa.esn) h.update(seqHigh(seq));
    if (!timingSafeEqual(h.digest().subarray(0, sa.icvLength), b.subarray(icvAt, end))) return Reason.IntegrityFailed;
    // The SA's long-lived context over IV | ciphertext; the first block out is not the packet's (esp/cbc-chain.ts).
    plain = cbcOpener(sa).update(b.subarray(ivAt, icvAt)).subarray(sa.ivLength);
  }
  // Trailer (RFC 4303 §2.4–2.6): padding must be 1, 2, 3, …; next header 59 is a
  // dummy packet (TFC), dropped here as carrying nothing.
  const padLen = plain[plain.length - 2];
  const nextHeader = plain[plain.length - 1];
  const payloadLength = plain.length - 2 - padLen;
  if (payloadLength < 0 || nextHeader === Ipv6NextHeader.NO_NEXT_HEADER) return Reason.BadEsp;
  for (let i = 0; i < padLen; i++) if (plain[payloadLength + i] !== i + 1) return Reason.BadEsp;
  opened.payloadLength = payloadLength;
  opened.nextHeader = nextHeader;
  return plain;
}

// Transport mode: the IP header in front of ESP (and of the UDP header of RFC 3948)
// is kept; the octet that named ESP (or UDP) now names the payload's protocol.
function rebuildTransport(packet: Buffer, esp: number, payload: Buffer, nextHeader: number, v4: boolean): Uint8Array | Reason {
  let headerLength = esp;
  if (v4) {
    const ihl = (packet[0] & 0x0f) * 4;
    if (packet[9] === PROTO_UDP) headerLength -= UDP_HEADER;
    if (headerLength !== ihl) return Reason.BadEsp;
    const out = Buffer.allocUnsafe(ihl + payload.length);
    packet.copy(out, 0, 0, ihl);
    payload.copy(out, ihl);
    out[9] = nextHeader;
    out.writeUInt16BE(out.length, 2);
    out.writeUInt16BE(0, 10);
    out.writeUInt16BE(internetChecksum(out, 0, ihl), 10);
    return out;
  }
  // Find the octet naming what follows the last extension header before ESP/UDP.
  let nhAt = 6;
  let next = packet[6];
  let off = IPV6_HEADER;
  while (next !== PROTO_ESP && next !== PROTO_UDP) {
    if (off + 2 > esp) return Reason.BadEsp;
    nhAt = off;
    next = packet[off];
    off += (packet[off + 1] + 1) * 8;
  }
  if (next === PROTO_UDP) headerLength -= UDP_HEADER;
  if (off !== headerLength) return Reason.BadEsp;
  const out = Buffer.allocUnsafe(headerLength + payload.length);
  packet.copy(out, 0, 0, headerLength);
  payload.copy(out, headerLength);
  out[nhAt] = nextHeader;
  out.writeUInt16BE(out.length - IPV6_HEADER, 4);
  return out;
}
