// End-to-end replay rate on a big capture (issue 6): generate a pcap of N packets
// (default 10M, 100-octet IPv4 packets: 1.16 GB), then replay it under one preset
// with the CLI's code path (reader batches → replay → report), without --out, and
// print packets/s, the capture size and the peak RSS.
//
//   node --expose-gc dist/bench/replay-big.js [--packets N] [--preset larval] [--keep FILE]
//
// Traffic: 4096 flows from the protected subnet to destinations that a bypass
// policy, a discard policy or nothing selects (no encryption: that is measured by
// esp-encrypt), 1 µs apart.

import '../src/engine/node-platform.js';
import { createWriteStream, existsSync, statSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { buildPacket } from '../src/wire/build.js';
import { parseSetkey, policySpec, saSpec } from '../src/config/setkey.js';
import { openCapture } from '../src/io/reader.js';
import { replay } from '../src/replay/replay.js';
import type { PresetName } from '../src/engine/types.js';

export const CONFIG = `
spdadd 10.1.0.0/16 10.2.0.0/16 any -P out ipsec esp/tunnel/192.0.2.1-198.51.100.1/require;
spdadd 10.2.0.0/16 10.1.0.0/16 any -P in ipsec esp/tunnel/198.51.100.1-192.0.2.1/require;
spdadd 10.1.0.0/16 172.16.0.0/12 any -P out none;
spdadd 10.1.0.0/16 192.168.66.0/24 any -P out discard;
`;

/** Write a pcap of `packets` 100-octet packets (the traffic above) to `file`. */
export async function generate(file: string, packets: number): Promise<void> {
  const flows = 4096;
  const templates = Array.from({ length: flows }, (_, i) => {
    const dst = i % 8 === 0 ? `192.168.66.${i % 250}` : i % 2 === 0 ? `172.16.${(i >> 8) & 255}.${i & 255}` : `203.0.${(i >> 8) & 255}.${i & 255}`;
    return buildPacket({ src: `10.1.${(i >> 8) & 255}.${i & 255}`, dst, proto: 'udp', srcPort: 1024 + i, dstPort: 53 }, { payloadLength: 100 - 28 });
  });
  const out = createWriteStream(file, { highWaterMark: 1 << 22 });
  const header = Buffer.alloc(24);
  header.writeUInt32LE(0xa1b2c3d4, 0);
  header.writeUInt16LE(2, 4);
  header.writeUInt16LE(4, 6);
  header.writeUInt32LE(262144, 16);
  header.writeUInt32LE(101, 20);
  out.write(header);
  const per = 16 + 100;
  const chunkPackets = 8192;
  const start = 1_790_000_000;
  for (let i = 0; i < packets; i += chunkPackets) {
    const n = Math.min(chunkPackets, packets - i);
    const buf = Buffer.allocUnsafe(n * per);
    for (let k = 0; k < n; k++) {
      const j = i + k;
      const at = k * per;
      buf.writeUInt32LE(start + Math.floor(j / 1e6), at);
      buf.writeUInt32LE(j % 1e6, at + 4);
      buf.writeUInt32LE(100, at + 8);
      buf.writeUInt32LE(100, at + 12);
      buf.set(templates[j % flows], at + 16);
    }
    if (!out.write(buf)) await new Promise<void>((r) => out.once('drain', () => r()));
  }
  await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { packets: { type: 'string', default: '10000000' }, preset: { type: 'string', default: 'larval' }, keep: { type: 'string' } } });
  const packets = Number(values.packets);
  const file = values.keep ?? join(tmpdir(), `larval-replay-big-${packets}.pcap`);
  if (!existsSync(file) || statSync(file).size !== 24 + packets * 116) {
    const t = performance.now();
    await generate(file, packets);
    console.log(`generated ${file}: ${(statSync(file).size / 1e9).toFixed(2)} GB in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  }
  const config = parseSetkey(CONFIG, 'replay-big.conf');
  let peak = 0;
  const sample = () => (peak = Math.max(peak, process.memoryUsage().rss));
  const timer = setInterval(sample, 50);
  const t = performance.now();
  const report = await replay(openCapture(file).batches(), { policies: config.policies.map(policySpec), sas: config.sas.map(saSpec) }, { preset: values.preset as PresetName, progress: sample });
  const s = (performance.now() - t) / 1000;
  clearInterval(timer);
  sample();
  console.log(JSON.stringify({
    packets: report.records, seconds: +s.toFixed(2), mpps: +(report.records / s / 1e6).toFixed(2), gbytes: +(statSync(file).size / 1e9).toFixed(2),
    peakRssMiB: +(peak / 2 ** 20).toFixed(0), verdicts: report.verdicts.out, drops: report.drops,
  }));
  if (!values.keep) unlinkSync(file);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) void main();
