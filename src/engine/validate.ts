// Validation of control-plane input (R25): every API argument is checked here and
// turned into a normalised form the codec writes into the engine. Errors name the
// field and the value.

import { type Family, type Prefix, parseAddress, parsePrefix } from '../common/addr.js';
import { invalid } from '../common/errors.js';
import { PROTO_ESP, PROTO_AH, PROTO_ICMP, PROTO_ICMPV6, carriesPorts, isIcmp, protocolNumber } from '../common/protocols.js';
import type { Direction, IpsecMode, PolicyAction, SaStateName, TemplateLevel } from './types.js';

export const DIRECTIONS: readonly Direction[] = ['out', 'in', 'fwd'];
const ACTIONS: readonly PolicyAction[] = ['protect', 'bypass', 'discard'];
const MODES: readonly IpsecMode[] = ['tunnel', 'transport'];
const LEVELS: readonly TemplateLevel[] = ['require', 'unique', 'use'];
const U32_MAX = 0xffffffff;
const L_MAX_ID = 0x7fffffff; // layout.ts MAX_ID

export type Range = [number, number];

export interface NormalizedTemplate {
  proto: number; // 50 or 51
  mode: IpsecMode;
  level: TemplateLevel;
  reqid: number;
  src: Prefix | null; // tunnel endpoints as host prefixes (len = max)
  dst: Prefix | null;
}

export interface NormalizedPolicy {
  dir: Direction;
  family: Family;
  src: Prefix;
  dst: Prefix;
  proto: number | null;
  ports: { src: Range; dst: Range } | null; // non-null: the ranges constrain (R3)
  icmp: { type: Range; code: Range } | null;
  priority: number;
  action: PolicyAction;
  template: NormalizedTemplate | null;
}

export interface NormalizedSa {
  spi: number;
  family: Family;
  src: Uint32Array;
  dst: Uint32Array;
  proto: number;
  mode: IpsecMode;
  reqid: number;
  state: 'mature' | 'dying';
  /** The ACQUIRE this install answers (R12); 0 = none. */
  acquireSeq: number;
  esn: boolean;
  lifetime: { soft: NormalizedLimits; hard: NormalizedLimits };
  lastSeq: bigint;
}

export interface NormalizedLimits { packets: bigint; bytes: bigint; addTime: number; useTime: number }

const LIMIT_FIELDS = ['packets', 'bytes', 'addTime', 'useTime'];

function limits(value: unknown, field: string): NormalizedLimits {
  if (value === undefined) return { packets: 0n, bytes: 0n, addTime: 0, useTime: 0 };
  if (!isObject(value)) throw invalid(field, value, 'expected { packets?, bytes?, addTime?, useTime? }');
  checkKeys(value, LIMIT_FIELDS, field);
  const count = (k: string) => (value[k] === undefined ? 0n : BigInt(integer(value[k], `${field}.${k}`, 1, Number.MAX_SAFE_INTEGER)));
  const ms = (k: string) => (value[k] === undefined ? 0 : integer(value[k], `${field}.${k}`, 1, Number.MAX_SAFE_INTEGER));
  return { packets: count('packets'), bytes: count('bytes'), addTime: ms('addTime'), useTime: ms('useTime') };
}

function sequenceNumber(value: unknown, esn: boolean): bigint {
  if (value === undefined) return 0n;
  const max = esn ? 2n ** 64n - 1n : 0xffffffffn;
  if ((typeof value === 'number' && Number.isInteger(value)) || typeof value === 'bigint') {
    const v = BigInt(value);
    if (v >= 0n && v <= max) return v;
  }
  throw invalid('lastSeq', value, `expected an integer 0..${max}${esn ? '' : ' (without esn)'}`);
}

function lifetime(value: unknown): NormalizedSa['lifetime'] {
  if (value === undefined) return { soft: limits(undefined, ''), hard: limits(undefined, '') };
  if (!isObject(value)) throw invalid('lifetime', value, 'expected { soft?, hard? }');
  checkKeys(value, ['soft', 'hard'], 'lifetime');
  const soft = limits(value.soft, 'lifetime.soft');
  const hard = limits(value.hard, 'lifetime.hard');
  for (const k of ['packets', 'bytes', 'addTime', 'useTime'] as const) {
    if (soft[k] && hard[k] && soft[k] > hard[k]) throw invalid(`lifetime.soft.${k}`, Number(soft[k]), `must not exceed lifetime.hard.${k} (${hard[k]})`);
  }
  return { soft, hard };
}

