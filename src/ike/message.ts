// IKEv2 message codec (RFC 7296 §3): checked views with named offsets, parse → Repr
// → emit, in the style of the wire/ room. Every length is checked against the
// buffer and against the enclosing structure; a malformed message is a value
// { ok: false, reason } that the daemon counts (R30), never an exception.

import * as W from '../../assembly/wire-defs.js';
import { Payload, IKE_HEADER_LENGTH, GENERIC_HEADER_LENGTH, ATTR_KEY_LENGTH } from './constants.js';

// Header offsets (§3.1): the data plane's definitions (assembly/wire-defs.ts).
const H_SPI_I = W.IKE_INITIATOR_SPI, H_SPI_R = W.IKE_RESPONDER_SPI, H_NEXT = W.IKE_NEXT_PAYLOAD, H_VERSION = W.IKE_VERSION;
const H_EXCHANGE = W.IKE_EXCHANGE_TYPE, H_FLAGS = W.IKE_FLAGS, H_MSGID = W.IKE_MESSAGE_ID, H_LENGTH = W.IKE_LENGTH;
// Generic payload header (§3.2)
const G_NEXT = 0, G_FLAGS = 1, G_LENGTH = 2;
const CRITICAL = 0x80;

export interface HeaderRepr {
  spiI: Buffer;
  spiR: Buffer;
  nextPayload: number;
  version: number;
  exchange: number;
  flags: number;
  messageId: number;
  length: number;
}

export interface TransformRepr { type: number; id: number; keyLength?: number }
export interface ProposalRepr { num: number; protocol: number; spi: Buffer; transforms: TransformRepr[] }
export interface TrafficSelectorRepr { type: number; protocol: number; startPort: number; endPort: number; start: Buffer; end: Buffer }

export type PayloadRepr =
  | { type: typeof Payload.SA; proposals: ProposalRepr[] }
  | { type: typeof Payload.KE; group: number; data: Buffer }
  | { type: typeof Payload.NONCE; data: Buffer }
  | { type: typeof Payload.IDi; idType: number; data: Buffer; body: Buffer }
  | { type: typeof Payload.IDr; idType: number; data: Buffer; body: Buffer }
  | { type: typeof Payload.AUTH; method: number; data: Buffer }
  | { type: typeof Payload.NOTIFY; protocol: number; spi: Buffer; notify: number; data: Buffer }
  | { type: typeof Payload.DELETE; protocol: number; spiSize: number; spis: Buffer[] }
  | { type: typeof Payload.TSi; selectors: TrafficSelectorRepr[] }
  | { type: typeof Payload.TSr; selectors: TrafficSelectorRepr[] }
  | { type: typeof Payload.SK; innerFirst: number; offset: number; body: Buffer }
  | { type: 'other'; payloadType: number; critical: boolean; body: Buffer };

/** The payload type number of a Repr. */
export const payloadType = (p: PayloadRepr): number => (p.type === 'other' ? p.payloadType : p.type);

export type Parsed<T> = { ok: true; value: T } | { ok: false; reason: string };
const fail = (reason: string): { ok: false; reason: string } => ({ ok: false, reason });

export interface MessageRepr { header: HeaderRepr; payloads: PayloadRepr[] }

/** The fixed header; checks version, length against the datagram and the minimum size. */
export function parseHeader(buf: Buffer): Parsed<HeaderRepr> {
  if (buf.length < IKE_HEADER_LENGTH) return fail('truncated-header');
  const version = buf[H_VERSION];
  if (version >> 4 !== 2) return fail('bad-major-version');
  const length = buf.readUInt32BE(H_LENGTH);
  if (length !== buf.length) return fail('bad-length');
  return {
    ok: true,
    value: {
      spiI: Buffer.from(buf.subarray(H_SPI_I, H_SPI_I + 8)), spiR: Buffer.from(buf.subarray(H_SPI_R, H_SPI_R + 8)),
      nextPayload: buf[H_NEXT], version, exchange: buf[H_EXCHANGE], flags: buf[H_FLAGS], messageId: buf.readUInt32BE(H_MSGID), length,
    },
  };
}

