// Differential test of the swanctl.conf parser against strongSwan itself (issue 13
// "Configuration"): the same file is loaded into a real charon, which logs (cfg = 2)
// every connection and child as it understood them: proposals, ports, encap, timers,
// start_action, mode. larval's parseSwanctl must read the same values, restricted to
// the algorithms larval implements. Skips without root/strongSwan (fails in CI).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EspProposal, IkeProposal } from '../../src/ike/config-types.js';
import { parseSwanctl } from '../../src/ike/config.js';
import { assertStrongswan, type Charon, skipWithoutStrongswan, StrongswanLab } from '../support/strongswan.js';

// Proposal strings as users write them; each becomes one connection with one child.
const CASES: { ike?: string; esp?: string; conn?: string; child?: string }[] = [
  {},
  { ike: 'default', esp: 'default' },
  { ike: 'aes256gcm16-prfsha256-curve25519', esp: 'aes256gcm16' },
  { ike: 'aes256-sha256-modp2048', esp: 'aes128-sha256' },
  { ike: 'aes128-aes256-sha384-sha1-prfsha512-ecp256-x25519', esp: 'aes256gcm16-aes128gcm16-modp2048-esn' },
  { ike: 'aes256gcm16-prfsha384-ecp256, aes128-sha256-prfsha256-curve25519', esp: 'aes128gcm16-curve25519, aes256-sha512-noesn' },
  { ike: 'aes192-sha512-curve25519, default', esp: 'aes192gcm16, default' },
  { ike: 'aes128gcm128-prfsha1-modp2048', esp: 'aes-sha1-ecp256' },
  { conn: 'encap = yes\n dpd_delay = 30s\n rekey_time = 2h\n local_port = 4500\n remote_port = 4501', child: 'rekey_time = 20m\n start_action = none' },
  { child: 'rekey_time = 100s\n life_time = 1h\n mode = tunnel' },
  { conn: 'rekey_time = 1d', child: 'rekey_time = 0\n start_action = trap' },
];

const LARVAL_ALGORITHMS = new Set([
  'AES_CBC_128', 'AES_CBC_192', 'AES_CBC_256', 'AES_GCM_16_128', 'AES_GCM_16_192', 'AES_GCM_16_256',
  'HMAC_SHA2_256_128', 'HMAC_SHA2_384_192', 'HMAC_SHA2_512_256', 'HMAC_SHA1_96',
  'PRF_HMAC_SHA2_256', 'PRF_HMAC_SHA2_384', 'PRF_HMAC_SHA2_512', 'PRF_HMAC_SHA1',
  'CURVE_25519', 'ECP_256', 'MODP_2048', 'NO_EXT_SEQ', 'EXT_SEQ',
]);

const INTEG: Record<string, string> = { 'hmac-sha2-256-128': 'HMAC_SHA2_256_128', 'hmac-sha2-384-192': 'HMAC_SHA2_384_192', 'hmac-sha2-512-256': 'HMAC_SHA2_512_256', 'hmac-sha1-96': 'HMAC_SHA1_96' };
const PRF: Record<string, string> = { 'hmac-sha2-256': 'PRF_HMAC_SHA2_256', 'hmac-sha2-384': 'PRF_HMAC_SHA2_384', 'hmac-sha2-512': 'PRF_HMAC_SHA2_512', 'hmac-sha1': 'PRF_HMAC_SHA1' };
const DH: Record<string, string> = { curve25519: 'CURVE_25519', ecp256: 'ECP_256', modp2048: 'MODP_2048' };

/** larval's proposal in charon's notation (transform order as charon prints it: encr, integ, prf, dh, esn). */
function charonName(p: IkeProposal | EspProposal, proto: 'IKE' | 'ESP'): string {
  const encr = p.encr.map((e) => (e.alg === 'aes-gcm-16' ? `AES_GCM_16_${e.keyBits}` : `AES_CBC_${e.keyBits}`));
  const parts = [...encr, ...p.integ.map((i) => INTEG[i]), ...('prf' in p ? p.prf.map((x) => PRF[x]) : []), ...p.dh.map((d) => DH[d])];
  if (proto === 'ESP') parts.push((p as EspProposal).esn ? 'EXT_SEQ' : 'NO_EXT_SEQ');
  return `${proto}:${parts.join('/')}`;
}

