// Issue 13 acceptance against real strongSwan 5.9.8 (kernel-libipsec): `larval tun
// --swanctl` in one network namespace, charon in another, joined by a veth. The
// namespaces, links and daemons are this run's (random names, test/support/strongswan.ts)
// and are deleted afterwards. Skips with a printed reason without strongSwan/root,
// unless LARVAL_REQUIRE_STRONGSWAN=1 (CI), where it fails instead.
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StrongswanLab, siteSwanctlConf, skipWithoutStrongswan, type Charon } from '../support/strongswan.js';

const root = new URL('../../', import.meta.url).pathname;
const cli = join(root, 'dist/src/cli/main.js');
const skip = skipWithoutStrongswan('IKEv2 interop with strongSwan (issue 13)');

const OUTER = { a: '192.0.2.1', b: '192.0.2.2' };
const INNER = { a: '10.1.0.1', b: '10.2.0.1' };
const PSK = 'larval-test-psk-0123456789';

const ALL_IKE = 'aes128gcm16-aes256gcm16-prfsha256-prfsha384-curve25519-ecp256-modp2048,aes256-aes128-sha256-prfsha256-prfsha384-curve25519-ecp256-modp2048';
const ALL_ESP = 'aes128gcm16-aes256gcm16,aes128-aes256-sha256';

function larvalConf(opts: { proposals?: string; esp?: string; psk?: string; childExtra?: string; connExtra?: string } = {}): string {
  return `connections {
  net {
    version = 2
    local_addrs = ${OUTER.a}
    remote_addrs = ${OUTER.b}
    proposals = ${opts.proposals ?? ALL_IKE}
    encap = yes
    ${opts.connExtra ?? ''}
    local {
      auth = psk
      id = a.example
    }
    remote {
      auth = psk
      id = b.example
    }
    children {
      net {
        local_ts = ${INNER.a}/32
        remote_ts = ${INNER.b}/32
        esp_proposals = ${opts.esp ?? ALL_ESP}
        ${opts.childExtra ?? ''}
      }
    }
  }
}
secrets {
  ike-net {
    id-1 = a.example
    id-2 = b.example
    secret = "${opts.psk ?? PSK}"
  }
}
`;
}

interface Larval { proc: ChildProcess; lines: Record<string, any>[]; waitFor: (pred: (l: Record<string, any>) => boolean, ms?: number) => Promise<Record<string, any>>; stats: () => Promise<Record<string, any>>; stop: () => Promise<void> }

