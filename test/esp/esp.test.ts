// ESP on the packet path (R13, R17–R23): what one engine encrypts another decrypts,
// for every mode × algorithm × family (× UDP encapsulation); sequence numbers come
// from the engine and are never reused; tampering, replays, unknown SPIs and SAs
// without keys are counted drops; keys never appear in any output.
import { createCipheriv } from 'node:crypto';
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { Reason } from '../../assembly/layout.js';
import { buildPacket, createEngine, decryptEsp, encryptEsp, EspSa, LarvalError, openEsp, sealEsp } from '../../src/index.js';
import { upperLayerChecksum } from '../../src/wire/checksum.js';
import { fillIpv4Checksum } from '../../src/wire/ipv4.js';
import { allCases, caseName, HOSTS, keysFor, pair, saFor, udpPacket, type Case } from './helpers.js';

const be32 = (b: Uint8Array, at: number) => new DataView(b.buffer, b.byteOffset).getUint32(at);
const outerLength = (c: Case, inner: Uint8Array) => (c.mode === 'tunnel' ? (c.family === 4 ? 20 : 40) : inner[0] >> 4 === 4 ? 20 : 40) + (c.encap ? 8 : 0);

describe('R22: ESP round trip, every mode × algorithm × family × encapsulation', () => {
  for (const c of [...allCases(), { mode: 'tunnel', family: 4, alg: 'gcm128', encap: false, esn: true } as Case, { mode: 'transport', family: 6, alg: 'cbc128-sha1', encap: false, esn: true } as Case]) {
    it(caseName(c), async () => {
      const { a, b, aSa, bSa } = await pair(c);
      const inner = [udpPacket(c.family, 60, 1), udpPacket(c.family, 1400, 2), udpPacket(c.family, 333, 3)];
      const out = a.output(inner, 10);
      expect(out.verdicts.toArray().map((v) => [v.verdict, v.saId])).toEqual(inner.map(() => ['protect', aSa]));
      const h = HOSTS[c.family];
      out.packets.forEach((p, i) => {
        expect(p).not.toBeNull();
        const esp = outerLength(c, inner[i]);
        expect(p![0] >> 4).toBe(c.family);
        // Outer protocol: ESP, or UDP to port 4500 (RFC 3948).
        const proto = c.family === 4 ? p![9] : p![6];
        expect(proto).toBe(c.encap ? 17 : 50);
        if (c.encap) expect(new DataView(p!.buffer, p!.byteOffset).getUint16(esp - 6)).toBe(4500);
        expect(be32(p!, esp)).toBe(0x1001);
        expect(be32(p!, esp + 4)).toBe(i + 1); // R13: the engine's sequence numbers
        if (c.mode === 'tunnel') expect(Buffer.from(p!.subarray(c.family === 4 ? 12 : 8, c.family === 4 ? 16 : 24)).equals(Buffer.from(c.family === 4 ? [192, 0, 2, 1] : [0x20, 1, 0xd, 0xb8, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]))).toBe(true);
        // Nothing of the payload is visible in clear.
        expect(Buffer.from(p!).includes(Buffer.from(inner[i].subarray(inner[i].length - 40)))).toBe(false);
      });
      void h;
      const back = b.input(out.packets as Uint8Array[], 11);
      expect(back.verdicts.toArray().map((v) => [v.verdict, v.reason, v.saId])).toEqual(inner.map(() => ['protect', 'policy', bSa]));
      back.packets.forEach((p, i) => expect(Buffer.from(p!).equals(Buffer.from(inner[i]))).toBe(true));
      expect(b.getSA(bSa)!.usage.packets).toBe(3);
    });
  }
});

