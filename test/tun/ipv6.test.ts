// IPv6 through the tunnel, with the TUN offloads on (issue 16): two `larval tun`
// gateways with manual SAs whose policies select IPv6 traffic (fd00:1::/64 ↔
// fd00:2::/64) in ESP-in-UDP tunnels over the IPv4 underlay (RFC 4303 §3.1.2: the
// inner header's family need not be the outer's). A TCP transfer over IPv6 must
// arrive intact (the receiver's SHA-256 echoed back), and the gateways' counters must
// show that A's kernel handed it TCPv6 frames to cut and that B merged segments for
// its kernel.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { labMissing, TwoGateways, UNDER, type Side } from './lab.js';
import { tcpSink } from '../support/transfer.js';

if (labMissing) console.warn(`SKIPPED: IPv6 through larval tun (issue 16): ${labMissing}. CI runs it as root.`);

const INNER6 = { a: 'fd00:1::1', b: 'fd00:2::1' } as const;
const KEY = (seed: number) => '0x' + Array.from({ length: 20 }, (_, i) => ((i * 41 + seed) & 255).toString(16).padStart(2, '0')).join('');

function setkey(side: Side): string {
  const [l, r] = side === 'a' ? ['fd00:1::/64', 'fd00:2::/64'] : ['fd00:2::/64', 'fd00:1::/64'];
  const [us, them] = side === 'a' ? [UNDER.a, UNDER.b] : [UNDER.b, UNDER.a];
  const sa = (src: string, dst: string, spi: number) => `add ${src}[4500] ${dst}[4500] esp-udp 0x${spi.toString(16)} -m tunnel -E aes-gcm-16 ${KEY(spi & 0xff)};\n`;
  return `spdadd ${l} ${r} any -P out ipsec esp/tunnel/${us}-${them}/require;\nspdadd ${r} ${l} any -P in ipsec esp/tunnel/${them}-${us}/require;\n`
    + sa(UNDER.a, UNDER.b, 0x6001) + sa(UNDER.b, UNDER.a, 0x6002);
}

const CLIENT = String.raw`
import socket, hashlib, sys, json, os
h = hashlib.sha256(); sent = 0; total = int(sys.argv[2])
s = socket.create_connection(('fd00:2::1', int(sys.argv[1])), timeout=60)
block = os.urandom(1 << 16)
while sent < total:
    b = block[: min(len(block), total - sent)]; s.sendall(b); h.update(b); sent += len(b)
s.shutdown(socket.SHUT_WR)
print(json.dumps({'bytes': sent, 'sha256': h.hexdigest(), 'echo': s.recv(100).decode()}), flush=True)
`;

const lab = new TwoGateways();
describe.skipIf(labMissing !== null)('IPv6 inner traffic through two larval tun gateways, TUN offloads on (issue 16)', () => {
  beforeAll(async () => {
    lab.setup();
    for (const side of ['a', 'b'] as const) {
      lab.inNs(side, `ip -6 addr add ${INNER6[side]}/64 dev lt0 nodad`);
      lab.inNs(side, `ip -6 route add ${side === 'a' ? 'fd00:2::/64' : 'fd00:1::/64'} dev lt0`);
    }
    await lab.startManual(setkey);
  }, 60_000);
  afterAll(() => {
    const left = lab.destroy();
    expect(left).not.toContain(lab.ns.a);
  });

  it('a 20 MB TCP transfer over IPv6 arrives intact; A cut TCPv6 frames, B merged segments', async () => {
    const server = spawn('ip', ['netns', 'exec', lab.ns.b, 'python3', '-c', tcpSink(INNER6.b, 5601)], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      await new Promise((r) => createInterface({ input: server.stdout! }).once('line', r));
      const client = spawn('ip', ['netns', 'exec', lab.ns.a, 'python3', '-c', CLIENT, '5601', String(20 << 20)], { stdio: ['ignore', 'pipe', 'inherit'] });
      const line = await new Promise<string>((resolve) => createInterface({ input: client.stdout! }).once('line', resolve));
      const r = JSON.parse(line) as { bytes: number; sha256: string; echo: string };
      expect(r.bytes).toBe(20 << 20);
      expect(r.echo).toBe(r.sha256);
      const a = await lab.stats('a');
      const b = await lab.stats('b');
      expect(a.tun.offload).toBe(true);
      expect(a.tun.gsoFrames).toBeGreaterThan(0);
      expect(a.tun.readDrops).toBe(0);
      expect(b.tun.mergedFrames).toBeGreaterThan(0);
      expect(b.tun.writeErrors).toBe(0);
      expect(a.drops).toEqual({});
      expect(b.drops).toEqual({});
    } finally {
      server.kill();
    }
  }, 90_000);
});
