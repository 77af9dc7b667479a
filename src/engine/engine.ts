// The engine wrapper: validates and encodes control-plane calls, moves packets into
// linear memory in batches and verdicts out, and reads counters and tables back.
// All state lives in the WebAssembly instance; this class holds only views on it.

import * as L from '../../assembly/layout.js';
import {
  ACTION_CODE, DIR_CODE, DIR_NAMES, REASON_NAMES, VERDICT_NAMES, decodeEvent, decodeFlowResolution, decodeLarval,
  decodeOutcome, decodePolicy, decodeSa, encodeFlowKey, encodePolicy, encodeSa, isDropReason,
} from './codec.js';
import { Verdicts } from './verdicts.js';
import { LarvalError, invalid, show } from '../common/errors.js';
import type {
  AcquireResend, Direction, EngineEvent, EngineOptions, Flow, FlowResolution, LarvalOutcome, LarvalSa, Policy,
  PolicySpec, PresetName, ReasonName, ReplayResult, SaSelectionMode, SaSpec, SecurityAssociation, UnresolvedMode,
  VerdictName,
} from './types.js';
import {
  type NormalizedPolicy, direction, engineTime, integer, normalizeFlow, normalizePolicy, normalizeSa, oneOf,
} from './validate.js';
import { instantiateEngine, type WasmExports } from './platform.js';
import type { EspCrypto, EspSaHandle } from '../esp/crypto.js';
import { addressBytes, formatAddress, parseAddress } from '../common/addr.js';
import { acceptPackets, protectPackets, type PacketOutput } from './esp-stage.js';
import { isPacketBuffer, type PacketBuffer, type PacketInput } from './packets.js';

export type { PacketBuffer, PacketInput } from './packets.js';
import { PROTO_AH } from '../common/protocols.js';
import { resolveOptions, type ResolvedOptions } from './options.js';
import type { EngineDump, EngineStats } from './introspection.js';

export { PRESETS, type ResolvedOptions } from './options.js';
export type { EngineDump, EngineStats } from './introspection.js';

/**
 * True when packets 0..count-1 of a typed-array PacketBuffer are well formed
 * (offsets non-decreasing, every packet inside `dataLength`, wire lengths not
 * shorter): the staged path's check, one tight loop. False sends the buffer to the
 * general path, which names the first bad entry in its error.
 */
function staged(dataLength: number, offsets: Uint32Array, lengths: Uint32Array, wires: Uint32Array | undefined, count: number): boolean {
  let prev = 0;
  for (let i = 0; i < count; i++) {
    const o = offsets[i];
    const len = lengths[i];
    if (o < prev || o + len > dataLength) return false;
    if (wires !== undefined && wires[i] < len) return false;
    prev = o;
  }
  return true;
}

// Bytes of verdict records per chunk that outbound()/inbound() results are cut from
// (32 batches of 256 packets).
const RECORD_CHUNK = 256 * 1024;

// Which engine call a batch goes to.
const enum Pass { Outbound, Release, Inbound, Inner, Lookup }

/** Create an engine with its own WebAssembly instance and tables. */
export async function createEngine(options?: EngineOptions): Promise<Engine> {
  const resolved = resolveOptions(options);
  const { x, esp } = await instantiateEngine();
  return new Engine(x, resolved, esp);
}

/** Sequence numbers are below 2^64 (RFC 4303 §2.2.1). */
const SEQ_LIMIT = 1n << 64n;

/** An IPsec packet-path engine: one WebAssembly instance with its SPD, SAD and larval SAs. Create it with createEngine(). Times are engine time in ms, monotonic (an earlier `now` than the engine's time is EINVAL). */

export class Engine {
  readonly options: Readonly<ResolvedOptions>;
  private readonly x: WasmExports;
  private buffer!: ArrayBuffer;
  private u8!: Uint8Array;
  private u32!: Uint32Array;
  private dv!: DataView;
  private readonly control: number;
  private readonly descriptors: number;
  private readonly arena: number;
  private readonly verdicts: number;
  private readonly counters: number;
  private readonly policyBase: number;
  private readonly saBase: number;
  private readonly totalBytes: number;
  private readonly larvalBase: number;
  private readonly ring: number;
  private readonly outcomeBase: number;
  private readonly lifetimeBase: number;
  private readonly stage: number;
  /** Larval outcomes of the calls since the last takeOutcomes(). */
  private outcomes: LarvalOutcome[] = [];
  // Key material by SA id: the host's half of each ESP SA (docs/design.md §7). SA ids are
  // never reused, so an entry left behind by an SA the engine removed is never found
  // by a verdict; entries go when removeSA/flushPeer runs or the DELETED event is read.
  private readonly espSas = new Map<number, EspSaHandle>();
  /** Key entries made and freed (stats().keys): a removal that forgot its entry shows as live > SAs. */
  private keysInstalled = 0;
  private keysFreed = 0;
  /** eventsLost when the key entries were last swept: a lost DELETED event would leave its entry behind. */
  private sweptAtLost = 0;

