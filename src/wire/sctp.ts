// SCTP common header (RFC 9260 §3.1). Chunks are left to the caller as opaque bytes.

import { availableFrom, readU16, readU32, requireRange, requireRoom, tooShort, writeU16, writeU32 } from './field.js';
import * as W from '../../assembly/wire-defs.js';

export const SCTP_COMMON_HEADER_LEN = W.SCTP_COMMON_HEADER;

export const SctpField = {
  SRC_PORT: 0,
  DST_PORT: 2,
  VERIFICATION_TAG: 4,
  CHECKSUM: 8,
  CHUNKS: 12,
} as const;

// CRC32c (Castagnoli), reflected polynomial, as RFC 9260 Appendix A specifies.
const CRC32C_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

export function crc32c(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) crc = CRC32C_TABLE[(crc ^ bytes[i]) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

/**
 * The SCTP checksum of a packet: CRC32c over the whole packet with the checksum
 * field taken as zero. Returned as the field reads in network order, which is the
 * CRC with its bytes swapped: RFC 9260 transmits the CRC least significant byte first.
 */
export function sctpChecksum(packet: Uint8Array): number {
  const copy = packet.slice();
  copy.fill(0, SctpField.CHECKSUM, SctpField.CHECKSUM + 4);
  const crc = crc32c(copy);
  return (((crc & 0xff) << 24) | ((crc & 0xff00) << 8) | ((crc >>> 8) & 0xff00) | (crc >>> 24)) >>> 0;
}

/** A checked view of an SCTP packet's common header; `bytes` from `offset` to the end are the packet. */
export class SctpPacket {
  private constructor(readonly bytes: Uint8Array, readonly offset: number) {}

  static check(bytes: Uint8Array, offset = 0): SctpPacket {
    const available = availableFrom('SCTP common header', bytes, offset);
    if (available < SCTP_COMMON_HEADER_LEN) throw tooShort('SCTP common header', SCTP_COMMON_HEADER_LEN, available);
    return new SctpPacket(bytes, offset);
  }

  get srcPort(): number { return readU16(this.bytes, this.offset + SctpField.SRC_PORT); }
  get dstPort(): number { return readU16(this.bytes, this.offset + SctpField.DST_PORT); }
  get verificationTag(): number { return readU32(this.bytes, this.offset + SctpField.VERIFICATION_TAG); }
  get checksum(): number { return readU32(this.bytes, this.offset + SctpField.CHECKSUM); }
  get chunks(): Uint8Array { return this.bytes.subarray(this.offset + SCTP_COMMON_HEADER_LEN); }

  /**
   * CRC32c only. Packets from RFC 2960-era stacks carry an Adler-32 checksum
   * instead and fail this check.
   */
  verifyChecksum(): boolean {
    return sctpChecksum(this.bytes.subarray(this.offset)) === this.checksum;
  }
}

export interface SctpRepr {
  srcPort: number;
  dstPort: number;
  verificationTag: number;
  /** Chunks, already encoded. */
  chunks?: Uint8Array;
}

/** Write the common header and the chunks with their CRC32c. Returns the bytes written. */
export function emitSctp(repr: SctpRepr, buffer: Uint8Array, offset = 0): number {
  const chunks = repr.chunks ?? new Uint8Array(0);
  const length = SCTP_COMMON_HEADER_LEN + chunks.length;
  requireRoom('SCTP packet', buffer, offset, length);
  writeU16(buffer, offset + SctpField.SRC_PORT, requireRange('srcPort', repr.srcPort, 0, 0xffff));
  writeU16(buffer, offset + SctpField.DST_PORT, requireRange('dstPort', repr.dstPort, 0, 0xffff));
  writeU32(buffer, offset + SctpField.VERIFICATION_TAG, requireRange('verificationTag', repr.verificationTag, 0, 0xffffffff));
  writeU32(buffer, offset + SctpField.CHECKSUM, 0);
  buffer.set(chunks, offset + SCTP_COMMON_HEADER_LEN);
  writeU32(buffer, offset + SctpField.CHECKSUM, sctpChecksum(buffer.subarray(offset, offset + length)));
  return length;
}
