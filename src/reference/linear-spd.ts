// Reference semantics in plain TypeScript: the SPD as a linear scan (R1, R2, R3,
// R5) and outbound SA choice as filter + sort (R6). Differential tests compare the
// WebAssembly engine against this, and benchmarks use it as the linear-scan
// baseline. It shares no code with the engine's validation or matching on
// purpose (only address/protocol parsing), so that a bug there cannot hide by
// appearing on both sides.
//
// Speed matters only as far as "10 000 policies x 100 000 lookups in seconds":
// each policy is turned into numbers once, at add time, kept in a list sorted by
// (priority, insertion), and a lookup is one pass over that list packed into an
// Int32Array: no strings, no allocation, first hit wins.

import { parseAddress, parsePrefix, maskWord, type Family, type Prefix } from '../common/addr.js';
import { LarvalError, invalid } from '../common/errors.js';
import { PROTO_ICMP, PROTO_ICMPV6, carriesPorts, protocolNumber } from '../common/protocols.js';
import type { Direction, Flow, IpsecMode, PolicySpec, SaSpec, Template } from '../engine/types.js';
import type { NormalizedFlow } from '../engine/validate.js';

/**
 * A flow in numbers, as the engine sees a parsed packet: the same shape the API
 * validates flows into (kind: what a selector may look at beyond addresses and
 * protocol, R3/R5; sport/dport: ports, or ICMP type/code). Only the type is shared;
 * the reference computes its values itself.
 */
export type ReferenceFlow = NormalizedFlow;

export interface ReferenceDecision {
  policyId: number | null;
  action: 'protect' | 'bypass' | 'discard';
  spec?: PolicySpec;
}

const DIRECTIONS: readonly Direction[] = ['out', 'in', 'fwd'];
const ACTIONS: readonly PolicySpec['action'][] = ['protect', 'bypass', 'discard'];
const ANY = -1;

/** The ICMP protocol of a family: ICMP in IPv4, ICMPv6 in IPv6 (never the other). */
function icmpProtoOf(family: Family): number {
  return family === 4 ? PROTO_ICMP : PROTO_ICMPV6;
}

/** Convert the string form of a flow (src/engine/types.ts `Flow`) into numbers. */
export function toReferenceFlow(flow: Flow): ReferenceFlow {
  const src = parseAddress(flow.src, 'flow.src');
  const dst = parseAddress(flow.dst, 'flow.dst');
  if (src.family !== dst.family) throw invalid('flow.dst', flow.dst, `address family differs from flow.src ${flow.src}`);
  const proto = protocolNumber(flow.proto, 'flow.proto');
  const fragment = flow.fragment === true;
  let kind: ReferenceFlow['kind'] = 'none';
  let sport = 0;
  let dport = 0;
  // R5: a non-first fragment has no transport header, so neither ports nor ICMP
  // type/code exist for it, whatever the caller put in the other fields. Fields
  // that do not belong to the protocol (ports on ICMP, say) are ignored for the
  // same reason: R3 never reads them.
  if (!fragment && carriesPorts(proto)) {
    kind = 'ports';
    sport = field16(flow.srcPort, 'flow.srcPort', 65535);
    dport = field16(flow.dstPort, 'flow.dstPort', 65535);
  } else if (!fragment && proto === icmpProtoOf(src.family)) {
    kind = 'icmp';
    sport = field16(flow.icmpType, 'flow.icmpType', 255);
    dport = field16(flow.icmpCode, 'flow.icmpCode', 255);
  }
  return { family: src.family, src: src.words, dst: dst.words, proto, kind, sport, dport };
}

function field16(value: number | undefined, field: string, max: number): number {
  if (value === undefined) return 0;
  if (!Number.isInteger(value) || value < 0 || value > max) throw invalid(field, value, `expected an integer 0..${max}`);
  return value;
}

/** One policy in numbers. Prefix words are stored masked, as int32, to compare with `&` directly. */
interface NormalPolicy {
  id: number;
  dir: Direction;
  priority: number;
  family: Family;
  src: Int32Array;
  srcMask: Int32Array;
  dst: Int32Array;
  dstMask: Int32Array;
  /** ANY or the protocol number. */
  proto: number;
  /** True when some port range is not 0..65535: then only kind 'ports' flows match (R3). */
  needsPorts: boolean;
  sportLo: number;
  sportHi: number;
  dportLo: number;
  dportHi: number;
  /** ANY or the value; either given means only kind 'icmp' flows match (R3). */
  icmpType: number;
  icmpCode: number;
  action: PolicySpec['action'];
  spec: PolicySpec;
}