describe('R13: sequence numbers come from the engine, never reused', () => {
  it('ESN: the counter crosses 2^32 on the wire as 0xffffffff, 0, 1 and the peer accepts all three', async () => {
    const c: Case = { mode: 'tunnel', family: 4, alg: 'gcm128', encap: false, esn: true };
    const { a, b } = await pair(c);
    const aId = a.addSA({ ...saFor(c, 0x2002), lastSeq: 2n ** 32n - 2n });
    const bId = b.addSA({ ...saFor(c, 0x2002), lastSeq: 0 });
    void aId;
    // Move the peer's window near the boundary (two steps: RFC 4303 A2.2 reads a
    // number far below the window's top as the previous epoch).
    expect(b.replayAccept(bId, 0x7fffffff).ok).toBe(true);
    expect(b.replayAccept(bId, 0xfffffff0).ok).toBe(true);
    for (let i = 0; i < 3; i++) {
      const out = a.output([udpPacket(4, 100, i)], 20 + i);
      expect(out.verdicts.seq(0)).toBe(2n ** 32n - 1n + BigInt(i));
      expect(be32(out.packets[0]!, 24)).toBe([0xffffffff, 0, 1][i]);
      const back = b.input([out.packets[0]!], 20 + i);
      expect(back.verdicts.get(0)).toMatchObject({ verdict: 'protect', reason: 'policy' });
      expect(back.verdicts.seq(0)).toBe(2n ** 32n - 1n + BigInt(i));
    }
  });

  it('without ESN the counter never wraps: after 2^32 - 1 the SA stops protecting (R13 exhaustion), nothing goes out again with a used number', async () => {
    const c: Case = { mode: 'tunnel', family: 4, alg: 'gcm128', encap: false };
    const { a } = await pair(c);
    a.removeSA(1);
    a.addSA({ ...saFor(c, 0x3003), lastSeq: 2 ** 32 - 3 });
    const seen = new Set<number>();
    for (let i = 0; i < 5; i++) {
      const out = a.output([udpPacket(4, 100, i)], 30 + i);
      const p = out.packets[0];
      if (p === null) {
        expect(out.verdicts.verdict(0)).not.toBe('protect');
        continue;
      }
      const seq = be32(p, 24);
      expect(seen.has(seq)).toBe(false);
      seen.add(seq);
    }
    expect([...seen]).toEqual([2 ** 32 - 2, 2 ** 32 - 1]);
  });
});

describe('tampering: a flipped bit is a counted drop, and the window does not move (R19, R22)', () => {
  const cases: Case[] = [
    { mode: 'tunnel', family: 4, alg: 'gcm128', encap: false },
    { mode: 'transport', family: 6, alg: 'cbc128-sha1', encap: false },
    { mode: 'tunnel', family: 6, alg: 'cbc256-sha256', encap: false },
    { mode: 'transport', family: 4, alg: 'gcm256', encap: true },
  ];
  for (const c of cases) {
    it(`${caseName(c)}: every bit of the ESP packet (SPI to ICV)${c.family === 4 ? ' and of the outer IPv4 header' : ''}`, async () => {
      const { a, b } = await pair(c);
      const inner = udpPacket(c.family, 120, 7);
      const packet = a.output([inner], 1).packets[0]!;
      const esp = outerLength(c, inner);
      const bits: number[] = [];
      // IPv4: the header checksum covers the outer header. IPv6 has no header
      // checksum and ESP does not cover it (RFC 4303 §3.1): traffic class, flow
      // label, hop limit and source address can change unnoticed, as in any ESP.
      if (c.family === 4) for (let bit = 0; bit < 160; bit++) bits.push(bit);
      for (let bit = esp * 8; bit < packet.length * 8; bit++) bits.push(bit);
      const tampered = bits.map((bit) => {
        const t = Uint8Array.from(packet);
        t[bit >> 3] ^= 0x80 >> (bit & 7);
        return t;
      });
      const before = Object.values(b.stats().drops).reduce((x, y) => x + y, 0);
      const malformedBefore = b.stats().verdicts.in.malformed;
      const r = b.input(tampered, 2);
      const accepted = r.packets.map((p, i) => (p === null ? -1 : i)).filter((i) => i >= 0);
      expect(accepted.map((i) => bits[i])).toEqual([]);
      const reasons = new Set(r.verdicts.toArray().map((v) => v.reason));
      expect([...reasons].every((x) => ['integrity-failed', 'unknown-spi', 'bad-checksum', 'bad-esp', 'replay-too-old', 'bad-total-length', 'bad-version', 'bad-ihl', 'ext-header-truncated', 'truncated', 'l4-truncated', 'bad-l4-header', 'fragment-overflow', 'tiny-fragment', 'bad-payload-length'].includes(x))).toBe(true);
      expect(reasons.has('integrity-failed')).toBe(true);
      // Every one counted: drops plus malformed verdicts grew by the number of flips.
      const after = Object.values(b.stats().drops).reduce((x, y) => x + y, 0);
      expect(after - before + (b.stats().verdicts.in.malformed - malformedBefore)).toBeGreaterThanOrEqual(bits.length);
      // The window did not move: the untouched packet is still accepted, once.
      expect(b.input([packet], 3).verdicts.get(0)).toMatchObject({ verdict: 'protect', reason: 'policy' });
      expect(b.input([packet], 4).verdicts.get(0)).toMatchObject({ verdict: 'drop', reason: 'replayed' });
    });
  }
});

