// One worker thread of `larval tun --workers N` (workers.ts, issue 16): its own queue
// of the multi-queue TUN device, its own gateway (engine + ESP) and its own UDP socket.
//
//   TUN queue → engine.output() (its own SAs: the sequence numbers come from this
//   engine only, R13) → ESP in UDP from its own socket to the peer's port 4500.
//   Steered batch of ESP (from the main thread's port-4500 socket, SAs this worker
//   owns only) → outer headers written in place → engine.input() (the anti-replay
//   window lives here only, R19) → inner packets written to its TUN queue.
//
// The worker's socket sends from an ephemeral port, not 4500: Node 20's dgram has no
// SO_REUSEPORT and cannot adopt a descriptor, so only the main thread's socket has
// port 4500. RFC 3948 §2.1 asks the sender to use the IKE ports; a receiver cannot
// hold it to that (a NAT rewrites the source port, which is why NAT-T exists), and
// larval's inbound path looks only at the destination port (assembly/inbound.ts
// espOffset). The deviation matters with an IKE peer whose kernel reports a new NAT
// mapping (strongSwan would then answer to the ephemeral port, where nothing listens):
// one reason the IKE daemon is not wired to workers yet. Manual SAs name both ports.

import '../engine/node-platform.js';
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { createSocket } from 'node:dgram';
import * as L from '../../assembly/layout.js';
import { PROTO_UDP, UDP_HEADER } from '../../assembly/wire-defs.js';
import { createGateway } from '../gateway/gateway.js';
import { TunDevice } from './device.js';
import { InboundFramer } from './frame.js';
import { ipv4Word } from './udp.js';
import { COUNTER_REASONS, COUNTER_SLOTS, Counter, FORWARD_BYTES, FORWARD_DATA, FORWARD_PACKETS, OUTER_HEADROOM, STEER_FIELDS, STEER_PACKETS, type FromWorker, type QueueJob, type ToWorker } from './worker-protocol.js';

const job = workerData as QueueJob;
const port = parentPort!;
const post = (m: FromWorker, transfer?: ArrayBuffer[]) => port.postMessage(m, transfer ?? []);
const counters = new Float64Array(job.counters, job.index * COUNTER_SLOTS * 8, COUNTER_SLOTS);
const t0 = performance.now();
const now = () => performance.now() - t0;

const gw = await createGateway({ preset: 'larval' });
for (const p of job.policies) gw.engine.addPolicy(p);
for (const sa of job.sas) gw.engine.addSA(sa, 0);

const socket = createSocket('udp4');
await new Promise<void>((resolve, reject) => {
  socket.once('error', reject);
  socket.bind(0, job.local, () => { socket.off('error', reject); resolve(); });
});
try {
  socket.setSendBufferSize(8 << 20);
} catch { /* the default stays */ }
// A peer that is not listening yet answers with ICMP: counted by the kernel, not fatal here.
socket.on('error', () => { counters[Counter.socketErrors]++; });

let tun: TunDevice;
try {
  tun = await TunDevice.open({ name: job.dev, multiQueue: true, offload: job.offload ?? false, ...(job.mtu ? { mtu: job.mtu } : {}) });
} catch (err) {
  socket.close();
  post({ kind: 'fatal', message: (err as Error).message });
  throw err;
}

function count(v: { length: number; verdictCode(i: number): number; reasonCode(i: number): number }): void {
  for (let i = 0; i < v.length; i++) {
    const c = v.verdictCode(i);
    if (c === L.Verdict.Drop || c === L.Verdict.Malformed) counters[COUNTER_REASONS + v.reasonCode(i)]++;
  }
}

// What the gateway built is a whole IP packet: ESP in UDP to the SA's peer. The kernel
// makes the outer headers again: the UDP payload goes on the socket (as gateway.ts).
function send(p: Uint8Array): void {
  const ihl = (p[0] & 15) * 4;
  if (p[0] >> 4 !== 4 || p[9] !== PROTO_UDP) return; // not ESP in UDP: nothing is forwarded in clear
  counters[Counter.udpOut]++;
  const dst = `${p[16]}.${p[17]}.${p[18]}.${p[19]}`;
  const dport = (p[ihl + 2] << 8) | p[ihl + 3];
  socket.send(p.subarray(ihl + UDP_HEADER), dport, dst);
}

// Only ESP leaves (a protect verdict): nothing a TUN queue read goes out in clear.
function sendAll(out: { packets: (Uint8Array | null)[]; verdicts: { length: number; verdictCode(i: number): number; reasonCode(i: number): number } }): void {
  const v = out.verdicts;
  for (let i = 0; i < v.length; i++) {
    const p = out.packets[i];
    if (p && v.verdictCode(i) === L.Verdict.Protect) send(p);
  }
  count(v);
}

// The device's offload counters, into the shared counters now and then (stats() builds an object: not per batch).
setInterval(() => {
  const st = tun.stats();
  counters[Counter.gsoFrames] = st.gsoFrames;
  counters[Counter.mergedFrames] = st.mergedFrames;
}, 100).unref();

tun.onPackets((packets) => {
  counters[Counter.tunIn] += packets.length;
  counters[Counter.batches]++;
  if (job.forward) forward(job.forward, packets);
  else sendAll(gw.output(packets, now()));
});
// Packets that waited for an SA leave the moment it is installed (R9).
gw.on('release', (r) => sendAll({ packets: r.wire, verdicts: r.verdicts }));

