// The batch ABI from the host's side: arrays and PacketBuffers give the same
// verdicts, batches split on count and on arena bytes, bad input is refused whole.
import { describe, expect, it } from 'vitest';
import { createEngine, packetBuffer, type PacketBuffer } from '../../src/index.js';
import { generateTrace, randomPolicySet } from '../../src/reference/trace.js';
import { buildPacket } from '../../src/wire/build.js';

// Gaps between packets, as a capture buffer has record headers there; filled with
// junk so that a wrong offset would show.
function pack(packets: Uint8Array[]): PacketBuffer {
  const pb = packetBuffer(packets, 3);
  let end = 0;
  pb.offsets.forEach((o, i) => {
    pb.data.fill(0xee, end, o);
    end = o + pb.lengths[i];
  });
  return pb;
}

describe('batch input forms', () => {
  it('verdicts of outbound() stay as they were after later calls, one batch or many (records are never shared)', async () => {
    // outbound() cuts its records from chunks it never reuses (issue 15): a kept
    // Verdicts must not change when later calls, past a chunk's end, write theirs.
    const e = await createEngine({ batchSize: 256 });
    const [bypass] = e.addPolicies([{ dir: 'out', dst: '10.0.0.0/8', proto: 'udp', action: 'bypass' }]);
    const hit = (port: number) => buildPacket({ src: '192.0.2.1', dst: '10.1.2.3', proto: 'udp', srcPort: port, dstPort: 53 });
    const miss = (port: number) => buildPacket({ src: '192.0.2.1', dst: '198.51.100.7', proto: 'udp', srcPort: port, dstPort: 53 });
    const first = e.outbound(packetBuffer(Array.from({ length: 256 }, (_, i) => hit(1000 + i))), 1);
    const many = e.outbound(Array.from({ length: 600 }, (_, i) => hit(i)), 1);
    for (let round = 0; round < 80; round++) e.outbound(packetBuffer(Array.from({ length: 256 }, (_, i) => miss(i))), 1);
    for (let i = 0; i < 256; i++) expect(first.policyId(i)).toBe(bypass);
    for (let i = 0; i < 600; i++) expect(many.policyId(i)).toBe(bypass);
  });

  it('a PacketBuffer and an array of the same packets give identical verdicts, across batch and arena splits', async () => {
    const policies = randomPolicySet({ family: 4, count: 300, seed: 3 });
    const flows = generateTrace(policies, 5000, { seed: 4 });
    const packets = flows.map((f, i) => buildPacket(f, { payloadLength: (i * 37) % 1400 }));
    packets.splice(100, 0, new Uint8Array(70_000).fill(0x45)); // oversized: only its head is copied
    const make = async () => {
      const e = await createEngine({ batchSize: 64, arenaBytes: 70_000 });
      e.addPolicies(policies);
      return e;
    };
    const a = await make();
    const b = await make();
    const va = a.outbound(packets, 1);
    const vb = b.outbound(pack(packets), 1);
    expect(vb.length).toBe(packets.length);
    expect(Array.from(vb)).toEqual(Array.from(va));
    expect(va.reason(100)).toBe('oversized');
    expect(b.stats()).toEqual(a.stats());
  });

  it('wire lengths of capture-truncated packets are honoured in both forms', async () => {
    const full = buildPacket({ src: '10.0.0.1', dst: '10.0.0.2', proto: 'tcp', srcPort: 1, dstPort: 2 }, { payloadLength: 1000 });
    const head = full.slice(0, 54);
    const e = await createEngine();
    const v1 = e.outbound([{ data: head, wireLength: full.length }, head], 1);
    expect([v1.verdict(0), v1.reason(1)]).toEqual(['bypass', 'bad-total-length']);
    const v2 = e.outbound({ ...pack([head, head]), wireLengths: [full.length, head.length] }, 1);
    expect([v2.verdict(0), v2.reason(1)]).toEqual(['bypass', 'bad-total-length']);
  });

  it('count takes a prefix of the buffer', async () => {
    const e = await createEngine();
    const pb = pack([buildPacket({ src: '10.0.0.1', dst: '10.0.0.2', proto: 'udp' }), buildPacket({ src: '10.0.0.1', dst: '10.0.0.3', proto: 'udp' })]);
    expect(e.outbound({ ...pb, count: 1 }).length).toBe(1);
  });

  it('refuses bad PacketBuffers before counting anything (R24/R25)', async () => {
    const e = await createEngine();
    const pb = pack([buildPacket({ src: '10.0.0.1', dst: '10.0.0.2', proto: 'udp' }), buildPacket({ src: '10.0.0.1', dst: '10.0.0.3', proto: 'udp' })]);
    expect(() => e.outbound({ ...pb, offsets: [10, 0] })).toThrow(/packets\.offsets\[1\]/);
    expect(() => e.outbound({ ...pb, lengths: [20, 1000] })).toThrow(/packets\.lengths\[1\].*within data/);
    expect(() => e.outbound({ ...pb, wireLengths: [1, 1] })).toThrow(/packets\.wireLengths\[0\]/);
    expect(() => e.outbound({ ...pb, count: 3 })).toThrow(/packets\.count/);
    expect(e.stats().packets.out).toBe(0);
  });

  it('refuses bad Uint32Array PacketBuffers the same way, in one batch (checked by the engine) and in many (checked by the host)', async () => {
    for (const batchSize of [256, 1]) {
      const e = await createEngine({ batchSize });
      const pb = pack([buildPacket({ src: '10.0.0.1', dst: '10.0.0.2', proto: 'udp' }), buildPacket({ src: '10.0.0.1', dst: '10.0.0.3', proto: 'udp' })]);
      const u = (xs: number[]) => Uint32Array.from(xs);
      expect(() => e.outbound({ ...pb, offsets: u([pb.offsets[1], 0]) })).toThrow(/packets\.offsets\[1\]/);
      expect(() => e.outbound({ ...pb, lengths: u([20, pb.data.length]) })).toThrow(/packets\.lengths\[1\].*within data/);
      expect(() => e.outbound({ ...pb, wireLengths: u([pb.lengths[0], 1]) })).toThrow(/packets\.wireLengths\[1\]/);
      expect(e.stats().packets.out).toBe(0);
      expect(e.outbound({ ...pb, wireLengths: u([pb.lengths[0], pb.lengths[1]]) }).length).toBe(2);
      expect(e.stats().packets.out).toBe(2);
    }
  });
});