export interface NormalizedFlow {
  family: Family;
  src: Uint32Array;
  dst: Uint32Array;
  proto: number;
  kind: 'ports' | 'icmp' | 'none';
  sport: number;
  dport: number;
}

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function checkKeys(obj: Record<string, unknown>, allowed: readonly string[], where: string): void {
  for (const k of Object.keys(obj)) {
    if (!allowed.includes(k)) throw invalid(where ? `${where}.${k}` : k, obj[k], `unknown field (known: ${allowed.join(', ')})`);
  }
}

export function oneOf<T extends string>(value: unknown, options: readonly T[], field: string): T {
  if (typeof value === 'string' && (options as readonly string[]).includes(value)) return value as T;
  throw invalid(field, value, `expected one of ${options.map((o) => `'${o}'`).join(', ')}`);
}

export function boolean(value: unknown, field: string): boolean {
  if (typeof value !== 'boolean') throw invalid(field, value, 'expected true or false');
  return value;
}

export function integer(value: unknown, field: string, lo: number, hi: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < lo || value > hi) {
    throw invalid(field, value, `expected an integer ${lo}..${hi}`);
  }
  return value;
}

function range(value: unknown, field: string, max: number): Range {
  if (typeof value === 'number') {
    const n = integer(value, field, 0, max);
    return [n, n];
  }
  if (!Array.isArray(value) || value.length !== 2) throw invalid(field, value, `expected a number or [lo, hi] with 0 <= lo <= hi <= ${max}`);
  const lo = integer(value[0], `${field}[0]`, 0, max);
  const hi = integer(value[1], `${field}[1]`, 0, max);
  if (lo > hi) throw invalid(field, value, 'lo must not exceed hi');
  return [lo, hi];
}

function anyPrefix(family: Family): Prefix {
  return { family, words: new Uint32Array(4), len: 0 };
}

function hostPrefix(value: unknown, field: string): Prefix {
  const a = parseAddress(value, field);
  return { ...a, len: a.family === 4 ? 32 : 128 };
}

const POLICY_FIELDS = ['dir', 'src', 'dst', 'family', 'proto', 'srcPort', 'dstPort', 'icmpType', 'icmpCode', 'priority', 'action', 'template'];
const TEMPLATE_FIELDS = ['proto', 'mode', 'src', 'dst', 'reqid', 'level'];

