// The strongSwan harness itself (issue 13 interop environment): two charons with
// userspace ESP in two network namespaces negotiate IKEv2 with PSK and carry a ping
// through their CHILD_SA; --list-sas shows ESTABLISHED / INSTALLED with the proposals
// configured; a rekey and a terminate go through the helpers; teardown removes every
// namespace. Skips (printing why) without root/strongSwan, fails in CI
// (LARVAL_REQUIRE_STRONGSWAN=1).
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  assertStrongswan, parseViciPretty, ikeSasFromVici, type SitePair, skipWithoutStrongswan, startSitePair, StrongswanLab,
  strongswanMissing, strongswanRequired,
} from '../support/strongswan.js';

it('strongSwan is there where it must be (CI sets LARVAL_REQUIRE_STRONGSWAN=1)', () => {
  if (strongswanRequired()) expect(strongswanMissing()).toBeNull();
});

describe('parseViciPretty', () => {
  it('reads sections, values and lists of swanctl --list-sas --pretty', () => {
    const text = `list-sa event {
  net {
    uniqueid = 1
    version = 2
    state = ESTABLISHED
    local-id = CN=a, O=example
    initiator = yes
    child-sas {
      net-1 {
        name = net
        state = INSTALLED
        encr-alg = AES_GCM_16
        encr-keysize = 256
        local-ts = [
          10.1.0.1/32
        ]
        remote-ts = [
          10.2.0.1/32
          10.3.0.0/24
        ]
      }
    }
  }
}
`;
    const [sa] = ikeSasFromVici(parseViciPretty(text));
    expect(sa).toMatchObject({ name: 'net', uniqueid: 1, version: 2, state: 'ESTABLISHED', localId: 'CN=a, O=example', initiator: true });
    expect(sa.children).toHaveLength(1);
    expect(sa.children[0]).toMatchObject({ name: 'net', key: 'net-1', state: 'INSTALLED', encrAlg: 'AES_GCM_16', encrKeysize: 256, localTs: ['10.1.0.1/32'], remoteTs: ['10.2.0.1/32', '10.3.0.0/24'] });
  });
});

