// Reader for pcapng (draft-ietf-opsawg-pcapng).
//
// A file is a sequence of blocks: type u32, total length u32, body, total length
// u32 again. Each Section Header Block (SHB) starts a section with its own byte
// order (told by its byte-order magic 0x1a2b3c4d) and its own interfaces. Read:
//
//   SHB 0x0a0d0d0a  byte-order magic, version 1.x, section length (ignored), options (ignored)
//   IDB 0x00000001  link type u16, reserved u16, snap length u32, options:
//                   if_name (2), if_tsresol (9), if_tsoffset (14)
//   EPB 0x00000006  interface u32, timestamp hi/lo u32, captured u32, original u32, data, options
//   SPB 0x00000003  original u32, data; interface 0; captured = min(original, room in the
//                   block, interface 0's snap length); no timestamp (timeNs 0, as libpcap)
//   OPB 0x00000002  interface u16, drops u16, timestamp hi/lo, captured, original, data
//
// Every other block type (ISB, NRB, DSB, custom, ...) is skipped after the same
// length checks. Refused (CaptureError): a block total length below 12, not a
// multiple of 4, above 16 MiB (libpcap's limit) or different from the trailer;
// a block too short for its fixed fields; an option running past its block;
// an unknown byte-order magic; a major version other than 1; a packet for an
// interface the section has not described; a packet on an interface whose link
// type is unsupported (the IDB itself is accepted, so that captures with an unused
// interface of another type are still read); a captured length above 256 KiB, the
// interface's snap length or the original length; if_tsresol or if_tsoffset of
// the wrong size or out of range; a timestamp beyond 2^52 seconds; and a file that
// ends inside a block.

import type { RecordBatch } from './batch.js';
import type { CaptureError } from './capture-error.js';
import { MAX_CAPLEN, type CaptureInfo, type InterfaceInfo, type Input, type Parser } from './input.js';
import { KIND_UNSUPPORTED, decodeLink, linkKind, unsupportedLinkType, type LinkKind } from './linktype.js';

import { BLOCK_EPB, BLOCK_IDB, BLOCK_ISB, BLOCK_OPB, BLOCK_SHB, BLOCK_SPB, BYTE_ORDER_MAGIC, swap32 } from './formats.js';

export { BLOCK_EPB, BLOCK_IDB, BLOCK_ISB, BLOCK_OPB, BLOCK_SHB, BLOCK_SPB, BYTE_ORDER_MAGIC } from './formats.js';
/** Largest block accepted (libpcap's limit). */
export const MAX_BLOCK = 16 * 1024 * 1024;

const OPT_ENDOFOPT = 0;
const OPT_IF_NAME = 2;
const OPT_IF_TSRESOL = 9;
const OPT_IF_TSOFFSET = 14;

const TWO32 = 4294967296;
const MAX_SEC = 2 ** 52;

interface Iface {
  info: InterfaceInfo;
  kind: LinkKind;
  snapLen: number;
  /** Ticks per second when it is 10^k with k <= 9 (the fast timestamp paths), else 0. */
  tps: number;
  /** ns per tick when tps is set. */
  nsPerTick: number;
  /** tps >= 4096: the 64-bit tick count may be divided with doubles and fixed up with imul. */
  wide: boolean;
  tpsBig: bigint;
  offsetSec: number;
}

function blockName(type: number): string {
  switch (type) {
    case BLOCK_SHB: return 'section header block';
    case BLOCK_IDB: return 'interface description block';
    case BLOCK_EPB: return 'enhanced packet block';
    case BLOCK_SPB: return 'simple packet block';
    case BLOCK_OPB: return 'packet block';
    case BLOCK_ISB: return 'interface statistics block';
    default: return `block of type 0x${type.toString(16).padStart(8, '0')}`;
  }
}

export class PcapngParser implements Parser {
  record = 0;
  private le = true;
  private section = -1;
  private version = '';
  private ifaces: Iface[] = [];
  private readonly allIfaces: InterfaceInfo[] = [];

  constructor(private readonly input: Input) {}

