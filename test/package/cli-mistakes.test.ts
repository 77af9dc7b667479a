// Issue 14: a CLI that never shows a stack trace. Every mistake a user makes ends
// with exactly one line on stderr naming the file or flag (and the value and what
// would be accepted), a non-zero exit code, and no `    at ` line. Checked before
// any replay starts: a bad output path costs nothing.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const root = new URL('../../', import.meta.url).pathname;
const cli = join(root, 'dist/src/cli/main.js');
const capture = join(root, 'examples/gateway.pcap');
const config = join(root, 'examples/gateway.conf');
const dir = mkdtempSync(join(tmpdir(), 'larval-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const text = join(dir, 'notes.txt');
writeFileSync(text, 'this is not a capture\n');
const emptyConfig = join(dir, 'empty.conf');
writeFileSync(emptyConfig, '# nothing here\n');
const outDir = join(dir, 'out');
mkdirSync(outDir);

const larval = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', cwd: dir });

// [what, args, expected message (regexp), exit code]
const MISTAKES: [string, string[], RegExp, number][] = [
  ['unknown command', ['replya'], /unknown command "replya"; did you mean replay\?/, 2],
  ['--version misspelled', ['--verison'], /did you mean --version\?/, 2],
  ['no capture', ['replay', '--config', config], /expected one CAPTURE file \(got none\)/, 2],
  ['no config', ['replay', capture], /--config FILE is required/, 2],
  ['missing capture', ['replay', join(dir, 'nope.pcap'), '--config', config], /capture .*nope\.pcap: no such file; check the path/, 1],
  ['missing config', ['replay', capture, '--config', join(dir, 'nope.conf')], /config .*nope\.conf: no such file; check the path/, 1],
  ['a directory as the config', ['replay', capture, '--config', dir], /config .*: is a directory; give a file/, 1],
  ['a directory as the capture', ['replay', dir, '--config', config], /capture .*: is a directory; give a file/, 1],
  ['a text file as the capture', ['replay', text, '--config', config], /notes\.txt: record 0, byte 0: not a pcap or pcapng file/, 1],
  ['a capture as the config', ['replay', capture, '--config', capture], /config .*gateway\.pcap: is a capture file, not a setkey\(8\) configuration/, 1],
  ['--out in a missing directory', ['replay', capture, '--config', config, '--out', join(dir, 'missing/x.pcap')], /--out .*missing\/x\.pcap: directory .*missing does not exist; create it/, 2],
  ['--chart in a missing directory', ['replay', capture, '--config', config, '--chart', join(dir, 'missing/c.svg')], /--chart .*c\.svg: directory .*missing does not exist/, 2],
  ['--chart is a directory', ['replay', capture, '--config', config, '--chart', outDir], /--chart .*out: is a directory; give a file name/, 2],
  ['--km-delay negative', ['replay', capture, '--config', config, '--km-delay', '-5'], /--km-delay: expected a time from 0 to 1h, like 200ms, 30s or 2m \(got "-5"\)/, 2],
  ['--km-delay out of range', ['replay', capture, '--config', config, '--km-delay', '1000000000s'], /--km-delay: 1000000000s is out of range: allowed 0 to 1h/, 2],
  ['--km-delay not a time', ['replay', capture, '--config', config, '--km-delay', 'soon'], /--km-delay: expected a time .*\(got "soon"\)/, 2],
  ['--acquire-timeout zero', ['replay', capture, '--config', config, '--acquire-timeout', '0'], /--acquire-timeout: 0 is out of range: allowed 1ms to 24h/, 2],
  ['--preset misspelled', ['replay', capture, '--config', config, '--preset', 'linx'], /--preset: expected one of larval, linux, bsd-2000, all \(got "linx"\); did you mean linux\?/, 2],
  ['--km-delay misspelled', ['replay', capture, '--config', config, '--km-dely', '5s'], /unknown option --km-dely; did you mean --km-delay\?/, 2],
  ['--config misspelled', ['replay', capture, '--confg', config], /unknown option --confg; did you mean --config\?/, 2],
  ['a flag without its value', ['replay', capture, '--config'], /--config: expects a value \(FILE\)/, 2],
  ['a value for a boolean flag', ['replay', capture, '--config', config, '--json=yes'], /--json: takes no value/, 2],
  ['demo: bad --packets', ['demo', '--packets', 'lots'], /--packets: expected an integer from 1 to 50000000 \(got "lots"\)/, 2],
  ['demo: missing --rules', ['demo', '--rules', join(dir, 'nope.rules')], /--rules .*nope\.rules: no such file/, 1],
  ['tun: bad --mtu', ['tun', '--config', config, '--dev', 'x', '--listen', '127.0.0.1:1', '--mtu', '99999'], /--mtu: 99999 is out of range: allowed 576 to 65535/, 2],
  ['tun: misspelled flag', ['tun', '--lisen', '1.2.3.4:5'], /unknown option --lisen; did you mean --listen\?/, 2],
  ['tun: bad --offload', ['tun', '--config', config, '--dev', 'x', '--listen', '127.0.0.1:1', '--offload', 'yes'], /--offload must be on or off \(got "yes"\)/, 2],
];

describe('larval: every mistake is one line, a non-zero exit code and no stack trace', () => {
  for (const [what, args, message, code] of MISTAKES) {
    it(what, () => {
      const r = larval(...args);
      const lines = r.stderr.trimEnd().split('\n');
      expect(lines, r.stderr).toHaveLength(1);
      expect(lines[0]).toMatch(/^larval: /);
      expect(lines[0]).toMatch(message);
      expect(r.stderr + r.stdout).not.toMatch(/^ {4}at /m);
      expect(r.status).toBe(code);
      expect(r.stdout).toBe('');
    });
  }

  it('checks output paths before the replay starts: nothing is written for a bad --chart', () => {
    const out = join(dir, 'early.pcap');
    const r = larval('replay', capture, '--config', config, '--out', out, '--chart', join(dir, 'missing/c.svg'));
    expect(r.status).toBe(2);
    expect(existsSync(out)).toBe(false);
  });
});

describe('larval: habits', () => {
  it('--version prints the package version', () => {
    const r = larval('--version');
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe(`larval ${JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version}`);
  });

  it('a truncated last record is a warning like tcpdump\'s, and the replay reports what was read', () => {
    const whole = readFileSync(capture);
    const cut = join(dir, 'cut.pcap');
    writeFileSync(cut, whole.subarray(0, whole.length - 30));
    const r = larval('replay', cut, '--config', config, '--preset', 'larval', '--json');
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(/^larval: warning: .*cut\.pcap: truncated dump file: record is truncated.*replayed the 1,786 complete records before it\n$/);
    const report = JSON.parse(r.stdout);
    expect(report.reports[0].records).toBe(1786);
    expect(report.truncation).toMatch(/truncated dump file/);
  });

  it('an empty config warns that everything bypasses', () => {
    const r = larval('replay', capture, '--config', emptyConfig, '--preset', 'linux', '--json');
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(/^larval: warning: config .*empty\.conf has no policies and no SAs: every packet is bypassed/);
    const report = JSON.parse(r.stdout).reports[0];
    expect(report.verdicts.out.bypass).toBe(report.packets.out);
    expect(report.packets.out).toBeGreaterThan(1700);
  });

  it('--km-delay at or above the acquire timeout warns and names --acquire-timeout; raising it keeps the packets (R10)', () => {
    const slow = larval('replay', capture, '--config', config, '--preset', 'larval', '--km-delay', '31s', '--json');
    expect(slow.stderr).toMatch(/^larval: warning: --km-delay 31000 ms is not below the acquire timeout \(larval 30000 ms\).*raise --acquire-timeout\n$/);
    expect(JSON.parse(slow.stdout).reports[0].drops['acquire-timeout']).toBeGreaterThan(0);
    const raised = larval('replay', capture, '--config', config, '--preset', 'larval', '--km-delay', '31s', '--acquire-timeout', '40s', '--json');
    expect(raised.stderr).toBe('');
    expect(JSON.parse(raised.stdout).reports[0].lost).toBe(0);
  });

  it('--out FILE.pcapng writes pcapng; --out DIR writes one file per preset inside it', () => {
    const ng = join(dir, 'x.pcapng');
    expect(larval('replay', capture, '--config', config, '--preset', 'larval', '--out', ng).status).toBe(0);
    expect(readFileSync(ng).readUInt32LE(0)).toBe(0x0a0d0d0a); // pcapng Section Header Block
    const r = larval('replay', capture, '--config', config, '--out', outDir);
    expect(r.status).toBe(0);
    for (const p of ['larval', 'linux', 'bsd-2000']) expect(existsSync(join(outDir, `gateway.${p}.pcap`)), p).toBe(true);
    expect(existsSync(`${outDir}.larval`)).toBe(false);
  });
});
