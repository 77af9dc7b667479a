// IKEv2 cryptography from node:crypto only (RFC 7296 §2.13–2.17, §2.15, §3.14;
// RFC 5282 for AES-GCM in the SK payload; RFC 5903 / 7748 / 3526 for the groups).
// Nothing here prints a key: key material lives in KeyBytes, whose inspect(),
// toString() and toJSON() say only how long it is (R31).

import {
  createCipheriv, createDecipheriv, createDiffieHellman, createECDH, createHmac, createPrivateKey, createPublicKey,
  diffieHellman, generateKeyPairSync, getDiffieHellman, randomBytes, timingSafeEqual, type CipherGCMTypes, type KeyObject,
} from 'node:crypto';
import { inspect } from 'node:util';
import { Redacted } from './secret.js';
import type { DhGroup, IkeEncr, IkeInteg, IkePrf } from './config-types.js';
import { DhId, Encr, Integ, Prf } from './constants.js';

/** Key material that never shows its bytes (R31). */
export class KeyBytes extends Redacted {
  readonly #bytes: Buffer;
  protected readonly label = 'key';
  constructor(bytes: Buffer) {
    super();
    this.#bytes = bytes;
  }
  get length(): number {
    return this.#bytes.length;
  }
  /** The bytes, for node:crypto calls only. */
  expose(): Buffer {
    return this.#bytes;
  }
}

// --- PRF and prf+ (§2.13) -------------------------------------------------------

export const PRF_HASH: Readonly<Record<IkePrf, { hash: string; length: number; id: number }>> = {
  'hmac-sha1': { hash: 'sha1', length: 20, id: Prf.HMAC_SHA1 },
  'hmac-sha2-256': { hash: 'sha256', length: 32, id: Prf.HMAC_SHA2_256 },
  'hmac-sha2-384': { hash: 'sha384', length: 48, id: Prf.HMAC_SHA2_384 },
  'hmac-sha2-512': { hash: 'sha512', length: 64, id: Prf.HMAC_SHA2_512 },
};

export const INTEG_HASH: Readonly<Record<IkeInteg, { hash: string; keyLength: number; icvLength: number; id: number }>> = {
  'hmac-sha1-96': { hash: 'sha1', keyLength: 20, icvLength: 12, id: Integ.HMAC_SHA1_96 },
  'hmac-sha2-256-128': { hash: 'sha256', keyLength: 32, icvLength: 16, id: Integ.HMAC_SHA2_256_128 },
  'hmac-sha2-384-192': { hash: 'sha384', keyLength: 48, icvLength: 24, id: Integ.HMAC_SHA2_384_192 },
  'hmac-sha2-512-256': { hash: 'sha512', keyLength: 64, icvLength: 32, id: Integ.HMAC_SHA2_512_256 },
};

export const ENCR_ID: Readonly<Record<IkeEncr['alg'], number>> = { 'aes-gcm-16': Encr.AES_GCM_16, 'aes-cbc': Encr.AES_CBC };
export const DH_ID: Readonly<Record<DhGroup, number>> = { curve25519: DhId.CURVE25519, ecp256: DhId.ECP256, modp2048: DhId.MODP2048 };

type Bytes = Buffer | KeyBytes;
const raw = (b: Bytes): Buffer => (b instanceof KeyBytes ? b.expose() : b);

export function prf(alg: IkePrf, key: Bytes, data: Buffer): Buffer {
  return createHmac(PRF_HASH[alg].hash, raw(key)).update(data).digest();
}

/** prf+ (§2.13): T1 = prf(K, S | 0x01), Tn = prf(K, Tn-1 | S | n); at most 255 blocks. */
export function prfPlus(alg: IkePrf, key: Bytes, seed: Buffer, length: number): Buffer {
  const out: Buffer[] = [];
  let t: Buffer = Buffer.alloc(0);
  let have = 0;
  for (let n = 1; have < length; n++) {
    if (n > 255) throw new RangeError('prf+: more than 255 blocks asked');
    t = prf(alg, key, Buffer.concat([t, seed, Buffer.from([n])]));
    out.push(t);
    have += t.length;
  }
  return Buffer.concat(out).subarray(0, length);
}

// --- Diffie-Hellman --------------------------------------------------------------

export const DH_LENGTH: Readonly<Record<DhGroup, number>> = { curve25519: 32, ecp256: 64, modp2048: 256 };

