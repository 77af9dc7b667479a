// Packets taken from the captures in shared/data/captures/, with the link-layer
// header stripped (Ethernet: 14 bytes, Linux SLL: 16, PPP in HDLC framing: 4,
// LINKTYPE_RAW: none). Expected field values are what tshark shows for them.

import { describe, expect, it } from 'vitest';
import { LarvalError } from '../../src/common/errors.js';
import { buildPacket } from '../../src/wire/build.js';
import { internetChecksum, upperLayerChecksum } from '../../src/wire/checksum.js';
import { EspPacket } from '../../src/wire/esp.js';
import { Icmpv4Packet } from '../../src/wire/icmp.js';
import { Ipv4Packet, emitIpv4 } from '../../src/wire/ipv4.js';
import { Ipv6Packet, emitIpv6 } from '../../src/wire/ipv6.js';
import { SctpPacket, crc32c, sctpChecksum } from '../../src/wire/sctp.js';
import { TcpFlag, TcpSegment } from '../../src/wire/tcp.js';
import { UdpDatagram, emitUdp } from '../../src/wire/udp.js';

const fromHex = (hex: string): Uint8Array => Uint8Array.from(hex.match(/../g)!.map((b) => parseInt(b, 16)));

// tcp-handshake-nano.pcap, record 1 (Linux SLL): the SYN of a handshake, with
// MSS, SACK-permitted, timestamps and window-scale options.
const TCP_SYN = fromHex(
  '4500003c29a940004006db5f839bd7458974515eb64000502f842acb00000000' +
  'a0026a4050c40000020405500402080a436a03620000000001030307',
);

// LINKTYPE_RAW_ipv4.pcap, record 1: a DNS query for example.com.
const UDP_DNS_V4 = fromHex(
  '45000039000100004011a695c0a8016409090909303900350025197612340100' +
  '0001000000000000076578616d706c6503636f6d0000010001',
);

// LINKTYPE_RAW_ipv6.pcap, record 1: the same DNS query over IPv6.
const UDP_DNS_V6 = fromHex(
  '600000000025114020010db8000000000000000000000001262000fe00000000' +
  '000000000000000930390035002598b312340100000100000000000007657861' +
  '6d706c6503636f6d0000010001',
);

// icmp-rfc5837.pcap, record 1 (PPP): an ICMP time exceeded quoting a UDP traceroute probe.
const ICMP_TIME_EXCEEDED = fromHex(
  '450000f0e7204000fe017ade0a0400020c0404040b00ccff0000000045000028' +
  'a55100000111f76a0c0404040c010101a54b82a0001400000000000000000000' +
  '0000000000000000000000000000000000000000000000000000000000000000' +
  '0000000000000000000000000000000000000000000000000000000000000000' +
  '000000000000000000000000000000000000000000000000000000002000246c' +
  '0050020e0000000f000100000a0a0a0a40546869732d69732d7468652d6e616d' +
  '652d6f662d7468652d496e746572666163652d746861742d77652d6172652d6c' +
  '6f6f6b696e672d666f722d5b3a2d295d',
);

// 02-sunrise-sunset-esp.pcap, record 1 (Ethernet): ESP in transport mode.
const ESP_V4 = fromHex(
  '45000088ff6700004032f695c0010217c001022d12345678000000014c20452f' +
  '3cb09211d3a748cde5c811e39c4ee83cfe96a1e42acfd2b87aab05d1642ba3af' +
  '9c1bc342102c40ad15df4de0200a63638734711187d412093b83bfaa43191cbd' +
  '84a45b0276338399b1f5ca17cc9254457e5906551a7041e3dc9176e86fd3ffdd' +
  '00b0bc11f8103097',
);

// espudp1.pcap, record 1 (Ethernet): ESP in UDP (RFC 3948), UDP checksum 0.
const ESP_IN_UDP = fromHex(
  '45000090a60e000040115008c0010217c001022d11941194007c000012345678' +
  '00000001a71a51de1cb929238c4cab9ef2550db76402c501a26729fc8e8f7a7e' +
  '63aa4b54aa59f642177a2924cc238d43b4c28d5191232bd1608e4f49c04726b6' +
  '1255c79a5efdc271510fc047bdd45b642c3b0f12b56e4d5149c662bc468f221a' +
  '52cca322ad5a3fe76ae333dac783be7e',
);

// isup.pcap, record 2 (Ethernet): SCTP carrying M3UA, from an RFC 2960-era stack.
const SCTP_M3UA = fromHex(
  '4500004cc3a94000ff8496f60a1c062c0a1c062a0b590b597df33f4909720ae1' +
  '0003002c000010d30000028300000003010001010000001c00020012c502ede0' +
  '5bd5002f02000384e3f40000',
);