export function emitHeader(h: Omit<HeaderRepr, 'length' | 'version'> & { version?: number }, length: number, out: Buffer): void {
  h.spiI.copy(out, H_SPI_I);
  h.spiR.copy(out, H_SPI_R);
  out[H_NEXT] = h.nextPayload;
  out[H_VERSION] = h.version ?? 0x20;
  out[H_EXCHANGE] = h.exchange;
  out[H_FLAGS] = h.flags;
  out.writeUInt32BE(h.messageId >>> 0, H_MSGID);
  out.writeUInt32BE(length, H_LENGTH);
}

/** The whole message: header and payload chain (SK left encrypted). */
export function parseMessage(buf: Buffer): Parsed<MessageRepr> {
  const h = parseHeader(buf);
  if (!h.ok) return h;
  const p = parsePayloads(buf, IKE_HEADER_LENGTH, buf.length, h.value.nextPayload);
  if (!p.ok) return p;
  return { ok: true, value: { header: h.value, payloads: p.value } };
}

/** A payload chain in buf[offset, end) starting with payload type `first`. */
export function parsePayloads(buf: Buffer, offset: number, end: number, first: number): Parsed<PayloadRepr[]> {
  const out: PayloadRepr[] = [];
  let type = first;
  let at = offset;
  while (type !== Payload.NONE) {
    if (out.length >= 64) return fail('too-many-payloads');
    if (end - at < GENERIC_HEADER_LENGTH) return fail('truncated-payload-header');
    const next = buf[at + G_NEXT];
    const critical = (buf[at + G_FLAGS] & CRITICAL) !== 0;
    const len = buf.readUInt16BE(at + G_LENGTH);
    if (len < GENERIC_HEADER_LENGTH || at + len > end) return fail('bad-payload-length');
    const body = buf.subarray(at + GENERIC_HEADER_LENGTH, at + len);
    if (type === Payload.SK) {
      // §3.14: the Encrypted payload is the last one; its Next Payload names the first inner one.
      if (at + len !== end) return fail('sk-not-last');
      out.push({ type: Payload.SK, innerFirst: next, offset: at, body });
      return { ok: true, value: out };
    }
    const r = parseBody(type, body, critical);
    if (!r.ok) return r;
    out.push(r.value);
    at += len;
    type = next;
  }
  if (at !== end) return fail('trailing-octets');
  return { ok: true, value: out };
}

