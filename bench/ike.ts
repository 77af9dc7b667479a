// IKEv2 benchmark (issue 13): (1) negotiations per second, IKE_SA_INIT + IKE_AUTH
// with the first CHILD SA and its SA installs, larval initiator and larval responder
// in one process (so the rate is of both ends' work; the responder alone does about
// half); (2) first-packet delay with larval queueing the packet while it negotiates,
// against strongSwan 5.9.8 (kernel-libipsec), which drops it and starts nothing.
// Part 2 needs root and strongSwan; it is skipped with a reason otherwise.
//
//   npm run build && node dist/bench/ike.js [negotiations]
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { createGateway } from '../src/gateway/gateway.js';
import { createIkeDaemon, type IkeDaemon } from '../src/ike/daemon.js';
import type { IkeConnectionConfig, SwanctlConfig } from '../src/ike/config-types.js';
import { Secret } from '../src/ike/secret.js';
import { StrongswanLab, siteSwanctlConf, startSitePair, strongswanMissing } from '../test/support/strongswan.js';

const A = '10.200.0.1', B = '10.200.0.2';
/** K connections between K initiator addresses (10.201.0.i) and one responder address B. */
function conf(side: 'i' | 'r', k: number): SwanctlConfig {
  const connections: IkeConnectionConfig[] = [];
  for (let i = 0; i < k; i++) {
    const me = side === 'i' ? `10.201.0.${i + 1}` : B, peer = side === 'i' ? B : `10.201.0.${i + 1}`;
    connections.push({
      name: `net${i}`, version: 2, localAddrs: [me], remoteAddrs: [peer], localPort: 500, remotePort: 500,
      proposals: [{ encr: [{ alg: 'aes-gcm-16', keyBits: 256 }], integ: [], prf: ['hmac-sha2-256'], dh: ['curve25519'] }],
      encap: true, dpdDelayMs: 0, rekeyTimeMs: 0, local: { auth: 'psk', id: side === 'i' ? 'i.example' : 'r.example' }, remote: { auth: 'psk', id: side === 'i' ? 'r.example' : 'i.example' },
      children: [{ name: 'net', localTs: [{ prefix: `10.${side === 'i' ? 1 : 2}.${i}.0`, prefixLength: 24 }], remoteTs: [{ prefix: `10.${side === 'i' ? 2 : 1}.${i}.0`, prefixLength: 24 }], espProposals: [{ encr: [{ alg: 'aes-gcm-16', keyBits: 128 }], integ: [], dh: [], esn: false }], mode: 'tunnel', startAction: 'none', rekeyTimeMs: 0, lifeTimeMs: 0 }],
    });
  }
  return { connections, secrets: [{ ids: ['i.example', 'r.example'], secret: Secret.fromString('bench-pre-shared-key-0123456789') }] };
}

async function negotiations(n: number, k: number): Promise<void> {
  const mk = async (c: SwanctlConfig) => createIkeDaemon({ gateway: await createGateway({ preset: 'larval' }), config: c, bind: false, retransmit: { baseMs: Number(process.env.RT ?? 500) } });
  const a = await mk(conf('i', k)), b = await mk(conf('r', k));
  const wire = (from: IkeDaemon, to: IkeDaemon) => {
    from.outbox = (bytes, address, port, local, localPort) => setImmediate(() => to.receive(bytes, local, localPort, address, port));
  };
  wire(a, b);
  wire(b, a);
  const settled = (pred: () => boolean) => new Promise<void>((resolve) => {
    const poll = () => (pred() ? resolve() : setTimeout(poll, 1));
    poll();
  });
  // One round: K negotiations at once (as K peers would), then K deletes.
  const round = async () => {
    for (let i = 0; i < k; i++) a.initiate(`net${i}`);
    await settled(() => b.stats().childSas === k && a.stats().childSas === k);
    for (let i = 0; i < k; i++) a.terminate(`net${i}`);
    await settled(() => a.stats().ikeSas === 0 && b.stats().ikeSas === 0);
  };
  await round(); // warm-up
  const rounds = Math.max(1, Math.round(n / k));
  const cpu0 = process.cpuUsage();
  const t = performance.now();
  for (let r = 0; r < rounds; r++) await round();
  const s = (performance.now() - t) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const total = rounds * k;
  console.log(`negotiations (IKE_SA_INIT + IKE_AUTH + first CHILD SA installed on both ends, then deleted; curve25519, AES-256-GCM; ${k} at a time; initiator and responder in one process): ${total} in ${s.toFixed(2)} s = ${(total / s).toFixed(0)}/s; CPU ${((cpu.user + cpu.system) / 1000 / total).toFixed(2)} ms per negotiation for both ends`);
  console.log(`  responder drops: ${JSON.stringify(b.stats().drops)}; initiator drops: ${JSON.stringify(a.stats().drops)}; retransmissions: ${(a.stats().counters.retransmits ?? 0) + (b.stats().counters.retransmits ?? 0)}`);
  await a.close();
  await b.close();
}