// The scan reads one packed Int32Array per direction rather than an array of
// objects: with 10 000 policies the objects' scattered typed arrays made every
// lookup a string of cache misses (5-9 s for 100 000 ClassBench lookups instead
// of well under one). Field offsets within a policy's record:
const F_FAMILY = 0;
const F_SRC = 1; // 4 words
const F_SRC_MASK = 5; // 4 words
const F_DST = 9; // 4 words
const F_DST_MASK = 13; // 4 words
const F_PROTO = 17;
const F_NEEDS_PORTS = 18;
const F_SPORT_LO = 19;
const F_SPORT_HI = 20;
const F_DPORT_LO = 21;
const F_DPORT_HI = 22;
const F_ICMP_TYPE = 23;
const F_ICMP_CODE = 24;
const STRIDE = 25;
const KIND_CODE = { ports: 1, icmp: 2, none: 0 } as const;

function pack(list: readonly NormalPolicy[]): Int32Array {
  const t = new Int32Array(list.length * STRIDE);
  list.forEach((p, i) => {
    const o = i * STRIDE;
    t[o + F_FAMILY] = p.family;
    t.set(p.src, o + F_SRC);
    t.set(p.srcMask, o + F_SRC_MASK);
    t.set(p.dst, o + F_DST);
    t.set(p.dstMask, o + F_DST_MASK);
    t[o + F_PROTO] = p.proto;
    t[o + F_NEEDS_PORTS] = p.needsPorts ? 1 : 0;
    t[o + F_SPORT_LO] = p.sportLo;
    t[o + F_SPORT_HI] = p.sportHi;
    t[o + F_DPORT_LO] = p.dportLo;
    t[o + F_DPORT_HI] = p.dportHi;
    t[o + F_ICMP_TYPE] = p.icmpType;
    t[o + F_ICMP_CODE] = p.icmpCode;
  });
  return t;
}

/** Index of the first packed policy `flow` matches, or -1. This is R3 and R5, literally. */
function scan(t: Int32Array, count: number, flow: ReferenceFlow): number {
  const family = flow.family;
  const s0 = flow.src[0] | 0, s1 = flow.src[1] | 0, s2 = flow.src[2] | 0, s3 = flow.src[3] | 0;
  const d0 = flow.dst[0] | 0, d1 = flow.dst[1] | 0, d2 = flow.dst[2] | 0, d3 = flow.dst[3] | 0;
  const proto = flow.proto;
  const kind = KIND_CODE[flow.kind];
  const sport = flow.sport;
  const dport = flow.dport;
  for (let i = 0, o = 0; i < count; i++, o += STRIDE) {
    // A packet of the wrong family never matches (R3).
    if (t[o + F_FAMILY] !== family) continue;
    // Word 0 of both addresses first: that is where almost every miss shows.
    if ((s0 & t[o + F_SRC_MASK]) !== t[o + F_SRC] || (d0 & t[o + F_DST_MASK]) !== t[o + F_DST]) continue;
    if ((s1 & t[o + F_SRC_MASK + 1]) !== t[o + F_SRC + 1] || (s2 & t[o + F_SRC_MASK + 2]) !== t[o + F_SRC + 2]
      || (s3 & t[o + F_SRC_MASK + 3]) !== t[o + F_SRC + 3]) continue;
    if ((d1 & t[o + F_DST_MASK + 1]) !== t[o + F_DST + 1] || (d2 & t[o + F_DST_MASK + 2]) !== t[o + F_DST + 2]
      || (d3 & t[o + F_DST_MASK + 3]) !== t[o + F_DST + 3]) continue;
    const p = t[o + F_PROTO];
    if (p !== ANY && p !== proto) continue;
    // Non-any port ranges: only packets that carry ports, i.e. TCP/UDP/SCTP that
    // are not non-first fragments (R3, R5).
    if (t[o + F_NEEDS_PORTS] !== 0) {
      if (kind !== KIND_CODE.ports) continue;
      if (sport < t[o + F_SPORT_LO] || sport > t[o + F_SPORT_HI]) continue;
      if (dport < t[o + F_DPORT_LO] || dport > t[o + F_DPORT_HI]) continue;
    }
    // ICMP type/code: only ICMP packets of the family's own ICMP (R3).
    const type = t[o + F_ICMP_TYPE];
    const code = t[o + F_ICMP_CODE];
    if (type !== ANY || code !== ANY) {
      if (kind !== KIND_CODE.icmp) continue;
      if (type !== ANY && sport !== type) continue;
      if (code !== ANY && dport !== code) continue;
    }
    return i;
  }
  return -1;
}

function maskedWords(p: Prefix | null): [Int32Array, Int32Array] {
  const words = new Int32Array(4);
  const mask = new Int32Array(4);
  if (p) {
    for (let i = 0; i < 4; i++) {
      mask[i] = maskWord(p.len, i);
      words[i] = p.words[i] & mask[i];
    }
  }
  return [words, mask];
}

