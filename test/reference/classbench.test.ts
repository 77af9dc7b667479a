import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dataFile } from '../../src/common/paths.js';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadClassBench, parseClassBench } from '../../src/config/classbench.js';
import { LarvalError } from '../../src/common/errors.js';
import { ReferenceSpd } from '../../src/reference/linear-spd.js';

// The bundled copies (data/classbench), so the test runs on a fresh clone.
const DATA = dirname(dataFile('classbench/acl1_1k'));
const FILES = ['acl1_1k', 'acl1_10k', 'fw1_1k', 'fw1_10k', 'ipc1_1k', 'ipc1_10k'];

function lineCount(path: string): number {
  return readFileSync(path, 'utf8').split('\n').filter((l) => l.trim() !== '').length;
}

describe('the published rule sets', () => {
  for (const name of FILES) {
    it(`${name}: one policy per line, priority = line index, all accepted by the reference SPD`, () => {
      const path = join(DATA, name);
      const policies = loadClassBench(path);
      expect(policies.length).toBe(lineCount(path));
      expect(policies.length).toBeGreaterThan(800);
      const spd = new ReferenceSpd();
      policies.forEach((p, i) => {
        expect(p.priority).toBe(i);
        expect(p.dir).toBe('out');
        expect(p.action).toBe('bypass');
        spd.add(p, i);
      });
      expect(spd.size).toBe(policies.length);
    });
  }

  it('acl1_1k line 1: exact proto, any source port, single destination port', () => {
    // @176.19.181.33/32  90.145.23.162/32  0 : 65535  1550 : 1550  0x06/0xFF  0x0000/0x0200
    const [first] = loadClassBench(join(DATA, 'acl1_1k'), { limit: 1 });
    expect(first).toEqual({ dir: 'out', src: '176.19.181.33/32', dst: '90.145.23.162/32', proto: 6, dstPort: [1550, 1550], priority: 0, action: 'bypass' });
  });

  it('acl1_1k line 416: destination port sub-range', () => {
    // @176.19.181.33/32  90.134.41.234/32  0 : 65535  32200 : 32207  0x06/0xFF
    const p = loadClassBench(join(DATA, 'acl1_1k'))[415];
    expect(p).toEqual({ dir: 'out', src: '176.19.181.33/32', dst: '90.134.41.234/32', proto: 6, dstPort: [32200, 32207], priority: 415, action: 'bypass' });
  });

  it('fw1_1k line 10: source range up to 65535, UDP', () => {
    // @71.193.185.16/32  71.193.188.202/32  1024 : 65535  161 : 161  0x11/0xFF
    const p = loadClassBench(join(DATA, 'fw1_1k'))[9];
    expect(p).toEqual({ dir: 'out', src: '71.193.185.16/32', dst: '71.193.188.202/32', proto: 17, srcPort: [1024, 65535], dstPort: [161, 161], priority: 9, action: 'bypass' });
  });

  it('fw1_1k line 823: proto any, all ports any, short prefixes', () => {
    // @186.131.72.0/21  128.0.0.0/1  0 : 65535  0 : 65535  0x00/0x00
    const p = loadClassBench(join(DATA, 'fw1_1k'))[822];
    expect(p).toEqual({ dir: 'out', src: '186.131.72.0/21', dst: '128.0.0.0/1', priority: 822, action: 'bypass' });
  });

  it('ipc1_1k line 389: ICMP with any ports; the last line is the catch-all', () => {
    // @98.146.143.20/32  203.120.46.88/31  0 : 65535  0 : 65535  0x01/0xFF  0x0500/0xff00
    const all = loadClassBench(join(DATA, 'ipc1_1k'));
    expect(all[388]).toEqual({ dir: 'out', src: '98.146.143.20/32', dst: '203.120.46.88/31', proto: 1, priority: 388, action: 'bypass' });
    expect(all[all.length - 1]).toEqual({ dir: 'out', src: '0.0.0.0/0', dst: '0.0.0.0/0', priority: all.length - 1, action: 'bypass' });
  });
});

