// TUN offloads (issue 16, src/tun/offload.ts): the virtio-net header of the frames a
// TUN device with IFF_VNET_HDR reads and writes, TCP segmentation of TSO frames (as
// Linux's tcp_gso_segment cuts them) and the merge of consecutive segments for the
// device (as tcp_gro_receive merges them). Checked against the RFC 1071 reference sum
// of src/wire/checksum.ts and the wire module's views; the real-device side (the
// kernel's own TSO frames, cut, sealed, opened, merged and taken by the receiver's
// TCP) is test/tun/e2e.test.ts and test/tun/workers.test.ts.

import { describe, expect, it } from 'vitest';
import { onesComplementSum, packetSum, pseudoHeaderSum } from '../../src/wire/checksum.js';
import { Ipv4Packet } from '../../src/wire/ipv4.js';
import {
  MAX_SEGMENTS, PLAIN_VNET_HDR, TcpMerger, VNET_F_NEEDS_CSUM, VNET_HDR_LEN, VnetGso, planFrame, segmentFrame, type FramePlan,
} from '../../src/tun/offload.js';

const TCP = 6;
const UDP = 17;
const ACK = 0x10, PSH = 0x08, FIN = 0x01, SYN = 0x02, CWR = 0x80;

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => { s = (s * 1664525 + 1013904223) >>> 0; return s / 2 ** 32; };
}

const u16 = (b: Uint8Array, o: number) => (b[o] << 8) | b[o + 1];
const u32 = (b: Uint8Array, o: number) => ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
const put16 = (b: Uint8Array, o: number, v: number) => { b[o] = (v >>> 8) & 255; b[o + 1] = v & 255; };
const put32 = (b: Uint8Array, o: number, v: number) => { put16(b, o, v >>> 16); put16(b, o + 2, v & 0xffff); };

interface TcpSpec {
  v6?: boolean; seq?: number; ack?: number; flags?: number; id?: number; tos?: number; ttl?: number; df?: boolean;
  sport?: number; dport?: number; src?: number; window?: number; options?: number[]; payload: Uint8Array; ipOptions?: number;
}

/** A TCP/IPv4 or TCP/IPv6 packet with correct checksums (reference sums of src/wire/checksum.ts). */
function tcpPacket(s: TcpSpec): Uint8Array {
  const ip = s.v6 ? 40 : 20 + 4 * (s.ipOptions ?? 0);
  const opts = s.options ?? [1, 1, 8, 10, 0, 0, 0, 7, 0, 0, 0, 9]; // NOP NOP timestamps, as Linux sends
  const thl = 20 + opts.length;
  const len = ip + thl + s.payload.length;
  const p = new Uint8Array(len);
  if (s.v6) {
    p[0] = 0x60; put16(p, 4, len - 40); p[6] = TCP; p[7] = s.ttl ?? 64;
    for (let i = 0; i < 16; i++) { p[8 + i] = i === 15 ? (s.src ?? 1) : 0x20; p[24 + i] = i === 15 ? 2 : 0x20; }
  } else {
    p[0] = 0x40 | (ip / 4); p[1] = s.tos ?? 0; put16(p, 2, len); put16(p, 4, s.id ?? 1000); put16(p, 6, s.df === false ? 0 : 0x4000);
    p[8] = s.ttl ?? 64; p[9] = TCP; p.set([10, 1, 0, s.src ?? 1], 12); p.set([10, 2, 0, 1], 16);
    for (let i = 20; i < ip; i++) p[i] = 1; // NOP options
    put16(p, 10, ~onesComplementSum(p, 0, ip) & 0xffff);
  }
  put16(p, ip, s.sport ?? 40000); put16(p, ip + 2, s.dport ?? 5201);
  put32(p, ip + 4, s.seq ?? 1); put32(p, ip + 8, s.ack ?? 77); p[ip + 12] = (thl / 4) << 4; p[ip + 13] = s.flags ?? ACK;
  put16(p, ip + 14, s.window ?? 500);
  p.set(opts, ip + 20);
  p.set(s.payload, ip + thl);
  fixTcpChecksum(p, ip);
  return p;
}

