// A batch of decoded capture records: parallel typed arrays over one read
// buffer, so that reading a record costs no object, no Promise and no copy.

import { describeReason } from './no-ip.js';

/** One packet record of a capture file. */
export interface CaptureRecord {
  /** 0-based number of the packet record in the file (pcapng: counting EPB, SPB and OPB only). */
  index: number;
  /** pcapng section (0-based, counting SHBs); 0 for pcap. */
  section: number;
  /** pcapng interface id within its section; 0 for pcap. */
  interface: number;
  /** LINKTYPE_* of the frame (as found in the file: 12 and 14 stay 12 and 14). */
  linkType: number;
  /** Capture time in nanoseconds since the Unix epoch (finer resolutions are truncated to ns). */
  timeNs: bigint;
  /** Bytes captured (data.length). */
  caplen: number;
  /** Length of the frame on the wire (≥ caplen). */
  wireLength: number;
  /** The captured frame, starting at its link-layer header. */
  data: Uint8Array;
  /**
   * The IP packet inside the frame (a view into data), ending where the IP length
   * says (so Ethernet padding and FCS are left out) or where the capture stopped;
   * null when the frame carries no usable IP packet (see reason).
   */
  ip: Uint8Array | null;
  /** Length of the IP packet on the wire (≥ ip.length when the capture cut it short); 0 when ip is null. */
  ipWireLength: number;
  /** Why ip is null, e.g. "ethertype 0x0806 is not IPv4 or IPv6"; null when ip is set. */
  reason: string | null;
  /** Byte offset in the file of the record header (pcap) or block (pcapng). */
  fileOffset: number;
}

/**
 * Records n = 0 .. count-1 of a batch are records firstIndex + n of the file.
 * Offsets (offset, ipOffset) index `bytes`. A batch from Capture.batches() and
 * its `bytes` are reused: they are valid until the iterator is resumed.
 */
export class RecordBatch {
  /** Number of records in the batch. */
  count = 0;
  /** File record number of record 0 of the batch. */
  firstIndex = 0;
  /** The buffer the offsets point into. */
  bytes: Uint8Array = new Uint8Array(0);
  readonly capacity: number;

  /** Offset of each frame in bytes. */
  readonly offset: Uint32Array;
  readonly caplen: Uint32Array;
  readonly wireLength: Uint32Array;
  /** Offset of the IP packet in bytes, or -1 when the record has none. */
  readonly ipOffset: Int32Array;
  /** Captured bytes of the IP packet. */
  readonly ipLength: Uint32Array;
  readonly ipWireLength: Uint32Array;
  /** Whole seconds of the timestamp since the epoch (an integer; exact). */
  readonly timeSec: Float64Array;
  /** Nanoseconds within the second (0 .. 999 999 999). */
  readonly timeFracNs: Uint32Array;
  readonly section: Uint32Array;
  readonly iface: Uint32Array;
  readonly linkType: Uint32Array;
  /** Byte offset in the file of each record's header or block. */
  readonly fileOffset: Float64Array;
  /** Why a record has no IP packet (0: it has one); see reason(). */
  readonly reasonCode: Uint8Array;
  readonly reasonDetail: Uint32Array;

  constructor(capacity: number) {
    this.capacity = capacity;
    this.offset = new Uint32Array(capacity);
    this.caplen = new Uint32Array(capacity);
    this.wireLength = new Uint32Array(capacity);
    this.ipOffset = new Int32Array(capacity);
    this.ipLength = new Uint32Array(capacity);
    this.ipWireLength = new Uint32Array(capacity);
    this.timeSec = new Float64Array(capacity);
    this.timeFracNs = new Uint32Array(capacity);
    this.section = new Uint32Array(capacity);
    this.iface = new Uint32Array(capacity);
    this.linkType = new Uint32Array(capacity);
    this.fileOffset = new Float64Array(capacity);
    this.reasonCode = new Uint8Array(capacity);
    this.reasonDetail = new Uint32Array(capacity);
  }

  /** The frame of record n (a view into bytes). */
  data(n: number): Uint8Array {
    const o = this.offset[n]!;
    return this.bytes.subarray(o, o + this.caplen[n]!);
  }

  /** The IP packet of record n (a view into bytes), or null. */
  ip(n: number): Uint8Array | null {
    const o = this.ipOffset[n]!;
    return o < 0 ? null : this.bytes.subarray(o, o + this.ipLength[n]!);
  }

  /** Timestamp of record n in ns since the epoch. */
  timeNs(n: number): bigint {
    return BigInt(this.timeSec[n]!) * 1_000_000_000n + BigInt(this.timeFracNs[n]!);
  }

  /** Timestamp of record n in (fractional) milliseconds since the epoch; exact to about 0.25 µs today. */
  timeMs(n: number): number {
    return this.timeSec[n]! * 1000 + this.timeFracNs[n]! / 1e6;
  }

  /** Why record n has no IP packet, or null. */
  reason(n: number): string | null {
    return describeReason(this.reasonCode[n]!, this.reasonDetail[n]!);
  }

  /** Record n as an object; data and ip are views into bytes. */
  record(n: number): CaptureRecord {
    const ipOffset = this.ipOffset[n]!;
    const offset = this.offset[n]!;
    const data = this.bytes.subarray(offset, offset + this.caplen[n]!);
    return {
      index: this.firstIndex + n,
      section: this.section[n]!,
      interface: this.iface[n]!,
      linkType: this.linkType[n]!,
      timeNs: this.timeNs(n),
      caplen: this.caplen[n]!,
      wireLength: this.wireLength[n]!,
      data,
      ip: ipOffset < 0 ? null : data.subarray(ipOffset - offset, ipOffset - offset + this.ipLength[n]!),
      ipWireLength: this.ipWireLength[n]!,
      reason: this.reason(n),
      fileOffset: this.fileOffset[n]!,
    };
  }
}
