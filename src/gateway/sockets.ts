// Socket-like semantics for local senders (docs/design.md R11, the Morris slides): a
// sender whose flow needs an SA that is being negotiated is told so, the way a
// socket would tell it, instead of having its packet silently lost.
//
//   connect(flow, { nonBlocking: true })  -> 'EINPROGRESS', then 'EALREADY' until the
//                                            SA is there, then { ok: true }
//   connect(flow)                         -> Promise, resolved when the SA is there
//   send(flow, bytes, { nonBlocking: true }) -> 'EAGAIN' while unresolved (nothing queued)
//   send(flow, bytes)                     -> Promise: waits for the SA, then sends
//   writable(flow)                        -> Promise: the flow can send now
//
// Failures reject (blocking) or are reported once (non-blocking) with ETIMEDOUT
// (acquireTimeout, R10, or the call's own timeout), EHOSTUNREACH (the key manager
// failed, R8b), EPERM (a discard policy), ENOBUFS (no larval SA could be made) and
// ABORT_ERR (the AbortSignal fired). Timeouts are in engine time.
//
// Legacy modes (the engine's `unresolved` option): 'drop' tells the sender success
// and the packet is lost (today's Linux); 'eagain' fails every call with EAGAIN,
// blocking or not.

import type { Engine } from '../engine/engine.js';
import type { Verdicts } from '../engine/verdicts.js';
import { buildPacket } from '../wire/build.js';
import { LarvalError, invalid } from '../common/errors.js';
import { normalizeFlow } from '../engine/validate.js';
import type { Flow, FlowResolution, LarvalOutcome } from '../engine/types.js';

export type SocketErrorCode = 'EAGAIN' | 'ETIMEDOUT' | 'EHOSTUNREACH' | 'EPERM' | 'ENOBUFS' | 'ABORT_ERR';

/** A rejection of a socket call, with a POSIX-style code. */
export class SocketError extends LarvalError<SocketErrorCode> {
  constructor(code: SocketErrorCode, message: string) {
    super(code, message);
    this.name = code === 'ABORT_ERR' ? 'AbortError' : 'SocketError';
  }
}

export type ConnectResult = { ok: true; saId: number | null } | { ok: false; code: 'EINPROGRESS' | 'EALREADY' | SocketErrorCode };
export type SendResult = { ok: true; bytes: number; saId: number | null } | { ok: false; code: SocketErrorCode };

export interface SocketCallOptions {
  nonBlocking?: boolean;
  /** Blocking calls: give up after this many ms of engine time (ETIMEDOUT). */
  timeout?: number;
  signal?: AbortSignal;
}

/** A packet a local sender sent, as it left the gateway. */
export interface Transmitted {
  packet: Uint8Array;
  verdicts: Verdicts;
}

interface Waiter {
  resolve: () => void;
  reject: (e: SocketError) => void;
}

function flowId(flow: Flow): string {
  const f = normalizeFlow(flow);
  return `${f.family}|${f.src.join('.')}|${f.dst.join('.')}|${f.proto}|${f.kind}|${f.sport}|${f.dport}`;
}

/**
 * What the sockets need of the gateway (the Gateway class provides it): the engine,
 * its clock and timers, the unresolved-packet mode, the outbound path and outcome
 * notifications. An interface, so that the sockets do not import the gateway.
 */
export interface SocketHost {
  readonly engine: Engine;
  readonly time: number;
  readonly unresolved: 'queue' | 'drop' | 'eagain';
  at(time: number, fn: () => void): () => void;
  settle(): void;
  deliver(): void;
  outbound(packets: Uint8Array[]): Verdicts;
  onOutcome(fn: (o: LarvalOutcome) => void): () => void;
  emit(event: 'transmit', transmitted: Transmitted): boolean;
}

