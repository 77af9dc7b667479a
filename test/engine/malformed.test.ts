// R5/R24: malformed packets get verdict 'malformed' with the contract's reason, valid
// ones never do, and nothing a packet contains crashes, hangs or corrupts the engine.
import { describe, expect, it } from 'vitest';
import { buildPacket, createEngine } from '../../src/index.js';
import { malformedCorpus, randomCorruptions, validSeeds } from '../support/malformed.js';

const input = (c: { bytes: Uint8Array; wireLength?: number }) => (c.wireLength === undefined ? c.bytes : { data: c.bytes, wireLength: c.wireLength });

describe('R24: the malformed-packet corpus', () => {
  const corpus = malformedCorpus();

  it(`every one of ${corpus.length} malformed packets gets verdict malformed with the contract's reason, counted by reason (R26)`, async () => {
    const engine = await createEngine({ batchSize: 97 }); // odd size: batches split mid-corpus
    engine.addPolicy({ dir: 'out', family: 4, action: 'discard' });
    engine.addPolicy({ dir: 'out', family: 6, action: 'discard' });
    const v = engine.outbound(corpus.map(input), 1);
    const wrong: string[] = [];
    for (let i = 0; i < corpus.length; i++) {
      if (v.verdict(i) !== 'malformed' || v.reason(i) !== corpus[i].reason || v.policyId(i) !== null) {
        wrong.push(`${corpus[i].name}: expected malformed/${corpus[i].reason}, got ${v.verdict(i)}/${v.reason(i)}`);
      }
    }
    expect(wrong).toEqual([]);
    const s = engine.stats();
    expect(s.verdicts.out.malformed).toBe(corpus.length);
    expect(Object.values(s.drops).reduce((a, b) => a + (b ?? 0), 0)).toBe(corpus.length);
    for (const c of corpus) expect(s.drops[c.reason]).toBeGreaterThan(0);
  });

  it('every valid seed is parsed (never malformed) and matches its family\'s policy', async () => {
    const seeds = validSeeds();
    const engine = await createEngine();
    const v4 = engine.addPolicy({ dir: 'out', family: 4, action: 'discard' });
    const v6 = engine.addPolicy({ dir: 'out', family: 6, action: 'discard' });
    const v = engine.outbound(seeds.map(input), 1);
    for (let i = 0; i < seeds.length; i++) {
      expect([seeds[i].name, v.verdict(i)]).toEqual([seeds[i].name, 'discard']);
      expect(v.policyId(i)).toBe(seeds[i].bytes[0] >> 4 === 4 ? v4 : v6);
    }
  });

  it('random corruptions of valid packets never crash the engine and each gets one verdict', async () => {
    const engine = await createEngine({ flowCacheSize: 1024 });
    engine.addPolicy({ dir: 'out', family: 4, proto: 'udp', dstPort: [0, 1023], action: 'discard' });
    const packets = randomCorruptions(7, 20000);
    const v = engine.outbound(packets, 1);
    expect(v.length).toBe(packets.length);
    const counts = v.counts();
    expect(counts.malformed).toBeGreaterThan(1000);
    expect(counts.bypass + counts.discard).toBeGreaterThan(1000);
    expect(Object.values(counts).reduce((a, b) => a + b, 0)).toBe(packets.length);
    // The engine still works afterwards.
    const ok = engine.outbound([validSeeds()[0].bytes], 2);
    expect(ok.verdict(0)).not.toBe('malformed');
  });

  it('the inbound path gives the same malformed verdicts, and survives random corruptions of outer and decrypted packets (R24)', async () => {
    const engine = await createEngine({ batchSize: 97 });
    engine.addPolicy({ dir: 'in', family: 4, action: 'discard' });
    engine.addPolicy({ dir: 'in', family: 6, action: 'discard' });
    const sa = engine.addSA({ spi: 0x1000, src: '198.51.100.1', dst: '192.0.2.1', mode: 'tunnel' });
    const v = engine.inbound(corpus.map(input), 1);
    const wrong = corpus.filter((c, i) => v.verdict(i) !== 'malformed' || v.reason(i) !== c.reason).map((c) => c.name);
    expect(wrong).toEqual([]);
    const packets = randomCorruptions(11, 20000);
    const outer = engine.inbound(packets, 2);
    const inner = engine.inboundDecrypted(packets.map((p, i) => ({ packet: p, saId: sa, seq: i + 1 })), 3);
    for (const r of [outer, inner]) {
      expect(r.length).toBe(packets.length);
      expect(Object.values(r.counts()).reduce((a, b) => a + b, 0)).toBe(packets.length);
      expect(r.counts().malformed).toBeGreaterThan(1000);
    }
    expect(engine.inbound([validSeeds()[0].bytes], 4).verdict(0)).not.toBe('malformed');
  });

  it('packets larger than the largest IP packet are oversized, and do not overrun the arena', async () => {
    const engine = await createEngine({ arenaBytes: 65575, batchSize: 4 });
    const huge = new Uint8Array(200_000);
    huge[0] = 0x45;
    const v = engine.outbound([huge, huge, validSeeds()[0].bytes], 1);
    expect([v.reason(0), v.reason(1)]).toEqual(['oversized', 'oversized']);
    expect(v.verdict(2)).not.toBe('malformed');
  });

  it('bad API input is an error before anything is counted', async () => {
    const engine = await createEngine();
    expect(() => engine.outbound([validSeeds()[0].bytes, 'not a packet' as never])).toThrow(/packets\[1\]/);
    expect(() => engine.outbound([{ data: new Uint8Array(40), wireLength: 10 }])).toThrow(/packets\[0\]\.wireLength/);
    expect(() => engine.outbound([], -5)).toThrow(/now/);
    expect(engine.stats().packets.out).toBe(0);
  });
});

