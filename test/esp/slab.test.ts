// The ESP stage's packet memory (src/esp/slab.ts, issue 16): outside a scratch scope
// every packet keeps its bytes however many follow; inside one, packets reuse the
// scratch arena from its start (the TUN gateway's batches), and a scope whose packet
// is still held (a queued send) leaves the arena to it: the next scope gets fresh memory.
import { describe, expect, it } from 'vitest';
import { beginScratch, endScratch, packetBuffer } from '../../src/esp/slab.js';

const fill = (b: Uint8Array, v: number) => { b.fill(v); return b; };

describe('ESP packet memory (slabs and the scratch scope)', () => {
  it('outside a scope, packets never share bytes: 2000 packets of 1500 octets each keep their own', () => {
    const kept = Array.from({ length: 2000 }, (_, i) => fill(packetBuffer(1500), i & 255));
    kept.forEach((b, i) => expect(b.every((x) => x === (i & 255))).toBe(true));
  });

  it('a scope reuses the arena from its start: the next scope gets the same memory', () => {
    beginScratch();
    const a = fill(packetBuffer(1400), 1);
    endScratch(false);
    beginScratch();
    const b = fill(packetBuffer(1400), 2);
    endScratch(false);
    expect(b.buffer).toBe(a.buffer);
    expect(b.byteOffset).toBe(a.byteOffset);
    expect(a[0]).toBe(2); // overwritten: the first scope promised it dropped `a`
  });

  it('a scope that kept a packet leaves the arena to it: the next scope writes elsewhere', () => {
    beginScratch();
    const a = fill(packetBuffer(1400), 1);
    endScratch(true);
    beginScratch();
    const b = fill(packetBuffer(1400), 2);
    endScratch(false);
    expect(b.buffer).not.toBe(a.buffer);
    expect(a.every((x) => x === 1)).toBe(true);
  });

  it('a scope inside a scope shares the outer arena and does not rewind it; a kept packet inside keeps it', () => {
    beginScratch();
    const a = fill(packetBuffer(1000), 1);
    beginScratch();
    const b = fill(packetBuffer(1000), 2);
    endScratch(true);
    const c = fill(packetBuffer(1000), 3);
    endScratch(false);
    expect(a.every((x) => x === 1)).toBe(true);
    expect(b.every((x) => x === 2)).toBe(true);
    expect(c.byteOffset).toBeGreaterThan(b.byteOffset);
    beginScratch();
    const d = fill(packetBuffer(1000), 4);
    endScratch(false);
    expect(d.buffer).not.toBe(a.buffer); // the inner scope's kept packet kept the arena
    expect(b.every((x) => x === 2)).toBe(true);
  });

  it('a scope larger than the arena continues on slabs: no packet of the scope overlaps another', () => {
    beginScratch();
    const got = Array.from({ length: 600 }, (_, i) => fill(packetBuffer(1500), i & 255));
    endScratch(false);
    got.forEach((b, i) => expect(b.every((x) => x === (i & 255))).toBe(true));
  });
});