function portRange(value: unknown, field: string): [number, number] {
  if (value === undefined) return [0, 65535];
  if (typeof value === 'number') return [port(value, field), port(value, field)];
  if (!Array.isArray(value) || value.length !== 2) throw invalid(field, value, 'expected a port or [lo, hi]');
  const lo = port(value[0], `${field}[0]`);
  const hi = port(value[1], `${field}[1]`);
  if (lo > hi) throw invalid(field, value, 'lo must not exceed hi');
  return [lo, hi];
}

function port(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 65535) throw invalid(field, value, 'expected an integer 0..65535');
  return value;
}

function icmpField(value: unknown, field: string): number {
  if (value === undefined) return ANY;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 255) throw invalid(field, value, 'expected an integer 0..255');
  return value;
}

function normalise(spec: PolicySpec, id: number): NormalPolicy {
  if (!DIRECTIONS.includes(spec.dir)) throw invalid('dir', spec.dir, "expected 'out', 'in' or 'fwd'");
  if (!ACTIONS.includes(spec.action)) throw invalid('action', spec.action, "expected 'protect', 'bypass' or 'discard'");
  if (spec.action === 'protect' && spec.template === undefined) throw invalid('template', spec.template, "required for action 'protect'");
  const src = spec.src === undefined ? null : parsePrefix(spec.src, 'src');
  const dst = spec.dst === undefined ? null : parsePrefix(spec.dst, 'dst');
  let family: Family;
  if (src && dst && src.family !== dst.family) throw invalid('dst', spec.dst, `address family differs from src ${spec.src}`);
  if (src || dst) {
    family = (src ?? dst)!.family;
    if (spec.family !== undefined && spec.family !== family) throw invalid('family', spec.family, `the addresses are IPv${family}`);
  } else {
    if (spec.family !== 4 && spec.family !== 6) throw invalid('family', spec.family, 'required (4 or 6) when src and dst are both omitted');
    family = spec.family;
  }
  const proto = spec.proto === undefined ? ANY : protocolNumber(spec.proto, 'proto');
  const [sportLo, sportHi] = portRange(spec.srcPort, 'srcPort');
  const [dportLo, dportHi] = portRange(spec.dstPort, 'dstPort');
  const needsPorts = !(sportLo === 0 && sportHi === 65535 && dportLo === 0 && dportHi === 65535);
  // Selectors that can never match anything are refused rather than kept as dead
  // policies: ports on a port-less protocol (R3), ICMP type/code on anything but
  // the family's own ICMP (R3: ICMP is selected by type/code, ports never).
  if (needsPorts && proto !== ANY && !carriesPorts(proto)) {
    const f = spec.srcPort !== undefined ? 'srcPort' : 'dstPort';
    throw invalid(f, spec[f], `protocol ${proto} carries no ports; ports select tcp, udp and sctp only (R3)`);
  }
  const icmpType = icmpField(spec.icmpType, 'icmpType');
  const icmpCode = icmpField(spec.icmpCode, 'icmpCode');
  if ((icmpType !== ANY || icmpCode !== ANY) && proto !== icmpProtoOf(family)) {
    const f = spec.icmpType !== undefined ? 'icmpType' : 'icmpCode';
    throw invalid(f, spec[f], `needs proto ${family === 4 ? "'icmp'" : "'ipv6-icmp'"} in an IPv${family} policy`);
  }
  const priority = spec.priority ?? 0;
  if (!Number.isInteger(priority) || priority < 0 || priority > 0xffffffff) throw invalid('priority', priority, 'expected an integer 0..4294967295');
  const [srcWords, srcMask] = maskedWords(src);
  const [dstWords, dstMask] = maskedWords(dst);
  return {
    id, dir: spec.dir, priority, family, src: srcWords, srcMask, dst: dstWords, dstMask, proto,
    needsPorts, sportLo, sportHi, dportLo, dportHi, icmpType, icmpCode, action: spec.action, spec,
  };
}

/** The SPD of R1/R2 as a linear scan. */
export class ReferenceSpd {
  /** Per direction, kept sorted by (priority, insertion sequence): the first hit is the answer. */
  private readonly lists: Record<Direction, NormalPolicy[]> = { out: [], in: [], fwd: [] };
  private readonly byId = new Map<number, NormalPolicy>();
  /** `lists` packed for scan(); null when a change made it stale (rebuilt on the next lookup). */
  private readonly packed: Record<Direction, Int32Array | null> = { out: null, in: null, fwd: null };
  private readonly defaults: Record<Direction, 'bypass' | 'discard'> = { out: 'bypass', in: 'bypass', fwd: 'bypass' };

  get size(): number {
    return this.byId.size;
  }

