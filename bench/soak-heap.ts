// `npm run soak:heap` (issue 17 item 3, beside `npm run soak`): the soak's SA churn in
// one process, where V8's heap can be measured after a forced GC (the gateways of
// bench/soak.ts are separate processes; their heapUsed samples include garbage not yet
// collected). Two gateways with larval's IKEv2 daemon wired back to back
// (test/ike/support.ts configurations), traffic both ways every 50 ms of engine time,
// CHILD SAs rekeying every second by their configured lifetime (R28), and, with
// --restart, gateway B replaced by a fresh one (a crash: no DELETE) after every round.
// Prints per round: heapUsed after gc(), A's key entries and IKE SAs. Flat = the
// heap after GC stops growing once warmed up, while thousands of SAs come and go.
//
//   npm run soak:heap -- [--rounds 40] [--restart]
import '../src/engine/node-platform.js';
import { createGateway } from '../src/gateway/gateway.js';
import { createIkeDaemon, type IkeDaemon } from '../src/ike/daemon.js';
import type { SwanctlConfig } from '../src/ike/config-types.js';
import type { Gateway } from '../src/gateway/gateway.js';
import { buildPacket } from '../src/wire/build.js';
import { A, B, conn, swanctl } from '../test/ike/support.js';

interface Side { gw: Gateway; ike: IkeDaemon; out: Uint8Array[] }

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('soak:heap: run with node --expose-gc (npm run soak:heap does)');
const rounds = Number(process.argv[process.argv.indexOf('--rounds') + 1] || 40) || 40;
const restart = process.argv.includes('--restart');
const clock = { now: 0 };
const child = { rekeyTimeMs: 1000, lifeTimeMs: 1500 };
const cfgA = swanctl(conn(A, B, '10.1.0.0/24', '10.2.0.0/24', {}, child));
const cfgB = swanctl(conn(B, A, '10.2.0.0/24', '10.1.0.0/24', {}, child));

async function side(config: SwanctlConfig): Promise<Side> {
  const gw = await createGateway({ preset: 'larval' });
  const ike = await createIkeDaemon({ gateway: gw, config, bind: false, now: () => clock.now, retransmit: { baseMs: 50, tries: 4 } });
  const s: Side = { gw, ike, out: [] };
  gw.on('release', (r) => { for (const p of r.wire) if (p) s.out.push(p); });
  return s;
}
let a = await side(cfgA);
let b = await side(cfgB);
const wire = () => {
  for (const [from, to] of [[a, () => b], [b, () => a]] as const) {
    from.ike.outbox = (bytes, address, port, local, localPort) => {
      const x = Buffer.from(bytes);
      setImmediate(() => to().ike.receive(x, local, localPort, address, port));
    };
  }
};
wire();
const toB = buildPacket({ src: '10.1.0.5', dst: '10.2.0.5', proto: 'udp', srcPort: 1000, dstPort: 53 }, { payloadLength: 100 });
const toA = buildPacket({ src: '10.2.0.5', dst: '10.1.0.5', proto: 'udp', srcPort: 53, dstPort: 1000 }, { payloadLength: 100 });
const turn = () => new Promise((r) => setImmediate(r));

async function step(): Promise<void> {
  clock.now += 50;
  a.gw.tick(clock.now);
  b.gw.tick(clock.now);
  for (const [from, to, p] of [[a, b, toB], [b, a, toA]] as const) {
    const o = from.gw.output([p], clock.now);
    for (const w of [...o.packets, ...from.out.splice(0)]) if (w && w[9] === 17) to.gw.input([Buffer.from(w)], clock.now);
  }
  for (let i = 0; i < 5; i++) await turn();
}

const MiB = 2 ** 20;
const heaps: number[] = [];
for (let round = 0; round < rounds; round++) {
  for (let i = 0; i < 400; i++) await step(); // 20 s of engine time: about 20 rekeys a side
  if (restart) {
    await b.ike.close();
    b = await side(cfgB);
    wire();
  }
  gc();
  gc();
  const heap = process.memoryUsage().heapUsed;
  heaps.push(heap);
  const st = a.ike.stats();
  console.log(JSON.stringify({ round, heapMiB: Number((heap / MiB).toFixed(2)), keysA: a.gw.engine.stats().keys, sasA: a.gw.engine.stats().tables.sas, ikeSasA: st.ikeSas, rekeysA: (st.counters['child-rekeyed'] ?? 0) + (st.counters['child-rekeys-answered'] ?? 0), initialContactA: st.counters['initial-contact'] ?? 0 }));
}
const half = heaps.slice(heaps.length >> 1);
console.log(JSON.stringify({ secondHalfHeapMiB: { min: Number((Math.min(...half) / MiB).toFixed(2)), max: Number((Math.max(...half) / MiB).toFixed(2)) } }));
await a.ike.close();
await b.ike.close();