describe('drops with reasons (R18, R20, R23, R26)', () => {
  const c: Case = { mode: 'tunnel', family: 4, alg: 'gcm128', encap: false };

  it('unknown SPI: dropped and counted (R18)', async () => {
    const { a, b, bSa } = await pair(c);
    const p = a.output([udpPacket(4, 100)], 1).packets[0]!;
    b.removeSA(bSa);
    expect(b.input([p], 2).verdicts.get(0)).toMatchObject({ verdict: 'drop', reason: 'unknown-spi' });
    expect(b.stats().drops['unknown-spi']).toBe(1);
  });

  it('an SA without keys is selected but nothing leaves in clear or is accepted: no-keys (R23)', async () => {
    const { a, b } = await pair(c);
    const { encryption: _e, ...bare } = saFor(c, 0x4004);
    a.addSA(bare); // newer: selected (R6)
    const out = a.output([udpPacket(4, 100)], 1);
    expect(out.packets).toEqual([null]);
    expect(out.verdicts.get(0)).toMatchObject({ verdict: 'drop', reason: 'no-keys' });
    expect(a.stats().drops['no-keys']).toBe(1);
    const withKeys = await pair(c);
    withKeys.b.addSA(bare);
    const { b: keyless } = { b };
    void keyless;
    const p = withKeys.a.output([udpPacket(4, 100)], 1).packets[0]!;
    // Re-key the packet's SPI to the keyless inbound SA.
    const q = Uint8Array.from(p);
    new DataView(q.buffer).setUint32(20, 0x4004);
    expect(withKeys.b.input([q], 2).verdicts.get(0)).toMatchObject({ verdict: 'drop', reason: 'no-keys' });
  });

  it('R20: a packet that decrypts but whose inner packet no inbound policy of that SA selects: policy-mismatch', async () => {
    const { a, b } = await pair(c);
    const stray = buildPacket({ src: '10.9.0.1', dst: '10.2.0.5', proto: 'udp', srcPort: 1, dstPort: 2 });
    a.addPolicy({ dir: 'out', src: '10.9.0.0/16', dst: '10.2.0.0/16', action: 'protect', template: { mode: 'tunnel', src: HOSTS[4].gwA, dst: HOSTS[4].gwB } });
    const p = a.output([stray], 1).packets[0]!;
    expect(b.input([p], 2).verdicts.get(0)).toMatchObject({ verdict: 'drop', reason: 'policy-mismatch' });
  });

  it('cannot-encapsulate: an IPv4 fragment in transport mode, a packet ESP would take past 65535 octets', async () => {
    const t = await pair({ mode: 'transport', family: 4, alg: 'gcm128', encap: false });
    const frag = buildPacket({ src: HOSTS[4].a, dst: HOSTS[4].b, proto: 'udp', srcPort: 1, dstPort: 2 });
    frag[6] |= 0x20; // MF
    frag[10] = frag[11] = 0;
    const o1 = t.a.output([frag], 1);
    expect(o1.verdicts.get(0)).toMatchObject({ verdict: 'drop', reason: 'cannot-encapsulate' });
    const big = udpPacket(4, 65500);
    const tun = await pair(c);
    const o2 = tun.a.output([big], 1);
    expect(o2.packets).toEqual([null]);
    expect(o2.verdicts.reason(0)).toBe('cannot-encapsulate');
    expect(tun.a.stats().drops['cannot-encapsulate']).toBe(1);
  });

  it('padding that is not 1, 2, 3, … is bad-esp even though the ICV verifies (RFC 4303 §2.4)', () => {
    const keys = keysFor('gcm128');
    const material = keys.encryption!.key as Uint8Array;
    const sa = EspSa.create({ spi: 0x5006, mode: 'transport', family: 4, src: Uint8Array.of(1, 1, 1, 1), dst: Uint8Array.of(2, 2, 2, 2), esn: false }, keys, 'esp')!;
    // Built with node:crypto directly, so the padding can be wrong.
    const esp = (pad: number[]) => {
      const header = Buffer.from([0, 0, 0x50, 0x06, 0, 0, 0, 1]);
      const iv = Buffer.alloc(8, 7);
      const plain = Buffer.concat([Buffer.alloc(9, 0xab), Buffer.from(pad), Buffer.from([pad.length, 17])]);
      const c = createCipheriv('aes-128-gcm', material.subarray(0, 16), Buffer.concat([material.subarray(16), iv]), { authTagLength: 16 });
      c.setAAD(header);
      const ct = Buffer.concat([c.update(plain), c.final()]);
      return Buffer.concat([header, iv, ct, c.getAuthTag()]);
    };
    expect(openEsp(sa, esp([1]), 1n)).toEqual({ payload: Buffer.alloc(9, 0xab), nextHeader: 17 });
    expect(openEsp(sa, esp([2]), 1n)).toBe(Reason.BadEsp);
    expect(openEsp(sa, esp([1, 2, 3, 4, 6]), 1n)).toBe(Reason.BadEsp);
    expect(openEsp(sa, esp([1, 2, 3, 4, 5]), 1n)).toEqual({ payload: Buffer.alloc(9, 0xab), nextHeader: 17 });
  });

  it('a bad trailer after the ICV verified (dummy packet, next header 59) is bad-esp', () => {
    const sa = EspSa.create({ spi: 0x5005, mode: 'tunnel', family: 4, src: Uint8Array.of(1, 1, 1, 1), dst: Uint8Array.of(2, 2, 2, 2), esn: false }, keysFor('gcm128'), 'esp')!;
    const dummy = sealEsp(sa, new Uint8Array(10), 59, 1n) as Uint8Array;
    expect(openEsp(sa, dummy, 1n)).toBe(Reason.BadEsp);
    expect(openEsp(sa, dummy.subarray(0, 20), 1n)).toBe(Reason.BadEsp);
  });
});

