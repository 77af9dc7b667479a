// Two engines facing each other across ESP: `a` protects 10.1/16 -> 10.2/16 outbound,
// `b` expects it inbound, for each mode, algorithm, address family and encapsulation.
import { buildPacket, createEngine, type Engine, type SaSpec } from '../../src/index.js';

export type Alg = 'gcm128' | 'gcm256' | 'cbc128-sha256' | 'cbc256-sha256' | 'cbc128-sha1';
export const ALGS: Alg[] = ['gcm128', 'gcm256', 'cbc128-sha256', 'cbc256-sha256', 'cbc128-sha1'];

export interface Case {
  mode: 'tunnel' | 'transport';
  family: 4 | 6;
  alg: Alg;
  encap: boolean;
  esn?: boolean;
}

export const HOSTS = {
  4: { a: '10.1.0.7', b: '10.2.0.5', netA: '10.1.0.0/16', netB: '10.2.0.0/16', gwA: '192.0.2.1', gwB: '198.51.100.1' },
  6: { a: '2001:db8:1::7', b: '2001:db8:2::5', netA: '2001:db8:1::/48', netB: '2001:db8:2::/48', gwA: '2001:db8:ffff::1', gwB: '2001:db8:eeee::1' },
} as const;

export function keysFor(alg: Alg, seed = 1): Pick<SaSpec, 'encryption' | 'integrity'> {
  const bytes = (n: number, k: number) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + k * 7 + seed * 13) & 255);
  switch (alg) {
    case 'gcm128': return { encryption: { algorithm: 'aes-gcm-16', key: bytes(20, 1) } };
    case 'gcm256': return { encryption: { algorithm: 'aes-gcm-16', key: bytes(36, 2) } };
    case 'cbc128-sha256': return { encryption: { algorithm: 'aes-cbc', key: bytes(16, 3) }, integrity: { algorithm: 'hmac-sha256-128', key: bytes(32, 4) } };
    case 'cbc256-sha256': return { encryption: { algorithm: 'aes-cbc', key: bytes(32, 5) }, integrity: { algorithm: 'hmac-sha256-128', key: bytes(32, 6) } };
    case 'cbc128-sha1': return { encryption: { algorithm: 'aes-cbc', key: bytes(16, 7) }, integrity: { algorithm: 'hmac-sha1-96', key: bytes(20, 8) } };
  }
}

/** The SA (a -> b) of a case: tunnel endpoints are the gateways, transport endpoints the hosts. */
export function saFor(c: Case, spi = 0x1001): SaSpec {
  const h = HOSTS[c.family];
  const [src, dst] = c.mode === 'tunnel' ? [h.gwA, h.gwB] : [h.a, h.b];
  return { spi, src, dst, mode: c.mode, esn: c.esn ?? false, ...keysFor(c.alg), ...(c.encap ? { encap: {} } : {}) };
}

export async function pair(c: Case): Promise<{ a: Engine; b: Engine; sa: SaSpec; aSa: number; bSa: number }> {
  const h = HOSTS[c.family];
  const template = c.mode === 'tunnel' ? { mode: 'tunnel' as const, src: h.gwA, dst: h.gwB } : { mode: 'transport' as const };
  const a = await createEngine();
  const b = await createEngine();
  a.addPolicy({ dir: 'out', src: h.netA, dst: h.netB, action: 'protect', template });
  b.addPolicy({ dir: 'in', src: h.netA, dst: h.netB, action: 'protect', template });
  const sa = saFor(c);
  return { a, b, sa, aSa: a.addSA(sa), bSa: b.addSA(sa) };
}

/** A UDP packet a -> b with `size` octets in all (IP header included), payload numbered `n`. */
export function udpPacket(family: 4 | 6, size: number, n = 0): Uint8Array {
  const h = HOSTS[family];
  const overhead = (family === 4 ? 20 : 40) + 8;
  const p = buildPacket({ src: h.a, dst: h.b, proto: 'udp', srcPort: 40000, dstPort: 5001 }, { payloadLength: Math.max(4, size - overhead) });
  new DataView(p.buffer, p.byteOffset).setUint32(p.length - 4, n);
  return p;
}

export function caseName(c: Case): string {
  return `${c.mode} ${c.alg} IPv${c.family}${c.encap ? ' UDP-encap' : ''}${c.esn ? ' ESN' : ''}`;
}

export function allCases(): Case[] {
  const out: Case[] = [];
  for (const mode of ['tunnel', 'transport'] as const) {
    for (const family of [4, 6] as const) {
      for (const alg of ALGS) out.push({ mode, family, alg, encap: false });
      out.push({ mode, family, alg: 'gcm128', encap: true });
      out.push({ mode, family, alg: 'cbc128-sha256', encap: true });
    }
  }
  return out;
}
