// The inbound path (R17–R20): SPI lookup with fallback, unknown SPIs reported at a
// bounded rate, the anti-replay window around decryption, and the inbound policy
// check of cleartext and decrypted packets.
import { describe, expect, it } from 'vitest';
import { buildPacket, createGateway, type InvalidSpiEvent } from '../../src/index.js';
import { engineWith } from './helpers.js';

const PEER = '198.51.100.1';
const US = '192.0.2.1';
const esp = (spi: number, sequence: number, src = PEER, dst = US) => buildPacket({ src, dst, proto: 'esp' }, { spi, sequence });
const inner = (src = '10.2.0.5', dst = '10.1.0.7') => buildPacket({ src, dst, proto: 'udp', srcPort: 5000, dstPort: 53 });
const inPolicy = { dir: 'in' as const, src: '10.2.0.0/16', dst: '10.1.0.0/16', action: 'protect' as const, template: { mode: 'tunnel' as const, src: PEER, dst: US } };
const inboundSa = { spi: 0x5001, src: PEER, dst: US, mode: 'tunnel' as const };

describe('R17: inbound SA lookup by SPI', () => {
  it('finds the SA by (SPI, destination) and reports the sequence number to check', async () => {
    const { engine } = await engineWith([inPolicy]);
    const sa = engine.addSA(inboundSa);
    const v = engine.inbound([esp(0x5001, 7)], 1);
    expect(v.get(0)).toMatchObject({ verdict: 'protect', reason: 'spi', saId: sa, spi: 0x5001 });
    expect(v.seq(0)).toBe(7n);
    expect(engine.stats().verdicts.in.protect).toBe(1);
  });

  it('falls back to the SPI alone when it names exactly one SA; never guesses between several', async () => {
    const { engine } = await engineWith([inPolicy]);
    const sa = engine.addSA(inboundSa);
    expect(engine.inbound([esp(0x5001, 1, PEER, '192.0.2.99')], 1).saId(0)).toBe(sa); // another address of ours
    engine.addSA({ ...inboundSa, dst: '192.0.2.2' }); // same SPI, other destination: allowed (R17)
    expect(engine.inbound([esp(0x5001, 2, PEER, '192.0.2.2')], 1).saId(0)).not.toBe(sa);
    expect(engine.inbound([esp(0x5001, 3, PEER, '192.0.2.99')], 1).get(0)).toMatchObject({ verdict: 'drop', reason: 'unknown-spi' });
  });
});

describe('R18: unknown SPI', () => {
  it('drops, and tells the key manager once per (SPI, peer) per second', async () => {
    const gw = await createGateway({ invalidSpiRate: 50 });
    const session = gw.registerKeyManager();
    const seen: InvalidSpiEvent[] = [];
    session.on('invalid-spi', (ev) => seen.push(ev));
    const v = gw.engine.inbound(Array.from({ length: 100 }, (_, i) => esp(0x7777, i + 1)), 1000);
    gw.deliver();
    expect(v.counts().drop).toBe(100);
    expect(v.reason(0)).toBe('unknown-spi');
    expect(seen).toEqual([{ type: 'invalid-spi', spi: 0x7777, src: PEER, dst: US, time: 1000 }]);
    gw.engine.inbound([esp(0x7777, 200)], 1999);
    gw.deliver();
    expect(seen).toHaveLength(1);
    gw.engine.inbound([esp(0x7777, 201)], 2000);
    gw.deliver();
    expect(seen).toHaveLength(2);
    // A flood of random SPIs: at most invalidSpiRate events per second.
    gw.engine.inbound(Array.from({ length: 300 }, (_, i) => esp(0x10000 + i, 1)), 5000);
    gw.deliver();
    expect(seen).toHaveLength(52);
    expect(gw.stats().resolution).toMatchObject({ invalidSpiEvents: 52, invalidSpiSuppressed: 99 + 1 + 250 });
    expect(gw.stats().drops['unknown-spi']).toBe(402);
  });
});