  /** Add a policy under the caller's id. The spec object is kept (not copied) and returned by decide(). */
  add(spec: PolicySpec, id: number): void {
    if (!Number.isInteger(id)) throw invalid('id', id, 'expected an integer');
    if (this.byId.has(id)) throw new LarvalError('EEXIST', `id: policy ${id} already exists`, { field: 'id', value: id });
    const policy = normalise(spec, id);
    const list = this.lists[policy.dir];
    // Insert after every policy of lower or equal priority: among equal
    // priorities the newcomer is the latest, so it goes last (R1).
    let lo = 0;
    let hi = list.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (list[mid].priority <= policy.priority) lo = mid + 1;
      else hi = mid;
    }
    list.splice(lo, 0, policy);
    this.byId.set(id, policy);
    this.packed[policy.dir] = null;
  }

  remove(id: number): boolean {
    const policy = this.byId.get(id);
    if (!policy) return false;
    const list = this.lists[policy.dir];
    list.splice(list.indexOf(policy), 1);
    this.byId.delete(id);
    this.packed[policy.dir] = null;
    return true;
  }

  setDefault(dir: Direction, action: 'bypass' | 'discard'): void {
    if (!DIRECTIONS.includes(dir)) throw invalid('dir', dir, "expected 'out', 'in' or 'fwd'");
    if (action !== 'bypass' && action !== 'discard') throw invalid('action', action, "a default action is 'bypass' or 'discard'");
    this.defaults[dir] = action;
  }

  /** R1/R2: the id of the first matching policy, or null when the default applies. */
  match(dir: Direction, flow: ReferenceFlow): number | null {
    const list = this.lists[dir];
    const packed = this.packed[dir] ?? (this.packed[dir] = pack(list));
    const i = scan(packed, list.length, flow);
    return i < 0 ? null : list[i].id;
  }

  decide(dir: Direction, flow: ReferenceFlow): ReferenceDecision {
    const id = this.match(dir, flow);
    if (id === null) return { policyId: null, action: this.defaults[dir] };
    const policy = this.byId.get(id)!;
    return { policyId: id, action: policy.action, spec: policy.spec };
  }
}

// ---------------------------------------------------------------------------
// R6: outbound SA selection.

/** An installed SA as the reference sees it: the spec plus what the SAD adds. */
export type ReferenceSa = SaSpec & {
  id: number;
  /** Engine time (ms) of the install. */
  addTime: number;
  /** Install order, strictly increasing; ties of addTime are common. */
  addSeq: number;
  state: 'mature' | 'dying';
};

export interface ReferenceTemplate {
  proto?: Template['proto'];
  mode: IpsecMode;
  src?: string;
  dst?: string;
  reqid?: number;
}

function sameAddress(a: string, b: string, field: string): boolean {
  const x = parseAddress(a, field);
  const y = parseAddress(b, field);
  return x.family === y.family && x.words.every((w, i) => w === y.words[i]);
}

/**
 * R6: the SA a packet of `flow` leaving through `template` uses, or null.
 * 'newest' is larval's order; 'oldest' reproduces KAME's key_allocsa with
 * prefer_old (the dying list is searched before the mature one, oldest first),
 * which is what made a rebooted peer's fresh SA go unused.
 */
export function referenceSelectSa(
  sas: readonly ReferenceSa[],
  template: ReferenceTemplate,
  flow: { src: string; dst: string },
  mode: 'newest' | 'oldest',
): ReferenceSa | null {
  const proto = template.proto ?? 'esp';
  const reqid = template.reqid ?? 0;
  let wantSrc: string;
  let wantDst: string;
  if (template.mode === 'tunnel') {
    if (template.src === undefined || template.dst === undefined) {
      throw invalid(template.src === undefined ? 'template.src' : 'template.dst', undefined, 'tunnel mode needs both tunnel endpoints');
    }
    wantSrc = template.src;
    wantDst = template.dst;
  } else {
    // Transport SAs run between the packet's own hosts.
    wantSrc = flow.src;
    wantDst = flow.dst;
  }
  const fitting = sas.filter((sa) =>
    (sa.proto ?? 'esp') === proto
    && sa.mode === template.mode
    && sameAddress(sa.src, wantSrc, 'sa.src')
    && sameAddress(sa.dst, wantDst, 'sa.dst')
    && (reqid === 0 || (sa.reqid ?? 0) === reqid));
  const dying = (sa: ReferenceSa) => (sa.state === 'dying' ? 1 : 0);
  if (mode === 'newest') {
    fitting.sort((a, b) =>
      dying(a) - dying(b)
      || b.addTime - a.addTime
      || (b.spi >>> 0) - (a.spi >>> 0));
  } else {
    fitting.sort((a, b) =>
      dying(b) - dying(a)
      || a.addSeq - b.addSeq);
  }
  return fitting[0] ?? null;
}
