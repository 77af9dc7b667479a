// ChaCha20-Poly1305 ESP (RFC 7634), issue 16. Two code paths make the same bytes:
// libsodium through the optional sodium-native, and node:crypto. Checked against
// node:crypto used directly as the reference (nonce = salt | IV, §2; AAD = SPI |
// sequence number, §2.1; 16-octet ICV), both ways, and a flipped bit is an
// integrity failure (R23).
import { createCipheriv, createDecipheriv } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Reason } from '../../assembly/layout.js';
import { EspSa } from '../../src/esp/sa.js';
import { sealEsp } from '../../src/esp/encrypt.js';
import { openEsp } from '../../src/esp/decrypt.js';
import { sodium } from '../../src/esp/sodium.js';

const KEYMAT = Uint8Array.from({ length: 36 }, (_, i) => (i * 7 + 3) & 255);
const KEY = KEYMAT.subarray(0, 32);
const SALT = KEYMAT.subarray(32);

function sa(): EspSa {
  return EspSa.create({ spi: 0x1234, mode: 'tunnel', family: 4, src: Uint8Array.of(192, 0, 2, 1), dst: Uint8Array.of(192, 0, 2, 2), esn: false }, { encryption: { algorithm: 'chacha20-poly1305', key: KEYMAT } }, 'esp')!;
}

describe(`ESP ChaCha20-Poly1305, RFC 7634 (${sodium() ? 'libsodium via sodium-native' : 'node:crypto; sodium-native not installed'})`, () => {
  it('sealEsp matches node:crypto chacha20-poly1305 with nonce = salt | IV and AAD = SPI | seq (§2, §2.1)', () => {
    const s = sa();
    const payload = Uint8Array.from({ length: 1000 }, (_, i) => i & 255);
    const seq = 77n;
    const esp = sealEsp(s, payload, 4, seq) as Uint8Array;
    expect(typeof esp).not.toBe('number');
    const b = Buffer.from(esp);
    expect(b.readUInt32BE(0)).toBe(0x1234);
    expect(b.readUInt32BE(4)).toBe(77);
    const iv = b.subarray(8, 16);
    const nonce = Buffer.concat([SALT, iv]);
    const d = createDecipheriv('chacha20-poly1305', KEY, nonce, { authTagLength: 16 });
    d.setAAD(b.subarray(0, 8), { plaintextLength: b.length - 32 });
    d.setAuthTag(b.subarray(b.length - 16));
    const plain = Buffer.concat([d.update(b.subarray(16, b.length - 16)), d.final()]);
    expect([...plain.subarray(0, 1000)]).toEqual([...payload]);
    const pad = plain[plain.length - 2];
    expect(plain[plain.length - 1]).toBe(4);
    expect((1000 + pad + 2) % 4).toBe(0);
  });

  it('openEsp accepts what node:crypto sealed, and drops it as integrity-failed with one bit flipped (R23)', () => {
    const s = sa();
    const clear = Buffer.concat([Buffer.alloc(40, 9), Buffer.from([1, 2, 2, 4])]); // 40 octets, pad 1 2, pad length 2, next header 4
    const head = Buffer.alloc(16);
    head.writeUInt32BE(0x1234, 0);
    head.writeUInt32BE(5, 4);
    head.writeBigUInt64BE(5n, 8);
    const c = createCipheriv('chacha20-poly1305', KEY, Buffer.concat([SALT, head.subarray(8, 16)]), { authTagLength: 16 });
    c.setAAD(head.subarray(0, 8), { plaintextLength: clear.length });
    const ct = Buffer.concat([c.update(clear), c.final()]);
    const esp = Buffer.concat([head, ct, c.getAuthTag()]);
    const opened = openEsp(s, esp, 5n);
    expect(typeof opened).not.toBe('number');
    const o = opened as { payload: Buffer; nextHeader: number };
    expect(o.nextHeader).toBe(4);
    expect([...o.payload]).toEqual([...Buffer.alloc(40, 9)]);
    esp[20] ^= 1;
    expect(openEsp(s, esp, 5n)).toBe(Reason.IntegrityFailed);
  });
});