const title = 'strongSwan harness: two charons in two namespaces';
describe.skipIf(skipWithoutStrongswan(title))(title, () => {
  let pair: SitePair;
  const names: string[] = [];

  beforeAll(async () => {
    assertStrongswan();
    pair = await startSitePair({ proposals: 'aes256gcm16-prfsha256-curve25519', espProposals: 'aes256gcm16' });
    names.push(pair.ns.a, pair.ns.b);
  }, 60_000);

  afterAll(async () => {
    const dir = pair?.lab.dir;
    await pair?.lab.destroy();
    const left = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout;
    for (const n of names) expect(left).not.toContain(n);
    if (dir) expect(existsSync(dir)).toBe(false);
  }, 60_000);

  it('names namespaces and interfaces uniquely per lab, interfaces within 15 characters', () => {
    expect(pair.ns.a).not.toBe(pair.ns.b);
    expect(pair.devs.a.length).toBeLessThanOrEqual(15);
    expect(pair.devs.b.length).toBeLessThanOrEqual(15);
    const other = new StrongswanLab();
    try {
      expect(other.id).not.toBe(pair.lab.id);
    } finally {
      other.destroySync();
    }
  });

  it('each charon answers on its own vici socket and runs under the pid we started', async () => {
    expect(pair.a.uri).not.toBe(pair.b.uri);
    for (const c of [pair.a, pair.b]) {
      const stats = await c.swanctl(['--stats']);
      expect(stats.code).toBe(0);
      expect(stats.stdout).toMatch(/uptime/);
      // `exec` all the way: the process we spawned is charon itself.
      expect(spawnSync('cat', [`/proc/${c.pid}/comm`], { encoding: 'utf8' }).stdout.trim()).toBe('charon');
    }
    expect(pair.a.log()).toMatch(/Starting IKE charon daemon \(strongSwan 5\.\d+\.\d+/);
  });

  it('initiates: IKE SA ESTABLISHED and CHILD_SA INSTALLED on both sides with the configured proposals, in UDP', async () => {
    await pair.a.initiate('net');
    const [ia] = await pair.a.listSas();
    const [ib] = (await pair.b.waitForSas((s) => s[0]?.children[0]?.state === 'INSTALLED', 10_000, 'the responder CHILD_SA'));
    for (const [sa, initiator] of [[ia, true], [ib, false]] as const) {
      expect(sa).toMatchObject({ name: 'net', version: 2, state: 'ESTABLISHED', initiator, encrAlg: 'AES_GCM_16', encrKeysize: 256, prfAlg: 'PRF_HMAC_SHA2_256', dhGroup: 'CURVE_25519' });
      expect(sa.integAlg).toBeUndefined();
      // encap = yes: charon fakes a NAT so that ESP goes in UDP (kernel-libipsec needs it).
      expect(sa.natFake || sa.natAny).toBe(true);
      expect(sa.children).toHaveLength(1);
      expect(sa.children[0]).toMatchObject({ name: 'net', state: 'INSTALLED', mode: 'TUNNEL', protocol: 'ESP', encap: true, encrAlg: 'AES_GCM_16', encrKeysize: 256 });
    }
    expect(ia.localId).toBe('a.example');
    expect(ia.remoteId).toBe('b.example');
    expect(ia.initiatorSpi).toBe(ib.initiatorSpi);
    expect(ia.responderSpi).toBe(ib.responderSpi);
    expect(ia.children[0].spiIn).toBe(ib.children[0].spiOut);
    expect(ia.children[0].spiOut).toBe(ib.children[0].spiIn);
    expect(ia.children[0].localTs).toEqual(['10.1.0.1/32']);
    expect(ia.children[0].remoteTs).toEqual(['10.2.0.1/32']);
  });

  it('passes a ping between the protected addresses through the CHILD_SA (ESP counters move)', async () => {
    const before = (await pair.a.listSas())[0].children[0];
    const r = await pair.lab.exec(pair.ns.a, ['ping', '-c', '3', '-i', '0.2', '-W', '2', '-I', pair.inner.a, pair.inner.b], { timeoutMs: 20_000 });
    expect(r.stdout, r.stderr).toMatch(/3 packets transmitted, 3 received/);
    const after = (await pair.a.listSas())[0].children[0];
    expect(after.packetsOut - before.packetsOut).toBeGreaterThanOrEqual(3);
    expect(after.packetsIn - before.packetsIn).toBeGreaterThanOrEqual(3);
  });

  it('rekeys the CHILD_SA (new SPIs, still INSTALLED, traffic still flows)', async () => {
    const old = (await pair.a.listSas())[0].children[0];
    await pair.a.rekeyChild('net');
    // charon keeps the old SA a few seconds (REKEYED, then DELETING) before it goes.
    const sas = await pair.a.waitForSas((s) => s[0]?.children.some((c) => c.state === 'INSTALLED' && c.spiIn !== old.spiIn) && !s[0].children.some((c) => c.spiIn === old.spiIn && c.state === 'INSTALLED'), 10_000, 'the rekeyed CHILD_SA');
    expect(sas[0].children.filter((c) => c.state === 'INSTALLED')).toHaveLength(1);
    const r = await pair.lab.exec(pair.ns.b, ['ping', '-c', '2', '-i', '0.2', '-W', '2', '-I', pair.inner.b, pair.inner.a], { timeoutMs: 20_000 });
    expect(r.stdout, r.stderr).toMatch(/2 packets transmitted, 2 received/);
  });

  it('rekeys the IKE SA (new SPIs, CHILD_SA kept)', async () => {
    const old = (await pair.a.listSas())[0];
    await pair.a.rekeyIke('net');
    const sas = await pair.a.waitForSas((s) => s.length === 1 && s[0].state === 'ESTABLISHED' && s[0].initiatorSpi !== old.initiatorSpi, 10_000, 'the rekeyed IKE SA');
    // The CHILD_SA moves to the new IKE SA (with the rekeyed-away one, if charon still lists it).
    expect(sas[0].children.filter((c) => c.state === 'INSTALLED')).toHaveLength(1);
  });

  it('reads the log: both daemons logged the exchange', async () => {
    await pair.a.waitForLog(/IKE_SA net\[\d+\] established between 192\.0\.2\.1\[a\.example\]\.\.\.192\.0\.2\.2\[b\.example\]/);
    await pair.b.waitForLog(/CHILD_SA net\{\d+\} established with SPIs/);
  });

  it('terminates: no SAs left on either side', async () => {
    await pair.a.terminateIke('net');
    expect(await pair.a.listSas()).toEqual([]);
    await pair.b.waitForSas((s) => s.length === 0, 10_000, 'the peer to delete its SAs');
  });

  it('a wrong PSK fails to initiate and leaves no SA', async () => {
    const lab = new StrongswanLab();
    try {
      const p = await startSitePair({ psk: 'right-psk-0123456789' }, lab);
      // Replace b's secret only.
      const conf = readFileSync(p.b.swanctlPath, 'utf8').replace('right-psk-0123456789', 'wrong-psk-0123456789');
      await p.b.loadAll(conf);
      const r = await p.a.tryInitiate('net', { timeoutS: 5 });
      expect(r.code).not.toBe(0);
      await p.a.waitForLog(/AUTHENTICATION_FAILED/);
      expect((await p.a.listSas()).filter((s) => s.state === 'ESTABLISHED')).toEqual([]);
    } finally {
      await lab.destroy();
    }
  }, 60_000);

  it('stops charon by pid', async () => {
    await pair.b.stop();
    expect(pair.b.running).toBe(false);
    expect(existsSync(`/proc/${pair.b.pid}`)).toBe(false);
  });
});