const X25519_PKCS8 = Buffer.from('302e020100300506032b656e04220420', 'hex');
const X25519_SPKI = Buffer.from('302a300506032b656e032100', 'hex');

/** One side's DH exchange: a fresh private key, our public value, the shared secret. */
export class DhExchange {
  readonly group: DhGroup;
  readonly publicValue: Buffer;
  readonly #compute: (peer: Buffer) => Buffer;

  /** A fresh key pair; `privateKey` only for known-answer tests. */
  constructor(group: DhGroup, privateKey?: Buffer) {
    this.group = group;
    if (group === 'curve25519') {
      let priv: KeyObject;
      if (privateKey) priv = createPrivateKey({ key: Buffer.concat([X25519_PKCS8, privateKey]), format: 'der', type: 'pkcs8' });
      else priv = generateKeyPairSync('x25519').privateKey;
      const spki = createPublicKey(priv).export({ format: 'der', type: 'spki' });
      this.publicValue = Buffer.from(spki.subarray(spki.length - 32));
      this.#compute = (peer) => {
        const pub = createPublicKey({ key: Buffer.concat([X25519_SPKI, peer]), format: 'der', type: 'spki' });
        const s = diffieHellman({ privateKey: priv, publicKey: pub });
        // RFC 7748 §6.1: an all-zero result means a low-order point.
        if (s.every((b) => b === 0)) throw new RangeError('x25519: low-order peer value');
        return s;
      };
    } else if (group === 'ecp256') {
      const ecdh = createECDH('prime256v1');
      if (privateKey) ecdh.setPrivateKey(privateKey);
      else ecdh.generateKeys();
      // RFC 5903 §7: the KE data is x | y, without the 0x04 point-format octet.
      this.publicValue = Buffer.from(ecdh.getPublicKey().subarray(1));
      this.#compute = (peer) => ecdh.computeSecret(Buffer.concat([Buffer.from([4]), peer]));
    } else {
      const base = getDiffieHellman('modp14');
      const dh = createDiffieHellman(base.getPrime(), base.getGenerator());
      if (privateKey) dh.setPrivateKey(privateKey);
      dh.generateKeys();
      this.publicValue = leftPad(dh.getPublicKey(), 256);
      this.#compute = (peer) => {
        const p = base.getPrime();
        // §3.4 / RFC 6989: reject 0, 1 and p-1 and values >= p.
        const y = BigInt('0x' + peer.toString('hex'));
        const pn = BigInt('0x' + p.toString('hex'));
        if (y <= 1n || y >= pn - 1n) throw new RangeError('modp2048: peer value out of range');
        return leftPad(dh.computeSecret(peer), 256);
      };
    }
  }

  /** g^ir from the peer's public value; throws RangeError on a malformed value. */
  sharedSecret(peer: Buffer): KeyBytes {
    if (peer.length !== DH_LENGTH[this.group]) throw new RangeError(`${this.group}: public value of ${peer.length} octets, expected ${DH_LENGTH[this.group]}`);
    try {
      return new KeyBytes(this.#compute(peer));
    } catch (err) {
      throw err instanceof RangeError ? err : new RangeError(`${this.group}: invalid peer public value`);
    }
  }

  [inspect.custom](): string {
    return `DhExchange(${this.group})`;
  }
}

/** §3.4: modp values are left-padded with zeros to the length of the prime. */
export function leftPad(b: Buffer, length: number): Buffer {
  if (b.length >= length) return b;
  return Buffer.concat([Buffer.alloc(length - b.length), b]);
}

// --- key schedule (§2.14, §2.17, §2.18) ---------------------------------------------

export interface IkeSuite {
  encr: IkeEncr;
  /** Absent for AEAD (GCM). */
  integ?: IkeInteg;
  prf: IkePrf;
  dh: DhGroup;
}

export interface IkeKeys {
  skD: KeyBytes;
  skAi: KeyBytes;
  skAr: KeyBytes;
  skEi: KeyBytes;
  skEr: KeyBytes;
  skPi: KeyBytes;
  skPr: KeyBytes;
}

/** Octets of SK_e: the AES key, plus the 4-octet salt for GCM (RFC 5282 §7.1). */
export function encrKeyLength(e: IkeEncr): number {
  return e.keyBits / 8 + (e.alg === 'aes-gcm-16' ? 4 : 0);
}

