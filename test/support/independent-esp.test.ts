import { createDecipheriv, createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { independentEsp, type IndependentSa } from './independent-esp.js';

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const u16 = (b: Uint8Array, at: number): number => (b[at]! << 8) | b[at + 1]!;
const u32 = (b: Uint8Array, at: number): number => new DataView(b.buffer, b.byteOffset).getUint32(at);

function onesSum(bytes: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < bytes.length; i += 2) sum += (bytes[i]! << 8) | (bytes[i + 1] ?? 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return sum;
}

/** An IPv4 packet with a correct header checksum; optional header options. */
function ipv4(proto: number, payload: Uint8Array, src = [10, 0, 0, 1], dst = [10, 0, 0, 2], options: number[] = []): Uint8Array {
  const hl = 20 + options.length;
  const p = new Uint8Array(hl + payload.length);
  p[0] = 0x40 | (hl / 4);
  p[2] = p.length >> 8;
  p[3] = p.length & 0xff;
  p[4] = 0x12;
  p[5] = 0x34;
  p[8] = 63;
  p[9] = proto;
  p.set(src, 12);
  p.set(dst, 16);
  p.set(options, 20);
  const sum = ~onesSum(p.subarray(0, hl)) & 0xffff;
  p[10] = sum >> 8;
  p[11] = sum & 0xff;
  p.set(payload, hl);
  return p;
}

function ipv6(nextHeader: number, payload: Uint8Array, srcLast = 1, dstLast = 2): Uint8Array {
  const p = new Uint8Array(40 + payload.length);
  p[0] = 0x60;
  p[1] = 0x0a; // traffic class / flow label bits, which transport mode must keep
  p[4] = payload.length >> 8;
  p[5] = payload.length & 0xff;
  p[6] = nextHeader;
  p[7] = 17;
  p.set([0xfd, 0, 0, 0, 0, 0, 0, 1], 8);
  p[23] = srcLast;
  p.set([0xfd, 0, 0, 0, 0, 0, 0, 2], 24);
  p[39] = dstLast;
  p.set(payload, 40);
  return p;
}

const udp = (n: number): Uint8Array => {
  const d = new Uint8Array(8 + n);
  d.set([0x9c, 0x40, 0x9c, 0x41, (8 + n) >> 8, (8 + n) & 0xff, 0, 0], 0);
  for (let i = 0; i < n; i++) d[8 + i] = (i * 7 + 3) & 0xff;
  return d;
};

const GCM128 = hex('000102030405060708090a0b0c0d0e0f deadbeef');
const GCM256 = hex('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f cafef00d');
const CBC128 = hex('0f0e0d0c0b0a09080706050403020100');
const CBC256 = hex('1f1e1d1c1b1a191817161514131211100f0e0d0c0b0a09080706050403020100');
const SHA256KEY = hex('a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf');
const SHA1KEY = hex('c0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3');

interface Decoded {
  spi: number;
  seq: number;
  iv: Uint8Array;
  payload: Uint8Array;
  padding: Uint8Array;
  padLength: number;
  nextHeader: number;
  icv: Uint8Array;
}

/**
 * Decrypts the ESP part of a packet in a few lines of node:crypto (RFC 4106 / RFC 3602 / RFC 4303),
 * checking the ICV, and splits the trailer.
 */
function openEsp(esp: Uint8Array, sa: IndependentSa, seqHigh = 0): Decoded {
  const high = Buffer.alloc(4);
  high.writeUInt32BE(seqHigh);
  let plain: Buffer;
  let iv: Uint8Array;
  let icv: Uint8Array;
  if (sa.enc === 'aes-gcm-16') {
    iv = esp.subarray(8, 16);
    icv = esp.subarray(esp.length - 16);
    const key = sa.encKey.subarray(0, -4);
    const d = createDecipheriv(`aes-${key.length * 8}-gcm` as 'aes-128-gcm', key, Buffer.concat([sa.encKey.subarray(-4), iv]), { authTagLength: 16 });
    d.setAAD(sa.esn ? Buffer.concat([esp.subarray(0, 4), high, esp.subarray(4, 8)]) : esp.subarray(0, 8));
    d.setAuthTag(icv);
    plain = Buffer.concat([d.update(esp.subarray(16, esp.length - 16)), d.final()]);
  } else {
    const icvLength = sa.auth === 'hmac-sha256-128' ? 16 : sa.auth === 'hmac-sha1-96' ? 12 : 0;
    icv = esp.subarray(esp.length - icvLength);
    const body = esp.subarray(0, esp.length - icvLength);
    if (sa.auth !== null) {
      const mac = createHmac(sa.auth === 'hmac-sha256-128' ? 'sha256' : 'sha1', sa.authKey!).update(body);
      if (sa.esn) mac.update(high);
      expect(toHex(icv)).toBe(toHex(mac.digest().subarray(0, icvLength)));
    }
    iv = esp.subarray(8, 24);
    const d = createDecipheriv(`aes-${sa.encKey.length * 8}-cbc` as 'aes-128-cbc', sa.encKey, iv);
    d.setAutoPadding(false);
    plain = Buffer.concat([d.update(body.subarray(24)), d.final()]);
  }
  const padLength = plain[plain.length - 2]!;
  return {
    spi: u32(esp, 0),
    seq: u32(esp, 4),
    iv,
    payload: plain.subarray(0, plain.length - 2 - padLength),
    padding: plain.subarray(plain.length - 2 - padLength, plain.length - 2),
    padLength,
    nextHeader: plain[plain.length - 1]!,
    icv,
  };
}

function expectOuterIpv4(packet: Uint8Array, protocol: number, src: number[], dst: number[]): void {
  expect(packet[0]).toBe(0x45);
  expect(u16(packet, 2)).toBe(packet.length);
  expect(packet[8]).toBe(64);
  expect(packet[9]).toBe(protocol);
  expect(onesSum(packet.subarray(0, 20))).toBe(0xffff); // header checksum verifies
  expect([...packet.subarray(12, 16)]).toEqual(src);
  expect([...packet.subarray(16, 20)]).toEqual(dst);
}

function expectPadding(d: Decoded, align: number, protectedLength: number): void {
  expect((protectedLength + d.padLength + 2) % align).toBe(0);
  expect(d.padLength).toBeLessThan(align);
  expect([...d.padding]).toEqual(Array.from({ length: d.padLength }, (_, i) => i + 1));
}

function sa(over: Partial<IndependentSa>): IndependentSa {
  return { spi: 0x1234, mode: 'tunnel', family: 4, src: '192.0.2.1', dst: '192.0.2.2', enc: 'aes-gcm-16', encKey: GCM128, auth: null, ...over };
}

describe('known answers', () => {
  // RFC 3602 §4, Case #5: transport mode, ICMP, AES-128-CBC, no ICV.
  it('RFC 3602 case 5 (transport, AES-CBC)', () => {
    const icmp = hex('08000ebda70a00008e9c083db95b070008090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f3031323334353637');
    const out = independentEsp(
      sa({ spi: 0x4321, mode: 'transport', enc: 'aes-cbc', encKey: hex('90d382b410eeba7ad938c46cec1a82bf') }),
      ipv4(1, icmp), 1n, { iv: hex('e96e8c08ab465763fd098d45dd3ff893') },
    );
    expect(toHex(out.subarray(20))).toBe(
      '0000432100000001e96e8c08ab465763fd098d45dd3ff893f663c25d325c18c6a9453e194e120849a4870b66cc6b9965330013b4898dc856a4699e523a55db080b59ec3a8e4b7e52775b07d1db34ed9c538ab50c551b874aa269add047ad2d5913ac19b7cfbad4a6',
    );
  });

  // RFC 3602 §4, Cases #7 and #8: tunnel mode, inner IPv4 ICMP, AES-128-CBC, no ICV.
  it.each([
    ['case 7', 2n, 'f4e765244f6407adf13dc1380f673f37',
      '45000054090400004001f988c0a87b03c0a87bc808009f76a90a0100b49c083d02a2040008090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f3031323334353637',
      '0000876500000002f4e765244f6407adf13dc1380f673f37773b5241a4c449225e4f3ce5ed611b0c237ca96cf74a93013c1b0ea1a0cf70f8e4ecaec78ac53aad7a0f022b859243c647752e94a859352b8a4d4d2decd136e5c177f132ad3fbfb2201ac9904c74ee0a109e0ca1e4dfe9d5a100b842f1c22f0d'],
    ['case 8', 5n, '85d47224b5f3dd5d2101d4ea8dffab22',
      '45000044090c00004001f990c0a87b03c0a87bc80800d63caa0a0200c69c083da3de0300ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff',
      '000087650000000585d47224b5f3dd5d2101d4ea8dffab2215b92683819596a8047232cc00f7048fe45318e11f8a0f62ede3c3fc61203bb50f980a08c9843fd3a1b06d5c07ff9639b7eb7dfb3512e5de435e7207ed971ef3d2726d9b5ef6affc6d17a0decbb13892'],
  ] as const)('RFC 3602 %s (tunnel, AES-CBC)', (_name, seq, iv, inner, expected) => {
    const out = independentEsp(sa({ spi: 0x8765, enc: 'aes-cbc', encKey: hex('0123456789abcdef0123456789abcdef') }), hex(inner), seq, { iv: hex(iv) });
    expect(toHex(out.subarray(20))).toBe(expected);
  });

  // draft-mcgrew-gcm-test-01: AES-128-GCM, ESN (AAD = SPI || SN high || SN low), transport ICMP.
  it('draft-mcgrew-gcm-test-01 ESN case (transport, AES-GCM, 64-bit sequence number)', () => {
    const icmp = hex('0800c6cd020007006162636465666768696a6b6c6d6e6f7071727374');
    const out = independentEsp(
      sa({ spi: 0x4321, mode: 'transport', encKey: hex('4c80cdefbb5d10da906ac73c3613a634 22433c64'), esn: true }),
      ipv4(1, icmp), 0x8765_4321_0000_0007n, { iv: hex('4855ec7d3a234bfd') },
    );
    expect(toHex(out.subarray(20))).toBe(
      '00004321000000074855ec7d3a234bfd74752e8aeb5d873cd7c0f4acc36c4bff84b7d7b98f0ca8b6acda6894bc619069ef9cbc28fe1b56a7c4e0d58c86cd2bc0',
    );
  });
});

describe('tunnel mode', () => {
  const inner4 = ipv4(17, udp(13));
  const inner6 = ipv6(17, udp(21));

  it.each([
    ['aes-gcm-16 (128)', { enc: 'aes-gcm-16', encKey: GCM128, auth: null }, 4, 8, 16],
    ['aes-gcm-16 (256)', { enc: 'aes-gcm-16', encKey: GCM256, auth: null }, 4, 8, 16],
    ['aes-cbc-128 + hmac-sha256-128', { enc: 'aes-cbc', encKey: CBC128, auth: 'hmac-sha256-128', authKey: SHA256KEY }, 16, 16, 16],
    ['aes-cbc-256 + hmac-sha256-128', { enc: 'aes-cbc', encKey: CBC256, auth: 'hmac-sha256-128', authKey: SHA256KEY }, 16, 16, 16],
    ['aes-cbc-128 + hmac-sha1-96', { enc: 'aes-cbc', encKey: CBC128, auth: 'hmac-sha1-96', authKey: SHA1KEY }, 16, 16, 12],
  ] as const)('%s over IPv4 carries an IPv4 packet (next header 4)', (_name, alg, align, ivLength, icvLength) => {
    const s = sa({ ...alg });
    const out = independentEsp(s, inner4, 7n);
    expectOuterIpv4(out, 50, [192, 0, 2, 1], [192, 0, 2, 2]);
    const esp = out.subarray(20);
    const d = openEsp(esp, s);
    expect(d.spi).toBe(0x1234);
    expect(d.seq).toBe(7);
    expect(d.iv.length).toBe(ivLength);
    expect(d.icv.length).toBe(icvLength);
    expect(d.nextHeader).toBe(4);
    expect(toHex(d.payload)).toBe(toHex(inner4));
    expectPadding(d, align, inner4.length);
  });

  it('IPv6 outer header: hop limit 64, payload length, next header 50; inner IPv6 gets next header 41', () => {
    const s = sa({ family: 6, src: '2001:db8::a', dst: '2001:db8:0:0:0:0:0:b', enc: 'aes-cbc', encKey: CBC256, auth: 'hmac-sha256-128', authKey: SHA256KEY });
    const out = independentEsp(s, inner6, 1n);
    expect(out[0]! >> 4).toBe(6);
    expect(u16(out, 4)).toBe(out.length - 40);
    expect(out[6]).toBe(50);
    expect(out[7]).toBe(64);
    expect(toHex(out.subarray(8, 24))).toBe('20010db80000000000000000000000' + '0a');
    expect(toHex(out.subarray(24, 40))).toBe('20010db80000000000000000000000' + '0b');
    const d = openEsp(out.subarray(40), s);
    expect(d.nextHeader).toBe(41);
    expect(toHex(d.payload)).toBe(toHex(inner6));
  });

  it('IPv4 outer around an IPv6 inner packet, and IPv6 outer around IPv4', () => {
    const s4 = sa({});
    expect(openEsp(independentEsp(s4, inner6, 2n).subarray(20), s4).nextHeader).toBe(41);
    const s6 = sa({ family: 6, src: '::ffff:192.0.2.1', dst: 'fe80::1' });
    const out = independentEsp(s6, inner4, 2n);
    expect(toHex(out.subarray(8, 24))).toBe('00000000000000000000ffffc0000201');
    expect(openEsp(out.subarray(40), s6).nextHeader).toBe(4);
  });

  it('uses the given IV and pads to padTo', () => {
    const s = sa({});
    const iv = hex('0102030405060708');
    const d = openEsp(independentEsp(s, inner4, 3n, { iv, padTo: 32 }).subarray(20), s);
    expect(toHex(d.iv)).toBe('0102030405060708');
    expectPadding(d, 32, inner4.length);
  });

  it('draws a fresh random IV for each packet by default', () => {
    const s = sa({ enc: 'aes-cbc', encKey: CBC128, auth: 'hmac-sha1-96', authKey: SHA1KEY });
    const a = independentEsp(s, inner4, 1n);
    const b = independentEsp(s, inner4, 1n);
    expect(toHex(a.subarray(28, 44))).not.toBe(toHex(b.subarray(28, 44)));
  });
});

describe('transport mode', () => {
  it('IPv4: keeps the header (and its options), sets protocol 50, total length and checksum', () => {
    const options = [0x94, 0x04, 0x00, 0x00]; // router alert
    const inner = ipv4(17, udp(10), [10, 1, 1, 1], [10, 2, 2, 2], options);
    const s = sa({ mode: 'transport', enc: 'aes-cbc', encKey: CBC128, auth: 'hmac-sha256-128', authKey: SHA256KEY });
    const out = independentEsp(s, inner, 9n);
    expect(out[0]).toBe(0x46);
    expect(u16(out, 2)).toBe(out.length);
    expect(out[9]).toBe(50);
    expect(onesSum(out.subarray(0, 24))).toBe(0xffff);
    expect([...out.subarray(4, 9)]).toEqual([...inner.subarray(4, 9)]); // id, flags, TTL untouched
    expect([...out.subarray(12, 24)]).toEqual([...inner.subarray(12, 24)]); // addresses and options
    const d = openEsp(out.subarray(24), s);
    expect(d.nextHeader).toBe(17);
    expect(toHex(d.payload)).toBe(toHex(inner.subarray(24)));
    expectPadding(d, 16, inner.length - 24);
  });

  it('IPv6: ESP follows the fixed header, payload length updated, next header carried in the trailer', () => {
    const inner = ipv6(17, udp(30));
    const s = sa({ mode: 'transport', family: 6 });
    const out = independentEsp(s, inner, 11n);
    expect([...out.subarray(0, 4)]).toEqual([...inner.subarray(0, 4)]);
    expect(u16(out, 4)).toBe(out.length - 40);
    expect(out[6]).toBe(50);
    expect(out[7]).toBe(17); // hop limit untouched
    expect([...out.subarray(8, 40)]).toEqual([...inner.subarray(8, 40)]);
    const d = openEsp(out.subarray(40), s);
    expect(d.nextHeader).toBe(17);
    expect(toHex(d.payload)).toBe(toHex(inner.subarray(40)));
  });

  it('only protects the datagram, not trailing bytes beyond its length fields', () => {
    const inner = ipv4(17, udp(4));
    const padded = new Uint8Array(inner.length + 6);
    padded.set(inner);
    const s = sa({ mode: 'transport' });
    expect(toHex(openEsp(independentEsp(s, padded, 1n).subarray(20), s).payload)).toBe(toHex(inner.subarray(20)));
  });

  it('rejects IPv6 packets with extension headers, fragments, and a family mismatch', () => {
    const hopByHop = ipv6(0, new Uint8Array([17, 0, 1, 4, 0, 0, 0, 0, ...udp(0)]));
    expect(() => independentEsp(sa({ mode: 'transport', family: 6 }), hopByHop, 1n)).toThrow(/extension header 0/);
    const fragment = ipv4(17, udp(4));
    fragment[6] = 0x20; // MF
    expect(() => independentEsp(sa({ mode: 'transport' }), fragment, 1n)).toThrow(/fragment/);
    expect(() => independentEsp(sa({ mode: 'transport', family: 6 }), ipv4(17, udp(4)), 1n)).toThrow(/family/);
  });
});

describe('extended sequence numbers', () => {
  const seq = (5n << 32n) | 0xfffffff0n;

  it('GCM: only the low 32 bits are sent; the high bits are in the AAD', () => {
    const s = sa({ esn: true });
    const esp = independentEsp(s, ipv4(17, udp(3)), seq).subarray(20);
    expect(u32(esp, 4)).toBe(0xfffffff0);
    expect(openEsp(esp, s, 5).nextHeader).toBe(4);
    expect(() => openEsp(esp, s, 4)).toThrow(); // wrong high bits fail authentication
    expect(() => openEsp(esp, { ...s, esn: false })).toThrow();
  });

  it('HMAC: the high bits are appended to the ICV input', () => {
    const s = sa({ esn: true, enc: 'aes-cbc', encKey: CBC128, auth: 'hmac-sha256-128', authKey: SHA256KEY });
    const esp = independentEsp(s, ipv4(17, udp(3)), seq).subarray(20);
    expect(u32(esp, 4)).toBe(0xfffffff0);
    expect(openEsp(esp, s, 5).nextHeader).toBe(4);
    expect(() => openEsp(esp, s, 0)).toThrow();
  });

  it('without ESN, sequence numbers must fit in 32 bits', () => {
    expect(() => independentEsp(sa({}), ipv4(17, udp(3)), 1n << 32n)).toThrow(RangeError);
    expect(() => independentEsp(sa({ esn: true }), ipv4(17, udp(3)), 1n << 64n)).toThrow(RangeError);
  });
});

describe('UDP encapsulation (RFC 3948)', () => {
  it('IPv4: protocol 17, UDP header with the given ports and checksum 0, then ESP', () => {
    const s = sa({ udpEncap: { sport: 4500, dport: 4501 } });
    const out = independentEsp(s, ipv4(17, udp(5)), 1n);
    expectOuterIpv4(out, 17, [192, 0, 2, 1], [192, 0, 2, 2]);
    expect([u16(out, 20), u16(out, 22), u16(out, 24), u16(out, 26)]).toEqual([4500, 4501, out.length - 20, 0]);
    expect(openEsp(out.subarray(28), s).spi).toBe(0x1234);
  });

  it('IPv6: UDP checksum is computed (zero is not allowed over IPv6)', () => {
    const s = sa({ family: 6, src: '2001:db8::1', dst: '2001:db8::2', udpEncap: { sport: 4500, dport: 4500 } });
    const out = independentEsp(s, ipv4(17, udp(5)), 1n);
    expect(out[6]).toBe(17);
    const udpPart = out.subarray(40);
    expect(u16(udpPart, 4)).toBe(udpPart.length);
    expect(u16(udpPart, 6)).not.toBe(0);
    const pseudo = new Uint8Array(40);
    pseudo.set(out.subarray(8, 40), 0);
    new DataView(pseudo.buffer).setUint32(32, udpPart.length);
    pseudo[39] = 17;
    const total = onesSum(new Uint8Array([...pseudo, ...udpPart]));
    expect(total).toBe(0xffff);
    expect(openEsp(udpPart.subarray(8), s).nextHeader).toBe(4);
  });
});

describe('argument checks', () => {
  const inner = ipv4(17, udp(1));
  it.each([
    ['GCM with an HMAC', { auth: 'hmac-sha1-96', authKey: SHA1KEY }, /sa\.auth/],
    ['GCM key without salt', { encKey: CBC128 }, /sa\.encKey/],
    ['CBC key of 20 bytes', { enc: 'aes-cbc', encKey: GCM128 }, /sa\.encKey/],
    ['HMAC-SHA-256 key of 20 bytes', { enc: 'aes-cbc', encKey: CBC128, auth: 'hmac-sha256-128', authKey: SHA1KEY }, /sa\.authKey/],
    ['missing HMAC key', { enc: 'aes-cbc', encKey: CBC128, auth: 'hmac-sha1-96' }, /sa\.authKey/],
    ['SPI out of range', { spi: 2 ** 32 }, /sa\.spi/],
    ['bad mode', { mode: 'tunnle' as never }, /sa\.mode/],
    ['bad outer address', { src: '192.0.2.256' }, /sa\.src/],
    ['bad IPv6 outer address', { family: 6, src: '2001:db8::1', dst: '2001:db8:::2' }, /sa\.dst/],
    ['UDP port 0', { udpEncap: { sport: 0, dport: 4500 } }, /sa\.udpEncap\.sport/],
  ] as const)('%s', (_name, over, message) => {
    expect(() => independentEsp(sa(over as Partial<IndependentSa>), inner, 1n)).toThrow(message);
  });

  it('checks the IV length, padTo and the inner packet', () => {
    expect(() => independentEsp(sa({}), inner, 1n, { iv: new Uint8Array(16) })).toThrow(/options\.iv/);
    expect(() => independentEsp(sa({ enc: 'aes-cbc', encKey: CBC128 }), inner, 1n, { padTo: 8 })).toThrow(/options\.padTo/);
    expect(() => independentEsp(sa({}), inner, 1n, { padTo: 512 })).toThrow(/255/);
    expect(() => independentEsp(sa({}), new Uint8Array([0x50, 0, 0, 0]), 1n)).toThrow(/version 5/);
    expect(() => independentEsp(sa({}), inner, 1 as never)).toThrow(/bigint/);
  });
});
