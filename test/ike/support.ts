// Two larval gateways with IKE daemons wired back to back in one process (no
// sockets): datagrams go through a queue delivered on setImmediate, so the test
// can drop, corrupt or inspect them.
import { createGateway, type Gateway } from '../../src/gateway/gateway.js';
import { createIkeDaemon, type IkeDaemon } from '../../src/ike/daemon.js';
import type { IkeConnectionConfig, SwanctlConfig } from '../../src/ike/config-types.js';
import { Secret } from '../../src/ike/secret.js';

export const A = '10.200.0.1', B = '10.200.0.2';

export function conn(local: string, remote: string, lnet: string, rnet: string, over: Partial<IkeConnectionConfig> = {}, child: Partial<IkeConnectionConfig['children'][0]> = {}): IkeConnectionConfig {
  const [lp, ll] = lnet.split('/'), [rp, rl] = rnet.split('/');
  return {
    name: 'net', version: 2, localAddrs: [local], remoteAddrs: [remote], localPort: 500, remotePort: 500,
    proposals: [{ encr: [{ alg: 'aes-gcm-16', keyBits: 256 }], integ: [], prf: ['hmac-sha2-256'], dh: ['curve25519'] }],
    encap: true, dpdDelayMs: 0, rekeyTimeMs: 0,
    local: { auth: 'psk', id: local === A ? 'a.example' : 'b.example' }, remote: { auth: 'psk', id: remote === A ? 'a.example' : 'b.example' },
    children: [{ name: 'net', localTs: [{ prefix: lp, prefixLength: Number(ll) }], remoteTs: [{ prefix: rp, prefixLength: Number(rl) }], espProposals: [{ encr: [{ alg: 'aes-gcm-16', keyBits: 128 }], integ: [], dh: [], esn: false }], mode: 'tunnel', startAction: 'none', rekeyTimeMs: 0, lifeTimeMs: 0, ...child }],
    ...over,
  };
}

export function swanctl(c: IkeConnectionConfig, psk = 'a-long-pre-shared-key'): SwanctlConfig {
  return { connections: [c], secrets: [{ ids: ['a.example', 'b.example'], secret: Secret.fromString(psk) }] };
}

export interface Side { gw: Gateway; ike: IkeDaemon; addr: string; released: Uint8Array[]; t: { now: number } }

export async function pair(ca: SwanctlConfig, cb: SwanctlConfig, tap?: (bytes: Buffer, from: string, to: string) => Buffer | null): Promise<{ a: Side; b: Side; wire: Buffer[]; close: () => Promise<void> }> {
  const wire: Buffer[] = [];
  const mk = async (config: SwanctlConfig, addr: string): Promise<Side> => {
    const t = { now: 0 };
    const gw = await createGateway({ preset: 'larval' });
    const ike = await createIkeDaemon({ gateway: gw, config, bind: false, now: () => t.now, retransmit: { baseMs: 50, tries: 4 } });
    const released: Uint8Array[] = [];
    gw.on('release', (r) => { for (const p of r.wire) if (p) released.push(p); });
    return { gw, ike, addr, released, t };
  };
  const a = await mk(ca, A), b = await mk(cb, B);
  for (const [from, to] of [[a, b], [b, a]] as const) {
    from.ike.outbox = (bytes, address, port, local, localPort) => {
      if (address !== to.addr) return;
      const x = tap ? tap(bytes, local, address) : bytes;
      if (!x) return;
      wire.push(Buffer.from(x));
      setImmediate(() => to.ike.receive(Buffer.from(x), local, localPort, address, port));
    };
  }
  return { a, b, wire, close: async () => { await a.ike.close(); await b.ike.close(); } };
}

export function until(pred: () => boolean, ms = 5000): Promise<void> {
  return new Promise((resolve, reject) => {
    const start = Date.now();
    const poll = () => (pred() ? resolve() : Date.now() - start > ms ? reject(new Error('timed out')) : setTimeout(poll, 5));
    poll();
  });
}
