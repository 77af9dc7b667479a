import { applyConfig, captureTimeMs, createGateway, loadSetkey, openCapture, ScriptedKeyManager } from '../src/index.js';

// node embed.mjs CAPTURE CONFIG: every IP packet of a pcap/pcapng through a gateway
// set up from a setkey(8) file, at capture time.
const [capture, configFile] = process.argv.slice(2);
const gw = await createGateway({ preset: 'larval' });
applyConfig(gw.engine, await loadSetkey(configFile));
new ScriptedKeyManager(gw, { delay: 200 }); // answers ACQUIREs with test keys after 200 ms
let released = 0;
gw.on('release', (r) => (released += r.packets.length)); // queued packets, sent once their SA is in

let origin = null; // the first record's time (ns) is engine time 0 (ms)
const counts = new Map(); // first verdict -> packets
for await (const record of openCapture(capture)) {
  if (record.ip === null) continue; // not IP (ARP, ...): record.reason says why
  origin ??= record.timeNs;
  const v = gw.outbound([record.ip], captureTimeMs(record.timeNs, origin));
  if (record.index < 3) console.log(`record ${record.index}: ${v.verdict(0)} ${v.reason(0)} policy ${v.policyId(0)}`);
  counts.set(v.verdict(0), (counts.get(v.verdict(0)) ?? 0) + 1);
}
console.log('verdicts:', Object.fromEntries(counts), 'released:', released, 'ACQUIREs:', gw.stats().resolution.acquires);
