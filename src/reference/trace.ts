// Seeded, deterministic traffic and policy sets for tests, benchmarks and the
// demo. Everything here is a pure function of its seed, so a failing
// differential test can be replayed exactly from the seed it prints.

import { formatAddress, maskWord, parsePrefix, type Family } from '../common/addr.js';
import { invalid } from '../common/errors.js';
import { PROTO_ESP, PROTO_ICMP, PROTO_ICMPV6, PROTO_SCTP, PROTO_TCP, PROTO_UDP, carriesPorts, protocolNumber } from '../common/protocols.js';
import type { Direction, Flow, PolicySpec, SaSpec, Template } from '../engine/types.js';

const PROTO_GRE = 47;

/** mulberry32: small, fast and good enough for test data; not for keys. */
export class Rng {
  private state: number;

  constructor(seed = 1) {
    if (!Number.isFinite(seed)) throw invalid('seed', seed, 'expected a finite number');
    this.state = seed >>> 0;
  }

  /** A uniformly distributed u32. */
  u32(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** In [0, 1). */
  next(): number {
    return this.u32() / 4294967296;
  }

  /** An integer in [lo, hi], both inclusive; the span may be up to 2^32. */
  int(lo: number, hi: number): number {
    if (!Number.isInteger(lo) || !Number.isInteger(hi) || hi < lo || hi - lo > 0xffffffff) {
      throw invalid('range', [lo, hi], 'expected integers lo <= hi spanning at most 2^32 values');
    }
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }

  /** A random element of `items`. */
  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw invalid('items', items, 'cannot pick from an empty array');
    return items[Math.floor(this.next() * items.length)];
  }

  /** True with probability `p`. */
  chance(p: number): boolean {
    return this.next() < p;
  }
}

// ---------------------------------------------------------------------------
// Traces

export interface TraceMix {
  /** A random point inside a random policy's selector. */
  inside: number;
  /** A point on the edge of a random policy's selector (first/last address, lo-1/hi+1 ports). */
  corners: number;
  /** Anything at all. */
  random: number;
}

export interface TraceOptions {
  seed?: number;
  /** Relative weights; they need not sum to 1. Default 0.5 / 0.2 / 0.3. */
  mix?: TraceMix;
  /** Fraction of flows that are non-first fragments (R5). Default 0.01. */
  fragmentRate?: number;
}

export type TraceOriginKind = 'inside' | 'corner' | 'random';

/** Where a generated flow came from: which policy it was aimed at (-1 for random points). */
export interface TraceOrigin {
  kind: TraceOriginKind;
  policy: number;
}

const DEFAULT_MIX: TraceMix = { inside: 0.5, corners: 0.2, random: 0.3 };

/** What a policy selects, in the form the generator needs. */
interface Target {
  family: Family;
  src: { words: Uint32Array; len: number };
  dst: { words: Uint32Array; len: number };
  proto: number | null;
  srcPort: [number, number] | null;
  dstPort: [number, number] | null;
  icmpType: number | null;
  icmpCode: number | null;
}

function toRange(v: [number, number] | number | undefined): [number, number] | null {
  if (v === undefined) return null;
  return typeof v === 'number' ? [v, v] : [v[0], v[1]];
}

function targetOf(p: PolicySpec, index: number): Target {
  const src = p.src === undefined ? null : parsePrefix(p.src, `policies[${index}].src`);
  const dst = p.dst === undefined ? null : parsePrefix(p.dst, `policies[${index}].dst`);
  const family = src?.family ?? dst?.family ?? p.family;
  if (family !== 4 && family !== 6) throw invalid(`policies[${index}].family`, p.family, 'required (4 or 6) when src and dst are both omitted');
  const any = { words: new Uint32Array(4), len: 0 };
  return {
    family,
    src: src ?? any,
    dst: dst ?? any,
    proto: p.proto === undefined ? null : protocolNumber(p.proto, `policies[${index}].proto`),
    srcPort: toRange(p.srcPort),
    dstPort: toRange(p.dstPort),
    icmpType: p.icmpType ?? null,
    icmpCode: p.icmpCode ?? null,
  };
}

const icmpOf = (family: Family) => (family === 4 ? PROTO_ICMP : PROTO_ICMPV6);
const isPortAny = (r: [number, number] | null) => r === null || (r[0] === 0 && r[1] === 65535);

function randomAddress(rng: Rng, family: Family): Uint32Array {
  const w = new Uint32Array(4);
  w[0] = rng.u32();
  if (family === 6) for (let i = 1; i < 4; i++) w[i] = rng.u32();
  return w;
}