/** Every proper prefix of `bytes` must make `check` throw a LarvalError. */
function expectEveryTruncationRejected(bytes: Uint8Array, check: (b: Uint8Array) => unknown): void {
  for (let n = 0; n < bytes.length; n++) {
    let thrown: unknown;
    try {
      check(bytes.subarray(0, n));
    } catch (e) {
      thrown = e;
    }
    expect(thrown, `prefix of ${n} bytes`).toBeInstanceOf(LarvalError);
    expect((thrown as LarvalError).code).toBe('EINVAL');
  }
  expect(() => check(bytes)).not.toThrow();
}

/** The stored checksum at `at` (2 bytes) is reproduced by `compute` over a copy with that field zeroed. */
function recomputed(bytes: Uint8Array, at: number, compute: (zeroed: Uint8Array) => number): number {
  const copy = bytes.slice();
  copy[at] = 0;
  copy[at + 1] = 0;
  return compute(copy);
}

describe('IPv4 TCP SYN (tcp-handshake-nano.pcap #1)', () => {
  const ip = Ipv4Packet.check(TCP_SYN);
  const tcp = TcpSegment.check(ip.payload);

  it('parses the IPv4 header', () => {
    expect(ip.version).toBe(4);
    expect(ip.headerLength).toBe(20);
    expect(ip.totalLength).toBe(60);
    expect(ip.identification).toBe(0x29a9);
    expect(ip.dontFragment).toBe(true);
    expect(ip.moreFragments).toBe(false);
    expect(ip.fragmentOffset).toBe(0);
    expect(ip.ttl).toBe(64);
    expect(ip.protocol).toBe(6);
    expect(ip.checksum).toBe(0xdb5f);
    expect(ip.src).toBe('131.155.215.69');
    expect(ip.dst).toBe('137.116.81.94');
    expect(ip.verifyChecksum()).toBe(true);
  });

  it('parses the TCP header and its options', () => {
    expect(tcp.srcPort).toBe(46656);
    expect(tcp.dstPort).toBe(80);
    expect(tcp.seqNumber).toBe(797190859); // 0x2f842acb, tshark shows it as the raw sequence number
    expect(tcp.ackNumber).toBe(0);
    expect(tcp.headerLength).toBe(40);
    expect(tcp.flags).toBe(TcpFlag.SYN);
    expect(tcp.window).toBe(27200);
    expect(tcp.checksum).toBe(0x50c4);
    expect(tcp.options.length).toBe(20);
    expect(tcp.options[0]).toBe(2); // MSS option kind
    expect((tcp.options[2] << 8) | tcp.options[3]).toBe(1360);
    expect(tcp.payload.length).toBe(0);
  });

  it('reproduces the stored checksums', () => {
    expect(recomputed(TCP_SYN, 10, (c) => internetChecksum(c, 0, 20))).toBe(0xdb5f);
    const pseudo = { src: ip.srcAddress, dst: ip.dstAddress };
    expect(recomputed(tcp.segment, 16, (c) => upperLayerChecksum(pseudo, 6, c))).toBe(0x50c4);
    expect(tcp.verifyChecksum(pseudo)).toBe(true);
  });

  it('detects a corrupted checksum', () => {
    const corrupted = TCP_SYN.slice();
    corrupted[19] ^= 0x01; // a destination address bit: in both checksums' coverage
    const bad = Ipv4Packet.check(corrupted);
    expect(bad.verifyChecksum()).toBe(false);
    expect(TcpSegment.check(bad.payload).verifyChecksum({ src: bad.srcAddress, dst: bad.dstAddress })).toBe(false);
  });

  it('check() rejects every truncation', () => {
    expectEveryTruncationRejected(TCP_SYN, (b) => Ipv4Packet.check(b));
    expectEveryTruncationRejected(tcp.segment.subarray(0, tcp.headerLength), (b) => TcpSegment.check(b));
  });

  it('names the header and the lengths when rejecting', () => {
    expect(() => Ipv4Packet.check(TCP_SYN.subarray(0, 12))).toThrow('IPv4 header: needs 20 bytes, only 12 available');
    expect(() => Ipv4Packet.check(TCP_SYN.subarray(0, 59))).toThrow('needs 60 bytes, only 59 available');
    expect(() => TcpSegment.check(tcp.segment.subarray(0, 30))).toThrow('TCP header with options: needs 40 bytes, only 30 available');
  });

  it('buildPacket emits the same flow with correct fields and checksums', () => {
    const built = buildPacket({ src: ip.src, dst: ip.dst, proto: 'tcp', srcPort: 46656, dstPort: 80 }, { payloadLength: 0 });
    const bip = Ipv4Packet.check(built);
    expect(bip.srcAddress).toEqual(ip.srcAddress);
    expect(bip.dstAddress).toEqual(ip.dstAddress);
    expect(bip.protocol).toBe(6);
    expect(bip.totalLength).toBe(40);
    expect(bip.verifyChecksum()).toBe(true);
    expect(recomputed(built, 10, (c) => internetChecksum(c, 0, 20))).toBe(bip.checksum);
    const btcp = TcpSegment.check(bip.payload);
    expect([btcp.srcPort, btcp.dstPort, btcp.headerLength]).toEqual([46656, 80, 20]);
    const pseudo = { src: bip.srcAddress, dst: bip.dstAddress };
    expect(btcp.verifyChecksum(pseudo)).toBe(true);
    expect(recomputed(btcp.segment, 16, (c) => upperLayerChecksum(pseudo, 6, c))).toBe(btcp.checksum);
  });
});

