// The numbers that identify capture file formats, defined once for the readers
// (pcap.ts, pcapng.ts, reader.ts) and the writers (pcap-writer.ts, writers.ts).

/** Swap the byte order of a 32-bit number: how a magic reads from a file of the other byte order. */
export function swap32(x: number): number {
  return (((x & 0xff) << 24) | ((x & 0xff00) << 8) | ((x >>> 8) & 0xff00) | (x >>> 24)) >>> 0;
}

// Classic pcap (libpcap's savefile format).
/** Magic number of a file whose timestamps carry microseconds. */
export const PCAP_MAGIC_MICROSECONDS = 0xa1b2c3d4;
/** Magic number of a file whose timestamps carry nanoseconds. */
export const PCAP_MAGIC_NANOSECONDS = 0xa1b23c4d;
export const PCAP_FILE_HEADER_BYTES = 24;
export const PCAP_RECORD_HEADER_BYTES = 16;
export const PCAP_VERSION_MAJOR = 2;
export const PCAP_VERSION_MINOR = 4;

/** Snap length written when none is given (libpcap's usual maximum). */
export const DEFAULT_SNAP_LEN = 262_144;

/** Write a little-endian classic pcap file header (version 2.4) at `at`. */
export function writePcapFileHeader(dv: DataView, at: number, header: { nanoseconds: boolean; snapLen: number; linkType: number }): void {
  dv.setUint32(at, header.nanoseconds ? PCAP_MAGIC_NANOSECONDS : PCAP_MAGIC_MICROSECONDS, true);
  dv.setUint16(at + 4, PCAP_VERSION_MAJOR, true);
  dv.setUint16(at + 6, PCAP_VERSION_MINOR, true);
  dv.setUint32(at + 8, 0, true); // reserved (was thiszone)
  dv.setUint32(at + 12, 0, true); // reserved (was sigfigs)
  dv.setUint32(at + 16, header.snapLen, true);
  dv.setUint32(at + 20, header.linkType, true);
}

/** Is this 32-bit word (read little-endian) the start of a classic pcap file of either byte order and resolution? */
export function isPcapMagic(magic: number): boolean {
  return magic === PCAP_MAGIC_MICROSECONDS || magic === swap32(PCAP_MAGIC_MICROSECONDS)
    || magic === PCAP_MAGIC_NANOSECONDS || magic === swap32(PCAP_MAGIC_NANOSECONDS);
}

// pcapng block types and the section header's byte-order magic.
export const BLOCK_SHB = 0x0a0d0d0a;
export const BLOCK_IDB = 0x00000001;
export const BLOCK_OPB = 0x00000002;
export const BLOCK_SPB = 0x00000003;
export const BLOCK_ISB = 0x00000005;
export const BLOCK_EPB = 0x00000006;
export const BYTE_ORDER_MAGIC = 0x1a2b3c4d;