export function normalizePolicy(spec: unknown): NormalizedPolicy {
  if (!isObject(spec)) throw invalid('policy', spec, 'expected an object');
  checkKeys(spec, POLICY_FIELDS, '');
  const dir = oneOf(spec.dir, DIRECTIONS, 'dir');
  const action = oneOf(spec.action, ACTIONS, 'action');
  const src = spec.src === undefined ? null : parsePrefix(spec.src, 'src');
  const dst = spec.dst === undefined ? null : parsePrefix(spec.dst, 'dst');
  let family: Family;
  if (src && dst && src.family !== dst.family) throw invalid('dst', spec.dst, `address family differs from src ${String(spec.src)}`);
  if (src || dst) {
    family = (src ?? dst)!.family;
    if (spec.family !== undefined && spec.family !== family) throw invalid('family', spec.family, `does not match the addresses (IPv${family})`);
  } else {
    if (spec.family !== 4 && spec.family !== 6) throw invalid('family', spec.family, 'required (4 or 6) when both src and dst are omitted');
    family = spec.family;
  }
  const proto = spec.proto === undefined ? null : protocolNumber(spec.proto, 'proto');
  let ports: NormalizedPolicy['ports'] = null;
  if (spec.srcPort !== undefined || spec.dstPort !== undefined) {
    const sp = spec.srcPort === undefined ? ([0, 65535] as Range) : range(spec.srcPort, 'srcPort', 65535);
    const dp = spec.dstPort === undefined ? ([0, 65535] as Range) : range(spec.dstPort, 'dstPort', 65535);
    const any = sp[0] === 0 && sp[1] === 65535 && dp[0] === 0 && dp[1] === 65535;
    if (!any) {
      if (proto !== null && !carriesPorts(proto)) {
        const field = spec.srcPort !== undefined ? 'srcPort' : 'dstPort';
        throw invalid(field, spec[field], `ports select only tcp, udp and sctp (proto is ${proto}); ICMP uses icmpType/icmpCode (R3)`);
      }
      ports = { src: sp, dst: dp };
    }
  }
  let icmp: NormalizedPolicy['icmp'] = null;
  if (spec.icmpType !== undefined || spec.icmpCode !== undefined) {
    const field = spec.icmpType !== undefined ? 'icmpType' : 'icmpCode';
    const want = family === 4 ? PROTO_ICMP : PROTO_ICMPV6;
    if (proto !== want) throw invalid(field, spec[field], `needs proto ${family === 4 ? "'icmp'" : "'ipv6-icmp'"} for IPv${family} selectors`);
    if (ports) throw invalid(field, spec[field], 'cannot be combined with port ranges');
    const t = spec.icmpType === undefined ? ([0, 255] as Range) : range(spec.icmpType, 'icmpType', 255);
    const c = spec.icmpCode === undefined ? ([0, 255] as Range) : range(spec.icmpCode, 'icmpCode', 255);
    icmp = { type: t, code: c };
  }
  const priority = spec.priority === undefined ? 0 : integer(spec.priority, 'priority', 0, U32_MAX);
  let template: NormalizedTemplate | null = null;
  if (action === 'protect') {
    if (!isObject(spec.template)) throw invalid('template', spec.template, "required for action 'protect' (e.g. { mode: 'tunnel', src, dst })");
    template = normalizeTemplate(spec.template);
  } else if (spec.template !== undefined) {
    throw invalid('template', spec.template, `only a 'protect' policy has a template (action is '${action}')`);
  }
  return {
    dir, family, action, priority, proto, ports, icmp, template,
    src: src ?? anyPrefix(family),
    dst: dst ?? anyPrefix(family),
  };
}

function ipsecProto(value: unknown, field: string): number {
  if (value === undefined || value === 'esp') return PROTO_ESP;
  if (value === 'ah') return PROTO_AH;
  throw invalid(field, value, "expected 'esp' or 'ah'");
}

function normalizeTemplate(t: Record<string, unknown>): NormalizedTemplate {
  checkKeys(t, TEMPLATE_FIELDS, 'template');
  const mode = oneOf(t.mode, MODES, 'template.mode');
  const level = t.level === undefined ? 'require' : oneOf(t.level, LEVELS, 'template.level');
  const reqid = t.reqid === undefined ? 0 : integer(t.reqid, 'template.reqid', 0, U32_MAX);
  const proto = ipsecProto(t.proto, 'template.proto');
  if (mode === 'transport') {
    // Transport SAs are between the packet's own addresses.
    if (t.src !== undefined) throw invalid('template.src', t.src, 'transport mode takes its endpoints from the packet; omit it');
    if (t.dst !== undefined) throw invalid('template.dst', t.dst, 'transport mode takes its endpoints from the packet; omit it');
    return { proto, mode, level, reqid, src: null, dst: null };
  }
  if (t.src === undefined) throw invalid('template.src', t.src, 'tunnel mode needs the tunnel source address');
  if (t.dst === undefined) throw invalid('template.dst', t.dst, 'tunnel mode needs the tunnel destination address');
  const src = hostPrefix(t.src, 'template.src');
  const dst = hostPrefix(t.dst, 'template.dst');
  if (src.family !== dst.family) throw invalid('template.dst', t.dst, 'tunnel endpoints must be of one address family');
  return { proto, mode, level, reqid, src, dst };
}

// encryption, integrity and encap are checked by EspSa.create (src/esp/sa.ts), which never shows a key.
const SA_FIELDS = ['spi', 'src', 'dst', 'proto', 'mode', 'reqid', 'state', 'acquireSeq', 'esn', 'lifetime', 'lastSeq', 'encryption', 'integrity', 'encap'];

