// The README's API example is examples/quickstart.ts, and it runs as documented;
// the demo reports on the bundled data and agrees with the reference (npm start replays: test/replay/cli.test.ts).
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { format } from 'node:util';
import { afterEach, describe, expect, it, vi } from 'vitest';

const root = new URL('..', import.meta.url);
const read = (p: string) => readFileSync(new URL(p, root), 'utf8');

describe('README', () => {
  afterEach(() => vi.restoreAllMocks());

  it('shows examples/quickstart.ts verbatim (with the package import)', () => {
    const readme = read('README.md');
    const block = /## API example[\s\S]*?```ts\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(block).toBeDefined();
    const example = read('examples/quickstart.ts').replace("from '../src/index.js'", "from 'larval'");
    expect(block).toBe(example);
  });

  it('the example prints what the README says it prints', async () => {
    const lines: string[] = [];
    // util.format is what console.log prints with.
    vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => lines.push(format(...args)));
    await import('../examples/quickstart.js');
    const printed = /It prints:\n\n```\n([\s\S]*?)```/.exec(read('README.md'))?.[1].trimEnd().split('\n');
    expect(lines).toEqual(printed);
  });

  it('shows examples/resolution.ts verbatim, and it prints what the README says (R7–R9)', async () => {
    const readme = read('README.md');
    const section = readme.slice(readme.indexOf('### SA resolution'));
    const block = /```ts\n([\s\S]*?)```/.exec(section)?.[1];
    expect(block).toBe(read('examples/resolution.ts').replace("from '../src/index.js'", "from 'larval'"));
    const lines: string[] = [];
    vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => lines.push(format(...args)));
    await import('../examples/resolution.js');
    const printed = /It prints:\n\n```\n([\s\S]*?)```/.exec(section)?.[1].trimEnd().split('\n');
    expect(lines).toEqual(printed);
  });

  it('names exactly two quick-start commands', () => {
    const quick = /## Quick start[\s\S]*?```sh\n([\s\S]*?)```/.exec(read('README.md'))?.[1].trim().split('\n');
    expect(quick?.map((l) => l.split('#')[0].trim())).toEqual(['npm install && npm start', 'npm test']);
  });
});

describe('larval demo', () => {
  it('runs on the bundled data and agrees with the reference linear scan', () => {
    const cli = new URL('dist/src/cli/main.js', root);
    expect(existsSync(cli), 'dist/ is built by `npm test` (npm run build) first').toBe(true);
    const out = execFileSync(process.execPath, [cli.pathname, 'demo', '--packets', '20000', '--json'], { encoding: 'utf8' });
    const report = JSON.parse(out);
    expect(report.rules.policies).toBe(942);
    expect(report.packets).toBe(20000);
    expect(Object.values(report.verdicts as Record<string, number>).reduce((a, b) => a + b, 0)).toBe(20000);
    expect(report.verdicts.protect).toBeGreaterThan(0);
    expect(report.verdicts.queued).toBeGreaterThan(0); // the tunnel without SAs: queued (R7), not sent in clear
    expect(report.acquires).toBe(1); // one negotiation for it, however many packets (R8)
    expect(report.referenceCheck).toEqual({ sample: 10000, mismatches: 0 });
    expect(report.flowCache.hits).toBeGreaterThanOrEqual(20000);
  });

  it('prints help, and a clear error for a bad option', () => {
    const cli = new URL('dist/src/cli/main.js', root).pathname;
    expect(execFileSync(process.execPath, [cli, '--help'], { encoding: 'utf8' })).toMatch(/larval demo/);
    let err: { status?: number; stderr?: string } = {};
    try {
      execFileSync(process.execPath, [cli, 'demo', '--packets', 'lots'], { encoding: 'utf8', stdio: 'pipe' });
    } catch (e) {
      err = e as typeof err;
    }
    expect(err.status).toBe(2); // a usage error (describeFailure)
    expect(err.stderr).toMatch(/--packets.*lots/);
  });
});
