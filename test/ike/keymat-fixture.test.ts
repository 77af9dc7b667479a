// The strongSwan key-schedule fixture (issue 13 acceptance 8): every value in
// test/ike/fixtures/strongswan-keymat.json is recomputed here from its inputs with
// node:crypto and RFC 7296's formulas (§2.13 prf+, §2.14 SKEYSEED and SK_*, §2.15
// AUTH with a PSK, §2.17 KEYMAT, §2.18 IKE SA rekey), so the fixture is known to be
// consistent before larval's own key schedule is tested against it. The capture is
// also read back with tshark.
//
// LARVAL_CAPTURE_KEYMAT=1 regenerates the fixture first (root and strongSwan needed):
//   LARVAL_CAPTURE_KEYMAT=1 npx vitest run test/ike/keymat-fixture.test.ts
import { spawnSync } from 'node:child_process';
import { createDecipheriv, createHmac } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { FIXTURE_DIR, IKE_PCAP, KEYMAT_CASES, KEYMAT_FIXTURE, nonceEvents, parseDumps, writeKeymatFixture } from '../support/capture-keymat.js';
import { assertStrongswan } from '../support/strongswan.js';

const capture = process.env.LARVAL_CAPTURE_KEYMAT === '1';

type Hex = string;
interface Fixture {
  comment: string;
  cases: {
    name: string;
    proposals: { ike: { encr: string; keyBits: number; integ: string | null; prf: string; dh: string }; esp: { encr: string; keyBits: number; integ: string | null; pfs: string | null } };
    ikeSaInit: { request: Hex; response: Hex; spiI: Hex; spiR: Hex; Ni: Hex; Nr: Hex; KEi: { group: number; data: Hex }; KEr: { group: number; data: Hex }; gIR: Hex; SKEYSEED: Hex; SK_d: Hex; SK_ai: Hex | null; SK_ar: Hex | null; SK_ei: Hex; SK_er: Hex; SK_pi: Hex; SK_pr: Hex };
    ikeAuth: { psk: Hex; idI: string; idR: string; initiator: Auth; responder: Auth };
    child: { spiInitiatorToResponder: string; spiResponderToInitiator: string; seed: Hex; encrI: Hex; encrR: Hex; integI: Hex | null; integR: Hex | null };
    childRekey: { spiInitiatorToResponder: string; spiResponderToInitiator: string; gIR: Hex | null; Ni: Hex; Nr: Hex; seed: Hex; encrI: Hex; encrR: Hex; integI: Hex | null; integR: Hex | null };
    ikeRekey: { spiI: Hex; spiR: Hex; Ni: Hex; Nr: Hex; gIR: Hex; SKEYSEED: Hex; SK_d: Hex; SK_ai: Hex | null; SK_ar: Hex | null; SK_ei: Hex; SK_er: Hex; SK_pi: Hex; SK_pr: Hex };
    pcap: string | null;
  }[];
}
interface Auth { idPrime: Hex; SK_p: Hex; octets: Hex; prfSecretKeypad: Hex; AUTH: Hex }

const B = (h: Hex) => Buffer.from(h, 'hex');
const HASH: Record<string, string> = { 'hmac-sha2-256': 'sha256', 'hmac-sha2-384': 'sha384', 'hmac-sha2-512': 'sha512', 'hmac-sha1': 'sha1' };
const INTEG_KEY: Record<string, number> = { 'hmac-sha2-256-128': 32, 'hmac-sha2-384-192': 48, 'hmac-sha2-512-256': 64, 'hmac-sha1-96': 20 };
const DH_GROUP: Record<string, number> = { curve25519: 31, ecp256: 19, modp2048: 14 };
const DH_LEN: Record<string, number> = { curve25519: 32, ecp256: 32, modp2048: 256 };
/** Public value lengths in KE payloads (ecp256: x | y). */
const KE_LEN: Record<string, number> = { curve25519: 32, ecp256: 64, modp2048: 256 };