describe('keys stay in the host and are never printed (docs/design.md §7)', () => {
  it('dump(), getSA(), inspect and JSON show algorithms and sizes only', async () => {
    const c: Case = { mode: 'tunnel', family: 4, alg: 'cbc256-sha256', encap: true };
    const { a, aSa } = await pair(c);
    const keys = keysFor(c.alg);
    const secrets = [keys.encryption!.key as Uint8Array, keys.integrity!.key as Uint8Array].map((k) => Buffer.from(k).toString('hex'));
    const info = a.getSA(aSa)!.transform;
    expect(info).toEqual({ encryption: { algorithm: 'aes-cbc', keyBits: 256 }, integrity: { algorithm: 'hmac-sha256-128', keyBits: 256 }, encap: { sport: 4500, dport: 4500 } });
    const texts = [
      JSON.stringify(a.dump(), (_k, v) => (typeof v === 'bigint' ? String(v) : v)),
      inspect(a, { depth: 20, showHidden: true }),
      inspect(a.espSa(aSa), { depth: 20 }),
      JSON.stringify(a.espSa(aSa)),
    ];
    for (const text of texts) {
      for (const s of secrets) expect(text.toLowerCase().includes(s.slice(0, 16))).toBe(false);
      // Nor as a list of decimal byte values.
      expect(text.includes(Array.from(keys.encryption!.key as Uint8Array).slice(0, 6).join(', '))).toBe(false);
    }
  });

  it('errors about keys say what is wrong without the key', async () => {
    const engine = await createEngine();
    const secret = 'deadbeefcafef00d'.repeat(2) + 'ab'; // 17 octets
    const base = { spi: 0x6006, src: '192.0.2.1', dst: '198.51.100.1', mode: 'tunnel' as const };
    const attempts: [unknown, RegExp][] = [
      [{ ...base, encryption: { algorithm: 'aes-gcm-16', key: secret } }, /encryption\.key: aes-gcm-16 takes 20, 28, 36 octets .*got 17/],
      [{ ...base, encryption: { algorithm: 'aes-gcm-16', key: secret + 'zz' } }, /encryption\.key: expected an even number of hex digits/],
      [{ ...base, encryption: { algorithm: 'aes-cbc', key: secret.slice(0, 32) } }, /integrity: aes-cbc needs an integrity algorithm/],
      [{ ...base, encryption: { algorithm: 'aes-cbc', key: secret.slice(0, 32) }, integrity: { algorithm: 'hmac-sha1-96', key: secret } }, /integrity\.key: hmac-sha1-96 takes 20 octets, got 17/],
      [{ ...base, encryption: { algorithm: 'aes-gcm-16', key: '11'.repeat(20) }, integrity: { algorithm: 'hmac-sha1-96', key: secret } }, /integrity: aes-gcm-16 authenticates by itself/],
      [{ ...base, proto: 'ah', encryption: { algorithm: 'aes-gcm-16', key: '11'.repeat(20) } }, /only ESP SAs carry keys/],
      [{ ...base, encryption: { algorithm: 'des', key: secret } }, /encryption\.algorithm: expected one of aes-gcm-16, aes-cbc/],
      [{ ...base, encryption: { algorithm: 'aes-gcm-16', key: '11'.repeat(20) }, encap: { dport: 70000 } }, /encap\.dport: expected a UDP port/],
    ];
    for (const [spec, message] of attempts) {
      let err: unknown;
      try {
        engine.addSA(spec as never);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(LarvalError);
      expect((err as LarvalError).code).toBe('EINVAL');
      expect((err as Error).message).toMatch(message);
      expect((err as Error).message.includes(secret.slice(0, 16))).toBe(false);
      expect(inspect(err).includes(secret.slice(0, 16))).toBe(false);
    }
    // A refused key installs nothing.
    expect(engine.stats().tables.sas).toBe(0);
  });
});

describe('framing: outer headers, padding and where ESP goes (RFC 4301 §5.1.2, RFC 4303 §2.4 and §3.1.1, RFC 3948)', () => {
  it('tunnel mode copies DSCP/ECN (RFC 6040 normal mode) and DF from the inner header, never MF: the outer packet is a datagram of its own', async () => {
    const { a } = await pair({ mode: 'tunnel', family: 4, alg: 'gcm128', encap: false });
    // An inner first fragment with DF, MF and DSCP EF + ECT(0): the outer header takes
    // DF and the TOS octet; MF belongs to the inner datagram's reassembly only.
    const inner = buildPacket({ src: HOSTS[4].a, dst: HOSTS[4].b, proto: 'udp', srcPort: 40000, dstPort: 5001 }, { ipv4Fragment: { offset: 0, more: true } });
    inner[1] = 0xb8 | 0x02;
    inner[6] |= 0x40;
    fillIpv4Checksum(inner, 0);
    const out = a.output([inner], 1);
    expect(out.verdicts.verdict(0)).toBe('protect');
    const p = out.packets[0]!;
    expect(p[1]).toBe(0xba);
    expect([p[6], p[7]]).toEqual([0x40, 0]); // DF, no MF, offset 0
    // IPv6 in IPv6: the traffic class (split over the first two octets) is copied whole.
    const v6 = await pair({ mode: 'tunnel', family: 6, alg: 'gcm128', encap: false });
    const inner6 = udpPacket(6, 100);
    inner6[0] = 0x60 | 0x0b; // traffic class 0xb8 (EF), flow label 0x12345
    inner6[1] = 0x81;
    inner6[2] = 0x23;
    inner6[3] = 0x45;
    const p6 = v6.a.output([inner6], 1).packets[0]!;
    expect(((p6[0] & 0x0f) << 4) | (p6[1] >> 4)).toBe(0xb8);
  });

  it('an IPv6 outer packet may carry 65535 octets after its fixed header (RFC 8200 §3 payload length): the limit is on the payload length, not the total', async () => {
    const { a, b } = await pair({ mode: 'tunnel', family: 6, alg: 'gcm128', encap: false });
    // 65498 + 2 trailer octets are 4-aligned: ESP = 8 + 8 + 65500 + 16 = 65532 octets.
    const fits = udpPacket(6, 65498, 1);
    const out = a.output([fits, udpPacket(6, 65499, 2)], 1);
    expect(out.verdicts.verdict(0)).toBe('protect');
    expect(out.packets[0]!.length).toBe(40 + 65532);
    expect(be32(out.packets[0]!, 4) >>> 16).toBe(65532);
    expect(out.verdicts.reason(1)).toBe('cannot-encapsulate'); // 65536 octets of ESP
    const back = b.input([out.packets[0]!], 2);
    expect(Buffer.from(back.packets[0]!).equals(Buffer.from(fits))).toBe(true);
  });

  it('TFC padding up to the Pad Length field\'s 255 octets is kept (RFC 4303 §2.4); 256 cannot be written', () => {
    const sa = EspSa.create({ spi: 0x5007, mode: 'tunnel', family: 4, src: Uint8Array.of(1, 1, 1, 1), dst: Uint8Array.of(2, 2, 2, 2), esn: false }, keysFor('gcm128'), 'esp')!;
    const payload = new Uint8Array(3).fill(0xab); // 3 + 255 + 2 = 260: 4-aligned
    const sealed = sealEsp(sa, payload, 4, 1n, { padding: 255 });
    expect(sealed).toBeInstanceOf(Uint8Array);
    expect((sealed as Uint8Array).length).toBe(8 + 8 + 260 + 16);
    expect(openEsp(sa, sealed as Uint8Array, 1n)).toEqual({ payload: Buffer.from(payload), nextHeader: 4 });
    expect(sealEsp(sa, new Uint8Array(2), 4, 1n, { padding: 256 })).toBe(Reason.CannotEncapsulate); // 2 + 256 + 2 is aligned too
  });

  it('IPv6 transport mode puts ESP after hop-by-hop and routing headers, destination options inside (RFC 4303 §3.1.1), and refuses a fragment', async () => {
    const { a, b } = await pair({ mode: 'transport', family: 6, alg: 'gcm128', encap: false });
    const h = HOSTS[6];
    const flow = { src: h.a, dst: h.b, proto: 'udp', srcPort: 40000, dstPort: 5001 } as const;
    const inner = buildPacket(flow, { ipv6ExtHeaders: ['hop-by-hop', 'routing', 'destination'] });
    const out = a.output([inner], 1);
    expect(out.verdicts.verdict(0)).toBe('protect');
    const p = out.packets[0]!;
    expect(p[6]).toBe(0); // hop-by-hop, in clear
    expect(p[40]).toBe(43); // → routing, in clear: intermediate nodes must read it
    expect(p[48]).toBe(50); // → ESP
    expect(be32(p, 56)).toBe(0x1001);
    expect(Buffer.from(b.input([p], 2).packets[0]!).equals(Buffer.from(inner))).toBe(true);
    // IPsec applies before fragmentation (RFC 4301 §7): a fragment has nothing to protect whole.
    const frag = buildPacket(flow, { ipv6ExtHeaders: [{ type: 'fragment', offset: 0, more: true }] });
    const o2 = a.output([frag], 2);
    expect(o2.packets).toEqual([null]);
    expect(o2.verdicts.reason(0)).toBe('cannot-encapsulate');
  });

  it('a UDP-encapsulated IPv6 packet whose checksum computes to 0 carries 0xffff: IPv6 forbids a zero UDP checksum (RFC 8200 §8.1, RFC 3948 §2.1)', () => {
    const sa = EspSa.create({ spi: 0x1001, mode: 'transport', family: 6, src: new Uint8Array(16), dst: new Uint8Array(16), esn: false }, { ...keysFor('gcm128'), encap: {} }, 'esp')!;
    // Found by trying sequence numbers (the GCM IV) until the checksum computed to 0:
    // fixed keys, inner packet and IV make the packet the same on every run.
    const out = encryptEsp(sa, udpPacket(6, 100, 1), 79986n) as Uint8Array;
    const udp = out.subarray(40);
    expect((udp[6] << 8) | udp[7]).toBe(0xffff);
    const zeroed = Uint8Array.from(udp);
    zeroed[6] = zeroed[7] = 0;
    expect(upperLayerChecksum({ src: out.subarray(8, 24), dst: out.subarray(24, 40) }, 17, zeroed)).toBe(0);
  });

  it('tunnel mode: the next header must name the inner packet\'s version (RFC 4303 §2.6), or the packet is bad-esp', () => {
    const sa = EspSa.create({ spi: 0x5008, mode: 'tunnel', family: 4, src: Uint8Array.of(1, 1, 1, 1), dst: Uint8Array.of(2, 2, 2, 2), esn: false }, keysFor('gcm128'), 'esp')!;
    const outer = (esp: Uint8Array) => {
      const p = new Uint8Array(20 + esp.length);
      p.set([0x45, 0, (p.length >> 8) & 255, p.length & 255, 0, 0, 0, 0, 64, 50], 0);
      p.set(esp, 20);
      return p;
    };
    const v4 = udpPacket(4, 60, 1), v6 = udpPacket(6, 80, 2);
    expect(Buffer.from(decryptEsp(sa, outer(sealEsp(sa, v4, 4, 1n) as Uint8Array), 20, 1n) as Uint8Array).equals(Buffer.from(v4))).toBe(true);
    expect(Buffer.from(decryptEsp(sa, outer(sealEsp(sa, v6, 41, 2n) as Uint8Array), 20, 2n) as Uint8Array).equals(Buffer.from(v6))).toBe(true);
    expect(decryptEsp(sa, outer(sealEsp(sa, v4, 41, 3n) as Uint8Array), 20, 3n)).toBe(Reason.BadEsp);
    expect(decryptEsp(sa, outer(sealEsp(sa, v4, 17, 4n) as Uint8Array), 20, 4n)).toBe(Reason.BadEsp);
    expect(decryptEsp(sa, outer(sealEsp(sa, v6, 4, 5n) as Uint8Array), 20, 5n)).toBe(Reason.BadEsp);
  });

  it('transport mode: decryptEsp() refuses an ESP offset the header chain does not lead to', () => {
    const sa = EspSa.create({ spi: 0x5009, mode: 'transport', family: 6, src: new Uint8Array(16), dst: new Uint8Array(16), esn: false }, keysFor('gcm128'), 'esp')!;
    const esp = sealEsp(sa, new Uint8Array(24).fill(7), 17, 1n) as Uint8Array;
    // The fixed header names ESP at 40, but the caller says it starts at 48.
    const p = new Uint8Array(48 + esp.length);
    p[0] = 0x60;
    p[4] = ((p.length - 40) >> 8) & 255;
    p[5] = (p.length - 40) & 255;
    p[6] = 50;
    p.set(esp, 48);
    expect(decryptEsp(sa, p, 48, 1n)).toBe(Reason.BadEsp);
    // Named where it is, the same packet opens.
    p[6] = 60; // destination options, 8 octets, then ESP
    p[40] = 50;
    expect(decryptEsp(sa, p, 48, 1n)).toBeInstanceOf(Uint8Array);
  });
});
