// TUN offloads (issue 16): the device's virtio-net header, TCP segmentation of the
// frames the kernel hands over (TSO), and merging of the TCP segments the gateway
// writes back into one frame (the receive-side merge Linux calls GRO).
//
// Why: through two gateways most of a packet's cost is the kernel's, not larval's:
// a TUN read or write and the TCP stack's work on each 1400-octet segment. With
// IFF_VNET_HDR and TUNSETOFFLOAD (TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6) the sender's
// TCP hands the device frames of up to 64 KiB, read at once and cut here into the
// segments the peer would have seen (each sealed into its own ESP packet: nothing on
// the wire changes); the receiving gateway merges a run of consecutive segments of
// one TCP connection into one frame, which the kernel takes as one packet. This is
// what wireguard-go does on Linux; the layouts are the kernel's (include/uapi/linux/
// virtio_net.h, if_tun.h), the rules for merging those of Linux's tcp_gro_receive.
//
// Every read and write of such a device starts with the 10-octet header below.
// Checksums: TUN_F_CSUM lets the kernel leave a TCP or UDP checksum unfinished
// (VNET_F_NEEDS_CSUM: the field holds the pseudo-header sum, the rest is to be summed
// from csum_start on), so every frame read is finished here before anything sees it;
// a merged frame is written the same way (the kernel trusts a partial checksum as the
// local stack's own, which is why each segment's checksum is verified before it is
// merged, and a segment that fails is written alone for the kernel to drop).

import * as W from '../../assembly/wire-defs.js';
import { foldSum, packetSum } from '../wire/checksum.js';
import { readU16, readU32, writeU16, writeU32 } from '../wire/field.js';
import { Ipv4Field } from '../wire/ipv4.js';
import { Ipv6Field } from '../wire/ipv6.js';
import { TcpField, TcpFlag } from '../wire/tcp.js';

/** struct virtio_net_hdr (no num_buffers: TUNSETVNETHDRSZ stays at its default 10). */
export const VNET_HDR_LEN = 10;
export const VnetField = { FLAGS: 0, GSO_TYPE: 1, HDR_LEN: 2, GSO_SIZE: 4, CSUM_START: 6, CSUM_OFFSET: 8 } as const;
export const VNET_F_NEEDS_CSUM = 1;
export const VnetGso = { NONE: 0, TCPV4: 1, UDP: 3, TCPV6: 4, ECN: 0x80 } as const;
/** TUNSETOFFLOAD's flags (if_tun.h); the helper asks for all three. */
export const TUN_F_CSUM = 0x01;
export const TUN_F_TSO4 = 0x02;
export const TUN_F_TSO6 = 0x04;
export const TUN_OFFLOADS = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6;

/** Why a frame read from the device was dropped (counted in TunStats.readDropsByReason). */
export type OffloadDropReason =
  | 'vnet-short'          // shorter than the virtio-net header
  | 'vnet-csum-range'     // csum_start/csum_offset outside the packet
  | 'gso-type'            // a GSO type other than TCPv4/TCPv6 (never asked for)
  | 'gso-header'          // GSO frame whose IP/TCP headers do not check out
  | 'gso-size';           // gso_size 0, or more segments than MAX_SEGMENTS

/** A frame is cut into at most this many segments (Linux's minimum MSS, 88, gives 745 for 64 KiB). */
export const MAX_SEGMENTS = 1024;
/** Merged frames stay within one IPv4 datagram and at most this many segments. */
const MERGE_MAX_SEGMENTS = 64;
const MAX_FRAME = 0xffff;

/** The virtio-net header is in the host's byte order (no TUNSETVNETLE/BE): little-endian on x86 and arm64. */
const readU16le = (b: Uint8Array, o: number): number => b[o] | (b[o + 1] << 8);

/** The header of a frame read from the device: what segmentFrame needs to know before cutting. */
export interface FramePlan {
  /** GSO type without the ECN bit (VnetGso.NONE for a plain packet). */
  gsoType: number;
  /** Octets segmentFrame writes to `out` (0 for a plain packet, which stays where it is). */
  outBytes: number;
}

/**
 * Look at a frame (virtio-net header + packet) read from the device: a drop reason,
 * or what cutting it will take. Checks everything segmentFrame relies on.
 */
