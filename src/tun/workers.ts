// `larval tun --workers N` (issue 16, "more than one core"): the gateway's data path on
// N worker threads (queue-worker.ts), the control plane in the main thread.
//
//   TUN device   opened with IFF_MULTI_QUEUE: each worker attaches its own queue, and
//                the kernel spreads the packets it routes into the device over the
//                queues by flow. Any queue takes writes.
//   outbound     each worker owns its own outbound SAs (one per worker and tunnel:
//                per-resource SAs as RFC 9611 describes them, all with the same
//                selectors) and runs engine + ESP output() for what its queue reads.
//                With fewer SAs than workers, the workers without SAs forward what
//                their queue reads to an owner (a transferred batch over a port).
//                An SA is installed in one engine only, so its sequence numbers (R13)
//                come from one counter: no (SPI, sequence number) pair twice, with
//                no lock and no atomic on the fast path.
//   inbound      ESP arrives on the one port-4500 socket, here (Node 20's dgram has
//                no SO_REUSEPORT and cannot adopt a descriptor, so a second socket on
//                4500 is not possible). The main thread reads the SPI and hands the
//                datagram, in a batch, to the worker that owns that inbound SA: its
//                anti-replay window (R19) lives in that worker's engine only. A batch
//                is one ArrayBuffer, transferred there and back (never copied).
//   sending      each worker sends from its own UDP socket (an ephemeral source port,
//                see queue-worker.ts), so sends run in parallel.
//   control      the setkey configuration is read here, its SAs shared out here
//                (shareSas), counters are read here from shared memory. The IKE
//                daemon is not wired in yet: with --swanctl there is no worker mode.
//   GC           with V8's parallel GC helpers one busy worker keeps ~1.15-1.2 cores
//                busy; `node --single-threaded-gc` keeps each worker's collection on
//                its own thread and cost ~15 % less CPU per packet in the synthetic
//                load (bench/tun-workers.ts). It must be given on the command line:
//                v8.setFlagsFromString() at run time crashed the main isolate's
//                concurrent marker (V8 11.3, Node 20).

