// SA payload proposals (RFC 7296 §2.7, §3.3): what we offer from the configuration,
// what a responder picks from an offer, and the check that a responder's answer is
// one of the things we offered.

import type { DhGroup, EspProposal, IkeEncr, IkeInteg, IkePrf, IkeProposal } from './config-types.js';
import { Protocol, TransformType as T } from './constants.js';
import { DH_ID, ENCR_ID, INTEG_HASH, PRF_HASH, type IkeSuite } from './crypto.js';
import type { ProposalRepr, TransformRepr } from './message.js';

export interface EspSuite {
  encr: IkeEncr;
  integ?: IkeInteg;
  /** PFS group of a CREATE_CHILD_SA; absent in IKE_AUTH and without PFS. */
  dh?: DhGroup;
  esn: boolean;
}

/** ESP integrity algorithms the engine implements (src/esp/algorithms.ts). */
export const ESP_INTEG: Partial<Record<IkeInteg, 'hmac-sha256-128' | 'hmac-sha1-96'>> = {
  'hmac-sha2-256-128': 'hmac-sha256-128',
  'hmac-sha1-96': 'hmac-sha1-96',
};

const encrT = (e: IkeEncr): TransformRepr => ({ type: T.ENCR, id: ENCR_ID[e.alg], keyLength: e.keyBits });
const integT = (i: IkeInteg): TransformRepr => ({ type: T.INTEG, id: INTEG_HASH[i].id });
const prfT = (p: IkePrf): TransformRepr => ({ type: T.PRF, id: PRF_HASH[p].id });
const dhT = (d: DhGroup): TransformRepr => ({ type: T.DH, id: DH_ID[d] });

const isAead = (e: IkeEncr) => e.alg === 'aes-gcm-16';

/** Our IKE offer; `dhFirst` moves the group we send a KE for to the front. */
export function ikeOffer(proposals: readonly IkeProposal[], spi: Buffer = Buffer.alloc(0), dhFirst?: DhGroup): ProposalRepr[] {
  const out: ProposalRepr[] = [];
  for (const p of proposals) {
    // An AEAD cipher and an integrity algorithm never share a proposal (§3.3): split.
    const aead = p.encr.filter(isAead), plain = p.encr.filter((e) => !isAead(e));
    const dh = dhFirst && p.dh.includes(dhFirst) ? [dhFirst, ...p.dh.filter((d) => d !== dhFirst)] : p.dh;
    for (const [encr, integ] of [[aead, []], [plain, p.integ]] as const) {
      if (!encr.length || (encr === plain && !integ.length)) continue;
      out.push({ num: out.length + 1, protocol: Protocol.IKE, spi, transforms: [...encr.map(encrT), ...p.prf.map(prfT), ...integ.map(integT), ...dh.map(dhT)] });
    }
  }
  return out;
}

/** Our ESP offer with our inbound SPI; `pfs` adds the DH groups (CREATE_CHILD_SA). */
export function espOffer(proposals: readonly EspProposal[], spi: number, pfs: DhGroup | null): ProposalRepr[] {
  const spiBuf = Buffer.alloc(4);
  spiBuf.writeUInt32BE(spi >>> 0);
  const out: ProposalRepr[] = [];
  for (const p of proposals) {
    const aead = p.encr.filter(isAead), plain = p.encr.filter((e) => !isAead(e));
    const integs = p.integ.filter((i) => ESP_INTEG[i]);
    const dh = pfs && p.dh.length ? (p.dh.includes(pfs) ? [pfs, ...p.dh.filter((d) => d !== pfs)] : p.dh) : [];
    for (const [encr, integ] of [[aead, []], [plain, integs]] as const) {
      if (!encr.length || (encr === plain && !integ.length)) continue;
      out.push({
        num: out.length + 1, protocol: Protocol.ESP, spi: spiBuf,
        transforms: [...encr.map(encrT), ...integ.map(integT), ...dh.map(dhT), { type: T.ESN, id: p.esn ? 1 : 0 }],
      });
    }
  }
  return out;
}

