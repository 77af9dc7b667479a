import { describe, expect, it } from 'vitest';
import { LarvalError } from '../../src/common/errors.js';
import { AhHeader, emitAh } from '../../src/wire/ah.js';
import { internetChecksum, onesComplementSum, pseudoHeaderSum, upperLayerChecksum } from '../../src/wire/checksum.js';
import { EspPacket, emitEsp } from '../../src/wire/esp.js';
import { ikeHeaderAt, isIkeSaInitStart } from '../../src/wire/ip.js';
import { Icmpv6Packet, emitIcmpv6 } from '../../src/wire/icmp.js';
import { Ipv4Packet, emitIpv4 } from '../../src/wire/ipv4.js';
import {
  Ipv6ExtensionHeader, Ipv6FragmentHeader, Ipv6OptionsHeader, Ipv6Packet, emitIpv6, emitIpv6FragmentHeader,
  emitIpv6OptionsHeader, emitIpv6RoutingHeader, walkIpv6Chain,
} from '../../src/wire/ipv6.js';
import { SctpPacket, emitSctp } from '../../src/wire/sctp.js';
import { TcpSegment, emitTcp } from '../../src/wire/tcp.js';
import { UdpDatagram, emitUdp } from '../../src/wire/udp.js';

function rejection(fn: () => unknown): LarvalError {
  try {
    fn();
  } catch (e) {
    if (e instanceof LarvalError) return e;
    throw new Error(`threw a non-LarvalError: ${String(e)}`);
  }
  throw new Error('did not throw');
}

describe('checksum', () => {
  it('follows the worked example of RFC 1071 §3', () => {
    const bytes = Uint8Array.from([0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]);
    expect(onesComplementSum(bytes)).toBe(0xddf2);
    expect(internetChecksum(bytes)).toBe(0x220d);
  });

  it('pads an odd trailing byte with zero', () => {
    expect(onesComplementSum(Uint8Array.from([0x12, 0x34, 0x56]))).toBe(0x1234 + 0x5600);
  });

  it('sums a range and chains an initial sum', () => {
    const bytes = Uint8Array.from([0xff, 0xff, 0x00, 0x01, 0x00, 0x02]);
    expect(onesComplementSum(bytes, 2, 4)).toBe(3);
    expect(onesComplementSum(bytes, 0, 4)).toBe(1); // 0xffff + 1 wraps to 1
    expect(onesComplementSum(bytes, 2, 2, 0xfffe)).toBe(0xffff);
    expect(() => onesComplementSum(bytes, 4, 3)).toThrow(LarvalError);
  });

  it('pseudo-headers: IPv4 and IPv6 forms sum the same fields', () => {
    const a = Uint8Array.from([10, 0, 0, 1]);
    const b = Uint8Array.from([10, 0, 0, 2]);
    expect(pseudoHeaderSum(a, b, 17, 8)).toBe(0x0a00 + 0x0001 + 0x0a00 + 0x0002 + 17 + 8);
    const v6a = new Uint8Array(16);
    const v6b = new Uint8Array(16);
    v6a[15] = 1;
    v6b[15] = 2;
    expect(pseudoHeaderSum(v6a, v6b, 58, 0x12345)).toBe(1 + 2 + 58 + 0x1 + 0x2345);
    expect(() => pseudoHeaderSum(a, v6b, 6, 0)).toThrow(LarvalError);
  });

  it('a segment with its checksum stored sums to zero', () => {
    const pseudo = { src: Uint8Array.from([192, 0, 2, 1]), dst: Uint8Array.from([198, 51, 100, 7]) };
    const segment = Uint8Array.from([0, 53, 0, 53, 0, 9, 0, 0, 0x42]);
    const checksum = upperLayerChecksum(pseudo, 17, segment);
    segment[6] = checksum >> 8;
    segment[7] = checksum & 0xff;
    expect(upperLayerChecksum(pseudo, 17, segment)).toBe(0);
  });
});

