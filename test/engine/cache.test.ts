// R4: the flow cache gives the classifier's answer after every change, and is
// invalidated by generations, not flushed.
import { describe, expect, it } from 'vitest';
import { RECENT_ADDS } from '../../assembly/layout.js';
import { engineWith, ipv4 } from './helpers.js';

const pkt = ipv4('10.0.0.1', '172.16.0.1', 6, 40000, 443);
const other = ipv4('10.9.0.1', '192.168.0.1', 17, 5000, 53);

describe('R4: flow cache invalidation by generation', () => {
  it('hits the cache for a repeated flow', async () => {
    const { engine } = await engineWith([{ dir: 'out', src: '10.0.0.0/8', action: 'bypass' }]);
    engine.outbound([pkt, pkt, pkt]);
    const s = engine.stats().flowCache;
    expect(s.misses).toBe(1);
    expect(s.hits).toBe(2);
  });

  it('a new higher-precedence policy takes over the flows it selects at once', async () => {
    const { engine, ids } = await engineWith([{ dir: 'out', src: '10.0.0.0/8', action: 'bypass', priority: 10 }]);
    expect(engine.outbound([pkt, other]).policyId(0)).toBe(ids[0]);
    const discard = engine.addPolicy({ dir: 'out', dst: '172.16.0.0/12', action: 'discard', priority: 1 });
    const v = engine.outbound([pkt, other]);
    expect(v.get(0)).toMatchObject({ verdict: 'discard', policyId: discard });
    expect(v.policyId(1)).toBe(ids[0]);
  });

  it('an addition that does not select a cached flow leaves its entry valid (no flush)', async () => {
    const { engine, ids } = await engineWith([{ dir: 'out', src: '10.0.0.0/8', action: 'bypass', priority: 10 }]);
    engine.outbound([pkt, other]);
    engine.addPolicy({ dir: 'out', dst: '203.0.113.0/24', action: 'discard', priority: 1 }); // selects neither
    engine.addPolicy({ dir: 'out', dst: '172.16.0.0/12', action: 'discard', priority: 20 }); // selects pkt, but ranks lower
    const before = engine.stats().flowCache;
    const v = engine.outbound([pkt, other]);
    const after = engine.stats().flowCache;
    expect([v.policyId(0), v.policyId(1)]).toEqual([ids[0], ids[0]]);
    expect(after.hits - before.hits).toBe(2);
    expect(after.revalidated - before.revalidated).toBe(2);
    expect(after.misses + after.stale - before.misses - before.stale).toBe(0);
    expect(engine.stats().classifier.lookups).toBe(2);
  });

  // Revalidating an entry moves it to the current add epoch: the next hit is a plain
  // hit, and the additions already checked are not checked again (nor do they count
  // towards RECENT_ADDS, after which the entry would be classified again).
  it('an entry revalidated once is a plain hit afterwards', async () => {
    const { engine, ids } = await engineWith([{ dir: 'out', src: '10.0.0.0/8', action: 'bypass', priority: 10 }]);
    engine.outbound([pkt]);
    engine.addPolicy({ dir: 'out', dst: '203.0.113.0/24', action: 'discard', priority: 1 }); // does not select pkt
    const s0 = engine.stats().flowCache;
    engine.outbound([pkt]);
    const s1 = engine.stats().flowCache;
    expect([s1.hits - s0.hits, s1.revalidated - s0.revalidated]).toEqual([1, 1]);
    engine.outbound([pkt]);
    const s2 = engine.stats().flowCache;
    expect([s2.hits - s1.hits, s2.revalidated - s1.revalidated]).toEqual([1, 0]);
    // RECENT_ADDS more additions that do not select it: still within the log, still a hit.
    for (let i = 0; i < RECENT_ADDS; i++) engine.addPolicy({ dir: 'out', dst: `198.51.100.${i}/32`, action: 'discard', priority: 1 });
    expect(engine.outbound([pkt]).policyId(0)).toBe(ids[0]);
    const s3 = engine.stats().flowCache;
    expect([s3.hits - s2.hits, s3.stale - s2.stale]).toEqual([1, 0]);
  });

  // The log of recent additions remembers each added policy's generation: one added
  // and removed again before the next lookup selects nothing any more, so the entries
  // it would have taken over stay valid instead of being classified again.
  it('a higher-precedence policy added and removed between batches leaves the entries valid', async () => {
    const { engine, ids } = await engineWith([{ dir: 'out', src: '10.0.0.0/8', action: 'bypass', priority: 10 }]);
    engine.outbound([pkt, other]);
    const gone = engine.addPolicy({ dir: 'out', dst: '172.16.0.0/12', action: 'discard', priority: 1 }); // would take pkt
    engine.removePolicy(gone);
    const before = engine.stats().flowCache;
    const v = engine.outbound([pkt, other]);
    const after = engine.stats().flowCache;
    expect([v.policyId(0), v.policyId(1)]).toEqual([ids[0], ids[0]]);
    expect(after.hits - before.hits).toBe(2);
    expect(after.misses + after.stale - before.misses - before.stale).toBe(0);
    expect(engine.stats().classifier.lookups).toBe(2);
  });

  it('removing a policy sends its flows back to the classifier; other entries stay', async () => {
    const { engine, ids } = await engineWith([
      { dir: 'out', dst: '172.16.0.0/12', action: 'discard', priority: 1 },
      { dir: 'out', src: '10.0.0.0/8', action: 'bypass', priority: 10 },
    ]);
    expect(engine.outbound([pkt, other]).policyId(0)).toBe(ids[0]);
    engine.removePolicy(ids[0]);
    const before = engine.stats().flowCache;
    const v = engine.outbound([pkt, other]);
    const after = engine.stats().flowCache;
    expect(v.get(0)).toMatchObject({ verdict: 'bypass', policyId: ids[1] });
    expect(after.stale - before.stale).toBe(1);
    expect(after.hits - before.hits).toBe(1);
  });

  it(`more than RECENT_ADDS (${RECENT_ADDS}) additions since validation: the entry is re-classified, still correct`, async () => {
    const { engine, ids } = await engineWith([{ dir: 'out', src: '10.0.0.0/8', action: 'bypass', priority: 100 }]);
    engine.outbound([pkt]);
    let last = 0;
    for (let i = 0; i <= RECENT_ADDS; i++) last = engine.addPolicy({ dir: 'out', dst: `198.51.100.${i}/32`, action: 'discard', priority: 1 });
    expect(last).toBeGreaterThan(ids[0]);
    const before = engine.stats().flowCache.stale;
    expect(engine.outbound([pkt]).policyId(0)).toBe(ids[0]);
    expect(engine.stats().flowCache.stale - before).toBe(1);
  });

  it('changing the default action invalidates flows that took the default', async () => {
    const { engine } = await engineWith([]);
    expect(engine.outbound([pkt]).verdict(0)).toBe('bypass');
    engine.setDefaultAction('out', 'discard');
    expect(engine.outbound([pkt]).verdict(0)).toBe('discard');
  });

  it('a reused policy slot does not resurrect a stale cache entry', async () => {
    const { engine, ids } = await engineWith([
      { dir: 'out', dst: '172.16.0.0/12', action: 'discard', priority: 1 },
    ]);
    expect(engine.outbound([pkt]).policyId(0)).toBe(ids[0]);
    engine.removePolicy(ids[0]);
    // Same slot, different policy that does not select pkt.
    const b = engine.addPolicy({ dir: 'out', dst: '203.0.113.0/24', action: 'discard', priority: 1 });
    const v = engine.outbound([pkt]);
    expect(v.policyId(0)).toBeNull();
    expect(engine.getPolicy(b)).not.toBeNull();
  });

  it('evicts within a tiny cache and stays correct', async () => {
    const { engine, ids } = await engineWith([{ dir: 'out', src: '10.0.0.0/8', proto: 'udp', dstPort: [0, 999], action: 'discard' }], { flowCacheSize: 16 });
    const pkts = Array.from({ length: 200 }, (_, i) => ipv4('10.0.0.1', '10.0.0.2', 17, 1000 + i, i * 10));
    for (let round = 0; round < 3; round++) {
      const v = engine.outbound(pkts);
      for (let i = 0; i < pkts.length; i++) expect(v.policyId(i)).toBe(i * 10 <= 999 ? ids[0] : null);
    }
    const s = engine.stats().flowCache;
    expect(s.evictions).toBeGreaterThan(0);
    expect(s.entries).toBeLessThanOrEqual(16);
  });

  // stats().flowCache.entries is how an operator sizes flowCacheSize: it must count
  // the flows held, once each, and stop at the cache's size.
  it('entries counts each cached flow once, up to the cache size', async () => {
    const { engine } = await engineWith([{ dir: 'out', src: '10.0.0.0/8', action: 'bypass' }], { flowCacheSize: 16 });
    engine.outbound([pkt, other, pkt, other]);
    expect(engine.stats().flowCache).toMatchObject({ entries: 2, misses: 2, hits: 2 });
    engine.outbound(Array.from({ length: 100 }, (_, i) => ipv4('10.0.0.1', '10.0.0.2', 17, 1000 + i, 53)));
    expect(engine.stats().flowCache.entries).toBe(16);
  });
});
