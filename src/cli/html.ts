// `larval replay --html`: one self-contained page (no network): the page's script
// (build/page.js, bundled by esbuild from src/page/), the data plane (build/larval.wasm)
// and the capture inlined as base64, the config as text, and the reports the CLI
// computed as JSON. See src/page/app.ts for what the page does.

import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { LarvalError } from '../common/errors.js';
import { findUp } from '../common/paths.js';
import type { PageData } from '../page/replay-page.js';
import type { ReplayReport } from '../replay/replay.js';
import type { PresetName } from '../engine/types.js';

export interface HtmlReportInput {
  capture: string;
  config: string;
  kmDelay: number;
  msl: number;
  rekeyMs?: number;
  presets: PresetName[];
  reports: ReplayReport[];
}

// JSON inside <script>: '<' escaped so that no "</script>" or "<!--" ends it early.
const scriptJson = (v: unknown) => JSON.stringify(v).replace(/</g, '\\u003c');

const STYLE = `
body{font:14px/1.4 system-ui,sans-serif;margin:1em 2em;color:#222}
h1{font-size:20px;margin:.2em 0}
#source{color:#555}
table#report{border-collapse:collapse;margin:1em 0;font-variant-numeric:tabular-nums}
#report th,#report td{border-bottom:1px solid #ddd;padding:2px 10px;text-align:right}
#report tbody th{text-align:left;font-weight:normal}
#report thead th{border-bottom:2px solid #333}
.bad{color:#c0292b;font-weight:bold}.warn{color:#b86e00}
#controls{display:flex;flex-wrap:wrap;gap:1em;align-items:end;background:#f6f6f6;padding:.6em 1em;border-radius:6px}
#controls label{display:flex;flex-direction:column;font-size:12px}
#controls input{width:7em}
#drop{border:2px dashed #999;border-radius:6px;padding:.6em 1em;margin:.6em 0}
#drop.over{background:#eef6ff;border-color:#4e79a7}
#timeline svg{max-width:100%;height:auto}
#cursor{font-variant-numeric:tabular-nums;color:#555;min-height:1.2em}
.swatch{display:inline-block;width:10px;height:10px;margin-right:3px}
table.packets{border-collapse:collapse;font-size:12px}table.packets td,table.packets th{padding:1px 8px;text-align:left}
.hint{color:#666}
`;

/** The page as a string. */
export function htmlReport(input: HtmlReportInput): string {
  const page = findUp(path.join('build', 'page.js'));
  const wasm = findUp(path.join('build', 'larval.wasm'));
  if (!page || !wasm) throw new LarvalError('EBUILD', 'build/page.js or build/larval.wasm not found: run `npm run build` first');
  let captureBytes: Buffer;
  let configText: string;
  try {
    captureBytes = readFileSync(input.capture);
    configText = readFileSync(input.config, 'utf8');
  } catch (err) {
    throw new LarvalError('ENOENT', `--html: cannot read ${(err as { path?: string }).path ?? 'an input'} again to embed it`);
  }
  const data: PageData = {
    capture: input.capture, config: input.config, configText, captureBase64: captureBytes.toString('base64'),
    kmDelay: input.kmDelay, msl: input.msl, ...(input.rekeyMs ? { rekeyMs: input.rekeyMs } : {}), presets: input.presets, reports: input.reports,
  };
  const script = readFileSync(page, 'utf8').replace(/<\/script/gi, '<\\/script');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline' 'wasm-unsafe-eval'; style-src 'unsafe-inline'; img-src data:">
<title>larval replay ${input.capture.replace(/</g, '&lt;')}</title>
<style>${STYLE}</style></head>
<body>
<h1>larval replay</h1>
<p id="source"></p>
<div id="controls">
<label>key-manager delay (ms)<input id="km-delay" type="number" min="0"></label>
<label>msl (ms)<input id="msl" type="number" min="0"></label>
<label>rekey (ms, empty: none)<input id="rekey" type="number" min="0"></label>
<label>preset<select id="preset"><option value="all">all, side by side</option><option>larval</option><option>linux</option><option>bsd-2000</option></select></label>
<button id="rerun">re-run in the browser</button>
<span id="status"></span>
</div>
<div id="drop">Drop your own capture (pcap or pcapng) and setkey(8) file here, or <input id="files" type="file" multiple>: they are read in this page and sent nowhere. <span id="dropped"></span></div>
<table id="report"></table>
<div id="cursor"></div>
<div id="timeline"></div>
<div id="details"></div>
<script type="application/json" id="larval-data">${scriptJson(data)}</script>
<script type="application/octet-stream" id="larval-wasm">${readFileSync(wasm).toString('base64')}</script>
<script>${script}</script>
</body></html>
`;
}

export function writeHtmlReport(file: string, input: HtmlReportInput): void {
  writeFileSync(file, htmlReport(input));
}