// -- forwarding: a worker without outbound SAs of its own ------------------------------

const fwdFree: ArrayBuffer[] = [];
let fwdAllocated = 0;
const FORWARD_BUFFERS = 16;
job.forward?.on('message', (buffer: ArrayBuffer) => fwdFree.push(buffer));

/** Copy a batch the TUN queue read into one buffer and transfer it to the SAs' owner (bounded: beyond FORWARD_BUFFERS a counted drop). */
function forward(to: MessagePort, packets: Uint8Array[]): void {
  let i = 0;
  while (i < packets.length) {
    const buffer = fwdFree.pop() ?? (fwdAllocated < FORWARD_BUFFERS ? (fwdAllocated++, new ArrayBuffer(FORWARD_BYTES)) : null);
    if (!buffer) {
      counters[Counter.forwardBusy] += packets.length - i;
      return;
    }
    const meta = new Uint32Array(buffer, 0, 1 + 2 * FORWARD_PACKETS);
    const data = new Uint8Array(buffer);
    let n = 0, at = FORWARD_DATA;
    for (; i < packets.length && n < FORWARD_PACKETS && at + packets[i].length <= FORWARD_BYTES; i++, n++) {
      meta[1 + 2 * n] = at;
      meta[2 + 2 * n] = packets[i].length;
      data.set(packets[i], at);
      at = (at + packets[i].length + 7) & ~7;
    }
    meta[0] = n;
    counters[Counter.forwarded] += n;
    to.postMessage(buffer, [buffer]);
  }
}

// The owner's side: forwarded batches go through this worker's engine and SAs.
const fwdOffsets = new Uint32Array(FORWARD_PACKETS);
const fwdLengths = new Uint32Array(FORWARD_PACKETS);
for (const from of job.forwarded ?? []) {
  from.on('message', (buffer: ArrayBuffer) => {
    const meta = new Uint32Array(buffer, 0, 1 + 2 * FORWARD_PACKETS);
    const n = meta[0];
    for (let k = 0; k < n; k++) {
      fwdOffsets[k] = meta[1 + 2 * k];
      fwdLengths[k] = meta[2 + 2 * k];
    }
    sendAll(gw.output({ data: new Uint8Array(buffer), offsets: fwdOffsets, lengths: fwdLengths, count: n }, now()));
    from.postMessage(buffer, [buffer]); // ESP went out in buffers of its own: this one goes back
  });
}
tun.onError((err) => post({ kind: 'fatal', message: err.message }));

// -- inbound: steered batches ---------------------------------------------------------

// The outer headers go back in front of each datagram as the one-thread gateway
// writes them (frame.ts), to this worker's local address.
const framer = new InboundFramer(0);
const localWord = ipv4Word(job.local);
const offsets = new Uint32Array(STEER_PACKETS);
const lengths = new Uint32Array(STEER_PACKETS);
/** The inner packets of one steered batch, on their way to the device (reused). */
const deliver: Uint8Array[] = [];

function inbound(buffer: ArrayBuffer): void {
  const meta = new Uint32Array(buffer, 0, 1);
  const n = meta[0];
  const words = new Uint32Array(buffer, 4, n * STEER_FIELDS);
  const data = new Uint8Array(buffer);
  for (let i = 0; i < n; i++) {
    const at = words[i * STEER_FIELDS], len = words[i * STEER_FIELDS + 1], src = words[i * STEER_FIELDS + 2], sport = words[i * STEER_FIELDS + 3];
    const h = at - OUTER_HEADROOM;
    offsets[i] = h;
    lengths[i] = framer.frameOne(data, h, len, src, localWord, sport);
  }
  counters[Counter.udpIn] += n;
  const res = gw.input({ data, offsets, lengths, count: n }, now());
  const v = res.verdicts;
  for (let i = 0; i < v.length; i++) {
    const inner = res.packets[i];
    const code = v.verdictCode(i);
    if (inner && code === L.Verdict.Protect) {
      deliver.push(inner);
    } else if (code === L.Verdict.Drop || code === L.Verdict.Malformed) {
      counters[COUNTER_REASONS + v.reasonCode(i)]++;
    } else if (code === L.Verdict.Discard) {
      counters[Counter.policyDiscard]++;
    } else {
      // Not taken as ESP (a bypass verdict, too short): nothing from the underlay goes in clear (issue 17).
      counters[Counter.notEsp]++;
    }
  }
  // One call for the batch: with offloads, consecutive TCP segments go to the kernel as one frame.
  const written = tun.writeBatch(deliver);
  counters[Counter.tunOut] += written;
  counters[Counter.tunWriteErrors] += deliver.length - written; // the kernel refused them (EAGAIN, ...): counted drops
  deliver.length = 0;
  post({ kind: 'esp-done', buffer }, [buffer]);
}

// Engine time is wall time here: lifetimes and drains run on it (R13: each engine its own SAs).
const clock = setInterval(() => gw.tick(now()), 50);

port.on('message', (m: ToWorker) => {
  if (m.kind === 'esp') inbound(m.buffer);
  else if (m.kind === 'stop') {
    clearInterval(clock);
    job.forward?.close();
    for (const f of job.forwarded ?? []) f.close();
    socket.close();
    void tun.close().then(() => {
      post({ kind: 'stopped' });
      port.close();
    });
  }
});
post({ kind: 'up', port: socket.address().port, dev: tun.name });
