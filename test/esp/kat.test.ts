// R22: larval's ESP against published known answers, byte for byte.
//   AES-GCM-16 (RFC 4106): every ESP packet of draft-mcgrew-gcm-test-01 §4 (128-,
//   192- and 256-bit keys, with and without ESN), sealed and opened.
//   AES-CBC (RFC 3602 §4 cases #5–#8) with HMAC-SHA1-96 / HMAC-SHA-256-128 (the
//   Linux testmgr.h entries that extend case #5 with the ESP ICV).
// The vectors' transcription is checked against node:crypto alone in vectors.test.ts.
import { describe, expect, it } from 'vitest';
import { Reason } from '../../assembly/layout.js';
import { EspSa, encryptEsp, openEsp, sealEsp } from '../../src/index.js';
import { cbcHmacEspVectors, gcmEspVectors, splitTrailer } from './vectors.js';

const hex = (s: string) => Uint8Array.from(Buffer.from(s, 'hex'));
const toHex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const u32 = (n: number) => toHex(Uint8Array.of(n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255));
const ENDPOINTS = { family: 4 as const, src: Uint8Array.of(192, 0, 2, 1), dst: Uint8Array.of(198, 51, 100, 1) };
// An integrity key for vectors that publish only the encryption (larval refuses
// aes-cbc without integrity): the ciphertext does not depend on it, the ICV does.
const ANY_AUTH = { algorithm: 'hmac-sha256-128' as const, key: '42'.repeat(32) };

describe('R22: AES-GCM-16 ESP, draft-mcgrew-gcm-test-01 §4', () => {
  it('has the 16 AES-GCM-ESP cases, of all three key sizes, with and without ESN', () => {
    expect(gcmEspVectors).toHaveLength(16);
    expect(new Set(gcmEspVectors.map((v) => v.key.length * 4))).toEqual(new Set([128, 192, 256]));
    expect(gcmEspVectors.some((v) => v.esn) && gcmEspVectors.some((v) => !v.esn)).toBe(true);
  });

  for (const v of gcmEspVectors) {
    it(`${v.name}: ${v.key.length * 4}-bit key${v.esn ? ', ESN' : ''}`, () => {
      const sa = EspSa.create({ spi: v.spi, mode: 'transport', ...ENDPOINTS, esn: v.esn }, { encryption: { algorithm: 'aes-gcm-16', key: v.key + v.salt } }, 'esp')!;
      const { payload, nextHeader, padLength } = splitTrailer(v.plaintext);
      const packet = u32(v.spi) + u32(Number(v.seq & 0xffffffffn)) + v.iv + v.ciphertext + v.icv;
      // Emit: the same padding larval chooses by itself (the minimum), so no option but the IV.
      const sealed = sealEsp(sa, payload, nextHeader, v.seq, { iv: hex(v.iv) });
      expect(sealed).toBeInstanceOf(Uint8Array);
      expect(toHex(sealed as Uint8Array)).toBe(packet);
      expect(padLength).toBeLessThan(4);
      // Parse: the published packet opens to the published payload and next header.
      const opened = openEsp(sa, hex(packet), v.seq);
      expect(opened).toEqual({ payload: Buffer.from(payload), nextHeader });
    });
  }

  it('a wrong high half of the ESN fails the ICV (RFC 4303 A2.2: how a wrong guess is caught)', () => {
    const v = gcmEspVectors.find((x) => x.esn && x.seq >> 32n !== 0n)!;
    const sa = EspSa.create({ spi: v.spi, mode: 'transport', ...ENDPOINTS, esn: true }, { encryption: { algorithm: 'aes-gcm-16', key: v.key + v.salt } }, 'esp')!;
    const packet = hex(u32(v.spi) + u32(Number(v.seq & 0xffffffffn)) + v.iv + v.ciphertext + v.icv);
    expect(openEsp(sa, packet, v.seq)).not.toBeTypeOf('number');
    expect(openEsp(sa, packet, v.seq - (1n << 32n))).toBe(Reason.IntegrityFailed);
  });
});

describe('R22: AES-CBC with HMAC ESP, RFC 3602 §4 and Linux testmgr.h', () => {
  for (const v of cbcHmacEspVectors) {
    it(`${v.name}`, () => {
      const integrity = v.authAlg ? { algorithm: v.authAlg, key: v.authKey! } : ANY_AUTH;
      const sa = EspSa.create({ spi: v.spi, mode: 'transport', ...ENDPOINTS, esn: false }, { encryption: { algorithm: 'aes-cbc', key: v.encKey }, integrity }, 'esp')!;
      const expected = u32(v.spi) + u32(v.seq) + v.iv + v.ciphertext;
      // The payload and next header: from the published trailer, or (cases #6–#8,
      // whose sources give the payload only) next header 1 in transport, 4 in tunnel mode.
      const split = v.trailerIncluded ? splitTrailer(v.plaintext) : null;
      const payload = split ? split.payload : hex(v.plaintext);
      const nextHeader = split ? split.nextHeader : payload[0] >> 4 === 4 ? 4 : 1;
      const sealed = sealEsp(sa, payload, nextHeader, BigInt(v.seq), { iv: hex(v.iv) });
      expect(sealed).toBeInstanceOf(Uint8Array);
      const bytes = toHex(sealed as Uint8Array);
      expect(bytes.slice(0, expected.length)).toBe(expected);
      if (v.icv) expect(bytes.slice(expected.length)).toBe(v.icv);
      const opened = openEsp(sa, sealed as Uint8Array, BigInt(v.seq));
      expect(opened).toEqual({ payload: Buffer.from(payload), nextHeader });
      if (v.icv) expect(openEsp(sa, hex(expected + v.icv), BigInt(v.seq))).toEqual({ payload: Buffer.from(payload), nextHeader });
    });
  }

  it('tunnel mode frames cases #7 and #8 exactly: the ESP bytes inside the outer packet are the published ones', () => {
    for (const v of cbcHmacEspVectors.filter((x) => x.name.includes('tunnel'))) {
      const sa = EspSa.create({ spi: v.spi, mode: 'tunnel', ...ENDPOINTS, esn: false }, { encryption: { algorithm: 'aes-cbc', key: v.encKey }, integrity: ANY_AUTH }, 'esp')!;
      const out = encryptEsp(sa, hex(v.plaintext), BigInt(v.seq), { iv: hex(v.iv) }) as Uint8Array;
      expect(out[9]).toBe(50);
      expect(toHex(out.subarray(20, out.length - 16))).toBe(u32(v.spi) + u32(v.seq) + v.iv + v.ciphertext);
    }
  });
});