const prf = (alg: string, key: Buffer, data: Buffer) => createHmac(HASH[alg], key).update(data).digest();

/** RFC 7296 §2.13: T1 = prf(K, S | 0x01), Tn = prf(K, Tn-1 | S | n). */
function prfPlus(alg: string, key: Buffer, seed: Buffer, length: number): Buffer {
  const out: Buffer[] = [];
  let t = Buffer.alloc(0);
  let total = 0;
  for (let n = 1; total < length; n++) {
    if (n > 255) throw new Error('prf+ beyond 255 blocks');
    t = prf(alg, key, Buffer.concat([t, seed, Buffer.of(n)]));
    out.push(t);
    total += t.length;
  }
  return Buffer.concat(out).subarray(0, length);
}

/** Encryption key length incl. the 4-octet GCM salt (RFC 5282 §7.1, RFC 4106 §8.1). */
const encrKeyLen = (encr: string, bits: number) => bits / 8 + (encr === 'aes-gcm-16' ? 4 : 0);

function splitIke(c: Fixture['cases'][number], stream: Buffer) {
  const p = c.proposals.ike;
  const prfLen = createHmac(HASH[p.prf], 'k').digest().length;
  const ik = p.integ ? INTEG_KEY[p.integ] : 0;
  const ek = encrKeyLen(p.encr, p.keyBits);
  const lens = [prfLen, ik, ik, ek, ek, prfLen, prfLen];
  const parts: Buffer[] = [];
  let at = 0;
  for (const l of lens) {
    parts.push(stream.subarray(at, at + l));
    at += l;
  }
  return { SK_d: parts[0], SK_ai: parts[1], SK_ar: parts[2], SK_ei: parts[3], SK_er: parts[4], SK_pi: parts[5], SK_pr: parts[6], total: at };
}

function ikeKeyLength(c: Fixture['cases'][number]): number {
  return splitIke(c, Buffer.alloc(1024)).total;
}

function expectIkeKeys(c: Fixture['cases'][number], derived: Buffer, k: { SK_d: Hex; SK_ai: Hex | null; SK_ar: Hex | null; SK_ei: Hex; SK_er: Hex; SK_pi: Hex; SK_pr: Hex }) {
  const s = splitIke(c, derived);
  expect(s.SK_d.toString('hex')).toBe(k.SK_d);
  expect(s.SK_ei.toString('hex')).toBe(k.SK_ei);
  expect(s.SK_er.toString('hex')).toBe(k.SK_er);
  expect(s.SK_pi.toString('hex')).toBe(k.SK_pi);
  expect(s.SK_pr.toString('hex')).toBe(k.SK_pr);
  if (c.proposals.ike.integ) {
    expect(s.SK_ai.toString('hex')).toBe(k.SK_ai);
    expect(s.SK_ar.toString('hex')).toBe(k.SK_ar);
  } else {
    expect(k.SK_ai).toBeNull();
    expect(k.SK_ar).toBeNull();
  }
}

function expectKeymat(c: Fixture['cases'][number], skD: Buffer, k: { seed: Hex; encrI: Hex; encrR: Hex; integI: Hex | null; integR: Hex | null }) {
  const e = c.proposals.esp;
  const ek = encrKeyLen(e.encr, e.keyBits);
  const ik = e.integ ? INTEG_KEY[e.integ] : 0;
  const km = prfPlus(c.proposals.ike.prf, skD, B(k.seed), 2 * (ek + ik));
  // §2.17: the initiator-to-responder keys first, encryption before integrity.
  expect(km.subarray(0, ek).toString('hex')).toBe(k.encrI);
  expect(km.subarray(ek + ik, ek + ik + ek).toString('hex')).toBe(k.encrR);
  if (e.integ) {
    expect(km.subarray(ek, ek + ik).toString('hex')).toBe(k.integI);
    expect(km.subarray(2 * ek + ik).toString('hex')).toBe(k.integR);
  } else {
    expect(k.integI).toBeNull();
  }
}

