// A peer that crashes and comes back (issue 17, the soak's restarts in one process):
// the restarted peer knows none of the SAs, so A's next ESP is `unknown-spi` there
// (R18); its INVALID_SPI event makes it negotiate afresh, with INITIAL_CONTACT in
// IKE_AUTH because it has contacted nobody since its start (RFC 7296 §2.4). A, on the
// authenticated INITIAL_CONTACT, forgets its old IKE SA and flushes the old CHILD SAs
// (R29, R21) before the new ones go in: one negotiation, no `no-sa` drop on A (R7),
// and the key entries of the flushed SAs are freed (stats().keys).
import { describe, expect, it } from 'vitest';
import { createGateway } from '../../src/gateway/gateway.js';
import { createIkeDaemon } from '../../src/ike/daemon.js';
import { buildPacket } from '../../src/wire/build.js';
import { A, B, conn, pair, swanctl, until, type Side } from './support.js';

const ping = () => buildPacket({ src: '10.1.0.5', dst: '10.2.0.5', proto: 'icmp', icmpType: 8, icmpCode: 0 });

describe('a peer restarts (R18, R21, R29; RFC 7296 §2.4)', () => {
  it("A's stale ESP makes the fresh peer negotiate with INITIAL_CONTACT; A flushes, frees the old keys and recovers in one negotiation", async () => {
    const cb = swanctl(conn(B, A, '10.2.0.0/24', '10.1.0.0/24'));
    const { a, b, close } = await pair(swanctl(conn(A, B, '10.1.0.0/24', '10.2.0.0/24')), cb);
    a.gw.output([ping()], 0);
    await until(() => a.released.length === 1);
    const oldOut = a.ike.list()[0].children[0].spiOut;
    expect(a.gw.engine.stats().keys).toEqual({ installed: 2, freed: 0, live: 2 });

    // B crashes (no DELETE) and a new B starts with the same configuration.
    await b.ike.close();
    const t = { now: 0 };
    const gw2 = await createGateway({ preset: 'larval' });
    const ike2 = await createIkeDaemon({ gateway: gw2, config: cb, bind: false, now: () => t.now, retransmit: { baseMs: 50, tries: 4 } });
    const b2: Side = { gw: gw2, ike: ike2, addr: B, released: [], t };
    gw2.on('release', (r) => { for (const p of r.wire) if (p) b2.released.push(p); });
    for (const [from, to] of [[a, b2], [b2, a]] as const) {
      from.ike.outbox = (bytes, address, port, local, localPort) => {
        if (address === to.addr) setImmediate(() => to.ike.receive(Buffer.from(bytes), local, localPort, address, port));
      };
    }

    // A still has its SAs: the packet leaves on the stale one (lost to the peer, not dropped by A).
    const stale = a.gw.output([ping()], 0);
    expect(stale.verdicts.verdict(0)).toBe('protect');
    const res = b2.gw.input([Buffer.from(stale.packets[0]!)], 0);
    expect(res.verdicts.reason(0)).toBe('unknown-spi');
    await until(() => (a.ike.stats().counters['initial-contact'] ?? 0) === 1 && b2.ike.list()[0]?.state === 'established');

    expect(b2.ike.stats().counters['invalid-spi-reconnect']).toBe(1);
    expect(b2.ike.stats().counters['ike-init-sent']).toBe(1); // one negotiation
    expect(a.ike.list()).toHaveLength(1); // the old IKE SA is forgotten
    const child = a.ike.list()[0].children[0];
    expect(child.spiOut).not.toBe(oldOut);
    expect(child.spiOut).toBe(b2.ike.list()[0].children[0].spiIn);
    // The flushed SAs' key entries are freed: two live, for the new pair.
    const k = a.gw.engine.stats().keys;
    expect(k).toEqual({ installed: 4, freed: 2, live: 2 });
    expect(k.live).toBe(a.gw.engine.stats().tables.sas);

    // Traffic flows again, A→B through the new SA; A dropped nothing (no `no-sa`).
    const fresh = a.gw.output([ping()], 0);
    expect(fresh.verdicts.verdict(0)).toBe('protect');
    const got = b2.gw.input([Buffer.from(fresh.packets[0]!)], 0);
    expect(got.verdicts.verdict(0)).toBe('protect');
    expect(Buffer.from(got.packets[0]!).equals(Buffer.from(ping()))).toBe(true);
    expect(a.gw.stats().drops).toEqual({});
    await close();
    await ike2.close();
  });
});