describe.skipIf(skip)('larval tun --swanctl against strongSwan 5.9.8 (issue 13)', () => {
  let lab: StrongswanLab;
  let ns: { a: string; b: string };
  let charon: Charon;
  let larval: Larval | null = null;

  function startLarval(conf: string): Promise<Larval> {
    const file = join(lab.dir, `larval-${Date.now()}.conf`);
    writeFileSync(file, conf);
    const proc = spawn('ip', ['netns', 'exec', ns.a, process.execPath, cli, 'tun', '--swanctl', file, '--dev', 'lt0', '--log'], { stdio: ['ignore', 'pipe', 'inherit'] });
    lab.created.procs.push(proc);
    const lines: Record<string, any>[] = [];
    const waiters: { pred: (l: Record<string, any>) => boolean; resolve: (l: Record<string, any>) => void }[] = [];
    createInterface({ input: proc.stdout! }).on('line', (text) => {
      let l: Record<string, any>;
      try {
        l = JSON.parse(text);
      } catch {
        return;
      }
      lines.push(l);
      for (const w of [...waiters]) if (w.pred(l)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(l);
      }
    });
    const waitFor = (pred: (l: Record<string, any>) => boolean, ms = 15_000) => new Promise<Record<string, any>>((resolve, reject) => {
      const hit = lines.find(pred);
      if (hit) return resolve(hit);
      const t = setTimeout(() => reject(new Error(`larval: timed out waiting; last lines: ${JSON.stringify(lines.slice(-5))}`)), ms);
      waiters.push({ pred, resolve: (l) => { clearTimeout(t); resolve(l); } });
    });
    const stats = async () => {
      const n = lines.length;
      proc.kill('SIGUSR1');
      return waitFor((x) => x.event === 'stats' && lines.indexOf(x) >= n);
    };
    const stop = async () => {
      if (proc.exitCode !== null) return;
      const gone = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      await gone;
    };
    const l = { proc, lines, waitFor, stats, stop };
    return waitFor((x) => x.event === 'up').then(() => l);
  }

  const ping = (from: string, src: string, dst: string, n = 3) => lab.exec(from, ['ping', '-c', String(n), '-i', '0.2', '-W', '3', '-I', src, dst], { timeoutMs: 30_000 });

  beforeAll(async () => {
    lab = new StrongswanLab('ike');
    const [na, nb] = lab.namespaces(2);
    ns = { a: na, b: nb };
    lab.link(na, nb, `${OUTER.a}/24`, `${OUTER.b}/24`);
    await lab.execOk(nb, ['ip', 'addr', 'add', `${INNER.b}/32`, 'dev', 'lo']);
    // A persistent TUN device: larval attaches to it; restarts keep the address and route.
    await lab.execOk(na, ['ip', 'tuntap', 'add', 'dev', 'lt0', 'mode', 'tun']);
    await lab.execOk(na, ['ip', 'link', 'set', 'lt0', 'mtu', '1400', 'up']);
    await lab.execOk(na, ['ip', 'addr', 'add', `${INNER.a}/24`, 'dev', 'lt0']);
    await lab.execOk(na, ['ip', 'route', 'add', `${INNER.b}/32`, 'dev', 'lt0']);
    charon = await lab.startCharon(nb, { swanctlConf: siteSwanctlConf('b', { outer: OUTER, inner: INNER }, { psk: PSK }) });
    await charon.loadAll();
  }, 60_000);

  afterAll(async () => {
    await larval?.stop();
    await lab?.destroy();
  }, 60_000);

  it('1. larval initiates on demand: icmp_seq=1 answered, 0% loss, one ACQUIRE and one IKE_SA_INIT; charon lists the SAs (R27, R7, R9)', async () => {
    larval = await startLarval(larvalConf());
    const r = await ping(ns.a, INNER.a, INNER.b, 5);
    expect(r.stdout).toMatch(/icmp_seq=1 /);
    expect(r.stdout).toMatch(/5 packets transmitted, 5 received, 0% packet loss/);
    const s = await larval.stats();
    expect(s.acquires).toBe(1);
    expect(s.ike.counters['ike-init-sent']).toBe(1);
    expect(s.ike.drops).toEqual({});
    const sas = await charon.listSas();
    expect(sas).toHaveLength(1);
    expect(sas[0].state).toBe('ESTABLISHED');
    expect(sas[0].initiator).toBe(false);
    expect(sas[0].encrAlg).toBe('AES_GCM_16');
    expect(sas[0].children).toHaveLength(1);
    expect(sas[0].children[0].state).toBe('INSTALLED');
    expect(sas[0].children[0].encap).toBe(true);
    expect(sas[0].children[0].encrAlg).toBe('AES_GCM_16');
    expect(sas[0].children[0].packetsIn).toBeGreaterThanOrEqual(5);
    // charon chose what larval offered first (AES_GCM_16_128 / PRF_HMAC_SHA2_256 / CURVE_25519).
    expect(s.sas[0].suite).toContain('aes-gcm-16');
  }, 60_000);

  it('2. strongSwan initiates (swanctl --initiate): larval responds; traffic both ways', async () => {
    await charon.terminateIke('net');
    await larval!.stop();
    larval = await startLarval(larvalConf());
    await charon.initiate('net');
    const sas = await charon.listSas();
    expect(sas[0].initiator).toBe(true);
    const back = await ping(ns.b, INNER.b, INNER.a, 3);
    expect(back.stdout).toMatch(/3 packets transmitted, 3 received, 0% packet loss/);
    const fwd = await ping(ns.a, INNER.a, INNER.b, 3);
    expect(fwd.stdout).toMatch(/3 packets transmitted, 3 received, 0% packet loss/);
    const s = await larval.stats();
    expect(s.acquires).toBe(0);
    expect(s.ike.counters['ike-init-answered']).toBe(1);
    expect(s.ike.drops).toEqual({});
  }, 60_000);

  it('3. proposal matrix: every IKE × PRF × group, every ESP suite negotiates and passes traffic; no overlap → NO_PROPOSAL_CHOSEN; wrong PSK → AUTHENTICATION_FAILED, no SA', async () => {
    await charon.terminateIke('net').catch(() => {});
    const o = { outer: OUTER, inner: INNER };
    const esps = ['aes128gcm16', 'aes256gcm16', 'aes128-sha256', 'aes256-sha256'];
    let k = 0;
    const results: string[] = [];
    for (const encr of ['aes128gcm16', 'aes256gcm16', 'aes256-sha256']) for (const prf of ['prfsha256', 'prfsha384']) for (const dh of ['curve25519', 'ecp256', 'modp2048']) {
      const esp = esps[k++ % esps.length];
      await charon.loadAll(siteSwanctlConf('b', o, { psk: PSK, proposals: `${encr}-${prf}-${dh}`, espProposals: esp }));
      await charon.initiate('net');
      const r = await ping(ns.b, INNER.b, INNER.a, 2);
      results.push(`${encr}-${prf}-${dh} / ${esp}: ${/2 received/.test(r.stdout) ? 'ok' : 'FAIL'}`);
      await charon.terminateIke('net');
    }
    // The four ESP suites each once more with the default IKE proposal, larval initiating.
    expect(results.filter((x) => !x.endsWith('ok'))).toEqual([]);
    // No overlap: charon only offers what larval does not accept.
    await charon.loadAll(siteSwanctlConf('b', o, { psk: PSK, proposals: 'aes128-sha1-modp3072' }));
    const np = await charon.tryInitiate('net', { timeoutS: 5 });
    expect(np.code).not.toBe(0);
    expect(charon.log()).toMatch(/NO_PROPOSAL_CHOSEN/);
    // Wrong PSK.
    await charon.loadAll(siteSwanctlConf('b', o, { psk: 'a-different-psk-0123456789' }));
    const af = await charon.tryInitiate('net', { timeoutS: 5 });
    expect(af.code).not.toBe(0);
    expect(charon.log()).toMatch(/AUTHENTICATION_FAILED/);
    expect(await charon.listSas()).toEqual([]);
    const s = await larval!.stats();
    expect(s.ike.childSas).toBe(0);
    expect(s.ike.drops['auth-failed']).toBeGreaterThanOrEqual(1);
    await charon.loadAll(siteSwanctlConf('b', o, { psk: PSK }));
  }, 180_000);
});
