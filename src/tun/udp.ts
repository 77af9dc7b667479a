// The UDP side of the TUN gateway (issue 16): one socket, connected to the peer,
// that hands received datagrams over in batches and sends queued ones in a burst.
//
// Receiving: libuv reads every datagram waiting when the socket is readable (one
// 'message' event each, in the poll phase). Each is copied into one arena behind
// `headroom` free octets (room for the caller to write an outer header in front),
// and the whole batch is delivered once, from setImmediate (the check phase right
// after that poll phase): one engine call per batch instead of one per datagram.
// The arena is reused for every batch, so a batch is valid only during its callback.
//
// Sending: queue() keeps references; flush() sends them. Node has no sendmmsg:
// dgram's send() of several buffers makes ONE datagram of them (scatter-gather),
// so each ESP packet is still one send() call. The socket is connected (no address
// lookup or check per send) and sends have no callback (libuv tries the send at once
// and queues it only when the socket buffer is full).

import { createSocket, type Socket } from 'node:dgram';

export interface Endpoint { address: string; port: number }

/** Datagrams received since the last batch, laid out in one arena. Valid only during the callback. */
export class DatagramBatch {
  count = 0;
  /** Where datagram i starts in `data` (after `headroom` free octets) and its length. */
  readonly offsets: Uint32Array;
  readonly lengths: Uint32Array;
  data: Uint8Array;
  constructor(readonly capacity: number, bytes: number, readonly headroom: number) {
    this.offsets = new Uint32Array(capacity);
    this.lengths = new Uint32Array(capacity);
    this.data = new Uint8Array(bytes);
  }
  /** A view of datagram i (allocates a view: not for the fast path). */
  packet(i: number): Uint8Array {
    const o = this.offsets[i];
    return this.data.subarray(o, o + this.lengths[i]);
  }
}

export interface UdpStats { received: number; batches: number; sent: number; fullBatches: number; socketErrors: Record<string, number> }

const BATCH_PACKETS = 256;
const BATCH_BYTES = 1 << 20;
const ALIGN = 8;

export class UdpPort {
  private readonly batch: DatagramBatch;
  private scheduled = false;
  private readonly out: Uint8Array[] = [];
  private readonly counters: UdpStats = { received: 0, batches: 0, sent: 0, fullBatches: 0, socketErrors: {} };

  private constructor(readonly socket: Socket, private readonly onBatch: (batch: DatagramBatch) => void, headroom: number, private readonly filter?: (msg: Buffer, port: number, address: string) => boolean) {
    this.batch = new DatagramBatch(BATCH_PACKETS, BATCH_BYTES, headroom);
    socket.on('message', (msg, rinfo) => this.receive(msg, rinfo.port, rinfo.address));
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

  private receive(msg: Buffer, port: number, address: string): void {
    if (this.filter && this.filter(msg, port, address)) return;
    const b = this.batch;
    let at = b.count === 0 ? 0 : b.offsets[b.count - 1] + b.lengths[b.count - 1];
    at = ((at + ALIGN - 1) & ~(ALIGN - 1)) + b.headroom;
    if (b.count === b.capacity || at + msg.length > b.data.length) {
      this.deliver(); // full: deliver now, start a new batch
      this.counters.fullBatches++;
      at = b.headroom;
    }
    b.data.set(msg, at);
    b.offsets[b.count] = at;
    b.lengths[b.count] = msg.length;
    b.count++;
    this.counters.received++;
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.deliverScheduled);
    }
  }

  private readonly deliverScheduled = (): void => {
    this.scheduled = false;
    this.deliver();
  };

  private deliver(): void {
    const b = this.batch;
    if (b.count === 0) return;
    this.counters.batches++;
    try {
      this.onBatch(b);
    } finally {
      b.count = 0;
    }
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
    return { ...this.counters, socketErrors: { ...this.counters.socketErrors } };
  }

  close(): void {
    this.socket.close();
  }
}
