// Capture replay: feed captured packets, at capture time, through a gateway built
// from a configuration, under one preset, and account for what happens to each.
//
// The world around the gateway is modelled just enough to tell the presets apart:
//   - a scripted key manager (src/gateway/scripted-km.ts) answers ACQUIREs after a delay,
//     rekeys on EXPIRE(soft), and negotiates anew when a peer starts IKE again;
//   - the peer knows the SAs negotiated with it since it last (re)started: a packet
//     sent on an SA the peer does not know is lost there. It is `stale` when the
//     gateway already had an SA the peer knows (the gateway's fault: R6), and
//     `peerDown` when it had none (nobody could have delivered it).
// Direction comes from the configuration: ESP (or ESP in UDP) to a local tunnel
// address, and packets to a protected local subnet from outside, are inbound;
// everything else is outbound.

import * as L from '../../assembly/layout.js';
import { PROTO_ESP, PROTO_UDP } from '../../assembly/wire-defs.js';
import { ikeHeaderAt, ipSummary, isIkeSaInitStart, summarizeIp, udpDestinationPort } from '../wire/ip.js';
import { createGateway, type Gateway, type ReleasedPackets } from '../gateway/gateway.js';
import type { PacketInput } from '../engine/engine.js';
import { ScriptedKeyManager } from '../gateway/scripted-km.js';
import { parseAddress, parsePrefix, prefixContains, type Family, type Prefix } from '../common/addr.js';
import { VERDICT_NAMES } from '../engine/codec.js';
import type { Verdicts } from '../engine/verdicts.js';
import type { PolicySpec, PresetName, SaSpec, VerdictName } from '../engine/types.js';
import { policySpec, saSpec, type Config, type ConfigPolicy, type ConfigSa } from '../config/setkey-types.js';
import { invalid } from '../common/errors.js';

/** What replay needs of a capture reader's batch (src/io/batch.ts RecordBatch). */
export interface CaptureBatch {
  count: number;
  bytes: Uint8Array;
  ipOffset: Int32Array;
  ipLength: Uint32Array;
  /** Length of the IP packet on the wire (more than ipLength when the capture cut it short). */
  ipWireLength: Uint32Array;
  timeSec: Float64Array;
  timeFracNs: Uint32Array;
}

/** One captured packet: its capture time and IP packet (null when not IP). */
export interface ReplayRecord {
  timeNs: bigint;
  ip: Uint8Array | null;
  /** Length of the IP packet on the wire when the capture cut it short. */
  wireLength?: number;
}

/** The policies and SAs replay() starts from (a Config from loadSetkey() also fits). */
export interface ReplaySetup {
  policies: readonly PolicySpec[];
  /** SAs installed at the start (and known to their peers). */
  sas: readonly SaSpec[];
}

/** Options of replay(): the preset and the modelled world (key manager delay, MSL, rekey). */
export interface ReplayOptions {
  preset: PresetName;
  /** The key manager's negotiation delay, ms. Default 200. */
  kmDelay?: number;
  /**
   * How long a larval SA waits for the key manager before its packets are dropped
   * (R10), ms. Default: the preset's (30 s; bsd-2000: 20 s). A kmDelay above it
   * loses every packet that waits for a negotiation.
   */
  acquireTimeout?: number;
  /** Maximum segment lifetime, ms (R15). Default 30000. */
  msl?: number;
  /** Soft lifetime (ms since add) of the SAs the key manager negotiates; hard is 1.5 times it. Default: none (no rekey). */
  rekeyMs?: number;
  /** Longest stretch of capture time one engine call covers, ms. Default 1. */
  batchSpanMs?: number;
  /** Packets per engine call at most. Default 256. */
  batchSize?: number;
  /** Every packet that leaves the gateway, in order, with its time (ms since the epoch, on the capture's clock). */
  emit?: (packet: Uint8Array, timeMs: number, dir: 'out' | 'in') => Promise<void> | void;
  /** Called with the number of records read so far, every few thousand records. */
  progress?: (records: number) => void;
  /** Width of the timeline's buckets, ms. Default 100. */
  bucketMs?: number;
  /** Called with what happened to each packet (the page's details; costs nothing when absent). */
  trace?: (p: TracedPacket) => void;
}