  /** Use createEngine(). @internal */
  constructor(x: WasmExports, options: ResolvedOptions, readonly espCrypto: EspCrypto) {
    this.x = x;
    this.options = Object.freeze(options);
    const cfg = x.configBlock();
    if (cfg === 0 || !x.memory.buffer.byteLength) throw new LarvalError('ENOMEM', 'could not reserve the engine configuration block');
    const dv = new DataView(x.memory.buffer);
    dv.setUint32(cfg + L.CF_MAX_POLICIES, options.maxPolicies, true);
    dv.setUint32(cfg + L.CF_MAX_SAS, options.maxSAs, true);
    dv.setUint32(cfg + L.CF_CACHE_SLOTS, options.flowCacheSize, true);
    dv.setUint32(cfg + L.CF_BATCH, options.batchSize, true);
    dv.setUint32(cfg + L.CF_ARENA, options.arenaBytes, true);
    dv.setUint32(cfg + L.CF_MAX_TABLES, options.maxClassifierTables, true);
    dv.setUint32(cfg + L.CF_SA_SELECTION, options.saSelection === 'oldest' ? L.SaSelection.Oldest : L.SaSelection.Newest, true);
    dv.setUint32(cfg + L.CF_DEFAULT_OUT, ACTION_CODE[options.defaultAction.out], true);
    dv.setUint32(cfg + L.CF_DEFAULT_IN, ACTION_CODE[options.defaultAction.in], true);
    dv.setUint32(cfg + L.CF_DEFAULT_FWD, ACTION_CODE[options.defaultAction.fwd], true);
    dv.setUint32(cfg + L.CF_MAX_LARVAL, options.maxLarval, true);
    dv.setUint32(cfg + L.CF_MAX_BINDINGS, options.maxBindings, true);
    dv.setUint32(cfg + L.CF_EVENT_RING, options.eventRingSize, true);
    dv.setUint32(cfg + L.CF_UNRESOLVED, { queue: L.Unresolved.Queue, drop: L.Unresolved.Drop, eagain: L.Unresolved.Eagain }[options.unresolved], true);
    dv.setUint32(cfg + L.CF_RESEND_EVERY, options.acquireResend === 'never' ? 0 : options.acquireResend.everyPackets, true);
    dv.setUint32(cfg + L.CF_ACQUIRE_TIMEOUT, options.acquireTimeout, true);
    dv.setUint32(cfg + L.CF_REPLAY_WINDOW, options.replayWindow, true);
    dv.setUint32(cfg + L.CF_INVALID_SPI_RATE, options.invalidSpiRate, true);
    dv.setUint32(cfg + L.CF_MSL, options.msl, true);
    dv.setUint32(cfg + L.CF_SA_SWITCH, options.saSwitch === 'delete' ? L.SaSwitch.Delete : L.SaSwitch.Drain, true);
    const status = x.init();
    if (status === L.Status.OutOfMemory) {
      throw new LarvalError('ENOMEM', `the engine's tables do not fit in 4 GiB of WebAssembly memory (options ${show(options)}); lower maxSAs, maxPolicies or flowCacheSize`);
    }
    if (status !== L.Status.Ok) throw new LarvalError('EINVAL', `engine rejected its configuration (status ${status}): ${show(options)}`);
    this.views();
    const r = x.regions();
    const reg = (off: number) => this.dv.getUint32(r + off, true);
    this.control = reg(L.RG_CONTROL);
    this.descriptors = reg(L.RG_DESCRIPTORS);
    this.arena = reg(L.RG_ARENA);
    this.verdicts = reg(L.RG_VERDICTS);
    this.counters = reg(L.RG_COUNTERS);
    this.policyBase = reg(L.RG_POLICIES);
    this.saBase = reg(L.RG_SAS);
    this.totalBytes = reg(L.RG_TOTAL);
    this.larvalBase = reg(L.RG_LARVAL);
    this.ring = reg(L.RG_EVENTS);
    this.outcomeBase = reg(L.RG_OUTCOMES);
    this.lifetimeBase = reg(L.RG_LIFETIMES);
    this.stage = reg(L.RG_STAGE);
  }

  // Every call that can end larval SAs leaves their outcomes in the outcome buffer,
  // which the next call overwrites: collect them right after each call.
  private collect(): void {
    this.views();
    const n = this.dv.getUint32(this.outcomeBase + L.OC_COUNT, true);
    for (let i = 0; i < n; i++) this.outcomes.push(decodeOutcome(this.dv, this.outcomeBase + L.OC_HEADER + i * L.OC_SIZE));
  }

  // Memory only grows inside init(), but a view on a detached buffer silently reads
  // zeros, so re-check before every use.
  private views(): void {
    if (this.buffer === this.x.memory.buffer) return;
    this.buffer = this.x.memory.buffer;
    this.u8 = new Uint8Array(this.buffer);
    this.u32 = new Uint32Array(this.buffer);
    this.dv = new DataView(this.buffer);
  }

  /** Engine time (ms): the latest `now` any call carried. */
  get time(): number {
    return this.x.engineTime();
  }

  // The time a call carries (R25): a finite number of ms >= 0 that does not go back
  // before the engine's time (engine time is monotonic; timers and lifetimes depend
  // on it). Omitted: NaN, which the data plane reads as "the engine's time".
  private at(now: unknown, required = false): number {
    if (now === undefined && !required) return NaN;
    const t = engineTime(now);
    const current = this.x.engineTime();
    if (t < current) {
      throw new LarvalError('EINVAL', `now: engine time is monotonic: ${t} ms is before the engine's time ${current} ms (pass the same or a later time)`, { field: 'now', value: now });
    }
    return t;
  }

  // -------------------------------------------------------------------------
  // SPD

  /** Add a policy (R1–R5). Returns its id. */
  addPolicy(spec: PolicySpec): number {
    return this.insertPolicy(normalizePolicy(spec));
  }

  /** Add many policies; all or none (a failure removes the ones this call added). */
  addPolicies(specs: readonly PolicySpec[]): number[] {
    if (!Array.isArray(specs)) throw invalid('specs', specs, 'expected an array of policies');
    const normalized = specs.map((s, i) => {
      try {
        return normalizePolicy(s);
      } catch (err) {
        if (err instanceof LarvalError) throw new LarvalError(err.code, `policies[${i}].${err.message}`, { field: `policies[${i}].${err.field}`, value: err.value });
        throw err;
      }
    });
    const ids: number[] = [];
    try {
      for (const p of normalized) ids.push(this.insertPolicy(p));
    } catch (err) {
      for (const id of ids) this.x.removePolicy(id);
      throw err;
    }
    return ids;
  }

