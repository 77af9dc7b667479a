// ESP on the packet path (R22, R23): what `engine.output()` and `engine.input()`
// cost per packet against the limit set by the cipher alone, raw node:crypto
// AES-128-GCM on the same bytes, measured in the same process.
//
//   esp-encrypt  larval: engine.output() of a batch of 256 IPv4 UDP packets of one
//                flow (policy, SA and sequence number decided in WASM, then the
//                tunnel-mode ESP packet built and sealed per packet);
//                raw: per packet createCipheriv('aes-128-gcm', key, 12-byte nonce),
//                setAAD(8 octets), update(packet), final(), getAuthTag().
//   esp-decrypt  larval: engine.input() of a batch of 256 ESP packets (SPI lookup and
//                replay pre-check in WASM, ICV verified and payload decrypted per
//                packet, then inboundDecrypted(): window update and inner policy check);
//                raw: per packet createDecipheriv, setAAD, setAuthTag, update(ciphertext), final().
//
// AES-GCM-16 with a 128-bit key (RFC 4106), tunnel mode, IPv4 outer and inner,
// inner packets of 64, 512 and 1400 octets (whole IP packet). Gbit/s counts inner
// packet octets.
//
// The anti-replay window accepts a sequence number once, so esp-decrypt feeds a pool
// of POOL_BATCHES pre-encrypted batches with increasing sequence numbers; each time
// the timed runs wrap around the pool, the receiving SA is removed and installed
// again with the same keys (a fresh window). That happens once per POOL_BATCHES
// calls; its cost is measured and printed next to a batch's.
//
// Before timing, each direction checks once that larval really protects/accepts
// every packet (ESP out, the inner packet back byte for byte); during timing each
// call checks that its last packet came out, and after timing the engines must have
// counted no drop.

import { createCipheriv, createDecipheriv, createSecretKey, type KeyObject } from 'node:crypto';
import { buildPacket, createEngine, packetBuffer, type Engine, type PacketBuffer, type SaSpec } from '../src/index.js';
import { measure } from './measure.js';

export const ESP_BATCH = 256;
export const ESP_SIZES = [64, 512, 1400] as const;
const POOL_BATCHES = 64;
const OUTER = 20; // outer IPv4 header: ESP starts here
const IV = 8;
const ICV = 16;

const HOSTS = { a: '10.1.0.7', b: '10.2.0.5', netA: '10.1.0.0/16', netB: '10.2.0.0/16', gwA: '192.0.2.1', gwB: '198.51.100.1' } as const;

// AES-128 key followed by the 4-octet RFC 4106 salt.
const KEYMAT = Uint8Array.from({ length: 20 }, (_, i) => (i * 31 + 7 + 13) & 255);
const AES_KEY = KEYMAT.subarray(0, 16);
const SALT = KEYMAT.subarray(16, 20);

export function espSa(spi = 0x1001): SaSpec {
  return { spi, src: HOSTS.gwA, dst: HOSTS.gwB, mode: 'tunnel', esn: false, encryption: { algorithm: 'aes-gcm-16', key: KEYMAT } };
}

/** Sender `a` protects 10.1/16 -> 10.2/16 through a tunnel; receiver `b` expects it inbound. */
export async function espPair(): Promise<{ a: Engine; b: Engine; aSa: number; bSa: number }> {
  const template = { mode: 'tunnel' as const, src: HOSTS.gwA, dst: HOSTS.gwB };
  const a = await createEngine();
  const b = await createEngine();
  a.addPolicy({ dir: 'out', src: HOSTS.netA, dst: HOSTS.netB, action: 'protect', template });
  b.addPolicy({ dir: 'in', src: HOSTS.netA, dst: HOSTS.netB, action: 'protect', template });
  return { a, b, aSa: a.addSA(espSa(), 0), bSa: b.addSA(espSa(), 0) };
}