/** One packet's fate, for the page's details (ReplayOptions.trace). */
export interface TracedPacket {
  /** ms since the first packet. */
  t: number;
  dir: 'out' | 'in';
  /** delivered, queued, lost (dropped), stale (lost at the peer, R6), peer-down, discard, received (inbound), or the drop reason's fate. */
  fate: 'delivered' | 'queued' | 'lost' | 'stale' | 'peer-down' | 'discard' | 'received';
  verdict: VerdictName;
  reason?: string;
  /** SPI (hex) of the SA it used, when protected. */
  spi?: string;
  /** "src > dst proto[:sport>dport]". */
  flow: string;
}

/** An outbound SA of the replay, for the legend (SA by SPI and negotiation). */
export interface TimelineSa {
  spi: string;
  peer: string;
  /** 1 for the first outbound SA negotiated, 0 for one the configuration installed. */
  negotiation: number;
  /** Why it was negotiated. */
  cause: 'config' | 'acquire' | 'rekey' | 'restart';
  /** ms since the first packet. */
  installedAt: number;
}

/** A moment on the timeline: an ACQUIRE (or a resend of one), a rekey's or restart's install, a peer restart. */
export interface TimelineEvent {
  t: number;
  kind: 'acquire' | 'resend' | 'install' | 'restart';
  spi?: string;
  peer?: string;
  cause?: TimelineSa['cause'];
}

export interface TimelineBucket {
  /** Start of the bucket, ms since the first packet. */
  t: number;
  /** Outbound packets that reached the peer, by SPI (hex) of the SA they used; 'clear' for bypass. */
  delivered: Record<string, number>;
  /** Packets dropped by the gateway or lost at the peer. */
  lost: number;
  /** Packets queued for a negotiation (R7). */
  queued: number;
  /** Of `lost`: sent on an SA the peer no longer knew (R6). */
  stale: number;
  acquires: number;
}

/** What replay() reports for one preset: packets by verdict, drops, ACQUIREs, negotiations, losses, latency, a timeline. */
export interface ReplayReport {
  preset: PresetName;
  records: number;
  /** Records that were not IP (link types the reader decodes, other ethertypes) and were skipped. */
  nonIp: number;
  packets: { out: number; in: number };
  verdicts: { out: Record<VerdictName, number>; in: Record<VerdictName, number> };
  /** Drops by reason, both directions (R26). */
  drops: Record<string, number>;
  acquires: number;
  /** ACQUIREs the key manager got for a negotiation already under way (the legacy presets' resends). */
  acquireResends: number;
  negotiations: number;
  sasInstalled: number;
  peerRestarts: number;
  /** Outbound packets that reached the peer: protected on an SA it knows, or bypass. */
  delivered: number;
  /** Outbound packets sent on an SA the peer no longer knows while the gateway had one it knew (R6). */
  stale: number;
  /** Outbound packets sent while no SA the peer knows existed (the peer was restarting). */
  peerDown: number;
  /** Outbound packets lost: dropped, discarded by a drop reason, or stale. */
  lost: number;
  /** Delay that waiting for an SA added to queued packets, ms. */
  latency: { queued: number; p50: number | null; p99: number | null; max: number | null };
  timeline: { bucketMs: number; buckets: TimelineBucket[]; sas: TimelineSa[]; events: TimelineEvent[] };
  durationMs: number;
}

interface PeerState {
  /** SPIs of our outbound SAs the peer knows. */
  known: Set<number>;
}

/**
 * Replay `input` — chunks of records, or a capture reader's batches — through a
 * gateway built from `setup`, under `options.preset`.
 */
/**
 * Replay a capture through a gateway under one preset and report what happened to
 * every packet. `input` is a capture's batches (`openCapture(file).batches()`) or
 * arrays of records; `setup` is the policies and SAs, e.g. the Config that
 * `loadSetkey()` returns (its line and column fields are ignored).
 */
