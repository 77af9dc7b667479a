// Streaming capture writers: classic pcap (one link type, µs or ns timestamps)
// and pcapng (one section, one IDB per interface with if_tsresol 9, EPBs).
//
// Both write little-endian into a buffer (1 MiB by default) and hand full
// buffers to the file in order. write() returns undefined when the record went
// into the buffer and a Promise when the buffer was handed over: await it before
// writing on, and memory stays at two buffers:
//
//   const p = writer.write(record);
//   if (p) await p;
//   ...
//   await writer.close();

import { open, type FileHandle } from 'node:fs/promises';
import {
  BLOCK_EPB, BLOCK_IDB, BLOCK_SHB, BYTE_ORDER_MAGIC, DEFAULT_SNAP_LEN, PCAP_FILE_HEADER_BYTES, writePcapFileHeader,
} from './formats.js';
import { LINKTYPE_RAW } from './linktype.js';

interface WriteRecordBase {
  /** The frame, starting at the link-layer header. */
  data: Uint8Array;
  /** Length on the wire; default data.length. */
  wireLength?: number;
  /** pcapng interface id (default 0); pcap ignores it. */
  interface?: number;
  /** When given, checked against the link type of the file (pcap) or interface (pcapng). */
  linkType?: number;
}

/**
 * What a writer needs of a record (a CaptureRecord has all of it): the frame and
 * its capture time, either exactly in ns (timeNs) or in (fractional) ms since the
 * epoch (timeMs, rounded to the nearest ns).
 */
export type WriteRecord = WriteRecordBase & ({ timeNs: bigint; timeMs?: undefined } | { timeMs: number; timeNs?: undefined });

const U32 = 4294967296;
const DEFAULT_BUFFER = 1 << 20;

function checkLinkType(linkType: unknown, field: string): number {
  if (typeof linkType !== 'number' || !Number.isInteger(linkType) || linkType < 0 || linkType > 0xffff) {
    throw new RangeError(`${field} must be an integer in 0..65535, got ${String(linkType)}`);
  }
  return linkType;
}

function checkSnapLen(snapLen: unknown, field: string): number {
  if (typeof snapLen !== 'number' || !Number.isInteger(snapLen) || snapLen < 0 || snapLen > 0xffffffff) {
    throw new RangeError(`${field} must be an integer in 0..2^32-1, got ${String(snapLen)}`);
  }
  return snapLen;
}

function checkBufferSize(size: unknown): number {
  const s = size ?? DEFAULT_BUFFER;
  if (typeof s !== 'number' || !Number.isInteger(s) || s < 64 || s > 1 << 30) {
    throw new RangeError(`bufferSize must be an integer in 64..2^30, got ${String(size)}`);
  }
  return s;
}

/** Splits a record's time into whole seconds and ns, checking 0 <= seconds <= maxSec. */
function splitTime(record: WriteRecord, where: string, maxSec: number): [number, number] {
  const { timeNs, timeMs } = record;
  if (timeNs === undefined && typeof timeMs === 'number') {
    if (!Number.isFinite(timeMs) || timeMs < 0) throw new RangeError(`${where}.timeMs must be a finite number >= 0, got ${timeMs}`);
    let sec = Math.floor(timeMs / 1000);
    let ns = Math.round((timeMs - sec * 1000) * 1e6);
    if (ns >= 1e9) {
      sec += 1;
      ns -= 1e9;
    }
    if (sec > maxSec) throw new RangeError(`${where}.timeMs ${timeMs} is beyond what the format can hold (${maxSec} s)`);
    return [sec, ns];
  }
  if (typeof timeNs !== 'bigint') throw new TypeError(`${where} needs timeNs (a bigint) or timeMs (a number)`);
  if (timeNs < 0n) throw new RangeError(`${where}.timeNs must not be negative, got ${timeNs}`);
  const sec = timeNs / 1_000_000_000n;
  if (sec > BigInt(maxSec)) throw new RangeError(`${where}.timeNs ${timeNs} is beyond what the format can hold (${maxSec} s)`);
  return [Number(sec), Number(timeNs - sec * 1_000_000_000n)];
}