describe('IPv4 view', () => {
  const header = () => {
    const bytes = new Uint8Array(28);
    emitIpv4({ src: '198.51.100.1', dst: '203.0.113.2', protocol: 17, payloadLength: 8, fragmentOffset: 16, moreFragments: true, dscp: 46, ecn: 1, dontFragment: false }, bytes);
    return bytes;
  };

  it('round-trips every field', () => {
    const ip = Ipv4Packet.check(header());
    expect([ip.dscp, ip.ecn, ip.fragmentOffset, ip.moreFragments, ip.isNonFirstFragment, ip.payloadOffset]).toEqual([46, 1, 16, true, true, 20]);
    expect(ip.verifyChecksum()).toBe(true);
  });

  it('rejects a wrong version, a short IHL and a total length below the header', () => {
    const v6 = header();
    v6[0] = 0x65;
    expect(rejection(() => Ipv4Packet.check(v6)).message).toContain('version');
    const ihl4 = header();
    ihl4[0] = 0x44;
    expect(rejection(() => Ipv4Packet.check(ihl4)).message).toContain('IHL');
    const short = header();
    short[3] = 19;
    expect(rejection(() => Ipv4Packet.check(short)).message).toContain('total length');
    const ihl15 = header();
    ihl15[0] = 0x4f;
    expect(rejection(() => Ipv4Packet.check(ihl15)).message).toBe('IPv4 header with options: needs 60 bytes, only 28 available');
    // RFC 791: the total length counts the header, options included. IHL 6 (24 octets)
    // with a total length of 22 is at least 20, but still shorter than its own header;
    // accepted, the view's payload would end before it starts.
    const withOptions = header();
    withOptions[0] = 0x46;
    withOptions[3] = 22;
    expect(rejection(() => Ipv4Packet.check(withOptions)).message).toBe('IPv4 header total length: is shorter than the 24-byte header (got 22)');
  });

  it('views a packet at an offset, and bounds the payload by the total length', () => {
    const buffer = new Uint8Array(4 + 28 + 6); // link header before, padding after
    buffer.set(header(), 4);
    const ip = Ipv4Packet.check(buffer, 4);
    expect(ip.src).toBe('198.51.100.1');
    expect(ip.payload.length).toBe(8);
    expect(() => Ipv4Packet.check(buffer, 39)).toThrow('IPv4 header offset');
    expect(() => Ipv4Packet.check(buffer, -1)).toThrow(LarvalError);
  });

  it('fillChecksum repairs the checksum after an edit', () => {
    const bytes = header();
    const ip = Ipv4Packet.check(bytes);
    bytes[8] = 1;
    expect(ip.verifyChecksum()).toBe(false);
    ip.fillChecksum();
    expect(ip.verifyChecksum()).toBe(true);
  });

  it('emit refuses a buffer without room for the datagram and a misaligned offset', () => {
    expect(() => emitIpv4({ src: '10.0.0.1', dst: '10.0.0.2', protocol: 6, payloadLength: 20 }, new Uint8Array(30))).toThrow('needs 40 bytes');
    expect(() => emitIpv4({ src: '10.0.0.1', dst: '10.0.0.2', protocol: 6, payloadLength: 0, fragmentOffset: 4 }, new Uint8Array(20))).toThrow('multiple of 8');
    expect(() => emitIpv4({ src: '::1', dst: '10.0.0.2', protocol: 6, payloadLength: 0 }, new Uint8Array(20))).toThrow('src');
  });
});

