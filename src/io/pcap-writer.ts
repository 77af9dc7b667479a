// A small writer for the classic libpcap file format
// (draft-ietf-opsawg-pcap, "PCAP Capture File Format").
//
// The file is a 24-byte file header followed by one record per packet, each a
// 16-byte record header and the captured bytes. Everything is written
// little-endian; readers detect the byte order from the magic number.
//
//   File header                      Record header
//   0  magic        u32              0  timestamp seconds          u32
//   4  major, minor u16, u16 (2, 4)  4  timestamp µs (or ns)       u32
//   8  reserved     u32 x 2 (0)      8  captured length            u32
//  16  snap length  u32             12  original length            u32
//  20  link type    u32

import { writeFile } from 'node:fs/promises';

// The streaming writers (createPcapWriter, createPcapngWriter) live in writers.ts.
export {
  PcapWriter, PcapngWriter, createPcapWriter, createPcapngWriter,
  type PcapWriterOptions, type PcapngInterface, type PcapngWriterOptions, type WriteRecord,
} from './writers.js';

import { LINKTYPE_RAW } from './linktype.js';
import { DEFAULT_SNAP_LEN, PCAP_FILE_HEADER_BYTES, PCAP_RECORD_HEADER_BYTES, writePcapFileHeader } from './formats.js';
export { LINKTYPE_ETHERNET, LINKTYPE_RAW } from './linktype.js';
export { PCAP_MAGIC_MICROSECONDS, PCAP_MAGIC_NANOSECONDS } from './formats.js';

export { DEFAULT_SNAP_LEN } from './formats.js';

const FILE_HEADER_BYTES = PCAP_FILE_HEADER_BYTES;
const RECORD_HEADER_BYTES = PCAP_RECORD_HEADER_BYTES;
const U32_MAX = 0xffff_ffff;

export interface PcapPacket {
  /** The packet bytes, starting at the link-layer header of the file's link type. */
  data: Uint8Array;
  /**
   * Capture time in milliseconds since the Unix epoch; fractions are kept to
   * the file's resolution. Defaults to the packet's index (packet i at i ms).
   */
  timeMs?: number;
}

export interface PcapOptions {
  /** Link type of every packet; defaults to LINKTYPE_RAW. */
  linkType?: number;
  /** Longest packet stored whole; longer packets are truncated to it (original length kept). Defaults to 262144. */
  snapLen?: number;
  /** Write nanosecond timestamps (magic 0xa1b23c4d) instead of microseconds (0xa1b2c3d4). */
  nanoseconds?: boolean;
}

interface ResolvedOptions {
  linkType: number;
  snapLen: number;
  nanoseconds: boolean;
}

function resolveOptions(options: PcapOptions | undefined): ResolvedOptions {
  if (options === undefined) return { linkType: LINKTYPE_RAW, snapLen: DEFAULT_SNAP_LEN, nanoseconds: false };
  if (options === null || typeof options !== 'object') {
    throw new TypeError(`pcap options must be an object, got ${describe(options)}`);
  }
  const { linkType = LINKTYPE_RAW, snapLen = DEFAULT_SNAP_LEN, nanoseconds = false } = options;
  if (typeof linkType !== 'number' || !Number.isInteger(linkType)) {
    throw new TypeError(`pcap options.linkType must be an integer, got ${describe(linkType)}`);
  }
  if (linkType < 0 || linkType > U32_MAX) {
    throw new RangeError(`pcap options.linkType must be in 0..${U32_MAX}, got ${linkType}`);
  }
  if (typeof snapLen !== 'number' || !Number.isInteger(snapLen)) {
    throw new TypeError(`pcap options.snapLen must be an integer, got ${describe(snapLen)}`);
  }
  if (snapLen < 1 || snapLen > U32_MAX) {
    throw new RangeError(`pcap options.snapLen must be in 1..${U32_MAX}, got ${snapLen}`);
  }
  if (typeof nanoseconds !== 'boolean') {
    throw new TypeError(`pcap options.nanoseconds must be a boolean, got ${describe(nanoseconds)}`);
  }
  return { linkType, snapLen, nanoseconds };
}