/** A random address whose first `len` bits are the prefix's. */
function addressInside(rng: Rng, family: Family, prefix: { words: Uint32Array; len: number }): Uint32Array {
  const r = randomAddress(rng, family);
  for (let i = 0; i < 4; i++) {
    const m = maskWord(prefix.len, i);
    r[i] = ((prefix.words[i] & m) | (r[i] & ~m)) >>> 0;
  }
  return r;
}

/** The first (host bits 0) or last (host bits 1) address of the prefix. */
function prefixEnd(family: Family, prefix: { words: Uint32Array; len: number }, last: boolean): Uint32Array {
  const r = new Uint32Array(4);
  const words = family === 4 ? 1 : 4;
  for (let i = 0; i < words; i++) {
    const m = maskWord(prefix.len, i);
    r[i] = ((prefix.words[i] & m) | (last ? ~m : 0)) >>> 0;
  }
  return r;
}

const clampPort = (n: number) => Math.min(65535, Math.max(0, n));
const clampByte = (n: number) => Math.min(255, Math.max(0, n));

function makeFlow(family: Family, src: Uint32Array, dst: Uint32Array, proto: number, fragment: boolean,
  ports: () => [number, number], icmp: () => [number, number]): Flow {
  const flow: Flow = { src: formatAddress(family, src), dst: formatAddress(family, dst), proto };
  // A non-first fragment has no transport header (R5), so it carries neither
  // ports nor ICMP type/code; the generators are still called so that the
  // random stream, and thus every later flow, does not depend on the fragment rate.
  const [a, b] = carriesPorts(proto) ? ports() : proto === icmpOf(family) ? icmp() : [-1, -1];
  if (fragment) flow.fragment = true;
  else if (carriesPorts(proto)) { flow.srcPort = a; flow.dstPort = b; }
  else if (proto === icmpOf(family)) { flow.icmpType = a; flow.icmpCode = b; }
  return flow;
}

function insidePoint(rng: Rng, t: Target, fragment: boolean): Flow {
  const src = addressInside(rng, t.family, t.src);
  const dst = addressInside(rng, t.family, t.dst);
  let proto: number;
  if (t.proto !== null) proto = t.proto;
  // A proto-any policy with ports contains only TCP/UDP/SCTP packets (R3).
  else if (!isPortAny(t.srcPort) || !isPortAny(t.dstPort)) proto = rng.pick([PROTO_TCP, PROTO_UDP, PROTO_SCTP]);
  else proto = rng.pick([PROTO_TCP, PROTO_UDP, icmpOf(t.family), PROTO_SCTP, PROTO_GRE]);
  const inRange = (r: [number, number] | null) => (r === null ? rng.int(0, 65535) : rng.int(r[0], r[1]));
  return makeFlow(t.family, src, dst, proto, fragment,
    () => [inRange(t.srcPort), inRange(t.dstPort)],
    () => [t.icmpType ?? rng.int(0, 255), t.icmpCode ?? rng.int(0, 255)]);
}

function cornerPoint(rng: Rng, t: Target, fragment: boolean): Flow {
  const src = prefixEnd(t.family, t.src, rng.chance(0.5));
  const dst = prefixEnd(t.family, t.dst, rng.chance(0.5));
  // Proto-any corners include ICMP and GRE on purpose: a proto-any policy with
  // ports must not match them (R3), which is an edge as much as hi+1 is.
  const proto = t.proto ?? rng.pick([PROTO_TCP, PROTO_UDP, icmpOf(t.family), PROTO_SCTP, PROTO_GRE]);
  const edge = (r: [number, number] | null) => {
    const [lo, hi] = r ?? [0, 65535];
    return clampPort(rng.pick([lo, hi, lo - 1, hi + 1]));
  };
  const near = (v: number | null) => (v === null ? rng.pick([0, 255]) : clampByte(v + rng.pick([0, 0, -1, 1])));
  return makeFlow(t.family, src, dst, proto, fragment,
    () => [edge(t.srcPort), edge(t.dstPort)],
    () => [near(t.icmpType), near(t.icmpCode)]);
}

function randomPoint(rng: Rng, family: Family, fragment: boolean): Flow {
  const proto = rng.pick([PROTO_TCP, PROTO_UDP, PROTO_SCTP, icmpOf(family), PROTO_ESP, PROTO_GRE]);
  return makeFlow(family, randomAddress(rng, family), randomAddress(rng, family), proto, fragment,
    () => [rng.int(0, 65535), rng.int(0, 65535)],
    () => [rng.int(0, 255), rng.int(0, 255)]);
}

