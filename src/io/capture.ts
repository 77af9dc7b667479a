// Capture file I/O: the public entry point.
//
// Reading (pcap and pcapng, streaming, bounded memory):
//
//   for await (const r of openCapture('in.pcapng')) use(r.timeNs, r.ip);      // one record at a time
//
//   for await (const b of openCapture('in.pcap').batches()) {                  // fast path
//     for (let i = 0; i < b.count; i++) if (b.ipOffset[i] >= 0) use(b.bytes, b.ipOffset[i], b.ipLength[i]);
//   }
//
//   for (const r of openCaptureSync(bytesOrPath)) ...                          // synchronous
//
// Anything wrong with a file's contents throws a CaptureError naming the file,
// the record number, the byte offset and the reason. A frame that is not IP is
// not an error: its record has ip null and a reason.
//
// Writing: createPcapWriter / createPcapngWriter (streaming); encodePcap /
// writePcap (whole files in memory) are in pcap-writer.ts and re-exported here.

export { CaptureError, type CaptureErrorCode } from './capture-error.js';
export { RecordBatch, type CaptureRecord } from './batch.js';
export type { CaptureInfo, InterfaceInfo } from './input.js';
export { MAX_CAPLEN } from './input.js';
export {
  Capture, CaptureSync, DEFAULT_BATCH_SIZE, DEFAULT_CHUNK_SIZE, openCapture, openCaptureSync,
  type CaptureOptions, type ReaderStats, type SyncCaptureOptions,
} from './reader.js';
export {
  DLT_RAW_12, DLT_RAW_14, LINKTYPE_IPV4, LINKTYPE_IPV6, LINKTYPE_LINUX_SLL, LINKTYPE_LINUX_SLL2, LINKTYPE_LOOP, LINKTYPE_NULL,
  SUPPORTED_LINK_TYPES, isSupportedLinkType, linkTypeName,
} from './linktype.js';
export { describeReason } from './no-ip.js';
export {
  DEFAULT_SNAP_LEN, LINKTYPE_ETHERNET, LINKTYPE_RAW, PCAP_MAGIC_MICROSECONDS, PCAP_MAGIC_NANOSECONDS, encodePcap, writePcap,
  type PcapOptions, type PcapPacket,
} from './pcap-writer.js';
export {
  PcapWriter, PcapngWriter, createPcapWriter, createPcapngWriter,
  type PcapWriterOptions, type PcapngInterface, type PcapngWriterOptions, type WriteRecord,
} from './writers.js';
export { MAX_BLOCK as PCAPNG_MAX_BLOCK } from './pcapng.js';
