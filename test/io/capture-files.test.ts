// Every capture in data/captures (tcpdump's test captures, see data/README.md)
// is either read to the end or refused with a CaptureError naming the file, the
// record and the reason. The table below is what each file is: looked at by
// hand (tshark, xxd) and kept exact.

import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CaptureError, openCapture, openCaptureSync, type CaptureRecord } from '../../src/io/capture.js';
import { tshark, tsharkMissing, tsharkStderr } from '../support/tshark.js';
import { drain } from './capture-builders.js';

const DIR = 'data/captures';

interface Read {
  records: number;
  linkType?: number;
  format: 'pcap' | 'pcapng';
  littleEndian: boolean;
  nanoseconds?: boolean;
  /** What the records' IP packets are: every record has an IP packet of that version... */
  ip?: 4 | 6 | 'esp';
  /** ...or none of them has one, for this reason. */
  noIp?: RegExp;
  note: string;
}

interface Refused {
  refused: CaptureError['code'];
  record: number;
  offset: number;
  reason: RegExp;
  note: string;
}

const EXPECTED: Record<string, Read | Refused> = {
  '02-sunrise-sunset-esp.pcap': { records: 8, linkType: 1, format: 'pcap', littleEndian: true, ip: 'esp', note: 'ESP tunnel, 3DES' },
  '08-sunrise-sunset-aes.pcap': { records: 8, linkType: 1, format: 'pcap', littleEndian: true, ip: 'esp', note: 'ESP tunnel, AES' },
  '08-sunrise-sunset-esp2.pcap': { records: 8, linkType: 1, format: 'pcap', littleEndian: true, ip: 'esp', note: 'ESP tunnel, two SAs' },
  '802.1ad_QinQ.pcap': { records: 2, linkType: 1, format: 'pcap', littleEndian: true, noIp: /^ethertype 0x0806 is not IPv4 or IPv6$/, note: 'ARP inside 802.1ad + 802.1Q tags' },
  'LINKTYPE_IPV4.pcap': { records: 1, linkType: 228, format: 'pcap', littleEndian: true, ip: 4, note: 'DNS over IPv4' },
  'LINKTYPE_IPV6.pcap': { records: 1, linkType: 229, format: 'pcap', littleEndian: true, ip: 6, note: 'DNS over IPv6' },
  'LINKTYPE_IPV6_invalid.pcap': {
    records: 1, linkType: 229, format: 'pcap', littleEndian: true, noIp: /^link layer says IPv6 but the packet has IP version 4$/,
    note: 'an IPv4 packet under LINKTYPE_IPV6: the record is read, its packet is not IP',
  },
  'LINKTYPE_RAW_ipv4.pcap': { records: 1, linkType: 101, format: 'pcap', littleEndian: true, ip: 4, note: 'DNS over IPv4' },
  'LINKTYPE_RAW_ipv6.pcap': { records: 1, linkType: 101, format: 'pcap', littleEndian: true, ip: 6, note: 'DNS over IPv6' },
  'OSPFv2_Capture_FINAL.pcapng': { records: 30, linkType: 1, format: 'pcapng', littleEndian: true, ip: 4, note: 'OSPF; IDB with if_tsresol 6' },
  'RADIUS-RFC3162.pcap': { records: 1, linkType: 113, format: 'pcap', littleEndian: true, ip: 4, note: 'Linux cooked capture' },
  'bad-ipv4-version-pgm-heapoverflow.pcap': {
    records: 1, linkType: 1, format: 'pcap', littleEndian: true, noIp: /^link layer says IPv4 but the packet has IP version 6$/,
    note: 'fuzzed: link-type field 0x30000001 (FCS bits), ethertype IPv4 with version 6',
  },
  'cve2015-0261-ipv6.pcap': { refused: 'unsupported', record: 0, offset: 0, reason: /^link type 8 \(SLIP\) is not supported \(supported: .*\)$/, note: 'SLIP' },
  'dhcp-option-108.pcapng': { records: 2, linkType: 1, format: 'pcapng', littleEndian: true, ip: 4, note: 'DHCP; an ISB after the packets (skipped)' },
  'empty.pcapng': { records: 0, format: 'pcapng', littleEndian: true, note: 'SHB and IDB only' },
  'esp_truncated.pcap': {
    records: 1, linkType: 1, format: 'pcap', littleEndian: true, ip: 'esp',
    note: 'snap length 46: 32 of the 70 bytes of a UDP-encapsulated ESP packet captured',
  },
  'espudp1.pcap': { records: 8, linkType: 1, format: 'pcap', littleEndian: true, ip: 'esp', note: 'UDP-encapsulated ESP (port 4500)' },
  'heap-overflow-1.pcap': {
    records: 1, linkType: 101, format: 'pcap', littleEndian: true, noIp: /^IP version 3 is neither 4 nor 6$/,
    note: 'fuzzed: 1 byte captured of 262144',
  },
  'icmp-rfc5837.pcap': { refused: 'unsupported', record: 0, offset: 0, reason: /^link type 9 \(PPP\) is not supported/, note: 'PPP' },
  'icmpv6-length-zero.pcapng': { records: 1, linkType: 1, format: 'pcapng', littleEndian: true, ip: 6, note: 'ICMPv6' },
  'ikev2four.pcap': { records: 21, linkType: 0, format: 'pcap', littleEndian: true, ip: 4, note: 'BSD loopback (NULL), AF 2' },
  'ikev2pI2-segfault.pcapng': { records: 1, linkType: 0, format: 'pcapng', littleEndian: true, ip: 4, note: 'NULL link type in pcapng' },
  'isup.pcap': { records: 6, linkType: 1, format: 'pcap', littleEndian: false, ip: 4, note: 'big-endian file, SCTP' },
  'nhrp.pcapng': { records: 25, linkType: 1, format: 'pcapng', littleEndian: true, ip: 4, note: 'GRE/NHRP' },
  'ppp_ip_udp_dns.pcap': { refused: 'unsupported', record: 0, offset: 0, reason: /^link type 50 \(PPP_HDLC\) is not supported/, note: 'PPP in HDLC framing' },
  'pptp.pcap': { records: 23, linkType: 1, format: 'pcap', littleEndian: false, ip: 4, note: 'big-endian file, PPTP (TCP and GRE)' },
  'tcp-handshake-nano.pcap': { records: 3, linkType: 113, format: 'pcap', littleEndian: true, nanoseconds: true, ip: 4, note: 'nanosecond file, Linux cooked' },
  'time_2106_overflow.pcapng': { records: 1, linkType: 1, format: 'pcapng', littleEndian: true, ip: 4, note: 'timestamp 2^32 s (February 2106)' },
  'timestamp_invalid_nano.pcap': {
    refused: 'malformed', record: 1, offset: 116, reason: /^timestamp fraction 1000000000 ns is not below one second$/,
    note: 'nanosecond fields of 10^9 and 2^31: record 0 is delivered, then the error',
  },
  'unsupported-link-type-160.pcap': { refused: 'unsupported', record: 0, offset: 0, reason: /^link type 160 \(USER13\) is not supported/, note: 'USER13' },
};

