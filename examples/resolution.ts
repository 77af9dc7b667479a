import { buildPacket, createGateway } from '../src/index.js';

const gw = await createGateway({ preset: 'larval' });
gw.engine.addPolicy({
  dir: 'out', src: '10.1.0.0/16', dst: '10.2.0.0/16', action: 'protect',
  template: { mode: 'tunnel', src: '192.0.2.1', dst: '198.51.100.1' },
});

// A key manager: ACQUIREs in, SAs out through one control interface (R12). It answers
// after 200 ms of engine time (the gateway's scheduler stands in for the network).
const km = gw.registerKeyManager({ name: 'iked' });
km.on('acquire', (ev) => {
  console.log('ACQUIRE', ev.seq, ev.template.mode, ev.template.src, '->', ev.template.dst, 'for', ev.flow.src, '->', ev.flow.dst);
  gw.at(ev.time + 200, () => km.installSA({
    spi: 0x1234, src: ev.template.src, dst: ev.template.dst, mode: ev.template.mode, acquireSeq: ev.seq,
    encryption: { algorithm: 'aes-gcm-16', key: '0x' + '2b'.repeat(16) + 'cafebabe' }, // AES-128 key + salt (RFC 4106)
  }));
});
gw.on('release', (r) => {
  console.log(`t=${r.time} released ${r.packets.length} queued packets:`, r.verdicts.toArray().map((v, i) => `${v.verdict} sa ${v.saId} (ESP ${r.wire[i]?.length} bytes)`).join(', '));
});

// Six pings, one every 50 ms, before any SA exists: none is lost or sent in clear.
for (let i = 0; i < 6; i++) {
  const v = gw.outbound([buildPacket({ src: '10.1.0.1', dst: '10.2.0.1', proto: 'icmp', icmpType: 8 })], i * 50);
  console.log(`t=${i * 50}`, v.verdict(0), v.reason(0), 'larval', v.larvalId(0), 'sa', v.saId(0));
}
console.log('ACQUIREs', gw.stats().resolution.acquires, 'drops', gw.stats().drops);
