// larval as a userspace IPsec gateway (issue 7): packets read from a TUN device go
// through the gateway and out as ESP in UDP (RFC 3948) to the peer; ESP in UDP
// from the peer goes through the gateway and into the TUN device.
//
// Keys come from a minimal key exchange on the same UDP socket, marked like IKE
// with the non-ESP marker (four zero octets, RFC 3948 §2.2), so it never reaches
// the ESP path. It is a test key manager, not IKE: no authentication, keys
// derived from a shared secret per SPI (scriptedKeys). Each side negotiates its
// own outbound direction when its engine sends an ACQUIRE (so each side sends
// exactly one ACQUIRE for a new tunnel):
//
//   initiator (needs an SA to the peer)        responder
//   ACQUIRE → {t:'init', id, mode, boot}    →  picks the SPI of its inbound SA,
//                                               installs it, answers
//            ← {t:'resp', id, spi, boot}
//   installs the outbound SA with that SPI, answering the ACQUIRE: the queued
//   packets leave (R9).
//
// A rekey is the same exchange started by EXPIRE(soft) (R14). Every message carries
// the sender's boot id; when a peer's boot id changes it restarted, and every SA
// with it is removed (as on INITIAL_CONTACT, R21) before anything else. A gateway
// that gets ESP on an SPI it does not know (it restarted: INVALID_SPI, R18) sends
// {t:'hello', boot} so that the peer learns it at once.

import { createSocket, type Socket } from 'node:dgram';
import * as L from '../../assembly/layout.js';
import { createGateway, type Gateway } from '../gateway/gateway.js';
import { scriptedKeys } from '../gateway/scripted-km.js';
import { TunDevice } from './device.js';
import { LarvalError } from '../common/errors.js';
import { emitIpv4 } from '../wire/ipv4.js';
import { parseAddress } from '../common/addr.js';
import { IPV4_MIN_HEADER, NATT_PORT, NON_ESP_MARKER_LEN, PROTO_UDP, UDP_HEADER } from '../../assembly/wire-defs.js';
import type { KeyManagerSession } from '../gateway/km-session.js';
import type { AcquireEvent, PolicySpec, SaSpec } from '../engine/types.js';

export interface TunGatewayOptions {
  policies: readonly PolicySpec[];
  sas?: readonly SaSpec[];
  dev: string;
  listen: { address: string; port: number };
  peer: { address: string; port: number };
  /** Key-exchange answer delay, ms (a slow key manager). Default 0. */
  kmDelay?: number;
  /** Soft lifetime of negotiated SAs, ms (hard: 1.5×). Default none. */
  rekeyMs?: number;
  secret?: string;
  mtu?: number;
}

export interface TunGatewayCounters {
  tunIn: number;
  tunOut: number;
  udpIn: number;
  udpOut: number;
  kmIn: number;
  kmOut: number;
  acquires: number;
  negotiated: number;
  rekeys: number;
  peerRestarts: number;
  drops: Record<string, number>;
  sas: number;
}

const MARKER = NON_ESP_MARKER_LEN;
const IPV4_HEADER = IPV4_MIN_HEADER;

export class TunGateway {
  private constructor(
    readonly gw: Gateway,
    readonly tun: TunDevice,
    private readonly socket: Socket,
    private readonly km: KeyManagerSession,
    private readonly options: TunGatewayOptions,
  ) {}

  private nextSpi = 0;
  private nextId = 1;
  /** This process's boot id, in every message; a peer whose boot id changes restarted. */
  private readonly boot = (Math.random() * 0xffffffff) >>> 0;
  private peerBoot: number | null = null;
  private readonly pending = new Map<number, { ev: AcquireEvent | null; timer: NodeJS.Timeout; tries: number; mode: 'tunnel' | 'transport' }>();
  private readonly counters: TunGatewayCounters = { tunIn: 0, tunOut: 0, udpIn: 0, udpOut: 0, kmIn: 0, kmOut: 0, acquires: 0, negotiated: 0, rekeys: 0, peerRestarts: 0, drops: {}, sas: 0 };
  private readonly t0 = performance.now();
  private clock: NodeJS.Timeout | null = null;