function parseBody(type: number, b: Buffer, critical: boolean): Parsed<PayloadRepr> {
  switch (type) {
    case Payload.SA: {
      const proposals: ProposalRepr[] = [];
      let at = 0;
      for (;;) {
        if (b.length - at < 8) return fail('truncated-proposal');
        const last = b[at];
        const plen = b.readUInt16BE(at + 2);
        if (plen < 8 || at + plen > b.length) return fail('bad-proposal-length');
        if (last !== 0 && last !== 2) return fail('bad-proposal-last');
        const num = b[at + 4], protocol = b[at + 5], spiSize = b[at + 6], nT = b[at + 7];
        if (8 + spiSize > plen) return fail('bad-proposal-spi-size');
        const spi = Buffer.from(b.subarray(at + 8, at + 8 + spiSize));
        const transforms: TransformRepr[] = [];
        let t = at + 8 + spiSize;
        const pend = at + plen;
        for (let i = 0; i < nT; i++) {
          if (pend - t < 8) return fail('truncated-transform');
          const tlast = b[t];
          const tlen = b.readUInt16BE(t + 2);
          if (tlen < 8 || t + tlen > pend) return fail('bad-transform-length');
          if ((tlast === 0) !== (i === nT - 1) || (tlast !== 0 && tlast !== 3)) return fail('bad-transform-last');
          const tr: TransformRepr = { type: b[t + 4], id: b.readUInt16BE(t + 6) };
          let a = t + 8;
          while (a < t + tlen) {
            if (t + tlen - a < 4) return fail('truncated-attribute');
            const at16 = b.readUInt16BE(a);
            if (at16 & 0x8000) {
              if (at16 === ATTR_KEY_LENGTH) tr.keyLength = b.readUInt16BE(a + 2);
              a += 4;
            } else {
              const alen = b.readUInt16BE(a + 2);
              if (a + 4 + alen > t + tlen) return fail('bad-attribute-length');
              a += 4 + alen;
            }
          }
          transforms.push(tr);
          t += tlen;
        }
        if (t !== pend) return fail('bad-proposal-length');
        proposals.push({ num, protocol, spi, transforms });
        at += plen;
        if (last === 0) break;
      }
      if (at !== b.length) return fail('trailing-proposal-octets');
      return { ok: true, value: { type: Payload.SA, proposals } };
    }
    case Payload.KE:
      if (b.length < 4) return fail('truncated-ke');
      return { ok: true, value: { type: Payload.KE, group: b.readUInt16BE(0), data: Buffer.from(b.subarray(4)) } };
    case Payload.NONCE:
      // §3.9: 16..256 octets.
      if (b.length < 16 || b.length > 256) return fail('bad-nonce-length');
      return { ok: true, value: { type: Payload.NONCE, data: Buffer.from(b) } };
    case Payload.IDi:
    case Payload.IDr:
      if (b.length < 4) return fail('truncated-id');
      return { ok: true, value: { type: type as 35, idType: b[0], data: Buffer.from(b.subarray(4)), body: Buffer.from(b) } as PayloadRepr };
    case Payload.AUTH:
      if (b.length < 4) return fail('truncated-auth');
      return { ok: true, value: { type: Payload.AUTH, method: b[0], data: Buffer.from(b.subarray(4)) } };
    case Payload.NOTIFY: {
      if (b.length < 4) return fail('truncated-notify');
      const spiSize = b[1];
      if (4 + spiSize > b.length) return fail('bad-notify-spi-size');
      return { ok: true, value: { type: Payload.NOTIFY, protocol: b[0], notify: b.readUInt16BE(2), spi: Buffer.from(b.subarray(4, 4 + spiSize)), data: Buffer.from(b.subarray(4 + spiSize)) } };
    }
    case Payload.DELETE: {
      if (b.length < 4) return fail('truncated-delete');
      const spiSize = b[1], n = b.readUInt16BE(2);
      if (b.length !== 4 + spiSize * n) return fail('bad-delete-length');
      const spis: Buffer[] = [];
      for (let i = 0; i < n; i++) spis.push(Buffer.from(b.subarray(4 + i * spiSize, 4 + (i + 1) * spiSize)));
      return { ok: true, value: { type: Payload.DELETE, protocol: b[0], spiSize, spis } };
    }
    case Payload.TSi:
    case Payload.TSr: {
      if (b.length < 4) return fail('truncated-ts');
      const n = b[0];
      const selectors: TrafficSelectorRepr[] = [];
      let at = 4;
      for (let i = 0; i < n; i++) {
        if (b.length - at < 8) return fail('truncated-ts');
        const tsType = b[at];
        const len = b.readUInt16BE(at + 2);
        const alen = tsType === 7 ? 4 : tsType === 8 ? 16 : -1;
        if (alen < 0) return fail('unknown-ts-type');
        if (len !== 8 + 2 * alen || at + len > b.length) return fail('bad-ts-length');
        selectors.push({ type: tsType, protocol: b[at + 1], startPort: b.readUInt16BE(at + 4), endPort: b.readUInt16BE(at + 6), start: Buffer.from(b.subarray(at + 8, at + 8 + alen)), end: Buffer.from(b.subarray(at + 8 + alen, at + len)) });
        at += len;
      }
      if (at !== b.length || n === 0) return fail('bad-ts-length');
      return { ok: true, value: { type: type as 44, selectors } as PayloadRepr };
    }
    default:
      return { ok: true, value: { type: 'other', payloadType: type, critical, body: Buffer.from(b) } };
  }
}