export function skeyseed(suite: IkeSuite, ni: Buffer, nr: Buffer, gir: KeyBytes): KeyBytes {
  return new KeyBytes(prf(suite.prf, Buffer.concat([ni, nr]), gir.expose()));
}

/** §2.18: SKEYSEED of a rekeyed IKE SA = prf(SK_d (old), g^ir (new) | Ni | Nr). */
export function rekeySkeyseed(oldPrf: IkePrf, oldSkD: KeyBytes, gir: KeyBytes, ni: Buffer, nr: Buffer): KeyBytes {
  return new KeyBytes(prf(oldPrf, oldSkD, Buffer.concat([gir.expose(), ni, nr])));
}

/** {SK_d | SK_ai | SK_ar | SK_ei | SK_er | SK_pi | SK_pr} = prf+(SKEYSEED, Ni | Nr | SPIi | SPIr). */
export function deriveIkeKeys(suite: IkeSuite, seed: KeyBytes, ni: Buffer, nr: Buffer, spiI: Buffer, spiR: Buffer): IkeKeys {
  const p = PRF_HASH[suite.prf].length;
  const a = suite.integ ? INTEG_HASH[suite.integ].keyLength : 0;
  const e = encrKeyLength(suite.encr);
  const km = prfPlus(suite.prf, seed, Buffer.concat([ni, nr, spiI, spiR]), 3 * p + 2 * a + 2 * e);
  let at = 0;
  const take = (n: number) => new KeyBytes(Buffer.from(km.subarray(at, (at += n))));
  return { skD: take(p), skAi: take(a), skAr: take(a), skEi: take(e), skEr: take(e), skPi: take(p), skPr: take(p) };
}

/** ESP key lengths of a CHILD SA's suite: encryption (with GCM salt) and integrity. */
export interface EspKeyLengths { encr: number; integ: number }

/**
 * §2.17: KEYMAT = prf+(SK_d, [g^ir (new)] | Ni | Nr). The initiator→responder SA's
 * keys come first (encryption, then integrity), then the responder→initiator SA's.
 */
export function childKeymat(alg: IkePrf, skD: KeyBytes, ni: Buffer, nr: Buffer, lengths: EspKeyLengths, gir?: KeyBytes): { encrI: KeyBytes; integI: KeyBytes; encrR: KeyBytes; integR: KeyBytes } {
  const seed = Buffer.concat([...(gir ? [gir.expose()] : []), ni, nr]);
  const km = prfPlus(alg, skD, seed, 2 * (lengths.encr + lengths.integ));
  let at = 0;
  const take = (n: number) => new KeyBytes(Buffer.from(km.subarray(at, (at += n))));
  return { encrI: take(lengths.encr), integI: take(lengths.integ), encrR: take(lengths.encr), integR: take(lengths.integ) };
}

// --- AUTH with a pre-shared key (§2.15) ---------------------------------------------

const KEY_PAD = Buffer.from('Key Pad for IKEv2', 'ascii');

/**
 * AUTH = prf(prf(PSK, "Key Pad for IKEv2"), <SignedOctets>), where SignedOctets =
 * the sender's first message | the peer's nonce | prf(SK_p, ID payload body).
 */
export function pskAuth(alg: IkePrf, psk: Buffer, firstMessage: Buffer, peerNonce: Buffer, skP: KeyBytes, idBody: Buffer): Buffer {
  const signed = Buffer.concat([firstMessage, peerNonce, prf(alg, skP, idBody)]);
  return prf(alg, prf(alg, psk, KEY_PAD), signed);
}

