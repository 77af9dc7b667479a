// The capture readers on files built byte by byte: every format feature, every
// link type, every refusal.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CaptureError, MAX_CAPLEN, PCAPNG_MAX_BLOCK, openCapture, openCaptureSync, type CaptureRecord, type SyncCaptureOptions } from '../../src/io/capture.js';
import {
  block, concat, drain, epb, ethernet, idb, ifName, ipv4, ipv6, opb, pcapFile, pcapHeader, prng, shb, spb, tsoffset, tsresol,
} from './capture-builders.js';

const tmp = mkdtempSync(join(tmpdir(), 'larval-capture-formats-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function read(bytes: Uint8Array, options?: SyncCaptureOptions): CaptureRecord[] {
  return [...openCaptureSync(bytes, { name: 'test.cap', ...options })];
}

/** The CaptureError reading bytes throws, and the records delivered before it. */
function refusal(bytes: Uint8Array, options?: SyncCaptureOptions): { error: CaptureError; records: CaptureRecord[] } {
  const records: CaptureRecord[] = [];
  try {
    for (const r of openCaptureSync(bytes, { name: 'test.cap', ...options })) records.push(r);
  } catch (error) {
    if (!(error instanceof CaptureError)) throw error;
    return { error, records };
  }
  throw new Error(`expected a CaptureError, read ${records.length} records`);
}

const hex = (b: Uint8Array | null): string | null => (b === null ? null : Buffer.from(b).toString('hex'));

describe('classic pcap', () => {
  it.each([
    ['little-endian µs', true, false],
    ['big-endian µs', false, false],
    ['little-endian ns', true, true],
    ['big-endian ns', false, true],
  ])('%s: header, records, timestamps', (_name, le, nanos) => {
    const a = ipv4(40);
    const b = ipv6(16);
    const file = pcapFile({
      le, nanos, snapLen: 65535, records: [
        { sec: 1_700_000_000, frac: nanos ? 123_456_789 : 123_456, data: a },
        { sec: 0xffffffff, frac: nanos ? 999_999_999 : 999_999, data: b, wire: 100 },
      ],
    });
    const capture = openCaptureSync(file);
    const records = [...capture];
    expect(capture.info).toMatchObject({ format: 'pcap', littleEndian: le, nanoseconds: nanos, version: '2.4', sections: 1 });
    expect(capture.info!.interfaces).toEqual([{ section: 0, id: 0, linkType: 101, snapLen: 65535, name: null, ticksPerSecond: nanos ? 10n ** 9n : 10n ** 6n, offsetSec: 0, supported: true }]);
    expect(records.map((r) => [r.index, r.timeNs, r.caplen, r.wireLength, hex(r.data), hex(r.ip), r.ipWireLength, r.fileOffset])).toEqual([
      [0, nanos ? 1_700_000_000_123_456_789n : 1_700_000_000_123_456_000n, 40, 40, hex(a), hex(a), 40, 24],
      [1, nanos ? 4_294_967_295_999_999_999n : 4_294_967_295_999_999_000n, 56, 100, hex(b), hex(b), 56, 24 + 16 + 40],
    ]);
  });

  it('maps DLT_RAW 12 and 14 to RAW and keeps the number in linkType', () => {
    for (const linkType of [12, 14]) {
      const [r] = read(pcapFile({ linkType, records: [{ sec: 1, frac: 0, data: ipv4(30) }] }));
      expect(r!.linkType).toBe(linkType);
      expect(r!.ip!.length).toBe(30);
    }
  });

  it('takes the link type from the low 16 bits of the field (the rest carries FCS information)', () => {
    const [r] = read(pcapFile({ linkType: 0x14000001, records: [{ sec: 1, frac: 0, data: ethernet(0x0800, ipv4(28)) }] }));
    expect(r!.linkType).toBe(1);
    expect(r!.ip!.length).toBe(28);
  });

  it('refuses an unsupported link type at the file header, naming it', () => {
    const { error } = refusal(pcapFile({ linkType: 9, records: [{ sec: 1, frac: 0, data: ipv4() }] }));
    expect(error.code).toBe('unsupported');
    expect(error.message).toMatch(/^test\.cap: record 0, byte 0: link type 9 \(PPP\) is not supported \(supported: 0 NULL, 1 ETHERNET, .*276 LINUX_SLL2\)$/);
  });

  it.each([
    ['caplen above the snap length', { snapLen: 100 }, { sec: 0, frac: 0, data: new Uint8Array(101) }, /captured length 101 exceeds the file's snapshot length 100/],
    ['caplen above 256 KiB (snap length 0)', { snapLen: 0 }, { sec: 0, frac: 0, data: new Uint8Array(0), caplen: MAX_CAPLEN + 1, wire: 1e6 }, /captured length 262145 exceeds the maximum of 262144 bytes/],
    ['caplen of 4 GiB', { snapLen: 0xffffffff }, { sec: 0, frac: 0, data: new Uint8Array(0), caplen: 0xffffffff, wire: 0xffffffff }, /captured length 4294967295 exceeds the maximum/],
    ['caplen above the wire length', {}, { sec: 0, frac: 0, data: new Uint8Array(30), wire: 29 }, /captured length 30 exceeds the original length 29/],
    ['µs of a second or more', {}, { sec: 0, frac: 1_000_000, data: ipv4() }, /timestamp fraction 1000000 µs is not below one second/],
    ['ns of a second or more', { nanos: true }, { sec: 0, frac: 1_000_000_000, data: ipv4() }, /timestamp fraction 1000000000 ns is not below one second/],
  ])('refuses %s, naming the record and its offset, after delivering the records before it', (_name, spec, bad, reason) => {
    const good = { sec: 5, frac: 0, data: ipv4(28) };
    const { error, records } = refusal(pcapFile({ ...spec, records: [good, good, bad, good] }));
    expect(records.length).toBe(2);
    expect(error.code).toBe('malformed');
    expect(error.record).toBe(2);
    expect(error.offset).toBe(24 + 2 * 44);
    expect(error.message).toMatch(/^test\.cap: record 2, byte 112: /);
    expect(error.reason).toMatch(reason);
  });

  it('refuses a 4 GiB record from a file without allocating for it', async () => {
    const path = join(tmp, 'huge-caplen.pcap');
    writeFileSync(path, pcapFile({ snapLen: 0, records: [{ sec: 0, frac: 0, data: new Uint8Array(8), caplen: 0xfffffff0, wire: 0xfffffff0 }] }));
    const capture = openCapture(path);
    await expect(async () => {
      await drain(capture);
    }).rejects.toThrow(CaptureError);
    expect(capture.stats!.maxBufferBytes).toBe(1 << 20);
  });

  describe('a file that ends inside a record', () => {
    const good = { sec: 5, frac: 0, data: ipv4(28) };
    const whole = pcapFile({ records: [good, good, good] });

    it('is refused with the record number, offset and what is missing, after the complete records', () => {
      const { error, records } = refusal(whole.subarray(0, whole.length - 10));
      expect(records.length).toBe(2);
      expect(error.code).toBe('truncated');
      expect(error.message).toBe('test.cap: record 2, byte 112: record is truncated: its header announces 28 captured bytes, the file ends after 18');
      const head = refusal(whole.subarray(0, 24 + 44 + 7));
      expect(head.error.message).toBe('test.cap: record 1, byte 68: record header is truncated: the file ends after 7 of its 16 bytes');
    });

    it("ends the capture there with onTruncated: 'stop', keeping the error in truncation", () => {
      const capture = openCaptureSync(whole.subarray(0, whole.length - 10), { onTruncated: 'stop', name: 'test.cap' });
      expect([...capture].length).toBe(2);
      expect(capture.truncation?.code).toBe('truncated');
      expect(capture.truncation?.record).toBe(2);
      const clean = openCaptureSync(whole, { onTruncated: 'stop' });
      expect([...clean].length).toBe(3);
      expect(clean.truncation).toBeNull();
    });

    it('is refused even with onTruncated: stop when the file header itself is cut short', () => {
      const { error } = refusal(whole.subarray(0, 20), { onTruncated: 'stop' });
      expect(error.message).toBe('test.cap: record 0, byte 0: file header is truncated: the file ends after 20 of its 24 bytes');
    });
  });

  it.each([
    ['an empty file', new Uint8Array(0), 'truncated', 'the file is empty'],
    ['a 3-byte file', Uint8Array.of(0xd4, 0xc3, 0xb2), 'truncated', 'the file is 3 bytes long, too short for a capture file header'],
    ['a text file', new TextEncoder().encode('hello, world\n'), 'malformed', 'not a pcap or pcapng file: it starts with 68 65 6c 6c'],
    ['pcap version 1.0', pcapHeader({ major: 1, minor: 0 }), 'unsupported', 'pcap version 1.0 is not supported (only 2.x)'],
  ])('refuses %s', (_name, bytes, code, reason) => {
    const { error } = refusal(bytes);
    expect(error.code).toBe(code);
    expect(error.message).toBe(`test.cap: record 0, byte 0: ${reason}`);
  });

  it('reads an empty capture (header only)', () => {
    expect(read(pcapHeader())).toEqual([]);
  });
});

describe('pcapng', () => {
  it('reads several sections, each with its own byte order and interfaces', () => {
    const a = ipv4(33);
    const b = ethernet(0x86dd, ipv6(20));
    const c = ipv4(60);
    const file = concat(
      shb(true), idb(101, true, 0, [tsresol(6), ifName('raw0')]), idb(1, true, 1000, [tsresol(9)]),
      epb(0, 1_700_000_000_000_001n, a, true), epb(1, 1_700_000_000_000_000_002n, b, true),
      shb(false), idb(1, false), idb(101, false, 0, [tsresol(3)]),
      epb(1, 1_700_000_000_123n, c, false, 70), epb(0, 5_000_000n, b, false),
    );
    const capture = openCaptureSync(file);
    const records = [...capture];
    expect(records.map((r) => [r.index, r.section, r.interface, r.linkType, r.timeNs, r.caplen, r.wireLength, hex(r.ip)])).toEqual([
      [0, 0, 0, 101, 1_700_000_000_000_001_000n, 33, 33, hex(a)],
      [1, 0, 1, 1, 1_700_000_000_000_000_002n, 74, 74, hex(b.subarray(14))],
      [2, 1, 1, 101, 1_700_000_000_123_000_000n, 60, 70, hex(c)],
      [3, 1, 0, 1, 5_000_000_000n, 74, 74, hex(b.subarray(14))],
    ]);
    expect(capture.info).toMatchObject({ format: 'pcapng', littleEndian: false, version: '1.0', sections: 2 });
    expect(capture.info!.interfaces.map((i) => [i.section, i.id, i.linkType, i.snapLen, i.name, i.ticksPerSecond])).toEqual([
      [0, 0, 101, 0, 'raw0', 10n ** 6n], [0, 1, 1, 1000, null, 10n ** 9n], [1, 0, 1, 262144, null, 10n ** 6n], [1, 1, 101, 0, null, 10n ** 3n],
    ]);
  });

  it('converts timestamps exactly for decimal and power-of-two resolutions, with offsets (against a bigint reference)', () => {
    const random = prng(7);
    const resolutions = [0, 1, 3, 4, 6, 9, 10, 12, 19, 0x80, 0x80 | 10, 0x80 | 20, 0x80 | 30, 0x80 | 40, 0x80 | 63];
    for (const resol of resolutions) {
      for (const offset of [0n, 1_000_000n, -86_400n]) {
        const tps = resol & 0x80 ? 1n << BigInt(resol & 0x7f) : 10n ** BigInt(resol);
        const blocks: Uint8Array[] = [shb(), idb(101, true, 0, [tsresol(resol), tsoffset(offset)])];
        const want: bigint[] = [];
        for (let i = 0; i < 300; i++) {
          // Random 64-bit tick counts, kept to at most 2^52 s (larger ones are refused; tested below).
          let ticks = (BigInt(Math.floor(random() * 2 ** 32)) << 32n) | BigInt(Math.floor(random() * 2 ** 32));
          if (i < 20) ticks = BigInt(i); // around zero
          else if (i < 40) ticks = (BigInt(i) << 32n) - 1n; // just below a carry
          if (ticks / tps > 2n ** 52n) ticks %= tps * 2n ** 52n;
          const sec = ticks / tps;
          const ns = ((ticks % tps) * 1_000_000_000n) / tps;
          want.push((sec + offset) * 1_000_000_000n + ns);
          blocks.push(epb(0, ticks, ipv4()));
        }
        expect(read(concat(...blocks)).map((r) => r.timeNs), `if_tsresol 0x${resol.toString(16)}, offset ${offset}`).toEqual(want);
      }
    }
  });

  it('refuses a timestamp beyond 2^52 s', () => {
    const { error } = refusal(concat(shb(), idb(101, true, 0, [tsresol(0)]), epb(0, 2n ** 60n, ipv4())));
    expect(error.message).toMatch(/^test\.cap: record 0, byte 60: timestamp 1152921504606846976 at 1 per second is .* beyond 2\^52 s$/);
  });

  it('takes a timestamp of 2^52 s and refuses one second more (if_tsresol 2^0: one tick a second)', () => {
    const file = (ticks: bigint) => concat(shb(), idb(101, true, 0, [tsresol(0x80)]), epb(0, ticks, ipv4()));
    expect(read(file(2n ** 52n))[0]!.timeNs).toBe(2n ** 52n * 1_000_000_000n);
    expect(refusal(file(2n ** 52n + 1n)).error.reason).toMatch(/is 4503599627370497 s after the epoch, beyond 2\^52 s$/);
    // An offset at the edge of its range is taken too (±2^52 s, exclusive).
    expect(read(concat(shb(), idb(101, true, 0, [tsoffset(2n ** 52n - 1n)]), epb(0, 0n, ipv4())))[0]!.timeNs).toBe((2n ** 52n - 1n) * 1_000_000_000n);
  });

  // The same limit with one tick a second written in decimal (if_tsresol 0 = 10^0): such
  // tick counts are exact doubles below 2^53, and the fast path once took them past 2^52 s.
  it('refuses a timestamp past 2^52 s with if_tsresol 10^0 as with 2^0', () => {
    const file = (ticks: bigint) => concat(shb(), idb(101, true, 0, [tsresol(0)]), epb(0, ticks, ipv4()));
    expect(read(file(2n ** 52n))[0]!.timeNs).toBe(2n ** 52n * 1_000_000_000n);
    expect(refusal(file(2n ** 52n + 1n)).error.reason).toMatch(/is 4503599627370497 s after the epoch, beyond 2\^52 s$/);
    expect(refusal(file(2n ** 53n - 2n)).error.reason).toMatch(/beyond 2\^52 s$/);
  });

  it('splits whole seconds exactly where the tick count is not a double: timeSec is the second, timeFracNs below 10^9 (batch fields)', () => {
    // ns ticks above 2^62 round to a multiple of 1024 as doubles; for these whole seconds
    // (about the year 2118) the rounding falls below the second, and the first quotient is one short.
    const secs = [4_700_000_001n, 4_700_418_917n, 4_700_837_833n];
    const file = concat(shb(), idb(101, true, 0, [tsresol(9)]), ...secs.map((s) => epb(0, s * 1_000_000_000n + (s === secs[2] ? 999_999_999n : 0n), ipv4())));
    const got: [bigint, number][] = [];
    for (const b of openCaptureSync(file).batches()) for (let i = 0; i < b.count; i++) got.push([BigInt(b.timeSec[i]!), b.timeFracNs[i]!]);
    expect(got).toEqual([[secs[0], 0], [secs[1], 0], [secs[2], 999_999_999]]);
  });

  it('keeps timestamps past 2106 exactly', () => {
    const ticks = 2n ** 63n + 123_456_789n; // ns: the year 2262
    expect(read(concat(shb(), idb(101, true, 0, [tsresol(9)]), epb(0, ticks, ipv4())))[0]!.timeNs).toBe(ticks);
  });

  it("reads simple packet blocks: interface 0, captured length min(original, room, snap length), no timestamp", () => {
    const p = ipv4(50);
    const records = read(concat(shb(), idb(101, true, 44), spb(50, p), spb(30, p.subarray(0, 30)), spb(1000, p.subarray(0, 40))));
    expect(records.map((r) => [r.interface, r.timeNs, r.caplen, r.wireLength])).toEqual([[0, 0n, 44, 50], [0, 0n, 30, 30], [0, 0n, 40, 1000]]);
    const { error } = refusal(concat(shb(), spb(50, p)));
    expect(error.reason).toBe('simple packet block: interface 0 is not described in section 0 (it has 0 interfaces)');
  });

  it('reads obsolete packet blocks', () => {
    const p = ipv4(44);
    const [r] = read(concat(shb(), idb(1), idb(101), opb(1, 1_500_000_000_000_000n, p, true, 60)));
    expect([r!.interface, r!.linkType, r!.timeNs, r!.caplen, r!.wireLength, hex(r!.ip)]).toEqual([1, 101, 1_500_000_000_000_000_000n, 44, 60, hex(p)]);
  });

  it('skips blocks of other types (statistics, name resolution, decryption secrets, custom, unknown)', () => {
    const p = ipv4(28);
    const records = read(concat(
      shb(), block(4, [0, 0, 0, 0]), idb(101), block(5, new Array(20).fill(0)), epb(0, 1n, p), block(0x0000000a, [1, 2, 3, 4, 5]),
      block(0x00000bad, [1, 2, 3, 4]), block(0x40000bad, []), block(0x12345678, new Array(100).fill(7)), epb(0, 2n, p),
    ));
    expect(records.map((r) => [r.index, r.timeNs])).toEqual([[0, 1000n], [1, 2000n]]);
  });

  it('reads EPB options without looking at them', () => {
    const [r] = read(concat(shb(), idb(101), epb(0, 1n, ipv4(28), true, 28, 28, [{ code: 2, value: Uint8Array.of(1, 0, 0, 0) }, { code: 1, value: new TextEncoder().encode('a comment') }])));
    expect(r!.caplen).toBe(28);
  });

  it('accepts an IDB with an unsupported link type and refuses only packets on it', () => {
    const p = ipv4(28);
    expect(read(concat(shb(), idb(187), idb(101), epb(1, 1n, p))).length).toBe(1);
    const { error, records } = refusal(concat(shb(), idb(187), idb(101), epb(1, 1n, p), epb(0, 1n, p)));
    expect(records.length).toBe(1);
    expect(error.code).toBe('unsupported');
    expect(error.message).toMatch(/^test\.cap: record 1, byte \d+: interface 0: link type 187 \(BLUETOOTH_HCI_H4\) is not supported \(supported: .*\)$/);
  });

  const base = concat(shb(), idb(101, true, 100));
  const at = base.length;
  it.each([
    ['a block length below 12', block(6, [], true, { length: 8 }), 'malformed', /enhanced packet block: total length 8 is below 12/],
    ['a block length not a multiple of 4', block(6, new Array(20).fill(0), true, { length: 30 }), 'malformed', /enhanced packet block: total length 30 is not a multiple of 4/],
    ['a block length above 16 MiB', block(0x12345678, [], true, { length: 0xfffffff0 }), 'malformed', /block of type 0x12345678: total length 4294967280 is above the 16777216-byte limit/],
    ['a trailer that disagrees', block(5, new Array(20).fill(0), true, { trailer: 36 }), 'malformed', /interface statistics block: total length 32 at the start but 36 at the end/],
    ['an EPB too short for its fields', block(6, [0, 0, 0, 0]), 'malformed', /enhanced packet block: total length 16 is below 32/],
    // Each fixed-size minimum at its boundary: one word short is refused for that reason,
    // not read into the trailer (draft-ietf-opsawg-pcapng §4.1-§4.4).
    ['an EPB one word too short for its fields', block(6, new Array(16).fill(0)), 'malformed', /enhanced packet block: total length 28 is below 32/],
    ['an EPB captured length reaching into the trailer', epb(0, 0n, ipv4(28), true, 32, 32), 'malformed', /enhanced packet block: captured length 32 runs past the end of the block \(room for 28\)/],
    ['an SPB without its original length', block(3, []), 'malformed', /simple packet block: total length 12 is below 16/],
    ['a section header without its section length', block(0x0a0d0d0a, [0x4d, 0x3c, 0x2b, 0x1a, 1, 0, 0, 0, 0, 0, 0, 0]), 'malformed', /section header block: total length 24 is below 28/],
    ['an EPB on an interface the section lacks', epb(1, 0n, ipv4()), 'malformed', /enhanced packet block: interface 1 is not described in section 0 \(it has 1 interface\)/],
    ['an EPB captured length past its block', epb(0, 0n, ipv4(28), true, 28, 40), 'malformed', /enhanced packet block: captured length 40 runs past the end of the block \(room for 28\)/],
    ['an EPB captured length above the wire length', epb(0, 0n, ipv4(28), true, 20), 'malformed', /captured length 28 exceeds the original length 20/],
    ['an EPB captured length above the snap length', epb(0, 0n, ipv4(104)), 'malformed', /captured length 104 exceeds interface 0's snapshot length 100/],
    ['an IDB option running past its block', idb(101, true, 0, [{ code: 9, value: Uint8Array.of(6), length: 200 }]), 'malformed', /interface description block \(interface 1\): option 9 of 200 bytes at byte \d+ runs past the end of the block/],
    ['an if_tsresol of 2 bytes', idb(101, true, 0, [{ code: 9, value: Uint8Array.of(6, 0) }]), 'malformed', /if_tsresol is 2 bytes, not 1/],
    ['an if_tsresol of 10^-20', idb(101, true, 0, [tsresol(20)]), 'malformed', /if_tsresol 20 \(10\^-20 s\) is out of range/],
    ['an if_tsresol of 2^-64', idb(101, true, 0, [tsresol(0x80 | 64)]), 'malformed', /if_tsresol 0xc0 \(2\^-64 s\) is out of range/],
    ['an if_tsoffset of 4 bytes', idb(101, true, 0, [{ code: 14, value: Uint8Array.of(0, 0, 0, 0) }]), 'malformed', /if_tsoffset is 4 bytes, not 8/],
    ['an if_tsoffset of 2^60 s', idb(101, true, 0, [tsoffset(2n ** 60n)]), 'malformed', /if_tsoffset 1152921504606846976 s is out of range/],
    ['an if_tsoffset of 2^52 s', idb(101, true, 0, [tsoffset(2n ** 52n)]), 'malformed', /if_tsoffset 4503599627370496 s is out of range/],
    ['an IDB too short', block(1, [1, 0, 0, 0]), 'malformed', /interface description block: total length 16 is below 20/],
    ['a section header with a bad byte-order magic', block(0x0a0d0d0a, new Array(16).fill(1)), 'malformed', /section header byte-order magic 0x01010101 is not 0x1a2b3c4d in either byte order/],
    ['pcapng version 2.0', shb(true, undefined, [2, 0]), 'unsupported', /pcapng version 2\.0 is not supported \(only 1\.x\)/],
  ])('refuses %s', (_name, bad, code, reason) => {
    const { error, records } = refusal(concat(base, epb(0, 0n, ipv4()), bad, epb(0, 0n, ipv4())));
    expect(records.length).toBe(1);
    expect(error.code).toBe(code);
    expect(error.record).toBe(1);
    expect(error.offset).toBe(at + 60); // after the one good EPB (32 + 28 bytes)
    expect(error.reason).toMatch(reason);
  });

  it('refuses a 4 GiB block length from a file without allocating for it', async () => {
    const path = join(tmp, 'huge-block.pcapng');
    writeFileSync(path, concat(base, block(6, new Array(20).fill(0), true, { length: 0xfffffffc })));
    const capture = openCapture(path);
    await expect(async () => {
      await drain(capture);
    }).rejects.toThrow(/total length 4294967292 is above the 16777216-byte limit/);
    expect(capture.stats!.maxBufferBytes).toBe(1 << 20);
  });

  it('grows its buffer for a large (valid) block and no further', async () => {
    const path = join(tmp, 'big-block.pcapng');
    const big = block(0x12345678, new Uint8Array(3 << 20));
    writeFileSync(path, concat(base, epb(0, 1n, ipv4()), big, epb(0, 2n, ipv4())));
    const capture = openCapture(path);
    let n = 0;
    for await (const b of capture.batches()) n += b.count;
    expect(n).toBe(2);
    expect(capture.stats!.maxBufferBytes).toBe(big.length);
    expect(PCAPNG_MAX_BLOCK).toBe(16 << 20);
  });

  it('refuses a file that ends inside a block, or ends there with onTruncated: stop', () => {
    const whole = concat(base, epb(0, 1n, ipv4()), epb(0, 2n, ipv4()));
    const cut = whole.subarray(0, whole.length - 5);
    const { error, records } = refusal(cut);
    expect(records.length).toBe(1);
    expect(error.message).toBe(`test.cap: record 1, byte ${at + 60}: enhanced packet block is truncated: its total length is 60 bytes, the file ends after 55`);
    const short = refusal(whole.subarray(0, at + 60 + 5));
    expect(short.error.reason).toBe('block header is truncated: the file ends after 5 of its 12 bytes');
    const capture = openCaptureSync(cut, { onTruncated: 'stop' });
    expect([...capture].length).toBe(1);
    expect(capture.truncation?.code).toBe('truncated');
  });
});

describe('link types', () => {
  const v4 = ipv4(46);
  const v6 = ipv6(12);
  const frame = (linkType: number, data: Uint8Array, wire = data.length) => read(pcapFile({ linkType, records: [{ sec: 0, frac: 0, data, wire }] }))[0]!;
  const ipOf = (r: CaptureRecord) => (r.ip === null ? r.reason : hex(r.ip));

  it('ETHERNET: IPv4, IPv6, and stacked 802.1Q / 802.1ad / 0x9100 tags', () => {
    expect(ipOf(frame(1, ethernet(0x0800, v4)))).toBe(hex(v4));
    expect(ipOf(frame(1, ethernet(0x86dd, v6)))).toBe(hex(v6));
    expect(ipOf(frame(1, ethernet(0x0800, v4, [0x8100])))).toBe(hex(v4));
    expect(ipOf(frame(1, ethernet(0x86dd, v6, [0x88a8, 0x8100])))).toBe(hex(v6));
    expect(ipOf(frame(1, ethernet(0x0800, v4, [0x9100, 0x9100, 0x8100])))).toBe(hex(v4));
  });

  it('ETHERNET: frames that are not IP are records without an IP packet, with a reason', () => {
    expect(ipOf(frame(1, ethernet(0x0806, new Uint8Array(28))))).toBe('ethertype 0x0806 is not IPv4 or IPv6');
    expect(ipOf(frame(1, ethernet(0x0040, new Uint8Array(64))))).toBe('802.3 frame with length field 64 (LLC), not IP');
    expect(ipOf(frame(1, new Uint8Array(13)))).toBe('frame of 13 bytes is shorter than its link-layer header');
    expect(ipOf(frame(1, ethernet(0x8100, new Uint8Array(2))))).toBe('frame of 16 bytes is shorter than its link-layer header');
    expect(ipOf(frame(1, ethernet(0x0800, v6)))).toBe('link layer says IPv4 but the packet has IP version 6');
    expect(ipOf(frame(1, ethernet(0x0800, v4.subarray(0, 19))))).toBe('only 19 bytes of the IP header were captured');
  });

  it('trims Ethernet padding and FCS by the IP length, and keeps the wire length of a cut-short packet', () => {
    const small = ipv4(28);
    const padded = concat(ethernet(0x0800, small), new Uint8Array(18 + 4));
    const r = frame(1, padded);
    expect(hex(r.ip)).toBe(hex(small));
    expect(r.ipWireLength).toBe(28);
    const cut = frame(1, ethernet(0x0800, v4).subarray(0, 14 + 30), 14 + 46);
    expect(cut.ip!.length).toBe(30);
    expect(cut.ipWireLength).toBe(46);
  });

  it('checks the IP header only as far as delimiting the packet needs', () => {
    const badIhl = ipv4(28);
    badIhl[0] = 0x44;
    expect(ipOf(frame(101, badIhl))).toBe('IPv4 header length 16 is below 20');
    const short = ipv4(28);
    short[3] = 19;
    expect(ipOf(frame(101, short))).toBe('IPv4 total length 19 is shorter than the IPv4 header');
    const long = ipv4(28);
    long[3] = 29;
    expect(ipOf(frame(101, long))).toBe('IP length 29 exceeds the frame\'s length on the wire');
    const jumbo = ipv6(10);
    jumbo[5] = 0;
    expect(frame(101, jumbo).ip!.length).toBe(50); // payload length 0: the whole frame
    expect(ipOf(frame(101, Uint8Array.of(0x20)))).toBe('IP version 2 is neither 4 nor 6');
    expect(ipOf(frame(101, new Uint8Array(0)))).toBe('only 0 bytes of the IP header were captured');
  });

  it('RAW, IPV4, IPV6', () => {
    expect(ipOf(frame(101, v4))).toBe(hex(v4));
    expect(ipOf(frame(101, v6))).toBe(hex(v6));
    expect(ipOf(frame(228, v4))).toBe(hex(v4));
    expect(ipOf(frame(228, v6))).toBe('link layer says IPv4 but the packet has IP version 6');
    expect(ipOf(frame(229, v6))).toBe(hex(v6));
    expect(ipOf(frame(229, v4))).toBe('link layer says IPv6 but the packet has IP version 4');
  });

  it('LINUX_SLL and LINUX_SLL2', () => {
    const sll = (proto: number, p: Uint8Array) => concat(Uint8Array.of(0, 0, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0, proto >> 8, proto & 255), p);
    const sll2 = (proto: number, p: Uint8Array) => concat(Uint8Array.of(proto >> 8, proto & 255, 0, 0, 0, 0, 0, 2, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0), p);
    expect(ipOf(frame(113, sll(0x0800, v4)))).toBe(hex(v4));
    expect(ipOf(frame(113, sll(0x86dd, v6)))).toBe(hex(v6));
    expect(ipOf(frame(113, sll(0x0806, new Uint8Array(28))))).toBe('ethertype 0x0806 is not IPv4 or IPv6');
    expect(ipOf(frame(113, new Uint8Array(15)))).toBe('frame of 15 bytes is shorter than its link-layer header');
    expect(ipOf(frame(276, sll2(0x0800, v4)))).toBe(hex(v4));
    expect(ipOf(frame(276, sll2(0x86dd, v6)))).toBe(hex(v6));
    expect(ipOf(frame(276, new Uint8Array(19)))).toBe('frame of 19 bytes is shorter than its link-layer header');
  });

  it('NULL: the address family in either byte order; LOOP: in network byte order', () => {
    const af = (bytes: number[], p: Uint8Array) => concat(Uint8Array.from(bytes), p);
    expect(ipOf(frame(0, af([2, 0, 0, 0], v4)))).toBe(hex(v4));
    expect(ipOf(frame(0, af([0, 0, 0, 2], v4)))).toBe(hex(v4));
    for (const family of [24, 28, 30]) {
      expect(ipOf(frame(0, af([family, 0, 0, 0], v6)))).toBe(hex(v6));
      expect(ipOf(frame(0, af([0, 0, 0, family], v6)))).toBe(hex(v6));
      expect(ipOf(frame(108, af([0, 0, 0, family], v6)))).toBe(hex(v6));
    }
    expect(ipOf(frame(0, af([7, 0, 0, 0], v4)))).toBe('address family 7 is not IPv4 or IPv6');
    expect(ipOf(frame(0, af([2, 0, 0, 0], v6)))).toBe('link layer says IPv4 but the packet has IP version 6');
    expect(ipOf(frame(108, af([0, 0, 0, 2], v4)))).toBe(hex(v4));
    expect(ipOf(frame(108, af([2, 0, 0, 0], v4)))).toBe('address family 33554432 is not IPv4 or IPv6');
    expect(ipOf(frame(0, Uint8Array.of(2, 0, 0)))).toBe('frame of 3 bytes is shorter than its link-layer header');
  });
});

describe('batches', () => {
  const records = Array.from({ length: 50 }, (_, i) => ({ sec: 1000 + i, frac: i, data: ethernet(0x0800, ipv4(28 + i)) }));
  const file = pcapFile({ linkType: 1, records });

  it('hold the same records as the record iterator, as offsets into one buffer', () => {
    const one = read(file);
    const seen: CaptureRecord[] = [];
    for (const b of openCaptureSync(file, { batchSize: 7 }).batches()) {
      expect(b.count).toBeLessThanOrEqual(7);
      for (let i = 0; i < b.count; i++) {
        expect(hex(b.bytes.subarray(b.ipOffset[i]!, b.ipOffset[i]! + b.ipLength[i]!))).toBe(hex(b.ip(i)));
        expect(b.timeNs(i)).toBe(BigInt(b.timeSec[i]!) * 1_000_000_000n + BigInt(b.timeFracNs[i]!));
        expect(b.timeMs(i)).toBeCloseTo(b.timeSec[i]! * 1000 + b.timeFracNs[i]! / 1e6, 6);
        seen.push(b.record(i));
      }
    }
    expect(seen).toEqual(one);
  });

  it('from a file reuse one buffer; records from the record iterator keep their bytes', async () => {
    const path = join(tmp, 'batches.pcap');
    writeFileSync(path, file);
    const kept: CaptureRecord[] = [];
    for await (const r of openCapture(path, { chunkSize: 64 })) kept.push(r);
    expect(kept.map((r) => hex(r.data))).toEqual(records.map((r) => hex(r.data)));
    const capture = openCapture(path, { chunkSize: 256 });
    const buffers = new Set<ArrayBufferLike>();
    for await (const b of capture.batches()) buffers.add(b.bytes.buffer);
    expect(buffers.size).toBe(1);
    expect(capture.stats).toMatchObject({ bytesRead: file.length, maxBufferBytes: 256, buffersAllocated: 1 });
  });

  it('rejects bad options', () => {
    expect(() => openCapture('x', { chunkSize: 8 })).toThrow(RangeError);
    expect(() => openCapture('x', { batchSize: 0 })).toThrow(RangeError);
    expect(() => openCapture('x', { onTruncated: 'skip' as 'stop' })).toThrow(TypeError);
    expect(() => openCapture('')).toThrow(TypeError);
  });

  it('passes operating-system errors through', async () => {
    await expect(async () => {
      await drain(openCapture(join(tmp, 'no-such-file.pcap')));
    }).rejects.toThrow(/ENOENT/);
  });
});
