import { describe, expect, it } from 'vitest';
import { LarvalError } from '../../src/common/errors.js';
import type { Flow } from '../../src/engine/types.js';
import { AhHeader } from '../../src/wire/ah.js';
import { type BuildOptions, buildPacket } from '../../src/wire/build.js';
import { EspPacket } from '../../src/wire/esp.js';
import { Icmpv4Packet, Icmpv6Packet } from '../../src/wire/icmp.js';
import { Ipv4Packet } from '../../src/wire/ipv4.js';
import { Ipv6FragmentHeader, Ipv6OptionsHeader, Ipv6Packet, Ipv6RoutingHeader, walkIpv6Chain } from '../../src/wire/ipv6.js';
import { SctpPacket } from '../../src/wire/sctp.js';
import { TcpSegment } from '../../src/wire/tcp.js';
import { UdpDatagram } from '../../src/wire/udp.js';

// An RFC 1071 sum written independently of src/wire/checksum.ts, so that a bug
// shared by emitter and verifier cannot make these tests pass.
function referenceSum(parts: Uint8Array[]): number {
  const all = parts.flatMap((p) => Array.from(p));
  if (all.length % 2) all.push(0);
  let sum = 0;
  for (let i = 0; i < all.length; i += 2) sum += all[i] * 256 + all[i + 1];
  while (sum > 0xffff) sum = (sum % 0x10000) + Math.floor(sum / 0x10000);
  return sum;
}

/** True when the one's-complement sum over the parts (stored checksum included) is all ones. */
function sumsToOnes(...parts: Uint8Array[]): boolean {
  return referenceSum(parts) === 0xffff;
}

function pseudoV4(ip: Uint8Array, protocol: number, length: number): Uint8Array {
  return Uint8Array.from([...ip.subarray(12, 20), 0, protocol, length >> 8, length & 0xff]);
}

function pseudoV6(ip: Uint8Array, protocol: number, length: number): Uint8Array {
  return Uint8Array.from([...ip.subarray(8, 40), 0, 0, length >> 8, length & 0xff, 0, 0, 0, protocol]);
}

function expectPattern(bytes: Uint8Array, length: number): void {
  expect(bytes.length).toBe(length);
  for (let i = 0; i < length; i++) if (bytes[i] !== (i & 0xff)) throw new Error(`payload byte ${i} is ${bytes[i]}`);
}

const V4 = { src: '10.0.0.1', dst: '192.0.2.9' };
const V6 = { src: '2001:db8::1', dst: '2001:db8:ffff::2' };