/** Constant-time comparison (R30: AUTH compared in constant time). */
export function equalConstantTime(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

// --- the Encrypted payload (§3.14, RFC 5282) ------------------------------------------

export interface SkKeys { encr: KeyBytes; integ: KeyBytes }

/** Octets the SK payload adds around its plaintext, to size buffers: IV and ICV. */
export function skOverhead(suite: IkeSuite): { iv: number; icv: number; block: number } {
  if (suite.encr.alg === 'aes-gcm-16') return { iv: 8, icv: 16, block: 1 };
  return { iv: 16, icv: INTEG_HASH[suite.integ!].icvLength, block: 16 };
}

/**
 * Build header | SK header | IV | ciphertext | ICV. `emitHeader(out, length)` writes the
 * IKE header (the caller knows SPIs and message ID); `first` is the first inner payload.
 */
export function sealSk(suite: IkeSuite, keys: SkKeys, writeHeader: (out: Buffer) => void, first: number, inner: Buffer): Buffer {
  const { iv: ivLen, icv: icvLen, block } = skOverhead(suite);
  const padLen = block === 1 ? 0 : (block - ((inner.length + 1) % block)) % block;
  const plain = Buffer.concat([inner, Buffer.alloc(padLen), Buffer.from([padLen])]);
  const skLen = 4 + ivLen + plain.length + icvLen;
  const out = Buffer.alloc(28 + skLen);
  writeHeader(out);
  out.writeUInt32BE(out.length, 24);
  out[28] = first;
  out[29] = 0;
  out.writeUInt16BE(skLen, 30);
  const iv = randomBytes(ivLen);
  iv.copy(out, 32);
  const key = keys.encr.expose();
  if (suite.encr.alg === 'aes-gcm-16') {
    const k = key.subarray(0, key.length - 4);
    const nonce = Buffer.concat([key.subarray(key.length - 4), iv]);
    const c = createCipheriv(`aes-${k.length * 8}-gcm` as CipherGCMTypes, k, nonce, { authTagLength: 16 });
    c.setAAD(out.subarray(0, 32));
    const ct = Buffer.concat([c.update(plain), c.final()]);
    ct.copy(out, 32 + ivLen);
    c.getAuthTag().copy(out, 32 + ivLen + ct.length);
  } else {
    const c = createCipheriv(`aes-${key.length * 8}-cbc`, key, iv);
    c.setAutoPadding(false);
    const ct = Buffer.concat([c.update(plain), c.final()]);
    ct.copy(out, 32 + ivLen);
    const mac = createHmac(INTEG_HASH[suite.integ!].hash, keys.integ.expose()).update(out.subarray(0, out.length - icvLen)).digest();
    mac.copy(out, out.length - icvLen, 0, icvLen);
  }
  return out;
}

/**
 * Verify and decrypt the SK payload at `skOffset` (its generic header) of a message
 * whose header already parsed. Returns the inner payload bytes, or a reason.
 */
export function openSk(suite: IkeSuite, keys: SkKeys, msg: Buffer, skOffset: number): { ok: true; inner: Buffer } | { ok: false; reason: string } {
  const { iv: ivLen, icv: icvLen, block } = skOverhead(suite);
  const body = skOffset + 4;
  const ctLen = msg.length - body - ivLen - icvLen;
  if (ctLen < 1 || (block > 1 && ctLen % block !== 0)) return { ok: false, reason: 'sk-bad-length' };
  const iv = msg.subarray(body, body + ivLen);
  const ct = msg.subarray(body + ivLen, body + ivLen + ctLen);
  const icv = msg.subarray(msg.length - icvLen);
  const key = keys.encr.expose();
  let plain: Buffer;
  try {
    if (suite.encr.alg === 'aes-gcm-16') {
      const k = key.subarray(0, key.length - 4);
      const d = createDecipheriv(`aes-${k.length * 8}-gcm` as CipherGCMTypes, k, Buffer.concat([key.subarray(key.length - 4), iv]), { authTagLength: 16 });
      d.setAAD(msg.subarray(0, body));
      d.setAuthTag(icv);
      plain = Buffer.concat([d.update(ct), d.final()]);
    } else {
      const mac = createHmac(INTEG_HASH[suite.integ!].hash, keys.integ.expose()).update(msg.subarray(0, msg.length - icvLen)).digest().subarray(0, icvLen);
      if (!timingSafeEqual(mac, icv)) return { ok: false, reason: 'sk-integrity' };
      const d = createDecipheriv(`aes-${key.length * 8}-cbc`, key, iv);
      d.setAutoPadding(false);
      plain = Buffer.concat([d.update(ct), d.final()]);
    }
  } catch {
    return { ok: false, reason: 'sk-integrity' };
  }
  const padLen = plain[plain.length - 1];
  if (padLen + 1 > plain.length) return { ok: false, reason: 'sk-bad-padding' };
  return { ok: true, inner: plain.subarray(0, plain.length - 1 - padLen) };
}

/** RFC 7296 §2.23: SHA-1(SPIi | SPIr | IP | port). */
export function natHash(spiI: Buffer, spiR: Buffer, addr: Buffer, port: number, hash: (data: Buffer) => Buffer): Buffer {
  const p = Buffer.alloc(2);
  p.writeUInt16BE(port);
  return hash(Buffer.concat([spiI, spiR, addr, p]));
}

export { randomBytes };