  fill(b: RecordBatch): number {
    const inp = this.input;
    const buf = inp.buf;
    const dv = inp.dv;
    const end = inp.end;
    const base = inp.base;
    const cap = b.capacity;
    let le = this.le;
    let pos = inp.pos;
    let n = b.count;
    while (n < cap) {
      if (end - pos < 12) return 12;
      const type = dv.getUint32(pos, le);
      if (type === BLOCK_SHB) {
        // The byte order of a section is that of its own header.
        const bom = dv.getUint32(pos + 8, true);
        if (bom === BYTE_ORDER_MAGIC) le = true;
        else if (bom === swap32(BYTE_ORDER_MAGIC)) le = false;
        else throw inp.error('malformed', this.record, pos, `section header byte-order magic 0x${bom.toString(16).padStart(8, '0')} is not 0x${BYTE_ORDER_MAGIC.toString(16)} in either byte order`);
      }
      const len = dv.getUint32(pos + 4, le);
      if (len < 12 || (len & 3) !== 0 || len > MAX_BLOCK) {
        throw inp.error('malformed', this.record, pos, `${blockName(type)}: total length ${len} is ${len > MAX_BLOCK ? `above the ${MAX_BLOCK}-byte limit` : len < 12 ? 'below 12' : 'not a multiple of 4'}`);
      }
      if (end - pos < len) return len;
      const trailer = dv.getUint32(pos + len - 4, le);
      if (trailer !== len) {
        throw inp.error('malformed', this.record, pos, `${blockName(type)}: total length ${len} at the start but ${trailer} at the end`);
      }
      if (type === BLOCK_EPB || type === BLOCK_OPB) {
        const epb = type === BLOCK_EPB;
        if (len < 32) throw inp.error('malformed', this.record, pos, `${blockName(type)}: total length ${len} is below 32`);
        const id = epb ? dv.getUint32(pos + 8, le) : dv.getUint16(pos + 8, le);
        const iface = this.iface(id, pos, type);
        const hi = dv.getUint32(pos + 12, le);
        const lo = dv.getUint32(pos + 16, le);
        const caplen = dv.getUint32(pos + 20, le);
        const wire = dv.getUint32(pos + 24, le);
        if (caplen > len - 32) this.lengths(pos, type, caplen, wire, len - 32, iface);
        if (caplen > MAX_CAPLEN || caplen > wire || (iface.snapLen !== 0 && caplen > iface.snapLen)) {
          this.lengths(pos, type, caplen, wire, len - 32, iface);
        }
        const off = pos + 28;
        b.offset[n] = off;
        b.caplen[n] = caplen;
        b.wireLength[n] = wire;
        if (iface.tps !== 0 && (hi < 0x200000 || iface.wide)) {
          const tps = iface.tps;
          const t = hi * TWO32 + lo;
          let sec = Math.floor(t / tps);
          let rem: number;
          // t is exact below 2^53; above, the quotient is within 1 of the truth
          // (tps >= 4096) and the remainder is exact modulo 2^32 and below 2^31.
          if (hi < 0x200000) rem = t - sec * tps;
          else rem = (lo - Math.imul(sec % TWO32, tps)) | 0;
          if (rem < 0) {
            sec--;
            rem += tps;
          } else if (rem >= tps) {
            sec++;
            rem -= tps;
          }
          // One tick a second (if_tsresol 0 or 0x80) reaches past 2^52 s below 2^53
          // ticks: the slow path refuses it, as it does for every other resolution.
          if (sec > MAX_SEC) this.slowTime(b, n, iface, hi, lo, pos);
          b.timeSec[n] = sec + iface.offsetSec;
          b.timeFracNs[n] = rem * iface.nsPerTick;
        } else {
          this.slowTime(b, n, iface, hi, lo, pos);
        }
        b.section[n] = this.section;
        b.iface[n] = id;
        b.linkType[n] = iface.info.linkType;
        b.fileOffset[n] = base + pos;
        decodeLink(b, n, buf, off, caplen, wire, iface.kind);
        b.count = ++n;
        this.record++;
      } else if (type === BLOCK_SPB) {
        if (len < 16) throw inp.error('malformed', this.record, pos, `${blockName(type)}: total length ${len} is below 16`);
        const iface = this.iface(0, pos, type);
        const wire = dv.getUint32(pos + 8, le);
        let caplen = len - 16;
        if (wire < caplen) caplen = wire;
        if (iface.snapLen !== 0 && iface.snapLen < caplen) caplen = iface.snapLen;
        if (caplen > MAX_CAPLEN) this.lengths(pos, type, caplen, wire, len - 16, iface);
        const off = pos + 12;
        b.offset[n] = off;
        b.caplen[n] = caplen;
        b.wireLength[n] = wire;
        b.timeSec[n] = 0;
        b.timeFracNs[n] = 0;
        b.section[n] = this.section;
        b.iface[n] = 0;
        b.linkType[n] = iface.info.linkType;
        b.fileOffset[n] = base + pos;
        decodeLink(b, n, buf, off, caplen, wire, iface.kind);
        b.count = ++n;
        this.record++;
      } else if (type === BLOCK_IDB) {
        this.idb(pos, len, le);
      } else if (type === BLOCK_SHB) {
        this.shb(pos, len, le);
        this.le = le;
      }
      // Any other block is skipped.
      pos += len;
      inp.pos = pos;
    }
    return 0;
  }