/** Buffered, ordered writes to a file. */
class Sink {
  buf: Uint8Array;
  dv: DataView;
  used = 0;
  private spare: Uint8Array | null = null;
  private chain: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(private readonly fh: FileHandle, private readonly size: number) {
    this.buf = new Uint8Array(size);
    this.dv = new DataView(this.buf.buffer);
  }

  /** Makes room for n bytes; returns the hand-over's Promise when the buffer had to be handed over. */
  reserve(n: number): Promise<void> | undefined {
    if (this.closed) throw new Error('capture writer is closed');
    if (this.used + n <= this.buf.length) return undefined;
    const p = this.flush();
    if (n > this.buf.length) {
      this.buf = new Uint8Array(n);
      this.dv = new DataView(this.buf.buffer);
    }
    return p;
  }

  /** Hands the buffered bytes to the file; resolves once they (and all before them) are written. */
  flush(): Promise<void> {
    if (this.used === 0) return this.chain;
    const full = this.buf;
    const out = full.subarray(0, this.used);
    this.buf = this.spare ?? new Uint8Array(this.size);
    this.dv = new DataView(this.buf.buffer);
    this.spare = null;
    this.used = 0;
    const fh = this.fh;
    const p = this.chain.then(async () => {
      let done = 0;
      while (done < out.length) {
        const { bytesWritten } = await fh.write(out, done, out.length - done);
        done += bytesWritten;
      }
      if (full.length === this.size) this.spare = full;
    });
    // Failures reach whoever awaits this or a later flush, and close(); never unhandled.
    p.catch(() => undefined);
    this.chain = p;
    return p;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    try {
      await this.flush();
    } finally {
      this.closed = true;
      await this.fh.close();
    }
  }
}

export interface PcapWriterOptions {
  /** LINKTYPE_ of every record; default LINKTYPE_RAW (101). */
  linkType?: number;
  /** Nanosecond timestamps (magic 0xa1b23c4d); default false: µs, ns truncated. */
  nanoseconds?: boolean;
  /** Snapshot length: longer frames are cut to it (original length kept); default 262144. */
  snapLen?: number;
  /** Write buffer size; default 1 MiB. */
  bufferSize?: number;
}

// What both writers share: the buffered file, the record count, flush and close.
abstract class CaptureFileWriter {
  /** Records written so far. */
  count = 0;

  protected constructor(protected readonly sink: Sink, readonly path: string) {}

  /** Writes out what is buffered; resolves when it is in the file. */
  flush(): Promise<void> {
    return this.sink.flush();
  }

  async close(): Promise<void> {
    await this.sink.close();
  }
}

/** A classic pcap file being written (little-endian, version 2.4). */
export class PcapWriter extends CaptureFileWriter {
  readonly linkType: number;
  readonly nanoseconds: boolean;
  readonly snapLen: number;

  private constructor(sink: Sink, path: string, linkType: number, nanoseconds: boolean, snapLen: number) {
    super(sink, path);
    this.linkType = linkType;
    this.nanoseconds = nanoseconds;
    this.snapLen = snapLen;
    writePcapFileHeader(sink.dv, 0, { nanoseconds, snapLen, linkType });
    sink.used = PCAP_FILE_HEADER_BYTES;
  }

  static async open(path: string, options: PcapWriterOptions = {}): Promise<PcapWriter> {
    if (typeof path !== 'string' || path === '') throw new TypeError('pcap path must be a non-empty string');
    const linkType = checkLinkType(options.linkType ?? LINKTYPE_RAW, 'pcap options.linkType');
    const snapLen = checkSnapLen(options.snapLen ?? DEFAULT_SNAP_LEN, 'pcap options.snapLen');
    if (snapLen === 0) throw new RangeError('pcap options.snapLen must be at least 1');
    const nanoseconds = options.nanoseconds ?? false;
    if (typeof nanoseconds !== 'boolean') throw new TypeError('pcap options.nanoseconds must be a boolean');
    const size = checkBufferSize(options.bufferSize);
    const fh = await open(path, 'w');
    return new PcapWriter(new Sink(fh, size), path, linkType, nanoseconds, snapLen);
  }

