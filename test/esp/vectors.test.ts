// Checks the internal consistency of the published vectors in ./vectors.ts with
// node:crypto only. This validates the transcription, not larval.

import { createCipheriv, createDecipheriv, createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { cbcHmacEspVectors, gcmEspVectors, hmacVectors, splitTrailer } from './vectors.js';

const hex = (s: string): Buffer => {
  if (!/^(?:[0-9a-f]{2})*$/.test(s)) throw new Error(`not lower-case hex of whole bytes: ${s}`);
  return Buffer.from(s, 'hex');
};
const be32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
};
const hmacAlg = { 'hmac-sha1-96': { hash: 'sha1', bytes: 12 }, 'hmac-sha256-128': { hash: 'sha256', bytes: 16 } } as const;

// RFC 4303 §2.4 default padding: 1, 2, 3, ...
const isDefaultPadding = (padding: Uint8Array): boolean => padding.every((b, i) => b === i + 1);

describe('draft-mcgrew-gcm-test-01 AES-GCM-ESP vectors', () => {
  it('has all 16 AES-GCM-ESP cases of §4 (case 15 is GMAC and left out)', () => {
    expect(gcmEspVectors).toHaveLength(16);
    expect(new Set(gcmEspVectors.map((v) => v.name)).size).toBe(16);
  });

  describe.each(gcmEspVectors)('$name', (v) => {
    it('has fields of the right sizes', () => {
      expect([16, 24, 32]).toContain(hex(v.key).length);
      expect(hex(v.salt)).toHaveLength(4);
      expect(hex(v.iv)).toHaveLength(8);
      expect(hex(v.icv)).toHaveLength(16);
      expect(hex(v.ciphertext)).toHaveLength(hex(v.plaintext).length);
      expect(Number.isInteger(v.spi) && v.spi >= 0 && v.spi <= 0xffffffff).toBe(true);
      expect(v.seq >= 0n && v.seq <= 0xffffffffffffffffn).toBe(true);
      if (!v.esn) expect(v.seq <= 0xffffffffn).toBe(true);
    });

    it('AAD is SPI || seq (or SPI || seq-high || seq-low with ESN)', () => {
      const seqLow = Number(v.seq & 0xffffffffn);
      const seqHigh = Number(v.seq >> 32n);
      const expected = v.esn
        ? Buffer.concat([be32(v.spi), be32(seqHigh), be32(seqLow)])
        : Buffer.concat([be32(v.spi), be32(seqLow)]);
      expect(hex(v.aad).toString('hex')).toBe(expected.toString('hex'));
      expect(hex(v.aad)).toHaveLength(v.esn ? 12 : 8);
    });

    it('AES-GCM with nonce salt || iv gives the published ciphertext and ICV', () => {
      const key = hex(v.key);
      const nonce = Buffer.concat([hex(v.salt), hex(v.iv)]);
      const enc = createCipheriv(`aes-${key.length * 8}-gcm` as 'aes-128-gcm', key, nonce);
      enc.setAAD(hex(v.aad));
      const ct = Buffer.concat([enc.update(hex(v.plaintext)), enc.final()]);
      expect(ct.toString('hex')).toBe(v.ciphertext);
      expect(enc.getAuthTag().toString('hex')).toBe(v.icv);

      const dec = createDecipheriv(`aes-${key.length * 8}-gcm` as 'aes-128-gcm', key, nonce);
      dec.setAAD(hex(v.aad));
      dec.setAuthTag(hex(v.icv));
      const pt = Buffer.concat([dec.update(hex(v.ciphertext)), dec.final()]);
      expect(pt.toString('hex')).toBe(v.plaintext);
    });

    it('trailer is minimal RFC 4303 default padding for 4-byte alignment', () => {
      const t = splitTrailer(v.plaintext);
      expect(t.padding).toHaveLength(t.padLength);
      expect(t.payload.length + t.padding.length + 2).toBe(hex(v.plaintext).length);
      expect(isDefaultPadding(t.padding)).toBe(true);
      expect(t.padLength).toBe((4 - ((t.payload.length + 2) % 4)) % 4);
      expect(t.nextHeader).toBe(1); // every case in the draft uses 1
    });
  });
});

