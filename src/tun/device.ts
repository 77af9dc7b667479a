// A Linux TUN device (layer 3: every read and write is one IPv4 or IPv6 packet,
// no packet-information header) with non-blocking I/O and a clean shutdown.
//
// No native addon (npm install needs no compiler): Node opens /dev/net/tun
// itself, O_RDWR | O_NONBLOCK (libuv adds O_CLOEXEC, so no other child process
// inherits the device), and a short Python 3 program, spawned with that
// descriptor as its fd 3, makes the one ioctl Node cannot: TUNSETIFF with
// IFF_TUN | IFF_NO_PI (and SIOCSIFMTU when an MTU is asked for). The attachment
// belongs to the open file description, so it is the same device in Node.
//
// Reading: how Node learns that a packet is waiting. Node has no public API to
// watch an arbitrary descriptor with epoll: net.Socket({ fd }) refuses a
// character device (libuv calls it a FILE), fs.createReadStream does blocking
// reads in the thread pool, and a blocking read still pending when the device
// is closed never returns, so the process cannot exit. Reads here are always
// non-blocking (fs.readSync returns a packet or EAGAIN at once), and there are
// two ways to wake up for them (`wakeup` option):
//
//  - 'helper' (default): the Python helper stays alive and poll(2)s the device
//    for Node. When it is readable the helper writes one byte to its stdout
//    pipe (which libuv watches with epoll), then waits for one byte on stdin
//    before polling again. Node reads every waiting packet, keeps reading for
//    a few event-loop turns while packets keep coming (SPIN_ROUNDS, and at least
//    SPIN_US = 200 µs after the last packet: issue 16 measured 1.3-1.5× the TCP
//    throughput through two gateways with it), and only then re-arms the helper. An idle device costs nothing; under load the
//    helper is not involved at all.
//  - 'poll': no process stays; Node itself tries a read every event-loop turn
//    for SPIN_ROUNDS turns after the last packet, then every 1 ms (setTimeout).
//
// Measured in a network namespace (2-vCPU VM, Node 20; the numbers vary by
// ±30% from run to run there). "echo": a UDP socket and the TUN reader in one
// process, the reader writing each datagram back with addresses swapped; rtt
// is send → TUN read → TUN write → receive:
//
//   wakeup   echo rtt p50   rtt p50 after 5 ms idle   echo rate    idle CPU
//   helper   40-100 us      150-400 us                35-54k/s     0 (no wakeups)
//   poll     40 us          80-200 us, p99 +1 ms      35-54k/s     ~4-5% of a core (~870 timer wakeups/s)
//
// With the traffic from another process (python3 sendto loop, 64-byte UDP),
// one reader reads ~245k packets/s (the sender's limit; both wake-ups), and
// reads + writes back (forwards) ~115k packets/s at 100% of one core.
// The idle cost of 'poll' is almost all in the 1 ms timer wakeups themselves
// (~48 us of CPU each on this VM); a failed read costs ~5 us (~8 us with a
// stack trace, which is why EAGAIN is read with Error.stackTraceLimit = 0).
// Measured and not chosen: waiting for every wake-up through the helper (no
// spin after EAGAIN) reached ~33k echoes/s, and wrapping the descriptor in a
// libuv pipe handle through process.binding('pipe_wrap') (epoll without a
// helper, but an internal, deprecated API) ~30k/s through net.Socket.
// Opening takes the helper's start: ~40 ms with /usr/bin/python3, ~300 ms
// through a pyenv shim (set LARVAL_PYTHON to skip it).
//
// Writing: fs.writeSync on the non-blocking descriptor, one packet per call
// (a TUN write never blocks for long: the kernel takes the packet into its
// receive path or refuses it). An error (EAGAIN, EINVAL for a packet that is
// not IPv4/IPv6, EIO, ...) is a counted drop; write() returns false.
//
// Closing: stops reading (nothing is ever pending in the thread pool), ends
// the helper's stdin (it exits at once), then closes the descriptor, which
// removes the device (unless it was made persistent beforehand). If the Node
// process dies, the helper sees its stdin close and exits, so the device goes too.