function addrs(p: Uint8Array): { src: Uint8Array; dst: Uint8Array } {
  return p[0] >> 4 === 6 ? { src: p.subarray(8, 24), dst: p.subarray(24, 40) } : { src: p.subarray(12, 16), dst: p.subarray(16, 20) };
}

function fixTcpChecksum(p: Uint8Array, ip: number): void {
  put16(p, ip + 16, 0);
  const { src, dst } = addrs(p);
  put16(p, ip + 16, ~onesComplementSum(p, ip, p.length - ip, pseudoHeaderSum(src, dst, TCP, p.length - ip)) & 0xffff);
}

/** Whether the TCP or UDP checksum at transport offset `ip` verifies (reference sum). */
function transportOk(p: Uint8Array, ip: number, protocol = TCP): boolean {
  const { src, dst } = addrs(p);
  return onesComplementSum(p, ip, p.length - ip, pseudoHeaderSum(src, dst, protocol, p.length - ip)) === 0xffff;
}

const payloadOf = (n: number, seed = 1) => Uint8Array.from({ length: n }, (_, i) => (i * 7 + seed * 13 + (i >> 8)) & 255);

/** A frame as the kernel hands it over with TSO: header + packet, the TCP checksum field holding the pseudo-header sum only. */
function tsoFrame(packet: Uint8Array, gsoSize: number, gsoType: number = packet[0] >> 4 === 6 ? VnetGso.TCPV6 : VnetGso.TCPV4): Uint8Array {
  const ip = packet[0] >> 4 === 6 ? 40 : (packet[0] & 15) * 4;
  const f = new Uint8Array(VNET_HDR_LEN + packet.length);
  f.set(packet, VNET_HDR_LEN);
  const pkt = f.subarray(VNET_HDR_LEN);
  const { src, dst } = addrs(pkt);
  put16(pkt, ip + 16, pseudoHeaderSum(src, dst, TCP, pkt.length - ip));
  f[0] = VNET_F_NEEDS_CSUM; f[1] = gsoType;
  f[2] = ip + (pkt[ip + 12] >> 4) * 4; f[4] = gsoSize & 255; f[5] = gsoSize >> 8; f[6] = ip; f[8] = 16;
  return f;
}

function cut(frame: Uint8Array): Uint8Array[] {
  const plan = planFrame(frame);
  if (typeof plan === 'string') throw new Error(plan);
  const out = new Uint8Array(plan.outBytes); // exactly what the plan says: a write past it throws
  const packets: Uint8Array[] = [];
  segmentFrame(frame, plan, out, 0, (p) => packets.push(p.slice()));
  return packets;
}

describe('packetSum: the packet path\'s one\'s-complement sum (RFC 1071)', () => {
  it('equals the reference sum at every alignment, length and initial value', () => {
    const r = rng(7);
    const buf = new Uint8Array(4096).map(() => (r() * 256) | 0);
    for (let k = 0; k < 3000; k++) {
      const offset = (r() * 200) | 0;
      const length = (r() * 1800) | 0;
      const initial = (r() * 0x40000) | 0;
      const view = buf.subarray((r() * 9) | 0); // views whose byteOffset is not a multiple of 4 too
      expect(packetSum(view, offset, length, initial)).toBe(onesComplementSum(view, offset, length, initial));
    }
  });

  it('folds carries of all-ones data (64 KiB of 0xff)', () => {
    const ones = new Uint8Array(65536).fill(0xff);
    expect(packetSum(ones, 0, ones.length)).toBe(onesComplementSum(ones, 0, ones.length));
  });
});

