// Cross-checks the independent ESP encoder against Wireshark's ESP dissector,
// and exercises the tshark harness itself.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writePcap } from '../../src/io/pcap-writer.js';
import { independentEsp, type IndependentSa } from './independent-esp.js';
import { tsharkDecryptEsp, tsharkMissing, tsharkSupportsEsn, tsharkVersion, type TsharkFrame, type TsharkSa } from './tshark.js';

const missing = tsharkMissing();
if (missing !== null) console.warn(`tshark ESP checks skipped: ${missing}`);
const esnSupported = missing === null ? await tsharkSupportsEsn() : false;
if (missing === null && !esnSupported) {
  console.warn(`tshark ESN checks skipped: ${tsharkVersion() ?? 'this tshark'} has no ESN fields in its esp_sa table`);
}

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));

function checksum(bytes: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < bytes.length; i += 2) sum += (bytes[i]! << 8) | (bytes[i + 1] ?? 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

function udpPayload(n: number): Uint8Array {
  const d = new Uint8Array(8 + n);
  d.set([0x9c, 0x40, 0x9c, 0x41, (8 + n) >> 8, (8 + n) & 0xff, 0, 0]); // 40000 -> 40001, no checksum
  for (let i = 0; i < n; i++) d[8 + i] = 0x61 + (i % 26);
  return d;
}

function ipv4Udp(src: string, dst: string, n: number): Uint8Array {
  const p = new Uint8Array(28 + n);
  p[0] = 0x45;
  p[2] = p.length >> 8;
  p[3] = p.length & 0xff;
  p[8] = 64;
  p[9] = 17;
  p.set(src.split('.').map(Number), 12);
  p.set(dst.split('.').map(Number), 16);
  const sum = checksum(p.subarray(0, 20));
  p[10] = sum >> 8;
  p[11] = sum & 0xff;
  p.set(udpPayload(n), 20);
  return p;
}

/** IPv6/UDP with addresses fd00:<site>::<host>; the UDP checksum is computed (mandatory over IPv6). */
function ipv6Udp(site: number, srcHost: number, dstHost: number, n: number): Uint8Array {
  const p = new Uint8Array(48 + n);
  p[0] = 0x60;
  p[4] = (8 + n) >> 8;
  p[5] = (8 + n) & 0xff;
  p[6] = 17;
  p[7] = 64;
  for (const [at, host] of [[8, srcHost], [24, dstHost]] as const) {
    p.set([0xfd, 0x00, site >> 8, site & 0xff], at);
    p[at + 15] = host;
  }
  p.set(udpPayload(n), 40);
  const pseudo = new Uint8Array(40 + 8 + n);
  pseudo.set(p.subarray(8, 40), 0);
  pseudo[34] = (8 + n) >> 8;
  pseudo[35] = (8 + n) & 0xff;
  pseudo[39] = 17;
  pseudo.set(p.subarray(40), 40);
  const sum = checksum(pseudo) || 0xffff;
  p[46] = sum >> 8;
  p[47] = sum & 0xff;
  return p;
}

const ALGORITHMS = {
  'aes-gcm-16/128': { enc: 'aes-gcm-16', encKey: hex('feffe9928665731c6d6a8f9467308308 cafebabe'), auth: null },
  'aes-gcm-16/256': { enc: 'aes-gcm-16', encKey: hex('abbccddef00112233445566778899aababbccddef00112233445566778899aab 11223344'), auth: null },
  'aes-cbc-128/hmac-sha256-128': {
    enc: 'aes-cbc', encKey: hex('90d382b410eeba7ad938c46cec1a82bf'),
    auth: 'hmac-sha256-128', authKey: hex('0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20'),
  },
  'aes-cbc-256/hmac-sha256-128': {
    enc: 'aes-cbc', encKey: hex('0123456789abcdef0123456789abcdef fedcba9876543210fedcba9876543210'),
    auth: 'hmac-sha256-128', authKey: hex('4a656665 4a656665 4a656665 4a656665 4a656665 4a656665 4a656665 4a656665'),
  },
  'aes-cbc-128/hmac-sha1-96': {
    enc: 'aes-cbc', encKey: hex('0f0e0d0c0b0a09080706050403020100'),
    auth: 'hmac-sha1-96', authKey: hex('0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b'),
  },
} as const satisfies Record<string, Pick<IndependentSa, 'enc' | 'encKey' | 'auth' | 'authKey'>>;
type AlgorithmName = keyof typeof ALGORITHMS;

interface Expected {
  spi: number;
  seq: number;
  icv: 'good' | 'bad';
  udpEncap: boolean;
  inner: TsharkFrame['inner'];
}

interface Case {
  name: string;
  sa: IndependentSa;
  /** How tshark is told about the SA (addresses possibly written differently). */
  tsharkSa: TsharkSa;
  packets: { data: Uint8Array; expected: Expected }[];
}

const cases: Case[] = [];
let nextSpi = 0x1000;

/** Tunnel endpoints per outer family; the IPv6 ones are written out in full for tshark to check canonicalisation. */
const ENDPOINTS = {
  4: { src: '198.51.100.1', dst: '198.51.100.2', uatSrc: '198.51.100.1', uatDst: '198.51.100.2' },
  6: { src: '2001:db8::1', dst: '2001:db8::2', uatSrc: '2001:0db8:0000:0000:0000:0000:0000:0001', uatDst: '2001:db8::2' },
} as const;

function addCase(name: string, mode: 'tunnel' | 'transport', family: 4 | 6, algorithm: AlgorithmName, udpEncap?: { sport: number; dport: number }): void {
  const spi = nextSpi++;
  const site = spi & 0xffff;
  const alg = ALGORITHMS[algorithm];
  const packets: Case['packets'] = [];
  let sa: IndependentSa;
  let tsharkSa: TsharkSa;
  if (mode === 'tunnel') {
    const ends = ENDPOINTS[family];
    sa = { spi, mode, family, src: ends.src, dst: ends.dst, ...alg, ...(udpEncap ? { udpEncap } : {}) };
    tsharkSa = { family, src: ends.uatSrc, dst: ends.uatDst, spi, ...alg };
    // Both inner families through every tunnel, with lengths that exercise the padding.
    const inners = [
      { data: ipv4Udp(`10.${site >> 8}.${site & 0xff}.1`, `10.${site >> 8}.${site & 0xff}.2`, 5), inner: { family: 4, src: `10.${site >> 8}.${site & 0xff}.1`, dst: `10.${site >> 8}.${site & 0xff}.2`, proto: 17 } },
      { data: ipv6Udp(site, 1, 2, 17), inner: { family: 6, src: `fd00:${site.toString(16)}::1`, dst: `fd00:${site.toString(16)}::2`, proto: 17 } },
      { data: ipv4Udp(`10.${site >> 8}.${site & 0xff}.3`, `10.${site >> 8}.${site & 0xff}.4`, 100), inner: { family: 4, src: `10.${site >> 8}.${site & 0xff}.3`, dst: `10.${site >> 8}.${site & 0xff}.4`, proto: 17 } },
    ] as const;
    inners.forEach((x, i) => {
      const seq = i + 1;
      packets.push({ data: independentEsp(sa, x.data, BigInt(seq)), expected: { spi, seq, icv: 'good', udpEncap: !!udpEncap, inner: { ...x.inner } } });
    });
  } else {
    const src = family === 4 ? `172.16.${site & 0xff}.1` : `fd00:${site.toString(16)}::1`;
    const dst = family === 4 ? `172.16.${site & 0xff}.2` : `fd00:${site.toString(16)}::2`;
    sa = { spi, mode, family, src: 'ignored', dst: 'ignored', ...alg, ...(udpEncap ? { udpEncap } : {}) };
    tsharkSa = { family, src, dst, spi, ...alg };
    [3, 40].forEach((n, i) => {
      const inner = family === 4 ? ipv4Udp(src, dst, n) : ipv6Udp(site, 1, 2, n);
      const seq = i + 1;
      packets.push({ data: independentEsp(sa, inner, BigInt(seq)), expected: { spi, seq, icv: 'good', udpEncap: !!udpEncap, inner: { family, src, dst, proto: 17 } } });
    });
  }
  // Tampered copies of the first packet: one byte of the encrypted part (a byte whose
  // change leaves the decrypted packet well-formed), and the last byte of the ICV.
  const first = packets[0]!;
  const espAt = ipHeaderLength(first.data) + (udpEncap ? 8 : 0);
  const tamperAt = espAt + 8 + (alg.enc === 'aes-gcm-16' ? 8 + 1 : 1); // GCM: inner byte 1 (CTR); CBC: IV byte 1 (flips plaintext byte 1)
  for (const at of [tamperAt, first.data.length - 1]) {
    const data = first.data.slice();
    data[at]! ^= 0x01;
    packets.push({ data, expected: { ...first.expected, icv: 'bad' } });
  }
  cases.push({ name, sa, tsharkSa, packets });
}

function ipHeaderLength(packet: Uint8Array): number {
  return packet[0]! >> 4 === 4 ? (packet[0]! & 0x0f) * 4 : 40;
}

for (const mode of ['tunnel', 'transport'] as const) {
  for (const algorithm of Object.keys(ALGORITHMS) as AlgorithmName[]) {
    for (const family of [4, 6] as const) addCase(`${mode} ${algorithm} over IPv${family}`, mode, family, algorithm);
  }
}
addCase('UDP-encapsulated tunnel aes-gcm-16/128 over IPv4 (4500 -> 4500)', 'tunnel', 4, 'aes-gcm-16/128', { sport: 4500, dport: 4500 });
addCase('UDP-encapsulated tunnel aes-gcm-16/256 over IPv4 (NAT port 33012 -> 4500)', 'tunnel', 4, 'aes-gcm-16/256', { sport: 33012, dport: 4500 });
addCase('UDP-encapsulated tunnel aes-gcm-16/128 over IPv6', 'tunnel', 6, 'aes-gcm-16/128', { sport: 4500, dport: 4500 });
addCase('UDP-encapsulated transport aes-gcm-16/128 over IPv4', 'transport', 4, 'aes-gcm-16/128', { sport: 4500, dport: 4500 });

describe.skipIf(missing !== null)('tshark decrypts the independent encoder output', () => {
  let dir: string;
  let frames: TsharkFrame[];
  const expectedByFrame: Expected[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'larval-tshark-test-'));
    const path = join(dir, 'esp.pcap');
    const all = cases.flatMap((c) => c.packets);
    for (const p of all) expectedByFrame.push(p.expected);
    await writePcap(path, all.map((p) => ({ data: p.data })));
    frames = await tsharkDecryptEsp(path, cases.map((c) => c.tsharkSa));
  });

  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('reports one frame per packet', () => {
    expect(frames.map((f) => f.frame)).toEqual(expectedByFrame.map((_, i) => i + 1));
  });

  let offset = 0;
  for (const c of cases) {
    const first = offset;
    offset += c.packets.length;
    it(c.name, () => {
      const got = frames.slice(first, first + c.packets.length).map((f) => ({
        spi: f.spi, seq: f.seq, icv: f.icv, decrypted: f.decrypted, udpEncap: f.udpEncap, inner: f.inner, expert: f.expert,
      }));
      const want = c.packets.map(({ expected: e }) => ({
        spi: e.spi, seq: e.seq, icv: e.icv, decrypted: true, udpEncap: e.udpEncap, inner: e.inner, expert: [],
      }));
      expect(got).toEqual(want);
    });
  }
});