import { spawn, type ChildProcess } from 'node:child_process';
import { close as closeFd, closeSync, constants as fsConstants, openSync, readSync, writeSync, writevSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { LarvalError, invalid } from '../common/errors.js';
import { HELPER } from './helper.js';
import { PLAIN_VNET_HDR, TcpMerger, VNET_HDR_LEN, planFrame, segmentFrame } from './offload.js';

/** Options of TunDevice.open(). */
export interface TunOptions {
  /**
   * Interface name, 1..15 ASCII characters without '/', ':' or spaces (e.g.
   * 'larval0'); a pattern with one '%d' (e.g. 'larval%d') lets the kernel pick
   * the number. Omitted: the kernel picks 'tunN'. An existing persistent TUN
   * device of that name is attached to (which works without root if its owner
   * was set with `ip tuntap add mode tun user ...`).
   */
  name?: string;
  /** Set the interface MTU (68..65535). Omitted: the kernel default (1500). */
  mtu?: number;
  /** How reads are woken up; see the comment at the top of tun.ts. Default 'helper'. */
  wakeup?: 'helper' | 'poll';
  /** The Python 3 interpreter. Default: $LARVAL_PYTHON, else 'python3' on the PATH. */
  python?: string;
  /**
   * Attach one queue of a multi-queue device (IFF_MULTI_QUEUE): each TunDevice opened
   * with the same name is its own queue, and the kernel spreads the packets it sends
   * over the queues by flow (issue 16: one queue per worker thread, src/tun/workers.ts).
   * A device created without it (or `ip tuntap add` without multi_queue) refuses it.
   */
  multiQueue?: boolean;
  /**
   * Offloads (issue 16, src/tun/offload.ts): IFF_VNET_HDR with TUNSETOFFLOAD (TCP
   * segmentation for IPv4 and IPv6, partial checksums). The kernel's TCP then hands
   * the device frames of up to 64 KiB, which reads cut into the segments they stand
   * for, with every checksum finished (listeners see plain packets as without
   * offloads); writeBatch() merges runs of consecutive TCP segments of one connection
   * into one frame for the kernel. 'auto': offloads where the kernel allows them
   * (TUNSETOFFLOAD), else the device without them (stats().offload says which).
   * Default false.
   */
  offload?: boolean | 'auto';
}

export interface TunStats {
  /** Packets read from the device (all delivered to the listeners of their batch). */
  readPackets: number;
  readBytes: number;
  /** Batches delivered (one per onPackets call). */
  readBatches: number;
  /** Packets written successfully. */
  written: number;
  writtenBytes: number;
  /** Packets write() refused (dropped), in all. */
  writeErrors: number;
  /** The same, by error code (EAGAIN, EINVAL, EIO, ECLOSED, ...). */
  writeErrorsByCode: Record<string, number>;
  /** Times the reader woke from sleep (helper signal or 1 ms timer) and found packets. */
  wakeups: number;
  /** The wake-up method in use ('poll' also after the helper died unexpectedly). */
  wakeup: 'helper' | 'poll';
  /** Whether the device was opened with offloads. */
  offload: boolean;
  /** Offloads: TSO frames read, and the segments cut from them (counted in readPackets too). */
  gsoFrames: number;
  gsoSegments: number;
  /** Offloads: frames written that merged several packets, and the packets in them (counted in written too). */
  mergedFrames: number;
  mergedPackets: number;
  /** Frames read and dropped (offloads only: a header the kernel should never send), by reason. */
  readDrops: number;
  readDropsByReason: Record<string, number>;
}

export type TunErrorCode =
  | 'EINVAL'    // a bad name or MTU, or the name belongs to a device that is not a TUN device (or was made without offloads)
  | 'EPERM'     // no CAP_NET_ADMIN (or the persistent device belongs to another user)
  | 'EACCES'    // no permission to open /dev/net/tun
  | 'ENOENT'    // no /dev/net/tun (the tun module is not loaded or the device not passed in)
  | 'EBUSY'     // the device is attached to another process
  | 'ENOPYTHON' // python3 could not be started
  | 'EHELPER'   // the helper failed in another way
  | 'EIO';      // any other system error (see `errno`)

/** A TUN device could not be opened or failed while in use. */
export class TunError extends LarvalError<TunErrorCode> {
  /** The system error name (EPERM, EBUSY, ...) behind it, if there is one. */
  readonly errno?: string;
  /** The step that failed: 'open', 'TUNSETIFF', 'SIOCSIFMTU', 'read', 'spawn', ... */
  readonly syscall?: string;
  /** The requested interface name, if any. */
  readonly device?: string;

  constructor(code: TunErrorCode, message: string, details: { errno?: string; syscall?: string; device?: string } = {}) {
    super(code, message);
    this.name = 'TunError';
    this.errno = details.errno;
    this.syscall = details.syscall;
    this.device = details.device;
  }
}

const TUN_PATH = '/dev/net/tun';
const IFNAMSIZ = 16;
const MIN_MTU = 68;
const MAX_MTU = 65535;
/** A read must offer room for the largest packet, or the kernel truncates it silently. */
const READ_SIZE = 65535;
/** With offloads a frame is read 6 octets into an 8-aligned place, so that its packet (after the 10-octet header) is 8-aligned. */
const FRAME_SKEW = 6;
/** Packets are read straight into slabs of this size and handed out as views; a full slab is replaced, never reused (but see recycleReads()). */
const SLAB_SIZE = 256 * 1024;
/** At most this many packets per delivered batch (then the event loop gets a turn). */
const MAX_BATCH = 256;
/** Empty reads (event-loop turns) after the last packet before going back to sleep. */
const SPIN_ROUNDS = 8;
/**
 * ... and at least this long (µs) since the last packet: under load a packet comes
 * every few tens of µs, and going to sleep between two of them costs a helper
 * round trip (two pipe writes, two context switches). LARVAL_TUN_SPIN_US overrides
 * it (0: rounds only, as before issue 16).
 */
const SPIN_US = envNumber('LARVAL_TUN_SPIN_US', 200);

function envNumber(name: string, fallback: number): number {
  const v = process.env[name];
  const n = v === undefined || v === '' ? NaN : Number(v);
  return Number.isFinite(n) && n >= 0 ? n : fallback;
}
/** Time allowed for the helper to attach the device. */
const OPEN_TIMEOUT_MS = 10_000;
/** Time allowed for the helper to exit on close before it is killed. */
const CLOSE_KILL_MS = 200;


/** Check an interface name as the kernel would (dev_valid_name), ASCII only. Throws LarvalError EINVAL. */
export function validateTunName(name: unknown): string {
  if (typeof name !== 'string') throw invalid('name', name, 'expected an interface name string');
  if (name.length === 0) throw invalid('name', name, 'must not be empty (omit it to let the kernel pick tunN)');
  if (name.length >= IFNAMSIZ) throw invalid('name', name, `is ${name.length} characters; an interface name has at most ${IFNAMSIZ - 1}`);
  if (name === '.' || name === '..') throw invalid('name', name, 'is not a valid interface name');
  if (!/^[\x21-\x7e]+$/.test(name)) throw invalid('name', name, 'may contain only printable ASCII characters, no spaces');
  const bad = /[/:]/.exec(name);
  if (bad) throw invalid('name', name, `must not contain ${JSON.stringify(bad[0])}`);
  const percent = name.split('%').length - 1;
  if (percent > 1 || (percent === 1 && !name.includes('%d'))) {
    throw invalid('name', name, "may contain '%' only as one '%d' (the number the kernel picks)");
  }
  return name;
}

function validateMtu(mtu: unknown): number {
  if (typeof mtu !== 'number' || !Number.isInteger(mtu) || mtu < MIN_MTU || mtu > MAX_MTU) {
    throw invalid('mtu', mtu, `must be an integer ${MIN_MTU}..${MAX_MTU}`);
  }
  return mtu;
}

/**
 * The TunError for a system error `errno` (a name such as 'EPERM') at `step`
 * ('open' of /dev/net/tun, 'TUNSETIFF', 'SIOCSIFMTU'), with a message that says
 * what to do about it. Exported for tests.
 */
export function tunSystemError(step: string, errno: string, name: string | undefined, detail?: string): TunError {
  const dev = name === undefined ? 'a TUN device' : `TUN device ${JSON.stringify(name)}`;
  const details = { errno, syscall: step, device: name };
  const why = detail ? ` (${detail})` : '';
  if (step === 'open') {
    switch (errno) {
      case 'ENOENT':
      case 'ENODEV':
      case 'ENXIO':
        return new TunError('ENOENT', `cannot open ${dev}: ${TUN_PATH} is missing (${errno}); load the tun module (modprobe tun), or in a container pass the device in (e.g. docker run --device ${TUN_PATH} --cap-add NET_ADMIN)`, details);
      case 'EACCES':
      case 'EPERM':
        return new TunError('EACCES', `cannot open ${dev}: no permission to open ${TUN_PATH} (${errno}); run as root, or make ${TUN_PATH} readable and writable (mode 0666 is the usual default)`, details);
      default:
        return new TunError('EIO', `cannot open ${dev}: opening ${TUN_PATH} failed: ${errno}${why}`, details);
    }
  }
  if (step === 'TUNSETOFFLOAD') {
    return new TunError('EIO', `cannot use offloads on ${dev}: the kernel refused TUNSETOFFLOAD (${errno}); open it without them (offload: false or 'auto', larval tun --offload off)`, details);
  }
  switch (errno) {
    case 'EPERM':
      return new TunError('EPERM', step === 'SIOCSIFMTU'
        ? `cannot set the MTU of ${dev}: not permitted (EPERM); run as root or with CAP_NET_ADMIN, or leave the MTU unset`
        : `cannot create ${dev}: not permitted (EPERM); run as root or with CAP_NET_ADMIN (e.g. sudo setcap cap_net_admin+ep $(which node)), or attach to a persistent device created for your user (ip tuntap add mode tun user $USER name NAME)`, details);
    case 'EBUSY':
      return new TunError('EBUSY', `cannot attach ${dev}: it is busy (EBUSY): another process has it open; stop that process or pick another name`, details);
    case 'EINVAL':
      return new TunError('EINVAL', step === 'SIOCSIFMTU'
        ? `cannot set the MTU of ${dev}: the kernel refused it (EINVAL)`
        : `cannot create ${dev}: the kernel refused it (EINVAL): the name is taken by a network device that is not a layer-3 TUN device, or a persistent device of that name was created with other flags (tap, multi-queue)`, details);
    case 'ENFILE':
    case 'EMFILE':
    case 'ENOMEM':
      return new TunError('EIO', `cannot create ${dev}: out of resources (${errno})${why}`, details);
    default:
      return new TunError('EIO', `cannot create ${dev}: ${step} failed: ${errno}${why}`, details);
  }
}

type PacketsListener = (packets: Uint8Array[]) => void;
type ErrorListener = (error: TunError) => void;

/** Reader states. The helper (if any) waits for a byte on stdin in every state but 'armed'. */
type ReadState = 'stopped' | 'draining' | 'armed' | 'failed' | 'closed';

/** An open TUN device. Keeps the process alive until close(), like a listening socket. */
export class TunDevice {
  /** The interface name (the kernel's choice if none or a '%d' pattern was given). */
  readonly name: string;

  private readonly fd: number;
  private readonly offload: boolean;
  private readonly merger: TcpMerger | null;
  private helper: ChildProcess | null;
  private wakeup: 'helper' | 'poll';
  private state: ReadState = 'stopped';
  private idleRounds = 0;
  /** performance.now() when the last packet was read. */
  private lastPacketAt = 0;
  /** The reader went to sleep (helper armed or 1 ms timer) since it last found packets. */
  private slept = false;
  private immediate: NodeJS.Immediate | undefined;
  private timer: NodeJS.Timeout | undefined;
  private slab = new Uint8Array(0);
  private slabOffset = 0;
  private listeners: PacketsListener[] = [];
  private errorListeners: ErrorListener[] = [];
  private closing: Promise<void> | null = null;
  private readonly counters = {
    readPackets: 0, readBytes: 0, readBatches: 0, written: 0, writtenBytes: 0, writeErrors: 0, wakeups: 0,
    gsoFrames: 0, gsoSegments: 0, mergedFrames: 0, mergedPackets: 0, readDrops: 0,
  };
  private readonly writeErrorsByCode: Record<string, number> = {};
  private readonly readDropsByReason: Record<string, number> = {};

  private constructor(fd: number, name: string, helper: ChildProcess | null, offload: boolean) {
    this.fd = fd;
    this.offload = offload;
    this.merger = offload ? new TcpMerger() : null;
    this.name = name;
    this.helper = helper;
    this.wakeup = helper ? 'helper' : 'poll';
    if (helper) this.watchHelper(helper);
  }

  /**
   * Create (or attach to) a TUN device. Throws LarvalError EINVAL for a bad
   * name or MTU, TunError for everything the system refuses (see TunErrorCode).
   */
  static async open(options: TunOptions = {}): Promise<TunDevice> {
    if (options === null || typeof options !== 'object') throw invalid('options', options, 'expected a TUN options object');
    const name = options.name === undefined ? undefined : validateTunName(options.name);
    const mtu = options.mtu === undefined ? 0 : validateMtu(options.mtu);
    const wakeup = options.wakeup ?? 'helper';
    if (wakeup !== 'helper' && wakeup !== 'poll') throw invalid('wakeup', wakeup, "must be 'helper' or 'poll'");
    const python = options.python ?? process.env.LARVAL_PYTHON ?? 'python3';
    if (typeof python !== 'string' || python === '') throw invalid('python', python, 'expected the path or name of a Python 3 interpreter');

    const offload = options.offload ?? false;
    if (offload !== true && offload !== false && offload !== 'auto') throw invalid('offload', offload, "must be true, false or 'auto'");
    try {
      return await TunDevice.attachNew(name, mtu, wakeup, python, options.multiQueue === true, offload !== false);
    } catch (e) {
      // 'auto': a kernel that refuses the offloads (a sandboxed TUN) gets the device without them.
      if (offload !== 'auto' || !(e instanceof TunError) || e.syscall !== 'TUNSETOFFLOAD') throw e;
      return TunDevice.attachNew(name, mtu, wakeup, python, options.multiQueue === true, false);
    }
  }

  /** Open /dev/net/tun and attach it (the helper's ioctls); the descriptor is closed again on failure. */
  private static async attachNew(name: string | undefined, mtu: number, wakeup: 'helper' | 'poll', python: string, multiQueue: boolean, offload: boolean): Promise<TunDevice> {
    let fd: number;
    try {
      fd = openSync(TUN_PATH, fsConstants.O_RDWR | fsConstants.O_NONBLOCK);
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      throw tunSystemError('open', errnoName(err), name, err.message);
    }
    try {
      const { child, actualName } = await attach(fd, name ?? '', mtu, wakeup === 'helper', python, multiQueue, offload);
      return new TunDevice(fd, actualName, child, offload);
    } catch (e) {
      closeSync(fd);
      throw e;
    }
  }

  /**
   * Receive packets in batches (each packet one IPv4 or IPv6 datagram, read in
   * arrival order). Reading starts with the first listener and pauses while
   * there is none (packets then wait in the kernel's queue, 500 by default).
   * Each packet is its own view into a read slab and stays valid: keep it or
   * not (a kept packet keeps its 256 KiB slab alive; copy it with slice() to
   * keep many for long). An exception thrown by a listener is rethrown as an
   * uncaught exception after the batch, as an EventEmitter listener's would be.
   * Returns a function that removes the listener.
   */
  onPackets(fn: PacketsListener): () => void {
    if (typeof fn !== 'function') throw invalid('listener', fn, 'expected a function');
    this.listeners = [...this.listeners, fn];
    this.startReading();
    return () => { this.listeners = this.listeners.filter((l) => l !== fn); };
  }

  /**
   * Say that no packet delivered so far is referenced any more (every listener
   * dropped the views it got, and nothing of them waits in a queue): the reader
   * then reads into its current slab again from the start instead of taking a
   * new 256 KiB one when this one is full (a fresh slab costs its zeroing and page
   * faults: ~0.2-0.6 µs a 1400-octet packet here, issue 16). Views handed out
   * earlier are overwritten by later reads. Call it from the last listener of a
   * batch, or later; never while a packet is still in use.
   */
  recycleReads(): void {
    this.slabOffset = 0;
  }

  /** onPackets, one call per packet. */
  onPacket(fn: (packet: Uint8Array) => void): () => void {
    if (typeof fn !== 'function') throw invalid('listener', fn, 'expected a function');
    return this.onPackets((packets) => { for (const p of packets) fn(p); });
  }

  /**
   * Read errors (e.g. the interface was deleted under us). Reading stops after
   * one. Without an error listener such an error is thrown as an uncaught exception.
   */
  onError(fn: ErrorListener): () => void {
    if (typeof fn !== 'function') throw invalid('listener', fn, 'expected a function');
    this.errorListeners = [...this.errorListeners, fn];
    return () => { this.errorListeners = this.errorListeners.filter((l) => l !== fn); };
  }

  /**
   * Send one IPv4 or IPv6 packet into the kernel (as if it arrived on this
   * interface). Never blocks; returns false and counts the drop (by error code)
   * if the kernel refuses it or the device is closed.
   */
  write(packet: Uint8Array): boolean {
    if (!(packet instanceof Uint8Array)) throw invalid('packet', packet, 'expected a Uint8Array');
    if (this.state === 'closed') return this.dropWrite('ECLOSED');
    // With offloads every write starts with a virtio-net header: all zero, nothing offloaded.
    return this.writeOut(packet, this.offload, 1);
  }

  /**
   * write() for each of `packets`, in order; with offloads, runs of consecutive TCP
   * segments of one connection go to the kernel as one frame (src/tun/offload.ts
   * TcpMerger: the kernel takes it as one packet, as it does a frame merged by a
   * NIC's GRO). Returns how many packets were written; a refused frame counts each
   * packet in it as a drop.
   */
  writeBatch(packets: readonly Uint8Array[]): number {
    if (!Array.isArray(packets)) throw invalid('packets', packets, 'expected an array of Uint8Array');
    for (let i = 0; i < packets.length; i++) if (!(packets[i] instanceof Uint8Array)) throw invalid(`packets[${i}]`, packets[i], 'expected a Uint8Array');
    const merger = this.merger;
    let written = 0;
    if (!merger || this.state === 'closed') {
      for (let i = 0; i < packets.length; i++) if (this.write(packets[i])) written++;
      return written;
    }
    for (let i = 0; i < packets.length;) {
      const run = merger.runLength(packets, i, packets.length);
      if (run === 1) {
        if (this.write(packets[i])) written++;
      } else if (this.writeOut(merger.merge(packets, i, run), false, run)) {
        written += run;
        this.counters.mergedFrames++;
        this.counters.mergedPackets += run;
      }
      i += run;
    }
    return written;
  }

  /**
   * One write(2) of `frame` (after the all-zero virtio-net header with `plainHeader`, or
   * a frame that holds its own), standing for `packets` packets: counted as written, or
   * each as a drop by error code.
   */
  private writeOut(frame: Uint8Array, plainHeader: boolean, packets: number): boolean {
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    try {
      const n = plainHeader ? writevSync(this.fd, [PLAIN_VNET_HDR, frame]) - VNET_HDR_LEN : writeSync(this.fd, frame, 0, frame.length);
      if (n !== frame.length) return this.dropWrites('ESHORT', packets);
      this.counters.written += packets;
      // A merged frame holds its own header (only devices with offloads write those).
      this.counters.writtenBytes += !plainHeader && this.offload ? n - VNET_HDR_LEN : n;
      return true;
    } catch (e) {
      return this.dropWrites(errnoName(e), packets);
    } finally {
      Error.stackTraceLimit = limit;
    }
  }

  /** Packets and bytes read and written. */
  stats(): TunStats {
    return { ...this.counters, writeErrorsByCode: { ...this.writeErrorsByCode }, readDropsByReason: { ...this.readDropsByReason }, wakeup: this.wakeup, offload: this.offload };
  }

  /**
   * Stop reading, end the helper and close the device (which removes a
   * non-persistent interface). Resolves once the device is gone; never waits
   * for traffic. Calling it again returns the same promise.
   */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.state = 'closed';
    this.cancelScheduled();
    this.listeners = [];
    const helper = this.helper;
    this.helper = null;
    this.closing = (async () => {
      if (helper) await endHelper(helper);
      await new Promise<void>((resolve) => closeFd(this.fd, () => resolve()));
    })();
    return this.closing;
  }

  // -- reading ---------------------------------------------------------------

  private startReading(): void {
    if (this.state !== 'stopped') return;
    // The helper (if any) is waiting for a byte: read first, re-arm it when idle.
    this.state = 'draining';
    this.idleRounds = 0;
    this.immediate = setImmediate(this.drain);
  }

  private cancelScheduled(): void {
    if (this.immediate) clearImmediate(this.immediate);
    if (this.timer) clearTimeout(this.timer);
    this.immediate = undefined;
    this.timer = undefined;
  }

  private readonly drain = (): void => {
    this.immediate = undefined;
    this.timer = undefined;
    if (this.state !== 'draining') return;
    const listeners = this.listeners;
    if (listeners.length === 0) {
      this.state = 'stopped';
      return;
    }

    const batch: Uint8Array[] = [];
    let bytes = 0;
    let again = false;
    let failure: NodeJS.ErrnoException | undefined;
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0; // an EAGAIN is expected on every drain; don't pay for its stack trace
    try {
      const skew = this.offload ? FRAME_SKEW : 0;
      while (batch.length < MAX_BATCH) {
        if (this.slab.length - this.slabOffset < READ_SIZE + skew + VNET_HDR_LEN) {
          this.slab = new Uint8Array(SLAB_SIZE);
          this.slabOffset = 0;
        }
        let n: number;
        const at = this.slabOffset + skew;
        try {
          n = readSync(this.fd, this.slab, at, READ_SIZE + (this.offload ? VNET_HDR_LEN : 0), null);
        } catch (e) {
          const code = errnoName(e);
          if (code === 'EAGAIN' || code === 'EWOULDBLOCK') { again = true; break; }
          if (code === 'EINTR') continue;
          failure = e as NodeJS.ErrnoException;
          break;
        }
        if (this.offload) {
          bytes += this.cutFrame(this.slab.subarray(at, at + n), batch);
          continue;
        }
        batch.push(this.slab.subarray(at, at + n));
        this.slabOffset += (n + 7) & ~7; // keep views 8-byte aligned
        bytes += n;
      }
    } finally {
      Error.stackTraceLimit = limit;
    }

    if (batch.length > 0) {
      if (this.slept) this.counters.wakeups++;
      this.slept = false;
      this.idleRounds = 0;
      this.lastPacketAt = performance.now();
      this.counters.readPackets += batch.length;
      this.counters.readBytes += bytes;
      this.counters.readBatches++;
    } else {
      this.idleRounds++;
    }

    // Schedule the next step before delivering, so that a listener may close()
    // (which cancels it) and a throwing listener leaves the reader consistent.
    if (failure) this.state = 'failed';
    else if (!again || this.idleRounds < SPIN_ROUNDS || (SPIN_US > 0 && (performance.now() - this.lastPacketAt) * 1000 < SPIN_US)) this.immediate = setImmediate(this.drain);
    else this.sleep();

    let thrown: { error: unknown } | undefined;
    if (batch.length > 0) {
      for (const fn of listeners) {
        try { fn(batch); } catch (error) { thrown ??= { error }; }
      }
    }
    if (failure) this.fail(failure);
    if (thrown) throw thrown.error;
  };

  /**
   * A frame read with offloads (at this.slabOffset + FRAME_SKEW): its packets, cut and
   * finished, onto `batch`; the slab advanced past what they use. Returns their octets.
   */
  private cutFrame(frame: Uint8Array, batch: Uint8Array[]): number {
    const plan = planFrame(frame);
    if (typeof plan === 'string') {
      this.counters.readDrops++;
      this.readDropsByReason[plan] = (this.readDropsByReason[plan] ?? 0) + 1;
      return 0;
    }
    const frameEnd = (this.slabOffset + FRAME_SKEW + frame.length + 7) & ~7;
    let bytes = 0;
    const emit = (p: Uint8Array): void => { batch.push(p); bytes += p.length; };
    if (plan.outBytes === 0) {
      segmentFrame(frame, plan, this.slab, 0, emit);
      this.slabOffset = frameEnd;
      return bytes;
    }
    // The segments go after the frame, or into a new slab (the frame stays readable in the old one).
    let out = frameEnd;
    if (this.slab.length - out < plan.outBytes) {
      this.slab = new Uint8Array(Math.max(SLAB_SIZE, plan.outBytes));
      out = 0;
    }
    const before = batch.length;
    segmentFrame(frame, plan, this.slab, out, emit);
    this.slabOffset = out + plan.outBytes;
    this.counters.gsoFrames++;
    this.counters.gsoSegments += batch.length - before;
    return bytes;
  }

  /** Nothing to read for SPIN_ROUNDS turns: wait for the helper, or poll every millisecond. */
  private sleep(): void {
    this.slept = true;
    const helper = this.helper;
    if (helper && helper.stdin && !helper.stdin.destroyed) {
      this.state = 'armed';
      helper.stdin.write('a');
    } else {
      this.timer = setTimeout(this.drain, 1);
    }
  }

  /** The helper wrote a byte: the device is readable. */
  private onHelperSignal(): void {
    if (this.state !== 'armed') return; // closed or failed meanwhile
    this.state = 'draining';
    this.idleRounds = 0;
    this.drain();
  }

  private watchHelper(helper: ChildProcess): void {
    helper.stdout?.on('data', () => this.onHelperSignal());
    helper.stdin?.on('error', () => { /* EPIPE: the helper died; its 'exit' handles it */ });
    helper.on('exit', () => {
      if (this.helper !== helper) return; // closing
      // Killed from outside: carry on, polling from Node instead.
      this.helper = null;
      this.wakeup = 'poll';
      if (this.state === 'armed') {
        this.state = 'draining';
        this.drain();
      }
    });
  }

  private fail(e: NodeJS.ErrnoException): void {
    const code = errnoName(e);
    const error = new TunError('EIO', `reading TUN device ${JSON.stringify(this.name)} failed: ${code}${code === 'EBADFD' || code === 'EBADF' ? ' (the interface was deleted?)' : ''}; reading stopped`, {
      errno: code, syscall: 'read', device: this.name,
    });
    const listeners = this.errorListeners;
    if (listeners.length === 0) throw error;
    for (const fn of listeners) fn(error);
  }

  private dropWrite(code: string): false {
    return this.dropWrites(code, 1);
  }

  private dropWrites(code: string, packets: number): false {
    this.counters.writeErrors += packets;
    this.writeErrorsByCode[code] = (this.writeErrorsByCode[code] ?? 0) + packets;
    return false;
  }

}

