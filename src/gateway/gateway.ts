// The gateway: one engine plus what the host owns around it — the resolution queue
// (R9), the key-manager session (R8, R12), local-sender sockets (R11) and a
// scheduler in engine time. Every packet and control call goes through the engine;
// after each call the gateway acts on how larval SAs ended (release, drop, re-decide)
// and hands new events to the key manager.
//
// Time is engine time (ms). `outbound(packets, now)` and `tick(now)` carry it;
// work scheduled with `at()` (a key manager's simulated negotiation delay, a
// sender's timeout) runs when time reaches it, before packets of that instant.

import { Emitter } from '../common/emitter.js';
import * as L from '../../assembly/layout.js';
import { createEngine, type Engine, type EngineStats, type PacketBuffer, type PacketInput } from '../engine/engine.js';
import type { Verdicts } from '../engine/verdicts.js';
import { packetAt } from '../engine/packets.js';
import { ResolutionQueue, type QueuedPacket } from './resolution.js';
import { protectPackets, type PacketOutput } from '../engine/esp-stage.js';
import { KeyManagerSession, type KeyManagerOptions } from './km-session.js';
import { LocalSockets, type Transmitted } from './sockets.js';
import { LarvalError, invalid } from '../common/errors.js';
import { integer } from '../engine/validate.js';
import { REASON_NAMES } from '../engine/codec.js';
import type { EngineOptions, LarvalOutcome, ReasonName } from '../engine/types.js';

/** Options of createGateway(): the engine's, plus the resolution queue's limits (R9). */
export interface GatewayOptions extends EngineOptions {
  /** Packets held per larval SA (R9). Default 4096. */
  queuePackets?: number;
  /** Bytes held over all resolution queues (R9). Default 32 MiB. */
  queueBytes?: number;
}

/** Packets a larval SA held, decided again when it ended (R9). */
export interface ReleasedPackets {
  larvalId: number;
  outcome: 'resolved' | 'policy-removed';
  /** The SA that resolved the larval SA. */
  saId: number | null;
  packets: Uint8Array[];
  /** Engine time each packet was first queued. */
  queuedAt: number[];
  /** Their new verdicts, in arrival order: 'protect' through the new SA, or queued again. */
  verdicts: Verdicts;
  /**
   * What leaves for each packet: ESP made with the new SA, the packet for a bypass
   * verdict, or null (queued again, or dropped: an SA without keys is `no-keys`, R23).
   */
  wire: (Uint8Array | null)[];
  /** Engine time of the release. */
  time: number;
}

/** Packets a larval SA held that were dropped when it ended (R10, R8b). */
export interface DroppedPackets {
  larvalId: number;
  reason: ReasonName;
  count: number;
  time: number;
}

export interface GatewayEvents {
  /** Held packets decided again when their larval SA ended: resolved, or policy removed (R9). */
  release: [ReleasedPackets];
  /** Held packets dropped when their larval SA expired or failed (R10, R8b). */
  drop: [DroppedPackets];
  /** A local sender's packet left (sockets, R11). */
  transmit: [Transmitted];
  /** Packets the resolution queue refused in one outbound() call (queue-full, queue-bytes). */
  refused: [number];
}

interface Task {
  time: number;
  seq: number;
  run: () => void;
}

const GATEWAY_FIELDS = ['queuePackets', 'queueBytes'];

/** Create a gateway: an engine plus the resolution queue, key-manager sessions and a scheduler in engine time. */
export async function createGateway(options: GatewayOptions = {}): Promise<Gateway> {
  if (typeof options !== 'object' || options === null) throw invalid('options', options, 'expected an object');
  const engineOptions: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(options)) if (!GATEWAY_FIELDS.includes(k)) engineOptions[k] = v;
  const packets = options.queuePackets === undefined ? 4096 : integer(options.queuePackets, 'options.queuePackets', 1, 1 << 24);
  const bytes = options.queueBytes === undefined ? 32 << 20 : integer(options.queueBytes, 'options.queueBytes', 1, 2 ** 40);
  const engine = await createEngine(engineOptions as EngineOptions);
  return new Gateway(engine, new ResolutionQueue({ packets, bytes }));
}

