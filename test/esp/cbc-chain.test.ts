// Issue 16: AES-CBC ESP through one long-lived node:crypto context per SA and
// direction (src/esp/cbc-chain.ts) instead of a cipher object per packet. What goes
// on the wire must still be plain CBC under the IV it carries (RFC 3602): a fresh
// decipher given only that IV opens it; IVs never repeat; and an SA's opening context
// keeps working in any order, across tampered packets (dropped before decryption) and
// packets sealed the per-packet way (explicit IV).
import { createDecipheriv } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Reason } from '../../assembly/layout.js';
import { EspSa, openEsp, sealEsp } from '../../src/index.js';

const KEY = Buffer.from('000102030405060708090a0b0c0d0e0f', 'hex');
const AUTH = '11'.repeat(32);
const make = () => EspSa.create({ spi: 0x4242, mode: 'tunnel', family: 4, src: Uint8Array.of(192, 0, 2, 1), dst: Uint8Array.of(192, 0, 2, 2), esn: false },
  { encryption: { algorithm: 'aes-cbc', key: '0x' + KEY.toString('hex') }, integrity: { algorithm: 'hmac-sha256-128', key: '0x' + AUTH } }, 'esp')!;
const payload = (n: number) => Uint8Array.from({ length: 20 + ((n * 97) % 1400) }, (_, i) => (i * 7 + n) & 255);

describe('AES-CBC ESP with one long-lived context per SA (issue 16)', () => {
  it('every sealed packet is CBC under its own IV: a fresh decipher opens it; no IV twice', () => {
    const sa = make();
    const ivs = new Set<string>();
    for (let n = 1; n <= 200; n++) {
      const p = payload(n);
      const esp = sealEsp(sa, p, 4, BigInt(n)) as Uint8Array;
      expect(esp).toBeInstanceOf(Uint8Array);
      const iv = esp.subarray(8, 24);
      ivs.add(Buffer.from(iv).toString('hex'));
      const d = createDecipheriv('aes-128-cbc', KEY, iv);
      d.setAutoPadding(false);
      const clear = Buffer.concat([d.update(esp.subarray(24, esp.length - 16)), d.final()]);
      const pad = clear[clear.length - 2];
      expect(clear[clear.length - 1]).toBe(4);
      expect(clear.subarray(0, clear.length - 2 - pad)).toEqual(Buffer.from(p));
      for (let i = 0; i < pad; i++) expect(clear[p.length + i]).toBe(i + 1);
    }
    expect(ivs.size).toBe(200);
  });

  it('the opening context of an SA opens packets in any order, after tampered ones, and those sealed with an explicit IV', () => {
    const sealer = make();
    const opener = make(); // the peer: its own contexts
    const packets: { esp: Uint8Array; p: Uint8Array; seq: bigint }[] = [];
    for (let n = 1; n <= 60; n++) {
      const p = payload(n);
      const iv = n % 3 === 0 ? Uint8Array.from({ length: 16 }, (_, i) => (i + n) & 255) : undefined;
      packets.push({ esp: sealEsp(sealer, p, 4, BigInt(n), iv ? { iv } : undefined) as Uint8Array, p, seq: BigInt(n) });
    }
    // A fixed shuffle: later packets first, every fourth one tampered with before the good copy.
    const order = packets.map((_, i) => (i * 37) % packets.length);
    let tampered = 0;
    for (const i of order) {
      const { esp, p, seq } = packets[i];
      if (i % 4 === 0) {
        const bad = Uint8Array.from(esp);
        bad[30] ^= 1; // a ciphertext bit: the ICV fails, nothing is decrypted
        expect(openEsp(opener, bad, seq)).toBe(Reason.IntegrityFailed);
        tampered++;
      }
      const opened = openEsp(opener, esp, seq);
      expect(opened).toEqual({ payload: Buffer.from(p), nextHeader: 4 });
    }
    expect(tampered).toBe(15);
  });
});
