// A loop for `node --cpu-prof`: engine.output() (or engine.input() with `decrypt`) of
// one 256-packet batch, tunnel AES-128-GCM, for a few seconds, at one inner size.
//
//   npm run build && node --cpu-prof --cpu-prof-dir=/tmp/prof dist/bench/esp-profile.js [encrypt|decrypt] [SIZE] [SECONDS]
import { packetBuffer, type PacketBuffer } from '../src/index.js';
import { ESP_BATCH, espPair, espSa, innerBatch } from './esp.js';

const direction = process.argv[2] ?? 'encrypt';
const size = Number(process.argv[3] ?? 1400);
const seconds = Number(process.argv[4] ?? 10);

const { a, b, bSa } = await espPair();
const batch = innerBatch(size);
let calls = 0;
const end = Date.now() + seconds * 1000;
if (direction === 'encrypt') {
  while (Date.now() < end) {
    for (let i = 0; i < 64; i++) if (a.output(batch, 1).packets[ESP_BATCH - 1] === null) throw new Error('not protected');
    calls += 64;
  }
} else {
  const pool: PacketBuffer[] = [];
  for (let k = 0; k < 64; k++) pool.push(packetBuffer(a.output(batch, 1).packets as Uint8Array[], 16));
  let saId = bSa;
  while (Date.now() < end) {
    for (const pb of pool) if (b.input(pb, 1).packets[ESP_BATCH - 1] === null) throw new Error('not accepted');
    b.removeSA(saId);
    saId = b.addSA(espSa(), 1);
    calls += 64;
  }
}
console.log(`${direction} ${size} B: ${((calls * ESP_BATCH) / seconds / 1e3).toFixed(0)} kpps`);