export class LocalSockets {
  private readonly gw: SocketHost;
  // Waiters per larval SA, and non-blocking connects in progress per flow.
  private readonly waiters = new Map<number, Set<Waiter>>();
  private readonly connecting = new Map<string, { larvalId: number; error?: SocketErrorCode }>();

  constructor(gw: SocketHost) {
    this.gw = gw;
    gw.onOutcome((o) => this.onOutcome(o));
  }

  private onOutcome(o: LarvalOutcome): void {
    const error: SocketErrorCode | null = o.outcome === 'expired' ? 'ETIMEDOUT' : o.outcome === 'failed' ? 'EHOSTUNREACH' : null;
    for (const c of this.connecting.values()) if (c.larvalId === o.larvalId && error) c.error = error;
    const set = this.waiters.get(o.larvalId);
    if (!set) return;
    this.waiters.delete(o.larvalId);
    for (const w of set) {
      if (error) w.reject(new SocketError(error, error === 'ETIMEDOUT' ? `no SA negotiated within acquireTimeout (larval SA ${o.larvalId}, R10)` : `the key manager could not negotiate an SA (larval SA ${o.larvalId}, R8b)`));
      else w.resolve(); // resolved, or its policy changed: the caller looks again
    }
  }

  private resolve(flow: Flow): FlowResolution {
    const r = this.gw.engine.resolveFlow('out', flow);
    this.gw.settle();
    this.gw.deliver();
    return r;
  }

  private static failure(r: FlowResolution): SocketError | null {
    if (r.state === 'blocked') return new SocketError('EPERM', `policy ${r.policyId ?? 'default'} discards this flow`);
    if (r.state === 'unavailable') return new SocketError('ENOBUFS', `no negotiation could be started (${r.reason})`);
    return null;
  }

  /**
   * Resolves when a packet of `flow` can be sent protected (or in clear, if its
   * policy says so); rejects with the error that stopped it (R11 readiness).
   */
  writable(flow: Flow, options: Omit<SocketCallOptions, 'nonBlocking'> = {}): Promise<void> {
    const deadline = options.timeout === undefined ? null : this.gw.time + checkTimeout(options.timeout);
    return new Promise<void>((resolve, reject) => {
      let cancelTimer: (() => void) | null = null;
      let current: Waiter | null = null;
      let larval = 0;
      const cleanup = () => {
        cancelTimer?.();
        options.signal?.removeEventListener('abort', onAbort);
        if (current) this.waiters.get(larval)?.delete(current);
      };
      const fail = (e: SocketError) => {
        cleanup();
        reject(e);
      };
      const onAbort = () => fail(new SocketError('ABORT_ERR', 'the operation was aborted'));
      if (options.signal?.aborted) return onAbort();
      options.signal?.addEventListener('abort', onAbort, { once: true });
      if (deadline !== null) cancelTimer = this.gw.at(deadline, () => fail(new SocketError('ETIMEDOUT', `not writable within ${options.timeout} ms`)));
      const look = () => {
        current = null;
        let r: FlowResolution;
        try {
          r = this.resolve(flow);
        } catch (err) {
          cleanup();
          return reject(err);
        }
        const f = LocalSockets.failure(r);
        if (f) return fail(f);
        if (r.state === 'ready') {
          cleanup();
          return resolve();
        }
        if (this.gw.unresolved === 'eagain') return fail(new SocketError('EAGAIN', 'no SA yet (unresolved: eagain)'));
        larval = r.larvalId!;
        current = { resolve: look, reject: fail };
        let set = this.waiters.get(larval);
        if (!set) this.waiters.set(larval, (set = new Set()));
        set.add(current);
      };
      look();
    });
  }