describe('options', () => {
  const text = '@10.0.0.0/8\t0.0.0.0/0\t0 : 65535\t80 : 80\t0x06/0xFF\t0x0000/0x0000\t\n'
    + '@0.0.0.0/0\t0.0.0.0/0\t0 : 65535\t0 : 65535\t0x00/0x00\t0x0000/0x0000\t\n';

  it('dir, a fixed action, limit', () => {
    const ps = parseClassBench(text, { dir: 'fwd', action: 'discard', limit: 1 });
    expect(ps).toEqual([{ dir: 'fwd', src: '10.0.0.0/8', dst: '0.0.0.0/0', proto: 6, dstPort: [80, 80], priority: 0, action: 'discard' }]);
    expect(parseClassBench(text, { limit: 0 })).toEqual([]);
  });

  it('an action function sees the rule index and may give a template', () => {
    const template = { mode: 'tunnel' as const, src: '192.0.2.1', dst: '192.0.2.2', reqid: 1 };
    const ps = parseClassBench(text, { action: (i) => (i === 0 ? { action: 'protect', template } : { action: 'bypass' }) });
    expect(ps[0]).toMatchObject({ action: 'protect', template });
    expect(ps[1].action).toBe('bypass');
    expect('template' in ps[1]).toBe(false);
  });

  it("refuses a fixed 'protect' (no template) and a bad dir", () => {
    expect(() => parseClassBench(text, { action: 'protect' })).toThrow(/template/);
    expect(() => parseClassBench(text, { dir: 'sideways' as never })).toThrow(/options\.dir/);
  });

  it('accepts CRLF, a missing flags column and trailing blank lines', () => {
    const ps = parseClassBench('@1.2.3.4/32\t5.6.7.8/32\t1 : 2\t3 : 4\t0x11/0xFF\r\n\n  \n');
    expect(ps).toEqual([{ dir: 'out', src: '1.2.3.4/32', dst: '5.6.7.8/32', proto: 17, srcPort: [1, 2], dstPort: [3, 4], priority: 0, action: 'bypass' }]);
  });

  it('ignores TCP flags: rules differing only in flags give equal selectors', () => {
    const [a, b] = parseClassBench('@1.2.3.4/32\t5.6.7.8/32\t0 : 65535\t80 : 80\t0x06/0xFF\t0x1000/0x1000\t\n'
      + '@1.2.3.4/32\t5.6.7.8/32\t0 : 65535\t80 : 80\t0x06/0xFF\t0x0000/0x0200\t\n');
    expect({ ...a, priority: 0 }).toEqual({ ...b, priority: 0 });
  });
});

describe('malformed input names source, line, column and field', () => {
  const good = '@10.0.0.0/8\t20.0.0.0/8\t0 : 65535\t80 : 80\t0x06/0xFF\t0x0000/0x0000\t';
  function errorOf(badLine: string): LarvalError {
    try {
      parseClassBench(`${good}\n${good}\n${badLine}\n${good}\n`, { source: 'rules.txt', portless: 'refuse' });
    } catch (err) {
      expect(err).toBeInstanceOf(LarvalError);
      return err as LarvalError;
    }
    throw new Error('expected parseClassBench to throw');
  }

  const cases: [string, string, RegExp][] = [
    ['no @', good.slice(1), /^rules\.txt:3:1: rule: a ClassBench rule starts with '@'/],
    ['bad source prefix', good.replace('10.0.0.0/8', '10.0.0.300/8'), /^rules\.txt:3:2: source prefix: not a valid IPv4 address \(got "10\.0\.0\.300\/8"\)/],
    ['host bits set', good.replace('20.0.0.0/8', '20.0.0.1/8'), /^rules\.txt:3:13: destination prefix: host bits .* \(got "20\.0\.0\.1\/8"\)/],
    ['mixed families', good.replace('20.0.0.0/8', '2001:db8::/32'), /^rules\.txt:3:13: destination prefix: address family IPv6 differs/],
    ['port range syntax', good.replace('80 : 80', '80-90'), /^rules\.txt:3:34: destination port range: expected 'LO : HI' \(got "80-90"\)/],
    ['port too large', good.replace('80 : 80', '80 : 70000'), /^rules\.txt:3:34: destination port range: ports are 0\.\.65535 \(got "80 : 70000"\)/],
    ['inverted range', good.replace('0 : 65535', '9 : 1'), /^rules\.txt:3:24: source port range: the low port exceeds the high port \(got "9 : 1"\)/],
    ['partial proto mask', good.replace('0x06/0xFF', '0x06/0x0F'), /^rules\.txt:3:42: protocol: the mask must be 0xFF .* \(got "0x06\/0x0F"\)/],
    ['proto syntax', good.replace('0x06/0xFF', 'tcp'), /^rules\.txt:3:42: protocol: expected '0xNN\/0xFF'/],
    ['ICMP with ports', good.replace('0x06/0xFF', '0x01/0xFF'), /^rules\.txt:3:34: destination port range: protocol 1 carries no ports.*R3.* \(got "80 : 80"\)/],
    ['missing fields', '@10.0.0.0/8\t20.0.0.0/8\t0 : 65535', /^rules\.txt:3:\d+: destination port range: missing/],
    ['blank line in the middle', '', /^rules\.txt:3:1: rule: blank line between rules/],
  ];
  for (const [what, line, message] of cases) {
    it(what, () => {
      const err = errorOf(line);
      expect(err.code).toBe('EINVAL');
      expect(err.line).toBe(3);
      expect(err.message).toMatch(message);
    });
  }

  describe('loadClassBench names the file path', () => {
    const dir = mkdtempSync(join(tmpdir(), 'larval-classbench-'));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it('in the message and in .line', () => {
      const path = join(dir, 'broken_1k');
      writeFileSync(path, `${good}\n${good.replace('0x06/0xFF', '0x01/0xFF')}\n`);
      expect(() => loadClassBench(path, { portless: 'refuse' })).toThrow(`${path}:2:34: destination port range`);
      try {
        loadClassBench(path, { portless: 'refuse' });
      } catch (err) {
        expect((err as LarvalError).line).toBe(2);
        expect((err as LarvalError).field).toBe('destination port range');
      }
    });
  });
});