  private iface(id: number, pos: number, type: number): Iface {
    const iface = this.ifaces[id];
    const inp = this.input;
    if (iface === undefined) {
      const have = this.ifaces.length;
      throw inp.error('malformed', this.record, pos,
        `${blockName(type)}: interface ${id} is not described in section ${this.section} (it has ${have} interface${have === 1 ? '' : 's'})`);
    }
    if (iface.kind === KIND_UNSUPPORTED) {
      throw inp.error('unsupported', this.record, pos, `interface ${id}: ${unsupportedLinkType(iface.info.linkType)}`);
    }
    return iface;
  }

  private lengths(pos: number, type: number, caplen: number, wire: number, room: number, iface: Iface): never {
    let reason: string;
    if (caplen > room) reason = `captured length ${caplen} runs past the end of the block (room for ${room})`;
    else if (caplen > MAX_CAPLEN) reason = `captured length ${caplen} exceeds the maximum of ${MAX_CAPLEN} bytes`;
    else if (caplen > wire) reason = `captured length ${caplen} exceeds the original length ${wire}`;
    else reason = `captured length ${caplen} exceeds interface ${iface.info.id}'s snapshot length ${iface.snapLen}`;
    throw this.input.error('malformed', this.record, pos, `${blockName(type)}: ${reason}`);
  }

  private slowTime(b: RecordBatch, n: number, iface: Iface, hi: number, lo: number, pos: number): void {
    const t = (BigInt(hi) << 32n) | BigInt(lo);
    const sec = t / iface.tpsBig;
    if (sec > BigInt(MAX_SEC)) {
      throw this.input.error('malformed', this.record, pos,
        `timestamp ${t} at ${iface.tpsBig} per second is ${sec} s after the epoch, beyond 2^52 s`);
    }
    const rem = t % iface.tpsBig;
    b.timeSec[n] = Number(sec) + iface.offsetSec;
    b.timeFracNs[n] = Number((rem * 1_000_000_000n) / iface.tpsBig);
  }

  private shb(pos: number, len: number, le: boolean): void {
    const inp = this.input;
    const dv = inp.dv;
    if (len < 28) throw inp.error('malformed', this.record, pos, `section header block: total length ${len} is below 28`);
    const major = dv.getUint16(pos + 12, le);
    const minor = dv.getUint16(pos + 14, le);
    if (major !== 1) throw inp.error('unsupported', this.record, pos, `pcapng version ${major}.${minor} is not supported (only 1.x)`);
    this.section++;
    this.version = `${major}.${minor}`;
    this.ifaces = [];
  }