describe('AES-CBC ESP vectors (RFC 3602 §4, Linux testmgr.h HMAC additions)', () => {
  describe.each(cbcHmacEspVectors)('$name', (v) => {
    const key = hex(v.encKey);
    const cipher = `aes-${key.length * 8}-cbc` as 'aes-128-cbc';

    it('has fields of the right sizes', () => {
      expect([16, 32]).toContain(key.length);
      expect(hex(v.iv)).toHaveLength(16);
      expect(hex(v.ciphertext).length % 16).toBe(0);
      expect((v.authAlg === null) === (v.authKey === null)).toBe(true);
      if (v.authAlg === null) expect(v.icv).toBeNull();
    });

    if (v.trailerIncluded) {
      it('AES-CBC (no auto padding) of the published plaintext gives the ciphertext', () => {
        const enc = createCipheriv(cipher, key, hex(v.iv));
        enc.setAutoPadding(false);
        const ct = Buffer.concat([enc.update(hex(v.plaintext)), enc.final()]);
        expect(ct.toString('hex')).toBe(v.ciphertext);
        const t = splitTrailer(v.plaintext);
        expect(isDefaultPadding(t.padding)).toBe(true);
      });
    } else {
      // The copy used gives only the payload; the trailer is known only through
      // the ciphertext. Decrypt and check payload || default trailer.
      it('AES-CBC decryption gives the published payload followed by a default trailer', () => {
        const dec = createDecipheriv(cipher, key, hex(v.iv));
        dec.setAutoPadding(false);
        const pt = Buffer.concat([dec.update(hex(v.ciphertext)), dec.final()]);
        const t = splitTrailer(pt.toString('hex'));
        expect(Buffer.from(t.payload).toString('hex')).toBe(v.plaintext);
        expect(isDefaultPadding(t.padding)).toBe(true);
        // Padding only up to the 16-byte block (RFC 3602 §2.4), none beyond.
        expect(t.padLength).toBe((16 - ((t.payload.length + 2) % 16)) % 16);
        // Cases #7 and #8 are tunnel mode (IPv4 payload), #6 transport-mode ICMP.
        expect(t.nextHeader).toBe(hex(v.plaintext)[0] >> 4 === 4 ? 4 : 1);
      });
    }

    if (v.authAlg !== null) {
      it('HMAC over SPI || seq || IV || ciphertext gives the published ICV', () => {
        const { hash, bytes } = hmacAlg[v.authAlg!];
        // The source's authenticated data: .assoc (SPI || seq) || iv || ciphertext.
        expect(v.aad).toBe(Buffer.concat([be32(v.spi), be32(v.seq)]).toString('hex'));
        const mac = createHmac(hash, hex(v.authKey!))
          .update(Buffer.concat([be32(v.spi), be32(v.seq), hex(v.iv), hex(v.ciphertext)]))
          .digest();
        if (v.fullMac !== undefined) expect(mac.toString('hex')).toBe(v.fullMac);
        expect(hex(v.icv!)).toHaveLength(bytes);
        expect(mac.subarray(0, bytes).toString('hex')).toBe(v.icv);
      });
    }
  });
});

describe('HMAC authenticator vectors (RFC 4868 §2.7.2.1, RFC 2202 §3)', () => {
  describe.each(hmacVectors)('$name', (v) => {
    it('truncated HMAC matches', () => {
      const { hash, bytes } = hmacAlg[v.alg];
      const mac = createHmac(hash, hex(v.key)).update(hex(v.data)).digest();
      expect(mac.toString('hex')).toBe(v.fullMac);
      expect(hex(v.truncatedMac)).toHaveLength(bytes);
      expect(mac.subarray(0, bytes).toString('hex')).toBe(v.truncatedMac);
    });
  });
});

describe('splitTrailer', () => {
  it('splits payload, padding, pad length and next header', () => {
    const t = splitTrailer('aabbcc' + '0102' + '02' + '04');
    expect(Buffer.from(t.payload).toString('hex')).toBe('aabbcc');
    expect(Buffer.from(t.padding).toString('hex')).toBe('0102');
    expect(t.padLength).toBe(2);
    expect(t.nextHeader).toBe(4);
  });

  it('handles an empty payload and no padding', () => {
    expect(splitTrailer('0001').payload).toHaveLength(0);
    expect(splitTrailer('01020201').payload).toHaveLength(0);
  });

  it('rejects a pad length longer than the data and bad hex', () => {
    expect(() => splitTrailer('0504')).toThrow();
    expect(() => splitTrailer('01')).toThrow();
    expect(() => splitTrailer('abc')).toThrow();
  });
});
