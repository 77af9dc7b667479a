// Reader for the classic libpcap format (draft-ietf-opsawg-pcap).
//
//   File header (24 bytes)              Record header (16 bytes)
//   0  magic         a1b2c3d4 (µs)      0  seconds            u32
//                    a1b23c4d (ns)      4  µs or ns           u32
//   4  version       u16 2, u16 4       8  captured length    u32
//   8  reserved      2 x u32           12  original length    u32
//  16  snap length   u32
//  20  link type     u32: low 16 bits the LINKTYPE_, bit 26 "FCS length present",
//                    bits 28-31 the FCS length in 16-bit words (ignored here)
//
// The byte order is the writer's, told by the magic. Refused (CaptureError):
// unknown magic, major version other than 2, unsupported link type (at the file
// header, before any record), a captured length above 256 KiB, above the snap
// length (when the snap length is in 1 .. 256 KiB) or above the original length,
// a timestamp fraction of a second or more, and a file that ends inside a header
// or record.

import type { RecordBatch } from './batch.js';
import type { CaptureError } from './capture-error.js';
import {
  PCAP_FILE_HEADER_BYTES, PCAP_MAGIC_MICROSECONDS, PCAP_MAGIC_NANOSECONDS, PCAP_RECORD_HEADER_BYTES, PCAP_VERSION_MAJOR, swap32,
} from './formats.js';
import { MAX_CAPLEN, type CaptureInfo, type Input, type Parser } from './input.js';
import { KIND_UNSUPPORTED, decodeLink, linkKind, unsupportedLinkType, type LinkKind } from './linktype.js';

const HEADER = PCAP_FILE_HEADER_BYTES;
const RECORD = PCAP_RECORD_HEADER_BYTES;

export class PcapParser implements Parser {
  record = 0;
  private headerDone = false;
  private le = true;
  private nanos = false;
  private versionMajor = 0;
  private versionMinor = 0;
  private snapLen = 0;
  private linkType = 0;
  private kind: LinkKind = KIND_UNSUPPORTED;
  private maxCap = MAX_CAPLEN;

  constructor(private readonly input: Input) {}

  private header(): void {
    const inp = this.input;
    const dv = inp.dv;
    const at = inp.pos;
    const magic = dv.getUint32(at, true);
    if (magic === PCAP_MAGIC_MICROSECONDS) this.le = true;
    else if (magic === swap32(PCAP_MAGIC_MICROSECONDS)) this.le = false;
    else if (magic === PCAP_MAGIC_NANOSECONDS) [this.le, this.nanos] = [true, true];
    else if (magic === swap32(PCAP_MAGIC_NANOSECONDS)) [this.le, this.nanos] = [false, true];
    else throw inp.error('malformed', 0, at, `not a pcap file: magic 0x${magic.toString(16).padStart(8, '0')}`);
    const le = this.le;
    this.versionMajor = dv.getUint16(at + 4, le);
    this.versionMinor = dv.getUint16(at + 6, le);
    if (this.versionMajor !== PCAP_VERSION_MAJOR) {
      throw inp.error('unsupported', 0, at, `pcap version ${this.versionMajor}.${this.versionMinor} is not supported (only 2.x)`);
    }
    this.snapLen = dv.getUint32(at + 16, le);
    const field = dv.getUint32(at + 20, le);
    this.linkType = field & 0xffff;
    this.kind = linkKind(this.linkType);
    if (this.kind === KIND_UNSUPPORTED) throw inp.error('unsupported', 0, at, unsupportedLinkType(this.linkType));
    this.maxCap = this.snapLen >= 1 && this.snapLen <= MAX_CAPLEN ? this.snapLen : MAX_CAPLEN;
    this.headerDone = true;
    inp.pos = at + HEADER;
  }

  fill(b: RecordBatch): number {
    const inp = this.input;
    if (!this.headerDone) {
      if (inp.end - inp.pos < HEADER) return HEADER;
      this.header();
    }
    const buf = inp.buf;
    const dv = inp.dv;
    const end = inp.end;
    const le = this.le;
    const nanos = this.nanos;
    const fracLimit = nanos ? 1_000_000_000 : 1_000_000;
    const maxCap = this.maxCap;
    const linkType = this.linkType;
    const kind = this.kind;
    const base = inp.base;
    const cap = b.capacity;
    let pos = inp.pos;
    let n = b.count;
    while (n < cap) {
      if (end - pos < RECORD) return RECORD;
      const sec = dv.getUint32(pos, le);
      const frac = dv.getUint32(pos + 4, le);
      const caplen = dv.getUint32(pos + 8, le);
      const wire = dv.getUint32(pos + 12, le);
      if (caplen > maxCap || caplen > wire || frac >= fracLimit) this.refuse(pos, caplen, wire, frac);
      if (end - pos - RECORD < caplen) return RECORD + caplen;
      const off = pos + RECORD;
      b.offset[n] = off;
      b.caplen[n] = caplen;
      b.wireLength[n] = wire;
      b.timeSec[n] = sec;
      b.timeFracNs[n] = nanos ? frac : frac * 1000;
      b.section[n] = 0;
      b.iface[n] = 0;
      b.linkType[n] = linkType;
      b.fileOffset[n] = base + pos;
      decodeLink(b, n, buf, off, caplen, wire, kind);
      pos = off + caplen;
      inp.pos = pos;
      b.count = ++n;
      this.record++;
    }
    return 0;
  }

  private refuse(at: number, caplen: number, wire: number, frac: number): never {
    const inp = this.input;
    let reason: string;
    if (caplen > MAX_CAPLEN) reason = `captured length ${caplen} exceeds the maximum of ${MAX_CAPLEN} bytes`;
    else if (caplen > this.maxCap) reason = `captured length ${caplen} exceeds the file's snapshot length ${this.snapLen}`;
    else if (caplen > wire) reason = `captured length ${caplen} exceeds the original length ${wire}`;
    else reason = `timestamp fraction ${frac} ${this.nanos ? 'ns' : 'µs'} is not below one second`;
    throw inp.error('malformed', this.record, at, reason);
  }

  atBoundary(): boolean {
    return this.headerDone;
  }

  truncated(need: number): CaptureError {
    const inp = this.input;
    const avail = inp.end - inp.pos;
    if (!this.headerDone) {
      return inp.error('truncated', 0, inp.pos, `file header is truncated: the file ends after ${avail} of its ${HEADER} bytes`);
    }
    if (avail < RECORD) {
      return inp.error('truncated', this.record, inp.pos, `record header is truncated: the file ends after ${avail} of its ${RECORD} bytes`);
    }
    return inp.error('truncated', this.record, inp.pos,
      `record is truncated: its header announces ${need - RECORD} captured bytes, the file ends after ${avail - RECORD}`);
  }

  info(): CaptureInfo {
    return {
      format: 'pcap',
      littleEndian: this.le,
      version: `${this.versionMajor}.${this.versionMinor}`,
      nanoseconds: this.nanos,
      sections: 1,
      interfaces: this.headerDone
        ? [{
            section: 0, id: 0, linkType: this.linkType, snapLen: this.snapLen, name: null,
            ticksPerSecond: this.nanos ? 1_000_000_000n : 1_000_000n, offsetSec: 0, supported: true,
          }]
        : [],
    };
  }
}
