// In-process A/B of the ESP data path between builds (issue 16, third pass): for each
// build DIR (a copy of dist/ with its node_modules, as bench:tun's larval@DIR), two
// gateways (createGateway, preset larval) with one tunnel-mode SA, ESP in UDP, and
// the TUN gateway's calls: Gateway.output() of 64-packet batches given as Uint8Array[]
// (as the TUN reader delivers them) and Gateway.input() of the ESP packets as a
// PacketBuffer (as InboundFramer frames them), inside the build's scratch scope when
// it has one (src/esp/slab.ts). The builds take turns, ~300 ms each per round; CPU time
// (process.cpuUsage) per packet, the first round dropped as warm-up; median and rounds.
// Each build checks once that what it sealed opens to the same bytes.
//
//   node dist/bench/esp-ab.js chacha|gcm SIZE ROUNDS DIR [DIR ...]

const [alg, sizeArg, roundsArg, ...dirs] = process.argv.slice(2);
if (!['chacha', 'gcm'].includes(alg) || dirs.length === 0) throw new Error('usage: esp-ab.js chacha|gcm SIZE ROUNDS DIR [DIR ...]');
const size = Number(sizeArg);
const rounds = Number(roundsArg);
const BATCH = 64;
const POOL = 40; // batches sealed ahead for input(): fresh sequence numbers
const keyLength = alg === 'chacha' ? 36 : 20;
const key = (seed: number) => Uint8Array.from({ length: keyLength }, (_, i) => (i * 29 + seed) & 255);
const algorithm = alg === 'chacha' ? 'chacha20-poly1305' : 'aes-gcm-16';

interface Side { out(): number; in(): number }

async function setup(dir: string): Promise<Side> {
  /* eslint-disable @typescript-eslint/no-explicit-any */
  const L: any = await import(`${dir}/dist/src/index.js`);
  const S: any = await import(`${dir}/dist/src/esp/slab.js`);
  const scoped = S.beginScratch ? <T>(f: () => T): T => { S.beginScratch(); try { return f(); } finally { S.endScratch(false); } } : <T>(f: () => T): T => f();
  const a = await L.createGateway({ preset: 'larval' });
  const b = await L.createGateway({ preset: 'larval' });
  const template = { mode: 'tunnel', src: '192.0.2.1', dst: '192.0.2.2' };
  a.engine.addPolicy({ dir: 'out', src: '10.1.0.0/24', dst: '10.2.0.0/24', action: 'protect', template });
  b.engine.addPolicy({ dir: 'in', src: '10.1.0.0/24', dst: '10.2.0.0/24', action: 'protect', template });
  const sa = () => ({ spi: 0x2001, src: '192.0.2.1', dst: '192.0.2.2', mode: 'tunnel', esn: false, encryption: { algorithm, key: key(1) }, encap: { sport: 4500, dport: 4500 } });
  a.engine.addSA(sa(), 0);
  let bId = b.engine.addSA(sa(), 0);
  const inner: Uint8Array[] = Array.from({ length: BATCH }, () => L.buildPacket({ src: '10.1.0.1', dst: '10.2.0.1', proto: 'udp', srcPort: 40000, dstPort: 5001 }, { payloadLength: size - 28 }));
  let t = 1;
  const first = a.output(inner, t++);
  const opened = b.input(L.packetBuffer(first.packets, 16), t);
  for (let i = 0; i < BATCH; i++) if (!opened.packets[i] || Buffer.compare(opened.packets[i], inner[i]) !== 0) throw new Error(`${dir}: packet ${i} did not come back`);
  const pool = Array.from({ length: POOL }, () => L.packetBuffer(a.output(inner, t++).packets, 16));
  return {
    out() { for (let k = 0; k < POOL; k++) scoped(() => a.output(inner, t)); return POOL * BATCH; },
    in() { b.engine.removeSA(bId); bId = b.engine.addSA(sa(), t); for (const pb of pool) scoped(() => b.input(pb, t)); return POOL * BATCH; },
  };
}

const sides: Side[] = [];
for (const d of dirs) sides.push(await setup(d));
const cpu = () => { const u = process.cpuUsage(); return u.user + u.system; };
const res = dirs.map(() => ({ out: [] as number[], in: [] as number[] }));
for (let r = 0; r <= rounds; r++) {
  for (let i = 0; i < dirs.length; i++) {
    for (const dir of ['out', 'in'] as const) {
      let n = 0;
      const c0 = cpu();
      const end = performance.now() + 300;
      while (performance.now() < end) n += sides[i][dir]();
      if (r > 0) res[i][dir].push((cpu() - c0) / n);
    }
  }
}
const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[xs.length >> 1];
for (let i = 0; i < dirs.length; i++) {
  const f = (xs: number[]) => `${median(xs).toFixed(2)} µs/packet [${xs.map((x) => x.toFixed(2)).join(' ')}]`;
  console.log(`${dirs[i]}  ${alg} ${size} B  output ${f(res[i].out)}  input ${f(res[i].in)}`);
}