describe('planFrame/segmentFrame: frames read from an offloading TUN device', () => {
  it('cuts a TCPv4 TSO frame as tcp_gso_segment does (RFC 9293 sequence space, RFC 791 identification)', () => {
    const payload = payloadOf(5000);
    const packet = tcpPacket({ seq: 0xfffff000, id: 0xfffe, flags: ACK | PSH | FIN | CWR, payload });
    const segments = cut(tsoFrame(packet, 1348, VnetGso.TCPV4 | VnetGso.ECN));
    expect(segments.map((s) => s.length)).toEqual([1400, 1400, 1400, 52 + 5000 - 3 * 1348]);
    let seq = 0xfffff000;
    let got = 0;
    segments.forEach((s, i) => {
      const v = Ipv4Packet.check(s); // lengths and header checksum as the wire module reads them
      expect(v.totalLength).toBe(s.length);
      expect(onesComplementSum(s, 0, 20)).toBe(0xffff);
      expect(u16(s, 4)).toBe((0xfffe + i) & 0xffff);
      expect(transportOk(s, 20)).toBe(true);
      expect(u32(s, 24)).toBe(seq >>> 0);
      const last = i === segments.length - 1;
      expect(s[33] & (PSH | FIN)).toBe(last ? PSH | FIN : 0);
      expect(s[33] & CWR).toBe(i === 0 ? CWR : 0);
      expect(s.subarray(34, 36)).toEqual(packet.subarray(34, 36)); // window,
      expect(s.subarray(38, 52)).toEqual(packet.subarray(38, 52)); // urgent pointer and options kept
      const data = s.subarray(52);
      expect(data).toEqual(payload.subarray(got, got + data.length));
      got += data.length;
      seq += data.length;
    });
    expect(got).toBe(payload.length);
  });

  it('cuts a TCPv6 TSO frame: payload lengths and checksums over the IPv6 pseudo-header (RFC 8200 §8.1)', () => {
    const payload = payloadOf(3000, 3);
    const segments = cut(tsoFrame(tcpPacket({ v6: true, seq: 5, payload }), 1000));
    expect(segments).toHaveLength(3);
    segments.forEach((s, i) => {
      expect(u16(s, 4)).toBe(s.length - 40);
      expect(transportOk(s, 40)).toBe(true);
      expect(u32(s, 44)).toBe(5 + i * 1000);
      expect(s.subarray(72)).toEqual(payload.subarray(i * 1000, (i + 1) * 1000));
    });
  });

  it('keeps IPv4 options on every segment', () => {
    const segments = cut(tsoFrame(tcpPacket({ ipOptions: 2, payload: payloadOf(2500) }), 1200));
    expect(segments).toHaveLength(3);
    for (const s of segments) {
      expect(s[0]).toBe(0x47);
      expect(onesComplementSum(s, 0, 28)).toBe(0xffff);
      expect(transportOk(s, 28)).toBe(true);
    }
  });

  it('finishes a partial checksum of a plain frame (TUN_F_CSUM) in place, TCP and UDP', () => {
    const tcp = tcpPacket({ payload: payloadOf(300) });
    const frame = tsoFrame(tcp, 0, VnetGso.NONE);
    const [p] = cut(frame);
    expect(p).toEqual(tcp);
    // UDP: a partial checksum whose full value is 0 is sent as 0xffff (RFC 768).
    const udp = new Uint8Array(28 + 40);
    udp.set([0x45, 0, 0, 68, 0, 1, 0x40, 0, 64, UDP, 0, 0, 10, 1, 0, 1, 10, 2, 0, 1]);
    put16(udp, 20, 5000); put16(udp, 22, 6000); put16(udp, 24, 48); udp.set(payloadOf(40), 28);
    const uf = new Uint8Array(VNET_HDR_LEN + udp.length);
    uf.set(udp, VNET_HDR_LEN);
    put16(uf, VNET_HDR_LEN + 26, pseudoHeaderSum(udp.subarray(12, 16), udp.subarray(16, 20), UDP, 48));
    uf[0] = VNET_F_NEEDS_CSUM; uf[6] = 20; uf[8] = 6;
    const [u] = cut(uf);
    expect(transportOk(u, 20, UDP)).toBe(true);
    expect(u16(u, 26)).not.toBe(0);
  });

  it('writes the segments 8-octet aligned into `out`, within plan.outBytes (segmentFrame\'s contract)', () => {
    const frame = tsoFrame(tcpPacket({ payload: payloadOf(5000) }), 1347); // 52 + 1347: odd sizes
    const plan = planFrame(frame) as FramePlan;
    const out = new Uint8Array(8 + plan.outBytes);
    const at: [number, number][] = [];
    segmentFrame(frame, plan, out, 8, (p) => at.push([p.byteOffset, p.length]));
    expect(at.map(([o]) => o % 8)).toEqual([0, 0, 0, 0]);
    expect(at[3][0] + at[3][1]).toBeLessThanOrEqual(8 + plan.outBytes);
  });

  it('hands a plain frame without offloads over as it is, as a view of the frame', () => {
    const frame = new Uint8Array(VNET_HDR_LEN + 60).fill(0x45, VNET_HDR_LEN);
    const plan = planFrame(frame) as FramePlan;
    expect(plan).toEqual({ gsoType: VnetGso.NONE, outBytes: 0 });
    const got: Uint8Array[] = [];
    segmentFrame(frame, plan, new Uint8Array(0), 0, (p) => got.push(p));
    expect(got).toHaveLength(1);
    expect(got[0].buffer).toBe(frame.buffer);
    expect(got[0].byteOffset).toBe(VNET_HDR_LEN);
  });

  it('drops what the kernel never sends with a reason, and never throws on random frames', () => {
    const good = tsoFrame(tcpPacket({ payload: payloadOf(3000) }), 1000);
    const variant = (f: (b: Uint8Array) => void) => { const b = good.slice(); f(b); return planFrame(b); };
    expect(planFrame(good.subarray(0, 9))).toBe('vnet-short');
    expect(variant((b) => { b[6] = 0xff; b[7] = 0xff; })).toBe('vnet-csum-range');
    expect(variant((b) => { b[1] = VnetGso.UDP; })).toBe('gso-type');
    expect(variant((b) => { b[1] = VnetGso.TCPV6; })).toBe('gso-header');          // an IPv4 packet in a TCPv6 frame
    expect(variant((b) => { b[VNET_HDR_LEN + 9] = UDP; })).toBe('gso-header');      // not TCP
    expect(variant((b) => { b[VNET_HDR_LEN + 3] ^= 1; })).toBe('gso-header');       // total length is not the frame's
    expect(variant((b) => { b[VNET_HDR_LEN + 6] |= 0x20; })).toBe('gso-header');    // a fragment
    expect(variant((b) => { b[0] = 0; })).toBe('gso-header');                         // TSO without a partial checksum
    expect(variant((b) => { b[6] = 24; })).toBe('gso-header');                        // csum_start is not the TCP header
    expect(variant((b) => { b[VNET_HDR_LEN + 32] = 0x40; })).toBe('gso-header');     // TCP data offset 4 words
    expect(variant((b) => { b[4] = 0; b[5] = 0; })).toBe('gso-size');
    const tiny = tsoFrame(tcpPacket({ payload: payloadOf(MAX_SEGMENTS + 1) }), 1);
    expect(planFrame(tiny)).toBe('gso-size');
    // At the limits themselves: MAX_SEGMENTS segments are cut; a checksum field whose
    // last octet is the packet's last is in range, one octet further is not.
    expect(planFrame(tsoFrame(tcpPacket({ payload: payloadOf(MAX_SEGMENTS) }), 1))).toMatchObject({ gsoType: VnetGso.TCPV4 });
    const plain = tsoFrame(tcpPacket({ payload: payloadOf(100) }), 0, VnetGso.NONE);
    const len = plain.length - VNET_HDR_LEN;
    const csumAt = (b: Uint8Array, field: number) => { b[6] = 0; b[7] = 0; b[8] = field & 255; b[9] = field >> 8; return planFrame(b); };
    expect(csumAt(plain.slice(), len - 2)).toEqual({ gsoType: VnetGso.NONE, outBytes: 0 });
    expect(csumAt(plain.slice(), len - 1)).toBe('vnet-csum-range');
    // IPv6: the payload length must be the frame's too.
    const good6 = tsoFrame(tcpPacket({ v6: true, payload: payloadOf(3000) }), 1000);
    expect(planFrame(good6)).toMatchObject({ gsoType: VnetGso.TCPV6 });
    const short6 = good6.slice();
    short6[VNET_HDR_LEN + 5] -= 1;
    expect(planFrame(short6)).toBe('gso-header');
    // A TCP data offset that runs past a short frame (60 octets of header, 52 + 20 there).
    const small = tsoFrame(tcpPacket({ payload: payloadOf(20) }), 10);
    expect(planFrame(small)).toMatchObject({ gsoType: VnetGso.TCPV4 });
    small[VNET_HDR_LEN + 32] = 0xf0;
    expect(planFrame(small)).toBe('gso-header');
    // IHL 4 (16 octets) is no IPv4 header, even with csum_start and the octet read as
    // the TCP data offset (the ACK number's first) set to look like a TCP header there.
    const ihl4 = good.slice();
    ihl4[VNET_HDR_LEN] = 0x44;
    ihl4[6] = 16;
    ihl4[VNET_HDR_LEN + 28] = 0x50;
    expect(planFrame(ihl4)).toBe('gso-header');
    const r = rng(99);
    for (let k = 0; k < 20000; k++) {
      const b = k % 2 ? good.slice() : new Uint8Array(VNET_HDR_LEN + ((r() * 200) | 0)).map(() => (r() * 256) | 0);
      for (let j = 0; j < 3; j++) b[(r() * b.length) | 0] = (r() * 256) | 0;
      const plan = planFrame(b);
      if (typeof plan === 'string') continue;
      const out = new Uint8Array(plan.outBytes);
      let bytes = 0;
      segmentFrame(b, plan, out, 0, (p) => { bytes += p.length; });
      expect(bytes).toBeGreaterThan(0);
    }
  });
});