  private idb(pos: number, len: number, le: boolean): void {
    const inp = this.input;
    const dv = inp.dv;
    const where = 'interface description block';
    if (len < 20) throw inp.error('malformed', this.record, pos, `${where}: total length ${len} is below 20`);
    const linkType = dv.getUint16(pos + 8, le);
    const snapLen = dv.getUint32(pos + 12, le);
    const id = this.ifaces.length;
    let name: string | null = null;
    let resol = 6;
    let offsetSec = 0;
    const end = pos + len - 4;
    let at = pos + 16;
    while (end - at >= 4) {
      const code = dv.getUint16(at, le);
      const olen = dv.getUint16(at + 2, le);
      if (code === OPT_ENDOFOPT) break;
      const padded = (olen + 3) & ~3;
      if (padded > end - at - 4) {
        throw inp.error('malformed', this.record, pos, `${where} (interface ${id}): option ${code} of ${olen} bytes at byte ${inp.base + at} runs past the end of the block`);
      }
      const value = at + 4;
      if (code === OPT_IF_TSRESOL) {
        if (olen !== 1) throw inp.error('malformed', this.record, pos, `${where} (interface ${id}): if_tsresol is ${olen} bytes, not 1`);
        resol = inp.buf[value]!;
      } else if (code === OPT_IF_TSOFFSET) {
        if (olen !== 8) throw inp.error('malformed', this.record, pos, `${where} (interface ${id}): if_tsoffset is ${olen} bytes, not 8`);
        const high = le ? dv.getInt32(value + 4, true) : dv.getInt32(value, false);
        const low = le ? dv.getUint32(value, true) : dv.getUint32(value + 4, false);
        if (high < -0x100000 || high >= 0x100000) {
          const v = (BigInt(high) << 32n) | BigInt(low);
          throw inp.error('malformed', this.record, pos, `${where} (interface ${id}): if_tsoffset ${v} s is out of range (beyond ±2^52 s)`);
        }
        offsetSec = high * TWO32 + low;
      } else if (code === OPT_IF_NAME) {
        name = new TextDecoder('utf-8', { fatal: false }).decode(inp.buf.subarray(value, value + olen));
      }
      at = value + padded;
    }
    let tpsBig: bigint;
    let tps = 0;
    let nsPerTick = 0;
    if (resol & 0x80) {
      tpsBig = 1n << BigInt(resol & 0x7f);
      if ((resol & 0x7f) > 63) throw inp.error('malformed', this.record, pos, `${where} (interface ${id}): if_tsresol 0x${resol.toString(16)} (2^-${resol & 0x7f} s) is out of range`);
    } else {
      if (resol > 19) throw inp.error('malformed', this.record, pos, `${where} (interface ${id}): if_tsresol ${resol} (10^-${resol} s) is out of range`);
      tpsBig = 10n ** BigInt(resol);
      if (resol <= 9) {
        tps = Number(tpsBig);
        nsPerTick = 10 ** (9 - resol);
      }
    }
    const kind = linkKind(linkType);
    const info: InterfaceInfo = {
      section: this.section, id, linkType, snapLen, name, ticksPerSecond: tpsBig, offsetSec, supported: kind !== KIND_UNSUPPORTED,
    };
    this.ifaces.push({ info, kind, snapLen, tps, nsPerTick, wide: tps >= 4096, tpsBig, offsetSec });
    this.allIfaces.push(info);
  }

  atBoundary(): boolean {
    return this.section >= 0;
  }

  truncated(need: number): CaptureError {
    const inp = this.input;
    const avail = inp.end - inp.pos;
    if (avail < 12) {
      return inp.error('truncated', this.record, inp.pos, `block header is truncated: the file ends after ${avail} of its 12 bytes`);
    }
    const type = inp.dv.getUint32(inp.pos, this.le);
    return inp.error('truncated', this.record, inp.pos,
      `${blockName(type)} is truncated: its total length is ${need} bytes, the file ends after ${avail}`);
  }

  info(): CaptureInfo {
    return {
      format: 'pcapng',
      littleEndian: this.le,
      version: this.version,
      nanoseconds: false,
      sections: this.section + 1,
      interfaces: this.allIfaces.slice(),
    };
  }
}