  static async open(options: TunGatewayOptions): Promise<TunGateway> {
    for (const [field, a] of [['listen', options.listen.address], ['peer', options.peer.address]] as const) {
      if (parseAddress(a, field).family !== 4) throw new LarvalError('EINVAL', `tun: ${field} ${a} is not an IPv4 address (IPv4 underlay only)`);
    }
    const gw = await createGateway({ preset: 'larval' });
    for (const p of options.policies) gw.engine.addPolicy(p);
    for (const sa of options.sas ?? []) gw.engine.addSA(sa, 0);
    const tun = await TunDevice.open({ name: options.dev, ...(options.mtu ? { mtu: options.mtu } : {}) });
    const socket = createSocket('udp4');
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once('error', reject);
        socket.bind(options.listen.port, options.listen.address, () => {
          socket.off('error', reject);
          resolve();
        });
      });
    } catch (err) {
      await tun.close();
      throw new LarvalError('EINVAL', `tun: cannot listen on ${options.listen.address}:${options.listen.port}: ${(err as Error).message}`);
    }
    // A burst from the peer must wait in the socket while the event loop encrypts:
    // ask for a large buffer (the kernel caps it at net.core.rmem_max).
    try {
      socket.setRecvBufferSize(8 << 20);
      socket.setSendBufferSize(8 << 20);
    } catch {
      /* the default stays */
    }
    const km = gw.registerKeyManager({ name: 'tun-km' });
    const g = new TunGateway(gw, tun, socket, km, options);
    g.start();
    return g;
  }

  private now(): number {
    return performance.now() - this.t0;
  }

  private start(): void {
    // SPIs: a per-process random base, so a restarted gateway never reuses one.
    this.nextSpi = 0x10000 + ((Math.random() * 0x7fff0000) >>> 0);
    this.km.on('acquire', (ev) => {
      this.counters.acquires++;
      this.initiate(ev, ev.template.mode);
    });
    // ESP from the peer on an SPI we do not know (R18): the peer still uses SAs we
    // lost, so we restarted. Say hello with our boot id; the peer then removes
    // those SAs and negotiates again (as IKE's INITIAL_CONTACT / INVALID_SPI do).
    this.km.on('invalid-spi', (ev) => {
      if (ev.src === this.options.peer.address) this.kmSend({ t: 'hello', boot: this.boot });
    });
    this.km.on('expire', (ev) => {
      if (ev.kind !== 'soft' || ev.src !== this.options.listen.address) return;
      this.counters.rekeys++;
      this.initiate(null, 'tunnel');
    });
    this.socket.on('message', (msg, rinfo) => this.fromPeer(msg, rinfo.address, rinfo.port));
    this.tun.onPackets((packets) => this.fromTun(packets));
    // Packets that waited for an SA leave, encapsulated, the moment it is installed (R9).
    this.gw.on('release', (r) => {
      for (const p of r.wire) if (p) this.send(p);
      this.count(r.verdicts);
    });
    this.tun.onError((err) => process.stderr.write(`larval tun: ${err.message}\n`));
    // Engine time is wall time here: lifetimes, larval timeouts and drains run on it.
    this.clock = setInterval(() => this.gw.tick(this.now()), 50);
  }

  private fromTun(packets: Uint8Array[]): void {
    this.counters.tunIn += packets.length;
    const out = this.gw.output(packets, this.now());
    for (const p of out.packets) if (p) this.send(p);
    this.count(out.verdicts);
  }

  // What the gateway built is a whole IP packet: ESP in UDP to the peer. The kernel
  // makes the outer headers again, so the UDP payload is what goes on the socket.
  private send(p: Uint8Array): void {
    const ihl = (p[0] & 15) * 4;
    if (p[0] >> 4 !== 4 || p[9] !== 17) return; // not ESP in UDP: not for the tunnel (bypass is not forwarded)
    this.counters.udpOut++;
    this.socket.send(p.subarray(ihl + UDP_HEADER), this.options.peer.port, this.options.peer.address);
  }

  private fromPeer(msg: Buffer, address: string, port: number): void {
    if (msg.length >= MARKER && msg.readUInt32BE(0) === 0) {
      this.counters.kmIn++;
      this.keyExchange(msg.subarray(MARKER), address);
      return;
    }
    this.counters.udpIn++;
    // Rebuild the outer packet the engine's inbound path expects: IPv4 + UDP to 4500.
    const p = Buffer.allocUnsafe(IPV4_HEADER + UDP_HEADER + msg.length);
    emitIpv4({ src: address, dst: this.options.listen.address, protocol: PROTO_UDP, payloadLength: UDP_HEADER + msg.length }, p);
    // UDP checksum zero, as RFC 3948 §2.1 sends it (the socket already checked it).
    p.writeUInt16BE(port, 20);
    p.writeUInt16BE(NATT_PORT, 22);
    p.writeUInt16BE(UDP_HEADER + msg.length, 24);
    p.writeUInt16BE(0, 26);
    msg.copy(p, 28);
    const res = this.gw.input([p], this.now());
    for (const inner of res.packets) if (inner && inner !== p) {
      this.counters.tunOut++;
      this.tun.write(inner);
    }
    this.count(res.verdicts);
  }

  private count(v: { length: number; verdictCode(i: number): number; reason(i: number): string }): void {
    for (let i = 0; i < v.length; i++) {
      const c = v.verdictCode(i);
      if (c === L.Verdict.Drop || c === L.Verdict.Malformed) {
        const r = v.reason(i);
        this.counters.drops[r] = (this.counters.drops[r] ?? 0) + 1;
      }
    }
  }

  // --- the key exchange ---------------------------------------------------------

  private kmSend(body: object): void {
    this.counters.kmOut++;
    const json = Buffer.from(JSON.stringify(body));
    const msg = Buffer.alloc(MARKER + json.length);
    json.copy(msg, MARKER);
    this.socket.send(msg, this.options.peer.port, this.options.peer.address);
  }

  private initiate(ev: AcquireEvent | null, mode: 'tunnel' | 'transport'): void {
    const id = this.nextId++;
    const tryOnce = (tries: number) => {
      this.kmSend({ t: 'init', id, mode, boot: this.boot });
      const timer = setTimeout(() => {
        const p = this.pending.get(id);
        if (p && p.tries < 5) tryOnce(p.tries + 1);
        else this.pending.delete(id);
      }, 500);
      this.pending.set(id, { ev, timer, tries, mode });
    };
    tryOnce(0);
  }

  private keyExchange(body: Buffer, from: string): void {
    let m: { t?: string; id?: number; spi?: number; mode?: 'tunnel' | 'transport'; boot?: number };
    try {
      m = JSON.parse(body.toString('utf8'));
    } catch {
      return;
    }
    if (typeof m.boot === 'number') this.peerSeen(m.boot, from);
    if (m.t === 'init' && typeof m.id === 'number') {
      const answer = () => {
        const spi = this.nextSpi++;
        this.install({ spi, src: from, dst: this.options.listen.address, mode: m.mode ?? 'tunnel', ...scriptedKeys(spi, this.options.secret), encap: {}, ...this.lifetime() });
        this.kmSend({ t: 'resp', id: m.id, spi, boot: this.boot });
      };
      if (this.options.kmDelay) setTimeout(answer, this.options.kmDelay);
      else answer();
      return;
    }
    if (m.t === 'resp' && typeof m.id === 'number' && typeof m.spi === 'number') {
      const p = this.pending.get(m.id);
      if (!p) return;
      clearTimeout(p.timer);
      this.pending.delete(m.id);
      const spec: SaSpec = { spi: m.spi, src: this.options.listen.address, dst: from, mode: p.mode, ...scriptedKeys(m.spi, this.options.secret), encap: {}, ...this.lifetime() };
      try {
        this.install(p.ev ? { ...spec, acquireSeq: p.ev.seq } : spec);
      } catch (err) {
        if (!(err instanceof LarvalError && err.code === 'ESTALE')) throw err;
        this.install(spec); // the ACQUIRE timed out meanwhile: install anyway
      }
      this.counters.negotiated++;
    }
  }

  // A peer that restarted forgot every SA: remove ours with it (what a key manager
  // does on INITIAL_CONTACT, R21), so that both directions negotiate afresh
  // instead of sending on SAs the peer no longer has.
  private peerSeen(boot: number, from: string): void {
    if (this.peerBoot !== null && this.peerBoot !== boot) {
      this.counters.peerRestarts++;
      this.gw.engine.flushPeer(from, this.now());
      this.gw.settle();
    }
    this.peerBoot = boot;
  }

  private lifetime(): Partial<SaSpec> {
    const r = this.options.rekeyMs;
    return r ? { lifetime: { soft: { addTime: r }, hard: { addTime: Math.round(r * 1.5) } } } : {};
  }

  private install(spec: SaSpec): void {
    this.km.installSA(spec, this.now());
    this.counters.sas++;
  }

  /** Start a rekey now (as a soft expiry would). */
  rekey(): void {
    this.counters.rekeys++;
    this.initiate(null, 'tunnel');
  }

  stats(): TunGatewayCounters & { engine: ReturnType<Gateway['stats']>['resolution']; tun: ReturnType<TunDevice['stats']> } {
    return { ...this.counters, drops: { ...this.counters.drops }, engine: this.gw.stats().resolution, tun: this.tun.stats() };
  }

  async close(): Promise<void> {
    if (this.clock) clearInterval(this.clock);
    for (const p of this.pending.values()) clearTimeout(p.timer);
    this.socket.close();
    await this.tun.close();
  }
}
