// The second capture and config the page test drops into the page (issue 18): a
// pcapng (the other reader) with a gateway unlike the example's — two static SAs in
// the config for one peer, on-demand negotiation for another, and traffic from two
// subnets. Deterministic: the same bytes every run.
import { buildPacket } from '../../src/wire/build.js';
import { createPcapngWriter } from '../../src/io/writers.js';

export const SECOND_CONFIG = `# second gateway: 192.0.2.8 protects 10.8.0.0/24
add 192.0.2.8 198.51.100.9 esp 0x2001 -m tunnel -E aes-gcm-16 0x${'11'.repeat(20)};
add 198.51.100.9 192.0.2.8 esp 0x2002 -m tunnel -E aes-gcm-16 0x${'22'.repeat(20)};
spdadd 10.8.0.0/24 10.9.0.0/24 any -P out ipsec esp/tunnel/192.0.2.8-198.51.100.9/require;
spdadd 10.9.0.0/24 10.8.0.0/24 any -P in ipsec esp/tunnel/198.51.100.9-192.0.2.8/require;
spdadd 10.8.0.0/24 10.7.0.0/24 any -P out ipsec esp/tunnel/192.0.2.8-203.0.113.7/require;
spdadd 10.7.0.0/24 10.8.0.0/24 any -P in ipsec esp/tunnel/203.0.113.7-192.0.2.8/require;
`;

export async function writeSecondCapture(file: string): Promise<void> {
  const w = await createPcapngWriter(file, { interfaces: [{ linkType: 101 }] }); // LINKTYPE_RAW
  const start = Date.UTC(2026, 0, 2, 3, 4, 5);
  const packets: { t: number; data: Uint8Array }[] = [];
  for (let t = 0; t < 3000; t += 5) packets.push({ t, data: buildPacket({ src: '10.8.0.3', dst: '10.9.0.4', proto: 'udp', srcPort: 7000, dstPort: 7001 }, { payloadLength: 64 }) });
  for (let t = 300; t < 3000; t += 50) packets.push({ t, data: buildPacket({ src: '10.8.0.5', dst: '10.7.0.6', proto: 'tcp', srcPort: 33000, dstPort: 22 }, { payloadLength: 200 }) });
  packets.sort((a, b) => a.t - b.t);
  for (const p of packets) await w.write({ data: p.data, timeMs: start + p.t });
  await w.close();
}
