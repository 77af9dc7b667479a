// The ping flood of the Morris slides, under each preset (docs/design.md §9): 10 000
// echo requests of one flow at 10 000 packets/s before any SA exists, and a key
// manager that needs 200 ms to negotiate.
import { describe, expect, it } from 'vitest';
import { ScriptedKeyManager } from '../../src/index.js';
import { echo, gatewayWith, numberOf, recorder, TUNNEL } from './helpers.js';

const PACKETS = 10_000;
const RATE = 10_000; // packets per second
const DELAY = 200; // ms
const BEFORE_INSTALL = (DELAY * RATE) / 1000; // packets sent before the SA exists

async function flood(preset: 'larval' | 'linux' | 'bsd-2000') {
  const { gw } = await gatewayWith({ preset });
  const km = new ScriptedKeyManager(gw, { delay: DELAY });
  const rec = recorder(gw);
  const verdicts: string[] = [];
  for (let i = 0; i < PACKETS; i++) {
    const v = rec.send([echo(i)], (i * 1000) / RATE);
    verdicts.push(v.verdict(0));
  }
  gw.tick(PACKETS * 1000 / RATE + 1000);
  return { gw, km, rec, verdicts, stats: gw.stats() };
}

describe('ping flood before the SA exists (R7–R9, §9 presets)', () => {
  it("preset 'larval': exactly one ACQUIRE, no packet lost, all through the new SA in their original order", async () => {
    const { km, rec, verdicts, stats } = await flood('larval');
    expect(stats.resolution.acquires).toBe(1); // R8
    expect(km.counts.acquires).toBe(1);
    expect(km.counts.installed).toBe(1);
    expect(verdicts.slice(0, BEFORE_INSTALL).every((v) => v === 'queued')).toBe(true); // R7
    expect(verdicts.slice(BEFORE_INSTALL).every((v) => v === 'protect')).toBe(true);
    // R9: every packet left, in arrival order, through the SA the KM installed.
    expect(rec.sent.map((s) => s.n)).toEqual(Array.from({ length: PACKETS }, (_, i) => i));
    const sa = stats.tables.sas === 2 ? rec.sent[0].saId : null; // the pair: outbound and inbound
    expect(sa).not.toBeNull();
    expect(rec.sent.every((s) => s.saId === sa)).toBe(true);
    // The queued ones left at the install instant, before any newer packet.
    expect(rec.sent[BEFORE_INSTALL - 1].time).toBe(DELAY);
    expect(stats.drops).toEqual({});
    expect(stats.resolution.released).toBe(BEFORE_INSTALL);
    expect(stats.packets.out).toBe(PACKETS); // released packets are not counted twice
    expect(stats.queue.packets).toBe(0);
  });

  it("preset 'linux': one ACQUIRE, every packet before the install lost while the sender was told success", async () => {
    // The forwarded flood: dropped (no-sa) until the SA exists.
    const { km, rec, verdicts, stats } = await flood('linux');
    expect(stats.resolution.acquires).toBe(1);
    expect(km.acquires).toHaveLength(1);
    expect(verdicts.slice(0, BEFORE_INSTALL).every((v) => v === 'drop')).toBe(true);
    expect(stats.drops['no-sa']).toBe(BEFORE_INSTALL);
    expect(rec.sent.map((s) => s.n)).toEqual(Array.from({ length: PACKETS - BEFORE_INSTALL }, (_, i) => i + BEFORE_INSTALL));
  });

  it("preset 'linux': the same flood from a local sender: every send told success, the first 2 000 lost (R11 legacy 'drop')", async () => {
    const { gw } = await gatewayWith({ preset: 'linux' });
    const km = new ScriptedKeyManager(gw, { delay: DELAY });
    const flow = { src: '10.1.0.1', dst: '10.2.0.1', proto: 'icmp', icmpType: 8, icmpCode: 0 };
    const left: number[] = [];
    gw.on('transmit', (t) => left.push(numberOf(t.packet)));
    for (let i = 0; i < PACKETS; i++) {
      gw.tick((i * 1000) / RATE);
      const payload = new Uint8Array(8);
      new DataView(payload.buffer).setUint32(4, i);
      expect(gw.sockets.send(flow, payload, { nonBlocking: true })).toMatchObject({ ok: true, bytes: 8 });
    }
    expect(km.acquires).toHaveLength(1);
    expect(gw.stats().drops['no-sa']).toBe(BEFORE_INSTALL);
    expect(left).toEqual(Array.from({ length: PACKETS - BEFORE_INSTALL }, (_, i) => i + BEFORE_INSTALL));
  });

  it("preset 'bsd-2000': one ACQUIRE per 11 packets (blockacq_count 10) until the SA arrives", async () => {
    const { km, rec, verdicts, stats } = await flood('bsd-2000');
    const expected = Math.ceil(BEFORE_INSTALL / 11);
    expect(stats.resolution.acquires).toBe(expected);
    expect(km.counts.acquires).toBe(expected);
    expect(km.acquires.every((a) => a.seq === km.acquires[0].seq)).toBe(true); // one larval SA, resent
    expect(km.acquires.slice(1).every((a) => a.cause === 'resend')).toBe(true);
    expect(km.counts.negotiations).toBe(1);
    expect(verdicts.slice(0, BEFORE_INSTALL).every((v) => v === 'drop')).toBe(true);
    expect(stats.drops['no-sa']).toBe(BEFORE_INSTALL);
    expect(rec.sent.length).toBe(PACKETS - BEFORE_INSTALL);
  });

  it('the packet path knobs are one engine: a preset is its options, and options override it', async () => {
    const { gw } = await gatewayWith({ preset: 'linux', unresolved: 'queue' });
    expect(gw.engine.options).toMatchObject({ preset: 'linux', unresolved: 'queue', saSelection: 'newest', acquireResend: 'never' });
    const { gw: bsd } = await gatewayWith({ preset: 'bsd-2000' });
    expect(bsd.engine.options).toMatchObject({ saSelection: 'oldest', unresolved: 'drop', acquireResend: { everyPackets: 10 } });
    await expect(gatewayWith({ preset: 'solaris' as never })).rejects.toThrow(/options.preset/);
    await expect(gatewayWith({ acquireResend: { everyPackets: 0 } })).rejects.toThrow(/everyPackets/);
    await expect(gatewayWith({ eventRingSize: 1000 })).rejects.toThrow(/power of two/);
    void TUNNEL;
  });
});