const files = readdirSync(DIR).sort();

function isRefused(e: Read | Refused): e is Refused {
  return 'refused' in e;
}

/** Reads with the async record iterator; returns the records and the error, if any. */
async function readAsync(path: string): Promise<{ records: CaptureRecord[]; error: unknown }> {
  const records: CaptureRecord[] = [];
  try {
    for await (const r of openCapture(path)) records.push(r);
    return { records, error: null };
  } catch (error) {
    return { records, error };
  }
}

/** Everything about a record, as comparable values. */
function digest(r: CaptureRecord): unknown[] {
  const ipStart = r.ip === null ? -1 : r.ip.byteOffset - r.data.byteOffset;
  return [r.index, r.section, r.interface, r.linkType, r.timeNs, r.caplen, r.wireLength, Buffer.from(r.data).toString('hex'),
    ipStart, r.ip?.length ?? -1, r.ipWireLength, r.reason, r.fileOffset];
}

/** Every way of reading a file: the results must all agree. */
async function readAllWays(path: string): Promise<{ name: string; digests: unknown[][]; error: string | null }[]> {
  const out: { name: string; digests: unknown[][]; error: string | null }[] = [];
  const bytes = readFileSync(path);
  const capture = (name: string, body: (push: (r: CaptureRecord) => void) => void | Promise<void>) => async () => {
    const digests: unknown[][] = [];
    let error: string | null = null;
    try {
      await body((r) => digests.push(digest(r)));
    } catch (e) {
      if (!(e instanceof CaptureError)) throw e;
      error = e.message;
    }
    out.push({ name, digests, error });
  };
  await capture('async records', async (push) => {
    for await (const r of openCapture(path)) push(r);
  })();
  for (const chunkSize of [16, 17, 100, 4096]) {
    await capture(`async batches, chunk ${chunkSize}`, async (push) => {
      for await (const b of openCapture(path, { chunkSize, batchSize: 3 }).batches()) for (let i = 0; i < b.count; i++) push(b.record(i));
    })();
    await capture(`async records, chunk ${chunkSize}`, async (push) => {
      for await (const r of openCapture(path, { chunkSize })) push(r);
    })();
    await capture(`sync file batches, chunk ${chunkSize}`, (push) => {
      for (const b of openCaptureSync(path, { chunkSize }).batches()) for (let i = 0; i < b.count; i++) push(b.record(i));
    })();
  }
  await capture('sync memory', (push) => {
    for (const r of openCaptureSync(bytes, { name: path })) push(r);
  })();
  return out;
}