let fixture: Fixture;

beforeAll(async () => {
  if (capture) {
    assertStrongswan();
    await writeKeymatFixture();
  }
  fixture = JSON.parse(readFileSync(KEYMAT_FIXTURE, 'utf8')) as Fixture;
}, 180_000);

describe("reading charon's log dumps", () => {
  const LOG = [
    '02:24:56 08[IKE] SKEYSEED => 20 bytes @ 0x7fad080110e0',
    '02:24:56 08[IKE]    0: 9F 70 80 7E 68 B1 C8 F0 3F EC DB 76 9C EB A5 AD  AB CD EF 01 23 45 67',
    '02:24:56 08[IKE]   16: 46 CA 2D E8                                      F.-.',
    '02:24:56 09[ENC] generating payload of type NONCE',
    '02:24:56 09[ENC]   generating rule 10 CHUNK_DATA',
    '02:24:56 09[ENC]    => 4 bytes @ 0x7fbfec001530',
    '02:24:56 09[ENC]    0: 1E D9 2E 57                                      ...W',
    '02:24:56 09[ENC] generating NONCE payload finished',
    '02:24:56 04[ENC] parsing NONCE payload, 300 bytes left',
    '02:24:56 04[ENC]   parsing rule 10 CHUNK_DATA',
    '02:24:56 04[ENC]    => 2 bytes @ 0x7fc010002570',
    '02:24:56 04[ENC]    0: 37 23                                            7#',
    '02:24:56 04[ENC] parsing NONCE payload finished',
  ].join('\n');

  it('reads the announced number of octets from the hex column, never from the ASCII rendering', () => {
    const d = parseDumps(LOG);
    expect(d.map((x) => [x.label, x.group, x.bytes.toString('hex')])).toEqual([
      ['SKEYSEED', 'IKE', '9f70807e68b1c8f03fecdb769ceba5ad46ca2de8'],
      ['', 'ENC', '1ed92e57'],
      ['', 'ENC', '3723'],
    ]);
    expect(nonceEvents(LOG, d).map((e) => [e.dir, e.nonce.toString('hex')])).toEqual([['generated', '1ed92e57'], ['parsed', '3723']]);
  });

  it('refuses a dump shorter than announced', () => {
    expect(() => parseDumps(LOG.split('\n').filter((l) => !l.includes(' 16: ')).join('\n'))).toThrow(/announced 20 bytes, read 16/);
  });
});

