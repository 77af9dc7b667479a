// IKEv2 exchanges between two larval daemons in one process (RFC 7296; docs/design.md
// R27–R30): on-demand initiation with one ACQUIRE and one IKE_SA_INIT, the queued
// first packet released through the new SA, proposal mismatch, wrong PSK, rekeys.
import { describe, expect, it } from 'vitest';
import { buildPacket } from '../../src/wire/build.js';
import { A, B, conn, pair, swanctl, until } from './support.js';

const ping = () => buildPacket({ src: '10.1.0.5', dst: '10.2.0.5', proto: 'icmp', icmpType: 8, icmpCode: 0 });

describe('IKEv2 larval ↔ larval', () => {
  it('R27: a packet with no SA starts exactly one IKE_SA_INIT; the packet waits and leaves through the new CHILD SA (R9)', async () => {
    const { a, b, wire, close } = await pair(swanctl(conn(A, B, '10.1.0.0/24', '10.2.0.0/24')), swanctl(conn(B, A, '10.2.0.0/24', '10.1.0.0/24')));
    const out = a.gw.output([ping(), ping(), ping()], 0);
    expect(out.verdicts.verdict(0)).toBe('queued');
    await until(() => a.released.length === 3);
    expect(a.ike.stats().counters.acquires).toBe(1);
    expect(a.ike.stats().counters['ike-init-sent']).toBe(1);
    const exchangeOf = (w: Buffer) => (w.length > 4 && w.readUInt32BE(0) === 0 ? w[4 + 18] : w[18]);
    expect(wire.filter((w) => exchangeOf(w) === 34).length).toBe(2);
    const la = a.ike.list(), lb = b.ike.list();
    expect(la).toHaveLength(1);
    expect(la[0].state).toBe('established');
    expect(lb[0].children[0].spiIn).toBe(la[0].children[0].spiOut);
    expect(lb[0].children[0].spiOut).toBe(la[0].children[0].spiIn);
    // The released packet decrypts on B into the original.
    const res = b.gw.input([Buffer.from(a.released[0])], 0);
    expect(res.verdicts.verdict(0)).toBe('protect');
    expect(Buffer.from(res.packets[0]!).equals(Buffer.from(ping()))).toBe(true);
    expect(a.ike.stats().drops).toEqual({});
    expect(b.ike.stats().drops).toEqual({});
    await close();
  });

  it('R18/R30: ESP on an unknown SPI from a peer while its IKE SA is alive is a counted drop and starts nothing (a spoofer cannot force a negotiation; docs/security.md)', async () => {
    const { a, close } = await pair(swanctl(conn(A, B, '10.1.0.0/24', '10.2.0.0/24')), swanctl(conn(B, A, '10.2.0.0/24', '10.1.0.0/24')));
    a.gw.output([ping()], 0);
    await until(() => a.released.length === 1);
    const children = a.ike.list()[0].children.length;
    // UDP to 4500 without the non-ESP marker is ESP; its SPI (0x00010203) names no SA.
    const spoofed = buildPacket({ src: B, dst: A, proto: 'udp', srcPort: 4500, dstPort: 4500 }, { payloadLength: 64 });
    const res = a.gw.input([spoofed]);
    expect(res.verdicts.reason(0)).toBe('unknown-spi');
    await until(() => a.gw.engine.stats().resolution.invalidSpiEvents >= 1);
    await new Promise((r) => setImmediate(r)); // the daemon's turn for the event
    expect(a.ike.stats().counters['invalid-spi-reconnect'] ?? 0).toBe(0);
    expect(a.ike.stats().counters['ike-init-sent']).toBe(1);
    expect(a.ike.list()).toHaveLength(1);
    expect(a.ike.list()[0].children).toHaveLength(children);
    await close();
  });

  it('NO_PROPOSAL_CHOSEN: no overlap, no SA, the ACQUIRE fails', async () => {
    const cb = conn(B, A, '10.2.0.0/24', '10.1.0.0/24', { proposals: [{ encr: [{ alg: 'aes-cbc', keyBits: 128 }], integ: ['hmac-sha2-256-128'], prf: ['hmac-sha2-384'], dh: ['ecp256'] }] });
    const { a, b, close } = await pair(swanctl(conn(A, B, '10.1.0.0/24', '10.2.0.0/24')), swanctl(cb));
    a.gw.output([ping()], 0);
    await until(() => (a.ike.stats().counters['failed-NO_PROPOSAL_CHOSEN'] ?? 0) === 1);
    expect(b.ike.stats().drops['init-no-proposal-chosen']).toBe(1);
    expect(a.ike.list()).toEqual([]);
    expect(b.ike.list()).toEqual([]);
    await close();
  });

  it('AUTHENTICATION_FAILED with a wrong PSK: no SA on either side', async () => {
    const { a, b, close } = await pair(swanctl(conn(A, B, '10.1.0.0/24', '10.2.0.0/24')), swanctl(conn(B, A, '10.2.0.0/24', '10.1.0.0/24'), 'another-pre-shared-key'));
    a.gw.output([ping()], 0);
    await until(() => (a.ike.stats().counters['failed-AUTHENTICATION_FAILED'] ?? 0) === 1);
    expect(b.ike.stats().drops['auth-failed']).toBe(1);
    expect(a.gw.engine.dump().sas).toHaveLength(0);
    expect(b.gw.engine.dump().sas).toHaveLength(0);
    await close();
  });

  for (const [name, ike, esp] of [
    ['aes-cbc-256/sha256/modp2048, ESP aes-cbc-128/sha256 with PFS ecp256', { encr: [{ alg: 'aes-cbc', keyBits: 256 }], integ: ['hmac-sha2-256-128'], prf: ['hmac-sha2-384'], dh: ['modp2048'] }, { encr: [{ alg: 'aes-cbc', keyBits: 128 }], integ: ['hmac-sha2-256-128'], dh: ['ecp256'], esn: false }],
    ['aes-gcm-128/prf sha512/ecp256, ESP aes-gcm-256 no PFS', { encr: [{ alg: 'aes-gcm-16', keyBits: 128 }], integ: [], prf: ['hmac-sha2-512'], dh: ['ecp256'] }, { encr: [{ alg: 'aes-gcm-16', keyBits: 256 }], integ: [], dh: [], esn: false }],
  ] as const) {
    it(`${name}: CHILD rekey from EXPIRE(soft) (R28), IKE rekey, traffic on the new SAs`, async () => {
      const over = { proposals: [ike as never] };
      const ch = { espProposals: [esp as never] };
      const { a, b, close } = await pair(swanctl(conn(A, B, '10.1.0.0/24', '10.2.0.0/24', over, { ...ch, rekeyTimeMs: 1000, lifeTimeMs: 5000 })), swanctl(conn(B, A, '10.2.0.0/24', '10.1.0.0/24', over, ch)));
      a.gw.output([ping()], 0);
      await until(() => a.released.length === 1);
      const first = a.ike.list()[0].children[0].spiOut;
      a.t.now = 1500;
      b.t.now = 1500;
      a.gw.tick(1500);
      await until(() => (a.ike.stats().counters['child-rekeyed'] ?? 0) === 1 && (a.ike.stats().counters['child-deleted'] ?? 0) === 1);
      const now = a.ike.list()[0].children.filter((c) => c.state === 'installed');
      expect(now).toHaveLength(1);
      expect(now[0].spiOut).not.toBe(first);
      expect(a.ike.rekeyIke('net')).toBe(true);
      await until(() => (b.ike.stats().counters['ike-deleted-by-peer'] ?? 0) === 1 && a.ike.list().length === 1);
      expect(a.ike.list()).toHaveLength(1);
      expect(b.ike.list()).toHaveLength(1);
      expect(a.ike.list()[0].children).toHaveLength(1);
      const out = a.gw.output([ping()], 1600);
      const res = b.gw.input([Buffer.from(out.packets[0]!)], 1600);
      expect(res.verdicts.verdict(0)).toBe('protect');
      expect(a.ike.stats().drops).toEqual({});
      expect(b.ike.stats().drops).toEqual({});
      await close();
    });
  }
});

