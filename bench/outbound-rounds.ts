// The timed loop and the answer check that bench:native and the A/B driver
// (bench/ab-hits.ts) share: `outboundView()` (or `outbound()`) over batches of one PacketBuffer, round
// after round, each round counted per second of wall time and per second of this
// process's CPU time (user + system, GC threads included), which a busy machine
// disturbs less than the wall clock.
import type { Engine, Verdicts } from '../src/index.js';

// The call the loops time: outboundView() (the verdicts read in place, valid until the
// next call, which is all these loops need), or outbound() in builds without it (the
// A side of bench/ab-hits.ts may be an older build) or when LARVAL_BENCH_COPY=1 asks
// for the copying call. The answer check below runs on the same call as the timing.
type OutboundCall = (engine: Engine, batch: OutboundBatch, now: number) => Verdicts;
const copyCall: OutboundCall = (engine, batch, now) => engine.outbound(batch, now);
const viewCall: OutboundCall = (engine, batch, now) => engine.outboundView(batch, now);
function callOf(engine: Engine): OutboundCall {
  return typeof (engine as Partial<Engine>).outboundView === 'function' && process.env.LARVAL_BENCH_COPY !== '1' ? viewCall : copyCall;
}

/** Which call the rounds time on `engine`: 'outboundView' or 'outbound'. */
export function outboundCallName(engine: Engine): string {
  return callOf(engine) === viewCall ? 'outboundView' : 'outbound';
}

/** One batch of a PacketBuffer: the whole buffer's bytes, this batch's records. */
export interface OutboundBatch { data: Uint8Array; offsets: Uint32Array; lengths: Uint32Array }

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Policy id (0 = none) of every packet, in order, as the timed call (outboundRound's) decides it. */
export function outboundAnswers(engine: Engine, batches: OutboundBatch[], count: number): Uint32Array {
  const call = callOf(engine);
  const out = new Uint32Array(count);
  let at = 0;
  for (const batch of batches) {
    const v = call(engine, batch, 1);
    for (let j = 0; j < v.length; j++) out[at++] = v.policyId(j) ?? 0;
  }
  return out;
}

let sink = 0;
/** Packets per second of wall time and of CPU time over `seconds`; `state.k` is the next batch, carried from round to round. */
export function outboundRound(engine: Engine, batches: OutboundBatch[], seconds: number, state: { k: number }): { wall: number; cpu: number } {
  const call = callOf(engine);
  let packets = 0;
  const cpu0 = process.cpuUsage();
  const start = performance.now();
  const end = start + seconds * 1000;
  let t = start;
  do {
    for (let r = 0; r < 16; r++) {
      const batch = batches[state.k];
      const v = call(engine, batch, 1);
      sink ^= v.verdictCode(0);
      packets += batch.offsets.length;
      state.k = state.k + 1 === batches.length ? 0 : state.k + 1;
    }
  } while ((t = performance.now()) < end);
  const cpu = process.cpuUsage(cpu0);
  return { wall: packets / ((t - start) / 1000), cpu: packets / ((cpu.user + cpu.system) / 1e6) };
}

/** Read once at the end so the loop's verdict reads are not optimised away. */
export function outboundSink(): number {
  return sink;
}