describe('TcpMerger: consecutive segments merged for the device (tcp_gro_receive\'s rules)', () => {
  const stream = (n: number, size = 1348, seq = 1000, more: Partial<TcpSpec> = {}) =>
    Array.from({ length: n }, (_, i) => tcpPacket({ seq: seq + i * size, id: 50 + i, payload: payloadOf(size, i), ...more }));

  it('merges a run into one TSO frame that the kernel\'s partial checksum completes, and cutting it gives the segments back', () => {
    const segs = stream(5);
    segs[4] = tcpPacket({ seq: 1000 + 4 * 1348, id: 54, flags: ACK | PSH, payload: payloadOf(700, 4) });
    const m = new TcpMerger();
    expect(m.runLength(segs, 0, segs.length)).toBe(5);
    const frame = m.merge(segs, 0, 5);
    expect(frame[0]).toBe(VNET_F_NEEDS_CSUM);
    expect(frame[1]).toBe(VnetGso.TCPV4);
    expect(frame[2] | (frame[3] << 8)).toBe(52);
    expect(frame[4] | (frame[5] << 8)).toBe(1348);
    expect([frame[6], frame[8]]).toEqual([20, 16]);
    const pkt = frame.subarray(VNET_HDR_LEN).slice();
    expect(u16(pkt, 2)).toBe(pkt.length);
    expect(onesComplementSum(pkt, 0, 20)).toBe(0xffff);
    expect(pkt[33]).toBe(ACK | PSH); // the last segment's flags
    // What the kernel does with a partial checksum: sum from csum_start on, complement, store.
    put16(pkt, 36, ~onesComplementSum(pkt, 20, pkt.length - 20) & 0xffff);
    expect(transportOk(pkt, 20)).toBe(true);
    expect(pkt.subarray(52)).toEqual(Uint8Array.from(segs.flatMap((s) => [...s.subarray(52)])));
    // Round trip: the merged frame cut again is the five segments (IDs counted from the first).
    const again = cut(frame.slice());
    expect(again).toHaveLength(5);
    again.forEach((s, i) => expect(s).toEqual(segs[i]));
  });

  it('ends a run where tcp_gro_receive would flush', () => {
    const m = new TcpMerger();
    const at = (segs: Uint8Array[]) => m.runLength(segs, 0, segs.length);
    const base = () => stream(4);
    const swap = (i: number, p: Uint8Array) => { const s = base(); s[i] = p; return s; };
    expect(at(base())).toBe(4);
    expect(at(swap(2, tcpPacket({ seq: 1000 + 2 * 1348, sport: 1, payload: payloadOf(1348) })))).toBe(2);           // another connection
    expect(at(swap(2, tcpPacket({ seq: 1000 + 2 * 1348 + 1, payload: payloadOf(1348) })))).toBe(2);                // a sequence gap
    expect(at(swap(2, tcpPacket({ seq: 1000 + 2 * 1348, ack: 78, payload: payloadOf(1348) })))).toBe(2);           // another ACK number
    expect(at(swap(2, tcpPacket({ seq: 1000 + 2 * 1348, window: 501, payload: payloadOf(1348) })))).toBe(2);       // another window
    expect(at(swap(2, tcpPacket({ seq: 1000 + 2 * 1348, tos: 2, payload: payloadOf(1348) })))).toBe(2);            // another TOS/ECN
    expect(at(swap(2, tcpPacket({ seq: 1000 + 2 * 1348, ttl: 9, payload: payloadOf(1348) })))).toBe(2);            // another TTL
    expect(at(swap(2, tcpPacket({ seq: 1000 + 2 * 1348, df: false, payload: payloadOf(1348) })))).toBe(2);         // DF differs
    expect(at(swap(2, tcpPacket({ seq: 1000 + 2 * 1348, options: [1, 1, 8, 10, 0, 0, 0, 8, 0, 0, 0, 9], payload: payloadOf(1348) })))).toBe(2); // other options
    expect(at(swap(2, tcpPacket({ seq: 1000 + 2 * 1348, flags: ACK | FIN, payload: payloadOf(1348) })))).toBe(2);  // FIN
    expect(at(swap(2, tcpPacket({ seq: 1000 + 2 * 1348, payload: payloadOf(1400) })))).toBe(2);                    // longer than the first
    expect(at(swap(1, tcpPacket({ seq: 1000 + 1348, flags: ACK | PSH, payload: payloadOf(1348, 1) })))).toBe(2);   // PSH ends the run with it
    expect(at(swap(1, tcpPacket({ seq: 1000 + 1348, payload: payloadOf(600, 1) })))).toBe(2);                      // a shorter one ends it
    // ... even when the next one continues the sequence: only the run's last segment may be short (GSO cuts all others at gso_size).
    expect(at([...stream(1), tcpPacket({ seq: 1000 + 1348, id: 51, payload: payloadOf(600, 1) }), tcpPacket({ seq: 1000 + 1348 + 600, id: 52, payload: payloadOf(1348, 2) })])).toBe(2);
    // Another destination address (RFC 9293: the connection is both addresses and both ports).
    const elsewhere = tcpPacket({ seq: 1000 + 2 * 1348, payload: payloadOf(1348) });
    elsewhere[19] = 2;
    put16(elsewhere, 10, 0);
    put16(elsewhere, 10, ~onesComplementSum(elsewhere, 0, 20) & 0xffff);
    fixTcpChecksum(elsewhere, 20);
    expect(at(swap(2, elsewhere))).toBe(2);
    // Another TCP header length: no options after a head with timestamps, even when its
    // first 12 payload octets are the head's options (sameFlow compares lengths first).
    const headOptions = [1, 1, 8, 10, 0, 0, 0, 7, 0, 0, 0, 9];
    const bare = tcpPacket({ seq: 1000 + 1348, options: [], payload: Uint8Array.from([...headOptions, ...payloadOf(1348, 1)]) });
    expect(at([stream(1)[0], bare])).toBe(1);
    const bad = base();
    bad[2][200] ^= 0x55; // corrupted in transit before the tunnel: its checksum fails, it goes alone
    expect(at(bad)).toBe(2);
    expect(m.runLength(bad, 2, bad.length)).toBe(1);
    // Never merged: the head with SYN, PSH, no payload, IPv4 options, IPv6, a fragment.
    expect(at(swap(0, tcpPacket({ seq: 1000, flags: SYN | ACK, payload: payloadOf(1348) })))).toBe(1);
    expect(at(swap(0, tcpPacket({ seq: 1000, flags: ACK | PSH, payload: payloadOf(1348) })))).toBe(1);
    expect(at([tcpPacket({ payload: new Uint8Array(0) }), tcpPacket({ payload: new Uint8Array(0) })])).toBe(1);
    expect(at(stream(3, 1348, 1000, { ipOptions: 1 }))).toBe(1);
    expect(at(stream(3, 1348, 1000, { v6: true, tos: 0 }).map((p, i) => (i === 1 ? tcpPacket({ v6: true, seq: 1000 + 1348, ttl: 3, payload: payloadOf(1348, 1) }) : p)))).toBe(1); // IPv6: another hop limit
    const frag = base(); frag[0] = frag[0].slice(); frag[0][6] |= 0x20;
    expect(at(frag)).toBe(1);
  });

  it('merges IPv6 segments into a TCPv6 frame (RFC 8200 §8.1 pseudo-header), and not across flow labels', () => {
    const segs = stream(3, 1000, 9, { v6: true });
    const m = new TcpMerger();
    expect(m.runLength(segs, 0, 3)).toBe(3);
    const frame = m.merge(segs, 0, 3);
    expect([frame[1], frame[2], frame[4] | (frame[5] << 8), frame[6]]).toEqual([VnetGso.TCPV6, 72, 1000, 40]);
    const pkt = frame.subarray(VNET_HDR_LEN).slice();
    expect(u16(pkt, 4)).toBe(pkt.length - 40);
    put16(pkt, 56, ~onesComplementSum(pkt, 40, pkt.length - 40) & 0xffff);
    expect(transportOk(pkt, 40)).toBe(true);
    const again = cut(frame.slice());
    again.forEach((s, i) => expect(s).toEqual(segs[i]));
    const labelled = stream(3, 1000, 9, { v6: true });
    labelled[1] = labelled[1].slice(); labelled[1][3] = 7; fixTcpChecksum(labelled[1], 40);
    expect(m.runLength(labelled, 0, 3)).toBe(1);
  });

  it('stays within one IPv4 datagram (64 KiB) and 64 segments', () => {
    const m = new TcpMerger();
    const big = stream(60, 1448, 1, { options: [] });
    const run = m.runLength(big, 0, big.length);
    expect(40 + run * 1448).toBeLessThanOrEqual(0xffff);
    expect(40 + (run + 1) * 1448).toBeGreaterThan(0xffff);
    // Exactly at 65535 octets the run goes on; at 65536 (an IPv4 total length that does not fit) it stops.
    const fits = stream(6, 13099, 1, { options: [] }); // 40 + 5 × 13099 = 65535
    expect(m.runLength(fits, 0, fits.length)).toBe(5);
    const over = stream(30, 2729, 1, { options: [] }); // 40 + 24 × 2729 = 65536
    expect(m.runLength(over, 0, over.length)).toBe(23);
    const small = stream(100, 100);
    expect(m.runLength(small, 0, small.length)).toBe(64);
    expect(m.runLength(small, 64, small.length)).toBe(36);
  });

  it('writes a plain packet with an all-zero header', () => {
    expect(PLAIN_VNET_HDR).toEqual(new Uint8Array(VNET_HDR_LEN));
  });
});