function validatePackets(packets: readonly PcapPacket[]): void {
  if (!Array.isArray(packets)) throw new TypeError(`pcap packets must be an array, got ${describe(packets)}`);
  packets.forEach((packet, i) => {
    if (packet === null || typeof packet !== 'object') {
      throw new TypeError(`pcap packets[${i}] must be an object, got ${describe(packet)}`);
    }
    if (!(packet.data instanceof Uint8Array)) {
      throw new TypeError(`pcap packets[${i}].data must be a Uint8Array, got ${describe(packet.data)}`);
    }
    if (packet.data.length > U32_MAX) {
      throw new RangeError(`pcap packets[${i}].data is ${packet.data.length} bytes, more than a record can describe`);
    }
    const { timeMs } = packet;
    if (timeMs !== undefined) {
      if (typeof timeMs !== 'number' || !Number.isFinite(timeMs)) {
        throw new TypeError(`pcap packets[${i}].timeMs must be a finite number, got ${describe(timeMs)}`);
      }
      if (timeMs < 0 || timeMs >= (U32_MAX + 1) * 1000) {
        throw new RangeError(`pcap packets[${i}].timeMs must be in [0, 2^32 s) (unsigned 32-bit seconds), got ${timeMs}`);
      }
    }
  });
}

/** Splits milliseconds into whole seconds and a fraction in the file's unit, carrying a rounded-up fraction. */
function splitTime(timeMs: number, nanoseconds: boolean): [seconds: number, fraction: number] {
  const unitsPerMs = nanoseconds ? 1_000_000 : 1_000;
  const unitsPerSecond = unitsPerMs * 1000;
  let seconds = Math.floor(timeMs / 1000);
  let fraction = Math.round((timeMs - seconds * 1000) * unitsPerMs);
  if (fraction >= unitsPerSecond) {
    seconds += 1;
    fraction -= unitsPerSecond;
  }
  if (seconds > U32_MAX) {
    // Only reachable by rounding up the last representable instant.
    seconds = U32_MAX;
    fraction = unitsPerSecond - 1;
  }
  return [seconds, fraction];
}

/**
 * Encodes packets as a classic pcap file (little-endian, version 2.4).
 * Throws TypeError or RangeError naming the offending field.
 */
export function encodePcap(packets: readonly PcapPacket[], options?: PcapOptions): Uint8Array {
  const { linkType, snapLen, nanoseconds } = resolveOptions(options);
  validatePackets(packets);

  let total = FILE_HEADER_BYTES;
  for (const p of packets) total += RECORD_HEADER_BYTES + Math.min(p.data.length, snapLen);

  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  writePcapFileHeader(view, 0, { nanoseconds, snapLen, linkType });

  let offset = FILE_HEADER_BYTES;
  packets.forEach((packet, i) => {
    const [seconds, fraction] = splitTime(packet.timeMs ?? i, nanoseconds);
    const captured = Math.min(packet.data.length, snapLen);
    view.setUint32(offset, seconds, true);
    view.setUint32(offset + 4, fraction, true);
    view.setUint32(offset + 8, captured, true);
    view.setUint32(offset + 12, packet.data.length, true);
    out.set(packet.data.subarray(0, captured), offset + RECORD_HEADER_BYTES);
    offset += RECORD_HEADER_BYTES + captured;
  });
  return out;
}

/** Encodes packets with encodePcap and writes them to path (replacing any existing file). */
export async function writePcap(path: string, packets: readonly PcapPacket[], options?: PcapOptions): Promise<void> {
  if (typeof path !== 'string' || path.length === 0) {
    throw new TypeError(`pcap path must be a non-empty string, got ${describe(path)}`);
  }
  await writeFile(path, encodePcap(packets, options));
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === 'object') return value.constructor?.name ?? 'an object';
  return `${typeof value} ${String(value)}`;
}
