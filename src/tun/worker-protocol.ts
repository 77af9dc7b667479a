// What the main thread of `larval tun --workers N` (workers.ts) and its queue workers
// (queue-worker.ts) share: the job a worker starts with, the layout of a steered
// batch of inbound ESP datagrams, and the layout of a worker's counters in shared
// memory. One definition each, read by both sides.

import type { MessagePort } from 'node:worker_threads';
import type { PolicySpec, SaSpec } from '../engine/types.js';
import { REASON_NAMES } from '../engine/codec.js';

/** workerData of a queue worker. */
export interface QueueJob {
  index: number;
  dev: string;
  /** Set the device's MTU (the first worker only: it creates the device). */
  mtu?: number;
  /** TUN offloads on this queue (TunOptions.offload; every queue of a device alike). */
  offload?: boolean | 'auto';
  /** All policies: every worker classifies every flow its queue gives it. */
  policies: PolicySpec[];
  /** Only the SAs this worker owns (R13 sequence numbers, R19 anti-replay window: one owner each). */
  sas: SaSpec[];
  /** Local underlay address: the outer destination of inbound ESP, the source of this worker's socket. */
  local: string;
  /** Shared counters of all workers (COUNTER_SLOTS float64 each). */
  counters: SharedArrayBuffer;
  /**
   * A worker without outbound SAs of its own (fewer SAs than workers): the port its
   * TUN queue's packets go out on, to the worker that owns the SAs (forwarded batches).
   */
  forward?: MessagePort;
  /** The owner's ends of those ports: batches from them go through this worker's output(). */
  forwarded?: MessagePort[];
}

/** Main → worker. */
export type ToWorker =
  | { kind: 'esp'; buffer: ArrayBuffer } // a steered batch (layout below), transferred
  | { kind: 'stop' };

/** Worker → main. */
export type FromWorker =
  | { kind: 'up'; port: number; dev: string }
  | { kind: 'esp-done'; buffer: ArrayBuffer } // the batch buffer back, for reuse
  | { kind: 'fatal'; message: string }
  | { kind: 'stopped' };

// -- a steered batch --------------------------------------------------------------
// One ArrayBuffer, transferred (not copied) main → owner → main. Words 0 .. META_WORDS:
// the count, then per datagram its offset and length in the buffer, the peer's IPv4
// address (u32) and UDP port. Each datagram sits OUTER_HEADROOM octets behind the
// previous one's end (aligned), so that the worker writes the outer IPv4 + UDP header
// the engine's inbound path classifies (RFC 3948) in front of it, in place.

export const STEER_PACKETS = 256;
export const STEER_BYTES = 1 << 19;
export const STEER_FIELDS = 4;
export const STEER_META_WORDS = 1 + STEER_PACKETS * STEER_FIELDS;
/** Where the datagrams start (after the metadata, 8-aligned). */
export const STEER_DATA = (STEER_META_WORDS * 4 + 7) & ~7;
export { OUTER_HEADROOM } from './frame.js';

// -- counters -----------------------------------------------------------------------
// Each worker writes its own slot (plain float64 stores, one writer per slot); the
// main thread reads them for the stats line without a message round trip.

export const Counter = { tunIn: 0, tunOut: 1, udpIn: 2, udpOut: 3, notEsp: 4, policyDiscard: 5, socketErrors: 6, batches: 7, forwarded: 8, forwardBusy: 9, tunWriteErrors: 10, gsoFrames: 11, mergedFrames: 12 } as const;
/** Engine drop reasons (R26) follow the fixed counters, by reason code. */
export const COUNTER_REASONS = 13;

// -- a forwarded batch (TUN packets of a worker without SAs, to their owner) ----------
// One ArrayBuffer, transferred forwarder → owner → forwarder: word 0 the count, then
// per packet its offset and length; the packets from FORWARD_DATA on.
export const FORWARD_PACKETS = 256;
export const FORWARD_BYTES = 1 << 19;
export const FORWARD_DATA = (1 + 2 * FORWARD_PACKETS) * 4;
export const COUNTER_SLOTS = COUNTER_REASONS + REASON_NAMES.length;