describe('IPv4 UDP DNS query (LINKTYPE_RAW_ipv4.pcap #1)', () => {
  const ip = Ipv4Packet.check(UDP_DNS_V4);
  const udp = UdpDatagram.check(ip.payload);

  it('parses IPv4 and UDP', () => {
    expect([ip.src, ip.dst, ip.totalLength, ip.identification, ip.ttl, ip.protocol]).toEqual(['192.168.1.100', '9.9.9.9', 57, 1, 64, 17]);
    expect(ip.dontFragment).toBe(false);
    expect([udp.srcPort, udp.dstPort, udp.length, udp.checksum]).toEqual([12345, 53, 37, 0x1976]);
    expect(udp.payload.length).toBe(29);
    expect((udp.payload[0] << 8) | udp.payload[1]).toBe(0x1234); // DNS transaction id
  });

  it('reproduces the stored checksums', () => {
    expect(recomputed(UDP_DNS_V4, 10, (c) => internetChecksum(c, 0, 20))).toBe(0xa695);
    const pseudo = { src: ip.srcAddress, dst: ip.dstAddress };
    expect(recomputed(udp.datagram, 6, (c) => upperLayerChecksum(pseudo, 17, c))).toBe(0x1976);
    expect(udp.verifyChecksum(pseudo)).toBe(true);
  });

  it('check() rejects every truncation', () => {
    expectEveryTruncationRejected(UDP_DNS_V4, (b) => Ipv4Packet.check(b));
    // The UDP length field covers the whole datagram, so every prefix of it fails.
    expectEveryTruncationRejected(udp.datagram, (b) => UdpDatagram.check(b));
  });

  it('the emitters reproduce the packet byte for byte', () => {
    const out = new Uint8Array(57);
    emitIpv4({ src: '192.168.1.100', dst: '9.9.9.9', protocol: 17, payloadLength: 37, identification: 1, ttl: 64 }, out, 0);
    emitUdp({ srcPort: 12345, dstPort: 53, payload: udp.payload }, out, 20, { src: ip.srcAddress, dst: ip.dstAddress });
    expect(out).toEqual(UDP_DNS_V4);
  });

  it('buildPacket emits the same IPv4 header for the same flow', () => {
    const built = buildPacket({ src: '192.168.1.100', dst: '9.9.9.9', proto: 'udp', srcPort: 12345, dstPort: 53 }, { payloadLength: 29 });
    // The builder's fixed choices (ID 1, TTL 64, DF clear) happen to be this packet's.
    expect(built.subarray(0, 20)).toEqual(UDP_DNS_V4.subarray(0, 20));
    expect(built.subarray(20, 26)).toEqual(UDP_DNS_V4.subarray(20, 26));
    const bip = Ipv4Packet.check(built);
    expect(UdpDatagram.check(bip.payload).verifyChecksum({ src: bip.srcAddress, dst: bip.dstAddress })).toBe(true);
  });
});