// Issue 15: the published fw2/fw4 families give port ranges to protocols that carry
// none (2, 7, ICMP); R3 gives such ports no meaning. Synthetic rules of that shape
// (the published files are not in the repository).
describe('rules with ports on port-less protocols load, converted and counted (R3)', () => {
  const rule = (proto: string, sport = '0 : 65535', dport = '0 : 65535', src = '10.0.0.0/8') => `@${src}\t20.0.0.0/8\t${sport}\t${dport}\t${proto}\t0x0000/0x0000\t`;
  const text = [
    rule('0x06/0xFF', '0 : 65535', '80 : 80'),          // tcp with ports: unchanged
    rule('0x02/0xFF', '1024 : 65535', '0 : 65535'),     // IGMP with a source range
    rule('0x07/0xFF', '0 : 65535', '53 : 53', '10.1.0.0/16'), // protocol 7 with a port
    rule('0x01/0xFF', '0 : 65535', '0 : 65535'),        // ICMP without ports: unchanged
    rule('0x01/0xFF', '0 : 0', '8 : 8', '10.2.0.0/16'), // ICMP with "ports"
    rule('0x00/0x00', '0 : 65535', '443 : 443'),        // any protocol with a port: expressible
  ].join('\n');

  it("default 'drop-ports': every rule loads, three lose their port ranges, priorities stay the rule index", () => {
    let report: unknown;
    const policies = parseClassBench(text, { report: (r) => { report = r; } });
    expect(report).toEqual({ rules: 6, portsDropped: 3, skipped: 0, lines: [2, 3, 5] });
    expect(policies.map((p) => p.priority)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(policies[0].dstPort).toEqual([80, 80]);
    for (const i of [1, 2, 4]) {
      expect(policies[i].srcPort).toBeUndefined();
      expect(policies[i].dstPort).toBeUndefined();
    }
    expect(policies[1].proto).toBe(2);
    expect(policies[2].proto).toBe(7);
    expect(policies[5].dstPort).toEqual([443, 443]);
    // they are valid policies: the reference (and so the engine) accepts them
    const ref = new ReferenceSpd();
    policies.forEach((p, i) => ref.add(p, i + 1));
    expect(ref.size).toBe(6);
  });

  it("'skip': the three are left out, the others keep their rule index as priority", () => {
    let report: unknown;
    const policies = parseClassBench(text, { portless: 'skip', report: (r) => { report = r; } });
    expect(report).toEqual({ rules: 6, portsDropped: 0, skipped: 3, lines: [2, 3, 5] });
    expect(policies.map((p) => p.priority)).toEqual([0, 3, 5]);
  });

  it("'refuse' keeps the old error, and a bad option value is an error", () => {
    expect(() => parseClassBench(text, { portless: 'refuse', source: 'fw2' })).toThrow(/^fw2:2:\d+: source port range: protocol 2 carries no ports/);
    expect(() => parseClassBench(text, { portless: 'widen' as never })).toThrow(/options\.portless/);
  });
});
