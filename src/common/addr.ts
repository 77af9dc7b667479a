// IPv4/IPv6 addresses and prefixes as strings <-> the engine's form: four u32
// words, most significant first (see assembly/layout.ts).

import { invalid } from './errors.js';

export type Family = 4 | 6;

export interface Address {
  family: Family;
  /** Four u32 words, most significant first; IPv4 uses words[0] only. */
  words: Uint32Array;
}

export interface Prefix extends Address {
  len: number;
}

function parseV4(s: string): number | null {
  const parts = s.split('.');
  if (parts.length !== 4) return null;
  let v = 0;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p)) return null;
    const n = Number(p);
    if (n > 255 || (p.length > 1 && p[0] === '0')) return null;
    v = v * 256 + n;
  }
  return v >>> 0;
}

function parseV6(s: string): Uint32Array | null {
  if (s.length < 2 || s.length > 45) return null;
  let head = s;
  let tail: string | null = null;
  const dbl = s.indexOf('::');
  if (dbl >= 0) {
    if (s.indexOf('::', dbl + 1) >= 0) return null;
    head = s.slice(0, dbl);
    tail = s.slice(dbl + 2);
  }
  const groups = (part: string): number[] | null => {
    if (part === '') return [];
    const out: number[] = [];
    const items = part.split(':');
    for (let i = 0; i < items.length; i++) {
      const it = items[i];
      if (i === items.length - 1 && it.includes('.')) {
        const v4 = parseV4(it);
        if (v4 === null) return null;
        out.push(v4 >>> 16, v4 & 0xffff);
        continue;
      }
      if (!/^[0-9a-fA-F]{1,4}$/.test(it)) return null;
      out.push(parseInt(it, 16));
    }
    return out;
  };
  const h = groups(head);
  const t = tail === null ? [] : groups(tail);
  if (h === null || t === null) return null;
  let all: number[];
  if (tail === null) {
    if (h.length !== 8) return null;
    all = h;
  } else {
    if (h.length + t.length > 7) return null;
    all = [...h, ...new Array<number>(8 - h.length - t.length).fill(0), ...t];
  }
  const w = new Uint32Array(4);
  for (let i = 0; i < 4; i++) w[i] = ((all[2 * i] << 16) | all[2 * i + 1]) >>> 0;
  return w;
}

/** Parse an IPv4 or IPv6 address; errors name `field` and the value (R25). */
export function parseAddress(value: unknown, field: string): Address {
  if (typeof value !== 'string') throw invalid(field, value, 'expected an IPv4 or IPv6 address string');
  if (value.includes(':')) {
    const w = parseV6(value);
    if (!w) throw invalid(field, value, 'not a valid IPv6 address');
    return { family: 6, words: w };
  }
  const v4 = parseV4(value);
  if (v4 === null) throw invalid(field, value, 'not a valid IPv4 address');
  return { family: 4, words: Uint32Array.of(v4, 0, 0, 0) };
}

export function maskWord(len: number, word: number): number {
  const bits = len - word * 32;
  if (bits <= 0) return 0;
  if (bits >= 32) return 0xffffffff;
  return (0xffffffff << (32 - bits)) >>> 0;
}

/**
 * Parse 'a.b.c.d/len', 'x::/len', or a bare address (a host prefix). 'any' is not
 * accepted here: omit the field instead. Host bits set under the mask are an error,
 * because '10.0.0.1/8' is almost always a typo for something else.
 */
export function parsePrefix(value: unknown, field: string): Prefix {
  if (typeof value !== 'string') throw invalid(field, value, "expected a prefix string such as '10.0.0.0/8' or '2001:db8::/32'");
  const slash = value.indexOf('/');
  const addrPart = slash < 0 ? value : value.slice(0, slash);
  const a = parseAddress(addrPart, field);
  const max = a.family === 4 ? 32 : 128;
  let len = max;
  if (slash >= 0) {
    const lenPart = value.slice(slash + 1);
    if (!/^\d{1,3}$/.test(lenPart) || Number(lenPart) > max) {
      throw invalid(field, value, `prefix length must be an integer 0..${max}`);
    }
    len = Number(lenPart);
  }
  for (let i = 0; i < 4; i++) {
    if ((a.words[i] & ~maskWord(len, i)) !== 0) {
      throw invalid(field, value, `host bits are set below the /${len} mask`);
    }
  }
  return { family: a.family, words: a.words, len };
}

export function formatAddress(family: Family, words: ArrayLike<number>): string {
  if (family === 4) {
    const v = words[0] >>> 0;
    return `${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;
  }
  const g: number[] = [];
  for (let i = 0; i < 4; i++) g.push((words[i] >>> 16) & 0xffff, words[i] & 0xffff);
  // RFC 5952: compress the longest run of two or more zero groups.
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8;) {
    if (g[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) { bestStart = i; bestLen = j - i; }
    i = j;
  }
  const hex = (xs: number[]) => xs.map((x) => x.toString(16)).join(':');
  if (bestStart < 0) return hex(g);
  return `${hex(g.slice(0, bestStart))}::${hex(g.slice(bestStart + bestLen))}`;
}

/** The address as it appears in a packet header: 4 or 16 octets, network order. */
export function addressBytes(family: Family, words: ArrayLike<number>): Uint8Array {
  const n = family === 4 ? 1 : 4;
  const out = new Uint8Array(n * 4);
  for (let i = 0; i < n; i++) {
    const w = words[i] >>> 0;
    out[4 * i] = w >>> 24;
    out[4 * i + 1] = (w >>> 16) & 255;
    out[4 * i + 2] = (w >>> 8) & 255;
    out[4 * i + 3] = w & 255;
  }
  return out;
}

export function formatPrefix(family: Family, words: ArrayLike<number>, len: number): string {
  return `${formatAddress(family, words)}/${len}`;
}

/** Does `addr` fall inside `prefix`? (Families must match.) */
export function prefixContains(prefix: Prefix, addr: Address): boolean {
  if (prefix.family !== addr.family) return false;
  for (let i = 0; i < 4; i++) {
    if (((addr.words[i] & maskWord(prefix.len, i)) >>> 0) !== prefix.words[i]) return false;
  }
  return true;
}

/**
 * The `lookup` of a dgram socket whose sends always name an IP address (the TUN
 * gateway's ESP socket, the IKE daemon's): the address as it is, at once. Node's
 * default (dns.lookup) answers even an IP literal on the next tick, which costs a
 * closure and a tick per datagram sent (issue 16).
 */
export function syncLookup(address: string, _family: unknown, callback: (err: Error | null, address: string, family: number) => void): void {
  callback(null, address, address.includes(':') ? 6 : 4);
}