  private insertPolicy(p: NormalizedPolicy): number {
    this.views();
    encodePolicy(this.dv, this.control, p);
    const r = this.x.addPolicy();
    if (r > 0) return r;
    if (r === L.Status.TableFull) {
      const tables = this.x.policyCount() >= this.options.maxPolicies ? `the policy table is full (maxPolicies ${this.options.maxPolicies})` : `no SA group left for the template (maxSAs ${this.options.maxSAs})`;
      throw new LarvalError('ETABLEFULL', `addPolicy: ${tables}`, { field: 'maxPolicies', value: this.options.maxPolicies });
    }
    if (r === L.Status.IdsExhausted) throw new LarvalError('ETABLEFULL', `addPolicy: all ${L.MAX_ID} policy ids of this engine are used; create a new engine`);
    if (r === L.Status.ClassifierFull) {
      throw new LarvalError('ETABLEFULL', `addPolicy: no classifier table fits and all ${this.options.maxClassifierTables} are in use (maxClassifierTables)`, { field: 'maxClassifierTables', value: this.options.maxClassifierTables });
    }
    throw new LarvalError('EINVAL', `addPolicy: the engine refused the policy (status ${r})`);
  }

  /** Remove a policy by id. */
  removePolicy(id: number): void {
    integer(id, 'id', 1, 0xffffffff);
    if (this.x.removePolicy(id) === L.Status.NotFound) throw new LarvalError('ENOENT', `removePolicy: no policy with id ${id}`, { field: 'id', value: id });
    this.collect();
  }

  /** The action when no policy matches (R2). */
  setDefaultAction(dir: Direction, action: 'bypass' | 'discard'): void {
    const d = direction(dir);
    const a = oneOf(action, ['bypass', 'discard'] as const, 'action');
    this.x.setDefault(DIR_CODE[d], ACTION_CODE[a]);
  }

  /** The policy that decides `flow` (R1/R2), or null when the default action applies. */
  matchPolicy(dir: Direction, flow: Flow): number | null {
    const d = direction(dir);
    const f = normalizeFlow(flow);
    this.views();
    encodeFlowKey(this.dv, this.control, f);
    const id = this.x.lookupFlow(DIR_CODE[d]);
    return id > 0 ? id : null;
  }

  /** A policy by id, as installed (null if none). */
  getPolicy(id: number): Policy | null {
    return this.recordById(this.x.policySlot(integer(id, 'id', 1, 0xffffffff)), () => this.policyBase, L.PO_SIZE, decodePolicy);
  }

  // A record by id: the slot the engine maps the id to (negative: none), decoded
  // from its table after the views are checked (they detach if memory ever grew).
  private recordById<T>(slot: number, base: () => number, size: number, decode: (dv: DataView, at: number) => T): T | null {
    if (slot < 0) return null;
    this.views();
    return decode(this.dv, base() + slot * size);
  }

  // -------------------------------------------------------------------------
  // SAD

  /** Install an SA at engine time `now` (default: the engine's time). Returns its id. */
  addSA(sa: SaSpec, now?: number): number {
    const n = normalizeSa(sa);
    const t = this.at(now);
    // Keys are checked before the engine sees the SA, so a bad key installs nothing.
    const esp = this.espCrypto.createSa(
      { spi: n.spi, mode: n.mode, family: n.family, src: addressBytes(n.family, n.src), dst: addressBytes(n.family, n.dst), esn: n.esn },
      sa,
      n.proto === PROTO_AH ? 'ah' : 'esp',
    );
    this.views();
    encodeSa(this.dv, this.control, n);
    const r = this.x.addSA(t, n.acquireSeq);
    this.collect();
    if (r > 0) {
      if (esp) {
        this.espSas.set(r, esp);
        this.keysInstalled++;
      }
      return r;
    }
    if (r === L.Status.Stale) {
      throw new LarvalError('ESTALE', `addSA: ACQUIRE ${n.acquireSeq} is not pending: it was answered, timed out, failed, or its policy was removed (R12)`, { field: 'acquireSeq', value: n.acquireSeq });
    }
    if (r === L.Status.PolicyChanged) {
      throw new LarvalError('ESTALE', `addSA: the policy of ACQUIRE ${n.acquireSeq} changed since it was sent; check dump() generations (R12)`, { field: 'acquireSeq', value: n.acquireSeq });
    }
    if (r === L.Status.TemplateMismatch) {
      throw new LarvalError('EINVAL', `addSA: the SA (${n.mode}, ${formatAddress(n.family, n.src)} -> ${formatAddress(n.family, n.dst)}, reqid ${n.reqid}) does not fit the template of ACQUIRE ${n.acquireSeq}`, { field: 'acquireSeq', value: n.acquireSeq });
    }
    if (r === L.Status.Duplicate) {
      throw new LarvalError('EEXIST', `addSA: an SA with SPI 0x${n.spi.toString(16)} to ${formatAddress(n.family, n.dst)} already exists (R17)`, { field: 'spi', value: n.spi });
    }
    if (r === L.Status.TableFull) throw new LarvalError('ETABLEFULL', `addSA: the SA table is full (maxSAs ${this.options.maxSAs})`, { field: 'maxSAs', value: this.options.maxSAs });
    if (r === L.Status.IdsExhausted) throw new LarvalError('ETABLEFULL', `addSA: all ${L.MAX_ID} SA ids of this engine are used; create a new engine`);
    throw new LarvalError('EINVAL', `addSA: the engine refused the SA (status ${r})`);
  }

  /** Remove an SA by id (ENOENT if none). */
  removeSA(id: number): void {
    integer(id, 'id', 1, 0xffffffff);
    if (this.x.removeSA(id) === L.Status.NotFound) throw new LarvalError('ENOENT', `removeSA: no SA with id ${id}`, { field: 'id', value: id });
    this.freeKeys(id);
    this.collect();
  }

  /** An SA by id, with its state and counters (null if none). */
  getSA(id: number): SecurityAssociation | null {
    integer(id, 'id', 1, 0xffffffff);
    const slot = this.x.saSlot(id);
    if (slot < 0) return null;
    this.views();
    return this.saRecord(slot);
  }

  private saRecord(slot: number): SecurityAssociation {
    const sa = decodeSa(this.dv, this.saBase + slot * L.SA_SIZE, this.lifetimeBase + slot * L.LT_SIZE);
    sa.transform = this.espSas.get(sa.id)?.info() ?? null;
    return sa;
  }

  /** The host's ESP state of SA `id` (keys as KeyObjects), or null if it has none (R23: no-keys). */
  espSa(id: number): EspSaHandle | null {
    return this.espSas.get(id) ?? null;
  }

  // -------------------------------------------------------------------------
  // Packets