/** One payload's body (without the generic header). */
export function emitBody(p: PayloadRepr): Buffer {
  switch (p.type) {
    case Payload.SA: {
      const parts: Uint8Array[] = [];
      p.proposals.forEach((pr, i) => {
        const ts = pr.transforms.map((t, j) => {
          const attr = t.keyLength !== undefined ? 4 : 0;
          const b = Buffer.alloc(8 + attr);
          b[0] = j === pr.transforms.length - 1 ? 0 : 3;
          b.writeUInt16BE(8 + attr, 2);
          b[4] = t.type;
          b.writeUInt16BE(t.id, 6);
          if (attr) {
            b.writeUInt16BE(ATTR_KEY_LENGTH, 8);
            b.writeUInt16BE(t.keyLength!, 10);
          }
          return b;
        });
        const head = Buffer.alloc(8);
        const body = Buffer.concat([pr.spi, ...ts]);
        head[0] = i === p.proposals.length - 1 ? 0 : 2;
        head.writeUInt16BE(8 + body.length, 2);
        head[4] = pr.num;
        head[5] = pr.protocol;
        head[6] = pr.spi.length;
        head[7] = pr.transforms.length;
        parts.push(head, body);
      });
      return Buffer.concat(parts);
    }
    case Payload.KE: {
      const b = Buffer.alloc(4);
      b.writeUInt16BE(p.group, 0);
      return Buffer.concat([b, p.data]);
    }
    case Payload.NONCE:
      return p.data;
    case Payload.IDi:
    case Payload.IDr:
      return Buffer.concat([Buffer.from([p.idType, 0, 0, 0]), p.data]);
    case Payload.AUTH:
      return Buffer.concat([Buffer.from([p.method, 0, 0, 0]), p.data]);
    case Payload.NOTIFY: {
      const b = Buffer.alloc(4);
      b[0] = p.protocol;
      b[1] = p.spi.length;
      b.writeUInt16BE(p.notify, 2);
      return Buffer.concat([b, p.spi, p.data]);
    }
    case Payload.DELETE: {
      const b = Buffer.alloc(4);
      b[0] = p.protocol;
      b[1] = p.spiSize;
      b.writeUInt16BE(p.spis.length, 2);
      return Buffer.concat([b, ...p.spis]);
    }
    case Payload.TSi:
    case Payload.TSr: {
      const parts: Uint8Array[] = [Buffer.from([p.selectors.length, 0, 0, 0])];
      for (const s of p.selectors) {
        const b = Buffer.alloc(8);
        b[0] = s.type;
        b[1] = s.protocol;
        b.writeUInt16BE(8 + s.start.length + s.end.length, 2);
        b.writeUInt16BE(s.startPort, 4);
        b.writeUInt16BE(s.endPort, 6);
        parts.push(b, s.start, s.end);
      }
      return Buffer.concat(parts);
    }
    case Payload.SK:
      return p.body;
    default:
      return p.body;
  }
}

/** A payload chain: the bytes and the type of the first payload (for the header or SK). */
export function emitPayloads(payloads: readonly PayloadRepr[]): { first: number; bytes: Buffer } {
  const parts: Uint8Array[] = [];
  payloads.forEach((p, i) => {
    const body = emitBody(p);
    const g = Buffer.alloc(GENERIC_HEADER_LENGTH);
    g[G_NEXT] = i + 1 < payloads.length ? payloadType(payloads[i + 1]) : Payload.NONE;
    g.writeUInt16BE(GENERIC_HEADER_LENGTH + body.length, G_LENGTH);
    parts.push(g, body);
  });
  return { first: payloads.length ? payloadType(payloads[0]) : Payload.NONE, bytes: Buffer.concat(parts) };
}

/** An unencrypted message (IKE_SA_INIT). */
export function emitMessage(h: Omit<HeaderRepr, 'length' | 'version' | 'nextPayload'>, payloads: readonly PayloadRepr[]): Buffer {
  const { first, bytes } = emitPayloads(payloads);
  const out = Buffer.alloc(IKE_HEADER_LENGTH + bytes.length);
  emitHeader({ ...h, nextPayload: first }, out.length, out);
  bytes.copy(out, IKE_HEADER_LENGTH);
  return out;
}

export function findNotify(payloads: readonly PayloadRepr[], type: number): Extract<PayloadRepr, { type: 41 }> | undefined {
  return payloads.find((p): p is Extract<PayloadRepr, { type: 41 }> => p.type === Payload.NOTIFY && p.notify === type);
}

export function find<T extends number>(payloads: readonly PayloadRepr[], type: T): Extract<PayloadRepr, { type: T }> | undefined {
  return payloads.find((p) => p.type === type) as Extract<PayloadRepr, { type: T }> | undefined;
}