export async function replay(
  input: AsyncIterable<readonly ReplayRecord[] | CaptureBatch> | Iterable<readonly ReplayRecord[] | CaptureBatch>,
  setup: ReplaySetup | Config,
  options: ReplayOptions,
): Promise<ReplayReport> {
  if (input === null || typeof input !== 'object' || (typeof (input as AsyncIterable<unknown>)[Symbol.asyncIterator] !== 'function' && typeof (input as Iterable<unknown>)[Symbol.iterator] !== 'function')) {
    throw invalid('input', input, 'expected a capture\'s batches (openCapture(file).batches()) or arrays of records');
  }
  if (typeof options !== 'object' || options === null) throw invalid('options', options, 'expected { preset, ... }');
  const kmDelay = options.kmDelay ?? 200;
  const gw = await createGateway({
    preset: options.preset, msl: options.msl ?? 30_000,
    ...(options.acquireTimeout !== undefined ? { acquireTimeout: options.acquireTimeout } : {}),
  });
  const world = new World(gw, setupSpecs(setup), options, kmDelay);
  for await (const chunk of input) {
    if (Array.isArray(chunk)) world.feed(chunk);
    else world.feedBatch(chunk as CaptureBatch);
    if (world.pending) {
      await world.pending;
      world.pending = null;
    }
  }
  return world.finish();
}

// A Config from loadSetkey() carries each entry's line and column (and setkey-only
// SA fields) for its error messages; the engine takes the specs without them.
function setupSpecs(setup: ReplaySetup | Config): ReplaySetup {
  if (typeof setup !== 'object' || setup === null || !Array.isArray(setup.policies) || !Array.isArray(setup.sas)) {
    throw invalid('setup', setup, 'expected { policies, sas } (e.g. what loadSetkey() returns)');
  }
  return {
    policies: setup.policies.map((p) => ('line' in p ? policySpec(p as ConfigPolicy) : p)),
    sas: setup.sas.map((sa) => ('line' in sa ? saSpec(sa as ConfigSa) : sa)),
  };
}

class World {
  private readonly gw: Gateway;
  private readonly km: ScriptedKeyManager;
  private readonly options: ReplayOptions;
  private readonly localNets: Prefix[] = [];
  private readonly gateways: Prefix[] = [];
  private readonly peers = new Map<string, PeerState>();
  /** Outbound SAs: SPI -> (engine id, peer address). */
  private readonly outSas = new Map<number, { id: number; peer: string }>();
  /** Out templates by peer, to negotiate again when the peer restarts. */
  private readonly templates = new Map<string, { src: string; dst: string; mode: 'tunnel' | 'transport'; proto: 'esp' | 'ah'; reqid: number }[]>();
  private t0: bigint | null = null;
  private t0Sec = 0;
  /** The first packet's time, ms since the epoch: engine time 0. */
  private epochMs = 0;
  private t0Frac = 0;
  private now = 0;
  private batch: PacketInput[] = [];
  private batchDir: 'out' | 'in' = 'out';
  private batchStart = 0;
  private readonly r: ReplayReport;
  private readonly latencies: number[] = [];
  private readonly bucketMs: number;
  private readonly buckets = new Map<number, TimelineBucket>();
  private readonly batchSpan: number;
  private readonly batchSize: number;
  private readonly srcWords = new Uint32Array(4);
  /** Why each negotiation under way without an ACQUIRE started, oldest first (the delays are equal). */
  private readonly causes: TimelineSa['cause'][] = [];
  private readonly trace: ((p: TracedPacket) => void) | undefined;
  private readonly dstWords = new Uint32Array(4);
  private readonly ipFields = ipSummary();