/**
 * The errno name of a system error. libuv knows no name for some (EBADFD, which
 * a read returns once the interface was deleted): Node then says "Unknown
 * system error -77", so the name is looked up from the number.
 */
function errnoName(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  if (typeof err?.code === 'string' && /^E[A-Z0-9]+$/.test(err.code)) return err.code;
  if (typeof err?.errno === 'number') {
    const n = -err.errno;
    for (const [name, value] of Object.entries(osConstants.errno)) if (value === n) return name;
    return n === 77 ? 'EBADFD' : `errno ${n}`; // EBADFD is Linux-only and not in os.constants.errno
  }
  return 'EIO';
}

/** Run the helper on `fd`: TUNSETIFF (+ MTU). With `wait`, the helper is kept for wake-ups. */
function attach(fd: number, name: string, mtu: number, wait: boolean, python: string, multiQueue: boolean, offload: boolean): Promise<{ child: ChildProcess | null; actualName: string }> {
  const requested = name === '' ? undefined : name;
  return new Promise((resolve, reject) => {
    let child: ChildProcess;
    try {
      // -I: ignore PYTHON* variables and the user's site directory; -S: no site import (faster start).
      child = spawn(python, ['-I', '-S', '-c', HELPER, name, String(mtu), wait ? '1' : '0', multiQueue ? '1' : '0', offload ? '1' : '0'], {
        stdio: ['pipe', 'pipe', 'pipe', fd],
      });
    } catch (e) {
      reject(helperStartError(python, e as NodeJS.ErrnoException, requested));
      return;
    }
    let out = '';
    let err = '';
    let settled = false;
    const finish = (error: TunError | null, actualName = ''): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timeout);
      child.stdout?.off('data', onData);
      if (error) {
        child.stdin?.destroy();
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
        reject(error);
      } else {
        resolve({ child: wait ? child : null, actualName });
      }
    };
    const timeout = setTimeout(() => finish(new TunError('EHELPER', `cannot create ${requested ? `TUN device ${JSON.stringify(requested)}` : 'a TUN device'}: the helper (${python}) did not answer within ${OPEN_TIMEOUT_MS / 1000} s`, { syscall: 'spawn', device: requested })), OPEN_TIMEOUT_MS);
    const onData = (chunk: Buffer): void => {
      out += chunk.toString('latin1');
      const nl = out.indexOf('\n');
      if (nl < 0) return;
      const line = out.slice(0, nl);
      const m = /^ok (.+)$/.exec(line);
      if (m) {
        finish(null, m[1]);
        return;
      }
      const f = /^err (\S+) (\S+) ?(.*)$/.exec(line);
      if (f) finish(tunSystemError(f[1], f[2], requested, f[3] || undefined));
      else finish(new TunError('EHELPER', `cannot create a TUN device: unexpected answer from the helper (${python}): ${JSON.stringify(line)}`, { syscall: 'spawn', device: requested }));
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (chunk: Buffer) => { if (err.length < 4096) err += chunk.toString(); });
    child.stdin?.on('error', () => { /* the helper exited; 'exit' says why */ });
    child.on('error', (e: NodeJS.ErrnoException) => finish(helperStartError(python, e, requested)));
    child.on('close', (code, signal) => {
      if (settled) return;
      const tail = err.trim().split('\n').slice(-3).join(' | ');
      finish(new TunError(code === 127 ? 'ENOPYTHON' : 'EHELPER', `cannot create ${requested ? `TUN device ${JSON.stringify(requested)}` : 'a TUN device'}: the helper (${python}) exited (${signal ?? `code ${code}`}) without attaching it${tail ? `: ${tail}` : ''}`, { syscall: 'spawn', device: requested }));
    });
  });
}

function helperStartError(python: string, e: NodeJS.ErrnoException, device: string | undefined): TunError {
  if (e.code === 'ENOENT' || e.code === 'EACCES') {
    return new TunError('ENOPYTHON', `cannot create a TUN device: ${python} could not be started (${e.code}); larval needs Python 3 (no native addon) to attach the device: install python3, or set LARVAL_PYTHON to an interpreter`, { errno: e.code, syscall: 'spawn', device });
  }
  return new TunError('EHELPER', `cannot create a TUN device: starting ${python} failed: ${e.message}`, { errno: e.code, syscall: 'spawn', device });
}

/** End the wake-up helper: EOF on its stdin makes it exit; kill it if it has not after CLOSE_KILL_MS. */
function endHelper(helper: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (helper.exitCode !== null || helper.signalCode !== null) {
      resolve();
      return;
    }
    const kill = setTimeout(() => helper.kill('SIGKILL'), CLOSE_KILL_MS);
    helper.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    helper.stdin?.end();
    helper.stdout?.destroy();
    helper.stderr?.destroy();
  });
}