/** Like generateTrace, and also says for every flow which policy it was aimed at. */
export function generateLabelledTrace(policies: readonly PolicySpec[], count: number, options: TraceOptions = {}): { flows: Flow[]; origins: TraceOrigin[] } {
  if (!Number.isInteger(count) || count < 0) throw invalid('count', count, 'expected an integer >= 0');
  const mix = options.mix ?? DEFAULT_MIX;
  for (const k of ['inside', 'corners', 'random'] as const) {
    if (!(Number.isFinite(mix[k]) && mix[k] >= 0)) throw invalid(`mix.${k}`, mix[k], 'expected a number >= 0');
  }
  const total = mix.inside + mix.corners + mix.random;
  if (total <= 0) throw invalid('mix', mix, 'at least one weight must be positive');
  const fragmentRate = options.fragmentRate ?? 0.01;
  if (!(fragmentRate >= 0 && fragmentRate <= 1)) throw invalid('fragmentRate', fragmentRate, 'expected a number in [0, 1]');

  const rng = new Rng(options.seed ?? 1);
  const targets = policies.map(targetOf);
  const v6Share = targets.length === 0 ? 0 : targets.filter((t) => t.family === 6).length / targets.length;
  const flows: Flow[] = [];
  const origins: TraceOrigin[] = [];
  for (let i = 0; i < count; i++) {
    const fragment = rng.chance(fragmentRate);
    const r = rng.next() * total;
    // With no policies there is nothing to aim at: every point is random.
    if (targets.length > 0 && r < mix.inside) {
      const index = rng.int(0, targets.length - 1);
      flows.push(insidePoint(rng, targets[index], fragment));
      origins.push({ kind: 'inside', policy: index });
    } else if (targets.length > 0 && r < mix.inside + mix.corners) {
      const index = rng.int(0, targets.length - 1);
      flows.push(cornerPoint(rng, targets[index], fragment));
      origins.push({ kind: 'corner', policy: index });
    } else {
      flows.push(randomPoint(rng, rng.chance(v6Share) ? 6 : 4, fragment));
      origins.push({ kind: 'random', policy: -1 });
    }
  }
  return { flows, origins };
}

/** `count` flows aimed at `policies`: inside points, selector corners and random points. */
export function generateTrace(policies: readonly PolicySpec[], count: number, options: TraceOptions = {}): Flow[] {
  return generateLabelledTrace(policies, count, options).flows;
}

// ---------------------------------------------------------------------------
// Policy sets

export interface PolicySetOptions {
  family: 4 | 6;
  count: number;
  seed?: number;
  /** Default 'out'. */
  dir?: Direction;
}

// Popular ports, so that ranges of different policies overlap and nest.
const HOT_PORTS = [0, 22, 53, 80, 123, 443, 500, 1024, 4500, 8080, 32768, 65535];
// A small set, so that equal priorities are common and insertion order decides (R1).
const PRIORITIES = [0, 10, 10, 50, 100];

/**
 * `count` random, heavily overlapping policies of one family. Prefixes are
 * drawn from a few hot host addresses inside a few hot base prefixes, cut to
 * random lengths, so the same address is covered by many nested prefixes.
 */