  /**
   * Decide a batch of outbound IP packets (no link-layer header) at engine time
   * `now`: policy (R1–R5), then SA (R6). One verdict per packet, in order.
   * Packets are an array (or iterable) of byte arrays, or a PacketBuffer.
   */
  outbound(packets: Iterable<PacketInput> | PacketBuffer, now?: number): Verdicts {
    return this.decide(packets, now, Pass.Outbound);
  }

  /**
   * outbound() without the copy: the same decisions, side effects and counters, but
   * the result is a view, not a copy. It reads the engine's own verdict region (one
   * batch) or a buffer the engine reuses (longer inputs), and is valid only until the
   * next call into the engine of any kind (packets, policies, SAs, tick): after it,
   * the records show that call's verdicts or nothing. Copy what you keep (`toArray()`),
   * or use outbound(), whose result stays valid. For tight loops that read each
   * batch's verdicts before deciding the next (issue 15: 1.2× on flow-cache hits).
   */
  outboundView(packets: Iterable<PacketInput> | PacketBuffer, now?: number): Verdicts {
    return this.decide(packets, now, Pass.Outbound, true);
  }

  /**
   * Decide packets again that were queued for a larval SA (R9) and are now released:
   * like outbound(), but they are not counted as new packets (stats().released).
   */
  redecide(packets: Iterable<PacketInput> | PacketBuffer, now?: number): Verdicts {
    return this.decide(packets, now, Pass.Release);
  }

  /**
   * Decide inbound packets (outer IP headers) at engine time `now` (R17–R20): an ESP
   * packet whose SPI names an SA and passes the anti-replay pre-check gets
   * `protect` / `spi` with the SA and its full sequence number (`seq(i)`): decrypt
   * it, then hand the inner packet to inboundDecrypted(). Unknown SPIs are dropped
   * (`unknown-spi`) and reported as rate-limited INVALID_SPI events (R18). Other
   * packets go through the inbound SPD; a cleartext packet that a protect policy
   * selects is dropped (`clear-protected`).
   */
  inbound(packets: Iterable<PacketInput> | PacketBuffer, now?: number): Verdicts {
    return this.decide(packets, now, Pass.Inbound);
  }

  /**
   * Decide outbound packets and build what leaves (R22, R23): ESP, made with the SA
   * and sequence number the engine chose, for `protect`; the packet itself for
   * `bypass`; null otherwise. An SA without keys or a packet that cannot be
   * encapsulated turns into `drop` (`no-keys`, `cannot-encapsulate`), counted.
   */
  output(packets: readonly PacketInput[] | PacketBuffer, now?: number): PacketOutput {
    const verdicts = this.outbound(packets as PacketInput[], now);
    return { verdicts, packets: protectPackets(this, packets, verdicts) };
  }

  /**
   * Decide inbound packets and open the ESP ones (R17–R20): SPI lookup and replay
   * pre-check, ICV verification and decryption, then the window update and the
   * inner policy check. `packets[i]` is the inner packet of an accepted ESP packet,
   * a bypass packet as it came, or null; the verdict of a decrypted packet is its
   * inner packet's (`protect`/`policy` or `drop`/`policy-mismatch`, `replayed`).
   */
  input(packets: readonly PacketInput[] | PacketBuffer, now?: number): PacketOutput {
    const verdicts = this.inbound(packets as PacketInput[], now);
    return acceptPackets(this, packets, verdicts, now);
  }

  /**
   * Decrypted inner packets, each with the SA and sequence number of the ESP packet
   * it came in (the ICV verified). The anti-replay window records the sequence
   * number (R19), then the inner packet must match an inbound protect policy whose
   * template fits the SA (`protect` / `policy`), else `drop` / `policy-mismatch` (R20).
   */
  inboundDecrypted(items: readonly { packet: Uint8Array; saId: number; seq: bigint | number }[], now?: number): Verdicts {
    if (!Array.isArray(items)) throw invalid('items', items, 'expected an array of { packet, saId, seq }');
    const tags = items.map((it, i) => {
      if (typeof it !== 'object' || it === null || !(it.packet instanceof Uint8Array)) throw invalid(`items[${i}]`, it, 'expected { packet: Uint8Array, saId, seq }');
      integer(it.saId, `items[${i}].saId`, 1, 0xffffffff);
      const seq = BigInt(it.seq);
      if (seq < 0n || seq >= SEQ_LIMIT) throw invalid(`items[${i}].seq`, it.seq, 'expected a sequence number 0..2^64-1');
      return { saId: it.saId, seq };
    });
    this.tags = tags;
    try {
      return this.decide(items.map((it) => it.packet), now, Pass.Inner);
    } finally {
      this.tags = null;
    }
  }

  private tags: { saId: number; seq: bigint }[] | null = null;

  private decide(packets: Iterable<PacketInput> | PacketBuffer, now: number | undefined, pass: Pass, view = false): Verdicts {
    // R25: one packet where a batch belongs, or something that is no batch at all,
    // is an error that says so, never a verdict about the packet's bytes.
    if (packets instanceof Uint8Array) throw invalid('packets', packets, 'expected a batch: an array of packets or a PacketBuffer (for one packet, pass [packet])');
    if (packets === null || typeof packets !== 'object' || (!isPacketBuffer(packets) && typeof (packets as Iterable<PacketInput>)[Symbol.iterator] !== 'function')) {
      throw invalid('packets', packets, 'expected a batch: an array of packets (Uint8Array or { data, wireLength }) or a PacketBuffer');
    }
    const t = this.at(now);
    this.pass = pass;
    this.view = view || pass === Pass.Lookup;
    if (isPacketBuffer(packets)) return this.runBuffer(packets, t);
    const list = Array.isArray(packets) ? (packets as PacketInput[]) : Array.from(packets);
    // Validate everything before the engine sees any of it: a bad argument must not
    // leave half a batch counted.
    for (let i = 0; i < list.length; i++) {
      const p = list[i];
      if (p instanceof Uint8Array) continue;
      if (typeof p !== 'object' || p === null || !(p.data instanceof Uint8Array)) {
        throw invalid(`packets[${i}]`, p, 'expected a Uint8Array or { data: Uint8Array, wireLength?: number }');
      }
      if (p.wireLength !== undefined) integer(p.wireLength, `packets[${i}].wireLength`, p.data.length, 0xffffffff);
    }
    this.views();
    const out = this.outRecords(list.length);
    const batch = this.options.batchSize;
    const arenaBytes = this.options.arenaBytes;
    const arena = this.arena;
    const u8 = this.u8;
    let i = 0;
    while (i < list.length) {
      let n = 0;
      let used = 0;
      while (i + n < list.length && n < batch) {
        const p = list[i + n];
        const isBytes = p instanceof Uint8Array;
        const data = isBytes ? p : p.data;
        const wire = isBytes ? data.length : (p.wireLength ?? data.length);
        // Beyond the largest IP packet only the head is copied; the engine sees the
        // wire length and answers 'oversized' (R24).
        const cap = data.length > L.MAX_PACKET_BYTES ? L.MAX_PACKET_BYTES : data.length;
        if (used + cap > arenaBytes) break;
        u8.set(cap === data.length ? data : data.subarray(0, cap), arena + used);
        this.describe(n, used, cap, wire, i + n);
        used += cap;
        n++;
      }
      this.runBatch(n, t, out, i);
      i += n;
    }
    return new Verdicts(out);
  }