  constructor(gw: Gateway, setup: ReplaySetup, options: ReplayOptions, kmDelay: number) {
    this.gw = gw;
    this.options = options;
    this.bucketMs = options.bucketMs ?? 100;
    this.batchSpan = options.batchSpanMs ?? 1;
    this.batchSize = options.batchSize ?? 256;
    this.trace = options.trace;
    const zero = () => Object.fromEntries(VERDICT_NAMES.map((v) => [v, 0])) as Record<VerdictName, number>;
    this.r = {
      preset: options.preset, records: 0, nonIp: 0, packets: { out: 0, in: 0 }, verdicts: { out: zero(), in: zero() }, drops: {},
      acquires: 0, acquireResends: 0, negotiations: 0, sasInstalled: 0, peerRestarts: 0, delivered: 0, stale: 0, peerDown: 0, lost: 0,
      latency: { queued: 0, p50: null, p99: null, max: null }, timeline: { bucketMs: this.bucketMs, buckets: [], sas: [], events: [] }, durationMs: 0,
    };
    const rekey = options.rekeyMs;
    this.km = new ScriptedKeyManager(gw, {
      delay: kmDelay,
      ...(rekey ? { lifetime: { soft: { addTime: rekey }, hard: { addTime: Math.round(rekey * 1.5) } } } : {}),
      onNegotiated: ({ spec, direction }) => {
        if (direction === 'out') this.learn(spec, 0);
      },
      onInstall: ({ id, spec, direction }) => {
        this.r.sasInstalled++;
        if (direction === 'out') {
          this.outSas.set(spec.spi, { id, peer: spec.dst });
          const cause = spec.acquireSeq ? 'acquire' : (this.causes.shift() ?? 'rekey');
          const sas = this.r.timeline.sas;
          const spi = `0x${spec.spi.toString(16)}`;
          sas.push({ spi, peer: spec.dst, negotiation: sas.filter((x) => x.negotiation > 0).length + 1, cause, installedAt: this.gw.time });
          this.r.timeline.events.push({ t: this.gw.time, kind: 'install', spi, peer: spec.dst, cause });
        }
      },
    });
    // R14: the key manager rekeys when an SA it uses outbound reaches a soft limit.
    this.km.control.on('expire', (ev) => {
      if (ev.kind !== 'soft' || !this.outSas.has(ev.spi)) return;
      const t = this.templates.get(ev.dst)?.find((x) => x.src === ev.src);
      if (t) {
        this.causes.push('rekey');
        this.km.negotiate(t);
      }
    });
    gw.on('release', (rel) => this.released(rel));
    for (const p of setup.policies) {
      gw.engine.addPolicy(p);
      if (p.dir === 'out' && p.action === 'protect' && p.template) {
        const t = p.template;
        if (p.src !== undefined) this.localNets.push(parsePrefix(p.src, 'src'));
        if (t.mode === 'tunnel' && t.src && t.dst) {
          this.gateways.push(parsePrefix(t.src, 'template.src'));
          const list = this.templates.get(t.dst) ?? [];
          if (!list.some((x) => x.src === t.src && x.reqid === (t.reqid ?? 0))) list.push({ src: t.src, dst: t.dst, mode: 'tunnel', proto: t.proto ?? 'esp', reqid: t.reqid ?? 0 });
          this.templates.set(t.dst, list);
        }
      }
    }
    for (const sa of setup.sas) {
      const id = gw.engine.addSA(sa, 0);
      this.r.sasInstalled++;
      if (this.isLocal(sa.src)) this.r.timeline.sas.push({ spi: `0x${sa.spi.toString(16)}`, peer: sa.dst, negotiation: 0, cause: 'config', installedAt: 0 });
      // An SA from us (a local tunnel address or host) is outbound: its peer knows it.
      if (this.isLocal(sa.src)) this.learn(sa, id);
    }
  }

  private isLocal(address: string): boolean {
    const a = parseAddress(address, 'address');
    return [...this.gateways, ...this.localNets].some((p) => prefixContains(p, a));
  }

  private learn(spec: SaSpec, id: number): void {
    this.outSas.set(spec.spi, { id, peer: spec.dst });
    this.peer(spec.dst).known.add(spec.spi);
  }

  private peer(address: string): PeerState {
    let p = this.peers.get(address);
    if (!p) this.peers.set(address, (p = { known: new Set() }));
    return p;
  }

  feed(chunk: readonly ReplayRecord[]): void {
    for (const rec of chunk) {
      if (this.t0 === null) {
        this.t0 = rec.timeNs;
        this.epochMs = Number(rec.timeNs) / 1e6;
      }
      this.packet(rec.ip, Number(rec.timeNs - this.t0) / 1e6, rec.wireLength ?? 0);
    }
  }

  /** A reader's batch (src/io): records as offsets into one buffer, valid until the reader goes on. */
  feedBatch(b: CaptureBatch): void {
    for (let n = 0; n < b.count; n++) {
      if (this.t0 === null) {
        this.t0Sec = b.timeSec[n];
        this.t0Frac = b.timeFracNs[n];
        this.t0 = 0n;
        this.epochMs = this.t0Sec * 1000 + this.t0Frac / 1e6;
      }
      const at = b.ipOffset[n];
      const t = (b.timeSec[n] - this.t0Sec) * 1000 + (b.timeFracNs[n] - this.t0Frac) / 1e6;
      this.packet(at < 0 ? null : b.bytes.subarray(at, at + b.ipLength[n]), t, b.ipWireLength[n]);
    }
    this.flush(); // the reader reuses its buffer
  }