describe('IPv6 views', () => {
  function chain(): Uint8Array {
    const bytes = new Uint8Array(40 + 8 + 16 + 8 + 4);
    let at = emitIpv6({ src: '2001:db8::a', dst: 'fe80::1', nextHeader: 0, payloadLength: 36, trafficClass: 0xb8, flowLabel: 0xabcde, hopLimit: 255 }, bytes);
    at += emitIpv6OptionsHeader({ nextHeader: 43, options: Uint8Array.from([5, 2, 0, 0]) }, bytes, at); // router alert
    at += emitIpv6RoutingHeader({ nextHeader: 44, routingType: 2, segmentsLeft: 1, data: new Uint8Array(12) }, bytes, at);
    at += emitIpv6FragmentHeader({ nextHeader: 17, fragmentOffset: 2048, moreFragments: true, identification: 0xcafe }, bytes, at);
    return bytes;
  }

  it('round-trips the fixed header', () => {
    const ip = Ipv6Packet.check(chain());
    expect([ip.trafficClass, ip.flowLabel, ip.hopLimit, ip.payloadLength, ip.end]).toEqual([0xb8, 0xabcde, 255, 36, 76]);
    expect([ip.src, ip.dst]).toEqual(['2001:db8::a', 'fe80::1']);
  });

  it('walks the chain with checked views and stops at a non-first fragment', () => {
    const bytes = chain();
    const walk = walkIpv6Chain(Ipv6Packet.check(bytes));
    expect(walk.headers.map((h) => [h.type, h.length])).toEqual([[0, 8], [43, 16], [44, 8]]);
    expect([walk.protocol, walk.offset, walk.nonFirstFragment]).toEqual([17, 72, true]);
    expect(Array.from(Ipv6OptionsHeader.check(bytes, 40).options)).toEqual([5, 2, 0, 0, 1, 0]);
    const frag = Ipv6FragmentHeader.check(bytes, 64);
    expect([frag.fragmentOffset, frag.moreFragments, frag.identification, frag.isNonFirstFragment]).toEqual([2048, true, 0xcafe, true]);
  });

  it('pads with Pad1 when a single byte is left', () => {
    const bytes = new Uint8Array(8);
    emitIpv6OptionsHeader({ nextHeader: 59, options: Uint8Array.from([0xc2, 4, 0, 1, 0]) }, bytes);
    expect(bytes[7]).toBe(0);
    expect(Ipv6OptionsHeader.check(bytes).headerLength).toBe(8);
  });

  it('rejects headers that run past the bytes', () => {
    const bytes = chain();
    bytes[49] = 3; // the routing header now claims 32 bytes
    const ip = Ipv6Packet.check(bytes);
    expect(rejection(() => walkIpv6Chain(ip)).message).toBe('IPv6 extension header (length field): needs 32 bytes, only 28 available');
    expect(rejection(() => Ipv6ExtensionHeader.check(bytes, 72)).message).toBe('IPv6 extension header: needs 8 bytes, only 4 available');
    expect(rejection(() => Ipv6FragmentHeader.check(bytes, 70)).message).toBe('IPv6 fragment header: needs 8 bytes, only 6 available');
    const wrongVersion = chain();
    wrongVersion[0] = 0x45;
    expect(rejection(() => Ipv6Packet.check(wrongVersion)).message).toContain('version');
  });

  it('emitters refuse lengths the format cannot express', () => {
    expect(() => emitIpv6RoutingHeader({ nextHeader: 6, data: new Uint8Array(5) }, new Uint8Array(64))).toThrow(LarvalError);
    expect(() => emitIpv6FragmentHeader({ nextHeader: 6, fragmentOffset: 7, moreFragments: false }, new Uint8Array(8))).toThrow('multiple of 8');
    expect(() => emitIpv6({ src: '10.0.0.1', dst: '::1', nextHeader: 59, payloadLength: 0 }, new Uint8Array(40))).toThrow('src');
  });
});