describe('liveness (R29)', () => {
  it('a peer that stops answering loses its IKE and CHILD SAs; the next packet negotiates afresh (queued, not lost)', async () => {
    let silent = false;
    const { a, b, close } = await pair(swanctl(conn(A, B, '10.1.0.0/24', '10.2.0.0/24', { dpdDelayMs: 1000 })), swanctl(conn(B, A, '10.2.0.0/24', '10.1.0.0/24')), (bytes, from) => (silent && from === B ? null : bytes));
    a.gw.output([ping()], 0);
    await until(() => a.released.length === 1);
    silent = true;
    a.t.now = 5000; // engine time passes: no message from B for longer than dpd_delay
    await until(() => (a.ike.stats().counters['peer-dead'] ?? 0) === 1, 10_000);
    expect(a.ike.stats().counters['dpd-sent']).toBe(1);
    expect(a.gw.engine.dump().sas).toHaveLength(0);
    silent = false;
    const out = a.gw.output([ping()], 5000);
    expect(out.verdicts.verdict(0)).toBe('queued');
    await until(() => a.released.length === 2);
    expect(a.ike.stats().counters.acquires).toBe(2);
    await close();
  });
});

describe('retransmission (§2.4)', () => {
  it('an unanswered request is sent `tries` times in all (the first send and tries − 1 retransmissions), then the peer is dead', async () => {
    let silent = false;
    let sends = 0;
    const { a, close } = await pair(swanctl(conn(A, B, '10.1.0.0/24', '10.2.0.0/24', { dpdDelayMs: 1000 })), swanctl(conn(B, A, '10.2.0.0/24', '10.1.0.0/24')), (bytes, from) => {
      if (!silent) return bytes;
      const ike = bytes.length >= 4 && bytes.readUInt32BE(0) === 0 ? bytes.subarray(4) : bytes;
      if (from === A && ike[18] === 37) sends++; // the liveness check, INFORMATIONAL
      return from === B ? null : bytes;
    });
    a.gw.output([ping()], 0);
    await until(() => a.released.length === 1);
    silent = true;
    a.t.now = 5000;
    await until(() => (a.ike.stats().counters['peer-dead'] ?? 0) === 1, 10_000);
    expect(sends).toBe(4); // the harness's retransmit.tries
    expect(a.ike.stats().counters['retransmit-gave-up']).toBe(1);
    await close();
  });
});