/** A UDP packet a -> b of `size` octets in all (IPv4 header included), payload numbered `n`. */
export function udpPacket(size: number, n: number): Uint8Array {
  const p = buildPacket({ src: HOSTS.a, dst: HOSTS.b, proto: 'udp', srcPort: 40000, dstPort: 5001 }, { payloadLength: Math.max(4, size - 28) });
  new DataView(p.buffer, p.byteOffset).setUint32(p.length - 4, n);
  return p;
}

/** One batch of inner packets of one flow, laid out as a capture buffer (16-octet record gaps). */
export function innerBatch(size: number): PacketBuffer {
  const packets = Array.from({ length: ESP_BATCH }, (_, i) => udpPacket(size, i));
  if (packets[0].length !== size) throw new Error(`esp: built a ${packets[0].length}-octet packet for size ${size}`);
  return packetBuffer(packets, 16);
}

function view(pb: PacketBuffer, i: number): Buffer {
  return Buffer.from(pb.data.buffer, pb.data.byteOffset + pb.offsets[i], pb.lengths[i]);
}

function median(xs: number[]): number {
  const s = [...xs].sort((x, y) => x - y);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function progress(msg: string): void {
  if (process.stderr.isTTY) process.stderr.write(`\r\x1b[K${msg}`);
}

export interface EspResult {
  direction: 'encrypt' | 'decrypt';
  size: number;
  larvalPps: number;
  rawPps: number;
  /** raw / larval: how many times slower larval is than the cipher alone (median of per-round ratios). */
  ratio: number;
  /** Per round: [larval pps, raw pps]. */
  rounds: Array<[number, number]>;
  /** decrypt: time to remove and re-add the receiving SA (µs) and one larval batch (µs). */
  rekeyUs?: number;
  batchUs?: number;
}

export const gbps = (pps: number, size: number): number => (pps * size * 8) / 1e9;

// --- raw node:crypto, the limit ---------------------------------------------

function rawSeal(key: KeyObject, nonce: Buffer, aad: Buffer, plain: Buffer): number {
  const c = createCipheriv('aes-128-gcm', key, nonce, { authTagLength: ICV });
  c.setAAD(aad);
  const ct = c.update(plain);
  c.final();
  return ct.length + c.getAuthTag().length;
}

function rawOpen(key: KeyObject, nonce: Buffer, esp: Buffer): number {
  const icvAt = esp.length - ICV;
  const d = createDecipheriv('aes-128-gcm', key, nonce, { authTagLength: ICV });
  d.setAAD(esp.subarray(0, 8));
  d.setAuthTag(esp.subarray(icvAt));
  const pt = d.update(esp.subarray(8 + IV, icvAt));
  d.final(); // throws if the tag does not verify
  return pt.length;
}

// --- the measurements ------------------------------------------------------

async function rounds(name: string, roundCount: number, maxTime: number, larval: () => void, raw: () => void): Promise<Array<[number, number]>> {
  const out: Array<[number, number]> = [];
  for (let r = 0; r < roundCount; r++) {
    const l = await measure(`${name} larval`, larval, maxTime, 10);
    const w = await measure(`${name} raw`, raw, maxTime, 10);
    out.push([l.hz * ESP_BATCH, w.hz * ESP_BATCH]);
    progress(`${name}: round ${r + 1}/${roundCount}`);
  }
  progress('');
  return out;
}

function result(direction: EspResult['direction'], size: number, rs: Array<[number, number]>): EspResult {
  return {
    direction, size,
    larvalPps: median(rs.map((x) => x[0])),
    rawPps: median(rs.map((x) => x[1])),
    ratio: median(rs.map(([l, w]) => w / l)),
    rounds: rs,
  };
}

function noDrops(e: Engine, label: string): void {
  const drops = e.stats().drops;
  if (Object.keys(drops).length) throw new Error(`${label}: the engine dropped packets: ${JSON.stringify(drops)}`);
}

async function encryptCase(size: number, maxTime: number, roundCount: number): Promise<EspResult> {
  const { a, b, aSa } = await espPair();
  const batch = innerBatch(size);
  const label = `esp-encrypt ${size}`;

  // Once, outside timing: every packet becomes an ESP packet of the SA, and the peer
  // gets the inner packet back byte for byte.
  const first = a.output(batch, 1);
  for (let i = 0; i < ESP_BATCH; i++) {
    const v = first.verdicts.get(i);
    const p = first.packets[i];
    if (v.verdict !== 'protect' || v.saId !== aSa || p === null) throw new Error(`${label}: packet ${i} not protected: ${JSON.stringify(v)}`);
    if (p[9] !== 50 || new DataView(p.buffer, p.byteOffset).getUint32(OUTER) !== 0x1001) throw new Error(`${label}: packet ${i} is not ESP of SPI 0x1001`);
    if (p.length !== OUTER + 8 + IV + size + ((4 - ((size + 2) % 4)) % 4) + 2 + ICV) throw new Error(`${label}: ESP packet ${i} has ${p.length} octets`);
  }
  const back = b.input(first.packets as Uint8Array[], 1);
  for (let i = 0; i < ESP_BATCH; i++) {
    const v = back.verdicts.get(i);
    if (v.verdict !== 'protect' || v.reason !== 'policy' || !Buffer.from(back.packets[i]!).equals(view(batch, i))) throw new Error(`${label}: the peer did not get packet ${i} back: ${JSON.stringify(v)}`);
  }

  let missing = 0;
  const larval = () => {
    const out = a.output(batch, 1);
    if (out.packets[ESP_BATCH - 1] === null) missing++;
  };

  const key = createSecretKey(AES_KEY);
  const nonce = Buffer.alloc(12);
  nonce.set(SALT, 0);
  const aad = Buffer.alloc(8);
  aad.writeUInt32BE(0x1001, 0);
  const plains = Array.from({ length: ESP_BATCH }, (_, i) => view(batch, i));
  let seq = 0;
  let sink = 0;
  const raw = () => {
    for (let i = 0; i < ESP_BATCH; i++) {
      seq++;
      nonce.writeUInt32BE(seq, 8); // the IV: the sequence number, as larval writes it
      aad.writeUInt32BE(seq, 4);
      sink += rawSeal(key, nonce, aad, plains[i]);
    }
  };

  const rs = await rounds(label, roundCount, maxTime, larval, raw);
  if (missing) throw new Error(`${label}: ${missing} timed calls did not produce their last packet`);
  noDrops(a, label);
  if (sink === 0) throw new Error('unreachable');
  return result('encrypt', size, rs);
}

async function decryptCase(size: number, maxTime: number, roundCount: number): Promise<EspResult> {
  const { a, b, bSa } = await espPair();
  const batch = innerBatch(size);
  const label = `esp-decrypt ${size}`;

  // The pool: POOL_BATCHES batches sealed by the sender, sequence numbers 1, 2, 3, …
  const pool: PacketBuffer[] = [];
  for (let k = 0; k < POOL_BATCHES; k++) {
    const out = a.output(batch, 1);
    if (out.packets.some((p) => p === null)) throw new Error(`${label}: the sender did not protect every packet`);
    pool.push(packetBuffer(out.packets as Uint8Array[], 16));
  }
  noDrops(a, label);

  let saId = bSa;
  const rekey = () => {
    b.removeSA(saId);
    saId = b.addSA(espSa(), 1);
  };

  // Once, outside timing: the whole pool is accepted (protect / policy) and gives the
  // inner packets back byte for byte.
  for (let k = 0; k < POOL_BATCHES; k++) {
    const back = b.input(pool[k], 1);
    for (let i = 0; i < ESP_BATCH; i++) {
      const v = back.verdicts.get(i);
      if (v.verdict !== 'protect' || v.reason !== 'policy' || v.saId !== saId || !Buffer.from(back.packets[i]!).equals(view(batch, i))) {
        throw new Error(`${label}: batch ${k} packet ${i} not accepted: ${JSON.stringify(v)}`);
      }
    }
  }
  // ... and a second pass is refused by the window, which is why the SA is re-made.
  if (b.input(pool[0], 1).verdicts.counts().protect !== 0) throw new Error(`${label}: replayed packets were accepted`);
  const replayed = JSON.stringify(b.stats().drops); // the refused second pass, and nothing else
  rekey();
  if (b.input(pool[0], 1).packets[ESP_BATCH - 1] === null) throw new Error(`${label}: not accepted after re-adding the SA`);
  rekey();

  let k = 0;
  let missing = 0;
  const larval = () => {
    const out = b.input(pool[k], 1);
    if (out.packets[ESP_BATCH - 1] === null) missing++;
    if (++k === POOL_BATCHES) {
      k = 0;
      rekey();
    }
  };

  const key = createSecretKey(AES_KEY);
  const nonces: Buffer[] = [];
  const esps: Buffer[] = [];
  for (const pb of pool) {
    for (let i = 0; i < ESP_BATCH; i++) {
      const esp = view(pb, i).subarray(OUTER);
      const nonce = Buffer.alloc(12);
      nonce.set(SALT, 0);
      esp.copy(nonce, 4, 8, 8 + IV);
      nonces.push(nonce);
      esps.push(esp);
    }
  }
  let j = 0;
  let sink = 0;
  const raw = () => {
    for (let i = 0; i < ESP_BATCH; i++) {
      sink += rawOpen(key, nonces[j], esps[j]);
      if (++j === esps.length) j = 0;
    }
  };

  // What re-adding the SA costs next to one batch (outside the rounds).
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < 200; i++) rekey();
  const rekeyUs = Number(process.hrtime.bigint() - t0) / 200 / 1e3;
  k = 0;

  const rs = await rounds(label, roundCount, maxTime, larval, raw);
  if (missing) throw new Error(`${label}: ${missing} timed calls did not get their last packet through`);
  const drops = JSON.stringify(b.stats().drops);
  if (drops !== replayed) throw new Error(`${label}: the engine dropped packets while timed: ${drops} (before: ${replayed})`);
  if (sink === 0) throw new Error('unreachable');
  const res = result('decrypt', size, rs);
  res.rekeyUs = rekeyUs;
  res.batchUs = (ESP_BATCH / res.larvalPps) * 1e6;
  return res;
}