export function planFrame(frame: Uint8Array): FramePlan | OffloadDropReason {
  if (frame.length < VNET_HDR_LEN) return 'vnet-short';
  const gsoType = frame[VnetField.GSO_TYPE] & ~VnetGso.ECN;
  const len = frame.length - VNET_HDR_LEN;
  if (frame[VnetField.FLAGS] & VNET_F_NEEDS_CSUM) {
    const start = readU16le(frame, VnetField.CSUM_START);
    const field = start + readU16le(frame, VnetField.CSUM_OFFSET);
    if (field + 2 > len) return 'vnet-csum-range';
  }
  if (gsoType === VnetGso.NONE) return { gsoType, outBytes: 0 };
  if (gsoType !== VnetGso.TCPV4 && gsoType !== VnetGso.TCPV6) return 'gso-type';
  const h = tcpHeaders(frame, VNET_HDR_LEN, len, gsoType === VnetGso.TCPV4 ? 4 : 6);
  if (h < 0 || !(frame[VnetField.FLAGS] & VNET_F_NEEDS_CSUM) || readU16le(frame, VnetField.CSUM_START) !== (h >>> 8)) return 'gso-header';
  const headers = h & 0xff;
  const gsoSize = readU16le(frame, VnetField.GSO_SIZE);
  const payload = len - headers;
  if (gsoSize === 0) return 'gso-size';
  const segments = Math.max(1, Math.ceil(payload / gsoSize));
  if (segments > MAX_SEGMENTS) return 'gso-size';
  return { gsoType, outBytes: payload + segments * (headers + 8) };
}

/**
 * The IP and TCP headers of the packet at `at` (`len` octets, IP version `version`):
 * (transport offset << 8) | (IP + TCP header length), or -1. IPv4 without fragments,
 * IPv6 with TCP as the first next header (the kernel's TSO frames are these), the
 * IP length field matching `len`.
 */
function tcpHeaders(b: Uint8Array, at: number, len: number, version: number): number {
  if (len < 1 || b[at] >> 4 !== version) return -1;
  let ip: number;
  if (version === 4) {
    ip = (b[at] & 15) * 4;
    if (ip < W.IPV4_MIN_HEADER || len < ip + W.TCP_MIN_HEADER) return -1;
    if (b[at + Ipv4Field.PROTOCOL] !== W.PROTO_TCP) return -1;
    if (readU16(b, at + Ipv4Field.FLAGS_FRAG) & (W.IPV4_FLAG_MF | W.IPV4_FRAG_OFFSET_MASK)) return -1;
    if (readU16(b, at + Ipv4Field.TOTAL_LEN) !== len) return -1;
  } else {
    ip = W.IPV6_HEADER;
    if (len < ip + W.TCP_MIN_HEADER || b[at + Ipv6Field.NEXT_HEADER] !== W.PROTO_TCP) return -1;
    if (readU16(b, at + Ipv6Field.PAYLOAD_LEN) !== len - ip) return -1;
  }
  const tcp = (b[at + ip + TcpField.DATA_OFFSET] >> 4) * 4;
  if (tcp < W.TCP_MIN_HEADER || len < ip + tcp) return -1;
  return (ip << 8) | (ip + tcp);
}

/** Sum of the pseudo-header's addresses of the IPv4 or IPv6 packet at `at`. */
function addressSum(b: Uint8Array, at: number, version: number): number {
  return version === 4 ? packetSum(b, at + Ipv4Field.SRC_ADDR, 8) : packetSum(b, at + Ipv6Field.SRC_ADDR, 32);
}

/** Finish a checksum the kernel left partial: the sum from csum_start on, complemented, into its field. */
function finishChecksum(b: Uint8Array, at: number, len: number, start: number, field: number): void {
  const sum = packetSum(b, at + start, len - start);
  writeU16(b, at + field, ~sum & 0xffff || 0xffff);
}

