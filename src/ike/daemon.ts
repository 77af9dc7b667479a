// larval's IKEv2 key manager (RFC 7296, docs/design.md §10 R27–R31). It drives the engine
// only through the key-manager session: ACQUIRE, EXPIRE, INVALID_SPI and DELETED in;
// policy and SA installs out. The exchanges follow strongSwan's task split:
//
//   ike-init    IKE_SA_INIT, both roles: proposals, KE, nonces, NAT detection
//               (always reporting a NAT, like charon's encap = yes, so ESP goes in
//               UDP on 4500), COOKIE under load, INVALID_KE_PAYLOAD retries
//   ike-auth    IKE_AUTH with PSK (§2.15), IDs checked against the configuration,
//               INITIAL_CONTACT (R29), and the first CHILD SA
//   child-create / child-rekey / ike-rekey   CREATE_CHILD_SA (§1.3), with and
//               without PFS; simultaneous child rekeys resolved by nonces (§2.8.1)
//   child-delete / ike-delete / ike-dpd       INFORMATIONAL (§1.4)
//
// Only IKE_SA_INIT (and its COOKIE / INVALID_KE_PAYLOAD answers, which create no
// state) acts before an SK payload verifies (R30). Every message ignored is counted
// by reason in stats(). No key, PSK or nonce is ever logged (R31).