describe('IPv6 UDP DNS query (LINKTYPE_RAW_ipv6.pcap #1)', () => {
  const ip = Ipv6Packet.check(UDP_DNS_V6);
  const udp = UdpDatagram.check(ip.payload);

  it('parses IPv6 and UDP', () => {
    expect([ip.version, ip.trafficClass, ip.flowLabel, ip.payloadLength, ip.nextHeader, ip.hopLimit]).toEqual([6, 0, 0, 37, 17, 64]);
    expect(ip.src).toBe('2001:db8::1');
    expect(ip.dst).toBe('2620:fe::9');
    expect([udp.srcPort, udp.dstPort, udp.length, udp.checksum]).toEqual([12345, 53, 37, 0x98b3]);
  });

  it('reproduces the stored checksum with the IPv6 pseudo-header', () => {
    const pseudo = { src: ip.srcAddress, dst: ip.dstAddress };
    expect(recomputed(udp.datagram, 6, (c) => upperLayerChecksum(pseudo, 17, c))).toBe(0x98b3);
    expect(udp.verifyChecksum(pseudo)).toBe(true);
  });

  it('check() rejects every truncation', () => {
    expectEveryTruncationRejected(UDP_DNS_V6, (b) => Ipv6Packet.check(b));
    expectEveryTruncationRejected(udp.datagram, (b) => UdpDatagram.check(b));
  });

  it('the emitters reproduce the packet byte for byte', () => {
    const out = new Uint8Array(77);
    emitIpv6({ src: '2001:db8::1', dst: '2620:fe::9', nextHeader: 17, payloadLength: 37, hopLimit: 64 }, out, 0);
    emitUdp({ srcPort: 12345, dstPort: 53, payload: udp.payload }, out, 40, { src: ip.srcAddress, dst: ip.dstAddress });
    expect(out).toEqual(UDP_DNS_V6);
  });

  it('buildPacket emits the same fixed header and a correct checksum', () => {
    const built = buildPacket({ src: '2001:db8::1', dst: '2620:fe::9', proto: 'udp', srcPort: 12345, dstPort: 53 }, { payloadLength: 29 });
    expect(built.subarray(0, 46)).toEqual(UDP_DNS_V6.subarray(0, 46));
    const bip = Ipv6Packet.check(built);
    const budp = UdpDatagram.check(bip.payload);
    const pseudo = { src: bip.srcAddress, dst: bip.dstAddress };
    expect(budp.verifyChecksum(pseudo)).toBe(true);
    expect(recomputed(budp.datagram, 6, (c) => upperLayerChecksum(pseudo, 17, c))).toBe(budp.checksum);
  });
});

describe('ICMP time exceeded (icmp-rfc5837.pcap #1)', () => {
  const ip = Ipv4Packet.check(ICMP_TIME_EXCEEDED);
  const icmp = Icmpv4Packet.check(ip.payload);

  it('parses IPv4 and ICMP, and the quoted datagram', () => {
    expect([ip.src, ip.dst, ip.ttl, ip.totalLength, ip.protocol]).toEqual(['10.4.0.2', '12.4.4.4', 254, 240, 1]);
    expect([icmp.type, icmp.code, icmp.checksum, icmp.restOfHeader]).toEqual([11, 0, 0xccff, 0]);
    // The quoted header may be followed by RFC 4884 extensions: take it as a prefix view.
    const quoted = Ipv4Packet.check(icmp.payload.subarray(0, 40));
    expect([quoted.src, quoted.dst, quoted.ttl, quoted.protocol]).toEqual(['12.4.4.4', '12.1.1.1', 1, 17]);
  });

  it('reproduces the stored checksums', () => {
    expect(recomputed(ICMP_TIME_EXCEEDED, 10, (c) => internetChecksum(c, 0, 20))).toBe(0x7ade);
    expect(recomputed(icmp.message, 2, (c) => internetChecksum(c))).toBe(0xccff);
    expect(icmp.verifyChecksum()).toBe(true);
  });

  it('check() rejects every truncation', () => {
    expectEveryTruncationRejected(ICMP_TIME_EXCEEDED, (b) => Ipv4Packet.check(b));
    expectEveryTruncationRejected(icmp.message.subarray(0, 8), (b) => Icmpv4Packet.check(b));
  });

  it('buildPacket emits the same type and code with a correct checksum', () => {
    const built = buildPacket({ src: ip.src, dst: ip.dst, proto: 'icmp', icmpType: 11, icmpCode: 0 }, { payloadLength: 212 });
    const bip = Ipv4Packet.check(built);
    expect(bip.totalLength).toBe(240);
    const bicmp = Icmpv4Packet.check(bip.payload);
    expect([bicmp.type, bicmp.code, bicmp.restOfHeader]).toEqual([11, 0, 0]);
    expect(bicmp.verifyChecksum()).toBe(true);
    expect(recomputed(bicmp.message, 2, (c) => internetChecksum(c))).toBe(bicmp.checksum);
  });
});

