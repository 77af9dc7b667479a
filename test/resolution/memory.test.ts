// R9 + R24: a flood of new flows that all need negotiation keeps memory within the
// configured bounds (the wasm tables are fixed at create time; the JS heap holds at
// most queueBytes of queued packets), and every packet not held is counted by reason.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { buildPacket, packetBuffer, ScriptedKeyManager } from '../../src/index.js';
import { gatewayWith } from './helpers.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const FLOWS = 100_000;
const PACKETS = 1_000_000;
const QUEUE_BYTES = 4 << 20;

function heap(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers;
}

describe('R9: a flood of 1M packets to 100k new flows stays within its bounds', () => {
  it('holds at most queueBytes, never grows wasm memory, and counts every drop by reason', async () => {
    // Transport mode: each destination host is its own resolution key, so 100k flows
    // need 100k negotiations, more than the larval table holds.
    const { gw } = await gatewayWith({ maxLarval: 4096, queuePackets: 64, queueBytes: QUEUE_BYTES, batchSize: 1024 }, [
      { dir: 'out', src: '10.0.0.0/8', dst: '10.0.0.0/8', action: 'protect', template: { mode: 'transport' } },
    ]);
    const km = new ScriptedKeyManager(gw, { behaviour: 'lose' });
    const flows = Array.from({ length: FLOWS }, (_, i) =>
      buildPacket({ src: '10.255.0.1', dst: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, proto: 'udp', srcPort: 4000, dstPort: 53 }, { payloadLength: 32 }));
    const wasmBefore = gw.stats().memoryBytes;
    const heapBefore = heap();
    let t = 0;
    let peakHeap = 0;
    const verdicts: Record<string, number> = {};
    for (let sent = 0; sent < PACKETS; sent += 10_000) {
      const chunk = flows.slice((sent % FLOWS), (sent % FLOWS) + 10_000);
      const v = gw.outbound(packetBuffer(chunk), t++);
      for (const [k, n] of Object.entries(v.counts())) verdicts[k] = (verdicts[k] ?? 0) + n;
      if (sent % 200_000 === 0) peakHeap = Math.max(peakHeap, heap() - heapBefore);
    }
    peakHeap = Math.max(peakHeap, heap() - heapBefore);
    const s = gw.stats();
    expect(s.memoryBytes).toBe(wasmBefore); // fixed at create time
    expect(s.queue.bytes).toBeLessThanOrEqual(QUEUE_BYTES);
    expect(s.queue.peakBytes).toBeLessThanOrEqual(QUEUE_BYTES);
    // The heap grows by the held packets (queueBytes counts their measured heap cost)
    // plus bookkeeping: the per-larval queues, and the key manager's list of ACQUIREs.
    expect(peakHeap).toBeLessThan(QUEUE_BYTES + (6 << 20));
    expect(s.resolution.larval).toBe(4096);
    expect(km.acquires).toHaveLength(4096); // one per larval SA
    expect(verdicts.queued).toBe(s.queue.packets);
    expect(verdicts.queued + verdicts.drop).toBe(PACKETS);
    expect(s.drops['larval-full']).toBeGreaterThan(0);
    expect(s.drops['queue-bytes']).toBeGreaterThan(0);
    expect((s.drops['larval-full'] ?? 0) + (s.drops['queue-bytes'] ?? 0) + (s.drops['queue-full'] ?? 0)).toBe(verdicts.drop);
  }, 120_000);
});
