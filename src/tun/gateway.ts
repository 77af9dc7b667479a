// larval as a userspace IPsec gateway (issue 7, issue 13): packets read from a TUN
// device go through the gateway and out as ESP in UDP (RFC 3948) to the peer; ESP
// in UDP from the peer goes through the gateway and into the TUN device.
//
// SAs come from larval's IKEv2 daemon (src/ike/daemon.ts, --swanctl) and/or from a
// setkey file (manual SAs). ESP and IKE share the daemon's port-4500 socket: IKE
// carries the non-ESP marker (four zero octets, RFC 3948 §2.2) and goes to the
// daemon, everything else is ESP and comes here (the socket has no UDP_ENCAP: on
// this kernel that would make the kernel swallow ESP). Without --swanctl a plain
// socket on --listen carries the ESP of manual SAs only; nothing is negotiated.
// (The unauthenticated test key exchange of issue 7 is gone: issue 13.)
//
// The data path (issue 16) is the same in both modes and works a batch at a time:
// the packets of one TUN read burst go through one Gateway.output() call and out
// with one send each (no address string built per packet, no dns.lookup tick);
// the ESP datagrams of one event-loop turn, from either socket, are collected in one
// arena (DatagramBatcher), get their outer headers written in front in place
// (InboundFramer) and go through one Gateway.input() call.

import { createSocket, type Socket } from 'node:dgram';
import * as L from '../../assembly/layout.js';
import { createGateway, type Gateway } from '../gateway/gateway.js';
import { createIkeDaemon, type IkeDaemon, type IkeDaemonStats } from '../ike/daemon.js';
import type { SwanctlConfig } from '../ike/config-types.js';
import { TunDevice } from './device.js';
import { LarvalError } from '../common/errors.js';
import { parseAddress } from '../common/addr.js';
import { NON_ESP_MARKER_LEN, UDP_HEADER } from '../../assembly/wire-defs.js';
import { DatagramBatcher, ipv4String, syncLookup, type BatcherStats, type DatagramBatch } from './udp.js';
import { InboundFramer, OUTER_HEADROOM } from './frame.js';
import { beginScratch, endScratch } from '../esp/slab.js';
import type { PolicySpec, SaSpec } from '../engine/types.js';
import type { PacketOutput } from '../engine/esp-stage.js';

/** What TunGateway.open() takes: the TUN device, the IKE configuration and/or manual policies and SAs. */
export interface TunGatewayOptions {
  /** Manual policies and SAs (setkey); with `swanctl` the IKE daemon installs its own. */
  policies?: readonly PolicySpec[];
  sas?: readonly SaSpec[];
  dev: string;
  /** IKEv2 configuration: the daemon listens on 500 and 4500 of its local_addrs. */
  swanctl?: SwanctlConfig;
  /** IKE ports (tests); default 500 and 4500. */
  ikePorts?: { ike?: number; natt?: number };
  /** Without `swanctl`: the local address and port for the ESP of manual SAs. */
  listen?: { address: string; port: number };
  /** Daemon log lines (no secrets, R31). */
  log?: (line: string) => void;
  mtu?: number;
  /**
   * TUN offloads (TunOptions.offload, src/tun/offload.ts): TCP frames of up to 64 KiB
   * read from the device and cut into segments here, consecutive segments merged into
   * one frame for the device. Default 'auto' (where the kernel allows them), false
   * with LARVAL_TUN_OFFLOAD=0; true makes a refusal an error.
   */
  offload?: boolean | 'auto';
}

/** Packets a TUN gateway moved, and its drops by reason. */
export interface TunGatewayCounters {
  tunIn: number;
  tunOut: number;
  udpIn: number;
  udpOut: number;
  acquires: number;
  drops: Record<string, number>;
}

/**
 * Socket buffers of the --listen socket: bursts wait there while the event loop
 * encrypts (the kernel caps them at net.core.rmem_max / wmem_max). What is queued
 * there is also delay under load; LARVAL_UDP_BUFFER_BYTES overrides it (bench:tun
 * `larval+LARVAL_UDP_BUFFER_BYTES=...` measures the trade).
 */
