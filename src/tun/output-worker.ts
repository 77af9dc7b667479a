// One worker of runSyntheticOutput (shard.ts): its own engine, an outbound protect
// policy and the SAs whose SPIs the control plane gave it (it owns them: their
// sequence numbers come from this engine only). Flows are spread over its SAs by
// source port. Posts 'ready', waits for 'go', runs engine.output() batch after batch,
// posts its count (and, with collect, every SPI and sequence number it sent).

import { parentPort, workerData } from 'node:worker_threads';
import '../engine/node-platform.js';
import { createEngine } from '../engine/engine.js';
import { packetBuffer } from '../engine/packets.js';
import { buildPacket } from '../wire/build.js';

interface Job { worker: number; spis: number[]; size: number; durationMs: number; batches: number; collect: boolean }
const job = workerData as Job;
const BATCH = 256;
const OUTER = 20; // outer IPv4 header (no UDP encapsulation here): SPI at 20, sequence number at 24
const GW = { a: '192.0.2.1', b: '198.51.100.1' };
const KEYMAT = Uint8Array.from({ length: 20 }, (_, i) => (i * 31 + 20) & 255);

const engine = await createEngine();
// One policy per SA (distinct source ports pick it), each with a template
// bound to the SA's reqid, so that each flow goes through one of this worker's SAs.
job.spis.forEach((spi, k) => {
  engine.addPolicy({ dir: 'out', src: '10.1.0.0/16', dst: '10.2.0.0/16', proto: 'udp', srcPort: 40000 + k, action: 'protect', template: { mode: 'tunnel', src: GW.a, dst: GW.b, level: 'require', reqid: 100 + k } });
  engine.addSA({ spi, src: GW.a, dst: GW.b, mode: 'tunnel', reqid: 100 + k, esn: false, encryption: { algorithm: 'aes-gcm-16', key: KEYMAT } }, 0);
});
const packets = Array.from({ length: BATCH }, (_, i) => buildPacket({ src: '10.1.0.7', dst: '10.2.0.5', proto: 'udp', srcPort: 40000 + (i % job.spis.length), dstPort: 5001 }, { payloadLength: Math.max(4, job.size - 28) }));
const batch = packetBuffer(packets, 16);

const pairs: number[] = [];
function once(): number {
  const out = engine.output(batch);
  let n = 0;
  for (const p of out.packets) {
    if (!p) continue;
    n++;
    if (job.collect) {
      const dv = new DataView(p.buffer, p.byteOffset + OUTER, 8);
      pairs.push(dv.getUint32(0), dv.getUint32(4));
    }
  }
  return n;
}
once(); // warm up (and check that every packet is protected)
if (job.collect) pairs.length = 0;

parentPort!.once('message', () => {
  let sent = 0;
  const t0 = performance.now();
  if (job.batches > 0) for (let b = 0; b < job.batches; b++) sent += once();
  else while (performance.now() - t0 < job.durationMs) sent += once();
  const elapsedMs = performance.now() - t0;
  parentPort!.postMessage({ worker: job.worker, packets: sent, elapsedMs, ...(job.collect ? { pairs: Uint32Array.from(pairs) } : {}) });
});
parentPort!.postMessage('ready');