  // Descriptor n of the batch: where the packet is in the arena and its lengths.
  // Inner packets (`tags`) also carry the SA and sequence number of input `index`.
  private describe(n: number, offset: number, cap: number, wire: number, index: number): void {
    const d = (this.descriptors >>> 2) + n * (L.PD_SIZE >>> 2);
    this.u32[d + L.PD_OFFSET / 4] = offset;
    this.u32[d + L.PD_CAPLEN / 4] = cap;
    this.u32[d + L.PD_WIRELEN / 4] = wire;
    const tag = this.tags?.[index];
    this.u32[d + L.PD_SA / 4] = tag ? tag.saId : 0;
    // A 32-bit sequence number (no ESN) needs no BigInt arithmetic (issue 16: per packet).
    const small = tag !== undefined && tag.seq <= 0xffffffffn;
    this.u32[d + L.PD_SEQ / 4] = tag ? (small ? Number(tag.seq) : Number(BigInt.asUintN(32, tag.seq))) : 0;
    this.u32[d + L.PD_SEQ / 4 + 1] = tag && !small ? Number(tag.seq >> 32n) : 0;
  }

  private pass = Pass.Outbound;
  // The call's result is a view (classify(), outboundView()): a one-batch result reads
  // the verdict region itself, a longer one a buffer the engine reuses.
  private view = false;

  // Where a call's verdict records go: a new array (they stay valid after later
  // calls), or, for classify() and outboundView(), a buffer the engine reuses.
  // Verdict records of outbound()/inbound() calls are cut from chunks that are never
  // reused: each Verdicts owns its bytes (they stay valid after the next call), while
  // one ArrayBuffer serves many batches instead of one per call (issue 15,
  // docs/performance.md). A Verdicts that is kept keeps its chunk alive.
  private recordChunk = new Uint8Array(0);
  private recordUsed = 0;
  private freshRecords(bytes: number): Uint8Array {
    if (this.recordUsed + bytes > this.recordChunk.length) {
      this.recordChunk = new Uint8Array(Math.max(RECORD_CHUNK, bytes));
      this.recordUsed = 0;
    }
    const out = this.recordChunk.subarray(this.recordUsed, this.recordUsed + bytes);
    this.recordUsed += bytes;
    return out;
  }

  private outRecords(count: number): Uint8Array {
    const bytes = count * L.VR_SIZE;
    if (!this.view) return this.freshRecords(bytes);
    if (this.pass === Pass.Lookup) {
      if (this.lookupOut.length < bytes) this.lookupOut = new Uint8Array(Math.max(bytes, this.lookupOut.length * 2));
      return this.lookupOut.subarray(0, bytes);
    }
    if (this.viewOut.length < bytes) this.viewOut = new Uint8Array(Math.max(bytes, this.viewOut.length * 2));
    return this.viewOut.subarray(0, bytes);
  }

  // The reused buffers of classify() and outboundView() results longer than a batch.
  private lookupOut = new Uint8Array(0);
  private viewOut = new Uint8Array(0);
  private lookupDir = 0;
  private lookupCache = 1;

  /**
   * Lookup only, for benchmarking lookups: the policy decision of each packet
   * (R1–R5) — through the flow cache (default; a miss is classified and cached) or,
   * with `cache: false`, straight from the classifier — and nothing else: no SA
   * selection, no lifetime accounting, no larval SAs or events, no verdict counters.
   * Record i has the policy's action as its verdict (`bypass`, `protect`, `discard`;
   * `malformed` with its reason) and `policyId(i)` (null: the direction's default).
   * It agrees with outbound()'s policy answer for every packet.
   *
   * The result is a view, not a copy: it reads the engine's own memory (one batch)
   * or a buffer the engine reuses, and is valid only until the next classify() call
   * (or, for one batch, the next packet call of any kind). Copy what you keep
   * (`toArray()`). Give packets as a PacketBuffer of Uint32Arrays for the cheapest
   * path: no per-packet work in JavaScript.
   */
  classify(packets: Iterable<PacketInput> | PacketBuffer, options: { dir?: Direction; cache?: boolean } = {}): Verdicts {
    const d = direction(options.dir ?? 'out');
    if (options.cache !== undefined && typeof options.cache !== 'boolean') throw invalid('options.cache', options.cache, 'expected a boolean');
    this.lookupDir = DIR_CODE[d];
    this.lookupCache = options.cache === false ? 0 : 1;
    return this.decide(packets, undefined, Pass.Lookup);
  }

