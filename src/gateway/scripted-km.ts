// A scripted key manager for tests, the demo and capture replay: it answers each
// ACQUIRE after a negotiation delay in engine time, with SAs built from the ACQUIRE's
// template (SPIs allocated in sequence). It can be told to fail, to lose ACQUIREs,
// or to restart, so that every branch of R8–R10 can be driven deterministically.
//
// Like a real IKE daemon it negotiates once per ACQUIRE sequence number: an ACQUIRE
// sent again for a negotiation in progress (the legacy presets' resends) is counted
// but starts nothing new.

import type { Gateway } from './gateway.js';
import type { KeyManagerSession } from './km-session.js';
import { LarvalError, invalid } from '../common/errors.js';
import type { AcquireEvent, AcquireTemplate, SaSpec } from '../engine/types.js';
import type { EspCrypto } from '../esp/crypto.js';
import { enginePlatform } from '../engine/platform.js';
import { Emitter } from '../common/emitter.js';

/**
 * The AES-GCM-128 key material (key + salt, RFC 4106) the scripted key manager gives
 * SPI `spi`: HMAC-SHA-256(secret, "esp " + spi), first 20 octets. Deterministic, so
 * two gateways with the same secret agree, and tests and tshark can be given the keys.
 */
export function scriptedKeys(spi: number, secret = 'larval-scripted-km', crypto: Pick<EspCrypto, 'hmacSha256'> = enginePlatform().esp): Pick<SaSpec, 'encryption'> {
  const key = crypto.hmacSha256(secret, `esp ${spi >>> 0}`).subarray(0, 20);
  return { encryption: { algorithm: 'aes-gcm-16', key } };
}

/** How the scripted key manager answers ACQUIREs. */
export type ScriptedBehaviour =
  | 'answer'                // install an SA after the delay
  | 'lose'                  // never answer (R10: the larval SA times out)
  | 'fail'                  // report failure after the delay (R8b, no retry)
  | 'retry';                // report failure and ask for a retry, then answer the retry

/** Options of ScriptedKeyManager. */
export interface ScriptedKeyManagerOptions {
  /** Negotiation delay in ms of engine time. Default 200. */
  delay?: number;
  behaviour?: ScriptedBehaviour;
  /** First SPI handed out. Default 0x10000. */
  firstSpi?: number;
  /** Extra SA fields per ACQUIRE (e.g. a reqid, other keys). */
  saFor?: (ev: AcquireEvent) => Partial<SaSpec>;
  /**
   * Keys of the ESP SAs it installs: 'derived' (default) gives each SPI an
   * AES-GCM-128 key derived from `secret` (scriptedKeys(), so a peer configured
   * with the same secret has the same keys); false installs SAs without keys.
   * Test keys, not a key exchange.
   */
  keys?: 'derived' | false;
  /** Secret the derived keys come from. Default 'larval-scripted-km'. */
  secret?: string;
  /** Lifetime of the SAs it negotiates (R13), e.g. a soft limit to make it rekey. */
  lifetime?: SaSpec['lifetime'];
  /**
   * Called when a negotiation has produced an SA, just before it is installed: the
   * peer knows it from then on (installing it may release queued packets at once).
   */
  onNegotiated?: (sa: { spec: SaSpec; direction: 'out' | 'in' }) => void;
  /** Called after each SA it installs, with the engine's id (a peer model, a replay's report). */
  onInstall?: (sa: { id: number; spec: SaSpec; direction: 'out' | 'in' }) => void;
  /**
   * Also install the inbound SA of the pair (peer → us, the next SPI), as an IKE
   * negotiation does. Default true.
   */
  inbound?: boolean;
  name?: string;
}

/** What the scripted key manager did (its counts). */
export interface ScriptedKeyManagerStats {
  /** ACQUIRE events received, resends included. */
  acquires: number;
  /** ACQUIREs for a negotiation already in progress. */
  duplicates: number;
  negotiations: number;
  /** Negotiations answered with an SA (one per answered ACQUIRE). */
  installed: number;
  /** Inbound SAs installed with them. */
  inboundInstalled: number;
  failed: number;
  /** Installs the engine refused (the ACQUIRE expired or its policy changed: R10, R12). */
  refused: number;
  restarts: number;
}

