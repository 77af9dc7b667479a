// Traffic selectors (RFC 7296 §2.9, §3.13): configuration ↔ payload, narrowing by
// the responder (intersection with its configuration), and the SPD policies a
// CHILD SA implies (R12: the key manager owns the SPD).

import { addressBytes, parseAddress, parsePrefix } from '../common/addr.js';
import type { TrafficSelectorConfig } from './config-types.js';
import { TsType } from './constants.js';
import type { TrafficSelectorRepr } from './message.js';

/** A selector as numbers: address range [start, end] of a family, protocol (0 any), port range. */
export interface TsRange { family: 4 | 6; protocol: number; startPort: number; endPort: number; start: bigint; end: bigint }

const bits = (f: 4 | 6) => (f === 4 ? 32 : 128);
const toBig = (b: Buffer) => BigInt('0x' + (b.length ? b.toString('hex') : '0'));
const toBuf = (n: bigint, f: 4 | 6) => Buffer.from(n.toString(16).padStart(f === 4 ? 8 : 32, '0'), 'hex');

export function rangeOfConfig(c: TrafficSelectorConfig): TsRange {
  const p = parsePrefix(`${c.prefix}/${c.prefixLength}`, 'ts');
  const family = p.family as 4 | 6;
  const host = bits(family) - c.prefixLength;
  const addr = toBig(addrBuf(c.prefix));
  const start = (addr >> BigInt(host)) << BigInt(host);
  const end = start + (1n << BigInt(host)) - 1n;
  return { family, protocol: c.protocol ?? 0, startPort: c.portLow ?? 0, endPort: c.portHigh ?? 65535, start, end };
}

function addrBuf(a: string): Buffer {
  const p = parseAddress(a, 'ts');
  return Buffer.from(addressBytes(p.family, p.words));
}

export function reprOfRange(r: TsRange): TrafficSelectorRepr {
  return { type: r.family === 4 ? TsType.IPV4_ADDR_RANGE : TsType.IPV6_ADDR_RANGE, protocol: r.protocol, startPort: r.startPort, endPort: r.endPort, start: toBuf(r.start, r.family), end: toBuf(r.end, r.family) };
}

export function rangeOfRepr(t: TrafficSelectorRepr): TsRange {
  return { family: t.type === TsType.IPV4_ADDR_RANGE ? 4 : 6, protocol: t.protocol, startPort: t.startPort, endPort: t.endPort, start: toBig(t.start), end: toBig(t.end) };
}

/** The intersection of two selectors, or null. */
export function intersect(a: TsRange, b: TsRange): TsRange | null {
  if (a.family !== b.family) return null;
  if (a.protocol && b.protocol && a.protocol !== b.protocol) return null;
  const start = a.start > b.start ? a.start : b.start, end = a.end < b.end ? a.end : b.end;
  const sp = Math.max(a.startPort, b.startPort), ep = Math.min(a.endPort, b.endPort);
  if (start > end || sp > ep) return null;
  return { family: a.family, protocol: a.protocol || b.protocol, startPort: sp, endPort: ep, start, end };
}

/** §2.9: the responder narrows the proposed selectors to its configuration. */
export function narrow(proposed: readonly TsRange[], configured: readonly TsRange[]): TsRange[] {
  const out: TsRange[] = [];
  for (const c of configured) for (const p of proposed) {
    const x = intersect(p, c);
    if (x && !out.some((o) => same(o, x))) out.push(x);
  }
  return out;
}

export function contains(outer: TsRange, inner: TsRange): boolean {
  const x = intersect(outer, inner);
  return x !== null && same(x, inner);
}

export function same(a: TsRange, b: TsRange): boolean {
  return a.family === b.family && a.protocol === b.protocol && a.startPort === b.startPort && a.endPort === b.endPort && a.start === b.start && a.end === b.end;
}

/** The prefixes that exactly cover an address range (for SPD selectors, which are prefixes). */
export function prefixesOf(r: TsRange): string[] {
  const w = bits(r.family);
  const out: string[] = [];
  let s = r.start;
  while (s <= r.end && out.length < 256) {
    let len = w;
    while (len > 0) {
      const size = 1n << BigInt(w - len + 1);
      if (s % size !== 0n || s + size - 1n > r.end) break;
      len--;
    }
    out.push(`${fmt(s, r.family)}/${len}`);
    s += 1n << BigInt(w - len);
  }
  return out;
}

function fmt(n: bigint, f: 4 | 6): string {
  const b = toBuf(n, f);
  if (f === 4) return [...b].join('.');
  const parts: string[] = [];
  for (let i = 0; i < 16; i += 2) parts.push(b.readUInt16BE(i).toString(16));
  return parts.join(':');
}

export function describeTs(r: TsRange): string {
  const p = prefixesOf(r);
  const proto = r.protocol ? `[${r.protocol}${r.startPort || r.endPort !== 65535 ? `/${r.startPort}-${r.endPort}` : ''}]` : '';
  return (p.length === 1 ? p[0] : `${fmt(r.start, r.family)}..${fmt(r.end, r.family)}`) + proto;
}