const OUTER = { a: '192.0.2.1', b: '192.0.2.2' }, INNER = { a: '10.1.0.1', b: '10.2.0.1' };
const PSK = 'larval-test-psk-0123456789';

async function firstPacket(runs: number): Promise<void> {
  const why = process.getuid?.() !== 0 ? 'not root' : strongswanMissing();
  if (why) {
    console.log(`first-packet delay: skipped (${why})`);
    return;
  }
  const rtt = (out: string) => {
    const m = /icmp_seq=1 .*time=([\d.]+) ms/.exec(out);
    return m ? Number(m[1]) : null;
  };
  // larval tun --swanctl ↔ charon: the first ping waits in larval's queue while IKE runs.
  const lab = new StrongswanLab('ikb');
  try {
    const [na, nb] = lab.namespaces(2);
    lab.link(na, nb, `${OUTER.a}/24`, `${OUTER.b}/24`);
    await lab.execOk(nb, ['ip', 'addr', 'add', `${INNER.b}/32`, 'dev', 'lo']);
    for (const c of [['tuntap', 'add', 'dev', 'lt0', 'mode', 'tun'], ['link', 'set', 'lt0', 'mtu', '1400', 'up'], ['addr', 'add', `${INNER.a}/24`, 'dev', 'lt0'], ['route', 'add', `${INNER.b}/32`, 'dev', 'lt0']]) await lab.execOk(na, ['ip', ...c]);
    const charon = await lab.startCharon(nb, { swanctlConf: siteSwanctlConf('b', { outer: OUTER, inner: INNER }, { psk: PSK }) });
    await charon.loadAll();
    const file = join(lab.dir, 'larval.conf');
    writeFileSync(file, siteSwanctlConf('a', { outer: OUTER, inner: INNER }, { psk: PSK }));
    const cli = new URL('../src/cli/main.js', import.meta.url).pathname;
    const proc = spawn('ip', ['netns', 'exec', na, process.execPath, cli, 'tun', '--swanctl', file, '--dev', 'lt0'], { stdio: ['ignore', 'pipe', 'inherit'] });
    lab.created.procs.push(proc);
    await new Promise<void>((resolve) => createInterface({ input: proc.stdout! }).on('line', (l) => l.includes('"up"') && resolve()));
    const larval: (number | null)[] = [];
    const warm: number[] = [];
    for (let i = 0; i < runs; i++) {
      larval.push(rtt((await lab.exec(na, ['ping', '-c', '2', '-i', '0.2', '-W', '3', '-I', INNER.a, INNER.b])).stdout));
      warm.push(rtt((await lab.exec(na, ['ping', '-c', '1', '-W', '3', '-I', INNER.a, INNER.b])).stdout) ?? NaN);
      await charon.terminateIke('net');
    }
    const ok = larval.filter((x): x is number => x !== null).sort((x, y) => x - y);
    console.log(`first-packet delay, larval tun (queues, R7/R9) ↔ strongSwan: icmp_seq=1 answered in ${ok.length}/${runs} runs, RTT median ${ok[ok.length >> 1]?.toFixed(1)} ms (min ${ok[0]?.toFixed(1)}, max ${ok.at(-1)?.toFixed(1)}); with the SA up: ${warm.sort((x, y) => x - y)[warm.length >> 1].toFixed(2)} ms`);
  } finally {
    await lab.destroy();
  }
  // strongSwan ↔ strongSwan: the first packet without an SA is dropped and starts nothing.
  const pair = await startSitePair({ psk: PSK, childExtra: 'start_action = trap' });
  try {
    let lost = 0;
    for (let i = 0; i < runs; i++) {
      const r = await pair.lab.exec(pair.ns.a, ['ping', '-c', '1', '-W', '1', '-I', pair.inner.a, pair.inner.b]);
      if (!/1 received/.test(r.stdout)) lost++;
    }
    const sas = await pair.a.listSas();
    console.log(`first-packet delay, strongSwan 5.9.8 kernel-libipsec ↔ strongSwan (start_action = trap): first packet lost in ${lost}/${runs} runs; IKE SAs started by the traffic: ${sas.length}`);
  } finally {
    await pair.lab.destroy();
  }
}

const n = Number(process.argv[2] ?? 640);
await negotiations(n, 1);
await negotiations(n, 32);
if (process.argv[3] !== '--no-first-packet') await firstPacket(5);