  /** Writes one record; see the module comment for the returned Promise. */
  write(record: WriteRecord): Promise<void> | undefined {
    if (record === null || typeof record !== 'object') throw new TypeError('pcap record must be an object');
    if (record.linkType !== undefined && record.linkType !== this.linkType) {
      throw new RangeError(`pcap record ${this.count}: link type ${record.linkType} differs from the file's ${this.linkType}`);
    }
    const [sec, ns] = splitTime(record, `pcap record ${this.count}`, U32 - 1);
    return this.writeFrame(record.data, sec, ns, record.wireLength);
  }

  /**
   * Writes one frame with its time as whole seconds since the epoch and ns within
   * the second (as RecordBatch.timeSec / timeFracNs hold it): the fast path.
   */
  writeFrame(data: Uint8Array, timeSec: number, timeFracNs: number, wireLength: number = data.length): Promise<void> | undefined {
    if (!(data instanceof Uint8Array)) throw new TypeError(`pcap record ${this.count}: data must be a Uint8Array`);
    if (!(timeSec >= 0 && timeSec < U32 && Number.isInteger(timeSec))) {
      throw new RangeError(`pcap record ${this.count}: time ${timeSec} s is not in the unsigned 32-bit range of pcap seconds`);
    }
    if (!(timeFracNs >= 0 && timeFracNs < 1e9 && Number.isInteger(timeFracNs))) {
      throw new RangeError(`pcap record ${this.count}: ${timeFracNs} ns is not an integer in 0..999999999`);
    }
    if (!(wireLength >= data.length && wireLength < U32 && Number.isInteger(wireLength))) {
      throw new RangeError(`pcap record ${this.count}: wire length ${wireLength} must be an integer in ${data.length}..2^32-1`);
    }
    const caplen = data.length < this.snapLen ? data.length : this.snapLen;
    const sink = this.sink;
    const p = sink.reserve(16 + caplen);
    const dv = sink.dv;
    const at = sink.used;
    dv.setUint32(at, timeSec, true);
    dv.setUint32(at + 4, this.nanoseconds ? timeFracNs : Math.floor(timeFracNs / 1000), true);
    dv.setUint32(at + 8, caplen, true);
    dv.setUint32(at + 12, wireLength, true);
    sink.buf.set(caplen === data.length ? data : data.subarray(0, caplen), at + 16);
    sink.used = at + 16 + caplen;
    this.count++;
    return p;
  }
}

/** Creates (or replaces) a pcap file and returns a writer for it. */
export function createPcapWriter(path: string, options?: PcapWriterOptions): Promise<PcapWriter> {
  return PcapWriter.open(path, options);
}

export interface PcapngInterface {
  linkType: number;
  /** Default 262144; 0 means no limit. */
  snapLen?: number;
  /** if_name option, when given. */
  name?: string;
}

export interface PcapngWriterOptions {
  /** Interfaces described up front (ids 0, 1, ...); more can be added with addInterface(). */
  interfaces?: PcapngInterface[];
  /** shb_userappl; default "larval". */
  application?: string;
  bufferSize?: number;
}

const encoder = new TextEncoder();

/** Appends an option (code, value padded to 4) at at; returns the new offset. */
function putOption(dv: DataView, buf: Uint8Array, at: number, code: number, value: Uint8Array): number {
  dv.setUint16(at, code, true);
  dv.setUint16(at + 2, value.length, true);
  buf.set(value, at + 4);
  buf.fill(0, at + 4 + value.length, at + 4 + ((value.length + 3) & ~3));
  return at + 4 + ((value.length + 3) & ~3);
}

