// The inbound path (R17–R20): SPI lookup with fallback, unknown SPIs reported at a
// bounded rate, the anti-replay window around decryption, and the inbound policy
// check of cleartext and decrypted packets.
import { describe, expect, it } from 'vitest';
import { buildPacket, createEngine, createGateway, type InvalidSpiEvent } from '../../src/index.js';
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

  // The SPI-alone level answers only when exactly one SA has the SPI, so the chain of
  // SAs sharing an SPI must follow removals: of the newest (the chain's head) and of
  // an older one. Otherwise the fallback guesses a wrong SA or stays "ambiguous".
  it('the SPI-alone fallback follows removals of the SAs that shared the SPI', async () => {
    const { engine } = await engineWith([inPolicy]);
    const a = engine.addSA(inboundSa);
    const b = engine.addSA({ ...inboundSa, dst: '192.0.2.2' });
    const c = engine.addSA({ ...inboundSa, dst: '192.0.2.3' });
    const elsewhere = (seq: number) => esp(0x5001, seq, PEER, '192.0.2.99');
    expect(engine.inbound([elsewhere(1)], 1).reason(0)).toBe('unknown-spi'); // three SAs: ambiguous
    engine.removeSA(c); // the newest
    expect(engine.inbound([elsewhere(2)], 2).reason(0)).toBe('unknown-spi'); // still two
    engine.removeSA(a); // the oldest, behind b
    expect(engine.inbound([elsewhere(3)], 3).get(0)).toMatchObject({ verdict: 'protect', reason: 'spi', saId: b });
  });

  it('after the newest of two SAs sharing an SPI goes, the SPI alone names the other', async () => {
    const { engine } = await engineWith([inPolicy]);
    const a = engine.addSA(inboundSa);
    const b = engine.addSA({ ...inboundSa, dst: '192.0.2.2' });
    engine.removeSA(b);
    expect(engine.inbound([esp(0x5001, 1, PEER, '192.0.2.99')], 1).get(0)).toMatchObject({ verdict: 'protect', reason: 'spi', saId: a });
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

  // invalidSpiRate is "per second": the window that starts at t holds until t + 999
  // and a new one starts at t + 1000, as the per-(SPI, peer) limit above does.
  it('the overall limit counts in windows of one second: a new window starts exactly 1000 ms after the last', async () => {
    const engine = await createEngine({ invalidSpiRate: 2 });
    engine.inbound([esp(0x7001, 1), esp(0x7002, 1), esp(0x7003, 1)], 1000);
    engine.inbound([esp(0x7004, 1)], 1999);
    expect(engine.stats().resolution).toMatchObject({ invalidSpiEvents: 2, invalidSpiSuppressed: 2 });
    engine.inbound([esp(0x7005, 1), esp(0x7006, 1), esp(0x7007, 1)], 2000);
    expect(engine.stats().resolution).toMatchObject({ invalidSpiEvents: 4, invalidSpiSuppressed: 3 });
    expect(engine.readEvents().map((e) => (e as InvalidSpiEvent).spi)).toEqual([0x7001, 0x7002, 0x7005, 0x7006]);
  });

  // §2 and R18: INVALID_SPI is never queued; with the ring full it is counted as
  // suppressed. It must never be written over an event the key manager has not read.
  it('a full ring holds INVALID_SPI back and counts it, never writing over an unread event', async () => {
    const engine = await createEngine({ eventRingSize: 1 });
    engine.inbound([esp(0x7001, 1), esp(0x7002, 1)], 1000);
    engine.inbound([esp(0x7003, 1)], 1001);
    expect(engine.stats().resolution).toMatchObject({ invalidSpiEvents: 1, invalidSpiSuppressed: 2 });
    expect(engine.readEvents()).toEqual([{ type: 'invalid-spi', spi: 0x7001, src: PEER, dst: US, time: 1000 }]);
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

  // R6's template rule, which R20 applies: a template's reqid 0 means "any reqid",
  // so a decrypted packet on an SA with reqid 9 fits a reqid-0 policy; a template
  // that names reqid 7 takes only reqid 7.
  it('a template with reqid 0 takes an SA of any reqid; one with a reqid takes only that one', async () => {
    const { engine } = await engineWith([
      inPolicy,
      { ...inPolicy, src: '10.6.0.0/16', template: { ...inPolicy.template, reqid: 7 } },
    ]);
    const sa = engine.addSA({ ...inboundSa, reqid: 9 });
    const v = engine.inboundDecrypted([
      { packet: inner(), saId: sa, seq: 1 },
      { packet: inner('10.6.0.1'), saId: sa, seq: 2 },
    ], 1);
    expect(v.toArray().map((r) => [r.verdict, r.reason])).toEqual([['protect', 'policy'], ['drop', 'policy-mismatch']]);
  });
});

describe('RFC 3948: ESP in UDP to port 4500', () => {
  // What a gateway configures for IKE: UDP to our port 4500 from the peer passes in clear.
  const ike = { dir: 'in' as const, src: `${PEER}/32`, dst: `${US}/32`, proto: 'udp', dstPort: 4500, action: 'bypass' as const };
  const udp = (srcPort: number, dstPort: number, payload: number[]) => {
    const p = buildPacket({ src: PEER, dst: US, proto: 'udp', srcPort, dstPort }, { payloadLength: payload.length });
    p.set(payload, p.length - payload.length);
    return p;
  };
  const espHeader = (spi: number, seq: number) => [spi >>> 24, (spi >>> 16) & 255, (spi >>> 8) & 255, spi & 255, 0, 0, 0, seq];
  const data = new Array(24).fill(0xab);

  // §2.2: on port 4500, four zero octets (the non-ESP marker) mean IKE and a single
  // 0xFF octet a NAT keepalive; anything else is ESP, looked up by SPI (R17), even a
  // bare 8-octet header. The port that counts is the destination: a NAT rewrites the
  // peer's source port, and a packet from port 4500 to another port is not ours.
  it('§2.2: ESP unless the non-ESP marker or a keepalive; recognised by the destination port', async () => {
    const { engine, ids } = await engineWith([inPolicy, ike]);
    const sa = engine.addSA(inboundSa);
    const v = engine.inbound([
      udp(4500, 4500, [...espHeader(0x5001, 1), ...data]),
      udp(31337, 4500, [...espHeader(0x5001, 2), ...data]), // source port chosen by a NAT
      udp(4500, 4500, espHeader(0x5001, 3)), // only the SPI and the sequence number
      udp(4500, 4500, [0, 0, 0, 0, ...data]), // non-ESP marker: IKE
      udp(4500, 4500, [0xff]), // NAT keepalive
      udp(4500, 31337, [...espHeader(0x5001, 4), ...data]), // to another port: plain UDP
    ], 1);
    expect(v.toArray().map((r) => [r.verdict, r.reason, r.saId ?? r.policyId])).toEqual([
      ['protect', 'spi', sa], ['protect', 'spi', sa], ['protect', 'spi', sa],
      ['bypass', 'policy', ids[1]], ['bypass', 'policy', ids[1]], ['bypass', 'default-policy', null],
    ]);
    expect([v.seq(0), v.seq(1), v.seq(2)]).toEqual([1n, 2n, 3n]);
  });
});