const UDP_BUFFER_BYTES = ((v) => (Number.isInteger(v) && v >= 4096 ? v : 8 << 20))(Number(process.env.LARVAL_UDP_BUFFER_BYTES));

/** larval as a userspace IPsec gateway between a TUN device and ESP in UDP (what `larval tun` runs). Open it with TunGateway.open(). */
export class TunGateway {
  private constructor(
    readonly gw: Gateway,
    readonly tun: TunDevice,
    readonly ike: IkeDaemon | null,
    private readonly socket: Socket | null,
    private readonly options: TunGatewayOptions,
    private readonly t0: number,
  ) {}

  private readonly counters: TunGatewayCounters = { tunIn: 0, tunOut: 0, udpIn: 0, udpOut: 0, acquires: 0, drops: {} };
  /** ESP datagrams from the peers, a batch per event-loop turn, with room for the outer headers. */
  private readonly inbound = new DatagramBatcher((b) => this.fromPeers(b), OUTER_HEADROOM);
  private readonly framer = new InboundFramer(this.inbound.batch.capacity);
  // The last destination and source of an ESP packet sent and what they resolved to:
  // one SA's packets come in a row, so the address string and the socket are looked
  // up once per run of packets, not per packet.
  private lastDst = -1;
  private lastDstString = '';
  private lastSrc = -1;
  private lastSocket: Socket | null = null;
  /** The sockets sent on in the current batch: a send still in libuv's queue keeps its packet (esp/slab.ts). */
  private readonly batchSockets: Socket[] = [];
  /** The inner packets of one inbound batch, on their way to the device (reused). */
  private readonly deliver: Uint8Array[] = [];
  private clock: NodeJS.Timeout | null = null;
  private readonly fatalListeners: ((err: Error) => void)[] = [];

  /** Called when the device fails and reading stopped (issue 17: the device deleted under it). */
  onFatal(fn: (err: Error) => void): void {
    this.fatalListeners.push(fn);
  }

  static async open(options: TunGatewayOptions): Promise<TunGateway> {
    if (!options.swanctl && !options.listen) throw new LarvalError('EINVAL', 'tun: give an IKE configuration (--swanctl) or a --listen address for manual SAs');
    if (options.listen && parseAddress(options.listen.address, 'listen').family !== 4) throw new LarvalError('EINVAL', `tun: listen ${options.listen.address} is not an IPv4 address (IPv4 underlay only)`);
    const gw = await createGateway({ preset: 'larval' });
    const t0 = performance.now();
    for (const p of options.policies ?? []) gw.engine.addPolicy(p);
    for (const sa of options.sas ?? []) gw.engine.addSA(sa, 0);
    let ike: IkeDaemon | null = null;
    let socket: Socket | null = null;
    if (options.swanctl) {
      ike = await createIkeDaemon({ gateway: gw, config: options.swanctl, now: () => performance.now() - t0, ...(options.ikePorts ? { ports: options.ikePorts } : {}), ...(options.log ? { log: options.log } : {}), name: 'larval-ike' });
    } else {
      const l = options.listen!;
      const s = createSocket({ type: 'udp4', lookup: syncLookup });
      socket = s;
      try {
        await new Promise<void>((resolve, reject) => {
          s.once('error', reject);
          s.bind(l.port, l.address, () => {
            s.off('error', reject);
            resolve();
          });
        });
      } catch (err) {
        throw new LarvalError('EINVAL', `tun: cannot listen on ${l.address}:${l.port}: ${(err as Error).message}`);
      }
      try {
        s.setRecvBufferSize(UDP_BUFFER_BYTES);
        s.setSendBufferSize(UDP_BUFFER_BYTES);
      } catch {
        /* the default stays */
      }
    }
    let tun: TunDevice;
    try {
      const offload = options.offload ?? (process.env.LARVAL_TUN_OFFLOAD === '0' ? false : 'auto');
      tun = await TunDevice.open({ name: options.dev, offload, ...(options.mtu ? { mtu: options.mtu } : {}) });
    } catch (err) {
      await ike?.close();
      socket?.close();
      throw err;
    }
    const g = new TunGateway(gw, tun, ike, socket, options, t0);
    g.start();
    return g;
  }

