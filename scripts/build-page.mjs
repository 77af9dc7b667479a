// Bundle the HTML report's page (src/page/app.ts and the platform-neutral core it
// imports) into build/page.js with esbuild: one IIFE for the browser, minified;
// src/cli/html.ts inlines it. Run by `npm run build:page` (part of `npm run build`).
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
await build({
  absWorkingDir: root,
  entryPoints: ['src/page/app.ts'],
  outfile: 'build/page.js',
  bundle: true,
  format: 'iife',
  platform: 'browser',
  target: ['chrome100', 'firefox100', 'safari15'],
  minify: true,
  legalComments: 'none',
  logLevel: 'warning',
});
