// Public types of larval's API. Addresses and prefixes are strings; protocols are
// names ('tcp', 'udp', 'icmp', 'ipv6-icmp', ...) or numbers.

import type * as L from '../../assembly/layout.js';
import type { EncryptionAlgorithm, IntegrityAlgorithm } from '../esp/algorithms.js';
import type { EspTransformInfo } from '../esp/keys.js';

/** Policy direction: outbound, inbound or forwarded. */
export type Direction = 'out' | 'in' | 'fwd';
/** What a policy does with a matching packet. */
export type PolicyAction = 'protect' | 'bypass' | 'discard';
/** IPsec mode of a policy template or SA. */
export type IpsecMode = 'tunnel' | 'transport';
/** setkey's levels: `require` (one SA per template), `unique` (per flow), `use` (opportunistic, R7a). */
export type TemplateLevel = 'require' | 'unique' | 'use';
/** Which of several SAs for a template protects a packet (R6: newest). */
export type SaSelectionMode = 'newest' | 'oldest';
/** What happened to a packet: the members of layout.ts's Verdict, kebab-cased. */
export type VerdictName = KebabName<keyof typeof L.Verdict>;
/** Life stage of an SA (R13-R15). */
export type SaStateName = 'mature' | 'dying' | 'draining';

/** What SA a protect policy needs. */
export interface Template {
  /** IPsec protocol; only 'esp' (and 'ah' for selection) are known. Default 'esp'. */
  proto?: 'esp' | 'ah';
  mode: IpsecMode;
  /** Tunnel endpoints (required for tunnel mode, not allowed for transport). */
  src?: string;
  dst?: string;
  /** 0 or omitted: any SA of that protocol, mode and endpoints fits. */
  reqid?: number;
  level?: TemplateLevel;
}

/** A security policy: selectors, priority, action and, for protect, the template (R1-R5). */
export interface PolicySpec {
  dir: Direction;
  /** Source prefix, e.g. '10.0.0.0/8' or '2001:db8::/32'. Omitted: any address of the family. */
  src?: string;
  dst?: string;
  /** Needed only when both src and dst are omitted: 4 or 6. */
  family?: 4 | 6;
  proto?: string | number;
  /** Inclusive port range [lo, hi]; a single number means [n, n]. TCP, UDP and SCTP only (R3). */
  srcPort?: [number, number] | number;
  dstPort?: [number, number] | number;
  /** ICMP / ICMPv6 type and code (R3); need proto 'icmp' or 'ipv6-icmp'. */
  icmpType?: number;
  icmpCode?: number;
  /** Lower wins (R1). Default 0; ties go to the earlier policy. */
  priority?: number;
  action: PolicyAction;
  template?: Template;
}

/** A policy as the engine holds it (dump(), getPolicy()). */
export interface Policy {
  id: number;
  /** Changes whenever the policy is (re)defined (R12). */
  generation: number;
  dir: Direction;
  priority: number;
  action: PolicyAction;
  family: 4 | 6;
  /** Prefixes in canonical form, e.g. '10.0.0.0/8'; '0.0.0.0/0' or '::/0' for any. */
  src: string;
  dst: string;
  /** null = any protocol. */
  proto: number | null;
  srcPort: [number, number] | null;
  dstPort: [number, number] | null;
  icmpType: [number, number] | null;
  icmpCode: [number, number] | null;
  template: PolicyTemplate | null;
}

/** What SA a protect policy requires: mode, tunnel endpoints, level. */
export interface PolicyTemplate {
  proto: 'esp' | 'ah';
  mode: IpsecMode;
  level: TemplateLevel;
  reqid: number;
  /** Tunnel endpoints (tunnel mode only). */
  src?: string;
  dst?: string;
}

/** A security association to install: SPI, endpoints, mode, keys, lifetimes. */
export interface SaSpec {
  spi: number;
  /** SA endpoints: the tunnel endpoints, or the hosts in transport mode. */
  src: string;
  dst: string;
  proto?: 'esp' | 'ah';
  mode: IpsecMode;
  reqid?: number;
  /** PF_KEY's sadb_sa_state at add: 'mature' (default) or 'dying' (R6, R14). */
  state?: 'mature' | 'dying';
  /**
   * The sequence number of the ACQUIRE this SA answers (R12). The install is refused
   * when that ACQUIRE is no longer pending, its policy changed since, or the SA does
   * not fit its template; for a `unique` template it binds the SA to that flow.
   */
  acquireSeq?: number;
  /** 64-bit extended sequence numbers (RFC 4303 §2.2.1): the anti-replay window infers the high bits (R19). */
  esn?: boolean;
  /** Lifetimes the engine enforces (R13). Omitted limits do not apply. */
  lifetime?: { soft?: LifetimeLimits; hard?: LifetimeLimits };
  /** Outbound: the last sequence number already sent (a KM restoring an SA, as HA sync does). Default 0. */
  lastSeq?: number | bigint;
  /**
   * ESP encryption (R22): 'aes-gcm-16' with the AES key followed by the 4-octet salt
   * (20 or 36 octets, RFC 4106 §8.1), or 'aes-cbc' (16 or 32 octets) with `integrity`.
   * Keys stay in the host, as node:crypto KeyObjects; nothing prints them. An SA
   * without keys can be selected, but its packets are dropped `no-keys` (R23).
   */
  encryption?: { algorithm: EncryptionAlgorithm; key: Uint8Array | string };
  /** ESP integrity for aes-cbc: 'hmac-sha256-128' (32-octet key) or 'hmac-sha1-96' (20). */
  integrity?: { algorithm: IntegrityAlgorithm; key: Uint8Array | string };
  /** UDP encapsulation (RFC 3948); ports default to 4500. */
  encap?: { sport?: number; dport?: number };
}