  private now(): number {
    return performance.now() - this.t0;
  }

  private start(): void {
    // ESP collected in this turn is handled before an IKE datagram that came after it (arrival order).
    if (this.ike) this.ike.onEsp((msg, address, port, local) => this.receive(msg, address, port, local), () => this.inbound.deliver());
    else {
      const local = this.options.listen!.address;
      this.socket!.on('message', (msg, rinfo) => {
        // A marked message is IKE, and nothing here speaks IKE without --swanctl.
        if (msg.length >= NON_ESP_MARKER_LEN && msg[0] === 0 && msg[1] === 0 && msg[2] === 0 && msg[3] === 0) return this.dropCount('ike-without-daemon');
        this.receive(msg, rinfo.address, rinfo.port, local);
      });
    }
    this.tun.onPackets((packets) => this.fromTun(packets));
    // Packets that waited for an SA leave, encapsulated, the moment it is installed (R9).
    this.gw.on('release', (r) => {
      for (const p of r.wire) if (p) this.send(p);
      this.count(r.verdicts);
    });
    // A device error stops reading (the interface was deleted, …): the gateway is
    // useless then. Whoever listens (the CLI) ends the process with one line and
    // exit 1; without a listener, the line goes to stderr as before.
    this.tun.onError((err) => {
      if (this.fatalListeners.length === 0) process.stderr.write(`larval tun: ${err.message}\n`);
      for (const fn of this.fatalListeners) fn(err);
    });
    // Engine time is wall time here: lifetimes, larval timeouts and drains run on it.
    this.clock = setInterval(() => this.gw.tick(this.now()), 50);
  }

  private fromTun(packets: Uint8Array[]): void {
    this.counters.tunIn += packets.length;
    // The ESP packets of this batch come from the reused scratch arena (esp/slab.ts):
    // each is sent before the batch ends, and one still queued in libuv keeps the arena.
    beginScratch();
    try {
      const out = this.gw.output(packets, this.now());
      const wire = out.packets;
      for (let i = 0; i < wire.length; i++) {
        const p = wire[i];
        if (p) this.send(p);
      }
      this.count(out.verdicts);
      // Nothing keeps the device's views now: the engine copied them, the resolution
      // queue copies what it holds (gateway.ts packetBytes), ESP is built elsewhere and
      // bypass packets are not forwarded; the next read may reuse the slab.
      this.tun.recycleReads();
    } finally {
      endScratch(this.sendsQueued());
    }
  }

  /** Whether a send of this batch waits in libuv's queue (the socket buffer was full); forgets the batch's sockets. */
  private sendsQueued(): boolean {
    let queued = false;
    for (const s of this.batchSockets) if (s.getSendQueueCount() > 0) queued = true;
    this.batchSockets.length = 0;
    return queued;
  }

  // What the gateway built is a whole IP packet: ESP in UDP to the SA's peer. The
  // kernel makes the outer headers again, so the UDP payload is what goes on the
  // socket, to the outer destination address and UDP port the SA chose, from the
  // socket of its outer source address.
  private send(p: Uint8Array): void {
    if (p[0] >> 4 !== 4 || p[9] !== 17) return; // not ESP in UDP: not for the tunnel (bypass is not forwarded)
    const ihl = (p[0] & 15) * 4;
    const dst = ((p[16] << 24) | (p[17] << 16) | (p[18] << 8) | p[19]) >>> 0;
    const src = ((p[12] << 24) | (p[13] << 16) | (p[14] << 8) | p[15]) >>> 0;
    if (dst !== this.lastDst) {
      this.lastDst = dst;
      this.lastDstString = ipv4String(dst);
    }
    if (src !== this.lastSrc) {
      this.lastSrc = src;
      this.lastSocket = this.ike ? this.ike.espSocket(ipv4String(src)) : this.socket;
    }
    const socket = this.lastSocket;
    if (!socket) return this.dropCount('no-esp-socket'); // an SA from an address the daemon does not listen on
    if (this.batchSockets[this.batchSockets.length - 1] !== socket && !this.batchSockets.includes(socket)) this.batchSockets.push(socket);
    this.counters.udpOut++;
    const dport = (p[ihl + 2] << 8) | p[ihl + 3];
    socket.send(p.subarray(ihl + UDP_HEADER), dport, this.lastDstString);
  }

