// The key-manager interface (docs/design.md R8, R12). A key manager registers with the
// gateway and gets a session: events (ACQUIRE now; EXPIRE and INVALID_SPI with the
// lifetime and inbound issues) arrive as EventEmitter events and through an async
// iterator, and policies and SAs are installed through the session, the one
// control interface. Only one session is live: registering again is a restart, and
// the engine sends every pending ACQUIRE to the new session (R8a).
//
// Backpressure: a paused session, or an iterator whose buffer is full, reads no
// more events; they wait in the engine's ring, and ACQUIREs that find the ring full
// wait in the engine until there is room (R8c). Nothing is lost or sent twice.

import { Emitter } from '../common/emitter.js';
import type { Engine, EngineDump } from '../engine/engine.js';
import { LarvalError } from '../common/errors.js';
import { integer } from '../engine/validate.js';
import type { AcquireEvent, DeletedEvent, EngineEvent, ExpireEvent, InvalidSpiEvent, PolicySpec, SaSpec } from '../engine/types.js';

/**
 * What a session needs of the gateway that created it (the Gateway class provides
 * it): the engine for installs, and the gateway's event delivery. An interface, so
 * that the session does not import the gateway that imports it.
 */
export interface KeyManagerHost {
  readonly engine: Engine;
  /** Hand the engine's pending events to the session (re-entrant calls are ignored). */
  deliver(): void;
  /** Release and drop what the engine decided since the last call (queued packets, outcomes). */
  settle(): void;
  /** The session closed: the gateway forgets it. */
  detach(session: KeyManagerSession): void;
}

/** Options of gateway.registerKeyManager(). */
export interface KeyManagerOptions {
  /** A name for logs and errors. */
  name?: string;
  /** Events the async iterator buffers before the session stops reading. Default 256. */
  highWaterMark?: number;
}

export interface KeyManagerSessionEvents {
  acquire: [AcquireEvent];
  'invalid-spi': [InvalidSpiEvent];
  expire: [ExpireEvent];
  deleted: [DeletedEvent];
  event: [EngineEvent];
  close: [];
}

const LISTENED = ['event', 'acquire', 'invalid-spi', 'expire', 'deleted'] as const;

/** A key manager's session with a gateway: engine events in (ACQUIRE, EXPIRE, ...), SAs and policies out (R12). */
export class KeyManagerSession extends Emitter<KeyManagerSessionEvents> implements AsyncIterable<EngineEvent> {
  readonly name: string;
  private readonly gw: KeyManagerHost;
  private readonly highWaterMark: number;
  private paused = false;
  private isClosed = false;
  private iterating = 0;
  private buffer: EngineEvent[] = [];
  private waiting: ((r: IteratorResult<EngineEvent>) => void)[] = [];

  /** Use Gateway.registerKeyManager(). */
  constructor(gw: KeyManagerHost, options: KeyManagerOptions) {
    super();
    this.gw = gw;
    this.name = options.name ?? 'key-manager';
    this.highWaterMark = options.highWaterMark === undefined ? 256 : integer(options.highWaterMark, 'options.highWaterMark', 1, 1 << 20);
  }

  get closed(): boolean {
    return this.isClosed;
  }

  /** Stop reading events (they wait in the engine, R8c). */
  pause(): void {
    this.paused = true;
  }

  /** Deliver events again after pause(). */
  resume(): void {
    this.paused = false;
    this.gw.deliver();
  }

  // A session reads events only once something listens: events that arrive before
  // (say, the ACQUIREs re-sent at registration, R8a) wait in the engine until then.
  override on<K extends keyof KeyManagerSessionEvents>(event: K, listener: (...args: KeyManagerSessionEvents[K]) => void): this {
    super.on(event, listener as never);
    if (event !== 'close') this.gw.deliver();
    return this;
  }

  override addListener<K extends keyof KeyManagerSessionEvents>(event: K, listener: (...args: KeyManagerSessionEvents[K]) => void): this {
    return this.on(event, listener);
  }