describe('buildPacket: IPv4', () => {
  it('TCP: 20-byte header, correct lengths and checksums', () => {
    const bytes = buildPacket({ ...V4, proto: 'tcp', srcPort: 1234, dstPort: 443 });
    expect(bytes.length).toBe(20 + 20 + 16);
    const ip = Ipv4Packet.check(bytes);
    expect([ip.version, ip.headerLength, ip.totalLength, ip.ttl, ip.protocol]).toEqual([4, 20, 56, 64, 6]);
    expect([ip.src, ip.dst]).toEqual([V4.src, V4.dst]);
    expect(ip.dontFragment).toBe(false);
    expect(ip.moreFragments).toBe(false);
    expect(ip.fragmentOffset).toBe(0);
    expect(sumsToOnes(bytes.subarray(0, 20))).toBe(true);
    const tcp = TcpSegment.check(ip.payload);
    expect([tcp.srcPort, tcp.dstPort, tcp.headerLength]).toEqual([1234, 443, 20]);
    expect(bytes[32] >> 4).toBe(5);
    expectPattern(tcp.payload, 16);
    expect(sumsToOnes(pseudoV4(bytes, 6, 36), ip.payload)).toBe(true);
  });

  it('UDP: 8-byte header with length and checksum', () => {
    const bytes = buildPacket({ ...V4, proto: 'udp', srcPort: 500, dstPort: 4500 }, { payloadLength: 33 });
    const ip = Ipv4Packet.check(bytes);
    const udp = UdpDatagram.check(ip.payload);
    expect([udp.srcPort, udp.dstPort, udp.length]).toEqual([500, 4500, 41]);
    expect(udp.checksum).not.toBe(0);
    expect(sumsToOnes(pseudoV4(bytes, 17, 41), ip.payload)).toBe(true);
    expectPattern(udp.payload, 33);
  });

  it('SCTP: 12-byte common header with the ports', () => {
    const ip = Ipv4Packet.check(buildPacket({ ...V4, proto: 'sctp', srcPort: 36412, dstPort: 38412 }));
    expect(ip.totalLength).toBe(20 + 12 + 16);
    const sctp = SctpPacket.check(ip.payload);
    expect([sctp.srcPort, sctp.dstPort]).toEqual([36412, 38412]);
    expect(sctp.verifyChecksum()).toBe(true);
  });

  it('ICMP: echo request by default, else the flow type and code', () => {
    const echo = Ipv4Packet.check(buildPacket({ ...V4, proto: 'icmp' }));
    const icmp = Icmpv4Packet.check(echo.payload);
    expect([icmp.type, icmp.code, icmp.identifier, icmp.sequenceNumber]).toEqual([8, 0, 1, 1]);
    expect(sumsToOnes(echo.payload)).toBe(true);

    const unreachable = Ipv4Packet.check(buildPacket({ ...V4, proto: 1, icmpType: 3, icmpCode: 4 }, { payloadLength: 0 }));
    const u = Icmpv4Packet.check(unreachable.payload);
    expect([u.type, u.code, u.restOfHeader, u.message.length]).toEqual([3, 4, 0, 8]);
    expect(sumsToOnes(unreachable.payload)).toBe(true);
  });

  it('ESP: SPI (default 0x1000), sequence 1, payload', () => {
    const ip = Ipv4Packet.check(buildPacket({ ...V4, proto: 'esp' }));
    expect(ip.protocol).toBe(50);
    const esp = EspPacket.check(ip.payload);
    expect([esp.spi, esp.sequenceNumber]).toEqual([0x1000, 1]);
    expectPattern(esp.payload, 16);
    expect(EspPacket.check(Ipv4Packet.check(buildPacket({ ...V4, proto: 50 }, { spi: 0xdeadbeef })).payload).spi).toBe(0xdeadbeef);
  });

  it('AH: 12-byte header and 12-byte ICV, then the payload', () => {
    const ip = Ipv4Packet.check(buildPacket({ ...V4, proto: 'ah' }, { spi: 0x2222 }));
    const ah = AhHeader.check(ip.payload);
    expect([ah.payloadLength, ah.headerLength, ah.spi, ah.sequenceNumber, ah.reserved, ah.nextHeader]).toEqual([4, 24, 0x2222, 1, 0, 59]);
    expect(ah.icv.length).toBe(12);
    expectPattern(ah.payload, 16);
  });

  it('other protocols: payload bytes only', () => {
    const ip = Ipv4Packet.check(buildPacket({ ...V4, proto: 'gre' }, { payloadLength: 5 }));
    expect([ip.protocol, ip.totalLength]).toEqual([47, 25]);
    expectPattern(ip.payload, 5);
    // ICMPv6's number inside IPv4 is just another protocol.
    expect(Ipv4Packet.check(buildPacket({ ...V4, proto: 58 }, { payloadLength: 3 })).payload.length).toBe(3);
  });

  it('ttl and IPv4 options', () => {
    const bytes = buildPacket({ ...V4, proto: 'udp', srcPort: 1, dstPort: 2 }, { ttl: 1, ipv4Options: 3 });
    const ip = Ipv4Packet.check(bytes);
    expect([ip.ttl, ip.headerLength, ip.totalLength]).toEqual([1, 32, 32 + 8 + 16]);
    expect(Array.from(ip.options)).toEqual(new Array(12).fill(1));
    expect(sumsToOnes(bytes.subarray(0, 32))).toBe(true);
    const udp = UdpDatagram.check(ip.payload);
    expect(sumsToOnes(pseudoV4(bytes, 17, udp.length), ip.payload)).toBe(true);
  });

  it('flow.fragment: a non-first fragment at offset 1480 with payload only', () => {
    const ip = Ipv4Packet.check(buildPacket({ ...V4, proto: 'tcp', fragment: true }));
    expect([ip.fragmentOffset, ip.moreFragments, ip.protocol, ip.totalLength]).toEqual([1480, false, 6, 36]);
    expect(ip.verifyChecksum()).toBe(true);
    expectPattern(ip.payload, 16);
  });

  it('ipv4Fragment: explicit offsets, first fragments keep the upper-layer header', () => {
    const tiny = Ipv4Packet.check(buildPacket({ ...V4, proto: 'tcp' }, { ipv4Fragment: { offset: 8, more: true } }));
    expect([tiny.fragmentOffset, tiny.moreFragments, tiny.payload.length]).toEqual([8, true, 16]);
    const first = Ipv4Packet.check(buildPacket({ ...V4, proto: 'udp', srcPort: 7, dstPort: 9 }, { ipv4Fragment: { offset: 0, more: true } }));
    expect([first.fragmentOffset, first.moreFragments]).toEqual([0, true]);
    expect(UdpDatagram.check(first.payload).dstPort).toBe(9);
  });
});

