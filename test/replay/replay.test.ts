// The main job's core (issue 6): replaying the bundled example under each preset
// shows the seeds' faults under `linux` and `bsd-2000` and their absence under
// `larval` (docs/design.md §9; R6, R7–R9, R8, R21).
import { describe, expect, it } from 'vitest';
import { examplePackets } from '../../examples/make-capture.js';
import { replay, type ReplayReport, type ReplayRecord } from '../../src/replay/replay.js';
import { chartSvg, formatReport } from '../../src/replay/report.js';
import type { PolicySpec, PresetName } from '../../src/index.js';

const T = (src: string, dst: string) => ({ mode: 'tunnel' as const, src, dst });
export const EXAMPLE_POLICIES: PolicySpec[] = [
  { dir: 'out', src: '10.1.0.0/16', dst: '10.2.0.0/16', action: 'protect', template: T('192.0.2.1', '198.51.100.1') },
  { dir: 'in', src: '10.2.0.0/16', dst: '10.1.0.0/16', action: 'protect', template: T('198.51.100.1', '192.0.2.1') },
  { dir: 'out', src: '10.1.0.0/16', dst: '10.3.0.0/16', action: 'protect', template: T('192.0.2.1', '203.0.113.1') },
  { dir: 'in', src: '10.3.0.0/16', dst: '10.1.0.0/16', action: 'protect', template: T('203.0.113.1', '192.0.2.1') },
];

function records(): ReplayRecord[] {
  return examplePackets().map((p) => ({ timeNs: BigInt(p.timeMs) * 1_000_000n, ip: p.data }));
}

async function run(preset: PresetName): Promise<ReplayReport> {
  return replay([records()], { policies: EXAMPLE_POLICIES, sas: [] }, { preset, rekeyMs: 20_000, kmDelay: 200 });
}

describe('replay of the bundled example under each preset (§9)', () => {
  it("larval: no packet lost, one ACQUIRE per negotiation, queued packets wait at most the negotiation delay (R7–R9)", async () => {
    const r = await run('larval');
    const sent = r.packets.out;
    expect(r.lost).toBe(0);
    expect(r.drops).toEqual({});
    expect(r.stale).toBe(0);
    // Two templates, two negotiations on demand: two ACQUIREs, no resend.
    expect(r.acquires).toBe(2);
    expect(r.acquireResends).toBe(0);
    expect(r.latency.queued).toBeGreaterThan(200); // the stream's first 200 ms and the first TCP burst
    expect(r.latency.max).toBeLessThanOrEqual(200);
    // Every packet reached the peer, except what was sent while the rebooted peer
    // had no SA yet, which nobody could deliver.
    expect(r.delivered + r.peerDown).toBe(sent);
    expect(r.peerDown).toBeLessThanOrEqual(2);
    expect(r.peerRestarts).toBe(1);
  });

  it('linux: the first packets of each negotiation are lost (no-sa), one ACQUIRE each', async () => {
    const r = await run('linux');
    expect(r.acquires).toBe(2);
    expect(r.drops['no-sa']).toBeGreaterThanOrEqual(200);
    expect(r.lost).toBe(r.drops['no-sa']);
    expect(r.stale).toBe(0); // newest SA wins: no blackout after the reboot
  });

  it('bsd-2000: an ACQUIRE storm, and the stale-SA blackout after the peer reboots (oldest SA wins)', async () => {
    const r = await run('bsd-2000');
    // blockacq_count 10: the 200 packets of the stream's first 200 ms resend the ACQUIRE every 10.
    expect(r.acquireResends).toBeGreaterThanOrEqual(19);
    expect(r.acquires).toBe(2 + r.acquireResends);
    // After the reboot the gateway keeps using the SA the peer forgot, for seconds.
    expect(r.stale).toBeGreaterThan(100);
    const blackout = r.timeline.buckets.filter((b) => b.t >= 35_000 && b.lost > 0);
    expect(blackout.length).toBeGreaterThan(50); // 100-ms buckets: more than 5 s
    expect(r.lost).toBeGreaterThan((await run('linux')).lost);
  });

  it('the report shows the presets side by side, and the chart is an SVG with one band per preset', async () => {
    const reports = [await run('larval'), await run('linux'), await run('bsd-2000')];
    const text = formatReport(reports);
    expect(text.split('\n')[0]).toMatch(/^preset\s+larval\s+linux\s+bsd-2000$/);
    expect(text).toMatch(/LOST \(dropped, stale SA\)\s+0\s+\d+\s+\d+/);
    expect(text).toMatch(/ACQUIREs sent\s+2\s+2\s+2\d/);
    const svg = chartSvg(reports);
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg.match(/font-weight="bold">(larval|linux|bsd-2000)</g)).toHaveLength(3);
  });
});