  private runBatch(n: number, t: number, out: Uint8Array, at: number): void {
    const p = this.pass;
    const r = p === Pass.Lookup ? this.x.lookup(n, this.lookupDir, this.lookupCache) : p === Pass.Inbound ? this.x.inbound(n, t) : p === Pass.Inner ? this.x.inboundInner(n, t) : this.x.outbound(n, t, p === Pass.Release ? 1 : 0);
    if (r !== n) throw new LarvalError('EINVAL', `outbound: engine refused a batch of ${n} (status ${r})`);
    if (p !== Pass.Lookup) this.collect(); // a lookup ends no larval SA
    out.set(this.u8.subarray(this.verdicts, this.verdicts + n * L.VR_SIZE), at * L.VR_SIZE);
  }

  private runBuffer(pb: PacketBuffer, t: number): Verdicts {
    const { data, offsets, lengths } = pb;
    const wires = pb.wireLengths;
    const count = pb.count ?? offsets.length;
    integer(count, 'packets.count', 0, Math.min(offsets.length, lengths.length));
    if (wires !== undefined && wires.length < count) throw invalid('packets.wireLengths', wires.length, `needs ${count} entries`);
    // One batch is checked by the engine once staged (describeBuffer); longer inputs are
    // checked here first, so that a bad packet refuses the input before any batch runs.
    if (offsets instanceof Uint32Array && lengths instanceof Uint32Array && (wires === undefined || wires instanceof Uint32Array) &&
      this.tags === null && (count <= this.options.batchSize || staged(data.length, offsets, lengths, wires, count))) {
      const v = this.runStaged(data, offsets, lengths, wires, count, t);
      if (v !== null) return v;
    }
    let prev = 0;
    for (let i = 0; i < count; i++) {
      const o = offsets[i];
      const len = lengths[i];
      if (!(o >= prev) || !Number.isInteger(o)) throw invalid(`packets.offsets[${i}]`, o, `expected an integer >= the previous offset ${prev}`);
      if (!Number.isInteger(len) || len < 0 || o + len > data.length) throw invalid(`packets.lengths[${i}]`, len, `packet must end within data (${data.length} bytes) after offset ${o}`);
      if (wires !== undefined && !(wires[i] >= len && Number.isInteger(wires[i]))) throw invalid(`packets.wireLengths[${i}]`, wires[i], `expected an integer >= length ${len}`);
      prev = o;
    }
    this.views();
    const out = this.outRecords(count);
    const batch = this.options.batchSize;
    const arenaBytes = this.options.arenaBytes;
    const arena = this.arena;
    const u8 = this.u8;
    let i = 0;
    while (i < count) {
      const base = offsets[i];
      let n = 0;
      let end = base;
      while (i + n < count && n < batch) {
        const o = offsets[i + n];
        // Packets beyond the largest IP packet are cut to their head (R24: 'oversized').
        const cap = Math.min(lengths[i + n], L.MAX_PACKET_BYTES);
        if (o + cap - base > arenaBytes) break;
        this.describe(n, o - base, cap, wires === undefined ? lengths[i + n] : wires[i + n], i + n);
        if (o + cap > end) end = o + cap;
        n++;
      }
      // The first packet always fits: its cap is at most MAX_PACKET_BYTES <= arenaBytes.
      u8.set(data.subarray(base, end), arena);
      this.runBatch(n, t, out, i);
      i += n;
    }
    return new Verdicts(out);
  }

  // A PacketBuffer of Uint32Arrays whose offsets and lengths are known good: each
  // batch's offsets and lengths are staged into linear memory with one copy each,
  // the engine writes the descriptors itself (describeBuffer), and the batch's byte
  // range is copied with one more. No per-packet work in JS.
  // Returns null, having run nothing, when the engine finds a single batch out of
  // bounds (the caller's validating path then says what is wrong).
  private runStaged(data: Uint8Array, offsets: Uint32Array, lengths: Uint32Array, wires: Uint32Array | undefined, count: number, t: number): Verdicts | null {
    this.views();
    const batch = this.options.batchSize;
    const one = count <= batch;
    let out = one ? null : this.outRecords(count);
    const u8 = this.u8;
    const u32 = this.u32;
    const st = this.stage >>> 2;
    const arena = this.arena;
    let i = 0;
    let last = 0;
    while (i < count) {
      const n = Math.min(batch, count - i);
      // Whole arrays are staged as they are: a subarray is an object per call.
      u32.set(i === 0 && n === offsets.length ? offsets : offsets.subarray(i, i + n), st);
      u32.set(i === 0 && n === lengths.length ? lengths : lengths.subarray(i, i + n), st + batch);
      if (wires !== undefined) u32.set(i === 0 && n === wires.length ? wires : wires.subarray(i, i + n), st + 2 * batch);
      // One batch: the engine checks all its staged packets as it describes them (0: a
      // bad one, nothing has run); longer inputs were checked by the caller.
      const check = one && i === 0;
      const m = this.x.describeBuffer(n, wires === undefined ? 0 : 1, check ? 1 : 0, Math.min(data.length, 0xffffffff));
      if (m === 0 && check) return null;
      if (m <= 0) throw new LarvalError('EINVAL', `outbound: engine refused to describe a batch of ${n} (status ${m})`);
      // One batch that the arena splits: its records are collected like a longer input's.
      if (out === null && m < count) out = this.outRecords(count);
      const base = offsets[i];
      u8.set(data.subarray(base, base + this.x.stagedByteCount()), arena);
      last = m;
      if (out !== null) this.runBatch(m, t, out, i);
      else this.runOnly(m, t);
      i += m;
    }
    // One batch: its verdict records are copied out once, into a chunk (freshRecords).
    if (out !== null) return new Verdicts(out);
    const records = this.verdicts + last * L.VR_SIZE;
    if (this.view) return this.regionView(last);
    const own = this.freshRecords(records - this.verdicts);
    own.set(u8.subarray(this.verdicts, records));
    return new Verdicts(own);
  }

  // A view of the first n records of the verdict region: one object per n, made again
  // only when memory changes, since a view is valid only until the next call anyway.
  private regionViews: Verdicts[] = [];
  private regionBuffer: ArrayBuffer | null = null;
  private regionView(n: number): Verdicts {
    if (this.regionBuffer !== this.buffer) {
      this.regionViews = [];
      this.regionBuffer = this.buffer;
    }
    return (this.regionViews[n] ??= new Verdicts(this.u8.subarray(this.verdicts, this.verdicts + n * L.VR_SIZE)));
  }