  // `wireLength`: the packet's length on the wire when the capture cut it short
  // (the engine then judges the IP lengths against it, R24), else 0 or ip.length.
  private packet(ip: Uint8Array | null, t: number, wireLength: number): void {
    this.r.records++;
    if (this.options.progress && (this.r.records & 0x3fff) === 0) this.options.progress(this.r.records);
    if (ip === null || ip.length < 20) {
      this.r.nonIp++;
      return;
    }
    const time = t < this.now ? this.now : t; // engine time never goes backwards
    const dir = this.direction(ip, time);
    if (this.batch.length && (dir !== this.batchDir || time - this.batchStart > this.batchSpan || this.batch.length >= this.batchSize)) this.flush();
    if (!this.batch.length) {
      this.batchDir = dir;
      this.batchStart = time;
    }
    this.now = time;
    this.batch.push(wireLength > ip.length ? { data: ip, wireLength } : ip);
  }

  // Direction by the configuration; also notices a peer starting IKE again.
  private direction(ip: Uint8Array, time: number): 'out' | 'in' {
    const h = this.ipFields;
    if (!summarizeIp(ip, h)) return 'out'; // not IP: the engine calls it malformed
    const v4 = h.family === 4;
    const dst = { family: h.family, words: addressWords(ip, h.dstAt, v4, this.dstWords) };
    const toGateway = this.gateways.some((p) => prefixContains(p, dst));
    if (toGateway && h.protocol === PROTO_UDP) {
      const port = udpDestinationPort(ip, h.l4);
      if (port >= 0) {
        const ike = ikeHeaderAt(ip, h.l4, port);
        if (ike >= 0 && v4) this.ike(ip, ike, h.srcAt, time);
        return 'in';
      }
    }
    if (toGateway && h.protocol === PROTO_ESP) return 'in';
    if (this.localNets.some((p) => prefixContains(p, dst))) {
      const src = { family: h.family, words: addressWords(ip, h.srcAt, v4, this.srcWords) };
      if (!this.localNets.some((p) => prefixContains(p, src))) return 'in';
    }
    return 'out';
  }

  // An IKE_SA_INIT request from a peer (responder SPI zero) that negotiated with us
  // before: it restarted. It forgets its SAs, and the key manager negotiates anew
  // with it — without deleting ours (no INITIAL_CONTACT handling, as in 2000), so
  // what the gateway sends on meanwhile is decided by its SA selection (R6, R21).
  // IPv4 peers only: the peer table is keyed by dotted-quad address.
  private ike(ip: Uint8Array, at: number, srcAt: number, time: number): void {
    if (!isIkeSaInitStart(ip, at)) return;
    const src = `${ip[srcAt]}.${ip[srcAt + 1]}.${ip[srcAt + 2]}.${ip[srcAt + 3]}`;
    const peer = this.peers.get(src);
    if (!peer || peer.known.size === 0) return;
    this.flush();
    this.r.peerRestarts++;
    this.r.timeline.events.push({ t: time, kind: 'restart', peer: src });
    peer.known.clear();
    for (const t of this.templates.get(src) ?? []) {
      this.causes.push('restart');
      this.km.negotiate(t, time);
    }
  }

  private flush(): void {
    const n = this.batch.length;
    if (n === 0) return;
    const now = this.now;
    if (this.batchDir === 'out') {
      this.r.packets.out += n;
      const out = this.gw.output(this.batch, now);
      this.account(out.verdicts, out.packets, 'out', now);
    } else {
      this.r.packets.in += n;
      const res = this.gw.input(this.batch, now);
      this.account(res.verdicts, res.packets, 'in', now);
    }
    this.batch = [];
  }