describe('ESP (02-sunrise-sunset-esp.pcap #1)', () => {
  const ip = Ipv4Packet.check(ESP_V4);
  const esp = EspPacket.check(ip.payload);

  it('parses IPv4 and the ESP header', () => {
    expect([ip.src, ip.dst, ip.protocol, ip.totalLength, ip.identification]).toEqual(['192.1.2.23', '192.1.2.45', 50, 136, 0xff67]);
    expect(ip.verifyChecksum()).toBe(true);
    expect(esp.spi).toBe(0x12345678);
    expect(esp.sequenceNumber).toBe(1);
    expect(esp.payload.length).toBe(108);
  });

  it('check() rejects every truncation', () => {
    expectEveryTruncationRejected(ESP_V4, (b) => Ipv4Packet.check(b));
    expectEveryTruncationRejected(ip.payload.subarray(0, 8), (b) => EspPacket.check(b));
  });

  it('buildPacket emits the same ESP header for the same SPI', () => {
    const built = buildPacket({ src: ip.src, dst: ip.dst, proto: 'esp' }, { spi: 0x12345678, payloadLength: 108 });
    const bip = Ipv4Packet.check(built);
    expect(bip.totalLength).toBe(136);
    expect(bip.verifyChecksum()).toBe(true);
    expect(built.subarray(20, 28)).toEqual(ESP_V4.subarray(20, 28));
  });
});

describe('ESP in UDP (espudp1.pcap #1)', () => {
  const ip = Ipv4Packet.check(ESP_IN_UDP);
  const udp = UdpDatagram.check(ip.payload);

  it('parses UDP 4500 and the ESP header inside it', () => {
    expect([ip.src, ip.dst, ip.protocol]).toEqual(['192.1.2.23', '192.1.2.45', 17]);
    expect([udp.srcPort, udp.dstPort, udp.length, udp.checksum]).toEqual([4500, 4500, 124, 0]);
    const esp = EspPacket.check(udp.payload);
    expect([esp.spi, esp.sequenceNumber]).toEqual([0x12345678, 1]);
  });

  it('accepts the zero (absent) UDP checksum over IPv4 only', () => {
    expect(udp.verifyChecksum({ src: ip.srcAddress, dst: ip.dstAddress })).toBe(true);
    expect(udp.verifyChecksum({ src: new Uint8Array(16), dst: new Uint8Array(16) })).toBe(false);
  });
});

describe('SCTP (isup.pcap #2)', () => {
  const ip = Ipv4Packet.check(SCTP_M3UA);
  const sctp = SctpPacket.check(ip.payload);

  it('parses the common header', () => {
    expect([ip.src, ip.dst, ip.protocol, ip.ttl]).toEqual(['10.28.6.44', '10.28.6.42', 132, 255]);
    expect([sctp.srcPort, sctp.dstPort, sctp.verificationTag, sctp.checksum]).toEqual([2905, 2905, 0x7df33f49, 0x09720ae1]);
    expect(sctp.chunks[0]).toBe(0); // a DATA chunk
  });

  it('carries an RFC 2960 Adler-32 checksum, which the CRC32c check rejects', () => {
    const zeroed = ip.payload.slice();
    zeroed.fill(0, 8, 12);
    let a = 1;
    let b = 0;
    for (const byte of zeroed) {
      a = (a + byte) % 65521;
      b = (b + a) % 65521;
    }
    expect(((b << 16) | a) >>> 0).toBe(0x09720ae1);
    expect(sctp.verifyChecksum()).toBe(false);
  });

  it('check() rejects every truncation of the common header', () => {
    expectEveryTruncationRejected(ip.payload.subarray(0, 12), (b) => SctpPacket.check(b));
  });

  it('crc32c matches the published check values', () => {
    expect(crc32c(new TextEncoder().encode('123456789'))).toBe(0xe3069283);
    expect(crc32c(new Uint8Array(32))).toBe(0x8a9136aa); // RFC 3720 B.4
  });

  it('verifies the CRC32c of a modern SCTP INIT, stored least significant byte first', () => {
    // The SCTP INIT (ports 53600 -> 80) that masscan's sctp_selftest checks, a
    // known-good CRC32c packet: the captures here have none.
    const init = fromHex('d160005000000000' + '58e45d36' + '010000149e8d522500008000000a0800461adf3d');
    expect(sctpChecksum(init)).toBe(0x58e45d36);
    expect(SctpPacket.check(init).verifyChecksum()).toBe(true);
  });

  it('buildPacket emits the same ports with a valid CRC32c', () => {
    const built = buildPacket({ src: ip.src, dst: ip.dst, proto: 'sctp', srcPort: 2905, dstPort: 2905 });
    const bsctp = SctpPacket.check(Ipv4Packet.check(built).payload);
    expect([bsctp.srcPort, bsctp.dstPort]).toEqual([2905, 2905]);
    expect(bsctp.verifyChecksum()).toBe(true);
  });
});