/** A negotiation whose SA the engine refused (e.g. ETABLEFULL): the 'failed' event. */
export interface NegotiationFailure {
  /** The ACQUIRE it answered, 0 for a rekey or a peer's negotiation. */
  seq: number;
  direction: 'out' | 'in';
  spi: number;
  src: string;
  dst: string;
  /** What the engine said (a LarvalError: code and message). */
  error: Error;
}

/** Events of a ScriptedKeyManager: an install the engine refused ends its negotiation as failed. */
export interface ScriptedKeyManagerEvents {
  failed: [NegotiationFailure];
}

/**
 * A key manager for tests and replays: it answers ACQUIREs after `delay` ms of engine
 * time with test keys. Events: 'failed' (NegotiationFailure) when the engine refuses
 * a negotiated SA; the negotiation is counted in `counts.failed`.
 */
export class ScriptedKeyManager extends Emitter<ScriptedKeyManagerEvents> {
  readonly gw: Gateway;
  behaviour: ScriptedBehaviour;
  delay: number;
  private session!: KeyManagerSession;
  private readonly options: ScriptedKeyManagerOptions;
  private nextSpi: number;
  private inProgress = new Map<number, () => void>();
  private retried = new Set<number>();
  readonly acquires: AcquireEvent[] = [];
  readonly counts: ScriptedKeyManagerStats = { acquires: 0, duplicates: 0, negotiations: 0, installed: 0, inboundInstalled: 0, failed: 0, refused: 0, restarts: 0 };

  constructor(gw: Gateway, options: ScriptedKeyManagerOptions = {}) {
    super();
    if (typeof gw !== 'object' || gw === null || typeof gw.registerKeyManager !== 'function') throw invalid('gw', gw, 'expected a Gateway (createGateway())');
    this.gw = gw;
    this.options = options;
    this.delay = options.delay ?? 200;
    if (typeof this.delay !== 'number' || !(this.delay >= 0)) throw invalid('options.delay', options.delay, 'expected ms >= 0');
    this.behaviour = options.behaviour ?? 'answer';
    this.nextSpi = options.firstSpi ?? 0x10000;
    this.session = this.register();
  }

  private register(): KeyManagerSession {
    const s = this.gw.registerKeyManager({ name: this.options.name ?? 'scripted' });
    this.session = s; // before listening: pending ACQUIREs arrive as soon as it does
    s.on('acquire', (ev) => this.onAcquire(ev));
    return s;
  }

  /** The daemon restarts: negotiations in progress are forgotten, and it registers again (R8a). */
  restart(): void {
    for (const cancel of this.inProgress.values()) cancel();
    this.inProgress.clear();
    this.counts.restarts++;
    this.session = this.register();
  }

  /** Its session (to pause it, or install policies through it). */
  get control(): KeyManagerSession {
    return this.session;
  }

  private onAcquire(ev: AcquireEvent): void {
    this.counts.acquires++;
    this.acquires.push(ev);
    if (this.inProgress.has(ev.seq)) {
      this.counts.duplicates++;
      return;
    }
    if (this.behaviour === 'lose') return;
    this.counts.negotiations++;
    const session = this.session;
    const cancel = this.gw.at(ev.time + this.delay, () => {
      this.inProgress.delete(ev.seq);
      if (session.closed) return;
      if (this.behaviour === 'fail' || (this.behaviour === 'retry' && !this.retried.has(ev.seq))) {
        this.counts.failed++;
        const retry = this.behaviour === 'retry';
        if (retry) this.retried.add(ev.seq);
        try {
          session.acquireError(ev.seq, { retry });
        } catch (err) {
          if (!(err instanceof LarvalError && err.code === 'ESTALE')) throw err;
        }
        return;
      }
      this.install(session, ev);
    });
    this.inProgress.set(ev.seq, cancel);
  }

