// Issue 17: the host's key entries (one per ESP SA with keys, docs/design.md §7) are
// freed when their SA goes, whichever way it goes: removeSA, a hard lifetime (R16),
// the 2MSL drain after a rekey (R15), flushPeer on a peer's restart (R21), and a
// DELETED event the full ring lost (the entry is swept then). stats().keys counts
// them; the soak (bench/soak.ts) checks live == installed - freed stays bounded.
import { describe, expect, it } from 'vitest';
import { buildPacket, createGateway, type GatewayOptions } from '../../src/index.js';

const US = '192.0.2.1';
const PEER = '198.51.100.1';
const KEY = { encryption: { algorithm: 'aes-gcm-16' as const, key: '0x' + '11'.repeat(36) } };
const policies = [
  { dir: 'out' as const, src: '10.1.0.0/16', dst: '10.2.0.0/16', action: 'protect' as const, template: { mode: 'tunnel' as const, src: US, dst: PEER } },
  { dir: 'in' as const, src: '10.2.0.0/16', dst: '10.1.0.0/16', action: 'protect' as const, template: { mode: 'tunnel' as const, src: PEER, dst: US } },
];
const out = (spi: number, extra = {}) => ({ spi, src: US, dst: PEER, mode: 'tunnel' as const, ...KEY, ...extra });
const inb = (spi: number, extra = {}) => ({ spi, src: PEER, dst: US, mode: 'tunnel' as const, ...KEY, ...extra });
const pkt = () => buildPacket({ src: '10.1.0.1', dst: '10.2.0.1', proto: 'udp', srcPort: 1000, dstPort: 53 }, { payloadLength: 100 });

async function setup(options: GatewayOptions = {}) {
  const gw = await createGateway(options);
  gw.engine.addPolicies(policies);
  const km = gw.registerKeyManager();
  km.on('event', () => {}); // a key manager that reads: DELETED events are taken from the ring
  const keys = () => gw.engine.stats().keys;
  return { gw, km, keys };
}

describe('issue 17: key entries of removed SAs are freed, and counted', () => {
  it('removeSA frees the entry; an SA without keys makes none', async () => {
    const { km, keys } = await setup();
    const a = km.installSA(out(0x100), 0);
    km.installSA({ spi: 0x101, src: US, dst: PEER, mode: 'tunnel' }, 0); // no keys (R23: no-keys)
    expect(keys()).toEqual({ installed: 1, freed: 0, live: 1 });
    km.removeSA(a);
    expect(keys()).toEqual({ installed: 1, freed: 1, live: 0 });
  });

  it('R16: a hard lifetime removes the SA in tick() and its entry with it', async () => {
    const { gw, km, keys } = await setup({ msl: 100 });
    km.installSA(out(0x100, { lifetime: { hard: { addTime: 1000 } } }), 0);
    km.installSA(inb(0x200, { lifetime: { hard: { addTime: 1000 } } }), 0);
    expect(keys().live).toBe(2);
    for (let t = 0; t <= 3000; t += 100) gw.tick(t);
    expect(gw.engine.stats().tables.sas).toBe(0);
    gw.deliver(); // the DELETED events reach the key manager: the entries go as they are read

    expect(keys()).toEqual({ installed: 2, freed: 2, live: 0 });
  });

  it('R15: rekeys with a 2MSL drain: the entries of the old SAs go with them; live stays one per SA', async () => {
    const { gw, km, keys } = await setup({ msl: 100 });
    for (let round = 0; round < 50; round++) {
      const t = round * 1000;
      km.installSA(out(0x1000 + round), t);
      km.installSA(inb(0x2000 + round), t);
      // The old pair drains 2MSL, then the engine deletes it.
      for (let s = t; s < t + 1000; s += 50) gw.tick(s);
      gw.deliver();
      expect(gw.outbound([pkt()], t + 999).verdict(0)).toBe('protect');
      expect(keys().live).toBe(gw.engine.stats().tables.sas);
    }
    const k = keys();
    expect(k.installed).toBe(100);
    expect(k.live).toBeLessThanOrEqual(4); // the newest pair, and at most one draining
    expect(k.live).toBe(k.installed - k.freed);
  });

  it('R21: flushPeer frees the entries of every SA with the peer', async () => {
    const { gw, km, keys } = await setup();
    km.installSA(out(0x100), 0);
    km.installSA(inb(0x200), 0);
    km.installSA({ ...out(0x300), dst: '203.0.113.7' }, 0);
    expect(gw.engine.flushPeer(PEER, 10)).toBe(2);
    expect(keys()).toEqual({ installed: 3, freed: 2, live: 1 });
  });

  it('a DELETED event the full ring lost still frees its entry (swept when the events are read)', async () => {
    const gw = await createGateway({ maxSAs: 4, eventRingSize: 1, msl: 10 }); // backlog: 3 x maxSAs = 12
    for (let round = 0; round < 10; round++) {
      const t = round * 100;
      gw.engine.addSA(out(0x100 + 2 * round, { lifetime: { hard: { addTime: 10 } } }), t);
      gw.engine.addSA({ ...out(0x101 + 2 * round, { lifetime: { hard: { addTime: 10 } } }), dst: '203.0.113.1' }, t);
      for (let s = t + 20; s < t + 100; s += 20) gw.tick(s); // the engine removes both: EXPIRE and DELETED each, nobody reads
    }
    expect(gw.engine.stats().tables.sas).toBe(0);
    expect(gw.stats().resolution.eventsLost).toBeGreaterThan(0);
    expect(gw.engine.readEvents()).toHaveLength(13);
    expect(gw.engine.stats().keys).toEqual({ installed: 20, freed: 20, live: 0 });
  });
});