/** Limits of one kind (soft or hard). Times are ms of engine time. */
export interface LifetimeLimits {
  packets?: number;
  bytes?: number;
  /** ms after the install (setkey -ls/-lh). */
  addTime?: number;
  /** ms after the first packet (setkey -us/-uh). */
  useTime?: number;
}

/** An installed SA as the engine reports it (getSA(), dump()). */
export interface SecurityAssociation {
  id: number;
  spi: number;
  src: string;
  dst: string;
  family: 4 | 6;
  proto: 'esp' | 'ah';
  mode: IpsecMode;
  reqid: number;
  state: SaStateName;
  esn: boolean;
  /** Engine time (ms) of the install. */
  addTime: number;
  /** What the engine counted (R13): packets and bytes both ways, the last outbound sequence number. */
  usage: { packets: number; bytes: number; lastSeq: bigint; firstUse: number | null };
  /** Engine time at which a draining SA is removed (R15), else null. */
  drainEnd: number | null;
  /** ESP algorithms and key sizes (never keys), or null for an SA without keys. */
  transform: EspTransformInfo | null;
}

export type { Flow } from '../common/flow.js';

/** One packet's verdict as a plain object (Verdicts.get(), toArray()). */
export interface VerdictRecord {
  verdict: VerdictName;
  reason: ReasonName;
  /** Policy that decided, or null for the default action and malformed packets. */
  policyId: number | null;
  saId: number | null;
  spi: number | null;
  /** The larval SA (= ACQUIRE sequence number) of a packet with no SA yet (R7). */
  larvalId: number | null;
  family: 4 | 6 | null;
  proto: number | null;
}

/** The kebab-case name of an enum member: NoSa -> 'no-sa', L4Truncated -> 'l4-truncated' (codec.ts kebab() at run time). */
export type KebabName<S extends string> = KebabTail<S> extends `-${infer Rest}` ? Rest : KebabTail<S>;
type KebabTail<S extends string> = S extends `${infer H}${infer T}` ? `${H extends Lowercase<H> ? H : `-${Lowercase<H>}`}${KebabTail<T>}` : S;

/** Why a verdict was given (R26): the members of layout.ts's Reason, kebab-cased. */
export type ReasonName = KebabName<keyof typeof L.Reason>;

/** Options of createEngine(): table capacities and the behaviour preset with its knobs. */
export interface EngineOptions {
  /** Policy table capacity (all directions). Default 16384. */
  maxPolicies?: number;
  /** SA table capacity. Default 16384. */
  maxSAs?: number;
  /** Flow-cache slots, rounded up to a power of two. Default 65536. */
  flowCacheSize?: number;
  /** Packets per engine call. Default 256. */
  batchSize?: number;
  /** Bytes of the packet arena one batch may fill. Default 1 MiB (at least 65575). */
  arenaBytes?: number;
  /** Classifier tables (tuples) over all directions and families. Default 4096. */
  maxClassifierTables?: number;
  /** R6 order; 'oldest' only reproduces the legacy behaviour. Default 'newest'. */
  saSelection?: SaSelectionMode;
  /** Action when no policy matches (R2). Default 'bypass' for every direction. */
  defaultAction?: Partial<Record<Direction, 'bypass' | 'discard'>>;
  /**
   * Named combination of the resolution knobs (docs/design.md §9): 'larval' (default),
   * 'linux' or 'bsd-2000'. Options given explicitly override the preset's.
   */
  preset?: PresetName;
  /** Packets of a protect policy with no SA: 'queue' (R7), 'drop' or 'eagain' (legacy, R11). */
  unresolved?: UnresolvedMode;
  /** 'never' (R8) or, for legacy comparison, another ACQUIRE every n packets. */
  acquireResend?: AcquireResend;
  /** Lifetime of a larval SA in ms of engine time (R10). Default 30000. */
  acquireTimeout?: number;
  /** Larval SA capacity (negotiations in progress). Default 4096. */
  maxLarval?: number;
  /** Flow bindings of `unique` templates (flows with their own SA). Default 16384. */
  maxBindings?: number;
  /** Event ring entries, a power of two. Default 1024. */
  eventRingSize?: number;
  /** Anti-replay window in packets (R19): a multiple of 32, 32..4096. Default 128. */
  replayWindow?: number;
  /** INVALID_SPI events per second at most (R18); also one per (SPI, peer) per second. Default 100. */
  invalidSpiRate?: number;
  /** Maximum segment lifetime, ms: an SA no longer used for output drains 2 × msl (R15). Default 30000. */
  msl?: number;
  /** 'drain' (R15) or 'delete' at once (the legacy presets). */
  saSwitch?: 'drain' | 'delete';
}