/**
 * Turn a frame read from the device into the packets it stands for, given its plan:
 * a plain packet is finished in place (its checksum, if partial) and handed to
 * `emit` as a view of `frame`; a TSO frame is cut into segments of gso_size payload
 * octets written to `out` from `outOffset` (each 8-octet aligned; `plan.outBytes`
 * octets are enough), each handed to `emit` as a view of `out`. Per segment, as
 * Linux's tcp_gso_segment does: the sequence number advances by the payload before
 * it, the IPv4 identification by one, FIN and PSH stay on the last segment only,
 * CWR on the first only; lengths and both checksums are written anew.
 */
export function segmentFrame(frame: Uint8Array, plan: FramePlan, out: Uint8Array, outOffset: number, emit: (packet: Uint8Array) => void): void {
  const at = VNET_HDR_LEN;
  const len = frame.length - at;
  if (plan.gsoType === VnetGso.NONE) {
    if (frame[VnetField.FLAGS] & VNET_F_NEEDS_CSUM) {
      const start = readU16le(frame, VnetField.CSUM_START);
      finishChecksum(frame, at, len, start, start + readU16le(frame, VnetField.CSUM_OFFSET));
    }
    emit(frame.subarray(at));
    return;
  }
  const version = plan.gsoType === VnetGso.TCPV4 ? 4 : 6;
  const h = tcpHeaders(frame, at, len, version);
  const ip = h >>> 8;
  const headers = h & 0xff;
  const gsoSize = readU16le(frame, VnetField.GSO_SIZE);
  const payload = len - headers;
  const segments = Math.max(1, Math.ceil(payload / gsoSize));
  const seq0 = readU32(frame, at + ip + TcpField.SEQ_NUM);
  const id0 = version === 4 ? readU16(frame, at + Ipv4Field.IDENT) : 0;
  const flags = frame[at + ip + TcpField.FLAGS];
  const addresses = addressSum(frame, at, version);
  let o = outOffset;
  for (let i = 0; i < segments; i++) {
    const from = headers + i * gsoSize;
    const chunk = Math.min(gsoSize, payload - i * gsoSize);
    const size = headers + chunk;
    out.set(frame.subarray(at, at + headers), o);
    out.set(frame.subarray(at + from, at + from + chunk), o + headers);
    if (version === 4) {
      writeU16(out, o + Ipv4Field.TOTAL_LEN, size);
      writeU16(out, o + Ipv4Field.IDENT, (id0 + i) & 0xffff);
      writeU16(out, o + Ipv4Field.CHECKSUM, 0);
      writeU16(out, o + Ipv4Field.CHECKSUM, ~packetSum(out, o, ip) & 0xffff);
    } else {
      writeU16(out, o + Ipv6Field.PAYLOAD_LEN, size - ip);
    }
    writeU32(out, o + ip + TcpField.SEQ_NUM, (seq0 + i * gsoSize) >>> 0);
    let f = flags;
    if (i < segments - 1) f &= ~(TcpFlag.FIN | TcpFlag.PSH);
    if (i > 0) f &= ~TcpFlag.CWR;
    out[o + ip + TcpField.FLAGS] = f;
    writeU16(out, o + ip + TcpField.CHECKSUM, 0);
    const tcpLen = size - ip;
    const sum = packetSum(out, o + ip, tcpLen, addresses + W.PROTO_TCP + tcpLen);
    writeU16(out, o + ip + TcpField.CHECKSUM, ~sum & 0xffff);
    emit(out.subarray(o, o + size));
    o += (size + 7) & ~7;
  }
}

/** The virtio-net header of a plain packet written to the device: nothing offloaded. */
export const PLAIN_VNET_HDR = new Uint8Array(VNET_HDR_LEN);

/**
 * Merges runs of consecutive TCP segments for the device (the write side of the
 * offloads). Which segments merge, as Linux's tcp_gro_receive: IPv4 without options
 * or fragments, or IPv6 with TCP as its next header; one connection (addresses,
 * ports), the same TOS/traffic class and flow label, TTL/hop limit, DF, ACK number,
 * window, TCP header length and options; flags ACK only (PSH allowed on the run's
 * last segment, which ends it); each segment's sequence number where the previous one
 * ended; every segment but the last of the first one's payload length (the last may
 * be shorter, and ends the run); a correct checksum; at most 64 KiB and
 * MERGE_MAX_SEGMENTS segments. Anything else is written as it is.
 */