function byId<K extends string>(table: Readonly<Record<K, { id: number }>>, id: number): K | undefined {
  return (Object.keys(table) as K[]).find((k) => table[k].id === id);
}
const encrOf = (t: TransformRepr): IkeEncr | undefined => {
  const alg = t.id === ENCR_ID['aes-gcm-16'] ? 'aes-gcm-16' : t.id === ENCR_ID['aes-cbc'] ? 'aes-cbc' : undefined;
  if (!alg || (t.keyLength !== 128 && t.keyLength !== 192 && t.keyLength !== 256)) return undefined;
  return { alg, keyBits: t.keyLength };
};
const dhOf = (id: number): DhGroup | undefined => (Object.keys(DH_ID) as DhGroup[]).find((d) => DH_ID[d] === id);
const sameEncr = (a: IkeEncr, b: IkeEncr) => a.alg === b.alg && a.keyBits === b.keyBits;

interface Choice<S> { suite: S; proposal: ProposalRepr }

/**
 * Responder: the first of the peer's proposals (its preference order) whose every
 * transform type has an algorithm our configuration allows. Returns the suite and
 * the one-transform-per-type proposal to answer with (our SPI filled in by the caller).
 */
export function chooseIke(offered: readonly ProposalRepr[], ours: readonly IkeProposal[]): Choice<IkeSuite> | null {
  for (const p of offered) {
    if (p.protocol !== Protocol.IKE) continue;
    for (const c of ours) {
      const encr = p.transforms.filter((t) => t.type === T.ENCR).map(encrOf).find((e) => e && c.encr.some((x) => sameEncr(x, e)));
      const prf = p.transforms.filter((t) => t.type === T.PRF).map((t) => byId(PRF_HASH, t.id)).find((x) => x && c.prf.includes(x));
      const dh = p.transforms.filter((t) => t.type === T.DH).map((t) => dhOf(t.id)).find((x) => x && c.dh.includes(x));
      if (!encr || !prf || !dh) continue;
      let integ: IkeInteg | undefined;
      const offeredInteg = p.transforms.filter((t) => t.type === T.INTEG && t.id !== 0);
      if (!isAead(encr)) {
        integ = offeredInteg.map((t) => byId(INTEG_HASH, t.id)).find((x) => x && c.integ.includes(x));
        if (!integ) continue;
      } else if (offeredInteg.length) continue;
      const suite: IkeSuite = { encr, prf, dh, ...(integ ? { integ } : {}) };
      return { suite, proposal: { num: p.num, protocol: Protocol.IKE, spi: Buffer.alloc(0), transforms: [encrT(encr), prfT(prf), ...(integ ? [integT(integ)] : []), dhT(dh)] } };
    }
  }
  return null;
}

/** Responder: ESP; `pfs` says whether the request carried a KE (then a group must match it). */
export function chooseEsp(offered: readonly ProposalRepr[], ours: readonly EspProposal[], keGroup: DhGroup | null): Choice<EspSuite> | null {
  for (const p of offered) {
    if (p.protocol !== Protocol.ESP || p.spi.length !== 4) continue;
    for (const c of ours) {
      const encr = p.transforms.filter((t) => t.type === T.ENCR).map(encrOf).find((e) => e && c.encr.some((x) => sameEncr(x, e)));
      if (!encr) continue;
      let integ: IkeInteg | undefined;
      const offeredInteg = p.transforms.filter((t) => t.type === T.INTEG && t.id !== 0);
      if (!isAead(encr)) {
        integ = offeredInteg.map((t) => byId(INTEG_HASH, t.id)).find((x) => x && c.integ.includes(x) && ESP_INTEG[x]);
        if (!integ) continue;
      } else if (offeredInteg.length) continue;
      const esns = p.transforms.filter((t) => t.type === T.ESN).map((t) => t.id === 1);
      const esn = esns.length === 0 ? false : esns.includes(c.esn) ? c.esn : undefined;
      if (esn === undefined) continue;
      let dh: DhGroup | undefined;
      const offeredDh = p.transforms.filter((t) => t.type === T.DH && t.id !== 0).map((t) => dhOf(t.id));
      if (keGroup) {
        // With PFS the group must be one we allow; a configuration without groups accepts none.
        if (!offeredDh.includes(keGroup) || (c.dh.length && !c.dh.includes(keGroup))) continue;
        dh = keGroup;
      }
      const suite: EspSuite = { encr, esn, ...(integ ? { integ } : {}), ...(dh ? { dh } : {}) };
      return { suite, proposal: { num: p.num, protocol: Protocol.ESP, spi: Buffer.alloc(4), transforms: [encrT(encr), ...(integ ? [integT(integ)] : []), ...(dh ? [dhT(dh)] : []), { type: T.ESN, id: esn ? 1 : 0 }] } };
    }
  }
  return null;
}