describe('buildPacket: IPv6', () => {
  it('TCP over a bare 40-byte header', () => {
    const bytes = buildPacket({ ...V6, proto: 'tcp', srcPort: 40000, dstPort: 22 });
    const ip = Ipv6Packet.check(bytes);
    expect([ip.version, ip.payloadLength, ip.nextHeader, ip.hopLimit, ip.trafficClass, ip.flowLabel]).toEqual([6, 36, 6, 64, 0, 0]);
    expect([ip.src, ip.dst]).toEqual([V6.src, V6.dst]);
    const tcp = TcpSegment.check(ip.payload);
    expect([tcp.srcPort, tcp.dstPort]).toEqual([40000, 22]);
    expect(sumsToOnes(pseudoV6(bytes, 6, 36), ip.payload)).toBe(true);
  });

  it('UDP, SCTP, ESP, AH and other protocols', () => {
    const udp = Ipv6Packet.check(buildPacket({ ...V6, proto: 'udp', srcPort: 546, dstPort: 547 }, { payloadLength: 1 }));
    expect(UdpDatagram.check(udp.payload).length).toBe(9);
    expect(sumsToOnes(pseudoV6(udp.bytes, 17, 9), udp.payload)).toBe(true);
    expect(SctpPacket.check(Ipv6Packet.check(buildPacket({ ...V6, proto: 'sctp', srcPort: 5, dstPort: 6 })).payload).verifyChecksum()).toBe(true);
    expect(EspPacket.check(Ipv6Packet.check(buildPacket({ ...V6, proto: 'esp' }, { spi: 7777 })).payload).spi).toBe(7777);
    const ah = AhHeader.check(Ipv6Packet.check(buildPacket({ ...V6, proto: 'ah' })).payload);
    expect(ah.headerLength % 8).toBe(0); // RFC 4302: 64-bit aligned over IPv6
    const other = Ipv6Packet.check(buildPacket({ ...V6, proto: 'icmp' }, { payloadLength: 4 }));
    expect([other.nextHeader, other.payloadLength]).toEqual([1, 4]);
  });

  it('ICMPv6: echo request by default; checksum covers the pseudo-header', () => {
    const bytes = buildPacket({ ...V6, proto: 'ipv6-icmp' });
    const ip = Ipv6Packet.check(bytes);
    const icmp = Icmpv6Packet.check(ip.payload);
    expect([icmp.type, icmp.code]).toEqual([128, 0]);
    expect(sumsToOnes(pseudoV6(bytes, 58, 24), ip.payload)).toBe(true);
    expect(icmp.verifyChecksum({ src: ip.srcAddress, dst: ip.dstAddress })).toBe(true);
    const na = Icmpv6Packet.check(Ipv6Packet.check(buildPacket({ ...V6, proto: 58, icmpType: 136, icmpCode: 0 })).payload);
    expect(na.type).toBe(136);
  });

  it('extension headers in the order given, chained by next header', () => {
    const bytes = buildPacket({ ...V6, proto: 'udp', srcPort: 1, dstPort: 2 }, {
      ipv6ExtHeaders: ['hop-by-hop', 'destination', 'routing', { type: 'fragment', offset: 0, more: true }, 'destination'],
    });
    const ip = Ipv6Packet.check(bytes);
    expect(ip.nextHeader).toBe(0);
    const chain = walkIpv6Chain(ip);
    expect(chain.headers.map((h) => [h.type, h.offset, h.length])).toEqual([[0, 40, 8], [60, 48, 8], [43, 56, 8], [44, 64, 8], [60, 72, 8]]);
    expect([chain.protocol, chain.offset, chain.nonFirstFragment]).toEqual([17, 80, false]);
    expect(ip.payloadLength).toBe(40 + 8 + 16);
    const hbh = Ipv6OptionsHeader.check(bytes, 40);
    expect(Array.from(hbh.options)).toEqual([1, 4, 0, 0, 0, 0]); // PadN
    const routing = Ipv6RoutingHeader.check(bytes, 56);
    expect([routing.routingType, routing.segmentsLeft]).toEqual([253, 0]);
    const frag = Ipv6FragmentHeader.check(bytes, 64);
    expect([frag.fragmentOffset, frag.moreFragments, frag.nextHeader]).toEqual([0, true, 60]);
    const udp = UdpDatagram.check(bytes.subarray(0, ip.end), 80);
    expect(sumsToOnes(pseudoV6(bytes, 17, udp.length), udp.datagram)).toBe(true);
  });

  it('flow.fragment: a fragment header with a nonzero offset, then payload only', () => {
    const bytes = buildPacket({ ...V6, proto: 'tcp', fragment: true }, { ipv6ExtHeaders: ['destination'] });
    const ip = Ipv6Packet.check(bytes);
    const chain = walkIpv6Chain(ip);
    expect(chain.headers.map((h) => h.type)).toEqual([60, 44]);
    expect([chain.protocol, chain.nonFirstFragment]).toEqual([6, true]);
    const frag = Ipv6FragmentHeader.check(bytes, 48);
    expect([frag.fragmentOffset, frag.moreFragments]).toEqual([1448, false]);
    expectPattern(bytes.subarray(chain.offset), 16);
  });
});