  private runOnly(n: number, t: number): void {
    const p = this.pass;
    const r = p === Pass.Lookup ? this.x.lookup(n, this.lookupDir, this.lookupCache) : p === Pass.Inbound ? this.x.inbound(n, t) : p === Pass.Inner ? this.x.inboundInner(n, t) : this.x.outbound(n, t, p === Pass.Release ? 1 : 0);
    if (r !== n) throw new LarvalError('EINVAL', `outbound: engine refused a batch of ${n} (status ${r})`);
    if (p !== Pass.Lookup) this.collect(); // a lookup ends no larval SA
  }

  // -------------------------------------------------------------------------
  // SA resolution (R7–R12)

  /** Advance engine time to `now`: larval SAs past acquireTimeout end (R10). */
  tick(now: number): void {
    const t = this.at(now, true);
    this.x.tick(t);
    this.collect();
  }

  /**
   * What a local sender's packet of `flow` would get now (R11), starting the
   * negotiation (one ACQUIRE, R8) if it needs one. Nothing is queued.
   */
  resolveFlow(dir: Direction, flow: Flow, now?: number): FlowResolution {
    const d = direction(dir);
    const f = normalizeFlow(flow);
    const t = this.at(now);
    this.views();
    encodeFlowKey(this.dv, this.control, f);
    const r = this.x.resolveFlow(DIR_CODE[d], t);
    if (r !== L.Status.Ok) throw new LarvalError('EINVAL', `resolveFlow: engine refused (status ${r})`);
    this.collect();
    return decodeFlowResolution(this.dv, this.control + L.RF_OFFSET);
  }

  /**
   * R8b: the key manager could not negotiate ACQUIRE `seq`. With `retry` the engine
   * sends the ACQUIRE again; otherwise the larval SA fails and its packets are dropped.
   */
  acquireError(seq: number, options: { retry?: boolean } = {}, now?: number): void {
    integer(seq, 'seq', 1, L.MAX_ID);
    const t = this.at(now);
    const r = this.x.acquireError(seq, options.retry === true ? 1 : 0, t);
    this.collect();
    if (r === L.Status.Stale) throw new LarvalError('ESTALE', `acquireError: ACQUIRE ${seq} is not pending`, { field: 'seq', value: seq });
  }

  /**
   * R8a: a key manager registered (again). Unread ACQUIREs are dropped from the ring and every
   * pending ACQUIRE is written once more. Returns how many.
   */
  reacquire(now?: number): number {
    const t = this.at(now);
    const n = this.x.reacquire(t);
    this.collect();
    return n;
  }

  /** Events waiting in the ring. */
  pendingEvents(): number {
    this.views();
    return (this.dv.getUint32(this.ring + L.EVR_TAIL, true) - this.dv.getUint32(this.ring + L.EVR_HEAD, true)) >>> 0;
  }

  /**
   * Read up to `max` events from the ring, oldest first. Reading makes room, and
   * ACQUIREs that found the ring full are written then (R8c).
   */
  readEvents(max = Infinity): EngineEvent[] {
    this.views();
    const out: EngineEvent[] = [];
    const cap = this.options.eventRingSize;
    const records = this.ring + L.EVR_SIZE;
    while (out.length < max) {
      const head = this.dv.getUint32(this.ring + L.EVR_HEAD, true);
      const tail = this.dv.getUint32(this.ring + L.EVR_TAIL, true);
      if (head === tail) break;
      const ev = decodeEvent(this.dv, records + (head & (cap - 1)) * L.EV_SIZE);
      this.dv.setUint32(this.ring + L.EVR_HEAD, (head + 1) >>> 0, true);
      if (ev) {
        if (ev.type === 'deleted') this.freeKeys(ev.saId);
        out.push(ev);
      }
      if (head + 1 === tail || out.length === max) this.x.eventsRead();
    }
    // A DELETED event the full ring lost would leave its SA's key entry behind: sweep then.
    const lost = Number(this.dv.getBigUint64(this.counters + L.CN_EVENTS_LOST * 8, true));
    if (lost !== this.sweptAtLost) {
      this.sweptAtLost = lost;
      this.sweepKeys();
    }
    return out;
  }

  /** Larval outcomes since the last call (the resolution queue acts on them). */
  takeOutcomes(): LarvalOutcome[] {
    const out = this.outcomes;
    this.outcomes = [];
    return out;
  }

  /** Count drops made outside the engine (the resolution queue) with its counters (R26). */
  countDrops(dir: Direction, reason: ReasonName, n: number): void {
    const code = REASON_NAMES.indexOf(reason);
    if (code < 0) throw invalid('reason', reason, 'unknown reason');
    integer(n, 'n', 0, 0xffffffff);
    this.x.countDrops(DIR_CODE[direction(dir)], code, n);
  }

  /** A larval SA by id (= ACQUIRE sequence number), or null when it ended. */
  getLarval(id: number): LarvalSa | null {
    return this.recordById(this.x.larvalSlot(integer(id, 'id', 1, 0xffffffff)), () => this.larvalBase, L.LV_SIZE, decodeLarval);
  }

  /**
   * R21: a peer restarted (a KM that saw INITIAL_CONTACT says so): remove every SA
   * with `address` as an endpoint, with a DELETED event each. Returns how many.
   */
  flushPeer(address: string, now?: number): number {
    const a = parseAddress(address, 'address');
    const t = this.at(now);
    this.views();
    new Uint8Array(this.buffer, this.control, L.PW_SIZE).fill(0);
    this.dv.setUint8(this.control + L.FK_FAMILY, a.family);
    for (let i = 0; i < 4; i++) this.dv.setUint32(this.control + L.FK_SRC + 4 * i, a.words[i], true);
    const n = this.x.flushPeer(t);
    this.collect();
    this.sweepKeys();
    return n;
  }

  /** Forget SA `id`'s key entry (if it has one) and count it. */
  private freeKeys(id: number): void {
    if (this.espSas.delete(id)) this.keysFreed++;
  }

