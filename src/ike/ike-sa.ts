// One IKE SA (RFC 7296 §2): SPIs, role, keys, message IDs (window 1, §2.3), the
// request in flight with its retransmission state (§2.1), the last response kept
// for retransmitted requests, and the CHILD SAs it owns. Sealing and opening of
// its SK payloads live here; the exchanges live in the daemon.

import { inspect } from 'node:util';
import type { ChildConfig, IkeConnectionConfig } from './config-types.js';
import { Exchange, Flag, IKE_HEADER_LENGTH } from './constants.js';
import { openSk, sealSk, type DhExchange, type IkeKeys, type IkeSuite } from './crypto.js';
import { emitHeader, emitPayloads, parsePayloads, type HeaderRepr, type PayloadRepr, type Parsed } from './message.js';
import type { EspSuite } from './proposal.js';
import type { SaSpec } from '../engine/types.js';
import type { TsRange } from './ts.js';

export type IkeSaState = 'connecting' | 'authenticating' | 'established' | 'rekeying' | 'deleting' | 'dead';

export interface ChildSa {
  config: ChildConfig;
  reqid: number;
  /** Our inbound SPI (what the peer puts in ESP to us) and the peer's (ours outbound). */
  spiIn: number;
  spiOut: number;
  inSaId: number | null;
  outSaId: number | null;
  /** How the outbound SA was installed (to install it again, see IkeDaemon.reviveOutbound). Never printed. */
  outSpec?: SaSpec;
  suite: EspSuite;
  localTs: TsRange[];
  remoteTs: TsRange[];
  state: 'installed' | 'rekeying' | 'rekeyed' | 'deleting';
  /** Nonces of the exchange that made it (§2.8.1 collision: lowest nonce loses). */
  nonces: Buffer[];
}

export interface Outstanding {
  id: number;
  exchange: number;
  bytes: Buffer;
  tries: number;
  timer: NodeJS.Timeout | null;
  onResponse: (payloads: PayloadRepr[], header: HeaderRepr) => void;
  onTimeout: () => void;
}

let nextLocalId = 1;

export class IkeSa {
  readonly id = nextLocalId++;
  conn: IkeConnectionConfig;
  /** We are the original initiator (§2.2: the I flag, which SK keys we use). */
  initiator: boolean;
  spiI: Buffer;
  spiR: Buffer;
  state: IkeSaState = 'connecting';
  localAddr: string;
  remoteAddr: string;
  remotePort: number;
  /** IKE moved to port 4500 with the non-ESP marker (§2.23). */
  natt = false;
  suite: IkeSuite | null = null;
  keys: IkeKeys | null = null;
  dh: DhExchange | null = null;
  ni: Buffer | null = null;
  nr: Buffer | null = null;
  initRequest: Buffer | null = null;
  initResponse: Buffer | null = null;
  cookie: Buffer | null = null;
  myNextId = 0;
  peerNextId = 0;
  lastResponse: { id: number; bytes: Buffer } | null = null;
  outstanding: Outstanding | null = null;
  readonly waiting: (() => void)[] = [];
  readonly children: ChildSa[] = [];
  lastHeard = 0;
  createdAt = 0;
  /** ACQUIREs waiting for this IKE SA (R27), with the child each wants. */
  readonly acquires: { seq: number | null; child: ChildConfig }[] = [];
  initialContact = false;

  constructor(conn: IkeConnectionConfig, initiator: boolean, spiI: Buffer, spiR: Buffer, localAddr: string, remoteAddr: string, remotePort: number) {
    this.conn = conn;
    this.initiator = initiator;
    this.spiI = spiI;
    this.spiR = spiR;
    this.localAddr = localAddr;
    this.remoteAddr = remoteAddr;
    this.remotePort = remotePort;
  }

  /** Our SPI: the key of the daemon's table. */
  get mySpi(): Buffer {
    return this.initiator ? this.spiI : this.spiR;
  }

  /** An encrypted message of this SA. */
  seal(exchange: number, response: boolean, messageId: number, payloads: readonly PayloadRepr[]): Buffer {
    const { first, bytes } = emitPayloads(payloads);
    const k = this.keys!;
    const keys = this.initiator ? { encr: k.skEi, integ: k.skAi } : { encr: k.skEr, integ: k.skAr };
    const flags = (this.initiator ? Flag.INITIATOR : 0) | (response ? Flag.RESPONSE : 0);
    return sealSk(this.suite!, keys, (out) => emitHeader({ spiI: this.spiI, spiR: this.spiR, nextPayload: 46, exchange, flags, messageId }, out.length, out), first, bytes);
  }

  /** Verify and decrypt a message of this SA; the inner payloads, or why not. */
  open(msg: Buffer, skOffset: number, innerFirst: number): Parsed<PayloadRepr[]> {
    if (!this.keys || !this.suite) return { ok: false, reason: 'no-keys-yet' };
    const k = this.keys;
    const keys = this.initiator ? { encr: k.skEr, integ: k.skAr } : { encr: k.skEi, integ: k.skAi };
    const o = openSk(this.suite, keys, msg, skOffset);
    if (!o.ok) return o;
    return parsePayloads(o.inner, 0, o.inner.length, innerFirst);
  }

  [inspect.custom](): string {
    return `IkeSa(${this.id} ${this.conn.name} ${this.initiator ? 'initiator' : 'responder'} ${this.state} ${this.spiI.toString('hex')}_i ${this.spiR.toString('hex')}_r ${this.remoteAddr})`;
  }

  toJSON(): object {
    return { id: this.id, conn: this.conn.name, state: this.state, initiator: this.initiator, spiI: this.spiI.toString('hex'), spiR: this.spiR.toString('hex'), remote: this.remoteAddr, children: this.children.length };
  }
}

export const EXCHANGE_NAME: Record<number, string> = {
  [Exchange.IKE_SA_INIT]: 'IKE_SA_INIT', [Exchange.IKE_AUTH]: 'IKE_AUTH', [Exchange.CREATE_CHILD_SA]: 'CREATE_CHILD_SA', [Exchange.INFORMATIONAL]: 'INFORMATIONAL',
};

export { IKE_HEADER_LENGTH };
