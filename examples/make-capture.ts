// Writes the bundled example that `npm start` replays: examples/gateway.pcap and
// examples/gateway.conf. Run: `node dist/examples/make-capture.js [DIR]`.
// Deterministic: the same bytes every time (a test checks the committed files).
//
// The story (60 s, host 10.1.0.10 behind our gateway 192.0.2.1):
//   - it pings 10.2.0.5 (behind peer 198.51.100.1) every 100 ms;
//   - from t = 0 it streams UDP to 10.2.0.9:5004, 1000 packets/s for 1 s: the first
//     packets arrive while the SA is being negotiated (the seed's ACQUIRE storm);
//   - every 10 s it opens a TCP connection to 10.3.0.7:443 (behind peer 203.0.113.1):
//     SYN, then 30 segments 2 ms apart;
//   - SAs are negotiated on demand (the config has none) and rekeyed at their soft
//     lifetime (`--rekey 20s`);
//   - at t = 35 s peer 198.51.100.1 reboots: it starts IKE again (an IKE_SA_INIT
//     request to us) and has forgotten every SA.

import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildPacket } from '../src/wire/build.js';
import { encodePcap } from '../src/io/pcap-writer.js';

const HOST = '10.1.0.10';
const START_MS = Date.UTC(2026, 10, 23, 12, 0, 0);

export const EXAMPLE_CONFIG = `# larval example gateway (setkey(8) syntax): 192.0.2.1 protects 10.1.0.0/16.
# No SAs here: the key manager negotiates them when the first packet needs one.

spdadd 10.1.0.0/16 10.2.0.0/16 any -P out ipsec esp/tunnel/192.0.2.1-198.51.100.1/require;
spdadd 10.2.0.0/16 10.1.0.0/16 any -P in ipsec esp/tunnel/198.51.100.1-192.0.2.1/require;
spdadd 10.1.0.0/16 10.3.0.0/16 any -P out ipsec esp/tunnel/192.0.2.1-203.0.113.1/require;
spdadd 10.3.0.0/16 10.1.0.0/16 any -P in ipsec esp/tunnel/203.0.113.1-192.0.2.1/require;
`;

export function examplePackets(): { data: Uint8Array; timeMs: number }[] {
  const out: { t: number; seq: number; data: Uint8Array }[] = [];
  let seq = 0;
  const at = (t: number, data: Uint8Array) => out.push({ t, seq: seq++, data });
  for (let t = 0, n = 0; t < 60_000; t += 100, n++) {
    const p = buildPacket({ src: HOST, dst: '10.2.0.5', proto: 'icmp', icmpType: 8, icmpCode: 0 }, { payloadLength: 56 });
    p[p.length - 1] = n & 255; // echo sequence in the payload, so packets differ
    at(t, p);
  }
  for (let t = 0; t < 1000; t++) at(t, buildPacket({ src: HOST, dst: '10.2.0.9', proto: 'udp', srcPort: 40000, dstPort: 5004 }, { payloadLength: 100 }));
  for (let c = 0; c < 6; c++) {
    const t0 = 500 + c * 10_000;
    const sport = 50000 + c;
    at(t0, buildPacket({ src: HOST, dst: '10.3.0.7', proto: 'tcp', srcPort: sport, dstPort: 443 }, { payloadLength: 0 }));
    for (let i = 1; i <= 30; i++) at(t0 + 2 * i, buildPacket({ src: HOST, dst: '10.3.0.7', proto: 'tcp', srcPort: sport, dstPort: 443 }, { payloadLength: 512 }));
  }
  at(35_000, ikeSaInit('198.51.100.1', '192.0.2.1'));
  out.sort((a, b) => a.t - b.t || a.seq - b.seq);
  return out.map((p) => ({ data: p.data, timeMs: START_MS + p.t }));
}

// An IKEv2 IKE_SA_INIT request (RFC 7296 §3.1): initiator SPI set, responder SPI
// zero, exchange type 34, message id 0. Only the header matters to the replay.
function ikeSaInit(src: string, dst: string): Uint8Array {
  const p = buildPacket({ src, dst, proto: 'udp', srcPort: 500, dstPort: 500 }, { payloadLength: 28 });
  const ike = p.length - 28;
  p.fill(0, ike);
  p.set([0x5e, 0xed, 0x00, 0x00, 0x00, 0x00, 0x00, 0x35], ike); // initiator SPI
  p[ike + 16] = 33; // next payload: SA
  p[ike + 17] = 0x20; // version 2.0
  p[ike + 18] = 34; // IKE_SA_INIT
  p[ike + 19] = 0x08; // initiator
  p[ike + 27] = 28; // length
  // The UDP checksum covered the pattern payload; zero means "none" over IPv4.
  p[p.length - 28 - 2] = 0;
  p[p.length - 28 - 1] = 0;
  return p;
}

export function writeExample(dir: string): { capture: string; config: string } {
  mkdirSync(dir, { recursive: true });
  const capture = path.join(dir, 'gateway.pcap');
  const config = path.join(dir, 'gateway.conf');
  writeFileSync(capture, encodePcap(examplePackets()));
  writeFileSync(config, EXAMPLE_CONFIG);
  return { capture, config };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const dir = process.argv[2] ?? path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'examples');
  const { capture, config } = writeExample(dir);
  console.log(`wrote ${capture} and ${config}`);
}
