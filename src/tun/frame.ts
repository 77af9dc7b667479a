// The outer headers of ESP in UDP received on the gateway's socket. The kernel took
// the IPv4 and UDP headers off; the engine's inbound path classifies whole packets
// (outer IPv4 + UDP to 4500 + ESP, RFC 3948), so they are written back in front of
// each datagram, in place, in the headroom UdpPort leaves before it. The socket is
// connected, so every datagram comes from the peer: one header template per gateway,
// and per packet only the two lengths and the IPv4 checksum change.

import { IPV4_MIN_HEADER, NATT_PORT, PROTO_UDP, UDP_HEADER as UDP_HEADER_LEN } from '../../assembly/wire-defs.js';
import { emitIpv4, fillIpv4Checksum, Ipv4Field } from '../wire/ipv4.js';
import type { PacketBuffer } from '../engine/packets.js';
import type { DatagramBatch } from './udp.js';

export const IPV4_HEADER = IPV4_MIN_HEADER;
export const UDP_HEADER = UDP_HEADER_LEN;
/** Octets UdpPort must leave free in front of each datagram. */
export const OUTER_HEADROOM = IPV4_HEADER + UDP_HEADER;

export class InboundFramer {
  private readonly template = new Uint8Array(OUTER_HEADROOM);
  private readonly offsets: Uint32Array;
  private readonly lengths: Uint32Array;
  private readonly view: { data: Uint8Array; offsets: Uint32Array; lengths: Uint32Array; count: number };

  constructor(peer: { address: string; port: number }, local: string, capacity: number) {
    emitIpv4({ src: peer.address, dst: local, protocol: PROTO_UDP, payloadLength: UDP_HEADER }, this.template);
    const t = this.template;
    t[20] = peer.port >> 8; t[21] = peer.port & 0xff;
    t[22] = NATT_PORT >> 8; t[23] = NATT_PORT & 0xff;
    // UDP checksum zero, as RFC 3948 §2.1 sends it (the socket already checked it).
    this.offsets = new Uint32Array(capacity);
    this.lengths = new Uint32Array(capacity);
    this.view = { data: new Uint8Array(0), offsets: this.offsets, lengths: this.lengths, count: 0 };
  }

  /** Write the outer headers in front of every datagram of `batch`; the batch as whole packets for Engine.input(). */
  frame(batch: DatagramBatch): PacketBuffer {
    const b = batch.data;
    const t = this.template;
    for (let i = 0; i < batch.count; i++) {
      const len = batch.lengths[i];
      const at = batch.offsets[i] - OUTER_HEADROOM;
      b.set(t, at);
      const total = OUTER_HEADROOM + len;
      b[at + Ipv4Field.TOTAL_LEN] = total >> 8;
      b[at + Ipv4Field.TOTAL_LEN + 1] = total & 0xff;
      b[at + 24] = (UDP_HEADER + len) >> 8;
      b[at + 25] = (UDP_HEADER + len) & 0xff;
      fillIpv4Checksum(b, at);
      this.offsets[i] = at;
      this.lengths[i] = total;
    }
    this.view.data = b;
    this.view.count = batch.count;
    return this.view;
  }
}
