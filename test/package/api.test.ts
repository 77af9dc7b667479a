// Issue 14: the public API an embedder uses. R25 for every argument (batches, single
// packets, times), a refused key-manager install as a failed negotiation (never an
// exception from another call), replay() taking loadSetkey()'s Config, one time unit
// between captures and the engine, a doc comment on every export, and the README's
// embedding example kept identical to examples/embed.ts and printing what it says.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import {
  applyConfig, buildPacket, captureTimeMs, createEngine, createGateway, LarvalError, loadSetkey, openCapture, replay, ScriptedKeyManager,
  type NegotiationFailure,
} from '../../src/index.js';

const root = new URL('../../', import.meta.url).pathname;
const packet = buildPacket({ src: '10.1.0.1', dst: '10.2.0.1', proto: 'udp', srcPort: 1000, dstPort: 2000 });

function einval(fn: () => unknown): LarvalError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(LarvalError);
    expect((err as LarvalError).code).toBe('EINVAL');
    return err as LarvalError;
  }
  throw new Error('expected an EINVAL error');
}

describe('R25: every argument of the batch API', () => {
  it('one packet where a batch belongs is an error that says to pass [packet], not a verdict on its first byte', async () => {
    const engine = await createEngine();
    const err = einval(() => engine.outbound(packet as never, 1));
    expect(err.message).toMatch(/^packets: expected a batch.*pass \[packet\].*\(got <\d+ bytes>\)$/);
    expect(engine.outbound([packet], 1).length).toBe(1);
  });

  it('null, 5 and {} are clear EINVAL errors, and nothing is counted', async () => {
    const engine = await createEngine();
    for (const bad of [null, 5, {}, 'packets', undefined]) {
      for (const call of [() => engine.outbound(bad as never, 1), () => engine.inbound(bad as never, 1)]) {
        expect(einval(call).message).toMatch(/^packets: expected a batch/);
      }
    }
    expect(engine.stats().packets).toEqual({ out: 0, in: 0, fwd: 0 });
  });

  it('engine time is monotonic: an earlier `now` is a clear error on every call that carries time', async () => {
    const engine = await createEngine();
    engine.outbound([packet], 1000);
    expect(engine.time).toBe(1000);
    expect(einval(() => engine.outbound([packet], 999)).message).toMatch(/^now: engine time is monotonic: 999 ms is before the engine's time 1000 ms/);
    einval(() => engine.tick(10));
    einval(() => engine.addSA({ spi: 0x100, src: '192.0.2.1', dst: '198.51.100.1', mode: 'tunnel' }, 5));
    einval(() => engine.outbound([packet], -1));
    einval(() => engine.outbound([packet], Number.NaN));
    engine.outbound([packet], 1000); // the same time is fine
    engine.outbound([packet]); // and no time means the engine's time
    expect(engine.time).toBe(1000);
    const gw = await createGateway();
    gw.tick(50);
    einval(() => gw.tick(40));
  });
});

describe('R25: the other entry points an embedder calls', () => {
  it('bad arguments are LarvalError EINVAL naming the argument, never a bare TypeError', async () => {
    const engine = await createEngine();
    const setup = { policies: [], sas: [] };
    const cases: [() => unknown, RegExp][] = [
      [() => captureTimeMs(5 as never), /^timeNs: expected a bigint/],
      [() => new ScriptedKeyManager(null as never), /^gw: expected a Gateway/],
      [() => applyConfig(engine, null as never), /^config: expected what parseSetkey\(\) or loadSetkey\(\) returns/],
    ];
    for (const [call, message] of cases) expect(einval(call).message).toMatch(message);
    const rejects: [Promise<unknown>, RegExp][] = [
      [loadSetkey(5 as never), /^path: expected the path of a setkey\(8\) file/],
      [replay(null as never, setup, { preset: 'larval' }), /^input: expected a capture's batches/],
      [replay([], null as never, { preset: 'larval' }), /^setup: expected \{ policies, sas \}/],
    ];
    for (const [promise, message] of rejects) {
      const err = await promise.then(() => null, (e: unknown) => e);
      expect(err).toBeInstanceOf(LarvalError);
      expect((err as LarvalError).message).toMatch(message);
    }
  });
});

describe('a refused key-manager install is a failed negotiation (R8b, R25)', () => {
  it('ETABLEFULL in the scripted key manager: counted, a "failed" event, the waiting packets dropped; tick() does not throw', async () => {
    const gw = await createGateway({ preset: 'larval', maxSAs: 1 });
    gw.engine.addPolicy({ dir: 'out', src: '10.1.0.0/16', dst: '10.2.0.0/16', action: 'protect', template: { mode: 'tunnel', src: '192.0.2.1', dst: '198.51.100.1' } });
    gw.engine.addSA({ spi: 0x9999, src: '192.0.2.9', dst: '198.51.100.9', mode: 'tunnel' }, 0); // fills the SAD
    const km = new ScriptedKeyManager(gw, { delay: 100 });
    const failures: NegotiationFailure[] = [];
    km.on('failed', (f: NegotiationFailure) => failures.push(f));
    const v = gw.outbound([packet], 0);
    expect(v.verdict(0)).toBe('queued');
    expect(() => gw.tick(200)).not.toThrow();
    expect(km.counts.failed).toBe(1);
    expect(failures).toHaveLength(1);
    expect(failures[0]).toMatchObject({ direction: 'out', src: '192.0.2.1', dst: '198.51.100.1' });
    expect((failures[0].error as LarvalError).code).toBe('ETABLEFULL');
    expect(gw.stats().drops['acquire-failed']).toBe(1);
  });
});

describe('captures and the engine', () => {
  it('replay() takes what loadSetkey() returns', async () => {
    const config = await loadSetkey(join(root, 'examples/gateway.conf'));
    const report = await replay(openCapture(join(root, 'examples/gateway.pcap')).batches(), config, { preset: 'larval' });
    expect(report.records).toBe(1787);
    expect(report.lost).toBe(0);
  });

  it('captureTimeMs turns a record time (ns, bigint) into engine time (ms, number)', async () => {
    expect(captureTimeMs(1_700_000_000_123_456_789n, 1_700_000_000_000_000_000n)).toBeCloseTo(123.456789, 9);
    expect(captureTimeMs(2_000_000n)).toBe(2);
    const records = [];
    for await (const r of openCapture(join(root, 'examples/gateway.pcap'))) if (records.push(r.timeNs) >= 3) break;
    const engine = await createEngine();
    for (const t of records) engine.outbound([packet], captureTimeMs(t, records[0]));
    expect(engine.time).toBeCloseTo(captureTimeMs(records[2], records[0]), 6);
  });
});

describe('documentation', () => {
  it('every export of src/index.ts has a doc comment', () => {
    const index = join(root, 'src/index.ts');
    const program = ts.createProgram([index], { module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, target: ts.ScriptTarget.ES2022, noEmit: true, types: [] });
    const checker = program.getTypeChecker();
    const exports = checker.getExportsOfModule(checker.getSymbolAtLocation(program.getSourceFile(index)!)!);
    expect(exports.length).toBeGreaterThan(50);
    const undocumented = exports.filter((s) => {
      const target = s.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(s) : s;
      return ts.displayPartsToString(target.getDocumentationComment(checker)).trim() === '';
    }).map((s) => s.name);
    expect(undocumented).toEqual([]);
  });

  it("the README's embedding example is examples/embed.ts, and it prints what the README says", () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('## Use it from your own tool'));
    const block = /```ts\n([\s\S]*?)```/.exec(section)?.[1];
    expect(block).toBe(readFileSync(join(root, 'examples/embed.ts'), 'utf8').replace("from '../src/index.js'", "from 'larval'"));
    const printed = /examples\/gateway\.conf` prints:\n\n```\n([\s\S]*?)```/.exec(section)?.[1];
    const out = execFileSync(process.execPath, [join(root, 'dist/examples/embed.js'), 'examples/gateway.pcap', 'examples/gateway.conf'], { cwd: root, encoding: 'utf8' });
    expect(out).toBe(printed);
  });
});