export function randomPolicySet(options: PolicySetOptions): PolicySpec[] {
  const { family, count } = options;
  if (family !== 4 && family !== 6) throw invalid('family', family, 'expected 4 or 6');
  if (!Number.isInteger(count) || count < 0) throw invalid('count', count, 'expected an integer >= 0');
  const dir = options.dir ?? 'out';
  const rng = new Rng(options.seed ?? 1);
  const bits = family === 4 ? 32 : 128;

  const baseLens = family === 4 ? [8, 12, 16] : [32, 48, 56];
  const hotHosts: { words: Uint32Array; baseLen: number }[] = [];
  for (let b = 0; b < 3; b++) {
    const base = { words: randomAddress(rng, family), len: rng.pick(baseLens) };
    for (let h = 0; h < 6; h++) hotHosts.push({ words: addressInside(rng, family, base), baseLen: base.len });
  }
  const prefix = (): string | undefined => {
    if (rng.chance(0.15)) return undefined;
    const host = rng.pick(hotHosts);
    // Mostly inside the base, sometimes a few bits shorter so bases overlap too.
    const len = rng.int(Math.max(0, host.baseLen - 4), bits);
    const words = new Uint32Array(4);
    for (let i = 0; i < 4; i++) words[i] = (host.words[i] & maskWord(len, i)) >>> 0;
    return `${formatAddress(family, words)}/${len}`;
  };
  const portRange = (): [number, number] | undefined => {
    const r = rng.next();
    if (r < 0.4) return undefined;
    if (r < 0.65) {
      const p = rng.pick(HOT_PORTS);
      return [p, p];
    }
    if (r < 0.85) {
      const a = rng.pick(HOT_PORTS);
      const b = rng.pick(HOT_PORTS);
      return a <= b ? [a, b] : [b, a];
    }
    if (r < 0.925) return [0, rng.pick(HOT_PORTS)];
    return [rng.pick(HOT_PORTS), 65535];
  };

  // Tunnel gateways, shared by many policies: a few endpoint pairs, and
  // templates that reuse them with different reqids (0 = any reqid fits).
  const gateway = () => formatAddress(family, randomAddress(rng, family));
  const pairs = Array.from({ length: 3 }, () => ({ src: gateway(), dst: gateway() }));
  const templates: Template[] = Array.from({ length: 6 }, (_, i) => {
    const pair = pairs[i % pairs.length];
    return { mode: 'tunnel', src: pair.src, dst: pair.dst, reqid: i === 5 ? 0 : i + 1, level: 'require' };
  });

  const icmp = icmpOf(family);
  const policies: PolicySpec[] = [];
  for (let i = 0; i < count; i++) {
    const p: PolicySpec = { dir, action: 'bypass', priority: rng.pick(PRIORITIES) };
    const src = prefix();
    const dst = prefix();
    if (src !== undefined) p.src = src;
    if (dst !== undefined) p.dst = dst;
    if (src === undefined && dst === undefined) p.family = family;
    const proto = rng.pick<number | null>([null, null, null, PROTO_TCP, PROTO_TCP, PROTO_UDP, PROTO_UDP, icmp, PROTO_SCTP, PROTO_GRE]);
    if (proto !== null) p.proto = proto;
    if (proto === null || carriesPorts(proto)) {
      const sp = portRange();
      const dp = portRange();
      if (sp !== undefined) p.srcPort = sp;
      if (dp !== undefined) p.dstPort = dp;
    } else if (proto === icmp && rng.chance(0.5)) {
      const which = rng.next();
      // Echo request/reply and unreachables are what real policies name.
      const types = family === 4 ? [0, 3, 8, 11] : [1, 128, 129, 135];
      if (which < 0.8) p.icmpType = rng.pick(types);
      if (which >= 0.5) p.icmpCode = rng.pick([0, 0, 1, 3]);
    }
    const a = rng.next();
    if (a < 0.4) p.action = 'bypass';
    else if (a < 0.6) p.action = 'discard';
    else {
      p.action = 'protect';
      p.template = { ...rng.pick(templates) };
    }
    policies.push(p);
  }
  return policies;
}

export interface SaSetOptions {
  seed?: number;
  /** Upper bound of SAs per template (each gets 1..perTemplate). Default 3. */
  perTemplate?: number;
}

/**
 * SAs for the distinct tunnel templates of `policies`' protect policies: about a
 * quarter of the templates get none (so resolution is exercised), the rest get
 * 1..perTemplate SAs, about a third of them dying. SPIs are unique per
 * destination, as R17 requires of an SAD.
 */
export function saSetFor(policies: readonly PolicySpec[], options: SaSetOptions = {}): SaSpec[] {
  const perTemplate = options.perTemplate ?? 3;
  if (!Number.isInteger(perTemplate) || perTemplate < 1) throw invalid('perTemplate', perTemplate, 'expected an integer >= 1');
  const rng = new Rng(options.seed ?? 1);
  const seen = new Set<string>();
  const templates: Template[] = [];
  for (const p of policies) {
    const t = p.template;
    if (p.action !== 'protect' || t === undefined || t.mode !== 'tunnel' || t.src === undefined || t.dst === undefined) continue;
    const key = `${t.proto ?? 'esp'}|${t.src}|${t.dst}|${t.reqid ?? 0}`;
    if (seen.has(key)) continue;
    seen.add(key);
    templates.push(t);
  }
  const spisByDst = new Map<string, Set<number>>();
  const sas: SaSpec[] = [];
  for (const t of templates) {
    if (rng.chance(0.25)) continue;
    const n = rng.int(1, perTemplate);
    const dst = t.dst!;
    let used = spisByDst.get(dst);
    if (!used) spisByDst.set(dst, (used = new Set()));
    for (let k = 0; k < n; k++) {
      let spi: number;
      // SPIs 1..255 are reserved (RFC 4303 §2.1).
      do spi = rng.int(256, 0xffffffff); while (used.has(spi));
      used.add(spi);
      sas.push({
        spi, src: t.src!, dst, proto: t.proto ?? 'esp', mode: 'tunnel', reqid: t.reqid ?? 0,
        state: rng.chance(0.3) ? 'dying' : 'mature',
      });
    }
  }
  return sas;
}
