// The outer headers of ESP in UDP received on a gateway's socket. The kernel took
// the IPv4 and UDP headers off; the engine's inbound path classifies whole packets
// (outer IPv4 + UDP to 4500 + ESP, RFC 3948), so they are written back in front of
// each datagram, in place, in the headroom DatagramBatcher leaves before it. One
// template holds what every header shares; per datagram only the addresses, the
// source port, the two lengths and the IPv4 checksum change (the batch carries each
// datagram's source and local address: one framer for every peer and both gateway
// modes, manual SAs and IKE).

import { IPV4_MIN_HEADER, NATT_PORT, PROTO_UDP, UDP_HEADER as UDP_HEADER_LEN } from '../../assembly/wire-defs.js';
import { emitIpv4, Ipv4Field } from '../wire/ipv4.js';
import type { PacketBuffer } from '../engine/packets.js';
import type { DatagramBatch } from './udp.js';

export const IPV4_HEADER = IPV4_MIN_HEADER;
export const UDP_HEADER = UDP_HEADER_LEN;
/** Octets DatagramBatcher must leave free in front of each datagram. */
export const OUTER_HEADROOM = IPV4_HEADER + UDP_HEADER;

const SRC = Ipv4Field.SRC_ADDR;
const DST = Ipv4Field.DST_ADDR;
const LEN = Ipv4Field.TOTAL_LEN;
const CHECKSUM = Ipv4Field.CHECKSUM;
const SPORT = IPV4_HEADER;
const ULEN = IPV4_HEADER + 4;

/** Writes the outer IPv4 + UDP headers in front of each datagram of a batch. */
export class InboundFramer {
  private readonly template = new Uint8Array(OUTER_HEADROOM);
  /** The template's one's-complement sum of its 16-bit words, without the fields filled per datagram. */
  private readonly templateSum: number;
  private readonly offsets: Uint32Array;
  private readonly lengths: Uint32Array;
  private readonly view: { data: Uint8Array; offsets: Uint32Array; lengths: Uint32Array; count: number };

  /** `dport`: the UDP destination port written (the engine's inbound path looks for 4500, RFC 3948). */
  constructor(capacity: number, dport = NATT_PORT) {
    emitIpv4({ src: '0.0.0.0', dst: '0.0.0.0', protocol: PROTO_UDP, payloadLength: 0 }, this.template);
    const t = this.template;
    t[LEN] = 0; t[LEN + 1] = 0;
    t[CHECKSUM] = 0; t[CHECKSUM + 1] = 0;
    t[IPV4_HEADER + 2] = dport >> 8; t[IPV4_HEADER + 3] = dport & 0xff;
    // UDP checksum zero, as RFC 3948 §2.1 sends it (the socket already checked it).
    let sum = 0;
    for (let i = 0; i < IPV4_HEADER; i += 2) sum += (t[i] << 8) | t[i + 1];
    this.templateSum = sum;
    this.offsets = new Uint32Array(capacity);
    this.lengths = new Uint32Array(capacity);
    this.view = { data: new Uint8Array(0), offsets: this.offsets, lengths: this.lengths, count: 0 };
  }

  /** Write the outer headers in front of every datagram of `batch`; the batch as whole packets for Engine.input(). */
  frame(batch: DatagramBatch): PacketBuffer {
    const b = batch.data;
    for (let i = 0; i < batch.count; i++) {
      const at = batch.offsets[i] - OUTER_HEADROOM;
      this.offsets[i] = at;
      this.lengths[i] = this.frameOne(b, at, batch.lengths[i], batch.srcAddrs[i], batch.dstAddrs[i], batch.srcPorts[i]);
    }
    this.view.data = b;
    this.view.count = batch.count;
    return this.view;
  }

  /**
   * Write the outer headers of one datagram of `len` octets into the OUTER_HEADROOM
   * octets at `at` of `b` (the datagram follows them): from `src`:`sport` to `dst`
   * (IPv4 addresses as 32-bit numbers). Returns the whole packet's length. The
   * worker threads' steered batches (queue-worker.ts) frame through this too.
   */
  frameOne(b: Uint8Array, at: number, len: number, src: number, dst: number, sport: number): number {
    b.set(this.template, at);
    const total = OUTER_HEADROOM + len;
    b[at + LEN] = total >> 8;
    b[at + LEN + 1] = total & 0xff;
    b[at + SRC] = src >>> 24; b[at + SRC + 1] = (src >>> 16) & 0xff; b[at + SRC + 2] = (src >>> 8) & 0xff; b[at + SRC + 3] = src & 0xff;
    b[at + DST] = dst >>> 24; b[at + DST + 1] = (dst >>> 16) & 0xff; b[at + DST + 2] = (dst >>> 8) & 0xff; b[at + DST + 3] = dst & 0xff;
    b[at + SPORT] = sport >> 8;
    b[at + SPORT + 1] = sport & 0xff;
    b[at + ULEN] = (UDP_HEADER + len) >> 8;
    b[at + ULEN + 1] = (UDP_HEADER + len) & 0xff;
    // RFC 791 header checksum: the template's sum plus the words filled here (RFC 1071).
    let sum = this.templateSum + total + (src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff);
    sum = (sum & 0xffff) + (sum >>> 16);
    sum = (sum & 0xffff) + (sum >>> 16);
    const check = ~sum & 0xffff;
    b[at + CHECKSUM] = check >> 8;
    b[at + CHECKSUM + 1] = check & 0xff;
    return total;
  }
}