export function normalizeSa(sa: unknown): NormalizedSa {
  if (!isObject(sa)) throw invalid('sa', sa, 'expected an object');
  checkKeys(sa, SA_FIELDS, '');
  // RFC 4303 §2.1: SPIs 1..255 are reserved by IANA and 0 means "no SA".
  const spi = integer(sa.spi, 'spi', 256, U32_MAX);
  const src = parseAddress(sa.src, 'src');
  const dst = parseAddress(sa.dst, 'dst');
  if (src.family !== dst.family) throw invalid('dst', sa.dst, `address family differs from src ${String(sa.src)}`);
  return {
    spi,
    family: src.family,
    src: src.words,
    dst: dst.words,
    proto: ipsecProto(sa.proto, 'proto'),
    mode: oneOf(sa.mode, MODES, 'mode'),
    reqid: sa.reqid === undefined ? 0 : integer(sa.reqid, 'reqid', 0, U32_MAX),
    state: sa.state === undefined ? 'mature' : oneOf(sa.state, ['mature', 'dying'] as const, 'state'),
    acquireSeq: sa.acquireSeq === undefined ? 0 : integer(sa.acquireSeq, 'acquireSeq', 1, L_MAX_ID),
    esn: sa.esn === undefined ? false : boolean(sa.esn, 'esn'),
    lifetime: lifetime(sa.lifetime),
    lastSeq: sequenceNumber(sa.lastSeq, sa.esn === true),
  };
}

const FLOW_FIELDS = ['src', 'dst', 'proto', 'srcPort', 'dstPort', 'icmpType', 'icmpCode', 'fragment'];

export function normalizeFlow(flow: unknown): NormalizedFlow {
  if (!isObject(flow)) throw invalid('flow', flow, 'expected an object');
  checkKeys(flow, FLOW_FIELDS, 'flow');
  const src = parseAddress(flow.src, 'flow.src');
  const dst = parseAddress(flow.dst, 'flow.dst');
  if (src.family !== dst.family) throw invalid('flow.dst', flow.dst, `address family differs from flow.src ${String(flow.src)}`);
  const proto = protocolNumber(flow.proto, 'flow.proto');
  const fragment = flow.fragment === undefined ? false : flow.fragment;
  if (typeof fragment !== 'boolean') throw invalid('flow.fragment', flow.fragment, 'expected a boolean');
  const icmpHere = isIcmp(proto) && proto === (src.family === 4 ? PROTO_ICMP : PROTO_ICMPV6);
  for (const f of ['srcPort', 'dstPort'] as const) {
    if (flow[f] !== undefined && !carriesPorts(proto)) throw invalid(`flow.${f}`, flow[f], `only tcp, udp and sctp flows have ports (proto is ${proto})`);
  }
  for (const f of ['icmpType', 'icmpCode'] as const) {
    if (flow[f] !== undefined && !icmpHere) throw invalid(`flow.${f}`, flow[f], `only ${src.family === 4 ? 'icmp' : 'ipv6-icmp'} flows have a type and code`);
  }
  let kind: NormalizedFlow['kind'] = 'none';
  let sport = 0;
  let dport = 0;
  if (!fragment && carriesPorts(proto)) {
    kind = 'ports';
    sport = flow.srcPort === undefined ? 0 : integer(flow.srcPort, 'flow.srcPort', 0, 65535);
    dport = flow.dstPort === undefined ? 0 : integer(flow.dstPort, 'flow.dstPort', 0, 65535);
  } else if (!fragment && icmpHere) {
    kind = 'icmp';
    sport = flow.icmpType === undefined ? 0 : integer(flow.icmpType, 'flow.icmpType', 0, 255);
    dport = flow.icmpCode === undefined ? 0 : integer(flow.icmpCode, 'flow.icmpCode', 0, 255);
  }
  return { family: src.family, src: src.words, dst: dst.words, proto, kind, sport, dport };
}

export function direction(value: unknown, field = 'dir'): Direction {
  return oneOf(value, DIRECTIONS, field);
}

export function engineTime(value: unknown, field = 'now'): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw invalid(field, value, 'engine time must be a finite number of milliseconds >= 0');
  }
  return value;
}