describe.skipIf(missing !== null)('tshark harness', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'larval-tshark-harness-'));
  });
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const gcm = ALGORITHMS['aes-gcm-16/128'];
  const sa: IndependentSa = { spi: 0x2000, mode: 'tunnel', family: 4, src: '203.0.113.1', dst: '203.0.113.2', ...gcm };
  const tsharkSa: TsharkSa = { family: 4, src: '203.0.113.1', dst: '203.0.113.2', spi: 0x2000, ...gcm };

  it('leaves frames without a matching SA undecrypted, and non-ESP frames blank', async () => {
    const path = join(dir, 'nomatch.pcap');
    await writePcap(path, [
      { data: independentEsp(sa, ipv4Udp('10.9.0.1', '10.9.0.2', 4), 1n) },
      { data: ipv4Udp('10.9.0.1', '10.9.0.2', 4) },
    ]);
    const frames = await tsharkDecryptEsp(path, [{ ...tsharkSa, spi: 0x2001 }]);
    expect(frames).toEqual([
      { frame: 1, spi: 0x2000, seq: 1, decrypted: false, icv: null, inner: null, udpEncap: false, expert: [] },
      { frame: 2, spi: null, seq: null, decrypted: false, icv: null, inner: null, udpEncap: false, expert: [] },
    ]);
  });

  it('decodes UDP encapsulation on other ports when told to', async () => {
    const path = join(dir, 'port.pcap');
    const encap = { ...sa, udpEncap: { sport: 14500, dport: 14501 } };
    await writePcap(path, [{ data: independentEsp(encap, ipv4Udp('10.9.0.1', '10.9.0.2', 4), 1n) }]);
    const [plain] = await tsharkDecryptEsp(path, [tsharkSa]);
    expect(plain!.spi).toBeNull();
    const [told] = await tsharkDecryptEsp(path, [tsharkSa], { udpEncapPorts: [14501] });
    expect(told).toMatchObject({ spi: 0x2000, icv: 'good', udpEncap: true });
  });

  it('reports sequence gaps as expert info when sequence analysis is on', async () => {
    const path = join(dir, 'gap.pcap');
    const inner = ipv4Udp('10.9.0.1', '10.9.0.2', 4);
    await writePcap(path, [{ data: independentEsp(sa, inner, 1n) }, { data: independentEsp(sa, inner, 5n) }]);
    const frames = await tsharkDecryptEsp(path, [tsharkSa], { sequenceAnalysis: true });
    expect(frames[0]!.expert).toEqual([]);
    expect(frames[1]!.expert.join('\n')).toMatch(/Wrong Sequence Number/);
    expect(frames[1]!.icv).toBe('good');
  });

  it('validates the SAs it is given', async () => {
    await expect(tsharkDecryptEsp(join(dir, 'none.pcap'), [{ ...tsharkSa, spi: -1 }])).rejects.toThrow(/sas\[0\]\.spi/);
    await expect(tsharkDecryptEsp(join(dir, 'none.pcap'), [{ ...tsharkSa, family: 6, src: 'not-an-address' }])).rejects.toThrow(/sas\[0\]\.src/);
    await expect(tsharkDecryptEsp(join(dir, 'none.pcap'), [tsharkSa, { ...tsharkSa, auth: 'hmac-sha1-96', authKey: new Uint8Array(20) }])).rejects.toThrow(/sas\[1\]\.auth/);
  });

  it.skipIf(esnSupported)('refuses ESN SAs on a tshark without ESN support', async () => {
    const path = join(dir, 'esn-refused.pcap');
    await writePcap(path, []);
    await expect(tsharkDecryptEsp(path, [{ ...tsharkSa, esn: true }])).rejects.toThrow(/ESN/);
  });

  it.skipIf(!esnSupported)('checks ESN SAs (GCM and HMAC) when tshark supports them', async () => {
    const path = join(dir, 'esn.pcap');
    const cbc = ALGORITHMS['aes-cbc-128/hmac-sha256-128'];
    const esnGcm: IndependentSa = { ...sa, spi: 0x2100, esn: true };
    const esnCbc: IndependentSa = { ...sa, spi: 0x2101, esn: true, ...cbc };
    const inner = ipv4Udp('10.9.0.1', '10.9.0.2', 4);
    const high = 3n << 32n;
    await writePcap(path, [
      { data: independentEsp(esnGcm, inner, high | 1n) },
      { data: independentEsp(esnCbc, inner, high | 1n) },
    ]);
    const frames = await tsharkDecryptEsp(path, [
      { ...tsharkSa, spi: 0x2100, esn: true, esnHigh: 3 },
      { ...tsharkSa, spi: 0x2101, esn: true, esnHigh: 3, ...cbc },
    ]);
    expect(frames.map((f) => f.icv)).toEqual(['good', 'good']);
  });
});