/** The anti-replay verdict for a sequence number (R19). */
export interface ReplayResult {
  ok: boolean;
  /** Why not: 'replayed' (already accepted) or 'replay-too-old' (left of the window). */
  reason: ReasonName | null;
  /** The full sequence number (with ESN, the inferred high bits). */
  seq: bigint;
}

/** A behaviour preset: larval (lossless), linux, bsd-2000. */
export type PresetName = 'larval' | 'linux' | 'bsd-2000';
/** What happens to a packet whose SA is being negotiated: queued (R7), dropped, or EAGAIN. */
export type UnresolvedMode = 'queue' | 'drop' | 'eagain';
/** When an ACQUIRE is sent again for a negotiation in progress. */
export type AcquireResend = 'never' | { everyPackets: number };

/** The template an ACQUIRE asks for, with its endpoints resolved (tunnel or the flow's hosts). */
export interface AcquireTemplate {
  proto: 'esp' | 'ah';
  mode: IpsecMode;
  level: TemplateLevel;
  /** 0: any reqid fits. */
  reqid: number;
  family: 4 | 6;
  src: string;
  dst: string;
}

/** A flow as the engine saw it in a packet. */
export interface FlowKey {
  src: string;
  dst: string;
  proto: number;
  srcPort?: number;
  dstPort?: number;
  icmpType?: number;
  icmpCode?: number;
}

/** Why an ACQUIRE was sent. */
export type AcquireCauseName = 'new' | 'resend' | 'retry' | 'reregister';

/** ACQUIRE (R8): the engine needs an SA for this template. */
export interface AcquireEvent {
  type: 'acquire';
  /** Sequence number: name it as `acquireSeq` when installing the answer (R12). */
  seq: number;
  policyId: number;
  policyGeneration: number;
  dir: Direction;
  /** Engine time (ms) at which the event was written. */
  time: number;
  cause: AcquireCauseName;
  template: AcquireTemplate;
  /** The packet's flow that started the negotiation. */
  flow: FlowKey;
}

/** INVALID_SPI (R18): an ESP packet named an SPI no SA has (rate-limited). */
export interface InvalidSpiEvent {
  type: 'invalid-spi';
  spi: number;
  /** The packet's source (the peer) and destination. */
  src: string;
  dst: string;
  time: number;
}

/** The SA an EXPIRE or DELETED is about. */
export interface EventSa {
  saId: number;
  spi: number;
  src: string;
  dst: string;
  proto: 'esp' | 'ah';
  mode: IpsecMode;
  reqid: number;
}

/** EXPIRE (R14, R15): 'soft': rekey now; 'hard': the SA's life ended (it is removed next). */
export interface ExpireEvent extends EventSa {
  type: 'expire';
  kind: 'soft' | 'hard';
  time: number;
}

/** DELETED: the SA was removed by the engine (end of drain, or flushPeer). */
export interface DeletedEvent extends EventSa {
  type: 'deleted';
  time: number;
}

/** An event the engine reports to key managers: ACQUIRE, INVALID_SPI, EXPIRE, DELETED. */
export type EngineEvent = AcquireEvent | InvalidSpiEvent | ExpireEvent | DeletedEvent;

/** How a larval SA ended. */
export type OutcomeName = 'resolved' | 'expired' | 'failed' | 'policy-removed';

/** How a larval SA ended (read by the resolution queue after every engine call). */
export interface LarvalOutcome {
  larvalId: number;
  outcome: OutcomeName;
  /** The SA that resolved it. */
  saId: number | null;
}

/** A larval SA as dump() shows it. */
export interface LarvalSa {
  id: number;
  policyId: number;
  policyGeneration: number;
  dir: Direction;
  template: AcquireTemplate;
  flow: FlowKey;
  /** Engine time (ms) at which it expires (R10). */
  expires: number;
  /** Its ACQUIRE waits for room in the event ring (R8c). */
  undelivered: boolean;
}

/** What a local sender's packet of a flow would get now (R11). */
export interface FlowResolution {
  state: 'ready' | 'pending' | 'blocked' | 'unavailable';
  verdict: VerdictName;
  reason: ReasonName;
  policyId: number | null;
  saId: number | null;
  larvalId: number | null;
}