  private keysFor(spi: number, proto: 'esp' | 'ah'): Partial<SaSpec> {
    if (this.options.keys === false || proto !== 'esp') return {};
    return scriptedKeys(spi, this.options.secret, this.gw.engine.espCrypto);
  }

  private install(session: KeyManagerSession, ev: AcquireEvent): void {
    this.installPair(session, ev.template, ev.seq, this.options.saFor?.(ev) ?? {});
  }

  /**
   * Negotiate an SA pair for `template` without an ACQUIRE, installed after the
   * delay: what an IKE daemon does to rekey on EXPIRE(soft) (R14), or when a peer
   * starts a new negotiation (it rebooted). Returns a cancel function.
   */
  negotiate(template: Omit<AcquireTemplate, 'level' | 'family'> & { level?: AcquireTemplate['level'] }, time = this.gw.time): () => void {
    this.counts.negotiations++;
    const session = this.session;
    return this.gw.at(time + this.delay, () => {
      if (!session.closed) this.installPair(session, { level: 'require', ...template }, 0, {});
    });
  }

  // The outbound SA (answering ACQUIRE `seq`, 0 for none) and, unless disabled, the
  // inbound SA of the pair, as an IKE negotiation installs them.
  private installPair(session: KeyManagerSession, t: Omit<AcquireTemplate, 'family'>, seq: number, extra: Partial<SaSpec>): void {
    const spi = this.nextSpi++;
    const spec: SaSpec = {
      spi,
      src: t.src,
      dst: t.dst,
      proto: t.proto,
      mode: t.mode,
      reqid: t.reqid,
      ...(seq ? { acquireSeq: seq } : {}),
      ...this.keysFor(spi, t.proto),
      ...(this.options.lifetime ? { lifetime: this.options.lifetime } : {}),
      ...extra,
    };
    let id: number;
    this.options.onNegotiated?.({ spec, direction: 'out' });
    try {
      id = session.installSA(spec);
      this.counts.installed++;
    } catch (err) {
      if (err instanceof LarvalError && err.code === 'ESTALE') {
        this.counts.refused++;
        return;
      }
      // Any other refusal (ETABLEFULL: the SAD is full; EINVAL from saFor) ends this
      // negotiation as failed, counted and reported, as a daemon's failed CHILD_SA
      // would: never an exception out of the unrelated call (a tick, a batch) that
      // ran the scheduled install (R25). Packets waiting for it are dropped
      // (acquire-failed, R8b).
      this.negotiationFailed(session, seq, spec, 'out', err);
      return;
    }
    this.options.onInstall?.({ id, spec, direction: 'out' });
    if (this.options.inbound === false) return;
    const { acquireSeq: _answered, ...outbound } = spec;
    // A `unique` negotiation's inbound SA gets a reqid of its own (as strongSwan gives
    // unique CHILD_SAs), so the inbound SAs of different flows do not replace each
    // other (R15 applies per template).
    const reqid = t.level === 'unique' ? 0x40000000 + seq : outbound.reqid;
    const inSpi = this.nextSpi++;
    const inbound: SaSpec = { ...outbound, ...this.keysFor(inSpi, t.proto), reqid, spi: inSpi, src: t.dst, dst: t.src };
    this.options.onNegotiated?.({ spec: inbound, direction: 'in' });
    let inId: number;
    try {
      inId = session.installSA(inbound);
    } catch (err) {
      this.negotiationFailed(session, 0, inbound, 'in', err);
      return;
    }
    this.counts.inboundInstalled++;
    this.options.onInstall?.({ id: inId, spec: inbound, direction: 'in' });
  }

  private negotiationFailed(session: KeyManagerSession, seq: number, spec: SaSpec, direction: 'out' | 'in', err: unknown): void {
    this.counts.failed++;
    if (seq) {
      try {
        session.acquireError(seq);
      } catch {
        // The ACQUIRE already ended (expired, or its policy changed): nothing waits for it.
      }
    }
    const error = err instanceof Error ? err : new Error(String(err));
    this.emit('failed', { seq, direction, spi: spec.spi, src: String(spec.src), dst: String(spec.dst), error } satisfies NegotiationFailure);
  }
}