function optionBytes(value: Uint8Array): number {
  return 4 + ((value.length + 3) & ~3);
}

/** A pcapng file being written: one little-endian section, timestamps in ns. */
export class PcapngWriter extends CaptureFileWriter {
  private readonly linkTypes: number[] = [];
  private readonly snapLens: number[] = [];

  private constructor(sink: Sink, path: string, application: string) {
    super(sink, path);
    const appl = encoder.encode(application);
    const len = 28 + (application === '' ? 0 : optionBytes(appl) + 4);
    void sink.reserve(len);
    const dv = sink.dv;
    const at = sink.used;
    dv.setUint32(at, BLOCK_SHB, true);
    dv.setUint32(at + 4, len, true);
    dv.setUint32(at + 8, BYTE_ORDER_MAGIC, true);
    dv.setUint16(at + 12, 1, true);
    dv.setUint16(at + 14, 0, true);
    dv.setInt32(at + 16, -1, true); // section length: not given
    dv.setInt32(at + 20, -1, true);
    let o = at + 24;
    if (application !== '') {
      o = putOption(dv, sink.buf, o, 4, appl); // shb_userappl
      dv.setUint32(o, 0, true); // opt_endofopt
      o += 4;
    }
    dv.setUint32(o, len, true);
    sink.used = at + len;
  }

  static async open(path: string, options: PcapngWriterOptions = {}): Promise<PcapngWriter> {
    if (typeof path !== 'string' || path === '') throw new TypeError('pcapng path must be a non-empty string');
    const application = options.application ?? 'larval';
    if (typeof application !== 'string') throw new TypeError('pcapng options.application must be a string');
    const interfaces = options.interfaces ?? [];
    if (!Array.isArray(interfaces)) throw new TypeError('pcapng options.interfaces must be an array');
    interfaces.forEach((spec, i) => checkInterface(spec, `pcapng options.interfaces[${i}]`));
    const size = checkBufferSize(options.bufferSize);
    const fh = await open(path, 'w');
    const writer = new PcapngWriter(new Sink(fh, size), path, application);
    for (const spec of interfaces) writer.addInterface(spec);
    return writer;
  }

  /** Number of interfaces described so far. */
  get interfaces(): number {
    return this.linkTypes.length;
  }

  /** Describes another interface (an IDB with if_tsresol 9) and returns its id. */
  addInterface(spec: PcapngInterface): number {
    checkInterface(spec, 'pcapng interface');
    const snapLen = spec.snapLen ?? DEFAULT_SNAP_LEN;
    const name = spec.name === undefined ? null : encoder.encode(spec.name);
    const len = 20 + (name === null ? 0 : optionBytes(name)) + 8 + 4;
    void this.sink.reserve(len);
    const sink = this.sink;
    const dv = sink.dv;
    const at = sink.used;
    dv.setUint32(at, BLOCK_IDB, true);
    dv.setUint32(at + 4, len, true);
    dv.setUint16(at + 8, spec.linkType, true);
    dv.setUint16(at + 10, 0, true);
    dv.setUint32(at + 12, snapLen, true);
    let o = at + 16;
    if (name !== null) o = putOption(dv, sink.buf, o, 2, name); // if_name
    o = putOption(dv, sink.buf, o, 9, Uint8Array.of(9)); // if_tsresol: 10^-9 s
    dv.setUint32(o, 0, true); // opt_endofopt
    dv.setUint32(o + 4, len, true);
    sink.used = at + len;
    this.linkTypes.push(spec.linkType);
    this.snapLens.push(snapLen);
    return this.linkTypes.length - 1;
  }

  /** Writes one record as an EPB on record.interface (default 0). */
  write(record: WriteRecord): Promise<void> | undefined {
    if (record === null || typeof record !== 'object') throw new TypeError('pcapng record must be an object');
    const id = record.interface ?? 0;
    if (record.linkType !== undefined && this.linkTypes[id] !== undefined && record.linkType !== this.linkTypes[id]) {
      throw new RangeError(`pcapng record ${this.count}: link type ${record.linkType} differs from interface ${id}'s ${this.linkTypes[id]}`);
    }
    const [sec, ns] = splitTime(record, `pcapng record ${this.count}`, 18446744073);
    return this.writeFrame(id, record.data, sec, ns, record.wireLength);
  }

