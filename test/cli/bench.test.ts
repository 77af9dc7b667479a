// `larval bench` (issue 15): the user's SPD and capture through the engine stage by
// stage, after checking every packet's policy against the linear scan (R4).
import { execFileSync, spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { flowOfPacket } from '../../src/cli/bench.js';
import { buildPacket } from '../../src/wire/build.js';

const root = new URL('../..', import.meta.url).pathname;
const cli = `${root}dist/src/cli/main.js`;

describe('larval bench', () => {
  it('reports Mpps per stage beside the linear scan, all packets agreeing', () => {
    const out = execFileSync('node', [cli, 'bench', '--config', 'examples/gateway.conf', '--capture', 'examples/gateway.pcap', '--seconds', '0.05', '--json'], { cwd: root, encoding: 'utf8' });
    const r = JSON.parse(out);
    expect(r.packets).toBeGreaterThan(1000);
    expect(r.agreement.mismatches).toBe(0);
    expect(r.agreement.compared).toBe(r.packets);
    expect(r.stages.map((s: { stage: string }) => s.stage)).toEqual(['cache hit', 'classifier miss', 'SA selection']);
    for (const s of r.stages) {
      expect(s.engineMpps).toBeGreaterThan(0);
      expect(s.referenceMpps).toBeGreaterThan(0);
    }
  });

  it('generates a trace from the policies without --capture', () => {
    const out = execFileSync('node', [cli, 'bench', '--config', 'examples/gateway.conf', '--packets', '5000', '--seconds', '0.05'], { cwd: root, encoding: 'utf8' });
    expect(out).toMatch(/5000 packets \(generated trace\)/);
    expect(out).toMatch(/0 differ/);
    expect(out).toMatch(/^classifier miss +\d/m);
  });

  it('refuses a missing config and bad numbers with one clear line', () => {
    const none = spawnSync('node', [cli, 'bench'], { cwd: root, encoding: 'utf8' });
    expect(none.status).not.toBe(0);
    expect(none.stderr).toMatch(/--config FILE is required/);
    const bad = spawnSync('node', [cli, 'bench', '--config', 'examples/gateway.conf', '--packets', '0'], { cwd: root, encoding: 'utf8' });
    expect(bad.stderr).toMatch(/--packets: expected an integer/);
  });

  it("the reference's packet reader gives the flow the packet was built from", () => {
    const flows = [
      { src: '10.0.0.1', dst: '10.0.0.2', proto: 6, srcPort: 1234, dstPort: 80 },
      { src: '2001:db8::1', dst: '2001:db8::2', proto: 17, srcPort: 53, dstPort: 5353 },
      { src: '10.0.0.1', dst: '10.0.0.2', proto: 1, icmpType: 8, icmpCode: 0 },
    ];
    for (const f of flows) expect(flowOfPacket(buildPacket(f))).toEqual(f);
  });
});
