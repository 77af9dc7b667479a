// R11: local senders are told what a socket would tell them while the SA is negotiated.
import { describe, expect, it } from 'vitest';
import { ScriptedKeyManager, SocketError } from '../../src/index.js';
import { gatewayWith } from './helpers.js';

const flow = { src: '10.1.0.1', dst: '10.2.0.1', proto: 'udp', srcPort: 5000, dstPort: 53 };

describe('R11: socket semantics for local senders', () => {
  it('non-blocking connect: EINPROGRESS, then EALREADY until the SA arrives, then success', async () => {
    const { gw } = await gatewayWith();
    const km = new ScriptedKeyManager(gw, { delay: 100 });
    expect(gw.sockets.connect(flow, { nonBlocking: true })).toEqual({ ok: false, code: 'EINPROGRESS' });
    gw.tick(50);
    expect(gw.sockets.connect(flow, { nonBlocking: true })).toEqual({ ok: false, code: 'EALREADY' });
    expect(gw.sockets.connect(flow, { nonBlocking: true })).toEqual({ ok: false, code: 'EALREADY' });
    gw.tick(100);
    const r = gw.sockets.connect(flow, { nonBlocking: true });
    expect(r).toEqual({ ok: true, saId: expect.any(Number) });
    expect(km.acquires).toHaveLength(1); // connects never add ACQUIREs (R8)
  });

  it('a blocking connect resolves when the SA is installed', async () => {
    const { gw } = await gatewayWith();
    new ScriptedKeyManager(gw, { delay: 100 });
    let done = false;
    const p = gw.sockets.connect(flow).then((r) => ((done = true), r));
    gw.tick(99);
    await Promise.resolve();
    expect(done).toBe(false);
    gw.tick(100);
    await expect(p).resolves.toEqual({ ok: true, saId: expect.any(Number) });
  });

  it('non-blocking send gets EAGAIN (nothing queued), then a writable notification, then sends through the SA', async () => {
    const { gw } = await gatewayWith();
    new ScriptedKeyManager(gw, { delay: 100 });
    const sent: (number | null)[] = [];
    gw.on('transmit', (t) => sent.push(t.verdicts.saId(0)));
    expect(gw.sockets.send(flow, new Uint8Array(20), { nonBlocking: true })).toEqual({ ok: false, code: 'EAGAIN' });
    expect(gw.stats().queue.packets).toBe(0);
    const writable = gw.sockets.writable(flow);
    gw.tick(100);
    await writable;
    const r = gw.sockets.send(flow, new Uint8Array(20), { nonBlocking: true });
    expect(r).toEqual({ ok: true, bytes: 20, saId: expect.any(Number) });
    expect(sent).toEqual([r.ok ? r.saId : -1]);
  });

  it('a blocking send waits for the SA and then sends', async () => {
    const { gw } = await gatewayWith();
    new ScriptedKeyManager(gw, { delay: 100 });
    const p = gw.sockets.send(flow, new Uint8Array(4));
    gw.tick(100);
    await expect(p).resolves.toMatchObject({ ok: true, bytes: 4 });
  });

  it('readiness fails with ETIMEDOUT at acquireTimeout (R10) and EHOSTUNREACH when the KM fails (R8b); a non-blocking connect reports it once', async () => {
    const { gw } = await gatewayWith({ acquireTimeout: 1000 });
    const km = new ScriptedKeyManager(gw, { behaviour: 'lose' });
    expect(gw.sockets.connect(flow, { nonBlocking: true }).ok).toBe(false);
    const w = gw.sockets.writable(flow);
    const c = gw.sockets.connect(flow);
    gw.tick(1000);
    await expect(w).rejects.toMatchObject({ code: 'ETIMEDOUT' });
    await expect(c).rejects.toBeInstanceOf(SocketError);
    expect(gw.sockets.connect(flow, { nonBlocking: true })).toEqual({ ok: false, code: 'ETIMEDOUT' });
    expect(gw.sockets.connect(flow, { nonBlocking: true })).toEqual({ ok: false, code: 'EINPROGRESS' }); // anew
    km.behaviour = 'fail';
    km.restart();
    const f = gw.sockets.writable(flow);
    gw.tick(1200);
    await expect(f).rejects.toMatchObject({ code: 'EHOSTUNREACH' });
  });

  it('honours the timeout option (engine time) and an AbortSignal', async () => {
    const { gw } = await gatewayWith();
    new ScriptedKeyManager(gw, { behaviour: 'lose' });
    const t = gw.sockets.send(flow, new Uint8Array(4), { timeout: 500 });
    gw.tick(499);
    gw.tick(500);
    await expect(t).rejects.toMatchObject({ code: 'ETIMEDOUT' });
    const ac = new AbortController();
    const a = gw.sockets.connect(flow, { signal: ac.signal });
    ac.abort();
    await expect(a).rejects.toMatchObject({ name: 'AbortError', code: 'ABORT_ERR' });
    const pre = gw.sockets.writable(flow, { signal: AbortSignal.abort() });
    await expect(pre).rejects.toMatchObject({ code: 'ABORT_ERR' });
    expect(gw.stats().scheduled).toBe(0); // the timeout's timer is gone once settled
  });

  it('a discard policy gives EPERM; a flow that needs no SA is ready at once', async () => {
    const { gw } = await gatewayWith({}, [
      { dir: 'out', src: '10.1.0.0/16', dst: '10.3.0.0/16', action: 'discard' },
    ]);
    expect(gw.sockets.connect({ ...flow, dst: '10.3.0.1' }, { nonBlocking: true })).toEqual({ ok: false, code: 'EPERM' });
    await expect(gw.sockets.send({ ...flow, dst: '10.3.0.1' }, new Uint8Array(1))).rejects.toMatchObject({ code: 'EPERM' });
    expect(gw.sockets.connect({ ...flow, dst: '10.9.0.1' }, { nonBlocking: true })).toEqual({ ok: true, saId: null });
  });

  it("legacy 'eagain': every call fails with EAGAIN while unresolved, blocking or not", async () => {
    const { gw } = await gatewayWith({ unresolved: 'eagain' });
    new ScriptedKeyManager(gw, { delay: 100 });
    expect(gw.sockets.send(flow, new Uint8Array(4), { nonBlocking: true })).toEqual({ ok: false, code: 'EAGAIN' });
    await expect(gw.sockets.send(flow, new Uint8Array(4))).rejects.toMatchObject({ code: 'EAGAIN' });
    expect(gw.sockets.connect(flow, { nonBlocking: true })).toEqual({ ok: false, code: 'EAGAIN' });
    gw.tick(100);
    expect(gw.sockets.send(flow, new Uint8Array(4), { nonBlocking: true }).ok).toBe(true);
  });
});

describe("R11 legacy 'drop' (linux preset)", () => {
  it('connect succeeds at once while unresolved (the legacy lie), and a discard policy still rejects with EPERM', async () => {
    const { gw } = await gatewayWith({ preset: 'linux' }, [
      { dir: 'out', src: '10.1.0.0/16', dst: '10.2.0.0/16', action: 'protect', template: { mode: 'tunnel', src: '192.0.2.1', dst: '198.51.100.1' } },
      { dir: 'out', src: '10.1.0.0/16', dst: '10.3.0.0/16', action: 'discard' },
    ]);
    new ScriptedKeyManager(gw, { behaviour: 'lose' });
    await expect(gw.sockets.connect(flow)).resolves.toEqual({ ok: true, saId: null });
    expect(gw.sockets.connect(flow, { nonBlocking: true })).toEqual({ ok: true, saId: null });
    await expect(gw.sockets.connect({ ...flow, dst: '10.3.0.1' })).rejects.toMatchObject({ code: 'EPERM' });
  });
});
