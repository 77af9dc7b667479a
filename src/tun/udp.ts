// The UDP side of the TUN gateway (issue 16): datagrams received in one event-loop
// turn are handed over as one batch, and sends go out with no per-packet lookup.
//
// Receiving (DatagramBatcher): libuv reads every datagram waiting when a socket is
// readable (one 'message' event each, in the poll phase). Each is copied into one
// arena behind `headroom` free octets (room for the caller to write an outer header
// in front), with its source address and port and the local address it came to, and
// the whole batch is delivered once, from setImmediate (the check phase right after
// that poll phase): one engine call per batch instead of one per datagram. The arena
// is reused for every batch, so a batch is valid only during its callback. The
// batcher does not own a socket: UdpPort (one connected socket, the no-crypto relay)
// feeds it, and so does the gateway from its ESP socket or the IKE daemon's shared
// port-4500 socket (src/tun/gateway.ts), so both gateway modes take the same path.
//
// Sending: queue() keeps references; flush() sends them. Node has no sendmmsg:
// dgram's send() of several buffers makes ONE datagram of them (scatter-gather),
// so each ESP packet is still one send() call. Sends have no callback (libuv tries
// the send at once and queues it only when the socket buffer is full). A connected
// socket needs no address per send; an unconnected one (a gateway with several
// peers) gets `syncLookup`, so that the address of a send is not looked up through
// dns.lookup, which defers every send to a process.nextTick.

import { createSocket, type Socket } from 'node:dgram';

export { syncLookup } from '../common/addr.js';

export interface Endpoint { address: string; port: number }

/** Datagrams received since the last batch, laid out in one arena. Valid only during the callback. */
export class DatagramBatch {
  count = 0;
  /** Where datagram i starts in `data` (after `headroom` free octets) and its length. */
  readonly offsets: Uint32Array;
  readonly lengths: Uint32Array;
  /** Datagram i came from srcAddrs[i] (IPv4, as a 32-bit number) port srcPorts[i], to local address dstAddrs[i]. */
  readonly srcAddrs: Uint32Array;
  readonly srcPorts: Uint16Array;
  readonly dstAddrs: Uint32Array;
  data: Uint8Array;
  constructor(readonly capacity: number, bytes: number, readonly headroom: number) {
    this.offsets = new Uint32Array(capacity);
    this.lengths = new Uint32Array(capacity);
    this.srcAddrs = new Uint32Array(capacity);
    this.srcPorts = new Uint16Array(capacity);
    this.dstAddrs = new Uint32Array(capacity);
    this.data = new Uint8Array(bytes);
  }
  /** A view of datagram i (allocates a view: not for the fast path). */
  packet(i: number): Uint8Array {
    const o = this.offsets[i];
    return this.data.subarray(o, o + this.lengths[i]);
  }
}

/** A dotted-quad IPv4 address as a 32-bit number; -1 if it is not one (an IPv6 source). */
export function ipv4Word(s: string): number {
  let word = 0, part = 0, digits = 0, dots = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 46) {
      if (digits === 0 || part > 255 || ++dots > 3) return -1;
      word = word * 256 + part;
      part = 0;
      digits = 0;
    } else if (c >= 48 && c <= 57 && digits < 3) {
      part = part * 10 + (c - 48);
      digits++;
    } else return -1;
  }
  if (dots !== 3 || digits === 0 || part > 255) return -1;
  return (word * 256 + part) >>> 0;
}

/** A 32-bit IPv4 address as a dotted quad. */
export function ipv4String(w: number): string {
  return `${w >>> 24}.${(w >>> 16) & 255}.${(w >>> 8) & 255}.${w & 255}`;
}

export interface BatcherStats { received: number; batches: number; fullBatches: number }

const BATCH_PACKETS = 256;
const BATCH_BYTES = 1 << 20;
const ALIGN = 8;

/** Collects the datagrams of one event-loop turn into one arena and hands them over once (see the top of this file). */
export class DatagramBatcher {
  readonly batch: DatagramBatch;
  private scheduled = false;
  private readonly counters: BatcherStats = { received: 0, batches: 0, fullBatches: 0 };
  // The last source and local address parsed: one peer sends most datagrams in a row.
  private lastSrc = '';
  private lastSrcWord = 0;
  private lastDst = '';
  private lastDstWord = 0;

  constructor(private readonly onBatch: (batch: DatagramBatch) => void, headroom = 0, capacity = BATCH_PACKETS, bytes = BATCH_BYTES) {
    this.batch = new DatagramBatch(capacity, bytes, headroom);
  }

