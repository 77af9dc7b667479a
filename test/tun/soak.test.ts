// Issue 17 item 3, the CI version of the soak (bench/soak.ts, `npm run soak` runs 10
// minutes): 60 s through two `larval tun` gateways negotiating with larval's IKEv2
// daemon, 20 000 UDP flows and one TCP transfer, CHILD SAs rekeying by their
// configured lifetime every 10 s (R28) and gateway B killed and restarted at 20 s and
// 40 s (the traffic runs to 54 s: a slow restart on a busy machine still recovers in it). Checked: the TCP data's sha256 at the receiver, no `no-sa` drop on either
// gateway under the larval preset (R7/R9) and every drop a named reason (R26), key
// entries live = installed - freed = SAs and bounded, B carries A's traffic again
// after each restart through one negotiation with INITIAL_CONTACT (R29), UDP lost only
// while B was down, and A's RSS and heapUsed flat after warm-up (bounds: docs/soak.md).
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { keysBound, runSoak } from '../../bench/soak.js';
import { labMissing } from './lab.js';

if (labMissing) console.warn(`SKIPPED: soak (issue 17): ${labMissing}. CI runs it as root.`);

describe.skipIf(labMissing !== null)('soak: 60 s, rekeys, peer restarts (issue 17 item 3)', () => {
  it('memory flat, no no-sa drop, key entries freed, recovery by one negotiation, checksum matches', async () => {
    const before = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout;
    const r = await runSoak({
      seconds: 60, rekeyMs: 10_000, restartMs: 20_000, flows: 20_000, passes: 3, tcpRate: 1_000_000,
      warmupMs: 12_000, out: null, rssBoundMiB: 16, heapBoundMiB: 8, log: (m) => console.log(m),
    });
    for (const c of r.checks) console.log(`${c.ok ? 'ok  ' : 'FAIL'} ${c.name}: ${c.detail}`);
    // The load happened: rekeys by the engine's timers and both restarts.
    expect(r.rekeyTimes.length).toBeGreaterThanOrEqual(2);
    expect(r.restarts).toHaveLength(2);
    expect(r.keys.a.installed).toBeGreaterThanOrEqual(2 * (r.rekeyTimes.length + r.restarts.length + 1));
    expect(r.memory.maxKeysLive).toBeLessThanOrEqual(keysBound(10_000));
    expect(r.udp.flowsSeen).toBeGreaterThan(r.udp.flowsSent * 0.99);
    expect(Object.fromEntries(r.checks.map((c) => [c.name, c.ok ? 'ok' : c.detail]))).toEqual({
      checksum: 'ok', 'no-no-sa': 'ok', keys: 'ok', recovery: 'ok', 'losses-in-outages': 'ok', flat: 'ok',
    });
    // Its namespaces are gone (and nobody else's were touched).
    const after = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout;
    expect(after.split('\n').filter((l) => l.startsWith('l17')).length).toBeLessThanOrEqual(before.split('\n').filter((l) => l.startsWith('l17')).length);
  }, 400_000);
});
