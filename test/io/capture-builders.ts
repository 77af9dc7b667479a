// Byte-level builders of pcap and pcapng files for the capture reader tests,
// written independently of src/io (so that a reader bug is not mirrored here),
// with every field under the test's control, including wrong ones.

export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function u16(v: number, le: boolean): number[] {
  return le ? [v & 255, (v >>> 8) & 255] : [(v >>> 8) & 255, v & 255];
}

function u32(v: number, le: boolean): number[] {
  const b = [(v >>> 24) & 255, (v >>> 16) & 255, (v >>> 8) & 255, v & 255];
  return le ? b.reverse() : b;
}

function u64(v: bigint, le: boolean): number[] {
  const x = BigInt.asUintN(64, v);
  const hi = Number(x >> 32n);
  const lo = Number(x & 0xffffffffn);
  return le ? [...u32(lo, true), ...u32(hi, true)] : [...u32(hi, false), ...u32(lo, false)];
}

// ---------------------------------------------------------------------------
// classic pcap

export interface PcapRecordSpec {
  sec: number;
  frac: number;
  data: Uint8Array;
  /** Default data.length. */
  wire?: number;
  /** Written in the header instead of data.length (for malformed files). */
  caplen?: number;
}

export interface PcapSpec {
  le?: boolean;
  nanos?: boolean;
  snapLen?: number;
  /** The whole 32-bit link-type field. */
  linkType?: number;
  major?: number;
  minor?: number;
  records?: PcapRecordSpec[];
}

export function pcapHeader(spec: PcapSpec = {}): Uint8Array {
  const le = spec.le ?? true;
  const magic = spec.nanos ? 0xa1b23c4d : 0xa1b2c3d4;
  return Uint8Array.from([
    ...u32(magic, le), ...u16(spec.major ?? 2, le), ...u16(spec.minor ?? 4, le), ...u32(0, le), ...u32(0, le),
    ...u32(spec.snapLen ?? 65535, le), ...u32(spec.linkType ?? 101, le),
  ]);
}

export function pcapRecord(r: PcapRecordSpec, le = true): Uint8Array {
  const head = Uint8Array.from([...u32(r.sec, le), ...u32(r.frac, le), ...u32(r.caplen ?? r.data.length, le), ...u32(r.wire ?? r.data.length, le)]);
  return concat(head, r.data);
}

export function pcapFile(spec: PcapSpec = {}): Uint8Array {
  const le = spec.le ?? true;
  return concat(pcapHeader(spec), ...(spec.records ?? []).map((r) => pcapRecord(r, le)));
}

// ---------------------------------------------------------------------------
// pcapng

export interface Option {
  code: number;
  value: Uint8Array;
  /** Written instead of value.length (for malformed options). */
  length?: number;
}

function options(opts: Option[] | undefined, le: boolean, end = true): number[] {
  if (opts === undefined || opts.length === 0) return [];
  const out: number[] = [];
  for (const o of opts) {
    out.push(...u16(o.code, le), ...u16(o.length ?? o.value.length, le), ...o.value);
    while (out.length % 4) out.push(0);
  }
  if (end) out.push(0, 0, 0, 0);
  return out;
}

/** A block: type, total length, body (padded to 4), total length (or `trailer`). */
export function block(type: number, body: number[] | Uint8Array, le = true, override: { length?: number; trailer?: number } = {}): Uint8Array {
  const b = [...body];
  while (b.length % 4) b.push(0);
  const len = 12 + b.length;
  return Uint8Array.from([...u32(type, le), ...u32(override.length ?? len, le), ...b, ...u32(override.trailer ?? len, le)]);
}

export function shb(le = true, opts?: Option[], version: [number, number] = [1, 0]): Uint8Array {
  const body = [...u32(0x1a2b3c4d, le), ...u16(version[0], le), ...u16(version[1], le), ...u64(-1n, le), ...options(opts, le)];
  return block(0x0a0d0d0a, body, le);
}

export function idb(linkType: number, le = true, snapLen = 262144, opts?: Option[]): Uint8Array {
  return block(1, [...u16(linkType, le), 0, 0, ...u32(snapLen, le), ...options(opts, le)], le);
}

export const tsresol = (v: number): Option => ({ code: 9, value: Uint8Array.of(v) });
export const tsoffset = (sec: bigint, le = true): Option => ({ code: 14, value: Uint8Array.from(u64(sec, le)) });
export const ifName = (name: string): Option => ({ code: 2, value: new TextEncoder().encode(name) });

export function epb(iface: number, ticks: bigint, data: Uint8Array, le = true, wire = data.length, caplen = data.length, opts?: Option[]): Uint8Array {
  const hi = Number(ticks >> 32n);
  const lo = Number(ticks & 0xffffffffn);
  return block(6, [...u32(iface, le), ...u32(hi, le), ...u32(lo, le), ...u32(caplen, le), ...u32(wire, le), ...data, ...padTo4(data.length), ...options(opts, le)], le);
}

export function opb(iface: number, ticks: bigint, data: Uint8Array, le = true, wire = data.length): Uint8Array {
  const hi = Number(ticks >> 32n);
  const lo = Number(ticks & 0xffffffffn);
  return block(2, [...u16(iface, le), ...u16(0, le), ...u32(hi, le), ...u32(lo, le), ...u32(data.length, le), ...u32(wire, le), ...data], le);
}

export function spb(wire: number, data: Uint8Array, le = true): Uint8Array {
  return block(3, [...u32(wire, le), ...data], le);
}

function padTo4(n: number): number[] {
  return new Array<number>((4 - (n % 4)) % 4).fill(0);
}

// ---------------------------------------------------------------------------
// packets

/** An IPv4/UDP packet of `size` bytes (>= 28) from 192.0.2.1 to 192.0.2.2 (ports 4500 -> 4500 unless given). */
export function ipv4(size = 28, proto = 17, fill = 0, ports: [number, number] = [4500, 4500]): Uint8Array {
  const p = new Uint8Array(size).fill(fill);
  p[0] = 0x45;
  p[1] = 0;
  p[2] = size >> 8;
  p[3] = size & 255;
  p[8] = 64;
  p[9] = proto;
  p.set([192, 0, 2, 1, 192, 0, 2, 2], 12);
  if (proto === 17 && size >= 28) {
    p.set([ports[0] >> 8, ports[0] & 255, ports[1] >> 8, ports[1] & 255, (size - 20) >> 8, (size - 20) & 255, 0, 0], 20);
  }
  return p;
}

/** An IPv6 packet with `payload` bytes of payload and next header nh. */
export function ipv6(payload = 8, nh = 17): Uint8Array {
  const p = new Uint8Array(40 + payload);
  p[0] = 0x60;
  p[4] = payload >> 8;
  p[5] = payload & 255;
  p[6] = nh;
  p[7] = 64;
  p[8] = 0x20;
  p[9] = 0x01;
  p[24] = 0x20;
  p[25] = 0x01;
  return p;
}

export function ethernet(ethertype: number, payload: Uint8Array, tags: number[] = []): Uint8Array {
  const head = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
  for (const tpid of tags) head.push(tpid >> 8, tpid & 255, 0, 5);
  head.push(ethertype >> 8, ethertype & 255);
  return concat(Uint8Array.from(head), payload);
}

// ---------------------------------------------------------------------------

/** Iterates to the end, discarding what comes. */
export async function drain(it: AsyncIterable<unknown>): Promise<void> {
  const iterator = it[Symbol.asyncIterator]();
  while (!(await iterator.next()).done);
}

/** A seeded PRNG (mulberry32): deterministic fuzzing. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