describe('R19 around decryption: pre-check before, window update after the ICV verified', () => {
  it('an outer packet passes the pre-check until its decrypted packet was accepted', async () => {
    const { engine } = await engineWith([inPolicy]);
    const sa = engine.addSA(inboundSa);
    expect(engine.inbound([esp(0x5001, 5), esp(0x5001, 5)], 1).counts().protect).toBe(2); // nothing accepted yet
    expect(engine.inboundDecrypted([{ packet: inner(), saId: sa, seq: 5 }], 2).get(0)).toMatchObject({ verdict: 'protect', reason: 'policy', saId: sa });
    expect(engine.inbound([esp(0x5001, 5)], 3).get(0)).toMatchObject({ verdict: 'drop', reason: 'replayed', saId: sa });
    expect(engine.inboundDecrypted([{ packet: inner(), saId: sa, seq: 5 }], 3).reason(0)).toBe('replayed');
    engine.inboundDecrypted([{ packet: inner(), saId: sa, seq: 500 }], 4);
    expect(engine.inbound([esp(0x5001, 300)], 5).reason(0)).toBe('replay-too-old');
  });

  it('ESN: the outer packet carries 32 bits; the verdict has the inferred 64-bit number', async () => {
    const { engine } = await engineWith([inPolicy]);
    const sa = engine.addSA({ ...inboundSa, esn: true });
    engine.inboundDecrypted([{ packet: inner(), saId: sa, seq: 2 ** 32 - 2 }], 1);
    const v = engine.inbound([esp(0x5001, 3)], 2);
    expect(v.seq(0)).toBe(2n ** 32n + 3n);
    expect(engine.inboundDecrypted([{ packet: inner(), saId: sa, seq: v.seq(0)! }], 3).verdict(0)).toBe('protect');
  });
});

describe('R20: inbound policy', () => {
  it('drops a cleartext packet that a protect policy selects; level use accepts it; bypass passes', async () => {
    const { engine } = await engineWith([
      inPolicy,
      { ...inPolicy, src: '10.3.0.0/16', template: { ...inPolicy.template, level: 'use' } },
      { dir: 'in', src: '10.4.0.0/16', action: 'bypass' },
    ]);
    const v = engine.inbound([inner(), inner('10.3.0.1'), inner('10.4.0.1'), inner('10.9.0.1')], 1);
    expect(v.toArray().map((r) => [r.verdict, r.reason])).toEqual([
      ['drop', 'clear-protected'], ['bypass', 'opportunistic'], ['bypass', 'policy'], ['bypass', 'default-policy'],
    ]);
    expect(engine.stats().drops['clear-protected']).toBe(1);
  });

  it('a decrypted packet must match an inbound protect policy whose template fits its SA', async () => {
    const { engine } = await engineWith([
      inPolicy,
      { ...inPolicy, src: '10.5.0.0/16', template: { mode: 'tunnel', src: '203.0.113.9', dst: US } }, // another peer's tunnel
    ]);
    const sa = engine.addSA(inboundSa);
    const v = engine.inboundDecrypted([
      { packet: inner(), saId: sa, seq: 1 },                // fits
      { packet: inner('10.5.0.1'), saId: sa, seq: 2 },      // policy for another peer's SA
      { packet: inner('10.9.0.1'), saId: sa, seq: 3 },      // no inbound protect policy at all
      { packet: Uint8Array.of(0x45), saId: sa, seq: 4 },    // garbage inside
    ], 1);
    expect(v.toArray().map((r) => [r.verdict, r.reason])).toEqual([
      ['protect', 'policy'], ['drop', 'policy-mismatch'], ['drop', 'policy-mismatch'], ['malformed', 'truncated'],
    ]);
    // Authentic packets moved the window even when policy refused them.
    expect(engine.replayCheck(sa, 2)).toMatchObject({ ok: false, reason: 'replayed' });
    expect(() => engine.inboundDecrypted([{ packet: inner(), saId: 0, seq: 1 }])).toThrow(/saId/);
  });
});