// `maxTime` is split between larval and raw for each size: each benchmark.js
// measurement gets maxTime / 2 and at least 10 samples (it overshoots by ~1 s on
// these machines), so the defaults (3 rounds, max 3 s) keep a scenario's 18
// measurements (3 sizes x 2 x 3 rounds) under a minute.
export async function espBench(direction: 'encrypt' | 'decrypt', maxTime: number, roundCount: number): Promise<EspResult[]> {
  const out: EspResult[] = [];
  const perMeasure = maxTime / 2;
  for (const size of ESP_SIZES) {
    const r = direction === 'encrypt' ? await encryptCase(size, perMeasure, roundCount) : await decryptCase(size, perMeasure, roundCount);
    out.push(r);
    console.log(
      `esp-${direction} ${String(size).padStart(4)} B   larval ${(r.larvalPps / 1e3).toFixed(0).padStart(5)} kpps ${gbps(r.larvalPps, size).toFixed(2).padStart(5)} Gbit/s   ` +
      `raw node:crypto ${(r.rawPps / 1e3).toFixed(0).padStart(5)} kpps ${gbps(r.rawPps, size).toFixed(2).padStart(5)} Gbit/s   ` +
      `raw / larval ${r.ratio.toFixed(2)}x (rounds ${r.rounds.map(([l, w]) => (w / l).toFixed(2)).join(' ')})` +
      (r.rekeyUs !== undefined ? `   (SA re-add ${r.rekeyUs.toFixed(1)} µs every ${POOL_BATCHES} batches of ${r.batchUs!.toFixed(0)} µs)` : ''),
    );
    (globalThis as { gc?: () => void }).gc?.();
  }
  return out;
}