  // One ESP datagram from a peer (either socket): into the batch of this event-loop turn.
  private receive(msg: Buffer, address: string, port: number, local: string): void {
    // Not IPv4 (the sockets are udp4: never) or larger than the arena: counted, as every drop.
    if (!this.inbound.push(msg, address, port, local)) {
      this.counters.udpIn++;
      this.dropCount('not-esp');
    }
  }

  // The ESP datagrams of one event-loop turn: outer headers written in front of each
  // (the engine's inbound path sees IPv4 + UDP to 4500 + ESP, RFC 3948), one
  // Gateway.input() call, the inner packets into the device.
  private fromPeers(batch: DatagramBatch): void {
    this.counters.udpIn += batch.count;
    // Decrypted packets come from the reused scratch arena (esp/slab.ts): TUN writes are
    // synchronous, so nothing of this batch is left when it ends (but a send made meanwhile).
    beginScratch();
    try {
      this.toTun(this.gw.input(this.framer.frame(batch), this.now()));
    } finally {
      endScratch(this.sendsQueued());
    }
  }

  private toTun(res: PacketOutput): void {
    const v = res.verdicts;
    const inner = res.packets;
    const deliver = this.deliver;
    for (let i = 0; i < v.length; i++) {
      const p = inner[i];
      const code = v.verdictCode(i);
      if (p && code === L.Verdict.Protect) {
        deliver.push(p);
      } else if (code === L.Verdict.Drop || code === L.Verdict.Malformed) {
        this.dropCount(v.reason(i));
      } else {
        // Issue 17: a datagram at the ESP port that the engine did not take as ESP
        // (too short for an ESP header, a bypass or discard verdict) was neither
        // delivered nor counted; nothing from the underlay is forwarded in clear.
        this.dropCount(code === L.Verdict.Discard ? 'policy-discard' : 'not-esp');
      }
    }
    // One call for the batch: with offloads, consecutive TCP segments of a connection
    // go to the kernel as one frame (src/tun/offload.ts).
    this.counters.tunOut += deliver.length;
    this.tun.writeBatch(deliver);
    deliver.length = 0;
  }

  private dropCount(reason: string): void {
    this.counters.drops[reason] = (this.counters.drops[reason] ?? 0) + 1;
  }

  private count(v: { length: number; verdictCode(i: number): number; reason(i: number): string }): void {
    for (let i = 0; i < v.length; i++) {
      const c = v.verdictCode(i);
      if (c === L.Verdict.Drop || c === L.Verdict.Malformed) this.dropCount(v.reason(i));
    }
  }

  /** Rekey every CHILD SA now (SIGUSR2), as their soft expiry would. */
  rekey(): void {
    this.ike?.rekeyChildren();
  }

  stats(): TunGatewayCounters & { engine: ReturnType<Gateway['stats']>['resolution']; tables: ReturnType<Gateway['stats']>['tables']; keys: ReturnType<Gateway['stats']>['keys']; memory: { rss: number; heapUsed: number; external: number }; tun: ReturnType<TunDevice['stats']>; udp: BatcherStats; ike: IkeDaemonStats | null } {
    const ike = this.ike?.stats() ?? null;
    const all = this.gw.stats();
    const m = process.memoryUsage();
    // tables, keys and memory: issue 17 checks bounds under attack and in the soak (SAs and key entries freed, RSS flat).
    // udp: the inbound batches (issue 16: datagrams per engine call).
    return { ...this.counters, acquires: ike?.counters.acquires ?? 0, drops: { ...this.counters.drops }, engine: all.resolution, tables: all.tables, keys: all.keys, memory: { rss: m.rss, heapUsed: m.heapUsed, external: m.external }, tun: this.tun.stats(), udp: this.inbound.stats(), ike };
  }

  async close(): Promise<void> {
    if (this.clock) clearInterval(this.clock);
    await this.ike?.close();
    this.socket?.close();
    await this.tun.close();
  }
}