describe('strongSwan key-schedule fixture (RFC 7296 §2.13–2.18, recomputed with node:crypto)', () => {
  it('has the agreed cases and says how it was produced', () => {
    expect(fixture.cases.map((c) => c.name)).toEqual(KEYMAT_CASES.map((c) => c.name));
    expect(fixture.comment).toMatch(/capture-keymat\.ts/);
  });

  for (const spec of KEYMAT_CASES) {
    describe(spec.name, () => {
      const c = () => fixture.cases.find((x) => x.name === spec.name)!;

      it('IKE_SA_INIT: SPIs, nonces and KE payloads match the messages; DH secret has the group length', () => {
        const i = c().ikeSaInit;
        expect(B(i.request).subarray(0, 8).toString('hex')).toBe(i.spiI);
        expect(B(i.response).subarray(8, 16).toString('hex')).toBe(i.spiR);
        expect(B(i.request).subarray(8, 16).toString('hex')).toBe('0000000000000000');
        expect(i.KEi.group).toBe(DH_GROUP[spec.ike.dh]);
        expect(i.KEr.group).toBe(DH_GROUP[spec.ike.dh]);
        expect(B(i.KEi.data)).toHaveLength(KE_LEN[spec.ike.dh]);
        expect(B(i.gIR)).toHaveLength(DH_LEN[spec.ike.dh]);
        expect(B(i.Ni).length).toBeGreaterThanOrEqual(16);
      });

      it('SKEYSEED = prf(Ni | Nr, g^ir) and SK_* = prf+(SKEYSEED, Ni | Nr | SPIi | SPIr) (§2.14)', () => {
        const i = c().ikeSaInit;
        const skeyseed = prf(spec.ike.prf, Buffer.concat([B(i.Ni), B(i.Nr)]), B(i.gIR));
        expect(skeyseed.toString('hex')).toBe(i.SKEYSEED);
        const stream = prfPlus(spec.ike.prf, skeyseed, Buffer.concat([B(i.Ni), B(i.Nr), B(i.spiI), B(i.spiR)]), ikeKeyLength(c()));
        expectIkeKeys(c(), stream, i);
      });

      it("AUTH with the PSK for both sides: octets = message | peer nonce | prf(SK_p, IDx') (§2.15)", () => {
        const { ikeSaInit: i, ikeAuth: a } = c();
        const keypad = prf(spec.ike.prf, B(a.psk), Buffer.from('Key Pad for IKEv2'));
        for (const [side, msg, nonce, skp, id] of [[a.initiator, i.request, i.Nr, i.SK_pi, a.idI], [a.responder, i.response, i.Ni, i.SK_pr, a.idR]] as const) {
          // IDx' = ID type (2 = FQDN) | 3 reserved octets | the identity.
          expect(side.idPrime).toBe(Buffer.concat([Buffer.from([2, 0, 0, 0]), Buffer.from(id)]).toString('hex'));
          expect(side.SK_p).toBe(skp);
          const octets = Buffer.concat([B(msg), B(nonce), prf(spec.ike.prf, B(skp), B(side.idPrime))]);
          expect(octets.toString('hex')).toBe(side.octets);
          expect(keypad.toString('hex')).toBe(side.prfSecretKeypad);
          expect(prf(spec.ike.prf, keypad, octets).toString('hex')).toBe(side.AUTH);
        }
      });

      it('first CHILD_SA: KEYMAT = prf+(SK_d, Ni | Nr) (§2.17)', () => {
        const { ikeSaInit: i, child } = c();
        expect(child.seed).toBe(i.Ni + i.Nr);
        expectKeymat(c(), B(i.SK_d), child);
        expect(child.spiInitiatorToResponder).not.toBe(child.spiResponderToInitiator);
      });

      it(`CHILD_SA rekey: KEYMAT = prf+(SK_d, ${spec.esp.pfs ? 'g^ir | ' : ''}Ni | Nr) with fresh nonces (§2.17, §1.3.3)`, () => {
        const { ikeSaInit: i, childRekey: r } = c();
        expect(r.seed).toBe((r.gIR ?? '') + r.Ni + r.Nr);
        if (spec.esp.pfs) expect(B(r.gIR!)).toHaveLength(DH_LEN[spec.esp.pfs]);
        else expect(r.gIR).toBeNull();
        expect(r.Ni).not.toBe(i.Ni);
        expectKeymat(c(), B(i.SK_d), r);
        expect(r.spiInitiatorToResponder).not.toBe(c().child.spiInitiatorToResponder);
      });

      it('IKE SA rekey: SKEYSEED = prf(SK_d (old), g^ir (new) | Ni | Nr), keys with the new SPIs (§2.18)', () => {
        const { ikeSaInit: i, ikeRekey: r } = c();
        const skeyseed = prf(spec.ike.prf, B(i.SK_d), Buffer.concat([B(r.gIR), B(r.Ni), B(r.Nr)]));
        expect(skeyseed.toString('hex')).toBe(r.SKEYSEED);
        expect(r.spiI).not.toBe(i.spiI);
        const stream = prfPlus(spec.ike.prf, skeyseed, Buffer.concat([B(r.Ni), B(r.Nr), B(r.spiI), B(r.spiR)]), ikeKeyLength(c()));
        expectIkeKeys(c(), stream, r);
      });
    });
  }

  it("the recorded IKE_AUTH messages decrypt with the first case's SK_ei / SK_er (AES-GCM, RFC 5282) and carry IDi/IDr and AUTH", () => {
    const first = fixture.cases.find((x) => x.pcap)!;
    const ikes = pcapIkeMessages(readFileSync(join(FIXTURE_DIR, first.pcap!)));
    expect(ikes.map((m) => m.marker)).toEqual([false, false, true, true]);
    expect(ikes[0].ike.toString('hex')).toBe(first.ikeSaInit.request);
    expect(ikes[1].ike.toString('hex')).toBe(first.ikeSaInit.response);
    for (const [msg, key, auth] of [[ikes[2].ike, first.ikeSaInit.SK_ei, first.ikeAuth.initiator.AUTH], [ikes[3].ike, first.ikeSaInit.SK_er, first.ikeAuth.responder.AUTH]] as const) {
      expect(msg[16]).toBe(46); // first payload: SK (Encrypted and Authenticated)
      const skLen = msg.readUInt16BE(28 + 2);
      const k = B(key);
      const iv = msg.subarray(32, 40);
      const icv = msg.subarray(28 + skLen - 16, 28 + skLen);
      const d = createDecipheriv('aes-256-gcm', k.subarray(0, 32), Buffer.concat([k.subarray(32), iv]));
      d.setAAD(msg.subarray(0, 32)); // IKE header and the SK payload header (RFC 5282 §5.1)
      d.setAuthTag(icv);
      const plain = Buffer.concat([d.update(msg.subarray(40, 28 + skLen - 16)), d.final()]);
      // The AUTH value the log recorded is inside (PSK method 2).
      expect(plain.toString('hex')).toContain('02000000' + auth);
    }
  });

  const tshark = spawnSync('sh', ['-c', 'command -v tshark']).status === 0;
  it.skipIf(!tshark)('the recorded exchange: IKE_SA_INIT on 500, IKE_AUTH on 4500 (non-ESP marker), SPIs of the first case', () => {
    const first = fixture.cases.find((x) => x.pcap)!;
    const path = join(FIXTURE_DIR, first.pcap!);
    expect(existsSync(path)).toBe(true);
    expect(first.pcap).toBe(IKE_PCAP);
    const r = spawnSync('tshark', ['-r', path, '-T', 'fields', '-E', 'separator=,', '-e', 'udp.dstport', '-e', 'isakmp.ispi', '-e', 'isakmp.exchangetype'], { encoding: 'utf8' });
    const rows = r.stdout.trim().split('\n').map((l) => l.split(','));
    expect(rows).toHaveLength(4);
    expect(rows.map((x) => x[2])).toEqual(['34', '34', '35', '35']);
    expect(rows.map((x) => x[0])).toEqual(['500', '500', '4500', '4500']);
    for (const row of rows) expect(row[1]).toBe(first.ikeSaInit.spiI);
  });
});

/** IKE messages of a little-endian pcap of Ethernet/IPv4/UDP frames; on 4500 the non-ESP marker is removed. */
function pcapIkeMessages(file: Buffer): { marker: boolean; ike: Buffer }[] {
  expect(file.readUInt32LE(0)).toBe(0xa1b2c3d4);
  expect(file.readUInt32LE(20)).toBe(1); // LINKTYPE_ETHERNET
  const out: { marker: boolean; ike: Buffer }[] = [];
  for (let at = 24; at + 16 <= file.length; ) {
    const caplen = file.readUInt32LE(at + 8);
    const frame = file.subarray(at + 16, at + 16 + caplen);
    at += 16 + caplen;
    const ihl = (frame[14] & 0x0f) * 4;
    const udp = frame.subarray(14 + ihl);
    let payload = udp.subarray(8, udp.readUInt16BE(4));
    const marker = udp.readUInt16BE(2) === 4500 || udp.readUInt16BE(0) === 4500;
    if (marker) {
      expect(payload.readUInt32BE(0)).toBe(0);
      payload = payload.subarray(4);
    }
    out.push({ marker, ike: Buffer.from(payload) });
  }
  return out;
}