  private account(v: Verdicts, wire: (Uint8Array | null)[], dir: 'out' | 'in', now: number): void {
    const counts = this.r.verdicts[dir];
    const bucket = this.bucket(now);
    for (let i = 0; i < v.length; i++) {
      const code = v.verdictCode(i);
      counts[VERDICT_NAMES[code]]++;
      if (code === L.Verdict.Queued) {
        bucket.queued++;
        if (this.trace) this.traced(now, dir, 'queued', v, i, this.batch[i]);
        continue;
      }
      if (code === L.Verdict.Drop || code === L.Verdict.Malformed || code === L.Verdict.Discard) {
        const reason = code === L.Verdict.Discard ? 'discard' : v.reason(i);
        this.r.drops[reason] = (this.r.drops[reason] ?? 0) + 1;
        if (dir === 'out' && code !== L.Verdict.Discard) {
          this.r.lost++;
          bucket.lost++;
        }
        if (this.trace) this.traced(now, dir, code === L.Verdict.Discard ? 'discard' : dir === 'out' ? 'lost' : 'received', v, i, this.batch[i]);
        continue;
      }
      const p = wire[i];
      if (p === null) continue;
      this.emitted(p, this.epochMs + now, dir);
      if (dir === 'out') {
        const fate = this.deliver(p, code === L.Verdict.Protect ? v.spi(i) : null, bucket);
        if (this.trace) this.traced(now, dir, fate, v, i, this.batch[i]);
      } else if (this.trace) this.traced(now, dir, 'received', v, i, this.batch[i]);
    }
  }

  // Did the peer get it? A protected packet needs an SA the peer knows.
  private deliver(_p: Uint8Array, spi: number | null, bucket: TimelineBucket): TracedPacket['fate'] {
    if (spi === null) {
      this.r.delivered++;
      bucket.delivered.clear = (bucket.delivered.clear ?? 0) + 1;
      return 'delivered';
    }
    const sa = this.outSas.get(spi);
    const peer = sa ? this.peers.get(sa.peer) : undefined;
    if (sa && peer?.known.has(spi)) {
      this.r.delivered++;
      const key = `0x${spi.toString(16)}`;
      bucket.delivered[key] = (bucket.delivered[key] ?? 0) + 1;
      return 'delivered';
    }
    // Lost at the peer: was there an SA it knows that the gateway could have used?
    let usable = false;
    if (sa && peer) {
      for (const s of peer.known) {
        const other = this.outSas.get(s);
        const info = other && other.id ? this.gw.engine.getSA(other.id) : null;
        if (info && info.state !== 'draining') usable = true;
      }
    }
    if (usable) {
      this.r.stale++;
      this.r.lost++;
      bucket.lost++;
      bucket.stale++;
      return 'stale';
    }
    this.r.peerDown++;
    return 'peer-down';
  }

  // The page's details: what happened to packet `i` of a batch (ReplayOptions.trace).
  private traced(t: number, dir: 'out' | 'in', fate: TracedPacket['fate'], v: Verdicts, i: number, input: PacketInput | Uint8Array | undefined): void {
    const code = v.verdictCode(i);
    const ip = input === undefined ? null : input instanceof Uint8Array ? input : (input as { data: Uint8Array }).data;
    const p: TracedPacket = { t, dir, fate, verdict: VERDICT_NAMES[code], flow: ip ? flowOf(ip) : '?' };
    if (code === L.Verdict.Drop || code === L.Verdict.Malformed) p.reason = v.reason(i);
    if (code === L.Verdict.Protect && v.spi(i) !== null) p.spi = `0x${v.spi(i)!.toString(16)}`;
    this.trace!(p);
  }

  private released(rel: ReleasedPackets): void {
    const bucket = this.bucket(rel.time);
    for (let i = 0; i < rel.packets.length; i++) {
      const code = rel.verdicts.verdictCode(i);
      if (code === L.Verdict.Queued) continue; // queued again (a changed policy)
      this.r.latency.queued++;
      this.latencies.push(rel.time - rel.queuedAt[i]);
      if (code === L.Verdict.Drop || code === L.Verdict.Malformed || code === L.Verdict.Discard) {
        const reason = code === L.Verdict.Discard ? 'discard' : rel.verdicts.reason(i);
        this.r.drops[reason] = (this.r.drops[reason] ?? 0) + 1;
        if (code !== L.Verdict.Discard) {
          this.r.lost++;
          bucket.lost++;
        }
        if (this.trace) this.traced(rel.time, 'out', code === L.Verdict.Discard ? 'discard' : 'lost', rel.verdicts, i, rel.packets[i] as PacketInput);
        continue;
      }
      const p = rel.wire[i];
      if (p === null) continue;
      this.emitted(p, this.epochMs + rel.time, 'out');
      const fate = this.deliver(p, code === L.Verdict.Protect ? rel.verdicts.spi(i) : null, bucket);
      if (this.trace) this.traced(rel.time, 'out', fate, rel.verdicts, i, rel.packets[i] as PacketInput);
    }
  }