describe('upper-layer views', () => {
  const pseudo = { src: Uint8Array.from([10, 1, 1, 1]), dst: Uint8Array.from([10, 2, 2, 2]) };

  it('TCP: round trip, and a data offset below 5 or past the bytes is refused', () => {
    const bytes = new Uint8Array(23);
    emitTcp({ srcPort: 1, dstPort: 2, seqNumber: 0xffffffff, ackNumber: 7, flags: 0x12, window: 1000, urgentPointer: 3, payload: Uint8Array.from([9, 9, 9]) }, bytes, 0, pseudo);
    const tcp = TcpSegment.check(bytes);
    expect([tcp.seqNumber, tcp.ackNumber, tcp.flags, tcp.window, tcp.urgentPointer, tcp.payload.length]).toEqual([0xffffffff, 7, 0x12, 1000, 3, 3]);
    expect(tcp.verifyChecksum(pseudo)).toBe(true);
    bytes[12] = 0x40;
    expect(rejection(() => TcpSegment.check(bytes)).message).toContain('data offset');
    bytes[12] = 0x60;
    expect(rejection(() => TcpSegment.check(bytes)).message).toBe('TCP header with options: needs 24 bytes, only 23 available');
  });

  it('UDP: a length below 8 is refused; a computed zero checksum is sent as 0xffff', () => {
    const bytes = new Uint8Array(8);
    emitUdp({ srcPort: 0, dstPort: 0 }, bytes, 0, pseudo);
    bytes[5] = 7;
    expect(rejection(() => UdpDatagram.check(bytes)).message).toContain('length');
    // With a zero payload word the checksum is c; putting c into the payload adds
    // exactly what the sum lacked to be all ones, so the computed checksum is 0.
    const zeroPseudo = { src: new Uint8Array(4), dst: new Uint8Array(4) };
    const scratch = new Uint8Array(10);
    emitUdp({ srcPort: 0, dstPort: 0, payload: new Uint8Array(2) }, scratch, 0, zeroPseudo);
    emitUdp({ srcPort: 0, dstPort: 0, payload: scratch.slice(6, 8) }, scratch, 0, zeroPseudo);
    const udp = UdpDatagram.check(scratch);
    expect(udp.checksum).toBe(0xffff);
    expect(udp.verifyChecksum(zeroPseudo)).toBe(true);
  });

  it('ICMPv6, ESP, SCTP round trips', () => {
    const v6 = { src: new Uint8Array(16).fill(1), dst: new Uint8Array(16).fill(2) };
    const icmp = new Uint8Array(12);
    emitIcmpv6({ type: 1, code: 4, restOfHeader: 0, payload: Uint8Array.from([1, 2, 3, 4]) }, icmp, 0, v6);
    expect(Icmpv6Packet.check(icmp).verifyChecksum(v6)).toBe(true);
    expect(Icmpv6Packet.check(icmp).verifyChecksum({ src: v6.dst, dst: v6.dst })).toBe(false);
    const esp = new Uint8Array(8);
    emitEsp({ spi: 0xffffffff, sequenceNumber: 0x80000000 }, esp);
    expect([EspPacket.check(esp).spi, EspPacket.check(esp).sequenceNumber]).toEqual([0xffffffff, 0x80000000]);
    const sctp = new Uint8Array(16);
    emitSctp({ srcPort: 9, dstPort: 10, verificationTag: 0x01020304, chunks: Uint8Array.from([1, 2, 3, 4]) }, sctp);
    expect(SctpPacket.check(sctp).verifyChecksum()).toBe(true);
    sctp[15] ^= 1;
    expect(SctpPacket.check(sctp).verifyChecksum()).toBe(false);
  });

  it('AH: the ICV length comes from the payload length field', () => {
    const bytes = new Uint8Array(32 + 4);
    expect(emitAh({ nextHeader: 6, spi: 0x100, sequenceNumber: 2, icv: new Uint8Array(20).fill(0xaa) }, bytes)).toBe(32);
    const ah = AhHeader.check(bytes);
    expect([ah.payloadLength, ah.headerLength, ah.icv.length, ah.payload.length, ah.nextHeader]).toEqual([6, 32, 20, 4, 6]);
    expect(rejection(() => AhHeader.check(bytes.subarray(0, 31))).message).toBe('AH header with ICV (payload length): needs 32 bytes, only 31 available');
    bytes[1] = 0;
    expect(rejection(() => AhHeader.check(bytes)).message).toContain('payload length');
    expect(() => emitAh({ nextHeader: 6, spi: 1, sequenceNumber: 1, icv: new Uint8Array(6) }, bytes)).toThrow('ICV length');
  });
});

describe('IKE in UDP: where the IKE header is (src/wire/ip.ts, RFC 7296 §3.1, RFC 3948 §2.2)', () => {
  // An IPv4/UDP datagram with `payload` after the 28 octets of IP and UDP header.
  const datagram = (dport: number, payload: Uint8Array) => {
    const b = new Uint8Array(28 + payload.length);
    b.set(payload, 28);
    b[22] = dport >> 8;
    b[23] = dport & 0xff;
    return b;
  };
  const ikeInit = () => {
    const h = new Uint8Array(28);
    h.fill(7, 0, 8); // SPIi; SPIr zero
    h[18] = 34;      // IKE_SA_INIT
    return h;
  };

  it('port 500: right after the UDP header, and only when all 28 octets of the IKE header are there', () => {
    expect(ikeHeaderAt(datagram(500, ikeInit()), 20, 500)).toBe(28);
    expect(isIkeSaInitStart(datagram(500, ikeInit()), 28)).toBe(true);
    // 20 octets: SPIs and exchange type present, the header cut short.
    expect(ikeHeaderAt(datagram(500, ikeInit().subarray(0, 20)), 20, 500)).toBe(-1);
  });

  it('port 4500: IKE only after the four-zero-octet non-ESP marker; ESP whose SPI starts with zero octets is not IKE', () => {
    const marked = new Uint8Array(32);
    marked.set(ikeInit(), 4);
    expect(ikeHeaderAt(datagram(4500, marked), 20, 4500)).toBe(32);
    // ESP with SPI 0x00001001 (any SPI below 2^24 starts with a zero octet), sequence number 1.
    const esp = new Uint8Array(64);
    esp.set([0, 0, 0x10, 0x01, 0, 0, 0, 1]);
    expect(ikeHeaderAt(datagram(4500, esp), 20, 4500)).toBe(-1);
    esp.set([0, 0, 0, 0x01], 0); // SPI 1 (reserved, but not zero): still not the marker
    expect(ikeHeaderAt(datagram(4500, esp), 20, 4500)).toBe(-1);
  });
});
