// Issue 16: the gateway's UDP side (src/tun/udp.ts) and the outer headers written in
// front of each datagram (src/tun/frame.ts), on loopback. Every datagram arrives
// once, in order, byte for byte, also when more arrive in one turn than a batch
// holds; the key-exchange filter takes its datagrams out; the outer IPv4 header is
// valid (RFC 791 checksum; the engine drops a bad one inbound, R24) and says UDP to
// 4500 (RFC 3948) with the right lengths.
import { createSocket } from 'node:dgram';
import { describe, expect, it } from 'vitest';
import { DatagramBatcher, UdpPort, ipv4String, ipv4Word, type DatagramBatch } from '../../src/tun/udp.js';
import { InboundFramer, OUTER_HEADROOM } from '../../src/tun/frame.js';
import { internetChecksum } from '../../src/wire/checksum.js';

async function peerSocket() {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  return s;
}

describe('UdpPort and InboundFramer (issue 16)', () => {
  it('600 datagrams sent at once: all delivered in order, intact, in batches of at most 256, control datagrams filtered out; headers valid', async () => {
    const peer = await peerSocket();
    const peerPort = peer.address().port;
    const framer = new InboundFramer(256);
    const got: number[] = [];
    const sizes: number[] = [];
    let control = 0;
    let headersOk = true;
    let done!: () => void;
    const finished = new Promise<void>((r) => { done = r; });
    const port = await UdpPort.open({ address: '127.0.0.1', port: 0 }, { address: '127.0.0.1', port: peerPort }, (b: DatagramBatch) => {
      sizes.push(b.count);
      const pb = framer.frame(b);
      for (let i = 0; i < b.count; i++) {
        const at = pb.offsets[i];
        const p = pb.data.subarray(at, at + pb.lengths[i]);
        const total = (p[2] << 8) | p[3];
        if (p[0] !== 0x45 || p[9] !== 17 || total !== p.length || internetChecksum(p, 0, 20) !== 0) headersOk = false;
        if (p.subarray(12, 20).join('.') !== '127.0.0.1.127.0.0.1') headersOk = false;
        if (((p[22] << 8) | p[23]) !== 4500 || ((p[20] << 8) | p[21]) !== peerPort || ((p[24] << 8) | p[25]) !== p.length - 20) headersOk = false;
        const d = p.subarray(OUTER_HEADROOM);
        const n = new DataView(d.buffer, d.byteOffset).getUint32(0);
        if (d.length !== 100 + (n % 900) || d[d.length - 1] !== (n & 255)) headersOk = false;
        got.push(n);
      }
      if (got.length === 600) done();
    }, { headroom: OUTER_HEADROOM, filter: (msg) => (msg.readUInt32BE(0) === 0xffffffff ? (control++, true) : false) });
    const { port: listenPort } = port.socket.address();
    for (let n = 0; n < 600; n++) {
      const d = Buffer.alloc(100 + (n % 900), n & 255);
      d.writeUInt32BE(n, 0);
      peer.send(d, listenPort, '127.0.0.1');
      if (n % 100 === 0) peer.send(Buffer.from([255, 255, 255, 255, 1]), listenPort, '127.0.0.1');
    }
    await finished;
    expect(got).toEqual(Array.from({ length: 600 }, (_, i) => i));
    expect(headersOk).toBe(true);
    expect(control).toBe(6);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(256);
    expect(port.stats().received).toBe(600);
    port.close();
    peer.close();
  }, 30_000);

  it('datagrams from several sources to several local addresses: each framed with its own addresses and port, valid checksums (one framer for every peer)', () => {
    const frames: { src: string; dst: string; sport: number; dport: number; ok: boolean; n: number }[] = [];
    const framer = new InboundFramer(8);
    const batcher = new DatagramBatcher((b) => {
      const pb = framer.frame(b);
      for (let i = 0; i < b.count; i++) {
        const p = pb.data.subarray(pb.offsets[i], pb.offsets[i] + pb.lengths[i]);
        frames.push({
          src: p.subarray(12, 16).join('.'), dst: p.subarray(16, 20).join('.'), sport: (p[20] << 8) | p[21], dport: (p[22] << 8) | p[23],
          ok: internetChecksum(p, 0, 20) === 0 && ((p[2] << 8) | p[3]) === p.length && ((p[24] << 8) | p[25]) === p.length - 20, n: p[28],
        });
      }
    }, OUTER_HEADROOM, 8, 4096);
    const sources = ['192.0.2.1', '255.255.255.254', '10.0.0.9', '192.0.2.1'];
    for (let n = 0; n < 12; n++) batcher.push(Uint8Array.of(n, 1, 2, 3), sources[n % 4], 4500 + n, n % 2 ? '198.51.100.7' : '203.0.113.200');
    batcher.deliver(); // the test delivers the rest itself (normally the setImmediate after this turn)
    expect(frames.map((f) => f.n)).toEqual([...Array(12).keys()]);
    expect(frames.every((f) => f.ok && f.dport === 4500)).toBe(true);
    frames.forEach((f, n) => {
      expect(f.src).toBe(sources[n % 4]);
      expect(f.dst).toBe(n % 2 ? '198.51.100.7' : '203.0.113.200');
      expect(f.sport).toBe(4500 + n);
    });
    expect(batcher.stats()).toMatchObject({ received: 12, fullBatches: 1 });
    // Not IPv4: refused, nothing taken.
    expect(batcher.push(Uint8Array.of(1), '::1', 1, '127.0.0.1')).toBe(false);
    expect(batcher.pending).toBe(0);
  });

  it('ipv4Word / ipv4String: dotted quads only, both ways', () => {
    for (const s of ['0.0.0.0', '255.255.255.255', '192.0.2.1', '10.20.30.40']) expect(ipv4String(ipv4Word(s))).toBe(s);
    expect(ipv4Word('1.2.3.4')).toBe(0x01020304);
    for (const bad of ['', '1.2.3', '1.2.3.4.5', '256.1.1.1', '1..2.3', '::1', '1.2.3.4 ', '1.2.3.1234']) expect(ipv4Word(bad), bad).toBe(-1);
  });
});