  /** The writer's backpressure: replay() waits for it between chunks, so memory stays bounded. */
  pending: Promise<void> | null = null;

  private emitted(p: Uint8Array, timeMs: number, dir: 'out' | 'in'): void {
    const w = this.options.emit?.(p, timeMs, dir);
    if (w) this.pending = w;
  }

  private bucket(time: number): TimelineBucket {
    const t = Math.floor(time / this.bucketMs) * this.bucketMs;
    let b = this.buckets.get(t);
    if (!b) this.buckets.set(t, (b = { t, delivered: {}, lost: 0, queued: 0, stale: 0, acquires: 0 }));
    return b;
  }

  finish(): ReplayReport {
    this.flush();
    // Let negotiations under way finish and larval SAs end (R10): every held packet
    // is accounted for.
    const end = this.now + Math.max(this.gw.engine.options.acquireTimeout, this.km.delay) + 1;
    this.gw.tick(end);
    const s = this.gw.stats();
    const held = s.queue.packets;
    if (held) this.r.drops['still-queued'] = held;
    for (const [reason, n] of Object.entries(s.drops)) {
      // Drops made outside this replay's accounting (the resolution queue's timeouts).
      if (reason === 'acquire-timeout' || reason === 'acquire-failed') {
        this.r.drops[reason] = n;
        this.r.lost += n;
      }
    }
    this.r.acquires = s.resolution.acquires;
    this.r.acquireResends = this.km.counts.duplicates;
    this.r.negotiations = this.km.counts.negotiations;
    const asked = new Set<number>();
    for (const ev of this.km.acquires) {
      this.bucket(ev.time).acquires++;
      this.r.timeline.events.push({ t: ev.time, kind: asked.has(ev.seq) ? 'resend' : 'acquire' });
      asked.add(ev.seq);
    }
    this.r.timeline.events.sort((a, b) => a.t - b.t);
    this.r.durationMs = this.now;
    const sorted = this.latencies.sort((a, b) => a - b);
    if (sorted.length) {
      const q = (f: number) => sorted[Math.min(sorted.length - 1, Math.floor(f * sorted.length))];
      this.r.latency = { queued: sorted.length, p50: q(0.5), p99: q(0.99), max: sorted[sorted.length - 1] };
    }
    this.r.timeline.buckets = [...this.buckets.values()].sort((a, b) => a.t - b.t);
    return this.r;
  }
}

// An address from a packet header into `out` (the engine's four-word form).
function addressWords(ip: Uint8Array, at: number, v4: boolean, out: Uint32Array): Uint32Array {
  out.fill(0);
  for (let i = 0, n = v4 ? 1 : 4; i < n; i++) {
    const o = at + 4 * i;
    out[i] = ((ip[o] << 24) | (ip[o + 1] << 16) | (ip[o + 2] << 8) | ip[o + 3]) >>> 0;
  }
  return out;
}

// "src > dst proto[ sport > dport]" of an IP packet, for the page's details.
function flowOf(ip: Uint8Array): string {
  const v4 = ip[0] >> 4 === 4;
  if (!v4 && ip.length < 40) return '?';
  const a = (at: number) => (v4 ? `${ip[at]}.${ip[at + 1]}.${ip[at + 2]}.${ip[at + 3]}` : Array.from({ length: 8 }, (_, k) => ((ip[at + 2 * k] << 8) | ip[at + 2 * k + 1]).toString(16)).join(':'));
  const proto = v4 ? ip[9] : ip[6];
  const l4 = v4 ? (ip[0] & 15) * 4 : 40;
  const name = proto === 6 ? 'tcp' : proto === 17 ? 'udp' : proto === 1 ? 'icmp' : proto === 58 ? 'icmpv6' : proto === 50 ? 'esp' : `proto ${proto}`;
  const ports = (proto === 6 || proto === 17) && ip.length >= l4 + 4 ? ` ${(ip[l4] << 8) | ip[l4 + 1]} > ${(ip[l4 + 2] << 8) | ip[l4 + 3]}` : '';
  return `${a(v4 ? 12 : 8)} > ${a(v4 ? 16 : 24)} ${name}${ports}`;
}
