// Issue 14: the package an embedder installs. `npm pack`, then install the tarball
// OFFLINE into a fresh project (larval has no runtime dependencies, so nothing is
// fetched) and use it there as a user would: the README's embedding example as plain
// JavaScript, the types under `tsc --noEmit` with skipLibCheck false (node16,
// nodenext and bundler resolution), and `npx larval replay` on the bundled example.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = new URL('../../', import.meta.url).pathname;
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { name: string; version: string; dependencies?: object };
const dir = mkdtempSync(join(tmpdir(), 'larval-pack-'));
const project = join(dir, 'project');
let tarball = '';
let files: string[] = [];

const npm = (args: string[], cwd: string) => execFileSync('npm', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, npm_config_loglevel: 'error', npm_config_update_notifier: 'false' } });

/** The README's embedding example (the ts block of "Use it from your own tool"). */
export function readmeEmbedExample(): string {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Use it from your own tool'));
  const block = /```ts\n([\s\S]*?)```/.exec(section)?.[1];
  if (!block) throw new Error('README has no embedding example');
  return block;
}

beforeAll(() => {
  // `npm pack` runs `prepare` (the incremental build), so dist/ and build/ are current.
  const out = JSON.parse(npm(['pack', '--json', '--pack-destination', dir], root)) as { filename: string; files: { path: string }[] }[];
  tarball = join(dir, out[0].filename);
  files = out[0].files.map((f) => f.path).sort();
  mkdirSync(project);
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'embedder', version: '1.0.0', private: true, type: 'module' }));
  npm(['install', '--offline', '--no-audit', '--no-fund', tarball], project);
}, 300_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('npm pack: the tarball', () => {
  it('holds the wasm, its loader, the JS, the .d.ts files, README and LICENSE, and nothing only development needs', () => {
    for (const f of ['build/larval.wasm', 'build/larval.js', 'dist/src/index.js', 'dist/src/index.d.ts', 'dist/src/cli/main.js', 'dist/assembly/layout.js', 'README.md', 'LICENSE', 'package.json', 'examples/gateway.pcap', 'examples/gateway.conf', 'data/classbench/acl1_1k']) {
      expect(files, f).toContain(f);
    }
    const forbidden = files.filter((f) => /^(test|bench|dist\/test|dist\/bench|assembly|src|scripts|\.ci)\//.test(f) || /^tsconfig|\.test\.|\.map$|^data\/captures\//.test(f) || (f.startsWith('data/classbench/') && f !== 'data/classbench/acl1_1k'));
    expect(forbidden).toEqual([]);
    expect(pkg).not.toHaveProperty('private');
    expect(pkg.dependencies ?? {}).toEqual({}); // nothing to fetch on install
  });

  it('exports "." and "./package.json", and its bin is the CLI', () => {
    const installed = JSON.parse(readFileSync(join(project, 'node_modules/larval/package.json'), 'utf8'));
    expect(Object.keys(installed.exports)).toEqual(['.', './package.json']);
    expect(installed.bin).toEqual({ larval: 'dist/src/cli/main.js' });
    expect(existsSync(join(project, 'node_modules/larval/build/larval.wasm'))).toBe(true);
  });
});

describe('installed offline into a fresh project', () => {
  it("runs the README's embedding example as plain JavaScript", () => {
    writeFileSync(join(project, 'embed.mjs'), readmeEmbedExample());
    const out = execFileSync(process.execPath, ['embed.mjs', 'node_modules/larval/examples/gateway.pcap', 'node_modules/larval/examples/gateway.conf'], { cwd: project, encoding: 'utf8' });
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const printed = /examples\/gateway\.conf` prints:\n\n```\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(out).toBe(printed);
    // And "./package.json" resolves through exports.
    const version = execFileSync(process.execPath, ['--input-type=module', '-e', "import p from 'larval/package.json' with { type: 'json' }; console.log(p.version)"], { cwd: project, encoding: 'utf8' });
    expect(version.trim()).toBe(pkg.version);
  });

  for (const [resolution, module] of [['node16', 'node16'], ['nodenext', 'nodenext'], ['bundler', 'esnext']] as const) {
    it(`its types compile with skipLibCheck false under moduleResolution ${resolution}`, () => {
      const tsdir = join(project, `ts-${resolution}`);
      mkdirSync(tsdir, { recursive: true });
      writeFileSync(join(tsdir, 'use.ts'), readmeEmbedExample().replace(/^const \[capture, configFile\] = .*$/m, "const [capture, configFile] = ['a.pcap', 'a.conf'];") + "\nexport {};\n");
      writeFileSync(join(tsdir, 'tsconfig.json'), JSON.stringify({
        compilerOptions: {
          target: 'ES2022', module, moduleResolution: resolution, strict: true, skipLibCheck: false, noEmit: true, lib: ['ES2022'],
          types: ['node'], typeRoots: [join(root, 'node_modules/@types')],
        },
        files: ['use.ts'],
      }));
      const r = spawnSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(tsdir, 'tsconfig.json')], { cwd: project, encoding: 'utf8' });
      expect(r.stdout + r.stderr).toBe('');
      expect(r.status).toBe(0);
    });
  }

  it('`npx larval replay` runs on the bundled example, and `npx larval --version` names the version', () => {
    const out = execFileSync('npx', ['--offline', 'larval', 'replay', 'node_modules/larval/examples/gateway.pcap', '--config', 'node_modules/larval/examples/gateway.conf', '--preset', 'larval'], { cwd: project, encoding: 'utf8' });
    expect(out).toMatch(/^LOST \(dropped, stale SA\)\s+0$/m);
    expect(execFileSync('npx', ['--offline', 'larval', '--version'], { cwd: project, encoding: 'utf8' }).trim()).toBe(`larval ${pkg.version}`);
  });
});