describe('data/captures', () => {
  it('has an expected outcome for every file, and a file for every expected outcome', () => {
    expect(files).toEqual(Object.keys(EXPECTED).sort());
  });

  it.each(files)('%s: read or refused as expected', async (file) => {
    const path = join(DIR, file);
    const want = EXPECTED[file]!;
    const { records, error } = await readAsync(path);
    if (isRefused(want)) {
      expect(error, `${file} should be refused (${want.note})`).toBeInstanceOf(CaptureError);
      const e = error as CaptureError;
      expect(e.code).toBe(want.refused);
      expect(e.file).toBe(path);
      expect(e.record).toBe(want.record);
      expect(e.offset).toBe(want.offset);
      expect(e.reason).toMatch(want.reason);
      expect(e.message).toBe(`${path}: record ${want.record}, byte ${want.offset}: ${e.reason}`);
      expect(records.length, 'records before the bad one are delivered').toBe(want.record);
      return;
    }
    expect(error, `${file} should be read (${want.note})`).toBeNull();
    expect(records.length).toBe(want.records);
    const capture = openCapture(path);
    await drain(capture.batches());
    expect(capture.info?.format).toBe(want.format);
    expect(capture.info?.littleEndian).toBe(want.littleEndian);
    expect(capture.info?.nanoseconds).toBe(want.nanoseconds ?? false);
    records.forEach((r, i) => {
      expect(r.index).toBe(i);
      expect(r.linkType).toBe(want.linkType);
      expect(r.data.length).toBe(r.caplen);
      expect(r.caplen).toBeLessThanOrEqual(r.wireLength);
      if (want.noIp) {
        expect(r.ip).toBeNull();
        expect(r.reason).toMatch(want.noIp);
        return;
      }
      expect(r.reason).toBeNull();
      const ip = r.ip!;
      expect(ip.buffer).toBe(r.data.buffer); // a view, not a copy
      expect(ip.length).toBeLessThanOrEqual(r.ipWireLength);
      if (want.ip === 6) expect(ip[0]! >> 4).toBe(6);
      else expect(ip[0]! >> 4).toBe(4);
    });
  });

  const espFiles = files.filter((f) => (EXPECTED[f] as Read).ip === 'esp');
  it.each(espFiles)('%s: the IP packets are IPv4 carrying ESP (protocol 50) or ESP in UDP port 4500', async (file) => {
    const { records } = await readAsync(join(DIR, file));
    expect(records.length).toBeGreaterThan(0);
    for (const r of records) {
      const ip = r.ip!;
      expect(ip[0]! >> 4).toBe(4);
      const proto = ip[9];
      if (proto === 50) continue;
      expect(proto).toBe(17);
      const ihl = (ip[0]! & 15) * 4;
      const sport = (ip[ihl]! << 8) | ip[ihl + 1]!;
      const dport = (ip[ihl + 2]! << 8) | ip[ihl + 3]!;
      expect([sport, dport]).toContain(4500);
    }
  });

  it('esp_truncated.pcap: the IP packet is cut short by the snap length and says how long it was', async () => {
    const { records } = await readAsync(join(DIR, 'esp_truncated.pcap'));
    expect(records[0]!.ip!.length).toBe(32);
    expect(records[0]!.ipWireLength).toBe(70);
    expect(records[0]!.wireLength).toBe(65613);
  });

  it('Ethernet padding is not part of the IP packet (pptp.pcap: 60-byte frames around 40-byte IP packets)', async () => {
    const { records } = await readAsync(join(DIR, 'pptp.pcap'));
    const padded = records.filter((r) => r.caplen === 60 && r.ip!.length === 40);
    expect(padded.length).toBeGreaterThan(0);
    for (const r of padded) expect(r.ipWireLength).toBe(40);
  });

  it('time_2106_overflow.pcapng: a timestamp past 2106 is kept exactly', async () => {
    const { records } = await readAsync(join(DIR, 'time_2106_overflow.pcapng'));
    expect(records[0]!.timeNs).toBe(2n ** 32n * 1_000_000_000n);
  });

  it.each(files)('%s: every way of reading gives the same records and the same error', async (file) => {
    const ways = await readAllWays(join(DIR, file));
    const [first, ...rest] = ways;
    for (const w of rest) {
      expect({ name: w.name, digests: w.digests, error: w.error }).toEqual({ name: w.name, digests: first!.digests, error: first!.error });
    }
  });

  // One tshark run over all readable files concatenated by mergecap (tshark takes
  // most of a second to start, per file).
  const mergecap = tshark === null ? null : join(dirname(tshark), 'mergecap');
  const missing = tsharkMissing() ?? (mergecap !== null && existsSync(mergecap) ? null : 'mergecap is not installed next to tshark');
  if (missing !== null) console.warn(`capture-files: skipping the tshark comparison: ${missing}`);
  const readable = files.filter((f) => !isRefused(EXPECTED[f]!) && (EXPECTED[f] as Read).records > 0);
  it.skipIf(missing !== null)('timestamps and lengths of every record agree with tshark', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'larval-captures-'));
    try {
      const merged = join(dir, 'all.pcapng');
      const merge = spawnSync(mergecap as string, ['-a', '-F', 'pcapng', '-w', merged, ...readable.map((f) => join(DIR, f))], { encoding: 'utf8' });
      expect(tsharkStderr(merge.stderr)).toBe('');
      expect(merge.status).toBe(0);
      const run = spawnSync(tshark as string, ['-r', merged, '-T', 'fields', '-e', 'frame.time_epoch', '-e', 'frame.cap_len', '-e', 'frame.len'], { encoding: 'utf8' });
      expect(tsharkStderr(run.stderr)).toBe('');
      const theirs = run.stdout.trim().split('\n').map((l) => l.split('\t'));
      const ours: string[][] = [];
      for (const file of readable) {
        const { records, error } = await readAsync(join(DIR, file));
        expect(error).toBeNull();
        for (const r of records) {
          const s = r.timeNs / 1_000_000_000n;
          const ns = r.timeNs - s * 1_000_000_000n;
          ours.push([`${s}.${ns.toString().padStart(9, '0')}`, String(r.caplen), String(r.wireLength), file]);
        }
      }
      expect(ours.length).toBe(theirs.length);
      ours.forEach((row, i) => expect(row.slice(0, 3), `${row[3]}`).toEqual(theirs[i]));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