import { createHash, createHmac, randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { inspect } from 'node:util';
import type { Gateway } from '../gateway/gateway.js';
import type { KeyManagerSession } from '../gateway/km-session.js';
import { LarvalError } from '../common/errors.js';
import { addressBytes, parseAddress, syncLookup } from '../common/addr.js';
import type { AcquireEvent, ExpireEvent, InvalidSpiEvent, DeletedEvent, PolicySpec, SaSpec } from '../engine/types.js';
import type { ChildConfig, DhGroup, IkeConnectionConfig, SwanctlConfig } from './config-types.js';
import {
  AuthMethod, Exchange, Flag, IKE_HEADER_LENGTH, IKE_PORT, NATT_PORT, NON_ESP_MARKER_LENGTH, NOTIFY_ERROR_MAX, Notify, Payload, Protocol, notifyName,
} from './constants.js';
import {
  DH_ID, DhExchange, KeyBytes, childKeymat, deriveIkeKeys, equalConstantTime, natHash, pskAuth, rekeySkeyseed, skeyseed,
} from './crypto.js';
import { encodeId, findPsk, idBody, sameId } from './identity.js';
import { ChildSa, EXCHANGE_NAME, IkeSa } from './ike-sa.js';
import {
  emitMessage, find, findNotify, parseHeader, parseMessage, payloadType, type HeaderRepr, type PayloadRepr, type ProposalRepr,
} from './message.js';
import {
  ESP_INTEG, acceptedEsp, acceptedIke, chooseEsp, chooseIke, espKeyLengths, espOffer, ikeOffer, suiteName, type EspSuite,
} from './proposal.js';
import { contains, describeTs, narrow, prefixesOf, rangeOfConfig, rangeOfRepr, reprOfRange, type TsRange } from './ts.js';

/** What createIkeDaemon() takes: the gateway whose key-manager session it drives, the swanctl.conf configuration, ports, clock and log. */
export interface IkeDaemonOptions {
  gateway: Gateway;
  config: SwanctlConfig;
  /** Engine time in ms (what the gateway's clock says); default performance.now(). */
  now?: () => number;
  /** UDP ports to listen on; default 500 and 4500 (tests use others). */
  ports?: { ike?: number; natt?: number };
  /** Open sockets (default true). Without, feed datagrams with receive(). */
  bind?: boolean;
  /** Half-open IKE SAs (as responder) from which on cookies are asked (R30). Default 10. */
  cookieThreshold?: number;
  /** Half-open IKE SAs at most; beyond, IKE_SA_INIT requests are dropped. Default 1024. */
  maxHalfOpen?: number;
  /** A half-open SA not authenticated within this time is forgotten. Default 30 s. */
  halfOpenTimeoutMs?: number;
  /** Retransmission: first timeout and tries (§2.1); the timeout doubles. Default 500 ms, 6 tries. */
  retransmit?: { baseMs?: number; tries?: number };
  /** One line per event worth knowing (never a key). Default: none. */
  log?: (line: string) => void;
  /** A name for the key-manager session. */
  name?: string;
}

/** The daemon's counters (IkeDaemon.stats()): exchanges, negotiations, half-open SAs, and every ignored message by reason (R30). */
export interface IkeDaemonStats {
  /** Every message or event ignored, by reason (R30). */
  drops: Record<string, number>;
  counters: Record<string, number>;
  ikeSas: number;
  halfOpen: number;
  childSas: number;
}

/** One IKE SA as IkeDaemon.list() shows it: peer, state, algorithms and its CHILD SAs; never a key (R31). */
export interface IkeSaInfo {
  id: number;
  connection: string;
  state: string;
  initiator: boolean;
  local: string;
  remote: string;
  suite: string | null;
  children: { name: string; reqid: number; spiIn: number; spiOut: number; state: string; suite: string; localTs: string[]; remoteTs: string[] }[];
}

type Send = (bytes: Buffer) => void;

interface ChildPlan { conn: IkeConnectionConfig; child: ChildConfig; reqid: number; policyIds: number[] }

const ZERO_SPI = Buffer.alloc(8);

/** Start larval's IKEv2 daemon for a gateway: binds UDP 500 and 4500 of the configured local addresses, installs the policies the children imply (R12), and starts connections with start_action = start. */
export async function createIkeDaemon(options: IkeDaemonOptions): Promise<IkeDaemon> {
  const d = new IkeDaemon(options);
  await d.start();
  return d;
}

/** larval's IKEv2 key manager (RFC 7296, PSK): negotiates CHILD SAs with its configured peers on demand and drives the engine only through the key-manager session (R27–R31). Create it with createIkeDaemon(). */
export class IkeDaemon {
  readonly km: KeyManagerSession;
  private readonly gw: Gateway;
  private readonly config: SwanctlConfig;
  private readonly now: () => number;
  private readonly ports: { ike: number; natt: number };
  private readonly opts: Required<Pick<IkeDaemonOptions, 'cookieThreshold' | 'maxHalfOpen' | 'halfOpenTimeoutMs'>> & { baseMs: number; tries: number };
  private readonly logLine: (line: string) => void;
  private readonly sockets = new Map<string, { ike: Socket; natt: Socket }>();
  private readonly sas = new Map<string, IkeSa>(); // by our SPI (hex)
  private readonly halfOpenByInit = new Map<string, IkeSa>(); // responder: peer SPIi|address
  private readonly plans: ChildPlan[] = [];
  private readonly byPolicy = new Map<number, ChildPlan>();
  /** Peers we have had an IKE SA with since start: the first gets INITIAL_CONTACT. */
  private readonly contacted = new Set<string>();
  private readonly drops: Record<string, number> = {};
  private readonly counters: Record<string, number> = {};
  private readonly cookieSecret = randomBytes(32);
  private espHandler: ((msg: Buffer, address: string, port: number, local: string) => void) | null = null;
  private espFlush: (() => void) | null = null;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;
  private nextSpi = (0x1000 + ((Math.random() * 0x7fff0000) >>> 0)) >>> 0;
  private readonly bind: boolean;
  /** Datagrams out when bind is false (tests): (bytes, to, port, from, fromPort). */
  outbox: ((bytes: Buffer, address: string, port: number, local: string, localPort: number) => void) | null = null;

  constructor(options: IkeDaemonOptions) {
    this.gw = options.gateway;
    this.config = options.config;
    const t0 = performance.now();
    this.now = options.now ?? (() => performance.now() - t0);
    this.ports = { ike: options.ports?.ike ?? IKE_PORT, natt: options.ports?.natt ?? NATT_PORT };
    this.opts = {
      cookieThreshold: options.cookieThreshold ?? 10,
      maxHalfOpen: options.maxHalfOpen ?? 1024,
      halfOpenTimeoutMs: options.halfOpenTimeoutMs ?? 30_000,
      baseMs: options.retransmit?.baseMs ?? 500,
      tries: options.retransmit?.tries ?? 6,
    };
    this.logLine = options.log ?? (() => {});
    this.bind = options.bind ?? true;
    for (const c of this.config.connections) {
      if (!c.localAddrs.length || !c.remoteAddrs.length || c.remoteAddrs[0] === '%any') throw new LarvalError('EINVAL', `ike: connection ${c.name}: local_addrs and remote_addrs must name addresses, the first remote one concrete (larval installs tunnel policies between them); %any may follow`);
      for (const a of [...c.localAddrs, ...c.remoteAddrs]) if (a !== '%any' && parseAddress(a, `connection ${c.name}`).family !== 4) throw new LarvalError('EINVAL', `ike: connection ${c.name}: ${a} is not IPv4 (IPv4 underlay only)`);
    }
    this.km = this.gw.registerKeyManager({ name: options.name ?? 'ike' });
  }

  // ------------------------------------------------------------------------------
  // start / stop

  async start(): Promise<void> {
    this.installPolicies();
    if (this.bind) {
      const locals = [...new Set(this.config.connections.flatMap((c) => c.localAddrs))];
      // A port that cannot be bound (in use) fails the start: close what was opened,
      // or the open sockets keep the process alive after its error (issue 17).
      const opened: Socket[] = [];
      try {
        for (const a of locals) {
          const ike = await this.open(a, this.ports.ike, false);
          opened.push(ike);
          const natt = await this.open(a, this.ports.natt, true);
          opened.push(natt);
          this.sockets.set(a, { ike, natt });
        }
      } catch (err) {
        for (const s of opened) s.close();
        this.sockets.clear();
        this.km.close();
        throw err;
      }
    }
    this.km.on('acquire', (ev) => this.safely(() => this.onAcquire(ev), 'acquire'));
    this.km.on('expire', (ev) => this.safely(() => this.onExpire(ev), 'expire'));
    this.km.on('invalid-spi', (ev) => this.safely(() => this.onInvalidSpi(ev), 'invalid-spi'));
    this.km.on('deleted', (ev) => this.safely(() => this.onDeleted(ev), 'deleted'));
    this.timer = setInterval(() => this.safely(() => this.tick(), 'tick'), 250);
    this.timer.unref?.();
    for (const p of this.plans) if (p.child.startAction === 'start') this.initiateChild(p, null);
  }

  private open(address: string, port: number, natt: boolean): Promise<Socket> {
    // Sends name IP addresses only: no dns.lookup tick per datagram (the gateway's ESP goes out here too).
    const s = createSocket({ type: 'udp4', reuseAddr: false, lookup: syncLookup });
    return new Promise((resolve, reject) => {
      s.once('error', (err) => {
        try { s.close(); } catch { /* never bound */ }
        reject(new LarvalError('EINVAL', `ike: cannot listen on ${address}:${port}: ${err.message}`));
      });
      s.bind(port, address, () => {
        s.removeAllListeners('error');
        s.on('error', (err) => this.logLine(`socket ${address}:${port}: ${err.message}`));
        if (natt) {
          try {
            s.setRecvBufferSize(8 << 20);
            s.setSendBufferSize(8 << 20);
          } catch {
            /* the default stays */
          }
        }
        s.on('message', (msg, rinfo) => this.receive(msg, rinfo.address, rinfo.port, address, port));
        resolve(s);
      });
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    for (const sa of this.sas.values()) this.stopTimers(sa);
    for (const { ike, natt } of this.sockets.values()) {
      ike.close();
      natt.close();
    }
    this.km.close();
  }

  /**
   * ESP in UDP arriving on a port-4500 socket (anything without the non-ESP marker).
   * `flush`, if given, is called before each IKE datagram is handled: a handler that
   * collects ESP into batches (the TUN gateway) handles what it holds first, so that
   * ESP and IKE take effect in arrival order (ESP sent before a DELETE or a rekey
   * still meets the SAs it was sent on).
   */
  onEsp(handler: (msg: Buffer, address: string, port: number, local: string) => void, flush?: () => void): void {
    this.espHandler = handler;
    this.espFlush = flush ?? null;
  }

  /** Send ESP in UDP from our port 4500 on `local` (default the first local address). */
  sendEsp(payload: Uint8Array, address: string, port: number, local?: string): void {
    this.espSocket(local)?.send(payload, port, address);
  }

  /**
   * The port-4500 socket of `local` (default: of the first local address), or null when
   * nothing is bound: the TUN gateway sends its ESP on it directly, a batch at a time.
   */
  espSocket(local?: string): Socket | null {
    const s = (local && this.sockets.get(local)) || this.sockets.values().next().value;
    return s ? s.natt : null;
  }

  stats(): IkeDaemonStats {
    let half = 0, ike = 0, child = 0;
    for (const sa of new Set(this.sas.values())) {
      if (sa.state === 'established' || sa.state === 'rekeying') {
        ike++;
        child += sa.children.filter((c) => c.state !== 'rekeyed').length;
      } else if (!sa.initiator && (sa.state === 'connecting' || sa.state === 'authenticating')) half++;
    }
    return { drops: { ...this.drops }, counters: { ...this.counters }, ikeSas: ike, halfOpen: half, childSas: child };
  }

  /** IKE and CHILD SAs, for tests and `larval tun` output (no keys). */
  list(): IkeSaInfo[] {
    return [...new Set(this.sas.values())].filter((s) => s.state !== 'dead').map((sa) => ({
      id: sa.id, connection: sa.conn.name, state: sa.state, initiator: sa.initiator, local: sa.localAddr, remote: sa.remoteAddr,
      suite: sa.suite ? suiteName(sa.suite) : null,
      children: sa.children.map((c) => ({ name: c.config.name, reqid: c.reqid, spiIn: c.spiIn, spiOut: c.spiOut, state: c.state, suite: suiteName(c.suite), localTs: c.localTs.map(describeTs), remoteTs: c.remoteTs.map(describeTs) })),
    }));
  }

  /** Start a connection's child now (as start_action = start does). */
  initiate(connection: string, child?: string): void {
    const p = this.plans.find((x) => x.conn.name === connection && (!child || x.child.name === child));
    if (!p) throw new LarvalError('ENOENT', `ike: no connection ${connection}${child ? ` with child ${child}` : ''}`);
    this.initiateChild(p, null);
  }

  /** Rekey a connection's IKE SA now (tests; IKE SA lifetimes are the KM's, the engine knows no IKE SAs). */
  rekeyIke(connection: string): boolean {
    const sa = this.established(connection);
    if (!sa) return false;
    this.startIkeRekey(sa);
    return true;
  }

  /** Rekey every installed CHILD SA now (larval tun's SIGUSR2), as a soft expiry would. */
  rekeyChildren(): number {
    let n = 0;
    for (const sa of new Set(this.sas.values())) {
      if (sa.state !== 'established') continue;
      for (const c of [...sa.children]) if (c.state === 'installed') {
        this.rekeyChild(sa, c);
        n++;
      }
    }
    return n;
  }

  /** Delete a connection's IKE SA (and its CHILD SAs) with the peer. */
  terminate(connection: string): boolean {
    const sa = this.established(connection);
    if (!sa) return false;
    this.deleteIke(sa);
    return true;
  }

  [inspect.custom](): string {
    return `IkeDaemon(${this.config.connections.map((c) => c.name).join(', ')}; ${JSON.stringify(this.stats())})`;
  }

  // ------------------------------------------------------------------------------
  // bookkeeping

  private drop(reason: string, detail?: string): void {
    this.drops[reason] = (this.drops[reason] ?? 0) + 1;
    if (detail) this.logLine(`drop ${reason}: ${detail}`);
  }

  private count(name: string): void {
    this.counters[name] = (this.counters[name] ?? 0) + 1;
  }

  private safely(fn: () => void, what: string): void {
    try {
      fn();
    } catch (err) {
      // Nothing a peer sends may crash the daemon: count it and go on.
      this.drop(`internal-${what}`, (err as Error).message);
    }
  }

  private established(connection: string): IkeSa | undefined {
    return [...new Set(this.sas.values())].find((s) => s.conn.name === connection && s.state === 'established');
  }

  private allocSpi(): number {
    this.nextSpi = (this.nextSpi + 1) >>> 0;
    if (this.nextSpi < 0x100) this.nextSpi = 0x1000;
    return this.nextSpi;
  }

  private register(sa: IkeSa): void {
    this.sas.set(sa.mySpi.toString('hex'), sa);
  }

  private forget(sa: IkeSa): void {
    sa.state = 'dead';
    this.stopTimers(sa);
    const k = sa.mySpi.toString('hex');
    if (this.sas.get(k) === sa) this.sas.delete(k);
    for (const [key, v] of this.halfOpenByInit) if (v === sa) this.halfOpenByInit.delete(key);
  }

  private stopTimers(sa: IkeSa): void {
    if (sa.outstanding?.timer) clearTimeout(sa.outstanding.timer);
    sa.outstanding = null;
  }

  // ------------------------------------------------------------------------------
  // policies (R12: the key manager owns the SPD)

  private installPolicies(): void {
    let reqid = 0;
    for (const conn of this.config.connections) {
      for (const child of conn.children) {
        const plan: ChildPlan = { conn, child, reqid: ++reqid, policyIds: [] };
        const local = conn.localAddrs[0], remote = conn.remoteAddrs[0];
        for (const l of child.localTs) for (const r of child.remoteTs) {
          const lr = rangeOfConfig(l), rr = rangeOfConfig(r);
          if (lr.family !== rr.family) continue;
          const proto = lr.protocol || rr.protocol;
          const ports = (x: TsRange) => (x.startPort === 0 && x.endPort === 65535 ? undefined : ([x.startPort, x.endPort] as [number, number]));
          for (const lp of prefixesOf(lr)) for (const rp of prefixesOf(rr)) {
            const base = proto ? { proto } : {};
            const out: PolicySpec = { dir: 'out', src: lp, dst: rp, ...base, ...(ports(lr) ? { srcPort: ports(lr) } : {}), ...(ports(rr) ? { dstPort: ports(rr) } : {}), action: 'protect', template: { mode: 'tunnel', src: local, dst: remote, reqid: plan.reqid, level: 'require' } };
            const inn: PolicySpec = { dir: 'in', src: rp, dst: lp, ...base, ...(ports(rr) ? { srcPort: ports(rr) } : {}), ...(ports(lr) ? { dstPort: ports(lr) } : {}), action: 'protect', template: { mode: 'tunnel', src: remote, dst: local, reqid: plan.reqid, level: 'require' } };
            const o = this.km.installPolicy(out);
            const i = this.km.installPolicy(inn);
            plan.policyIds.push(o, i);
            this.byPolicy.set(o, plan);
            this.byPolicy.set(i, plan);
          }
        }
        this.plans.push(plan);
      }
    }
  }

  private planOf(conn: IkeConnectionConfig, child: ChildConfig): ChildPlan {
    return this.plans.find((p) => p.conn === conn && p.child === child)!;
  }

  // ------------------------------------------------------------------------------
  // engine events (R27, R28)

  private onAcquire(ev: AcquireEvent): void {
    this.count('acquires');
    const plan = this.byPolicy.get(ev.policyId);
    if (!plan) {
      this.drop('acquire-unknown-policy');
      return;
    }
    this.initiateChild(plan, ev.seq);
  }

  /** R27: at most one IKE_SA_INIT per connection, or one CREATE_CHILD_SA on the IKE SA we have. */
  private initiateChild(plan: ChildPlan, seq: number | null): void {
    const peer = plan.conn.remoteAddrs[0];
    const live = [...new Set(this.sas.values())].filter((s) => s.conn === plan.conn && s.remoteAddr === peer && s.state !== 'dead' && s.state !== 'deleting');
    const est = live.find((s) => s.state === 'established' || s.state === 'rekeying');
    if (est) {
      if (est.children.some((c) => c.config === plan.child && c.state !== 'rekeyed' && c.state !== 'deleting')) {
        // Already have it (an ACQUIRE raced the install): the SA exists, so answer nothing.
        if (seq !== null) this.count('acquire-already-installed');
        return;
      }
      this.createChild(est, plan, seq);
      return;
    }
    const pending = live.find((s) => s.initiator && (s.state === 'connecting' || s.state === 'authenticating'));
    if (pending) {
      if (!pending.acquires.some((a) => a.child === plan.child)) pending.acquires.push({ seq, child: plan.child });
      else if (seq !== null) {
        const a = pending.acquires.find((x) => x.child === plan.child)!;
        if (a.seq === null) a.seq = seq;
      }
      return;
    }
    const sa = new IkeSa(plan.conn, true, randomBytes(8), ZERO_SPI, plan.conn.localAddrs[0], peer, plan.conn.remotePort || this.ports.ike);
    sa.createdAt = sa.lastHeard = this.now();
    sa.acquires.push({ seq, child: plan.child });
    sa.initialContact = !this.contacted.has(peer);
    this.register(sa);
    this.count('ike-init-sent');
    this.logLine(`initiating ${plan.conn.name}/${plan.child.name} to ${peer}${seq !== null ? ` (ACQUIRE ${seq})` : ''}`);
    this.sendInit(sa, plan.conn.proposals[0]?.dh[0] ?? 'curve25519');
  }

  private onExpire(ev: ExpireEvent): void {
    for (const sa of new Set(this.sas.values())) {
      const c = sa.children.find((x) => x.inSaId === ev.saId || x.outSaId === ev.saId);
      if (!c) continue;
      if (ev.kind === 'soft') {
        // R28: the engine's soft expiry starts the rekey; never a KM timer.
        if (c.state === 'installed' && sa.state === 'established') this.rekeyChild(sa, c);
      } else if (c.state !== 'rekeyed') {
        // Hard expiry without a successor: the child is gone; tell the peer.
        if (ev.saId === c.inSaId) c.inSaId = null;
        if (ev.saId === c.outSaId) c.outSaId = null;
        this.deleteChild(sa, c);
      }
      return;
    }
  }

  private onDeleted(ev: DeletedEvent): void {
    for (const sa of new Set(this.sas.values())) for (const c of sa.children) {
      if (c.inSaId === ev.saId) c.inSaId = null;
      if (c.outSaId === ev.saId) c.outSaId = null;
    }
  }

  /**
   * R18: ESP from a peer on an SPI we do not know: we lost its SAs (we restarted).
   * Negotiate afresh with INITIAL_CONTACT so that the peer drops the stale ones.
   */
  private onInvalidSpi(ev: InvalidSpiEvent): void {
    const plan = this.plans.find((p) => p.conn.remoteAddrs.includes(ev.src) && p.conn.localAddrs.includes(ev.dst));
    if (!plan) {
      this.drop('invalid-spi-unknown-peer');
      return;
    }
    const busy = [...new Set(this.sas.values())].some((s) => s.conn === plan.conn && s.state !== 'dead');
    if (busy) return;
    this.count('invalid-spi-reconnect');
    this.initiateChild(plan, null);
  }

  // ------------------------------------------------------------------------------
  // datagrams

  /** A datagram from the network (also the entry point for tests and benchmarks). */
  receive(msg: Buffer, address: string, port: number, local: string, localPort: number): void {
    if (this.closed) return;
    // ESP (no non-ESP marker, RFC 3948 §2.2) straight to the data path, without a
    // closure per datagram; the rest (short ones included) as below.
    if (localPort === this.ports.natt && msg.length >= NON_ESP_MARKER_LENGTH && this.espHandler && (msg[0] | msg[1] | msg[2] | msg[3]) !== 0) {
      this.espHandler(msg, address, port, local);
      return;
    }
    if (this.espFlush) this.safely(this.espFlush, 'esp-flush');
    this.safely(() => {
      if (localPort === this.ports.natt) {
        if (msg.length === 1 && msg[0] === 0xff) return this.count('natt-keepalive');
        if (msg.length < 4 || msg.readUInt32BE(0) !== 0) {
          if (this.espHandler) this.espHandler(msg, address, port, local);
          else this.drop('esp-without-handler');
          return;
        }
        msg = msg.subarray(4);
      }
      this.count('ike-in');
      this.dispatch(msg, address, port, local, localPort);
    }, 'receive');
  }

  private sendRaw(bytes: Buffer, address: string, port: number, local: string, natt: boolean): void {
    this.count('ike-out');
    const data = natt ? Buffer.concat([Buffer.alloc(4), bytes]) : bytes;
    const localPort = natt ? this.ports.natt : this.ports.ike;
    if (this.outbox) return this.outbox(data, address, port, local, localPort);
    const s = this.sockets.get(local);
    if (!s) return;
    (natt ? s.natt : s.ike).send(data, port, address);
  }

  private sendSa(sa: IkeSa, bytes: Buffer): void {
    this.sendRaw(bytes, sa.remoteAddr, sa.remotePort, sa.localAddr, sa.natt);
  }

  private dispatch(buf: Buffer, address: string, port: number, local: string, localPort: number): void {
    const h = parseHeader(buf);
    if (!h.ok) return this.drop(h.reason);
    const hdr = h.value;
    if (hdr.version >> 4 !== 2) return this.drop('bad-major-version');
    const isResponse = (hdr.flags & Flag.RESPONSE) !== 0;
    const fromInitiator = (hdr.flags & Flag.INITIATOR) !== 0;
    if (hdr.exchange === Exchange.IKE_SA_INIT) {
      if (!isResponse) return this.initRequest(buf, hdr, address, port, local, localPort);
      const sa = this.sas.get(hdr.spiI.toString('hex'));
      if (!sa || !sa.initiator || sa.state !== 'connecting' || fromInitiator) return this.drop('unexpected-init-response');
      if (sa.remoteAddr !== address) return this.drop('init-response-wrong-peer');
      const m = parseMessage(buf);
      if (!m.ok) return this.drop(m.reason);
      return this.initResponse(sa, buf, hdr, m.value.payloads);
    }
    // Everything else is of an SA we know, under SK.
    const mine = fromInitiator ? hdr.spiR : hdr.spiI;
    const sa = this.sas.get(mine.toString('hex'));
    if (!sa || sa.state === 'dead') return this.drop('unknown-ike-spi');
    if (!(fromInitiator ? hdr.spiI.equals(sa.spiI) : hdr.spiR.equals(sa.spiR)) || fromInitiator === sa.initiator) return this.drop('spi-mismatch');
    if (address !== sa.remoteAddr) return this.drop('wrong-peer-address');
    if (hdr.exchange !== Exchange.IKE_AUTH && hdr.exchange !== Exchange.CREATE_CHILD_SA && hdr.exchange !== Exchange.INFORMATIONAL) return this.drop('unknown-exchange');
    // Message IDs first (cheap), then the SK payload (R30).
    if (isResponse) {
      if (!sa.outstanding || sa.outstanding.id !== hdr.messageId) return this.drop('unexpected-response');
    } else if (hdr.messageId !== sa.peerNextId) {
      if (hdr.messageId === sa.peerNextId - 1 && sa.lastResponse && sa.lastResponse.id === hdr.messageId) {
        // A retransmitted request; answer again only once the ICV verifies.
        const m = parseMessage(buf);
        if (!m.ok) return this.drop(m.reason);
        const sk = m.value.payloads.find((p) => p.type === Payload.SK);
        if (!sk || sk.type !== Payload.SK || !sa.open(buf, sk.offset, sk.innerFirst).ok) return this.drop('retransmit-integrity');
        this.count('retransmit-answered');
        return this.sendSa(sa, sa.lastResponse.bytes);
      }
      return this.drop('bad-message-id');
    }
    const m = parseMessage(buf);
    if (!m.ok) return this.drop(m.reason);
    const sk = m.value.payloads[m.value.payloads.length - 1];
    if (!sk || sk.type !== Payload.SK) return this.drop('no-sk-payload');
    const inner = sa.open(buf, sk.offset, sk.innerFirst);
    if (!inner.ok) return this.drop(inner.reason);
    // Authenticated from here on.
    for (const p of inner.value) if (p.type === 'other' && p.critical) return this.drop('unsupported-critical-payload');
    sa.lastHeard = this.now();
    if (localPort === this.ports.natt && !sa.natt) {
      sa.natt = true;
      sa.remotePort = port;
    }
    if (isResponse) {
      const o = sa.outstanding!;
      if (o.exchange !== hdr.exchange) return this.drop('response-wrong-exchange');
      if (o.timer) clearTimeout(o.timer);
      sa.outstanding = null;
      sa.myNextId++;
      o.onResponse(inner.value, hdr);
      this.next(sa);
      return;
    }
    sa.peerNextId++;
    const reply = (payloads: PayloadRepr[]) => {
      const bytes = sa.seal(hdr.exchange, true, hdr.messageId, payloads);
      sa.lastResponse = { id: hdr.messageId, bytes };
      this.sendSa(sa, bytes);
    };
    if (hdr.exchange === Exchange.IKE_AUTH) this.authRequest(sa, inner.value, reply);
    else if (hdr.exchange === Exchange.CREATE_CHILD_SA) this.createChildRequest(sa, inner.value, reply);
    else this.informationalRequest(sa, inner.value, reply);
  }

  // ------------------------------------------------------------------------------
  // requests we send: window 1, retransmission with back-off (§2.1, §2.3)

  private request(sa: IkeSa, exchange: number, payloads: PayloadRepr[], onResponse: (p: PayloadRepr[], h: HeaderRepr) => void, onTimeout?: () => void): void {
    const go = () => {
      if (sa.state === 'dead') return;
      const id = sa.myNextId;
      const bytes = sa.seal(exchange, false, id, payloads);
      sa.outstanding = { id, exchange, bytes, tries: 0, timer: null, onResponse, onTimeout: onTimeout ?? (() => this.peerDead(sa)) };
      this.sendSa(sa, bytes);
      this.armRetransmit(sa);
    };
    if (sa.outstanding) sa.waiting.push(go);
    else go();
  }

  private armRetransmit(sa: IkeSa): void {
    const o = sa.outstanding;
    if (!o) return;
    o.timer = setTimeout(() => this.safely(() => {
      if (sa.outstanding !== o) return;
      o.tries++;
      if (o.tries >= this.opts.tries) {
        sa.outstanding = null;
        this.count('retransmit-gave-up');
        o.onTimeout();
        return;
      }
      this.count('retransmits');
      this.sendSa(sa, o.bytes);
      this.armRetransmit(sa);
    }, 'retransmit'), this.opts.baseMs * 2 ** o.tries);
    o.timer.unref?.();
  }

  private next(sa: IkeSa): void {
    const go = sa.waiting.shift();
    if (go) go();
  }

  // ------------------------------------------------------------------------------
  // ike-init

  private natPayloads(spiI: Buffer, spiR: Buffer, peer: string, peerPort: number): PayloadRepr[] {
    const sha1 = (d: Buffer) => createHash('sha1').update(d).digest();
    const peerBytes: Buffer = Buffer.from(addressBytes(4, parseAddress(peer, 'peer').words));
    // Our source hash is random: the peer sees a NAT in front of us and encapsulates
    // ESP in UDP (charon's encap = yes does the same). The destination hash is true.
    return [
      { type: Payload.NOTIFY, protocol: 0, spi: Buffer.alloc(0), notify: Notify.NAT_DETECTION_SOURCE_IP, data: randomBytes(20) },
      { type: Payload.NOTIFY, protocol: 0, spi: Buffer.alloc(0), notify: Notify.NAT_DETECTION_DESTINATION_IP, data: natHash(spiI, spiR, peerBytes, peerPort, sha1) },
    ];
  }

  private sendInit(sa: IkeSa, group: DhGroup): void {
    // A retry after COOKIE or INVALID_KE_PAYLOAD keeps Ni (the cookie covers it, §2.6).
    if (!sa.dh || sa.dh.group !== group) sa.dh = new DhExchange(group);
    if (!sa.ni) sa.ni = randomBytes(32);
    const offer = ikeOffer(sa.conn.proposals, Buffer.alloc(0), group);
    const payloads: PayloadRepr[] = [
      ...(sa.cookie ? [{ type: Payload.NOTIFY, protocol: 0, spi: Buffer.alloc(0), notify: Notify.COOKIE, data: sa.cookie } as PayloadRepr] : []),
      { type: Payload.SA, proposals: offer },
      { type: Payload.KE, group: DH_ID[group], data: sa.dh.publicValue },
      { type: Payload.NONCE, data: sa.ni },
      ...this.natPayloads(sa.spiI, ZERO_SPI, sa.remoteAddr, sa.remotePort),
    ];
    const bytes = emitMessage({ spiI: sa.spiI, spiR: ZERO_SPI, exchange: Exchange.IKE_SA_INIT, flags: Flag.INITIATOR, messageId: 0 }, payloads);
    sa.initRequest = bytes;
    if (sa.outstanding?.timer) clearTimeout(sa.outstanding.timer);
    sa.outstanding = {
      id: 0, exchange: Exchange.IKE_SA_INIT, bytes, tries: 0, timer: null,
      onResponse: () => {}, onTimeout: () => this.failInitiation(sa, 'no answer to IKE_SA_INIT', true),
    };
    (sa as IkeSa & { offer?: ProposalRepr[] }).offer = offer;
    this.sendSa(sa, bytes);
    this.armRetransmit(sa);
  }

  private initResponse(sa: IkeSa, buf: Buffer, hdr: HeaderRepr, payloads: PayloadRepr[]): void {
    const cookie = findNotify(payloads, Notify.COOKIE);
    const tries = ((sa as { initTries?: number }).initTries = ((sa as { initTries?: number }).initTries ?? 0) + 1);
    if (cookie) {
      // §2.6: send the request again with the cookie first (same SPIi).
      if (tries > 4 || cookie.data.length < 1 || cookie.data.length > 64) return this.failInitiation(sa, 'cookie loop', false);
      this.count('cookie-retries');
      sa.cookie = cookie.data;
      return this.sendInit(sa, sa.dh!.group);
    }
    const invalidKe = findNotify(payloads, Notify.INVALID_KE_PAYLOAD);
    if (invalidKe) {
      // §1.2: retry with the group the responder asks for, if we offered it.
      const id = invalidKe.data.length === 2 ? invalidKe.data.readUInt16BE(0) : -1;
      const group = (Object.keys(DH_ID) as DhGroup[]).find((g) => DH_ID[g] === id);
      if (!group || tries > 3 || !sa.conn.proposals.some((p) => p.dh.includes(group)) || group === sa.dh!.group) return this.failInitiation(sa, `INVALID_KE_PAYLOAD asks for group ${id}`, false);
      this.count('invalid-ke-retries');
      this.logLine(`${sa.conn.name}: peer asks for DH group ${group}`);
      return this.sendInit(sa, group);
    }
    const err = payloads.find((p) => p.type === Payload.NOTIFY && p.notify <= NOTIFY_ERROR_MAX);
    if (err && err.type === Payload.NOTIFY) return this.failInitiation(sa, `peer answered ${notifyName(err.notify)}`, false, notifyName(err.notify));
    const saP = find(payloads, Payload.SA), ke = find(payloads, Payload.KE), nonce = find(payloads, Payload.NONCE);
    if (!saP || !ke || !nonce) return this.drop('init-response-missing-payload');
    if (hdr.spiR.equals(ZERO_SPI)) return this.drop('init-response-zero-spi');
    const suite = acceptedIke(saP.proposals, (sa as IkeSa & { offer?: ProposalRepr[] }).offer ?? []);
    if (!suite) return this.failInitiation(sa, 'the responder chose a proposal we did not offer', false);
    if (ke.group !== DH_ID[suite.dh] || suite.dh !== sa.dh!.group) return this.failInitiation(sa, 'KE group differs from the chosen one', false);
    let gir: KeyBytes;
    try {
      gir = sa.dh!.sharedSecret(ke.data);
    } catch {
      return this.drop('bad-ke-value');
    }
    if (sa.outstanding?.timer) clearTimeout(sa.outstanding.timer);
    sa.outstanding = null;
    sa.spiR = hdr.spiR;
    sa.nr = nonce.data;
    sa.suite = suite;
    sa.keys = deriveIkeKeys(suite, skeyseed(suite, sa.ni!, sa.nr, gir), sa.ni!, sa.nr, sa.spiI, sa.spiR);
    sa.initResponse = buf;
    sa.dh = null;
    sa.state = 'authenticating';
    sa.myNextId = 1;
    sa.peerNextId = 0;
    sa.lastHeard = this.now();
    // §2.23: with NAT detected (always, we force it), continue on port 4500.
    sa.natt = true;
    sa.remotePort = this.ports.natt;
    this.sendAuth(sa);
  }

  private cookieFor(ni: Buffer, address: string, spiI: Buffer): Buffer {
    // §2.6: Cookie = <VersionIDofSecret> | Hash(Ni | IPi | SPIi | <secret>)
    return Buffer.concat([Buffer.from([1]), createHmac('sha256', this.cookieSecret).update(Buffer.concat([ni, Buffer.from(address), spiI])).digest().subarray(0, 16)]);
  }

  private halfOpenCount(): number {
    let n = 0;
    for (const sa of this.halfOpenByInit.values()) if (sa.state === 'authenticating') n++;
    return n;
  }

  private initRequest(buf: Buffer, hdr: HeaderRepr, address: string, port: number, local: string, localPort: number): void {
    if (hdr.messageId !== 0 || !hdr.spiR.equals(ZERO_SPI) || !(hdr.flags & Flag.INITIATOR)) return this.drop('bad-init-request');
    const key = hdr.spiI.toString('hex') + '|' + address;
    const known = this.halfOpenByInit.get(key);
    if (known) {
      if (known.initRequest?.equals(buf) && known.lastResponse) {
        this.count('init-retransmit-answered');
        return this.sendRaw(known.lastResponse.bytes, address, port, local, localPort === this.ports.natt);
      }
      return this.drop('init-duplicate-spi');
    }
    const conn = this.config.connections.find((c) => c.remoteAddrs.some((a) => a === address || a === '%any' || a === '0.0.0.0/0') && (c.localAddrs.includes(local) || !this.bind));
    if (!conn) return this.drop('init-no-connection', `IKE_SA_INIT from ${address}`);
    const m = parseMessage(buf);
    if (!m.ok) return this.drop(m.reason);
    const payloads = m.value.payloads;
    const saP = find(payloads, Payload.SA), ke = find(payloads, Payload.KE), nonce = find(payloads, Payload.NONCE);
    if (!saP || !ke || !nonce) return this.drop('init-missing-payload');
    const natt = localPort === this.ports.natt;
    const answer = (p: PayloadRepr[], spiR = ZERO_SPI) => this.sendRaw(emitMessage({ spiI: hdr.spiI, spiR, exchange: Exchange.IKE_SA_INIT, flags: Flag.RESPONSE, messageId: 0 }, p), address, port, local, natt);
    const notify = (type: number, data: Buffer = Buffer.alloc(0)): PayloadRepr => ({ type: Payload.NOTIFY, protocol: 0, spi: Buffer.alloc(0), notify: type, data });
    const half = this.halfOpenCount();
    if (half >= this.opts.cookieThreshold) {
      // R30: under load, a request must prove its source address first (§2.6).
      const c = payloads[0];
      const want = this.cookieFor(nonce.data, address, hdr.spiI);
      if (!(c.type === Payload.NOTIFY && c.notify === Notify.COOKIE && equalConstantTime(c.data, want))) {
        this.count('cookies-sent');
        this.drop(c.type === Payload.NOTIFY && c.notify === Notify.COOKIE ? 'init-bad-cookie' : 'init-cookie-required');
        return answer([notify(Notify.COOKIE, want)]);
      }
    }
    if (half >= this.opts.maxHalfOpen) return this.drop('half-open-limit');
    const choice = chooseIke(saP.proposals, conn.proposals);
    if (!choice) {
      this.count('no-proposal-chosen-sent');
      this.drop('init-no-proposal-chosen', `IKE_SA_INIT from ${address}: no acceptable proposal`);
      return answer([notify(Notify.NO_PROPOSAL_CHOSEN)]);
    }
    if (ke.group !== DH_ID[choice.suite.dh]) {
      this.count('invalid-ke-sent');
      const d = Buffer.alloc(2);
      d.writeUInt16BE(DH_ID[choice.suite.dh]);
      this.drop('init-invalid-ke');
      return answer([notify(Notify.INVALID_KE_PAYLOAD, d)]);
    }
    const dh = new DhExchange(choice.suite.dh);
    let gir: KeyBytes;
    try {
      gir = dh.sharedSecret(ke.data);
    } catch {
      return this.drop('init-bad-ke-value');
    }
    const sa = new IkeSa(conn, false, hdr.spiI, randomBytes(8), local, address, port);
    sa.natt = natt;
    sa.createdAt = sa.lastHeard = this.now();
    sa.ni = nonce.data;
    sa.nr = randomBytes(32);
    sa.suite = choice.suite;
    sa.keys = deriveIkeKeys(choice.suite, skeyseed(choice.suite, sa.ni, sa.nr, gir), sa.ni, sa.nr, sa.spiI, sa.spiR);
    sa.initRequest = Buffer.from(buf);
    sa.state = 'authenticating';
    sa.peerNextId = 1;
    const resp = emitMessage({ spiI: sa.spiI, spiR: sa.spiR, exchange: Exchange.IKE_SA_INIT, flags: Flag.RESPONSE, messageId: 0 }, [
      { type: Payload.SA, proposals: [choice.proposal] },
      { type: Payload.KE, group: DH_ID[choice.suite.dh], data: dh.publicValue },
      { type: Payload.NONCE, data: sa.nr },
      ...this.natPayloads(sa.spiI, sa.spiR, address, port),
    ]);
    sa.initResponse = resp;
    sa.lastResponse = { id: 0, bytes: resp };
    this.register(sa);
    this.halfOpenByInit.set(key, sa);
    this.count('ike-init-answered');
    this.sendRaw(resp, address, port, local, natt);
  }

  private failInitiation(sa: IkeSa, why: string, retry: boolean, notify?: string): void {
    this.logLine(`${sa.conn.name}: negotiation with ${sa.remoteAddr} failed: ${why}`);
    this.count(notify ? `failed-${notify}` : 'failed-initiation');
    for (const a of sa.acquires) if (a.seq !== null) this.acquireError(a.seq, retry);
    sa.acquires.length = 0;
    this.forget(sa);
  }

  private acquireError(seq: number, retry: boolean): void {
    try {
      this.km.acquireError(seq, { retry });
    } catch {
      /* the ACQUIRE timed out meanwhile */
    }
  }

  // ------------------------------------------------------------------------------
  // ike-auth

  private psk(sa: IkeSa, conn = sa.conn): Buffer | null {
    return findPsk(this.config.secrets, conn);
  }

  private sendAuth(sa: IkeSa): void {
    const psk = this.psk(sa);
    if (!psk) return this.failInitiation(sa, 'no PSK for these IDs', false);
    const idi = encodeId(sa.conn.local.id);
    const auth = pskAuth(sa.suite!.prf, psk, sa.initRequest!, sa.nr!, sa.keys!.skPi, idBody(idi));
    psk.fill(0);
    const first = sa.acquires.shift();
    const payloads: PayloadRepr[] = [{ type: Payload.IDi, ...idi, body: idBody(idi) }];
    if (sa.initialContact) payloads.push({ type: Payload.NOTIFY, protocol: 0, spi: Buffer.alloc(0), notify: Notify.INITIAL_CONTACT, data: Buffer.alloc(0) });
    const idr = encodeId(sa.conn.remote.id);
    payloads.push({ type: Payload.IDr, ...idr, body: idBody(idr) });
    payloads.push({ type: Payload.AUTH, method: AuthMethod.PSK, data: auth });
    let childReq: ReturnType<IkeDaemon['childRequestPayloads']> | null = null;
    if (first) {
      childReq = this.childRequestPayloads(first.child, null);
      payloads.push(...childReq.payloads);
    }
    this.count('ike-auth-sent');
    this.request(sa, Exchange.IKE_AUTH, payloads, (resp) => this.authResponse(sa, resp, first ?? null, childReq), () => this.failInitiation(sa, 'no answer to IKE_AUTH', true));
  }

  private childRequestPayloads(child: ChildConfig, pfs: DhGroup | null, localTs?: TsRange[], remoteTs?: TsRange[]) {
    const spiIn = this.allocSpi();
    const offer = espOffer(child.espProposals, spiIn, pfs);
    const tsi = localTs ?? child.localTs.map(rangeOfConfig), tsr = remoteTs ?? child.remoteTs.map(rangeOfConfig);
    const payloads: PayloadRepr[] = [
      { type: Payload.SA, proposals: offer },
      { type: Payload.TSi, selectors: tsi.map(reprOfRange) },
      { type: Payload.TSr, selectors: tsr.map(reprOfRange) },
    ];
    return { spiIn, offer, payloads, tsi, tsr };
  }

  private authResponse(sa: IkeSa, payloads: PayloadRepr[], first: { seq: number | null; child: ChildConfig } | null, childReq: ReturnType<IkeDaemon['childRequestPayloads']> | null): void {
    if (findNotify(payloads, Notify.AUTHENTICATION_FAILED)) {
      if (first) sa.acquires.unshift(first);
      return this.failInitiation(sa, 'peer answered AUTHENTICATION_FAILED', false, 'AUTHENTICATION_FAILED');
    }
    const idr = find(payloads, Payload.IDr), auth = find(payloads, Payload.AUTH);
    if (!idr || !auth) {
      if (first) sa.acquires.unshift(first);
      return this.failInitiation(sa, 'IKE_AUTH response without IDr/AUTH', false);
    }
    const want = encodeId(sa.conn.remote.id);
    const psk = this.psk(sa);
    const expect = psk ? pskAuth(sa.suite!.prf, psk, sa.initResponse!, sa.ni!, sa.keys!.skPr, idr.body) : Buffer.alloc(0);
    psk?.fill(0);
    if (!sameId({ idType: idr.idType, data: idr.data }, want) || auth.method !== AuthMethod.PSK || !equalConstantTime(auth.data, expect)) {
      if (first) sa.acquires.unshift(first);
      this.drop('auth-response-failed');
      return this.failInitiation(sa, 'the responder did not authenticate', false, 'AUTHENTICATION_FAILED');
    }
    this.markEstablished(sa);
    if (first && childReq) this.childResponse(sa, payloads, first.child, first.seq, childReq, { ni: sa.ni!, nr: sa.nr! }, null, null);
    for (const a of sa.acquires.splice(0)) this.createChild(sa, this.planOf(sa.conn, a.child), a.seq);
  }

  private markEstablished(sa: IkeSa): void {
    sa.state = 'established';
    this.contacted.add(sa.remoteAddr);
    for (const [key, v] of this.halfOpenByInit) if (v === sa) this.halfOpenByInit.delete(key);
    this.count('ike-established');
    this.logLine(`${sa.conn.name}: IKE SA ${sa.id} established with ${sa.remoteAddr} (${suiteName(sa.suite!)}) as ${sa.initiator ? 'initiator' : 'responder'}`);
  }

  private authRequest(sa: IkeSa, payloads: PayloadRepr[], reply: (p: PayloadRepr[]) => void): void {
    if (sa.state !== 'authenticating' || sa.initiator) {
      reply([{ type: Payload.NOTIFY, protocol: 0, spi: Buffer.alloc(0), notify: Notify.INVALID_SYNTAX, data: Buffer.alloc(0) }]);
      return this.drop('auth-unexpected');
    }
    const fail = (why: string) => {
      this.drop('auth-failed', `${sa.remoteAddr}: ${why}`);
      reply([{ type: Payload.NOTIFY, protocol: 0, spi: Buffer.alloc(0), notify: Notify.AUTHENTICATION_FAILED, data: Buffer.alloc(0) }]);
      this.count('auth-failed-sent');
      // Keep the SA a moment for a retransmitted request; it is half-open and expires.
      sa.state = 'deleting';
      setTimeout(() => this.forget(sa), 2000).unref?.();
    };
    const idi = find(payloads, Payload.IDi), auth = find(payloads, Payload.AUTH), idrP = find(payloads, Payload.IDr);
    if (!idi || !auth) return fail('IDi or AUTH missing');
    const peerId = { idType: idi.idType, data: idi.data };
    const conn = this.config.connections.find((c) => (c === sa.conn || c.remoteAddrs.includes(sa.remoteAddr)) && sameId(encodeId(c.remote.id), peerId) && (!idrP || sameId(encodeId(c.local.id), { idType: idrP.idType, data: idrP.data })) && c.proposals.length);
    if (!conn) return fail('no connection for that identity');
    const psk = this.psk(sa, conn);
    if (!psk) return fail('no PSK');
    const expect = pskAuth(sa.suite!.prf, psk, sa.initRequest!, sa.nr!, sa.keys!.skPi, idi.body);
    if (auth.method !== AuthMethod.PSK || !equalConstantTime(auth.data, expect)) {
      psk.fill(0);
      return fail('AUTH does not verify');
    }
    sa.conn = conn;
    const idr = encodeId(conn.local.id);
    const myAuth = pskAuth(sa.suite!.prf, psk, sa.initResponse!, sa.ni!, sa.keys!.skPr, idBody(idr));
    psk.fill(0);
    // R29: INITIAL_CONTACT: the peer forgot every SA; so do we, before the new ones go in.
    if (findNotify(payloads, Notify.INITIAL_CONTACT)) this.initialContact(sa);
    this.markEstablished(sa);
    const out: PayloadRepr[] = [{ type: Payload.IDr, ...idr, body: idBody(idr) }, { type: Payload.AUTH, method: AuthMethod.PSK, data: myAuth }];
    if (find(payloads, Payload.SA)) out.push(...this.childResponder(sa, payloads, { ni: sa.ni!, nr: sa.nr! }, null, null));
    reply(out);
  }

  private initialContact(sa: IkeSa): void {
    this.count('initial-contact');
    for (const other of new Set(this.sas.values())) {
      if (other === sa || other.remoteAddr !== sa.remoteAddr || other.state === 'dead') continue;
      if (other.initiator && (other.state === 'connecting' || other.state === 'authenticating')) continue; // our own attempt
      this.forget(other);
    }
    const n = this.km.flushPeer(sa.remoteAddr, this.now());
    this.logLine(`${sa.conn.name}: INITIAL_CONTACT from ${sa.remoteAddr}: flushed ${n} SAs`);
  }

  // ------------------------------------------------------------------------------
  // child-create / child-rekey: both roles

  /** Responder side of a CHILD SA (IKE_AUTH or CREATE_CHILD_SA): choose, narrow, install; the response payloads. */
  private childResponder(sa: IkeSa, payloads: PayloadRepr[], nonces: { ni: Buffer; nr: Buffer }, ke: { group: DhGroup; gir: KeyBytes } | null, rekeyOf: ChildSa | null): PayloadRepr[] {
    const n = (type: number): PayloadRepr[] => {
      this.count(`sent-${notifyName(type)}`);
      return [{ type: Payload.NOTIFY, protocol: 0, spi: Buffer.alloc(0), notify: type, data: Buffer.alloc(0) }];
    };
    const saP = find(payloads, Payload.SA), tsi = find(payloads, Payload.TSi), tsr = find(payloads, Payload.TSr);
    if (!saP || !tsi || !tsr) return n(Notify.INVALID_SYNTAX);
    if (findNotify(payloads, Notify.USE_TRANSPORT_MODE)) return n(Notify.NO_PROPOSAL_CHOSEN);
    const peerTsi = tsi.selectors.map(rangeOfRepr), peerTsr = tsr.selectors.map(rangeOfRepr);
    // The child: the rekeyed one, else the first of the connection whose selectors overlap.
    let child: ChildConfig | null = rekeyOf?.config ?? null;
    let nTsi: TsRange[] = [], nTsr: TsRange[] = [];
    for (const c of child ? [child] : sa.conn.children) {
      const a = narrow(peerTsi, c.remoteTs.map(rangeOfConfig)), b = narrow(peerTsr, c.localTs.map(rangeOfConfig));
      if (a.length && b.length) {
        child = c;
        nTsi = a;
        nTsr = b;
        break;
      }
    }
    if (!child || !nTsi.length) return n(Notify.TS_UNACCEPTABLE);
    const choice = chooseEsp(saP.proposals, child.espProposals, ke?.group ?? null);
    if (!choice) return n(Notify.NO_PROPOSAL_CHOSEN);
    const spiIn = this.allocSpi();
    const spiOut = saP.proposals.find((p) => p.num === choice.proposal.num)!.spi.readUInt32BE(0);
    const c: ChildSa = {
      config: child, reqid: this.planOf(sa.conn, child).reqid, spiIn, spiOut, inSaId: null, outSaId: null, suite: choice.suite,
      localTs: nTsr, remoteTs: nTsi, state: 'installed', nonces: [nonces.ni, nonces.nr],
    };
    if (!this.installChild(sa, c, nonces, false, null, ke?.gir)) return n(Notify.NO_PROPOSAL_CHOSEN);
    if (rekeyOf) {
      if (rekeyOf.state === 'rekeying') (rekeyOf as ChildSa & { collision?: ChildSa }).collision = c;
      else rekeyOf.state = 'rekeyed';
    }
    const spi = Buffer.alloc(4);
    spi.writeUInt32BE(spiIn);
    return [
      { type: Payload.SA, proposals: [{ ...choice.proposal, spi }] },
      ...(rekeyOf || ke ? [] : []),
      { type: Payload.TSi, selectors: nTsi.map(reprOfRange) },
      { type: Payload.TSr, selectors: nTsr.map(reprOfRange) },
    ];
  }

  /** Initiator side: the response to our CHILD SA request; installs it and answers the ACQUIRE. */
  private childResponse(sa: IkeSa, payloads: PayloadRepr[], child: ChildConfig, seq: number | null, req: { spiIn: number; offer: ProposalRepr[]; tsi: TsRange[]; tsr: TsRange[] }, nonces: { ni: Buffer; nr: Buffer }, gir: KeyBytes | null, rekeyOf: ChildSa | null): ChildSa | null {
    const err = payloads.find((p) => p.type === Payload.NOTIFY && p.notify <= NOTIFY_ERROR_MAX);
    const failed = (why: string) => {
      this.logLine(`${sa.conn.name}/${child.name}: CHILD SA failed: ${why}`);
      this.count(`child-failed`);
      if (seq !== null) this.acquireError(seq, false);
      return null;
    };
    if (err && err.type === Payload.NOTIFY) return failed(`peer answered ${notifyName(err.notify)}`);
    const saP = find(payloads, Payload.SA), tsi = find(payloads, Payload.TSi), tsr = find(payloads, Payload.TSr);
    if (!saP || !tsi || !tsr) return failed('SA/TSi/TSr missing');
    const acc = acceptedEsp(saP.proposals, req.offer);
    if (!acc) return failed('the responder chose an ESP proposal we did not offer');
    const rTsi = tsi.selectors.map(rangeOfRepr), rTsr = tsr.selectors.map(rangeOfRepr);
    if (!rTsi.every((t) => req.tsi.some((o) => contains(o, t))) || !rTsr.every((t) => req.tsr.some((o) => contains(o, t)))) return failed('the responder widened the traffic selectors');
    const c: ChildSa = {
      config: child, reqid: this.planOf(sa.conn, child).reqid, spiIn: req.spiIn, spiOut: acc.spi, inSaId: null, outSaId: null, suite: acc.suite,
      localTs: rTsi, remoteTs: rTsr, state: 'installed', nonces: [nonces.ni, nonces.nr],
    };
    if (!this.installChild(sa, c, nonces, true, seq, gir ?? undefined)) return failed('install refused');
    if (rekeyOf) rekeyOf.state = 'rekeyed';
    return c;
  }

  /** Derive KEYMAT and install the inbound, then the outbound SA (which releases the queue, R9). */
  private installChild(sa: IkeSa, c: ChildSa, nonces: { ni: Buffer; nr: Buffer }, exchangeInitiator: boolean, seq: number | null, gir?: KeyBytes): boolean {
    const lengths = espKeyLengths(c.suite);
    const km = childKeymat(sa.suite!.prf, sa.keys!.skD, nonces.ni, nonces.nr, lengths, gir);
    const mineOut = exchangeInitiator ? { e: km.encrI, a: km.integI } : { e: km.encrR, a: km.integR };
    const mineIn = exchangeInitiator ? { e: km.encrR, a: km.integR } : { e: km.encrI, a: km.integI };
    const rekey = c.config.rekeyTimeMs, life = c.config.lifeTimeMs;
    // Jitter the soft limit (like charon's rand_time) so both ends rarely rekey at once.
    const soft = rekey > 0 ? Math.max(1, Math.round(rekey - Math.random() * Math.min(rekey * 0.1, Math.max(0, life - rekey)))) : 0;
    const lifetime = soft || life ? { lifetime: { ...(soft ? { soft: { addTime: soft } } : {}), ...(life ? { hard: { addTime: life } } : {}) } } : {};
    const keys = (k: { e: KeyBytes; a: KeyBytes }): Partial<SaSpec> => ({
      encryption: { algorithm: c.suite.encr.alg, key: k.e.expose() },
      ...(c.suite.integ ? { integrity: { algorithm: ESP_INTEG[c.suite.integ]!, key: k.a.expose() } } : {}),
    });
    const common = { mode: 'tunnel' as const, reqid: c.reqid, esn: c.suite.esn, ...lifetime };
    const now = this.now();
    try {
      c.inSaId = this.km.installSA({ spi: c.spiIn, src: sa.remoteAddr, dst: sa.localAddr, ...common, ...keys(mineIn), encap: { sport: sa.remotePort, dport: this.ports.natt } }, now);
      const out: SaSpec = { spi: c.spiOut, src: sa.localAddr, dst: sa.remoteAddr, ...common, ...keys(mineOut), encap: { sport: this.ports.natt, dport: sa.remotePort } };
      try {
        c.outSaId = this.km.installSA(seq !== null ? { ...out, acquireSeq: seq } : out, now);
      } catch (err) {
        if (!(err instanceof LarvalError && (err.code === 'ESTALE' || err.code === 'EINVAL')) || seq === null) throw err;
        c.outSaId = this.km.installSA(out, now); // the ACQUIRE timed out meanwhile: the SA is still wanted
      }
      c.outSpec = out;
    } catch (err) {
      this.drop('child-install-failed', (err as Error).message);
      if (c.inSaId !== null) this.km.removeSA(c.inSaId);
      return false;
    }
    sa.children.push(c);
    this.count('child-installed');
    this.logLine(`${sa.conn.name}/${c.config.name}: CHILD SA ${c.spiIn.toString(16)}_i ${c.spiOut.toString(16)}_o installed (${suiteName(c.suite)}) ${c.localTs.map(describeTs).join(',')} === ${c.remoteTs.map(describeTs).join(',')}`);
    return true;
  }

  /** A new CHILD SA on an established IKE SA (CREATE_CHILD_SA, §1.3.1). */
  private createChild(sa: IkeSa, plan: ChildPlan, seq: number | null): void {
    const pfs = plan.child.espProposals[0]?.dh[0] ?? null;
    const dh = pfs ? new DhExchange(pfs) : null;
    const ni = randomBytes(32);
    const req = this.childRequestPayloads(plan.child, pfs);
    const payloads: PayloadRepr[] = [req.payloads[0], { type: Payload.NONCE, data: ni }, ...(dh ? [{ type: Payload.KE, group: DH_ID[dh.group], data: dh.publicValue } as PayloadRepr] : []), req.payloads[1], req.payloads[2]];
    this.count('create-child-sent');
    this.request(sa, Exchange.CREATE_CHILD_SA, payloads, (resp) => {
      const nr = find(resp, Payload.NONCE), ke = find(resp, Payload.KE);
      let gir: KeyBytes | null = null;
      if (dh && !findNotify(resp, Notify.NO_PROPOSAL_CHOSEN)) {
        if (!ke || ke.group !== DH_ID[dh.group]) return void this.childResponse(sa, [{ type: Payload.NOTIFY, protocol: 0, spi: Buffer.alloc(0), notify: Notify.INVALID_KE_PAYLOAD, data: Buffer.alloc(0) }], plan.child, seq, req, { ni, nr: ni }, null, null);
        try {
          gir = dh.sharedSecret(ke.data);
        } catch {
          return void this.drop('bad-ke-value');
        }
      }
      if (!nr && !resp.some((p) => p.type === Payload.NOTIFY && p.notify <= NOTIFY_ERROR_MAX)) return void this.drop('create-child-no-nonce');
      this.childResponse(sa, resp, plan.child, seq, req, { ni, nr: nr?.data ?? ni }, gir, null);
    });
  }

  private rekeyChild(sa: IkeSa, old: ChildSa): void {
    old.state = 'rekeying';
    this.count('child-rekeys-started');
    const pfs = old.config.espProposals[0]?.dh[0] ?? null;
    const dh = pfs ? new DhExchange(pfs) : null;
    const ni = randomBytes(32);
    const req = this.childRequestPayloads(old.config, pfs, old.localTs, old.remoteTs);
    const spi = Buffer.alloc(4);
    spi.writeUInt32BE(old.spiIn);
    const payloads: PayloadRepr[] = [
      { type: Payload.NOTIFY, protocol: Protocol.ESP, spi, notify: Notify.REKEY_SA, data: Buffer.alloc(0) },
      req.payloads[0], { type: Payload.NONCE, data: ni },
      ...(dh ? [{ type: Payload.KE, group: DH_ID[dh.group], data: dh.publicValue } as PayloadRepr] : []),
      req.payloads[1], req.payloads[2],
    ];
    this.logLine(`${sa.conn.name}/${old.config.name}: rekeying CHILD SA ${old.spiIn.toString(16)}_i${pfs ? ` with PFS ${pfs}` : ''}`);
    this.request(sa, Exchange.CREATE_CHILD_SA, payloads, (resp) => {
      const nr = find(resp, Payload.NONCE), ke = find(resp, Payload.KE);
      const error = resp.find((p) => p.type === Payload.NOTIFY && p.notify <= NOTIFY_ERROR_MAX);
      let gir: KeyBytes | null = null;
      if (!error && dh) {
        if (!ke || ke.group !== DH_ID[dh.group]) {
          old.state = 'installed';
          return void this.drop('rekey-response-bad-ke');
        }
        try {
          gir = dh.sharedSecret(ke.data);
        } catch {
          old.state = 'installed';
          return void this.drop('bad-ke-value');
        }
      }
      if (error || !nr) {
        // The old SA lives on until its hard limit; the next soft expiry does not come again, so retry once later via hard expiry handling.
        old.state = 'installed';
        this.count('child-rekey-failed');
        return;
      }
      const fresh = this.childResponse(sa, resp, old.config, null, req, { ni, nr: nr.data }, gir, null);
      if (!fresh) {
        old.state = 'installed';
        return;
      }
      const collision = (old as ChildSa & { collision?: ChildSa }).collision;
      old.state = 'rekeyed';
      this.count('child-rekeyed');
      if (collision) {
        // §2.8.1: both ends rekeyed the same CHILD SA. The SA made by the exchange
        // with the lowest nonce is redundant; its initiator deletes it.
        const min = (ns: Buffer[]) => ns.reduce((a, b) => (Buffer.compare(a, b) <= 0 ? a : b));
        const ours = min(fresh.nonces), theirs = min(collision.nonces);
        this.count('rekey-collisions');
        if (Buffer.compare(ours, theirs) < 0) {
          // Ours is redundant: its outbound SA goes at once, so the engine sends on
          // the peer's new SA (the newest left), never on one the peer deletes.
          return this.deleteChild(sa, fresh, false);
        }
      }
      this.deleteChild(sa, old);
    }, () => {
      old.state = 'installed';
      this.peerDead(sa);
    });
  }

  private createChildRequest(sa: IkeSa, payloads: PayloadRepr[], reply: (p: PayloadRepr[]) => void): void {
    const n = (type: number, data: Buffer = Buffer.alloc(0)) => reply([{ type: Payload.NOTIFY, protocol: 0, spi: Buffer.alloc(0), notify: type, data }]);
    if (sa.state !== 'established' && sa.state !== 'rekeying') return n(Notify.TEMPORARY_FAILURE);
    const saP = find(payloads, Payload.SA), nonce = find(payloads, Payload.NONCE), ke = find(payloads, Payload.KE);
    if (!saP || !nonce) return n(Notify.INVALID_SYNTAX);
    if (saP.proposals.some((p) => p.protocol === Protocol.IKE)) return this.ikeRekeyRequest(sa, saP.proposals, nonce.data, ke ?? null, reply);
    const rekey = findNotify(payloads, Notify.REKEY_SA);
    let old: ChildSa | null = null;
    if (rekey) {
      if (rekey.spi.length !== 4) return n(Notify.INVALID_SYNTAX);
      const spi = rekey.spi.readUInt32BE(0);
      old = sa.children.find((c) => c.spiOut === spi && c.state !== 'deleting') ?? null;
      if (!old) return n(Notify.CHILD_SA_NOT_FOUND);
    }
    let kex: { group: DhGroup; gir: KeyBytes; pub: Buffer } | null = null;
    if (ke) {
      const group = (Object.keys(DH_ID) as DhGroup[]).find((g) => DH_ID[g] === ke.group);
      const child = old?.config ?? sa.conn.children[0];
      const allowed = child.espProposals.flatMap((p) => p.dh);
      if (!group || !allowed.includes(group)) {
        if (!allowed.length) return n(Notify.NO_PROPOSAL_CHOSEN);
        const d = Buffer.alloc(2);
        d.writeUInt16BE(DH_ID[allowed[0]]);
        return n(Notify.INVALID_KE_PAYLOAD, d);
      }
      const dh = new DhExchange(group);
      try {
        kex = { group, gir: dh.sharedSecret(ke.data), pub: dh.publicValue };
      } catch {
        return n(Notify.INVALID_SYNTAX);
      }
    }
    const nr = randomBytes(32);
    const out = this.childResponder(sa, payloads, { ni: nonce.data, nr }, kex, old);
    if (out[0]?.type === Payload.NOTIFY) return reply(out);
    if (old) this.count('child-rekeys-answered');
    reply([out[0], { type: Payload.NONCE, data: nr }, ...(kex ? [{ type: Payload.KE, group: DH_ID[kex.group], data: kex.pub } as PayloadRepr] : []), ...out.slice(1)]);
  }

  // ------------------------------------------------------------------------------
  // ike-rekey (§1.3.2, §2.18)

  private startIkeRekey(sa: IkeSa): void {
    if (sa.state !== 'established') return;
    sa.state = 'rekeying';
    const group = sa.suite!.dh;
    const dh = new DhExchange(group);
    const ni = randomBytes(32);
    const spi = randomBytes(8);
    const offer = ikeOffer(sa.conn.proposals, spi, group);
    this.count('ike-rekeys-started');
    this.request(sa, Exchange.CREATE_CHILD_SA, [{ type: Payload.SA, proposals: offer }, { type: Payload.NONCE, data: ni }, { type: Payload.KE, group: DH_ID[group], data: dh.publicValue }], (resp) => {
      const saP = find(resp, Payload.SA), nr = find(resp, Payload.NONCE), ke = find(resp, Payload.KE);
      const suite = saP ? acceptedIke(saP.proposals.map((p) => ({ ...p, spi: Buffer.alloc(0) })), offer.map((p) => ({ ...p, spi: Buffer.alloc(0) }))) : null;
      if (!saP || !nr || !ke || !suite || saP.proposals[0].spi.length !== 8 || ke.group !== DH_ID[suite.dh] || suite.dh !== group) {
        sa.state = 'established';
        this.count('ike-rekey-failed');
        return;
      }
      let gir: KeyBytes;
      try {
        gir = dh.sharedSecret(ke.data);
      } catch {
        sa.state = 'established';
        return void this.drop('bad-ke-value');
      }
      const fresh = new IkeSa(sa.conn, true, spi, saP.proposals[0].spi, sa.localAddr, sa.remoteAddr, sa.remotePort);
      this.adoptRekeyed(sa, fresh, suite, rekeySkeyseed(sa.suite!.prf, sa.keys!.skD, gir, ni, nr.data), ni, nr.data);
      this.deleteIke(sa);
    });
  }

  private adoptRekeyed(old: IkeSa, fresh: IkeSa, suite: NonNullable<IkeSa['suite']>, seed: KeyBytes, ni: Buffer, nr: Buffer): void {
    fresh.natt = old.natt;
    fresh.suite = suite;
    fresh.keys = deriveIkeKeys(suite, seed, ni, nr, fresh.spiI, fresh.spiR);
    fresh.state = 'established';
    fresh.createdAt = fresh.lastHeard = this.now();
    fresh.children.push(...old.children.splice(0));
    this.register(fresh);
    this.count('ike-rekeyed');
    this.logLine(`${old.conn.name}: IKE SA ${old.id} rekeyed into ${fresh.id}`);
  }

  private ikeRekeyRequest(sa: IkeSa, proposals: ProposalRepr[], ni: Buffer, ke: Extract<PayloadRepr, { type: 34 }> | null, reply: (p: PayloadRepr[]) => void): void {
    const n = (type: number, data: Buffer = Buffer.alloc(0)) => reply([{ type: Payload.NOTIFY, protocol: 0, spi: Buffer.alloc(0), notify: type, data }]);
    if (sa.state === 'rekeying') return n(Notify.TEMPORARY_FAILURE); // our own rekey is in flight
    const choice = chooseIke(proposals, sa.conn.proposals);
    if (!choice) return n(Notify.NO_PROPOSAL_CHOSEN);
    const peerSpi = proposals.find((p) => p.num === choice.proposal.num)!.spi;
    if (peerSpi.length !== 8 || !ke) return n(Notify.INVALID_SYNTAX);
    if (ke.group !== DH_ID[choice.suite.dh]) {
      const d = Buffer.alloc(2);
      d.writeUInt16BE(DH_ID[choice.suite.dh]);
      return n(Notify.INVALID_KE_PAYLOAD, d);
    }
    const dh = new DhExchange(choice.suite.dh);
    let gir: KeyBytes;
    try {
      gir = dh.sharedSecret(ke.data);
    } catch {
      return n(Notify.INVALID_SYNTAX);
    }
    const nr = randomBytes(32);
    const fresh = new IkeSa(sa.conn, false, peerSpi, randomBytes(8), sa.localAddr, sa.remoteAddr, sa.remotePort);
    this.adoptRekeyed(sa, fresh, choice.suite, rekeySkeyseed(sa.suite!.prf, sa.keys!.skD, gir, ni, nr), ni, nr);
    sa.state = 'deleting'; // the initiator deletes the old IKE SA next
    this.count('ike-rekeys-answered');
    reply([{ type: Payload.SA, proposals: [{ ...choice.proposal, spi: fresh.spiR }] }, { type: Payload.NONCE, data: nr }, { type: Payload.KE, group: DH_ID[choice.suite.dh], data: dh.publicValue }]);
  }

  // ------------------------------------------------------------------------------
  // child-delete / ike-delete / ike-dpd (§1.4)

  private removeChildSas(c: ChildSa, keepDraining: boolean, sa?: IkeSa): void {
    const outGone = !keepDraining && c.outSaId !== null;
    for (const id of [c.inSaId, keepDraining ? null : c.outSaId]) {
      if (id === null) continue;
      try {
        this.km.removeSA(id);
      } catch {
        /* already gone (drained or expired) */
      }
    }
    c.inSaId = null;
    if (!keepDraining) c.outSaId = null;
    if (outGone && sa) for (const o of sa.children) if (o !== c && o.config === c.config && o.state === 'installed') this.reviveOutbound(o);
  }

  /**
   * §2.8.1 collisions leave two new CHILD SAs; the engine drains the older one's
   * outbound SA as soon as the newer is installed (R15). When the newer one is the
   * redundant SA and goes, the survivor's outbound SA is installed again (same SPI,
   * keys and sequence number) so that it is the newest, not draining.
   */
  private reviveOutbound(c: ChildSa): void {
    if (c.outSaId === null || !c.outSpec) return;
    const cur = this.km.dump().sas.find((x) => x.id === c.outSaId);
    if (!cur || cur.state !== 'draining') return;
    this.km.removeSA(c.outSaId);
    c.outSaId = this.km.installSA({ ...c.outSpec, lastSeq: cur.usage.lastSeq }, this.now());
    this.count('outbound-revived');
  }

  private deleteChild(sa: IkeSa, c: ChildSa, drain = c.state === 'rekeyed'): void {
    const wasRekeyed = drain;
    c.state = 'deleting';
    const spi = Buffer.alloc(4);
    spi.writeUInt32BE(c.spiIn);
    this.request(sa, Exchange.INFORMATIONAL, [{ type: Payload.DELETE, protocol: Protocol.ESP, spiSize: 4, spis: [spi] }], () => {
      // The outbound SA of a rekeyed child drains in the engine (R15); the inbound one goes now.
      this.removeChildSas(c, wasRekeyed, sa);
      const i = sa.children.indexOf(c);
      if (i >= 0) sa.children.splice(i, 1);
      this.count('child-deleted');
    });
  }

  private deleteIke(sa: IkeSa): void {
    sa.state = 'deleting';
    const done = () => {
      for (const c of sa.children) this.removeChildSas(c, false);
      this.forget(sa);
    };
    this.request(sa, Exchange.INFORMATIONAL, [{ type: Payload.DELETE, protocol: Protocol.IKE, spiSize: 0, spis: [] }], done, done);
  }

  private informationalRequest(sa: IkeSa, payloads: PayloadRepr[], reply: (p: PayloadRepr[]) => void): void {
    const dels = payloads.filter((p): p is Extract<PayloadRepr, { type: 42 }> => p.type === Payload.DELETE);
    if (dels.some((d) => d.protocol === Protocol.IKE)) {
      reply([]);
      this.count('ike-deleted-by-peer');
      this.logLine(`${sa.conn.name}: peer deleted IKE SA ${sa.id}`);
      // A rekeyed IKE SA hands its children on; a deleted one takes them along.
      for (const c of sa.children) this.removeChildSas(c, false);
      this.forget(sa);
      return;
    }
    const mine: Buffer[] = [];
    for (const d of dels) {
      if (d.protocol !== Protocol.ESP || d.spiSize !== 4) continue;
      for (const s of d.spis) {
        const c = sa.children.find((x) => x.spiOut === s.readUInt32BE(0));
        if (!c) continue;
        const spi = Buffer.alloc(4);
        spi.writeUInt32BE(c.spiIn);
        if (c.state !== 'deleting') mine.push(spi);
        // A rekeyed SA's outbound half drains (R15: a newer one took over); any other goes now.
        this.removeChildSas(c, c.state === 'rekeyed', sa);
        sa.children.splice(sa.children.indexOf(c), 1);
        this.count('child-deleted-by-peer');
      }
    }
    if (!dels.length) this.count('liveness-answered');
    reply(mine.length ? [{ type: Payload.DELETE, protocol: Protocol.ESP, spiSize: 4, spis: mine }] : []);
  }

  /** R29: a peer that stopped answering loses its IKE and CHILD SAs; its next packet negotiates afresh. */
  private peerDead(sa: IkeSa): void {
    this.count('peer-dead');
    this.logLine(`${sa.conn.name}: ${sa.remoteAddr} does not answer: IKE SA ${sa.id} and its CHILD SAs removed`);
    for (const c of sa.children) this.removeChildSas(c, false);
    for (const a of sa.acquires) if (a.seq !== null) this.acquireError(a.seq, true);
    this.forget(sa);
    // We hold nothing with it any more: the next IKE SA says so (INITIAL_CONTACT).
    if (![...this.sas.values()].some((o) => o.remoteAddr === sa.remoteAddr && o.state === 'established')) this.contacted.delete(sa.remoteAddr);
  }

  private tick(): void {
    const now = this.now();
    for (const sa of new Set(this.sas.values())) {
      if (sa.state === 'dead') continue;
      if (!sa.initiator && sa.state === 'authenticating' && now - sa.createdAt > this.opts.halfOpenTimeoutMs) {
        this.drop('half-open-expired');
        this.forget(sa);
        continue;
      }
      if (sa.state !== 'established') continue;
      if (sa.conn.rekeyTimeMs > 0 && now - sa.createdAt > sa.conn.rekeyTimeMs && sa.initiator && !sa.outstanding) {
        this.startIkeRekey(sa);
        continue;
      }
      if (sa.conn.dpdDelayMs > 0 && now - sa.lastHeard > sa.conn.dpdDelayMs && !sa.outstanding && !sa.waiting.length) {
        this.count('dpd-sent');
        sa.lastHeard = now;
        this.request(sa, Exchange.INFORMATIONAL, [], () => {});
      }
    }
  }
}

export { EXCHANGE_NAME, payloadType };
