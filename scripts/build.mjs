#!/usr/bin/env node
// `npm run build`, rebuilding only what changed: the wasm when an assembly/ source
// (or asconfig.json) is newer than build/larval.wasm, the TypeScript when a source
// is newer than the last compile's stamp. tsc then compiles everything (not
// --incremental: that leaves unchanged outputs with old times, and dist/ must be
// newer than src/ for the checks that look).
// `--force` rebuilds both. A tarball install never runs this: it ships build/ and dist/.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const force = process.argv.includes('--force');
const bin = (name) => path.join(root, 'node_modules', '.bin', name);

function newest(paths) {
  let t = 0;
  const visit = (p) => {
    if (!existsSync(p)) return;
    const s = statSync(p);
    if (s.isDirectory()) {
      for (const e of readdirSync(p)) if (e !== 'node_modules') visit(path.join(p, e));
    } else if (/\.(ts|mts|json)$/.test(p)) t = Math.max(t, s.mtimeMs);
  };
  paths.forEach((p) => visit(path.join(root, p)));
  return t;
}
const mtime = (p) => (existsSync(path.join(root, p)) ? statSync(path.join(root, p)).mtimeMs : 0);
// The compilers print their own errors; a failure ends the build with their status, no stack.
const run = (cmd, args) => {
  try {
    execFileSync(cmd, args, { cwd: root, stdio: 'inherit' });
  } catch (err) {
    process.stderr.write(`build: ${path.basename(cmd)} ${args.join(' ')} failed\n`);
    process.exit(typeof err.status === 'number' && err.status ? err.status : 1);
  }
};

if (force || newest(['assembly', 'asconfig.json']) > mtime('build/larval.wasm')) {
  run(bin('asc'), ['--config', 'asconfig.json', '--target', 'release']);
}
const stamp = 'dist/.build-stamp';
if (force || newest(['src', 'bench', 'examples', 'assembly/layout.ts', 'assembly/wire-defs.ts', 'tsconfig.json', 'tsconfig.build.json', 'package.json']) > mtime(stamp) || mtime('build/larval.wasm') > mtime(stamp)) {
  run(bin('tsc'), ['-p', 'tsconfig.build.json']);
  writeFileSync(path.join(root, stamp), new Date().toISOString() + '\n');
}
// The HTML report's page script (esbuild bundle of src/page/), inlined by `--html`.
if (force || newest(['src', 'assembly/layout.ts', 'assembly/wire-defs.ts', 'tsconfig.page.json']) > mtime('build/page.js') || mtime('build/larval.wasm') > mtime('build/page.js')) {
  run(bin('tsc'), ['-p', 'tsconfig.page.json']);
  run(process.execPath, [path.join(root, 'scripts', 'build-page.mjs')]);
}
