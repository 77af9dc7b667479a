// One ACQUIRE per negotiation and never a storm (R7, R7a, R8), bounded queues that
// drain in order (R9), acquire timeout (R10) and the key manager's control interface (R12).
import { describe, expect, it } from 'vitest';
import { LarvalError, PACKET_OVERHEAD, ScriptedKeyManager, scriptedKeys, type AcquireEvent } from '../../src/index.js';
import { echo, gatewayWith, numberOf, recorder, tunnelPolicy, TUNNEL } from './helpers.js';

const saFor = (spi: number, acquireSeq?: number) => ({ spi, ...TUNNEL, mode: 'tunnel' as const, ...scriptedKeys(spi), ...(acquireSeq ? { acquireSeq } : {}) });

describe('R8: one ACQUIRE per resolution key', () => {
  it("1 000 distinct flows under one 'require' policy share one ACQUIRE", async () => {
    const { gw, ids } = await gatewayWith();
    const km = new ScriptedKeyManager(gw, { behaviour: 'lose' });
    gw.outbound(Array.from({ length: 1000 }, (_, i) => echo(i, `10.1.${i >> 8}.${i & 255}`, '10.2.0.1')), 1);
    expect(km.acquires).toHaveLength(1);
    expect(km.acquires[0]).toMatchObject({
      type: 'acquire', seq: 1, policyId: ids[0], dir: 'out', cause: 'new',
      template: { mode: 'tunnel', level: 'require', src: TUNNEL.src, dst: TUNNEL.dst, reqid: 0, family: 4 },
      flow: { src: '10.1.0.0', dst: '10.2.0.1', proto: 1, icmpType: 8, icmpCode: 0 },
    });
    expect(km.acquires[0].policyGeneration).toBe(gw.engine.getPolicy(ids[0])!.generation);
    expect(gw.stats().queue.packets).toBe(1000);
  });

  it("1 000 distinct flows under a 'unique' policy get 1 000 ACQUIREs, one each, and each flow its own SA", async () => {
    const { gw } = await gatewayWith({}, [tunnelPolicy('unique')]);
    const km = new ScriptedKeyManager(gw, { delay: 50 });
    const flows = Array.from({ length: 1000 }, (_, i) => echo(i, `10.1.${i >> 8}.${i & 255}`, '10.2.0.1'));
    gw.outbound(flows, 1);
    gw.outbound(flows, 2); // the same flows again: no new ACQUIRE
    expect(km.acquires).toHaveLength(1000);
    expect(new Set(km.acquires.map((a) => a.seq)).size).toBe(1000);
    expect(new Set(km.acquires.map((a) => a.flow.src)).size).toBe(1000);
    const rec = recorder(gw);
    gw.tick(60);
    expect(km.counts.installed).toBe(1000);
    const v = rec.send(flows, 70);
    const sa = Array.from({ length: 1000 }, (_, i) => v.saId(i));
    expect(new Set(sa).size).toBe(1000); // one SA per flow, never shared
    // Each flow's released packets went through its own SA, the same one it now uses.
    const first = new Map<number, number | null>();
    for (const s of rec.sent) if (!first.has(s.n)) first.set(s.n, s.saId);
    expect(Array.from({ length: 1000 }, (_, i) => first.get(i))).toEqual(sa);
    expect(gw.stats().resolution.bindings).toBe(1000);
    // Each negotiation also installed its inbound SA; none displaced another (R15 per template).
    expect(km.counts.inboundInstalled).toBe(1000);
    expect(gw.engine.dump().sas.filter((s) => s.state === 'draining')).toEqual([]);
    // Removing a flow's SA frees its binding; its next packet negotiates again.
    gw.engine.removeSA(sa[0]!);
    expect(gw.stats().resolution.bindings).toBe(999);
    expect(gw.outbound([flows[0]], 80).verdict(0)).toBe('queued');
    expect(km.acquires).toHaveLength(1001);
  });

  it('R7a: level use sends in clear without an SA, starts one negotiation, never queues', async () => {
    const { gw } = await gatewayWith({}, [tunnelPolicy('use')]);
    const km = new ScriptedKeyManager(gw, { delay: 100 });
    const v = gw.outbound([echo(0), echo(1), echo(2)], 1);
    expect(v.toArray().map((r) => [r.verdict, r.reason])).toEqual([['bypass', 'opportunistic'], ['bypass', 'opportunistic'], ['bypass', 'opportunistic']]);
    expect(km.acquires).toHaveLength(1);
    expect(gw.stats().queue.packets).toBe(0);
    expect(gw.outbound([echo(3)], 101).verdict(0)).toBe('protect');
  });

  it('R8c: a full ring delays ACQUIREs but loses and duplicates none', async () => {
    const { gw } = await gatewayWith({ eventRingSize: 4 }, [tunnelPolicy('unique')]);
    const km = new ScriptedKeyManager(gw, { behaviour: 'lose' });
    km.control.pause(); // the KM stops reading
    gw.outbound(Array.from({ length: 10 }, (_, i) => echo(i, `10.1.0.${i + 1}`)), 1);
    expect(km.acquires).toHaveLength(0);
    const s = gw.stats().resolution;
    expect([s.pendingEvents, s.acquires, s.acquiresDeferred]).toEqual([4, 4, 6]);
    expect(gw.engine.dump().larval.filter((l) => l.undelivered)).toHaveLength(6);
    // More packets of the same flows while it waits: still nothing new.
    gw.outbound(Array.from({ length: 10 }, (_, i) => echo(i, `10.1.0.${i + 1}`)), 2);
    km.control.resume();
    expect(km.acquires.map((a) => a.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(km.acquires.map((a) => a.cause)).toEqual(Array(10).fill('new'));
    expect(gw.stats().resolution.acquires).toBe(10);
    gw.tick(3);
    expect(km.acquires).toHaveLength(10);
  });

  it('R8c: resends (legacy preset) while an ACQUIRE waits for room coalesce into that one delivery', async () => {
    const { gw } = await gatewayWith({ preset: 'bsd-2000', eventRingSize: 1 }, [tunnelPolicy('unique')]);
    const km = new ScriptedKeyManager(gw, { behaviour: 'lose' });
    km.control.pause();
    gw.outbound([echo(0, '10.1.0.1')], 1); // fills the ring
    for (let i = 0; i < 40; i++) gw.outbound([echo(i, '10.1.0.2')], 2); // waits, and would resend 3 times
    expect(gw.stats().resolution).toMatchObject({ acquires: 1, acquiresDeferred: 1 });
    km.control.resume();
    expect(km.acquires.map((a) => [a.seq, a.cause])).toEqual([[1, 'new'], [2, 'new']]);
    gw.outbound(Array.from({ length: 11 }, (_, i) => echo(i, '10.1.0.2')), 3);
    expect(km.acquires.map((a) => [a.seq, a.cause])).toEqual([[1, 'new'], [2, 'new'], [2, 'resend']]);
  });

  it('R8c: with no key manager registered, ACQUIREs wait, and the first one to register gets each once', async () => {
    const { gw } = await gatewayWith({ eventRingSize: 2 }, [tunnelPolicy('unique')]);
    gw.outbound(Array.from({ length: 5 }, (_, i) => echo(i, `10.1.0.${i + 1}`)), 1);
    const km = new ScriptedKeyManager(gw, { behaviour: 'lose' });
    expect(km.acquires.map((a) => a.seq)).toEqual([1, 2, 3, 4, 5]);
  });

  it('R8a: a key manager that restarts gets exactly the pending ACQUIREs again, once each', async () => {
    const { gw } = await gatewayWith({}, [tunnelPolicy('unique')]);
    const seen: AcquireEvent[] = [];
    const first = gw.registerKeyManager({ name: 'iked' });
    first.on('acquire', (ev) => seen.push(ev));
    gw.outbound(Array.from({ length: 5 }, (_, i) => echo(i, `10.1.0.${i + 1}`)), 1);
    expect(seen.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5]);
    // It answers two, then crashes.
    first.installSA({ ...saFor(0x2001, 2), reqid: 0 });
    first.installSA({ ...saFor(0x2002, 4) });
    // It restarts and registers again.
    const km = new ScriptedKeyManager(gw, { behaviour: 'lose', name: 'iked' });
    expect(first.closed).toBe(true);
    expect(() => first.installSA(saFor(0x2003, 1))).toThrow(/closed/);
    expect(km.acquires.map((a) => [a.seq, a.cause])).toEqual([[1, 'reregister'], [3, 'reregister'], [5, 'reregister']]);
    gw.outbound(Array.from({ length: 5 }, (_, i) => echo(i, `10.1.0.${i + 1}`)), 2);
    gw.tick(3);
    expect(km.acquires).toHaveLength(3);
    expect(seen).toHaveLength(5);
    // A scripted KM restart does the same.
    km.restart();
    expect(km.acquires.map((a) => a.seq)).toEqual([1, 3, 5, 1, 3, 5]);
  });

  it('R8b: the KM asks for a retry: the ACQUIRE is sent again and then answered', async () => {
    const { gw } = await gatewayWith();
    const km = new ScriptedKeyManager(gw, { behaviour: 'retry', delay: 10 });
    const rec = recorder(gw);
    rec.send([echo(0)], 0);
    gw.tick(10);
    expect(km.acquires.map((a) => [a.seq, a.cause])).toEqual([[1, 'new'], [1, 'retry']]);
    gw.tick(20);
    expect(km.counts.installed).toBe(1);
    expect(rec.sent.map((s) => s.n)).toEqual([0]);
  });

  it('R8b: the KM reports failure without retry: queued packets dropped (acquire-failed), next packet negotiates anew', async () => {
    const { gw } = await gatewayWith();
    const km = new ScriptedKeyManager(gw, { behaviour: 'fail', delay: 10 });
    const drops: unknown[] = [];
    gw.on('drop', (d) => drops.push(d));
    gw.outbound([echo(0), echo(1)], 0);
    gw.tick(10);
    expect(drops).toEqual([{ larvalId: 1, reason: 'acquire-failed', count: 2, time: 10 }]);
    expect(gw.stats().drops['acquire-failed']).toBe(2);
    expect(gw.outbound([echo(2)], 11).larvalId(0)).toBe(2);
    expect(km.acquires).toHaveLength(2);
  });
});

describe('R9: the resolution queue', () => {
  it('holds at most queuePackets per larval SA; tail drop counted as queue-full', async () => {
    const { gw } = await gatewayWith({ queuePackets: 5 });
    new ScriptedKeyManager(gw, { delay: 10 });
    const rec = recorder(gw);
    const v = rec.send(Array.from({ length: 8 }, (_, i) => echo(i)), 0);
    expect(v.toArray().map((r) => r.verdict)).toEqual(['queued', 'queued', 'queued', 'queued', 'queued', 'drop', 'drop', 'drop']);
    expect(v.reason(5)).toBe('queue-full');
    expect(gw.stats().drops['queue-full']).toBe(3);
    gw.tick(10);
    expect(rec.sent.map((s) => s.n)).toEqual([0, 1, 2, 3, 4]);
  });

  it('holds at most queueBytes over all larval SAs; tail drop counted as queue-bytes', async () => {
    const size = echo(0).length + PACKET_OVERHEAD;
    const { gw } = await gatewayWith({ queueBytes: size * 3 }, [tunnelPolicy('unique')]);
    new ScriptedKeyManager(gw, { behaviour: 'lose' });
    const v = gw.outbound(Array.from({ length: 5 }, (_, i) => echo(i, `10.1.0.${i + 1}`)), 0);
    expect(v.toArray().map((r) => r.reason)).toEqual(['resolving', 'resolving', 'resolving', 'queue-bytes', 'queue-bytes']);
    expect(gw.stats().queue).toMatchObject({ packets: 3, bytes: size * 3, queues: 3 });
  });

  it('drains in arrival order through the new SA before any newer packet of that key', async () => {
    const { gw } = await gatewayWith();
    const session = gw.registerKeyManager();
    let seq = 0;
    session.on('acquire', (ev) => (seq = ev.seq));
    const rec = recorder(gw);
    for (let i = 0; i < 50; i++) rec.send([echo(i)], i);
    const sa = session.installSA(saFor(0x3001, seq), 50);
    for (let i = 50; i < 60; i++) rec.send([echo(i)], i);
    expect(rec.sent.map((s) => s.n)).toEqual(Array.from({ length: 60 }, (_, i) => i));
    expect(rec.sent.every((s) => s.saId === sa)).toBe(true);
  });

  it('a policy removed while its packets wait: they are decided again under the SPD as it is now', async () => {
    const { gw, ids } = await gatewayWith({}, [tunnelPolicy(), { dir: 'out', src: '10.1.0.0/16', dst: '0.0.0.0/0', action: 'bypass', priority: 10 }]);
    new ScriptedKeyManager(gw, { behaviour: 'lose' });
    const rec = recorder(gw);
    rec.send([echo(0), echo(1)], 0);
    gw.engine.removePolicy(ids[0]);
    gw.settle();
    expect(rec.sent.map((s) => [s.n, s.saId])).toEqual([[0, null], [1, null]]);
    expect(gw.stats().resolution.larval).toBe(0);
  });
});

describe('R10: acquire timeout', () => {
  it('drops queued packets (acquire-timeout), rejects waiting senders with ETIMEDOUT, and the next packet negotiates again', async () => {
    const { gw } = await gatewayWith({ acquireTimeout: 30_000 });
    const km = new ScriptedKeyManager(gw, { behaviour: 'lose' });
    gw.outbound([echo(0), echo(1), echo(2)], 0);
    const waiting = gw.sockets.writable({ src: '10.1.0.1', dst: '10.2.0.1', proto: 'icmp' });
    gw.tick(29_999);
    expect(gw.stats().drops['acquire-timeout']).toBeUndefined();
    expect(gw.outbound([echo(3)], 29_999.5).verdict(0)).toBe('queued');
    gw.tick(30_000);
    await expect(waiting).rejects.toMatchObject({ code: 'ETIMEDOUT' });
    expect(gw.stats().drops['acquire-timeout']).toBe(4);
    expect(gw.stats().resolution).toMatchObject({ larval: 0, expired: 1 });
    const v = gw.outbound([echo(4)], 30_001);
    expect([v.verdict(0), v.larvalId(0)]).toEqual(['queued', 2]);
    expect(km.acquires.map((a) => a.seq)).toEqual([1, 2]);
  });
});

describe('R12: the KM installs through one control interface', () => {
  it('refuses an install for an ACQUIRE that is not pending, or whose policy was removed', async () => {
    const { gw, ids } = await gatewayWith();
    const session = gw.registerKeyManager();
    gw.outbound([echo(0)], 0);
    expect(() => session.installSA(saFor(0x4001, 99))).toThrow(expect.objectContaining({ code: 'ESTALE' }));
    gw.engine.removePolicy(ids[0]);
    let err: unknown;
    try {
      session.installSA(saFor(0x4002, 1));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(LarvalError);
    expect(err).toMatchObject({ code: 'ESTALE', field: 'acquireSeq', value: 1 });
    expect((err as Error).message).toMatch(/ACQUIRE 1 is not pending.*policy was removed/);
    expect(gw.engine.dump().sas).toHaveLength(0);
  });

  it('refuses an SA that does not fit the template of the ACQUIRE it names', async () => {
    const { gw } = await gatewayWith();
    const session = gw.registerKeyManager();
    gw.outbound([echo(0)], 0);
    expect(() => session.installSA({ spi: 0x4003, src: TUNNEL.src, dst: '198.51.100.99', mode: 'tunnel', acquireSeq: 1 })).toThrow(/does not fit the template of ACQUIRE 1/);
    expect(gw.stats().resolution.larval).toBe(1);
  });

  it('dump() has the SPD, SAD and larval SAs with generations', async () => {
    const { gw, ids } = await gatewayWith();
    const session = gw.registerKeyManager();
    gw.outbound([echo(0)], 5);
    const d = session.dump();
    expect(d.generation).toBeGreaterThan(0);
    expect(d.policies[0]).toMatchObject({ id: ids[0], generation: expect.any(Number) });
    expect(d.larval).toEqual([expect.objectContaining({ id: 1, policyId: ids[0], policyGeneration: d.policies[0].generation, expires: 30_005, undelivered: false })]);
    expect(gw.engine.getLarval(1)).toEqual(d.larval[0]);
    session.installSA(saFor(0x4004, 1));
    expect(session.dump().larval).toEqual([]);
    expect(gw.engine.getLarval(1)).toBeNull();
    expect(numberOf(echo(7))).toBe(7);
  });
});

describe('key-manager events as an async iterator', () => {
  it('yields ACQUIREs in order; a full iterator buffer leaves the rest in the engine (R8c) until read', async () => {
    const { gw } = await gatewayWith({ eventRingSize: 4 }, [tunnelPolicy('unique')]);
    const session = gw.registerKeyManager({ highWaterMark: 2 });
    const it = session[Symbol.asyncIterator]();
    gw.outbound(Array.from({ length: 10 }, (_, i) => echo(i, `10.1.0.${i + 1}`)), 1);
    // The batch wrote four and deferred six; the session took two into its buffer,
    // which made room for two more: four in the ring, four still waiting in the engine.
    expect(gw.stats().resolution).toMatchObject({ pendingEvents: 4, acquiresDeferred: 6 });
    expect(gw.engine.dump().larval.filter((l) => l.undelivered)).toHaveLength(4);
    const seqs: number[] = [];
    for (let i = 0; i < 10; i++) {
      const r = await it.next();
      expect(r.done).toBe(false);
      seqs.push((r.value as AcquireEvent).seq);
    }
    expect(seqs).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    const pending = it.next();
    session.close();
    await expect(pending).resolves.toEqual({ value: undefined, done: true });
  });
});

describe('R8a with other events waiting', () => {
  it('a key manager that registers again gets the pending ACQUIREs once and keeps unread EXPIREs', async () => {
    const { gw } = await gatewayWith({}, [tunnelPolicy(), { dir: 'out', src: '10.3.0.0/16', dst: '10.4.0.0/16', action: 'protect', template: { mode: 'tunnel', src: '192.0.2.1', dst: '198.51.100.7' } }]);
    const first = gw.registerKeyManager();
    first.installSA({ spi: 0x5000, src: '192.0.2.1', dst: '198.51.100.7', mode: 'tunnel', lifetime: { soft: { addTime: 10 } } }, 0);
    gw.outbound([echo(0)], 5); // ACQUIRE 1, unread: nobody listens
    gw.tick(10); // EXPIRE(soft) of SA 0x5000, unread
    const seen: string[] = [];
    const second = gw.registerKeyManager();
    second.on('event', (ev) => seen.push(ev.type === 'acquire' ? `acquire ${ev.seq} ${ev.cause}` : `${ev.type} ${'kind' in ev ? ev.kind : ''}`));
    expect(seen).toEqual(['expire soft', 'acquire 1 reregister']);
    gw.tick(11);
    expect(seen).toHaveLength(2);
  });
});