  /**
   * Add one datagram (copied: `msg` may be reused at once) from `address`:`port` to the
   * local address `local`. Returns false, taking nothing, when an address is not IPv4.
   */
  push(msg: Uint8Array, address: string, port: number, local: string): boolean {
    if (address !== this.lastSrc) {
      const w = ipv4Word(address);
      if (w < 0) return false;
      this.lastSrc = address;
      this.lastSrcWord = w;
    }
    if (local !== this.lastDst) {
      const w = ipv4Word(local);
      if (w < 0) return false;
      this.lastDst = local;
      this.lastDstWord = w;
    }
    const b = this.batch;
    let at = b.count === 0 ? 0 : b.offsets[b.count - 1] + b.lengths[b.count - 1];
    at = ((at + ALIGN - 1) & ~(ALIGN - 1)) + b.headroom;
    if (b.count === b.capacity || at + msg.length > b.data.length) {
      this.deliver(); // full: deliver now, start a new batch
      this.counters.fullBatches++;
      at = b.headroom;
      if (at + msg.length > b.data.length) return false; // larger than the arena (not from a UDP socket)
    }
    const i = b.count;
    b.data.set(msg, at);
    b.offsets[i] = at;
    b.lengths[i] = msg.length;
    b.srcAddrs[i] = this.lastSrcWord;
    b.srcPorts[i] = port;
    b.dstAddrs[i] = this.lastDstWord;
    b.count = i + 1;
    this.counters.received++;
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.deliverScheduled);
    }
    return true;
  }

  private readonly deliverScheduled = (): void => {
    this.scheduled = false;
    this.deliver();
  };

  /** Deliver what is collected now (also called when the batch is full). */
  deliver(): void {
    const b = this.batch;
    if (b.count === 0) return;
    this.counters.batches++;
    try {
      this.onBatch(b);
    } finally {
      b.count = 0;
    }
  }

  /** Datagrams still waiting for their batch's delivery. */
  get pending(): number {
    return this.batch.count;
  }

  stats(): BatcherStats {
    return { ...this.counters };
  }
}

export interface UdpStats extends BatcherStats { sent: number; socketErrors: Record<string, number> }

/** One socket, bound and connected to one peer, receiving through a DatagramBatcher (the no-crypto relay of bench:tun). */
export class UdpPort {
  private readonly batcher: DatagramBatcher;
  private readonly out: Uint8Array[] = [];
  private readonly counters = { sent: 0, socketErrors: {} as Record<string, number> };

  private constructor(readonly socket: Socket, onBatch: (batch: DatagramBatch) => void, headroom: number, private readonly filter?: (msg: Buffer, port: number, address: string) => boolean) {
    this.batcher = new DatagramBatcher(onBatch, headroom);
    const local = socket.address().address;
    socket.on('message', (msg, rinfo) => {
      if (this.filter && this.filter(msg, rinfo.port, rinfo.address)) return;
      this.batcher.push(msg, rinfo.address, rinfo.port, local);
    });
    // A connected UDP socket reports the peer's ICMP errors (ECONNREFUSED while the
    // peer is not listening yet): counted, never fatal.
    socket.on('error', (err: NodeJS.ErrnoException) => {
      const code = err.code ?? 'EIO';
      this.counters.socketErrors[code] = (this.counters.socketErrors[code] ?? 0) + 1;
    });
  }

  /**
   * Bind to `listen`, connect to `peer`. `filter` sees each datagram first and may take
   * it (return true: control traffic such as the key exchange), otherwise it joins the batch.
   */
  static async open(listen: Endpoint, peer: Endpoint, onBatch: (batch: DatagramBatch) => void, options: { headroom?: number; filter?: (msg: Buffer, port: number, address: string) => boolean } = {}): Promise<UdpPort> {
    const socket = createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(listen.port, listen.address, () => { socket.off('error', reject); resolve(); });
    });
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.connect(peer.port, peer.address, () => { socket.off('error', reject); resolve(); });
    });
    // Bursts must wait in the socket while the event loop encrypts: ask for large
    // buffers (the kernel caps them at net.core.rmem_max / wmem_max).
    try {
      socket.setRecvBufferSize(8 << 20);
      socket.setSendBufferSize(8 << 20);
    } catch { /* the default stays */ }
    return new UdpPort(socket, onBatch, options.headroom ?? 0, options.filter);
  }

  /** Queue a datagram for the next flush() (the bytes must stay untouched until then). */
  queue(p: Uint8Array): void {
    this.out.push(p);
  }

  /** Send every queued datagram to the peer; returns how many were handed to the kernel. */
  flush(): number {
    const out = this.out;
    const n = out.length;
    for (let i = 0; i < n; i++) this.socket.send(out[i]);
    out.length = 0;
    this.counters.sent += n;
    return n;
  }

  /** Send one datagram now (control traffic). */
  sendNow(p: Uint8Array): void {
    this.socket.send(p);
  }

  stats(): UdpStats {
    return { ...this.batcher.stats(), sent: this.counters.sent, socketErrors: { ...this.counters.socketErrors } };
  }

  close(): void {
    this.socket.close();
  }
}
