// A no-crypto relay on larval's own TUN and UDP I/O (the I/O ceiling of a gateway,
// for `npm run bench:tun`): every packet read from the TUN device leaves as one UDP
// datagram to the peer; every datagram received is written to the device. No engine,
// no ESP: what is left is the cost of the I/O larval's gateway uses.
//
//   node dist/bench/tun-relay.js --dev NAME --listen ADDR:PORT --peer ADDR:PORT
//
// Prints {"event":"up"} when ready, counters on SIGUSR1, stops on SIGINT/SIGTERM.

import { parseArgs } from 'node:util';
import { TunDevice } from '../src/tun/device.js';
import { UdpPort } from '../src/tun/udp.js';

const { values } = parseArgs({ options: { dev: { type: 'string' }, listen: { type: 'string' }, peer: { type: 'string' }, mtu: { type: 'string', default: '1400' } } });
const ep = (s: string | undefined) => {
  const m = /^(\d+\.\d+\.\d+\.\d+):(\d+)$/.exec(s ?? '');
  if (!m) throw new Error(`expected ADDR:PORT, got ${s}`);
  return { address: m[1], port: Number(m[2]) };
};
const listen = ep(values.listen), peer = ep(values.peer);
// The same offloads as the gateway (src/tun/offload.ts; LARVAL_TUN_OFFLOAD=0 turns them off for both).
const tun = await TunDevice.open({ name: values.dev!, mtu: Number(values.mtu), offload: process.env.LARVAL_TUN_OFFLOAD === '0' ? false : 'auto' });
const counters = { tunIn: 0, tunOut: 0, udpIn: 0, udpOut: 0 };
const udp = await UdpPort.open(listen, peer, (batch) => {
  counters.udpIn += batch.count;
  const packets: Uint8Array[] = [];
  for (let i = 0; i < batch.count; i++) packets.push(batch.packet(i));
  counters.tunOut += tun.writeBatch(packets);
});
tun.onPackets((packets) => {
  counters.tunIn += packets.length;
  for (const p of packets) udp.queue(p);
  counters.udpOut += udp.flush();
  // The same I/O as the gateway: the TUN reader reuses its slab when no send of the
  // device's views waits in libuv's queue (src/tun/device.ts recycleReads).
  if (udp.socket.getSendQueueCount() === 0) tun.recycleReads();
});
process.stdout.write(JSON.stringify({ event: 'up', dev: tun.name }) + '\n');
const line = (event: string) => process.stdout.write(JSON.stringify({ event, ...counters, tun: tun.stats(), udp: udp.stats() }) + '\n');
process.on('SIGUSR1', () => line('stats'));
await new Promise<void>((resolve) => { process.once('SIGINT', resolve); process.once('SIGTERM', resolve); });
line('stopped');
udp.close();
await tun.close();
