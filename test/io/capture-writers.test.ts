// The streaming writers: pcap -> pcapng -> pcap round trips keep packets and
// timestamps exactly (µs and ns files, both byte orders), and what they write
// opens in tshark without a word on stderr.

import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  createPcapWriter, createPcapngWriter, openCapture, openCaptureSync, type CaptureInfo, type CaptureRecord,
} from '../../src/io/capture.js';
import { createPcapWriter as fromPcapWriterModule } from '../../src/io/pcap-writer.js';
import { tshark, tsharkMissing, tsharkStderr } from '../support/tshark.js';
import { concat, epb, ethernet, idb, ipv4, ipv6, pcapFile, prng, shb, tsresol } from './capture-builders.js';

const tmp = mkdtempSync(join(tmpdir(), 'larval-capture-writers-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

async function readAll(path: string): Promise<{ records: CaptureRecord[]; info: CaptureInfo }> {
  const capture = openCapture(path);
  const records: CaptureRecord[] = [];
  for await (const r of capture) records.push(r);
  return { records, info: capture.info! };
}

const essence = (r: CaptureRecord) => ({ timeNs: r.timeNs, data: Buffer.from(r.data).toString('hex'), wireLength: r.wireLength, linkType: r.linkType });

/** A big-endian nanosecond pcap: nothing in data/captures is one. */
function bigEndianNs(): Uint8Array {
  const random = prng(42);
  const records = Array.from({ length: 40 }, (_, i) => ({
    sec: 1_600_000_000 + i * 7, frac: Math.floor(random() * 1e9), data: ipv4(28 + Math.floor(random() * 200), 50, i),
  }));
  records.push({ sec: 0xffffffff, frac: 999_999_999, data: ipv6(30) });
  return pcapFile({ le: false, nanos: true, snapLen: 65535, linkType: 101, records });
}

/** A little-endian µs pcap with extreme timestamps and a frame cut by the snap length. */
function littleEndianUs(): Uint8Array {
  return pcapFile({
    le: true, nanos: false, snapLen: 100, linkType: 1, records: [
      { sec: 0, frac: 0, data: ethernet(0x0800, ipv4(60)) },
      { sec: 1, frac: 999_999, data: ethernet(0x0800, ipv4(86)).subarray(0, 100), wire: 1514 },
      { sec: 0xffffffff, frac: 999_999, data: ethernet(0x86dd, ipv6(10)) },
    ],
  });
}

writeFileSync(join(tmp, 'be-ns.pcap'), bigEndianNs());
writeFileSync(join(tmp, 'le-us.pcap'), littleEndianUs());

const SOURCES: [name: string, path: string, order: string][] = [
  ['02-sunrise-sunset-esp.pcap', 'data/captures/02-sunrise-sunset-esp.pcap', 'little-endian µs'],
  ['ikev2four.pcap', 'data/captures/ikev2four.pcap', 'little-endian µs, NULL'],
  ['isup.pcap', 'data/captures/isup.pcap', 'big-endian µs'],
  ['pptp.pcap', 'data/captures/pptp.pcap', 'big-endian µs'],
  ['tcp-handshake-nano.pcap', 'data/captures/tcp-handshake-nano.pcap', 'little-endian ns'],
  ['be-ns.pcap (synthetic)', join(tmp, 'be-ns.pcap'), 'big-endian ns'],
  ['le-us.pcap (synthetic)', join(tmp, 'le-us.pcap'), 'little-endian µs, snap length 100, 2106'],
];

/** pcap -> pcapng -> pcap; returns the three files' records and the paths written. */
async function roundTrip(name: string, path: string) {
  const src = await readAll(path);
  const iface = src.info.interfaces[0]!;
  const ng = join(tmp, `${name}.pcapng`);
  const ngWriter = await createPcapngWriter(ng, { interfaces: [{ linkType: iface.linkType, snapLen: iface.snapLen, name: 'rt0' }] });
  for (const r of src.records) {
    const p = ngWriter.write(r);
    if (p) await p;
  }
  await ngWriter.close();
  const mid = await readAll(ng);
  const back = join(tmp, `${name}.back.pcap`);
  const writer = await createPcapWriter(back, { linkType: iface.linkType, nanoseconds: src.info.nanoseconds, snapLen: iface.snapLen });
  for (const r of mid.records) {
    const p = writer.write(r);
    if (p) await p;
  }
  await writer.close();
  const end = await readAll(back);
  return { src, mid, end, ng, back };
}

describe('pcap -> pcapng -> pcap', () => {
  it.each(SOURCES)('%s (%s): packets and timestamps exactly', async (name, path) => {
    const { src, mid, end, back } = await roundTrip(name, path);
    expect(src.records.length).toBeGreaterThan(0);
    expect(mid.records.map(essence)).toEqual(src.records.map(essence));
    expect(end.records.map(essence)).toEqual(src.records.map(essence));
    expect(mid.info).toMatchObject({ format: 'pcapng', sections: 1 });
    expect(mid.info.interfaces).toMatchObject([{ linkType: src.info.interfaces[0]!.linkType, name: 'rt0', ticksPerSecond: 10n ** 9n }]);
    expect(end.info).toMatchObject({ format: 'pcap', nanoseconds: src.info.nanoseconds, littleEndian: true });
    const original = readFileSync(path);
    if (src.info.littleEndian && original.readUInt32LE(20) === src.info.interfaces[0]!.linkType) {
      // Nothing to normalise: the file comes back byte for byte.
      expect(readFileSync(back).equals(original)).toBe(true);
    }
  });

  it('pcapng with several interfaces of different link types -> pcapng', async () => {
    const a = ethernet(0x0800, ipv4(50));
    const b = ipv6(20);
    const src = join(tmp, 'multi.pcapng');
    writeFileSync(src, concat(shb(false), idb(1, false, 1500, [tsresol(6)]), idb(101, false, 0, [tsresol(9)]),
      epb(0, 1_700_000_000_000_001n, a, false), epb(1, 1_700_000_000_000_000_002n, b, false), epb(0, 1_700_000_000_000_003n, a, false, 80)));
    const { records, info } = await readAll(src);
    const out = join(tmp, 'multi.out.pcapng');
    const w = await createPcapngWriter(out, { interfaces: info.interfaces.map((i) => ({ linkType: i.linkType, snapLen: i.snapLen })) });
    for (const r of records) await w.write(r);
    await w.close();
    const again = await readAll(out);
    expect(again.records.map((r) => [r.interface, ...Object.values(essence(r))])).toEqual(records.map((r) => [r.interface, ...Object.values(essence(r))]));
  });
});

describe('tshark reads what the writers write', () => {
  const missing = tsharkMissing();
  if (missing !== null) console.warn(`capture-writers: skipping the tshark checks: ${missing}`);

  function runTshark(path: string): Promise<{ stdout: string; stderr: string; code: number | null }> {
    return new Promise((resolve, reject) => {
      const child = spawn(tshark as string, ['-r', path, '-T', 'fields', '-e', 'frame.time_epoch', '-e', 'frame.cap_len', '-e', 'frame.len', '-e', 'frame.interface_id'], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('error', reject);
      child.on('close', (code) => resolve({ stdout, stderr, code }));
    });
  }

  it.skipIf(missing !== null)('pcapng and pcap (µs and ns) files open without warnings, with the same times and lengths', async () => {
    const files: string[] = [];
    for (const [name, path] of [SOURCES[2]!, SOURCES[4]!, SOURCES[5]!, SOURCES[6]!]) {
      const { ng, back } = await roundTrip(`tshark-${name}`, path);
      files.push(ng, back);
    }
    files.push(join(tmp, 'multi.out.pcapng'));
    const runs = await Promise.all(files.map(runTshark));
    for (const [i, file] of files.entries()) {
      const run = runs[i]!;
      expect(tsharkStderr(run.stderr), file).toBe('');
      expect(run.code, file).toBe(0);
      const { records } = await readAll(file);
      const ours = records.map((r) => {
        const s = r.timeNs / 1_000_000_000n;
        return [`${s}.${(r.timeNs - s * 1_000_000_000n).toString().padStart(9, '0')}`, String(r.caplen), String(r.wireLength)];
      });
      expect(run.stdout.trim().split('\n').map((l) => l.split('\t').slice(0, 3)), file).toEqual(ours);
    }
  });
});

describe('writers', () => {
  it('pcap-writer.ts re-exports the streaming writer', () => {
    expect(fromPcapWriterModule).toBe(createPcapWriter);
  });

  it('take times in ms too, truncate ns to µs in a µs file, and cut frames at the snap length', async () => {
    const path = join(tmp, 'ms.pcap');
    const w = await createPcapWriter(path, { snapLen: 30 });
    w.write({ data: ipv4(28), timeMs: 1_700_000_000_123.456 });
    w.write({ data: ipv4(40), timeNs: 1_700_000_000_123_456_789n, wireLength: 100 });
    w.writeFrame(ipv4(28), 5, 999_999_999);
    await w.close();
    const { records } = await readAll(path);
    expect(records.map((r) => [r.timeNs, r.caplen, r.wireLength])).toEqual([
      [1_700_000_000_123_456_000n, 28, 28], [1_700_000_000_123_456_000n, 30, 100], [5_999_999_000n, 28, 28],
    ]);
    expect(w.count).toBe(3);
  });

  it('hand over full buffers in order, awaited or not', async () => {
    const packets = Array.from({ length: 500 }, (_, i) => ipv4(28 + (i % 50), 17, i & 255));
    for (const awaitWrites of [true, false]) {
      const path = join(tmp, `small-buffer-${awaitWrites}.pcapng`);
      const w = await createPcapngWriter(path, { bufferSize: 64, interfaces: [{ linkType: 101 }] });
      const pending: Promise<void>[] = [];
      for (const [i, data] of packets.entries()) {
        const p = w.write({ data, timeNs: BigInt(i) * 1_000_000_007n });
        if (p && awaitWrites) await p;
        else if (p) pending.push(p);
      }
      await w.close();
      await Promise.all(pending);
      const records = [...openCaptureSync(path)];
      expect(records.map((r) => [r.timeNs, Buffer.from(r.data).toString('hex')])).toEqual(packets.map((p, i) => [BigInt(i) * 1_000_000_007n, Buffer.from(p).toString('hex')]));
    }
  });

  it('reject what the format cannot hold, naming the record', async () => {
    const w = await createPcapWriter(join(tmp, 'bad.pcap'), { linkType: 1 });
    expect(() => w.write({ data: ipv4(), timeNs: -1n })).toThrow(/pcap record 0\.timeNs must not be negative/);
    expect(() => w.write({ data: ipv4(), timeNs: 2n ** 32n * 1_000_000_000n })).toThrow(/beyond what the format can hold/);
    expect(() => w.write({ data: ipv4(), timeMs: Number.NaN })).toThrow(RangeError);
    expect(() => w.write({ data: ipv4(), timeNs: 0n, linkType: 101 })).toThrow(/link type 101 differs from the file's 1/);
    expect(() => w.write({ data: ipv4(28), timeNs: 0n, wireLength: 27 })).toThrow(/wire length 27 must be an integer in 28\.\.2\^32-1/);
    expect(() => w.writeFrame(ipv4(), 1.5, 0)).toThrow(RangeError);
    expect(() => w.writeFrame(ipv4(), 1, 1e9)).toThrow(RangeError);
    await w.close();
    expect(() => w.write({ data: ipv4(), timeNs: 0n })).toThrow(/closed/);
    const ng = await createPcapngWriter(join(tmp, 'bad.pcapng'));
    expect(() => ng.write({ data: ipv4(), timeNs: 0n })).toThrow(/interface 0 has not been added \(there are 0\)/);
    expect(ng.addInterface({ linkType: 101 })).toBe(0);
    expect(() => ng.write({ data: ipv4(), timeNs: 0n, linkType: 1 })).toThrow(/link type 1 differs from interface 0's 101/);
    expect(() => ng.write({ data: ipv4(), timeNs: 2n ** 64n })).toThrow(RangeError);
    ng.write({ data: ipv4(), timeNs: 2n ** 64n - 1n });
    expect(() => ng.addInterface({ linkType: 70000 })).toThrow(RangeError);
    await ng.close();
    expect([...openCaptureSync(join(tmp, 'bad.pcapng'))].map((r) => r.timeNs)).toEqual([2n ** 64n - 1n]);
    await expect(createPcapWriter('', {})).rejects.toThrow(TypeError);
    await expect(createPcapWriter(join(tmp, 'x.pcap'), { snapLen: 0 })).rejects.toThrow(RangeError);
  });
});