// Parser corners the corpus above does not reach (found by mutating assembly/packet.ts).
describe('R5/R24: header lengths at their limits', () => {
  const V4 = { src: '192.0.2.1', dst: '198.51.100.1' };
  const setU16 = (b: Uint8Array, at: number, v: number) => { b[at] = v >> 8; b[at + 1] = v & 255; };

  // RFC 4302 §2.2: AH's Payload Length is its length in 32-bit words minus 2. The
  // shortest AH (no ICV) says 1: 12 octets. One that says more than the datagram
  // holds is bad-l4-header, not a header the parser reads past the datagram's end.
  it('AH: Payload Length counts 32-bit words minus 2', async () => {
    const engine = await createEngine();
    const id = engine.addPolicy({ dir: 'out', family: 4, action: 'discard' });
    const ah = buildPacket({ ...V4, proto: 'ah' }, { payloadLength: 0 }); // 20 + 24 octets, Payload Length 4
    const bare = ah.slice(0, 32); // a 12-octet AH, Payload Length 1
    setU16(bare, 2, 32);
    bare[21] = 1;
    const over = ah.slice(); // 28 octets announced, 24 present
    over[21] = 5;
    const v = engine.outbound([ah, bare, over], 1);
    expect(v.toArray().map((r) => [r.verdict, r.reason, r.policyId])).toEqual([
      ['discard', 'policy', id], ['discard', 'policy', id], ['malformed', 'bad-l4-header', null],
    ]);
  });

  // A TSO capture shows total length 0; the wire length stands in for it, capped at
  // the largest IPv4 total length (65535). A wire length above that (up to the
  // largest IPv6 packet, which R24 accepts) must not turn the datagram into a
  // fragment that overflows 65535.
  it('IPv4 total length 0 (TSO capture) with a wire length above 65535: capped, not fragment-overflow', async () => {
    const engine = await createEngine();
    const id = engine.addPolicy({ dir: 'out', family: 4, action: 'discard' });
    const tcp = buildPacket({ ...V4, proto: 'tcp', srcPort: 1000, dstPort: 80 }, { payloadLength: 1000 });
    setU16(tcp, 2, 0);
    const v = engine.outbound([{ data: tcp.slice(0, 54), wireLength: 65575 }, { data: tcp.slice(0, 54), wireLength: 65535 }], 1);
    expect(v.toArray().map((r) => [r.verdict, r.reason, r.policyId])).toEqual([['discard', 'policy', id], ['discard', 'policy', id]]);
  });
});