export class TcpMerger {
  /** The merged frame: virtio-net header + packet. */
  private readonly frame = new Uint8Array(VNET_HDR_LEN + MAX_FRAME);

  /**
   * How many packets from `packets[start]` on merge into one frame (1: write it alone).
   * Checks each segment's checksum; a packet that fails ends the run before it.
   */
  runLength(packets: readonly Uint8Array[], start: number, end: number): number {
    const head = packets[start];
    const ip = mergeableIp(head);
    if (ip === 0) return 1;
    const thl = (head[ip + TcpField.DATA_OFFSET] >> 4) * 4;
    const gsoSize = head.length - ip - thl;
    if (head[ip + TcpField.FLAGS] & TcpFlag.PSH || !checksumOk(head, ip)) return 1;
    let total = head.length;
    let prev = head;
    let n = 1;
    while (start + n < end && n < MERGE_MAX_SEGMENTS) {
      const p = packets[start + n];
      if (mergeableIp(p) !== ip || !sameFlow(head, p, ip, thl)) break;
      const payload = p.length - ip - thl;
      if (payload > gsoSize || total + payload > MAX_FRAME) break;
      const prevPayload = prev.length - ip - thl;
      if (readU32(p, ip + TcpField.SEQ_NUM) !== ((readU32(prev, ip + TcpField.SEQ_NUM) + prevPayload) >>> 0)) break;
      if (!checksumOk(p, ip)) break;
      total += payload;
      prev = p;
      n++;
      if (payload < gsoSize || p[ip + TcpField.FLAGS] & TcpFlag.PSH) break;
    }
    return n;
  }

  /**
   * The frame for `packets[start .. start + count)` (count ≥ 2, as runLength said):
   * the first segment's headers, every payload in order, the last segment's flags;
   * a GSO header (TCPv4 or TCPv6, gso_size = the first payload) and a partial
   * checksum (pseudo-header sum in the field, VNET_F_NEEDS_CSUM). A view of a
   * buffer the next call reuses.
   */
  merge(packets: readonly Uint8Array[], start: number, count: number): Uint8Array {
    const head = packets[start];
    const f = this.frame;
    const v4 = head[0] >> 4 === 4;
    const ip = v4 ? W.IPV4_MIN_HEADER : W.IPV6_HEADER;
    const thl = (head[ip + TcpField.DATA_OFFSET] >> 4) * 4;
    const headers = ip + thl;
    const gsoSize = head.length - headers;
    f.set(head, VNET_HDR_LEN);
    let o = VNET_HDR_LEN + head.length;
    for (let i = 1; i < count; i++) {
      const p = packets[start + i];
      f.set(p.subarray(headers), o);
      o += p.length - headers;
    }
    const last = packets[start + count - 1];
    const pkt = f.subarray(VNET_HDR_LEN, o);
    const len = pkt.length;
    if (v4) {
      writeU16(pkt, Ipv4Field.TOTAL_LEN, len);
      writeU16(pkt, Ipv4Field.CHECKSUM, 0);
      writeU16(pkt, Ipv4Field.CHECKSUM, ~packetSum(pkt, 0, ip) & 0xffff);
    } else {
      writeU16(pkt, Ipv6Field.PAYLOAD_LEN, len - ip);
    }
    pkt[ip + TcpField.FLAGS] = last[ip + TcpField.FLAGS];
    const tcpLen = len - ip;
    writeU16(pkt, ip + TcpField.CHECKSUM, foldSum(addressSum(pkt, 0, v4 ? 4 : 6) + W.PROTO_TCP + tcpLen));
    f[VnetField.FLAGS] = VNET_F_NEEDS_CSUM;
    f[VnetField.GSO_TYPE] = v4 ? VnetGso.TCPV4 : VnetGso.TCPV6;
    f[VnetField.HDR_LEN] = headers; f[VnetField.HDR_LEN + 1] = 0;
    f[VnetField.GSO_SIZE] = gsoSize & 0xff; f[VnetField.GSO_SIZE + 1] = gsoSize >>> 8;
    f[VnetField.CSUM_START] = ip; f[VnetField.CSUM_START + 1] = 0;
    f[VnetField.CSUM_OFFSET] = TcpField.CHECKSUM; f[VnetField.CSUM_OFFSET + 1] = 0;
    return f.subarray(0, o);
  }
}