/** Initiator: the responder's answer must be one proposal, one transform per type, all from our offer. */
export function acceptedIke(answer: readonly ProposalRepr[], offered: readonly ProposalRepr[]): IkeSuite | null {
  if (answer.length !== 1) return null;
  const p = answer[0];
  const mine = offered.find((o) => o.num === p.num);
  if (!mine || p.protocol !== Protocol.IKE || !subset(p, mine)) return null;
  const one = (type: number) => {
    const ts = p.transforms.filter((t) => t.type === type);
    return ts.length === 1 ? ts[0] : ts.length === 0 ? null : undefined;
  };
  const e = one(T.ENCR), f = one(T.PRF), i = one(T.INTEG), d = one(T.DH);
  if (!e || !f || !d || i === undefined) return null;
  const encr = encrOf(e), prf = byId(PRF_HASH, f.id), dh = dhOf(d.id), integ = i && i.id !== 0 ? byId(INTEG_HASH, i.id) : undefined;
  if (!encr || !prf || !dh || (!isAead(encr) && !integ)) return null;
  return { encr, prf, dh, ...(integ ? { integ } : {}) };
}

export function acceptedEsp(answer: readonly ProposalRepr[], offered: readonly ProposalRepr[]): { suite: EspSuite; spi: number } | null {
  if (answer.length !== 1) return null;
  const p = answer[0];
  const mine = offered.find((o) => o.num === p.num);
  if (!mine || p.protocol !== Protocol.ESP || p.spi.length !== 4 || !subset(p, mine)) return null;
  const e = p.transforms.filter((t) => t.type === T.ENCR), i = p.transforms.filter((t) => t.type === T.INTEG && t.id !== 0);
  const d = p.transforms.filter((t) => t.type === T.DH && t.id !== 0), n = p.transforms.filter((t) => t.type === T.ESN);
  if (e.length !== 1 || i.length > 1 || d.length > 1 || n.length > 1) return null;
  const encr = encrOf(e[0]);
  const integ = i.length ? byId(INTEG_HASH, i[0].id) : undefined;
  const dh = d.length ? dhOf(d[0].id) : undefined;
  if (!encr || (!isAead(encr) && !integ) || (d.length && !dh)) return null;
  return { suite: { encr, esn: n.length ? n[0].id === 1 : false, ...(integ ? { integ } : {}), ...(dh ? { dh } : {}) }, spi: p.spi.readUInt32BE(0) };
}

function subset(p: ProposalRepr, mine: ProposalRepr): boolean {
  return p.transforms.every((t) => mine.transforms.some((m) => m.type === t.type && m.id === t.id && m.keyLength === t.keyLength));
}

/** Octets of ESP key material for a suite: encryption (with GCM's salt) and integrity (RFC 4868: key = output length). */
export function espKeyLengths(s: EspSuite): { encr: number; integ: number } {
  return { encr: s.encr.keyBits / 8 + (isAead(s.encr) ? 4 : 0), integ: s.integ ? INTEG_HASH[s.integ].keyLength : 0 };
}

/** A short name like charon's, for logs and list output: AES_GCM_16_256 / PRF_HMAC_SHA2_256 / CURVE_25519. */
export function suiteName(s: { encr: IkeEncr; integ?: IkeInteg; prf?: IkePrf; dh?: DhGroup }): string {
  return [`${s.encr.alg}-${s.encr.keyBits}`, s.integ, s.prf && `prf-${s.prf}`, s.dh].filter(Boolean).join('/');
}