  /** Free the key entries of SAs the engine no longer has (their DELETED event was not read or was lost). */
  private sweepKeys(): void {
    for (const id of [...this.espSas.keys()]) if (this.x.saSlot(id) < 0) this.freeKeys(id);
  }

  // -------------------------------------------------------------------------
  // Anti-replay (R19)

  /**
   * Would a packet with sequence number `seq` (the 32 bits on the wire) be accepted
   * on SA `saId`? With ESN the high bits are inferred from the window. No state changes.
   */
  replayCheck(saId: number, seq: number): ReplayResult {
    return this.replay(saId, seq, false);
  }

  /** Check `seq` and, when acceptable, record it: call once the ICV verified (RFC 4303 §3.4.3). */
  replayAccept(saId: number, seq: number): ReplayResult {
    return this.replay(saId, seq, true);
  }

  private replay(saId: number, seq: number, accept: boolean): ReplayResult {
    integer(saId, 'saId', 1, 0xffffffff);
    integer(seq, 'seq', 0, 0xffffffff);
    const r = accept ? this.x.replayAcceptSeq(saId, seq) : this.x.replayCheckSeq(saId, seq);
    if (r === L.Status.NotFound) throw new LarvalError('ENOENT', `no SA with id ${saId}`, { field: 'saId', value: saId });
    this.views();
    return { ok: r === 0, reason: r === 0 ? null : REASON_NAMES[r], seq: this.dv.getBigUint64(this.control, true) };
  }

  // -------------------------------------------------------------------------
  // Introspection

  /** The engine's counters (EngineStats). */
  stats(): EngineStats {
    this.views();
    const c = (index: number) => Number(this.dv.getBigUint64(this.counters + index * 8, true));
    const packets = {} as EngineStats['packets'];
    const verdicts = {} as EngineStats['verdicts'];
    const reasons = {} as EngineStats['reasons'];
    const drops: EngineStats['drops'] = {};
    DIR_NAMES.forEach((dir, d) => {
      packets[dir] = c(L.CN_PACKETS + d);
      verdicts[dir] = Object.fromEntries(VERDICT_NAMES.map((v, i) => [v, c(L.CN_VERDICTS + d * L.VERDICT_COUNT + i)])) as Record<VerdictName, number>;
      reasons[dir] = {};
      REASON_NAMES.forEach((name, r) => {
        if (name === undefined) return;
        const n = c(L.CN_REASONS + d * L.REASON_COUNT + r);
        if (n === 0) return;
        reasons[dir][name] = n;
        if (isDropReason(r)) drops[name] = (drops[name] ?? 0) + n;
      });
    });
    return {
      packets,
      verdicts,
      reasons,
      drops,
      flowCache: {
        hits: c(L.CN_CACHE_HITS),
        misses: c(L.CN_CACHE_MISSES),
        stale: c(L.CN_CACHE_STALE),
        revalidated: c(L.CN_CACHE_REVALIDATED),
        evictions: c(L.CN_CACHE_EVICTIONS),
        entries: this.x.flowCacheEntries(),
        capacity: this.options.flowCacheSize,
      },
      classifier: { lookups: c(L.CN_CLASSIFY), tablesProbed: c(L.CN_TABLES_PROBED), rulesCompared: c(L.CN_RULES_COMPARED) },
      saLookups: c(L.CN_SA_LOOKUPS),
      resolution: {
        larval: this.x.larvals(),
        maxLarval: this.options.maxLarval,
        bindings: this.x.bindings(),
        maxBindings: this.options.maxBindings,
        acquires: c(L.CN_ACQUIRES),
        acquiresDeferred: c(L.CN_ACQUIRES_DEFERRED),
        created: c(L.CN_LARVAL_CREATED),
        resolved: c(L.CN_LARVAL_RESOLVED),
        expired: c(L.CN_LARVAL_EXPIRED),
        failed: c(L.CN_LARVAL_FAILED),
        released: c(L.CN_RELEASED),
        pendingEvents: this.pendingEvents(),
        invalidSpiEvents: c(L.CN_INVALID_SPI_EVENTS),
        invalidSpiSuppressed: c(L.CN_INVALID_SPI_SUPPRESSED),
        eventsLost: c(L.CN_EVENTS_LOST),
      },
      tables: { policies: this.x.policyCount(), maxPolicies: this.options.maxPolicies, sas: this.x.saCount(), maxSAs: this.options.maxSAs },
      keys: { installed: this.keysInstalled, freed: this.keysFreed, live: this.espSas.size },
      memoryBytes: this.totalBytes,
    };
  }

  /** The whole SPD and SAD with generations, read from the engine (R12). */
  dump(): EngineDump {
    this.views();
    const policies: Policy[] = [];
    for (let s = 0; s < this.options.maxPolicies; s++) {
      const at = this.policyBase + s * L.PO_SIZE;
      if (this.dv.getUint32(at + L.PO_GEN, true) !== 0) policies.push(decodePolicy(this.dv, at));
    }
    policies.sort((a, b) => DIR_CODE[a.dir] - DIR_CODE[b.dir] || a.priority - b.priority || a.id - b.id);
    const sas: SecurityAssociation[] = [];
    for (let s = 0; s < this.options.maxSAs; s++) {
      const at = this.saBase + s * L.SA_SIZE;
      if (this.u8[at + L.SA_STATE] !== L.SaState.Free) sas.push(this.saRecord(s));
    }
    sas.sort((a, b) => a.id - b.id);
    const defaults = {} as EngineDump['defaults'];
    DIR_NAMES.forEach((dir, d) => {
      defaults[dir] = this.x.defaultOf(d) === L.Action.Discard ? 'discard' : 'bypass';
    });
    const larval: LarvalSa[] = [];
    for (let s = 0; s < this.options.maxLarval; s++) {
      const at = this.larvalBase + s * L.LV_SIZE;
      if (this.dv.getUint32(at + L.LV_ID, true) !== 0) larval.push(decodeLarval(this.dv, at));
    }
    larval.sort((a, b) => a.id - b.id);
    return { time: this.time, generation: this.x.policyGeneration() >>> 0, defaults, policies, sas, larval };
  }
}