  /** @internal how many events the session accepts now. */
  room(): number {
    if (this.isClosed || this.paused) return 0;
    if (this.iterating === 0) return LISTENED.some((e) => this.listenerCount(e) > 0) ? Infinity : 0;
    return this.highWaterMark - this.buffer.length + this.waiting.length;
  }

  /** @internal */
  dispatch(ev: EngineEvent): void {
    if (this.iterating > 0) {
      const w = this.waiting.shift();
      if (w) w({ value: ev, done: false });
      else this.buffer.push(ev);
    }
    this.emit('event', ev);
    if (ev.type === 'acquire') this.emit('acquire', ev);
    else if (ev.type === 'invalid-spi') this.emit('invalid-spi', ev);
    else if (ev.type === 'expire') this.emit('expire', ev);
    else this.emit('deleted', ev);
  }

  private live(): void {
    if (this.isClosed) throw new LarvalError('EINVAL', `key manager session '${this.name}' is closed (another registered since)`);
  }

  // -------------------------------------------------------------------------
  // The control interface (R12)

  /**
   * Install an SA. With `acquireSeq` it answers that ACQUIRE: refused (ESTALE) when
   * the ACQUIRE is no longer pending or its policy changed. Packets waiting for the
   * SA are released through it before this returns (R9).
   */
  installSA(spec: SaSpec, now?: number): number {
    this.live();
    try {
      return this.gw.engine.addSA(spec, now);
    } finally {
      this.gw.settle();
      this.gw.deliver();
    }
  }

  /** Remove an SA by id through this session. */
  removeSA(id: number): void {
    this.live();
    this.gw.engine.removeSA(id);
    this.gw.settle();
  }

  /**
   * R21/R29: remove every SA with this peer (a KM does this on INITIAL_CONTACT);
   * packets that need an SA to it negotiate afresh (R7). Returns how many went.
   */
  flushPeer(address: string, now?: number): number {
    this.live();
    try {
      return this.gw.engine.flushPeer(address, now);
    } finally {
      this.gw.settle();
      this.gw.deliver();
    }
  }

  /** Install a policy through this session (R12). */
  installPolicy(spec: PolicySpec): number {
    this.live();
    return this.gw.engine.addPolicy(spec);
  }

  /** Remove a policy; packets waiting under it are decided again under the new SPD. */
  removePolicy(id: number): void {
    this.live();
    this.gw.engine.removePolicy(id);
    this.gw.settle();
    this.gw.deliver();
  }

  /**
   * R8b: negotiation for ACQUIRE `seq` failed. `retry: true` asks the engine to send
   * the ACQUIRE again; otherwise waiting packets are dropped (acquire-failed) and
   * waiting senders get EHOSTUNREACH.
   */
  acquireError(seq: number, options: { retry?: boolean } = {}): void {
    this.live();
    this.gw.engine.acquireError(seq, options);
    this.gw.settle();
    this.gw.deliver();
  }

  /** The SPD, SAD and larval SAs with generations, to check the KM is in sync (R12). */
  dump(): EngineDump {
    return this.gw.engine.dump();
  }

  /** Unregister. Pending events stay in the engine for the next key manager. */
  close(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    for (const w of this.waiting) w({ value: undefined, done: true });
    this.waiting = [];
    this.gw.detach(this);
    this.emit('close');
  }

  /** The session's events, as an async iterator. */
  [Symbol.asyncIterator](): AsyncIterator<EngineEvent> {
    this.iterating++;
    const done = (): IteratorResult<EngineEvent> => ({ value: undefined, done: true });
    return {
      next: () => {
        const ev = this.buffer.shift();
        if (ev !== undefined) {
          this.gw.deliver(); // room again
          return Promise.resolve({ value: ev, done: false });
        }
        if (this.isClosed) return Promise.resolve(done());
        return new Promise((resolve) => {
          this.waiting.push(resolve);
          this.gw.deliver();
        });
      },
      return: () => {
        this.iterating--;
        return Promise.resolve(done());
      },
    };
  }
}