import { createSocket, type Socket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';
import { LarvalError } from '../common/errors.js';
import { parseAddress } from '../common/addr.js';
import { REASON_NAMES } from '../engine/codec.js';
import type { PolicySpec, SaSpec } from '../engine/types.js';
import { NON_ESP_MARKER_LEN } from '../../assembly/wire-defs.js';
import { ipv4Word } from './udp.js';
import { COUNTER_REASONS, COUNTER_SLOTS, Counter, OUTER_HEADROOM, STEER_BYTES, STEER_DATA, STEER_FIELDS, STEER_PACKETS, type FromWorker, type QueueJob, type ToWorker } from './worker-protocol.js';

export interface TunWorkersOptions {
  workers: number;
  dev: string;
  mtu?: number;
  /** TUN offloads on every queue (TunGatewayOptions.offload). Default 'auto', false with LARVAL_TUN_OFFLOAD=0. */
  offload?: boolean | 'auto';
  policies: readonly PolicySpec[];
  sas: readonly SaSpec[];
  /** Local address and port (4500) of the ESP socket. */
  listen: { address: string; port: number };
}

/** How the SAs are shared out: each worker's SAs, the owner of each inbound SPI, and the workers that own outbound SAs. */
export interface SaShare {
  byWorker: SaSpec[][];
  inboundOwner: Map<number, number>;
  /**
   * Workers 0 .. senders-1 own the outbound SAs; a worker w ≥ senders (a tunnel has
   * fewer SAs than there are workers) hands what its TUN queue reads to worker w % senders.
   */
  senders: number;
}

/**
 * Give each SA one owner (R13, R19). Inbound SAs (destination `local`) go round
 * robin: the main thread steers their ESP by SPI. Outbound SAs go round robin within
 * each tunnel (source, destination, reqid): a worker that sends needs one of each
 * tunnel's SAs, since the kernel may give it any flow. With N SAs per tunnel every
 * worker sends; with fewer (k, the smallest tunnel's), workers 0 .. k-1 send and the
 * others forward their packets to them: still one owner per SA, less parallel ESP.
 */
export function shareSas(sas: readonly SaSpec[], local: string, workers: number): SaShare {
  if (!Number.isInteger(workers) || workers < 1 || workers > 64) throw new LarvalError('EINVAL', `workers: expected 1..64, got ${workers}`);
  const byWorker: SaSpec[][] = Array.from({ length: workers }, () => []);
  const inboundOwner = new Map<number, number>();
  const tunnels = new Map<string, SaSpec[]>();
  let k = 0;
  for (const sa of sas) {
    if (sa.dst === local) {
      if (inboundOwner.has(sa.spi)) throw new LarvalError('EINVAL', `tun: inbound SPI 0x${sa.spi.toString(16)} appears twice`);
      inboundOwner.set(sa.spi, k % workers);
      byWorker[k++ % workers].push(sa);
    } else {
      const key = `${sa.src}>${sa.dst}/${sa.reqid ?? ''}`;
      tunnels.set(key, [...(tunnels.get(key) ?? []), sa]);
    }
  }
  const senders = Math.min(workers, ...[...tunnels.values()].map((g) => g.length));
  for (const group of tunnels.values()) group.forEach((sa, j) => byWorker[j % senders].push(sa));
  return { byWorker, inboundOwner, senders };
}

/** CPU seconds of the main thread (its /proc task has the process id), NaN where there is no /proc. */
function mainThreadCpu(): number {
  try {
    const st = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
    const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / 100; // utime + stime, USER_HZ
  } catch {
    return NaN;
  }
}

/** Steered datagrams waiting for one worker, in one transferable buffer. */
class SteerBatch {
  readonly meta: Uint32Array;
  readonly data: Uint8Array;
  count = 0;
  at = STEER_DATA;
  constructor(readonly buffer: ArrayBuffer) {
    this.meta = new Uint32Array(buffer, 0, 1 + STEER_PACKETS * STEER_FIELDS);
    this.data = new Uint8Array(buffer);
  }
}

/**
 * Batches posted to a worker and not yet back. While a worker is this far behind,
 * datagrams for it gather in fuller batches here (fewer messages when it is busy).
 */
const IN_FLIGHT = 2;
/** Buffers per worker in all (in flight, full and waiting, filling): beyond them the main thread drops (counted); memory stays bounded. */
const BUFFERS_PER_WORKER = 16;

interface Lane {
  worker: Worker;
  free: ArrayBuffer[];
  allocated: number;
  /** The batch being filled. */
  batch: SteerBatch | null;
  /** Full batches waiting for the worker to take fewer than IN_FLIGHT. */
  waiting: SteerBatch[];
  inFlight: number;
  port: number;
}

export interface TunWorkersStats {
  tunIn: number;
  tunOut: number;
  udpIn: number;
  udpOut: number;
  drops: Record<string, number>;
  /** Per worker; gsoFrames / mergedFrames: TSO frames its queue read and merged frames it wrote (TUN offloads; refreshed every 100 ms). */
  workers: { tunIn: number; tunOut: number; udpIn: number; udpOut: number; batches: number; socketErrors: number; forwarded: number; gsoFrames: number; mergedFrames: number; sas: number[] }[];
  memory: { rss: number; heapUsed: number; external: number };
  /** CPU seconds so far: the main thread (steering, control) and the whole process (workers and V8's helpers too). */
  cpu: { main: number; process: number };
}

export class TunWorkers {
  private readonly mainDrops: Record<string, number> = {};
  private readonly counters: Float64Array;
  private readonly fatalListeners: ((err: Error) => void)[] = [];
  private scheduled = false;
  private udpIn = 0;
  private lastAddress = '';
  private lastAddressU32 = 0;
  private closing: Promise<void> | null = null;

  private constructor(
    readonly name: string,
    private readonly lanes: Lane[],
    private readonly share: SaShare,
    private readonly socket: Socket,
    counters: SharedArrayBuffer,
  ) {
    this.counters = new Float64Array(counters);
  }

  onFatal(fn: (err: Error) => void): void {
    this.fatalListeners.push(fn);
  }

  static async open(options: TunWorkersOptions): Promise<TunWorkers> {
    const l = options.listen;
    if (parseAddress(l.address, 'listen').family !== 4) throw new LarvalError('EINVAL', `tun: listen ${l.address} is not an IPv4 address (IPv4 underlay only)`);
    const share = shareSas(options.sas, l.address, options.workers);
    const counters = new SharedArrayBuffer(options.workers * COUNTER_SLOTS * 8);
    const url = new URL('./queue-worker.js', import.meta.url);
    const lanes: Lane[] = [];
    // A worker without outbound SAs sends its TUN packets to an owner, over a port of its own.
    const forward: (MessagePort | undefined)[] = [];
    const forwarded: MessagePort[][] = Array.from({ length: options.workers }, () => []);
    for (let w = share.senders; w < options.workers; w++) {
      const { port1, port2 } = new MessageChannel();
      forward[w] = port1;
      forwarded[w % share.senders].push(port2);
    }
    const start = (index: number) => new Promise<Lane>((resolve, reject) => {
      const ports = [...(forward[index] ? [forward[index]!] : []), ...forwarded[index]];
      const job: QueueJob = {
        index, dev: options.dev, ...(index === 0 && options.mtu ? { mtu: options.mtu } : {}), offload: options.offload ?? (process.env.LARVAL_TUN_OFFLOAD === '0' ? false : 'auto'), policies: [...options.policies], sas: share.byWorker[index], local: l.address, counters,
        ...(forward[index] ? { forward: forward[index] } : {}), ...(forwarded[index].length ? { forwarded: forwarded[index] } : {}),
      };
      const worker = new Worker(url, { workerData: job, transferList: ports });
      const fail = (e: Error) => reject(new LarvalError('EIO', `tun: worker ${index}: ${e.message}`));
      worker.once('error', fail);
      worker.once('exit', (code) => fail(new Error(`exited (${code}) before it was up`)));
      const onMessage = (m: FromWorker) => {
        if (m.kind === 'fatal') fail(new Error(m.message));
        if (m.kind !== 'up') return;
        worker.off('message', onMessage);
        worker.removeAllListeners('error');
        worker.removeAllListeners('exit');
        resolve({ worker, free: [], allocated: 0, batch: null, waiting: [], inFlight: 0, port: m.port });
      };
      worker.on('message', onMessage);
    });
    const socket = createSocket('udp4');
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once('error', reject);
        socket.bind(l.port, l.address, () => { socket.off('error', reject); resolve(); });
      });
    } catch (err) {
      throw new LarvalError('EINVAL', `tun: cannot listen on ${l.address}:${l.port}: ${(err as Error).message}`);
    }
    try {
      socket.setRecvBufferSize(8 << 20);
    } catch { /* the default stays */ }
    try {
      // The first worker creates the device (or attaches to a persistent one); then the rest attach their queues.
      lanes.push(await start(0));
      lanes.push(...(await Promise.all(Array.from({ length: options.workers - 1 }, (_, i) => start(i + 1)))));
    } catch (err) {
      socket.close();
      await Promise.all(lanes.map((x) => x.worker.terminate()));
      throw err;
    }
    const g = new TunWorkers(options.dev, lanes, share, socket, counters);
    g.startLanes();
    return g;
  }

  private startLanes(): void {
    this.lanes.forEach((lane, index) => {
      lane.worker.on('message', (m: FromWorker) => {
        if (m.kind === 'esp-done') {
          lane.free.push(m.buffer);
          lane.inFlight--;
          this.post(lane);
        }
        else if (m.kind === 'fatal') this.fatal(new LarvalError('EIO', `tun: worker ${index}: ${m.message}`));
      });
      lane.worker.on('error', (e) => this.fatal(new LarvalError('EIO', `tun: worker ${index}: ${e.message}`)));
      lane.worker.on('exit', (code) => { if (!this.closing) this.fatal(new LarvalError('EIO', `tun: worker ${index} exited (${code})`)); });
    });
    this.socket.on('message', (msg, rinfo) => this.steer(msg, rinfo.address, rinfo.port));
    this.socket.on('error', () => this.drop('socket-error'));
  }

  private fatal(err: Error): void {
    if (this.fatalListeners.length === 0) process.stderr.write(`larval tun: ${err.message}\n`);
    for (const fn of this.fatalListeners) fn(err);
  }

  private drop(reason: string): void {
    this.mainDrops[reason] = (this.mainDrops[reason] ?? 0) + 1;
  }

  // One datagram from the port-4500 socket: to the batch of the worker that owns its SPI.
  private steer(msg: Buffer, address: string, port: number): void {
    this.udpIn++;
    if (msg.length < 8) return this.drop('not-esp'); // no room for SPI and sequence number (a NAT keepalive is one octet): as gateway.ts counts it
    const spi = msg.readUInt32BE(0);
    // A marked message is IKE (RFC 3948 §2.2), and nothing here speaks IKE yet.
    if (spi === 0 && msg.length >= NON_ESP_MARKER_LEN) return this.drop('ike-without-daemon');
    const owner = this.share.inboundOwner.get(spi);
    if (owner === undefined) return this.drop('unknown-spi'); // R18: the engine would say the same
    const lane = this.lanes[owner];
    let b = lane.batch;
    let at = b ? ((b.at + 7) & ~7) + OUTER_HEADROOM : 0;
    if (b && (b.count === STEER_PACKETS || at + msg.length > STEER_BYTES)) {
      lane.waiting.push(b);
      lane.batch = b = null;
      this.post(lane);
    }
    if (!b) {
      const buffer = lane.free.pop() ?? (lane.allocated < BUFFERS_PER_WORKER ? (lane.allocated++, new ArrayBuffer(STEER_BYTES)) : null);
      if (!buffer) return this.drop('worker-busy'); // the owner is BUFFERS_PER_WORKER batches behind
      b = lane.batch = new SteerBatch(buffer);
      at = STEER_DATA + OUTER_HEADROOM;
    }
    if (address !== this.lastAddress) {
      this.lastAddress = address;
      this.lastAddressU32 = ipv4Word(address); // the socket is udp4: always a dotted quad
    }
    const f = 1 + b.count * STEER_FIELDS;
    b.meta[f] = at;
    b.meta[f + 1] = msg.length;
    b.meta[f + 2] = this.lastAddressU32;
    b.meta[f + 3] = port;
    b.data.set(msg, at);
    b.at = at + msg.length;
    b.count++;
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.flush); // after this poll phase: every datagram libuv read now joins the batch
    }
  }

  private readonly flush = (): void => {
    this.scheduled = false;
    for (const lane of this.lanes) this.post(lane);
  };

  /** Post waiting batches, then the one being filled, while the worker has fewer than IN_FLIGHT. */
  private post(lane: Lane): void {
    while (lane.inFlight < IN_FLIGHT) {
      const b = lane.waiting.shift() ?? lane.batch;
      if (!b) return;
      if (b === lane.batch) lane.batch = null;
      b.meta[0] = b.count;
      lane.inFlight++;
      const m: ToWorker = { kind: 'esp', buffer: b.buffer };
      lane.worker.postMessage(m, [b.buffer]);
    }
  }

  stats(): TunWorkersStats {
    const c = this.counters;
    const workers = this.lanes.map((_, w) => {
      const o = w * COUNTER_SLOTS;
      return { tunIn: c[o + Counter.tunIn], tunOut: c[o + Counter.tunOut], udpIn: c[o + Counter.udpIn], udpOut: c[o + Counter.udpOut], batches: c[o + Counter.batches], socketErrors: c[o + Counter.socketErrors], forwarded: c[o + Counter.forwarded], gsoFrames: c[o + Counter.gsoFrames], mergedFrames: c[o + Counter.mergedFrames], sas: this.share.byWorker[w].map((s) => s.spi) };
    });
    const drops: Record<string, number> = { ...this.mainDrops };
    const add = (k: string, n: number) => { if (n > 0) drops[k] = (drops[k] ?? 0) + n; };
    this.lanes.forEach((_, w) => {
      const o = w * COUNTER_SLOTS;
      add('not-esp', c[o + Counter.notEsp]);
      add('policy-discard', c[o + Counter.policyDiscard]);
      add('forward-busy', c[o + Counter.forwardBusy]);
      add('tun-write', c[o + Counter.tunWriteErrors]);
      REASON_NAMES.forEach((r, i) => add(r, c[o + COUNTER_REASONS + i]));
    });
    const sum = (k: 'tunIn' | 'tunOut' | 'udpOut') => workers.reduce((s, w) => s + w[k], 0);
    const m = process.memoryUsage();
    const u = process.cpuUsage();
    return { tunIn: sum('tunIn'), tunOut: sum('tunOut'), udpIn: this.udpIn, udpOut: sum('udpOut'), drops, workers, memory: { rss: m.rss, heapUsed: m.heapUsed, external: m.external }, cpu: { main: mainThreadCpu(), process: (u.user + u.system) / 1e6 } };
  }

  /** Stop the workers (each closes its queue and socket), then the ESP socket. */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.closing = (async () => {
      await Promise.all(this.lanes.map((lane) => new Promise<void>((resolve) => {
        const t = setTimeout(() => void lane.worker.terminate().then(() => resolve()), 2000);
        lane.worker.once('exit', () => { clearTimeout(t); resolve(); });
        lane.worker.on('message', (m: FromWorker) => { if (m.kind === 'stopped') void lane.worker.terminate(); });
        const stop: ToWorker = { kind: 'stop' };
        lane.worker.postMessage(stop);
      })));
      this.socket.close();
    })();
    return this.closing;
  }
}
