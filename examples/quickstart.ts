import { buildPacket, createEngine } from '../src/index.js';

const engine = await createEngine();

// DNS leaves in clear; everything else from 10.1/16 to 10.2/16 goes through a tunnel.
const dns = engine.addPolicy({ dir: 'out', src: '10.1.0.0/16', proto: 'udp', dstPort: 53, priority: 10, action: 'bypass' });
const vpn = engine.addPolicy({
  dir: 'out', src: '10.1.0.0/16', dst: '10.2.0.0/16', priority: 20, action: 'protect',
  template: { mode: 'tunnel', src: '192.0.2.1', dst: '198.51.100.1' },
});
console.log('policy for https to 10.2.0.9:', engine.matchPolicy('out', { src: '10.1.2.3', dst: '10.2.0.9', proto: 'tcp', dstPort: 443 }) === vpn ? 'vpn' : 'other');

// Two SAs for the tunnel; the newer one wins (R6). Times are engine time in ms.
engine.addSA({ spi: 0x1000, src: '192.0.2.1', dst: '198.51.100.1', mode: 'tunnel' }, 1_000);
const newer = engine.addSA({ spi: 0x2000, src: '192.0.2.1', dst: '198.51.100.1', mode: 'tunnel' }, 2_000);

// A batch of raw IP packets: one call into WebAssembly, one verdict per packet.
const verdicts = engine.outbound([
  buildPacket({ src: '10.1.2.3', dst: '10.2.0.9', proto: 'tcp', srcPort: 40000, dstPort: 443 }),
  buildPacket({ src: '10.1.2.3', dst: '10.2.0.53', proto: 'udp', srcPort: 5353, dstPort: 53 }),
  buildPacket({ src: '2001:db8::1', dst: '2001:db8::2', proto: 'ipv6-icmp', icmpType: 128 }),
  Uint8Array.of(0x45, 0, 0), // three bytes of an IPv4 header
], 3_000);
for (const v of verdicts) console.log(v.verdict, v.reason, 'policy', v.policyId, 'sa', v.saId === newer ? 'newer' : v.saId);
console.log('dns policy', dns, 'drops', engine.stats().drops);