  /** Writes one frame with its time as whole seconds and ns within the second: the fast path. */
  writeFrame(iface: number, data: Uint8Array, timeSec: number, timeFracNs: number, wireLength: number = data.length): Promise<void> | undefined {
    const snapLen = this.snapLens[iface];
    if (snapLen === undefined) {
      throw new RangeError(`pcapng record ${this.count}: interface ${iface} has not been added (there are ${this.linkTypes.length})`);
    }
    if (!(data instanceof Uint8Array)) throw new TypeError(`pcapng record ${this.count}: data must be a Uint8Array`);
    if (!(timeSec >= 0 && Number.isInteger(timeSec) && timeSec <= Number.MAX_SAFE_INTEGER)) {
      throw new RangeError(`pcapng record ${this.count}: time ${timeSec} s must be a non-negative integer`);
    }
    if (!(timeFracNs >= 0 && timeFracNs < 1e9 && Number.isInteger(timeFracNs))) {
      throw new RangeError(`pcapng record ${this.count}: ${timeFracNs} ns is not an integer in 0..999999999`);
    }
    if (!(wireLength >= data.length && wireLength < U32 && Number.isInteger(wireLength))) {
      throw new RangeError(`pcapng record ${this.count}: wire length ${wireLength} must be an integer in ${data.length}..2^32-1`);
    }
    // ticks = timeSec * 1e9 + timeFracNs as two u32 halves, exactly, in doubles:
    // with 1e9 = 15258 * 2^16 + 51712 every partial product stays below 2^53.
    const s1 = Math.floor(timeSec / U32);
    const s0 = timeSec - s1 * U32;
    const b = s0 * 15258;
    const bLo = b % 65536;
    const low = s0 * 51712 + timeFracNs + bLo * 65536;
    const lo = low % U32;
    const hi = Math.floor(low / U32) + (b - bLo) / 65536 + s1 * 1e9;
    if (hi >= U32) throw new RangeError(`pcapng record ${this.count}: time ${timeSec} s is beyond 2^64 ns`);
    const caplen = snapLen !== 0 && data.length > snapLen ? snapLen : data.length;
    const padded = (caplen + 3) & ~3;
    const len = 32 + padded;
    const sink = this.sink;
    const p = sink.reserve(len);
    const dv = sink.dv;
    const at = sink.used;
    dv.setUint32(at, BLOCK_EPB, true);
    dv.setUint32(at + 4, len, true);
    dv.setUint32(at + 8, iface, true);
    dv.setUint32(at + 12, hi, true);
    dv.setUint32(at + 16, lo, true);
    dv.setUint32(at + 20, caplen, true);
    dv.setUint32(at + 24, wireLength, true);
    sink.buf.set(caplen === data.length ? data : data.subarray(0, caplen), at + 28);
    sink.buf.fill(0, at + 28 + caplen, at + 28 + padded);
    dv.setUint32(at + 28 + padded, len, true);
    sink.used = at + len;
    this.count++;
    return p;
  }
}

function checkInterface(spec: PcapngInterface, where: string): void {
  if (spec === null || typeof spec !== 'object') throw new TypeError(`${where} must be an object`);
  checkLinkType(spec.linkType, `${where}.linkType`);
  if (spec.snapLen !== undefined) checkSnapLen(spec.snapLen, `${where}.snapLen`);
  if (spec.name !== undefined && typeof spec.name !== 'string') throw new TypeError(`${where}.name must be a string`);
}

/** Creates (or replaces) a pcapng file and returns a writer for it. */
export function createPcapngWriter(path: string, options?: PcapngWriterOptions): Promise<PcapngWriter> {
  return PcapngWriter.open(path, options);
}