/**
 * The IP header length of `p` (20 or 40) if it may take part in a merge: IPv4 without
 * options and not a fragment, or IPv6 whose next header is TCP; the IP length field
 * the packet's length; flags ACK or ACK|PSH; a non-empty payload. Otherwise 0.
 */
function mergeableIp(p: Uint8Array): number {
  let ip: number;
  if (p.length < W.IPV4_MIN_HEADER + W.TCP_MIN_HEADER) return 0;
  if (p[0] === 0x45) {
    ip = W.IPV4_MIN_HEADER;
    if (p[Ipv4Field.PROTOCOL] !== W.PROTO_TCP || readU16(p, Ipv4Field.TOTAL_LEN) !== p.length) return 0;
    if (readU16(p, Ipv4Field.FLAGS_FRAG) & (W.IPV4_FLAG_MF | W.IPV4_FRAG_OFFSET_MASK)) return 0;
  } else if (p[0] >> 4 === 6) {
    ip = W.IPV6_HEADER;
    if (p.length < ip + W.TCP_MIN_HEADER || p[Ipv6Field.NEXT_HEADER] !== W.PROTO_TCP || readU16(p, Ipv6Field.PAYLOAD_LEN) !== p.length - ip) return 0;
  } else {
    return 0;
  }
  if ((p[ip + TcpField.FLAGS] & ~TcpFlag.PSH) !== TcpFlag.ACK) return 0;
  const thl = (p[ip + TcpField.DATA_OFFSET] >> 4) * 4;
  if (thl < W.TCP_MIN_HEADER || p.length <= ip + thl) return 0;
  return ip;
}

/** Whether `p` continues `head`'s connection with the same header fields (all but lengths, ID, checksums, sequence, PSH). */
function sameFlow(head: Uint8Array, p: Uint8Array, ip: number, thl: number): boolean {
  if (ip === W.IPV4_MIN_HEADER) {
    if (head[Ipv4Field.DSCP_ECN] !== p[Ipv4Field.DSCP_ECN] || head[Ipv4Field.TTL] !== p[Ipv4Field.TTL]) return false;
    if ((head[Ipv4Field.FLAGS_FRAG] ^ p[Ipv4Field.FLAGS_FRAG]) & (W.IPV4_FLAG_DF >> 8)) return false;
    for (let i = Ipv4Field.SRC_ADDR; i < ip; i++) if (head[i] !== p[i]) return false;
  } else {
    // Version, traffic class and flow label; hop limit; the addresses.
    for (let i = Ipv6Field.VER_TC_FLOW; i < Ipv6Field.PAYLOAD_LEN; i++) if (head[i] !== p[i]) return false;
    for (let i = Ipv6Field.HOP_LIMIT; i < ip; i++) if (head[i] !== p[i]) return false;
  }
  if ((p[ip + TcpField.DATA_OFFSET] >> 4) * 4 !== thl) return false;
  // Ports, then the ACK number, then the window; then the options.
  for (let i = ip; i < ip + TcpField.SEQ_NUM; i++) if (head[i] !== p[i]) return false;
  for (let i = ip + TcpField.ACK_NUM; i < ip + TcpField.DATA_OFFSET; i++) if (head[i] !== p[i]) return false;
  if (head[ip + TcpField.WINDOW] !== p[ip + TcpField.WINDOW] || head[ip + TcpField.WINDOW + 1] !== p[ip + TcpField.WINDOW + 1]) return false;
  for (let i = ip + TcpField.OPTIONS; i < ip + thl; i++) if (head[i] !== p[i]) return false;
  return true;
}

/** Whether the TCP checksum of `p` (TCP after an `ip`-octet IPv4 or IPv6 header) is right. */
function checksumOk(p: Uint8Array, ip: number): boolean {
  const tcpLen = p.length - ip;
  return packetSum(p, ip, tcpLen, addressSum(p, 0, ip === W.IPV4_MIN_HEADER ? 4 : 6) + W.PROTO_TCP + tcpLen) === 0xffff;
}