/** charon's proposals, limited to larval's algorithms; proposals left without encryption dropped. */
function larvalPart(charon: string): string[] {
  return charon.split(', ').flatMap((p) => {
    const [proto, algs] = p.split(':');
    const kept = algs.split('/').filter((a) => LARVAL_ALGORITHMS.has(a));
    return kept.some((a) => a.startsWith('AES_')) ? [`${proto}:${kept.join('/')}`] : [];
  });
}

interface Logged { conn: Record<string, string>; child: Record<string, string> }

/** The cfg = 2 dump of vici's load-conn: ` conn NAME:`, `  child NAME:`, values indented under them. */
function loggedConns(log: string): Map<string, Logged> {
  const out = new Map<string, Logged>();
  let cur: Logged | null = null;
  let inChild = false;
  for (const line of log.split('\n')) {
    const m = /\[CFG\] (.*)$/.exec(line);
    if (!m) continue;
    const t = m[1];
    let k: RegExpExecArray | null;
    if ((k = /^ conn (\S+):$/.exec(t))) {
      cur = { conn: {}, child: {} };
      out.set(k[1], cur);
      inChild = false;
    } else if (cur && /^  child (\S+):$/.test(t)) inChild = true;
    else if (cur && (k = /^   (\S+) = (.*)$/.exec(t))) cur.child[k[1]] = k[2];
    else if (cur && (k = /^  (\S+) = (.*)$/.exec(t))) {
      inChild = false;
      cur.conn[k[1]] = k[2];
    } else if (/^added vici connection/.test(t)) cur = null;
  }
  return out;
}

function swanctlConf(): string {
  const conns = CASES.map((c, i) => `  p${i} {
    version = 2
    local_addrs = 192.0.2.1
    remote_addrs = 192.0.2.2
    ${c.ike ? `proposals = ${c.ike}` : ''}
    ${c.conn ?? ''}
    local {
      auth = psk
      id = a.example
    }
    remote {
      auth = psk
      id = b.example
    }
    children {
      c${i} {
        local_ts = 10.1.0.0/24
        remote_ts = 10.2.0.0/24
        ${c.esp ? `esp_proposals = ${c.esp}` : ''}
        ${c.child ?? ''}
      }
    }
  }`);
  return `connections {\n${conns.join('\n')}\n}\n`;
}

const title = 'swanctl.conf parser against charon (same file loaded into strongSwan)';
describe.skipIf(skipWithoutStrongswan(title))(title, () => {
  let lab: StrongswanLab;
  let charon: Charon;
  let logged: Map<string, Logged>;
  const text = swanctlConf();
  const ours = parseSwanctl(text, 'differential.conf');

  beforeAll(async () => {
    assertStrongswan();
    lab = new StrongswanLab();
    const [ns] = lab.namespaces(1);
    charon = await lab.startCharon(ns, { log: { cfg: 2 } });
    await charon.loadAll(text);
    logged = loggedConns(charon.log());
  }, 60_000);

  afterAll(async () => {
    await lab?.destroy();
  });

  it('charon loaded every connection', () => {
    expect([...logged.keys()].sort()).toEqual(CASES.map((_, i) => `p${i}`).sort());
  });

  CASES.forEach((c, i) => {
    it(`p${i}: ${c.ike ?? '(default IKE)'} / ${c.esp ?? '(default ESP)'}${c.conn || c.child ? ' + settings' : ''}`, () => {
      const conn = ours.connections[i];
      const log = logged.get(`p${i}`)!;
      expect(conn.proposals.map((p) => charonName(p, 'IKE'))).toEqual(larvalPart(log.conn.proposals));
      expect(conn.children[0].espProposals.map((p) => charonName(p, 'ESP'))).toEqual(larvalPart(log.child.proposals));
      expect(conn.localPort).toBe(Number(log.conn.local_port));
      expect(conn.remotePort).toBe(Number(log.conn.remote_port));
      expect(conn.encap).toBe(log.conn.encap === '1');
      expect(conn.dpdDelayMs).toBe(Number(log.conn.dpd_delay) * 1000);
      expect(conn.rekeyTimeMs).toBe(Number(log.conn.rekey_time) * 1000);
      const child = conn.children[0];
      expect(child.rekeyTimeMs).toBe(Number(log.child.rekey_time) * 1000);
      expect(child.lifeTimeMs).toBe(Number(log.child.life_time) * 1000);
      expect(child.mode.toUpperCase()).toBe(log.child.mode);
      expect(child.startAction).toBe(log.child.start_action);
    });
  });
});