describe('negotiation details', () => {
  it('INVALID_KE_PAYLOAD (§1.2): the initiator retries once with the group the responder asks for', async () => {
    const ca = conn(A, B, '10.1.0.0/24', '10.2.0.0/24', { proposals: [{ encr: [{ alg: 'aes-gcm-16', keyBits: 256 }], integ: [], prf: ['hmac-sha2-256'], dh: ['curve25519', 'modp2048'] }] });
    const cb = conn(B, A, '10.2.0.0/24', '10.1.0.0/24', { proposals: [{ encr: [{ alg: 'aes-gcm-16', keyBits: 256 }], integ: [], prf: ['hmac-sha2-256'], dh: ['modp2048'] }] });
    const { a, b, close } = await pair(swanctl(ca), swanctl(cb));
    a.gw.output([ping()], 0);
    await until(() => a.released.length === 1);
    expect(a.ike.stats().counters['invalid-ke-retries']).toBe(1);
    expect(b.ike.stats().counters['invalid-ke-sent']).toBe(1);
    expect(a.ike.list()[0].suite).toContain('modp2048');
    await close();
  });

  it('retransmission (§2.1): a lost IKE_AUTH response is recovered; the retransmitted request is answered from the stored response', async () => {
    let dropped = 0;
    const { a, b, close } = await pair(swanctl(conn(A, B, '10.1.0.0/24', '10.2.0.0/24')), swanctl(conn(B, A, '10.2.0.0/24', '10.1.0.0/24')), (bytes, from) => {
      // Drop B's first IKE_AUTH response.
      if (from === B && dropped === 0 && bytes.length > 4 && bytes.readUInt32BE(0) === 0 && bytes[4 + 18] === 35) {
        dropped++;
        return null;
      }
      return bytes;
    });
    a.gw.output([ping()], 0);
    await until(() => a.released.length === 1);
    expect(dropped).toBe(1);
    expect(a.ike.stats().counters.retransmits).toBeGreaterThanOrEqual(1);
    expect(b.ike.stats().counters['retransmit-answered']).toBe(1);
    expect(b.gw.engine.dump().sas).toHaveLength(2); // installed once, not twice
    await close();
  });

  it('traffic-selector narrowing (§2.9): the responder narrows to its configuration; the initiator accepts the narrower SA', async () => {
    const { a, b, close } = await pair(swanctl(conn(A, B, '10.1.0.0/16', '10.2.0.0/16')), swanctl(conn(B, A, '10.2.0.0/24', '10.1.0.0/24')));
    a.gw.output([ping()], 0);
    await until(() => a.released.length === 1);
    const c = a.ike.list()[0].children[0];
    expect(c.localTs).toEqual(['10.1.0.0/24']);
    expect(c.remoteTs).toEqual(['10.2.0.0/24']);
    await close();
  });

  it('TS_UNACCEPTABLE: disjoint selectors give an IKE SA without a CHILD SA and a failed ACQUIRE', async () => {
    const { a, b, close } = await pair(swanctl(conn(A, B, '10.1.0.0/24', '10.2.0.0/24')), swanctl(conn(B, A, '10.9.0.0/24', '10.8.0.0/24')));
    a.gw.output([ping()], 0);
    await until(() => (a.ike.stats().counters['child-failed'] ?? 0) === 1);
    expect(b.ike.stats().counters['sent-TS_UNACCEPTABLE']).toBe(1);
    expect(a.gw.engine.dump().sas).toHaveLength(0);
    expect(a.ike.stats().ikeSas).toBe(1);
    await close();
  });

  it('simultaneous CHILD rekey (§2.8.1): both ends rekey the same CHILD SA at once; one redundant SA is deleted, one CHILD SA remains on each side, traffic flows', async () => {
    const ch = { rekeyTimeMs: 1000, lifeTimeMs: 100_000 };
    const { a, b, close } = await pair(swanctl(conn(A, B, '10.1.0.0/24', '10.2.0.0/24', {}, ch)), swanctl(conn(B, A, '10.2.0.0/24', '10.1.0.0/24', {}, ch)));
    a.gw.output([ping()], 0);
    await until(() => a.released.length === 1);
    // Both engines reach the soft limit in the same turn: both rekey requests cross.
    a.t.now = b.t.now = 2000;
    a.gw.tick(2000);
    b.gw.tick(2000);
    await until(() => a.ike.list()[0]?.children.length === 1 && b.ike.list()[0]?.children.length === 1 && !a.ike.list()[0].children.some((c) => c.state !== 'installed') && !b.ike.list()[0].children.some((c) => c.state !== 'installed'));
    expect((a.ike.stats().counters['rekey-collisions'] ?? 0) + (b.ike.stats().counters['rekey-collisions'] ?? 0)).toBe(2);
    const ca = a.ike.list()[0].children[0], cb = b.ike.list()[0].children[0];
    expect(ca.spiIn).toBe(cb.spiOut);
    expect(ca.spiOut).toBe(cb.spiIn);
    const out = a.gw.output([ping()], 2001);
    expect(b.gw.input([Buffer.from(out.packets[0]!)], 2001).verdicts.verdict(0)).toBe('protect');
    await close();
  });

  it('R31: no PSK, SK_* or ESP key in stats(), list(), inspect() or the log', async () => {
    const lines: string[] = [];
    const { a, b, close } = await pair(swanctl(conn(A, B, '10.1.0.0/24', '10.2.0.0/24')), swanctl(conn(B, A, '10.2.0.0/24', '10.1.0.0/24')));
    a.gw.output([ping()], 0);
    await until(() => a.released.length === 1);
    const { inspect } = await import('node:util');
    const text = [JSON.stringify(a.ike.stats()), JSON.stringify(a.ike.list()), inspect(a.ike, { depth: 8 }), inspect(b.ike, { depth: 8 }), ...lines].join('\n');
    expect(text).not.toContain('a-long-pre-shared-key');
    expect(text).not.toContain(Buffer.from('a-long-pre-shared-key').toString('hex'));
    await close();
  });
});
