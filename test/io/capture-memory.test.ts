// Reading a large capture keeps memory bounded: one read buffer of the chunk
// size, whatever the file's size. The files are synthetic streams that cost
// no disk: a sparse pcap (its zero bytes are valid empty records), and a pcapng
// made of one chunk of blocks written over and over.

import { closeSync, ftruncateSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openCapture } from '../../src/io/capture.js';
import { concat, epb, idb, ipv4, pcapHeader, shb, tsresol } from './capture-builders.js';

const tmp = mkdtempSync(join(tmpdir(), 'larval-capture-memory-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const MiB = 1 << 20;

describe('bounded memory on large captures', () => {
  it('reads a 256 MiB pcap (16.8 million records) with one 1 MiB buffer', async () => {
    const path = join(tmp, 'sparse.pcap');
    const records = 16 * MiB;
    const fd = openSync(path, 'w');
    writeSync(fd, pcapHeader({ linkType: 101 }));
    ftruncateSync(fd, 24 + 16 * records); // zeros: records with time 0 and nothing captured
    closeSync(fd);

    const rss0 = process.memoryUsage().rss;
    const capture = openCapture(path);
    let n = 0;
    let maxRss = rss0;
    for await (const b of capture.batches()) {
      n += b.count;
      if ((n & 0xfffff) < b.count) maxRss = Math.max(maxRss, process.memoryUsage().rss);
    }
    expect(n).toBe(records);
    expect(capture.stats).toEqual({ bytesRead: 24 + 16 * records, maxBufferBytes: MiB, buffersAllocated: 1 });
    expect(maxRss - rss0).toBeLessThan(64 * MiB);
  });

  it('reads a 200 MB pcapng with one buffer of the chunk size asked for', async () => {
    const path = join(tmp, 'stream.pcapng');
    const chunk = concat(...Array.from({ length: 8192 }, (_, i) => epb(0, 1_700_000_000_000_000_000n + BigInt(i), ipv4(100, 50, i & 255))));
    const fd = openSync(path, 'w');
    const head = concat(shb(), idb(101, true, 0, [tsresol(9)]));
    writeSync(fd, head);
    const repeats = Math.ceil(200e6 / chunk.length);
    for (let i = 0; i < repeats; i++) writeSync(fd, chunk);
    closeSync(fd);

    const capture = openCapture(path, { chunkSize: 256 * 1024 });
    let n = 0;
    let ipBytes = 0;
    for await (const b of capture.batches()) {
      for (let i = 0; i < b.count; i++) ipBytes += b.ipLength[i]!;
      n += b.count;
    }
    expect(n).toBe(8192 * repeats);
    expect(ipBytes).toBe(100 * n);
    expect(capture.stats).toEqual({ bytesRead: head.length + chunk.length * repeats, maxBufferBytes: 256 * 1024, buffersAllocated: 1 });
  });
});