/** An engine with SA resolution around it: queues packets that wait for an SA (R7-R9), talks to key managers, and releases or drops the queued packets. Events: 'release', 'drop', 'refused'. */
export class Gateway extends Emitter<GatewayEvents> {
  readonly engine: Engine;
  readonly queue: ResolutionQueue;
  readonly sockets: LocalSockets;
  private session: KeyManagerSession | null = null;
  private tasks: Task[] = [];
  private taskSeq = 0;
  private delivering = false;
  private settling = false;
  private readonly outcomeListeners = new Set<(o: LarvalOutcome) => void>();

  /** Use createGateway(). */
  constructor(engine: Engine, queue: ResolutionQueue) {
    super();
    this.engine = engine;
    this.queue = queue;
    this.sockets = new LocalSockets(this);
  }

  /** Engine time (ms). */
  get time(): number {
    return this.engine.time;
  }

  /** The packet-path mode the engine was built with. */
  get unresolved(): 'queue' | 'drop' | 'eagain' {
    return this.engine.options.unresolved;
  }

  // -------------------------------------------------------------------------
  // Time

  /** Run `fn` when engine time reaches `time` (ms). Returns a cancel function. */
  at(time: number, fn: () => void): () => void {
    if (typeof time !== 'number' || Number.isNaN(time)) throw invalid('time', time, 'expected a number of ms');
    const task: Task = { time, seq: ++this.taskSeq, run: fn };
    // Sorted by time, then by scheduling order; binary insertion.
    let lo = 0;
    let hi = this.tasks.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const t = this.tasks[mid];
      if (t.time < time || (t.time === time && t.seq < task.seq)) lo = mid + 1;
      else hi = mid;
    }
    this.tasks.splice(lo, 0, task);
    return () => {
      const i = this.tasks.indexOf(task);
      if (i >= 0) this.tasks.splice(i, 1);
    };
  }

  // Run due tasks in time order, each at its own time, then move the engine to `now`.
  private advance(now: number | undefined): void {
    const target = now ?? this.engine.time;
    while (this.tasks.length && this.tasks[0].time <= target) {
      const task = this.tasks.shift()!;
      if (task.time > this.engine.time) this.engine.tick(task.time);
      this.settle();
      task.run();
      this.settle();
      this.deliver();
    }
    if (now !== undefined) this.engine.tick(now);
    this.settle();
    this.deliver();
  }

  /** Advance engine time: scheduled work runs, larval SAs past acquireTimeout end (R10). */
  tick(now: number): void {
    this.advance(now);
  }

  // -------------------------------------------------------------------------
  // Packets

  /**
   * Decide outbound packets at engine time `now`, like Engine.outbound(), and hold
   * those that wait for an SA in the resolution queue (R7, R9). A packet the queue
   * refuses has its verdict replaced by 'drop' with the reason (queue-full,
   * queue-bytes). Held packets come out later as a 'release' event.
   */
  outbound(packets: PacketInput[] | PacketBuffer, now?: number): Verdicts {
    this.advance(now);
    const v = this.engine.outbound(packets, now);
    let refused = 0;
    const time = this.engine.time;
    for (let i = 0; i < v.length; i++) {
      if (v.verdictCode(i) !== L.Verdict.Queued) continue;
      const reason = this.queue.enqueue(v.larvalId(i)!, packetBytes(packets, i), time);
      if (reason !== 0) {
        v.override(i, L.Verdict.Drop, reason);
        this.engine.countDrops('out', REASON_NAMES[reason], 1);
        refused++;
      }
    }
    if (refused) this.emit('refused', refused);
    this.settle();
    this.deliver();
    return v;
  }

  /**
   * Like outbound(), then build what leaves (Engine.output): ESP for `protect`, the
   * packet for `bypass`, null for the rest, queued packets included (they come out
   * in a 'release' event, encapsulated, once their SA is installed).
   */
  output(packets: PacketInput[] | PacketBuffer, now?: number): PacketOutput {
    const verdicts = this.outbound(packets, now);
    return { verdicts, packets: protectPackets(this.engine, packets, verdicts) };
  }

  /** Inbound packets at engine time `now` (Engine.input); INVALID_SPI events go to the key manager. */
  input(packets: PacketInput[] | PacketBuffer, now?: number): PacketOutput {
    this.advance(now);
    const out = this.engine.input(packets, now);
    this.settle();
    this.deliver();
    return out;
  }

  // -------------------------------------------------------------------------
  // Larval outcomes

  /** Listen to every larval outcome (the sockets use this). */
  onOutcome(fn: (o: LarvalOutcome) => void): () => void {
    this.outcomeListeners.add(fn);
    return () => this.outcomeListeners.delete(fn);
  }

  /** Act on every larval SA that ended in the engine calls made so far. */
  settle(): void {
    if (this.settling) return;
    this.settling = true;
    try {
      for (let outcomes = this.engine.takeOutcomes(); outcomes.length; outcomes = this.engine.takeOutcomes()) {
        for (const o of outcomes) this.act(o);
      }
    } finally {
      this.settling = false;
    }
  }

  private act(o: LarvalOutcome): void {
    const held = this.queue.take(o.larvalId);
    if (o.outcome === 'resolved' || o.outcome === 'policy-removed') {
      if (held.length) this.release(o, held);
    } else if (held.length) {
      const reason: ReasonName = o.outcome === 'expired' ? 'acquire-timeout' : 'acquire-failed';
      this.engine.countDrops('out', reason, held.length);
      const dropped: DroppedPackets = { larvalId: o.larvalId, reason, count: held.length, time: this.engine.time };
      this.emit('drop', dropped);
    }
    for (const fn of this.outcomeListeners) fn(o);
  }

  // R9: the held packets go through the engine again, in arrival order, before any
  // newer packet of their key (this runs inside the call that installed the SA).
  private release(o: LarvalOutcome, held: QueuedPacket[]): void {
    const packets = held.map((p) => p.data);
    const v = this.engine.redecide(packets);
    const time = this.engine.time;
    for (let i = 0; i < v.length; i++) {
      if (v.verdictCode(i) !== L.Verdict.Queued) continue;
      // Its policy changed and it needs another negotiation: wait again, keeping
      // its original arrival time.
      const reason = this.queue.enqueue(v.larvalId(i)!, packets[i], held[i].queuedAt);
      if (reason !== 0) {
        v.override(i, L.Verdict.Drop, reason);
        this.engine.countDrops('out', REASON_NAMES[reason], 1);
      }
    }
    const released: ReleasedPackets = {
      larvalId: o.larvalId,
      outcome: o.outcome as ReleasedPackets['outcome'],
      saId: o.saId,
      packets,
      queuedAt: held.map((p) => p.queuedAt),
      verdicts: v,
      wire: protectPackets(this.engine, packets, v),
      time,
    };
    this.emit('release', released);
  }

  // -------------------------------------------------------------------------
  // Key manager (R8, R12)

  /**
   * Register the key manager. A key manager that registers again (a restart)
   * replaces the previous session, and every pending ACQUIRE is sent to it once (R8a).
   */
  registerKeyManager(options: KeyManagerOptions = {}): KeyManagerSession {
    this.session?.close();
    const session = new KeyManagerSession(this, options);
    this.session = session;
    this.engine.reacquire();
    this.settle();
    this.deliver();
    return session;
  }

  /** @internal the session closed itself. */
  detach(session: KeyManagerSession): void {
    if (this.session === session) this.session = null;
  }

  /**
   * Hand events from the ring to the key manager while it accepts them. Events stay
   * in the ring while no key manager reads (none registered, paused, or its
   * iterator is full); ACQUIREs that then find the ring full wait in the engine and
   * follow once there is room (R8c).
   */
  deliver(): void {
    if (this.delivering) return;
    this.delivering = true;
    try {
      for (;;) {
        const s = this.session;
        if (s === null) return;
        const room = s.room();
        if (room <= 0) return;
        const events = this.engine.readEvents(Math.min(room, 64));
        if (events.length === 0) return;
        for (const ev of events) s.dispatch(ev);
        this.settle();
      }
    } finally {
      this.delivering = false;
    }
  }

  // -------------------------------------------------------------------------

  /** The engine's counters plus the resolution queue's. */
  stats(): EngineStats & { queue: ReturnType<ResolutionQueue['stats']>; scheduled: number } {
    return { ...this.engine.stats(), queue: this.queue.stats(), scheduled: this.tasks.length };
  }
}

// A copy of packet i of the input, to hold past the caller's buffer.
function packetBytes(packets: PacketInput[] | PacketBuffer, i: number): Uint8Array {
  return packetAt(packets, i).slice();
}

export { LarvalError };