describe('buildPacket: input validation', () => {
  const cases: Array<[string, Flow, BuildOptions, string]> = [
    ['v4 src with v6 dst', { src: '10.0.0.1', dst: '::1', proto: 'tcp' }, {}, 'dst'],
    ['v6 src with v4 dst', { src: '::1', dst: '10.0.0.1', proto: 'tcp' }, {}, 'dst'],
    ['bad address', { src: '10.0.0.256', dst: '10.0.0.1', proto: 'tcp' }, {}, 'src'],
    ['unknown protocol name', { ...V4, proto: 'tcpp' }, {}, 'proto'],
    ['protocol 256', { ...V4, proto: 256 }, {}, 'proto'],
    ['ports on ICMP', { ...V4, proto: 'icmp', dstPort: 80 }, {}, 'dstPort'],
    ['port 65536', { ...V4, proto: 'udp', srcPort: 65536 }, {}, 'srcPort'],
    ['ICMP type on TCP', { ...V4, proto: 'tcp', icmpType: 8 }, {}, 'icmpType'],
    ['ICMPv4 type over IPv6', { ...V6, proto: 'icmp', icmpType: 8 }, {}, 'icmpType'],
    ['ICMP code 256', { ...V4, proto: 'icmp', icmpCode: 256 }, {}, 'icmpCode'],
    ['ports on a non-first fragment', { ...V4, proto: 'tcp', srcPort: 1, fragment: true }, {}, 'srcPort'],
    ['fragment with offset 0', { ...V4, proto: 'tcp', fragment: true }, { ipv4Fragment: { offset: 0, more: true } }, 'ipv4Fragment.offset'],
    ['fragment: false with offset', { ...V4, proto: 'tcp', fragment: false }, { ipv4Fragment: { offset: 8, more: false } }, 'ipv4Fragment.offset'],
    ['offset not a multiple of 8', { ...V4, proto: 'udp' }, { ipv4Fragment: { offset: 12, more: false } }, 'ipv4Fragment.offset'],
    ['v4 fragment overflow', { ...V4, proto: 'udp' }, { ipv4Fragment: { offset: 65528, more: false } }, 'ipv4Fragment.offset'],
    ['v4 datagram too long', { ...V4, proto: 'udp' }, { payloadLength: 65535 - 28 + 1 }, 'payloadLength'],
    ['ipv4Options 11', { ...V4, proto: 'udp' }, { ipv4Options: 11 }, 'ipv4Options'],
    ['ipv4Options on IPv6', { ...V6, proto: 'udp' }, { ipv4Options: 1 }, 'ipv4Options'],
    ['ipv4Fragment on IPv6', { ...V6, proto: 'udp' }, { ipv4Fragment: { offset: 8, more: false } }, 'ipv4Fragment'],
    ['ipv6ExtHeaders on IPv4', { ...V4, proto: 'udp' }, { ipv6ExtHeaders: ['routing'] }, 'ipv6ExtHeaders'],
    ['hop-by-hop not first', { ...V6, proto: 'udp' }, { ipv6ExtHeaders: ['routing', 'hop-by-hop'] }, 'ipv6ExtHeaders[1]'],
    ['unknown extension header', { ...V6, proto: 'udp' }, { ipv6ExtHeaders: ['mobility' as 'routing'] }, 'ipv6ExtHeaders[0]'],
    ['two fragment headers', { ...V6, proto: 'udp' }, {
      ipv6ExtHeaders: [{ type: 'fragment', offset: 0, more: true }, { type: 'fragment', offset: 0, more: true }],
    }, 'ipv6ExtHeaders[1]'],
    ['header after a non-first fragment', { ...V6, proto: 'udp' }, {
      ipv6ExtHeaders: [{ type: 'fragment', offset: 8, more: true }, 'destination'],
    }, 'ipv6ExtHeaders[1]'],
    ['v6 fragment overflow', { ...V6, proto: 'udp' }, { ipv6ExtHeaders: [{ type: 'fragment', offset: 65528, more: false }] }, 'ipv6ExtHeaders'],
    ['negative payload', { ...V4, proto: 'udp' }, { payloadLength: -1 }, 'payloadLength'],
    ['ttl 256', { ...V4, proto: 'udp' }, { ttl: 256 }, 'ttl'],
    ['spi 2^32', { ...V4, proto: 'esp' }, { spi: 2 ** 32 }, 'spi'],
  ];

  it.each(cases)('%s', (_name, flow, options, field) => {
    let thrown: unknown;
    try {
      buildPacket(flow, options);
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(LarvalError);
    expect((thrown as LarvalError).code).toBe('EINVAL');
    expect((thrown as LarvalError).field).toBe(field);
    expect((thrown as LarvalError).message.startsWith(`${field}:`)).toBe(true);
  });

  it('the largest datagrams still build', () => {
    expect(buildPacket({ ...V4, proto: 'udp' }, { payloadLength: 65535 - 28 }).length).toBe(65535);
    expect(buildPacket({ ...V6, proto: 'udp' }, { payloadLength: 65535 - 8 }).length).toBe(65575);
    const lastFragment = Ipv4Packet.check(buildPacket({ ...V4, proto: 'udp' }, { ipv4Fragment: { offset: 65528, more: false }, payloadLength: 7 }));
    expect(lastFragment.fragmentOffset + lastFragment.payload.length).toBe(65535);
  });
});