  /** connect(2) for a flow (R11). Non-blocking: a result now; blocking: a Promise. */
  connect(flow: Flow, options: SocketCallOptions & { nonBlocking: true }): ConnectResult;
  connect(flow: Flow, options?: SocketCallOptions): Promise<ConnectResult & { ok: true }>;
  connect(flow: Flow, options: SocketCallOptions = {}): ConnectResult | Promise<ConnectResult & { ok: true }> {
    if (!options.nonBlocking) {
      if (this.gw.unresolved === 'drop') {
        // The legacy lie: "connected" at once, whether or not the SA is there.
        const r = this.connectNow(flow);
        return r.ok ? Promise.resolve(r) : Promise.reject(new SocketError(r.code as SocketErrorCode, `connect: ${r.code}`));
      }
      return this.writable(flow, options).then(() => ({ ok: true as const, saId: this.resolve(flow).saId }));
    }
    return this.connectNow(flow);
  }

  private connectNow(flow: Flow): ConnectResult {
    const id = flowId(flow);
    const pending = this.connecting.get(id);
    if (pending?.error) {
      // Like SO_ERROR: a failed connect is reported once; the next call starts anew.
      this.connecting.delete(id);
      return { ok: false, code: pending.error };
    }
    const r = this.resolve(flow);
    const f = LocalSockets.failure(r);
    if (f) {
      this.connecting.delete(id);
      return { ok: false, code: f.code };
    }
    if (r.state === 'ready') {
      this.connecting.delete(id);
      return { ok: true, saId: r.saId };
    }
    const mode = this.gw.unresolved;
    if (mode === 'drop') return { ok: true, saId: null }; // the legacy lie: "connected"
    if (mode === 'eagain') return { ok: false, code: 'EAGAIN' };
    this.connecting.set(id, { larvalId: r.larvalId! });
    return pending ? { ok: false, code: 'EALREADY' } : { ok: false, code: 'EINPROGRESS' };
  }

  /** send(2) of `payload` on `flow` (R11). The packet leaves as a 'transmit' event on the gateway. */
  send(flow: Flow, payload: Uint8Array, options: SocketCallOptions & { nonBlocking: true }): SendResult;
  send(flow: Flow, payload: Uint8Array, options?: SocketCallOptions): Promise<SendResult & { ok: true }>;
  send(flow: Flow, payload: Uint8Array, options: SocketCallOptions = {}): SendResult | Promise<SendResult & { ok: true }> {
    if (!(payload instanceof Uint8Array)) throw invalid('payload', payload, 'expected a Uint8Array');
    if (options.nonBlocking) return this.sendNow(flow, payload);
    const now = this.sendNow(flow, payload);
    if (now.ok) return Promise.resolve(now);
    if (now.code !== 'EAGAIN' || this.gw.unresolved === 'eagain') return Promise.reject(new SocketError(now.code, `send: ${now.code}`));
    return this.writable(flow, options).then(() => {
      const again = this.sendNow(flow, payload);
      if (again.ok) return again;
      throw new SocketError(again.code, `send: ${again.code}`);
    });
  }

  private sendNow(flow: Flow, payload: Uint8Array): SendResult {
    const r = this.resolve(flow);
    const f = LocalSockets.failure(r);
    if (f) return { ok: false, code: f.code };
    if (r.state === 'pending' && this.gw.unresolved !== 'drop') return { ok: false, code: 'EAGAIN' }; // nothing queued
    // Ready, or the legacy 'drop' mode: the packet goes to the engine, which drops
    // it (no-sa) while the sender is told success.
    const packet = buildPacket(flow, { payloadLength: payload.length });
    packet.set(payload, packet.length - payload.length);
    const v = this.gw.outbound([packet]);
    const sent = v.verdict(0) === 'protect' || v.verdict(0) === 'bypass';
    if (sent) this.gw.emit('transmit', { packet, verdicts: v });
    return { ok: true, bytes: payload.length, saId: v.saId(0) };
  }
}

function checkTimeout(ms: unknown): number {
  if (typeof ms !== 'number' || !(ms >= 0) || !Number.isFinite(ms)) throw invalid('timeout', ms, 'expected ms >= 0');
  return ms;
}
