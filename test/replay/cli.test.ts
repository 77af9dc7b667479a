// `larval replay` end to end (issue 6): the bundled example (what `npm start`
// replays) read from its pcap and setkey config, the presets side by side, the
// output pcap readable by tshark with the ESP decrypting under the negotiated keys.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { encodePcap } from '../../src/io/pcap-writer.js';
import { examplePackets, EXAMPLE_CONFIG } from '../../examples/make-capture.js';
import { scriptedKeys } from '../../src/index.js';
import { tsharkDecryptEsp, tsharkMissing, tsharkStderr } from '../support/tshark.js';

const root = new URL('../../', import.meta.url);
const cli = new URL('dist/src/cli/main.js', root).pathname;
const example = new URL('examples/gateway.pcap', root).pathname;
const config = new URL('examples/gateway.conf', root).pathname;
const dir = mkdtempSync(join(tmpdir(), 'larval-replay-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const run = (...args: string[]) => execFileSync(process.execPath, [cli, 'replay', ...args], { encoding: 'utf8', stdio: 'pipe' });

describe('larval replay (npm start)', () => {
  it('the bundled example is what examples/make-capture.ts writes', () => {
    expect(Buffer.from(readFileSync(example)).equals(Buffer.from(encodePcap(examplePackets())))).toBe(true);
    expect(readFileSync(config, 'utf8')).toBe(EXAMPLE_CONFIG);
  });

  it("reports the seeds' faults under linux and bsd-2000 and none under larval (§9)", () => {
    expect(existsSync(cli), 'dist/ is built by `npm test` first').toBe(true);
    const { reports } = JSON.parse(run(example, '--config', config, '--rekey', '20s', '--json'));
    const [larval, linux, bsd] = reports;
    expect(reports.map((r: { preset: string }) => r.preset)).toEqual(['larval', 'linux', 'bsd-2000']);
    // larval: nothing lost, one ACQUIRE per negotiation, queued packets released.
    expect(larval).toMatchObject({ lost: 0, stale: 0, drops: {}, acquires: 2, acquireResends: 0 });
    expect(larval.latency.queued).toBeGreaterThan(200);
    expect(larval.delivered + larval.peerDown).toBe(larval.packets.out);
    // linux: the first packets of each negotiation are lost, told success (no-sa).
    expect(linux.acquires).toBe(2);
    expect(linux.drops['no-sa']).toBeGreaterThanOrEqual(200);
    // bsd-2000: the ACQUIRE storm and the stale-SA blackout after the reboot.
    expect(bsd.acquireResends).toBeGreaterThanOrEqual(19);
    expect(bsd.stale).toBeGreaterThan(100);
    expect(bsd.lost).toBeGreaterThan(linux.lost);
  });

  it("the README's quick-start report is what `npm start` prints", () => {
    const readme = readFileSync(new URL('README.md', root), 'utf8');
    const shown = /The report shows each preset side by side:\n\n```\n([\s\S]*?)```/.exec(readme)?.[1];
    const start = JSON.parse(readFileSync(new URL('package.json', root), 'utf8')).scripts.start as string;
    const args = start.replace(/^.*node dist\/src\/cli\/main\.js replay /, '').split(' ');
    expect(args).toEqual(['examples/gateway.pcap', '--config', 'examples/gateway.conf', '--rekey', '20s']);
    expect(execFileSync(process.execPath, [cli, 'replay', ...args], { encoding: 'utf8', cwd: new URL('.', root).pathname })).toBe(shown);
  });

  it('prints the side-by-side table, writes the SVG chart and one pcap per preset', () => {
    const out = run(example, '--config', config, '--rekey', '20s', '--out', join(dir, 'out.pcap'), '--chart', join(dir, 'c.svg'));
    expect(out).toMatch(/^preset\s+larval\s+linux\s+bsd-2000$/m);
    expect(out).toMatch(/^LOST \(dropped, stale SA\)\s+0\s+[1-9]\d*\s+[1-9]\d*$/m);
    expect(readFileSync(join(dir, 'c.svg'), 'utf8')).toMatch(/^<svg[\s\S]*<\/svg>$/);
    for (const p of ['larval', 'linux', 'bsd-2000']) expect(existsSync(join(dir, `out.${p}.pcap`))).toBe(true);
  });

  it.skipIf(tsharkMissing() !== null)('the pcap it writes opens in tshark without warnings, and its ESP decrypts with the negotiated keys (R22)', async () => {
    const file = join(dir, 'larval.pcap');
    run(example, '--config', config, '--preset', 'larval', '--out', file);
    const stderr = tsharkStderr(execFileSync('tshark', ['-r', file, '-c', '5'], { encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'] }) ?? '');
    expect(stderr).toBe('');
    // The scripted key manager hands out SPIs from 0x10000, outbound and inbound in turn.
    const sas = [];
    for (let spi = 0x10000; spi < 0x10010; spi++) {
      for (const [src, dst] of [['192.0.2.1', '198.51.100.1'], ['192.0.2.1', '203.0.113.1']]) {
        sas.push({ family: 4 as const, src, dst, spi, enc: 'aes-gcm-16' as const, encKey: scriptedKeys(spi).encryption!.key as Uint8Array, auth: null });
      }
    }
    const frames = await tsharkDecryptEsp(file, sas);
    const esp = frames.filter((f) => f.spi !== null);
    expect(esp.length).toBeGreaterThan(1500);
    expect(esp.filter((f) => f.icv !== 'good')).toEqual([]);
    // What is not ESP is the peer's IKE packet, passed inbound.
    expect(frames.length - esp.length).toBe(1);
  });

  it('refuses bad input with a clear error naming it', () => {
    const fail = (...args: string[]) => {
      try {
        run(...args);
      } catch (e) {
        return (e as { stderr: string; status: number });
      }
      throw new Error('expected a failure');
    };
    expect(fail(example).stderr).toMatch(/--config FILE is required/);
    expect(fail(example, '--config', config, '--preset', 'freebsd').stderr).toMatch(/--preset: expected one of larval, linux, bsd-2000, all/);
    expect(fail(example, '--config', config, '--km-delay', 'soon').stderr).toMatch(/--km-delay: expected a time/);
    expect(fail(join(dir, 'nope.pcap'), '--config', config).stderr).toMatch(/capture .*nope\.pcap: no such file/);
    const unsupported = new URL('data/captures/unsupported-link-type-160.pcap', root).pathname;
    expect(fail(unsupported, '--config', config).stderr).toMatch(/unsupported-link-type-160\.pcap.*link type 160/);
    expect(run('--help')).toMatch(/larval replay CAPTURE --config FILE/);
  });
});

describe('progress (long captures)', () => {
  it('draws a bar on a terminal, at most 10 times a second, and nothing when piped', async () => {
    const { Progress } = await import('../../src/replay/progress.js');
    const written: string[] = [];
    const tty = { isTTY: true, write: (s: string) => written.push(s) } as unknown as NodeJS.WriteStream;
    const bar = new Progress(tty, 'larval', 1000);
    bar.update(500);
    bar.update(600); // within 100 ms: not redrawn
    bar.done();
    expect(written[0]).toMatch(/^\rlarval\s+\[#{15} {15}\]\s+50%$/);
    expect(written).toHaveLength(2);
    expect(written[1]).toBe('\r\x1b[K');
    const piped: string[] = [];
    const pipe = new Progress({ isTTY: false, write: (s: string) => piped.push(s) } as unknown as NodeJS.WriteStream, 'larval', 1000);
    pipe.update(500);
    pipe.done();
    expect(piped).toEqual([]);
    // And the CLI, piped, writes nothing to stderr.
    const { spawnSync } = await import('node:child_process');
    const r = spawnSync(process.execPath, [cli, 'replay', example, '--config', config, '--preset', 'larval', '--json'], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stderr).toBe('');
  });
});

describe('replay of the real captures in data/captures', () => {
  it('a packet the capture cut short is judged by its length on the wire, not called malformed (R24)', () => {
    const file = new URL('data/captures/esp_truncated.pcap', root).pathname;
    const { reports } = JSON.parse(run(file, '--config', config, '--preset', 'larval', '--json'));
    expect(reports[0].records).toBe(1);
    expect(reports[0].verdicts.out.malformed).toBe(0);
    expect(reports[0].drops).toEqual({});
  });
});
