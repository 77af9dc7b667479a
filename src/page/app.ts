// The HTML report's page (bundled by esbuild into build/page.js; src/cli/html.ts
// inlines it). It shows the reports the CLI embedded at once — the same table rows
// as the text report (replay/report.ts reportRows) and the same timeline as
// --chart (chartSvg) — then lets the reader re-run the replay in the browser with
// the same engine: other key-manager delay, msl, rekey time or preset, or a capture
// and setkey file of their own, read here and sent nowhere.

import { chartSvg, reportRows, saColour, saLabel } from '../replay/report.js';
import { fromBase64, replayInPage, usePageEngine, type PageData, type PageReplayInput } from './replay-page.js';
import type { ReplayReport, TracedPacket } from '../replay/replay.js';
import type { PresetName } from '../engine/types.js';

declare global {
  interface Window {
    larval?: {
      /** The embedded capture and config replayed here, as `larval replay --json` prints it. */
      replayJson(options?: { kmDelay?: number; msl?: number; rekeyMs?: number }): Promise<string>;
      data: PageData;
    };
  }
}

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/"/g, '&quot;');

interface Shown {
  reports: ReplayReport[];
  capture: string;
  config: string;
  input: Omit<PageReplayInput, 'kmDelay' | 'msl' | 'rekeyMs' | 'presets'>;
  /** Per preset, each packet's fate (filled by a traced run). */
  traces: Map<PresetName, TracedPacket[]> | null;
  tracing: Promise<void> | null;
  options: { kmDelay: number; msl: number; rekeyMs?: number; presets: PresetName[] };
}

let shown: Shown;
let runs = 0;

function main(): void {
  const data = JSON.parse($('larval-data').textContent!) as PageData;
  // Decoded when a replay first runs, not while the page opens.
  usePageEngine(() => fromBase64($('larval-wasm').textContent!.trim()));
  let decoded: Uint8Array | undefined;
  const base = { get capture() { return (decoded ??= fromBase64(data.captureBase64)); }, captureName: data.capture, configText: data.configText, configName: data.config };
  shown = {
    reports: data.reports, capture: data.capture, config: data.config, input: base, traces: null, tracing: null,
    options: { kmDelay: data.kmDelay, msl: data.msl, ...(data.rekeyMs ? { rekeyMs: data.rekeyMs } : {}), presets: data.presets },
  };
  window.larval = {
    data,
    replayJson: async (o = {}) =>
      (await replayInPage({ ...base, kmDelay: o.kmDelay ?? data.kmDelay, msl: o.msl ?? data.msl, ...(o.rekeyMs ?? data.rekeyMs ? { rekeyMs: o.rekeyMs ?? data.rekeyMs } : {}), presets: data.presets })).json,
  };
  $<HTMLInputElement>('km-delay').value = String(data.kmDelay);
  $<HTMLInputElement>('msl').value = String(data.msl);
  $<HTMLInputElement>('rekey').value = data.rekeyMs ? String(data.rekeyMs) : '';
  $<HTMLSelectElement>('preset').value = data.presets.length === 1 ? data.presets[0] : 'all';
  render();
  $('rerun').addEventListener('click', () => void rerun());
  for (const id of ['km-delay', 'msl', 'rekey']) $(id).addEventListener('keydown', (e) => (e as KeyboardEvent).key === 'Enter' && void rerun());
  $('preset').addEventListener('change', () => void rerun());
  setupDrop();
  document.documentElement.dataset.larval = 'ready';
  document.documentElement.dataset.readyMs = performance.now().toFixed(0);
}

function render(): void {
  const { reports } = shown;
  $('source').textContent = `${shown.capture} with ${shown.config} · km delay ${shown.options.kmDelay} ms · msl ${shown.options.msl} ms${shown.options.rekeyMs ? ` · rekey ${shown.options.rekeyMs} ms` : ''}`;
  const rows = reportRows(reports);
  const head = rows[0];
  const body = rows.slice(1);
  $('report').innerHTML =
    `<thead><tr>${head.map((c, i) => `<th${i ? ` data-preset="${esc(c)}"` : ''}>${esc(c)}</th>`).join('')}</tr></thead><tbody>` +
    body.map((r) => `<tr data-row="${esc(r[0].trim())}">${r.map((c, i) => (i === 0 ? `<th style="padding-left:${r[0].length - r[0].trimStart().length}ch">${esc(r[0].trim())}</th>` : `<td data-preset="${esc(head[i])}"${/LOST/.test(r[0]) && c !== '0' ? ' class="bad"' : ''}>${esc(c)}</td>`)).join('')}</tr>`).join('') +
    '</tbody>';
  $('timeline').innerHTML = chartSvg(reports, `larval replay ${shown.capture}`);
  setupTimeline();
  $('details').innerHTML = '<p class="hint">Hover the timeline for a shared time cursor; click a moment or a legend entry (an SA) for its packets, flows and events.</p>';
}

async function rerun(input?: Shown['input'], names?: { capture: string; config: string }): Promise<void> {
  const status = $('status');
  const num = (id: string, what: string): number | undefined => {
    const v = $<HTMLInputElement>(id).value.trim();
    if (v === '') return undefined;
    const n = Number(v);
    if (!Number.isFinite(n) || n < 0) throw new Error(`${what}: expected a number of ms >= 0, got ${JSON.stringify(v)}`);
    return n;
  };
  try {
    const kmDelay = num('km-delay', 'key-manager delay') ?? 200;
    const msl = num('msl', 'msl') ?? 30_000;
    const rekeyMs = num('rekey', 'rekey');
    const p = $<HTMLSelectElement>('preset').value;
    const presets = (p === 'all' ? ['larval', 'linux', 'bsd-2000'] : [p]) as PresetName[];
    status.textContent = 'replaying in the browser…';
    document.documentElement.dataset.run = 'running';
    const base = input ?? shown.input;
    const traces = new Map<PresetName, TracedPacket[]>(presets.map((x) => [x, []]));
    const t0 = performance.now();
    const res = await replayInPage({ ...base, kmDelay, msl, ...(rekeyMs ? { rekeyMs } : {}), presets, trace: (preset, pk) => traces.get(preset)!.push(pk) });
    shown = {
      reports: res.reports, capture: names?.capture ?? shown.capture, config: names?.config ?? shown.config, input: base,
      traces, tracing: null, options: { kmDelay, msl, ...(rekeyMs ? { rekeyMs } : {}), presets },
    };
    render();
    runs++;
    status.textContent = `re-ran in the browser in ${Math.round(performance.now() - t0)} ms${res.unverifiedEsp ? ` · ${res.unverifiedEsp} inbound ESP packets could not be verified here (counted as no-keys drops; the CLI verifies them)` : ''}`;
    document.documentElement.dataset.run = String(runs);
  } catch (err) {
    status.textContent = `error: ${(err as Error).message}`;
    document.documentElement.dataset.run = 'error';
  }
}

// Per-packet details come from a traced run in the page, made the first time they are asked for.
function traces(): Promise<Map<PresetName, TracedPacket[]>> {
  if (shown.traces) return Promise.resolve(shown.traces);
  const s = shown;
  s.tracing ??= (async () => {
    const t = new Map<PresetName, TracedPacket[]>(s.options.presets.map((x) => [x, []]));
    await replayInPage({ ...s.input, ...s.options, trace: (preset, pk) => t.get(preset)!.push(pk) });
    s.traces = t;
  })();
  return s.tracing.then(() => s.traces!);
}

function setupTimeline(): void {
  const svg = $('timeline').querySelector('svg')!;
  const span = Number(svg.dataset.span);
  const left = Number(svg.dataset.left);
  const plotW = Number(svg.dataset.plotWidth);
  const bands = [...svg.querySelectorAll<SVGGElement>('g.band')];
  const NS = 'http://www.w3.org/2000/svg';
  const cursors = bands.map((g) => {
    const l = document.createElementNS(NS, 'line');
    l.setAttribute('class', 'cursor');
    l.setAttribute('y1', g.dataset.top!);
    l.setAttribute('y2', g.dataset.bottom!);
    l.setAttribute('stroke', '#000');
    l.setAttribute('stroke-width', '1');
    l.setAttribute('visibility', 'hidden');
    l.setAttribute('pointer-events', 'none');
    g.appendChild(l);
    return l;
  });
  const timeAt = (ev: MouseEvent): number | null => {
    const pt = svg.createSVGPoint();
    pt.x = ev.clientX;
    pt.y = ev.clientY;
    const p = pt.matrixTransform(svg.getScreenCTM()!.inverse());
    if (p.x < left || p.x > left + plotW) return null;
    return ((p.x - left) / plotW) * span;
  };
  svg.addEventListener('mousemove', (ev) => {
    const t = timeAt(ev);
    const x = t === null ? 0 : left + (plotW * t) / span;
    for (const c of cursors) {
      c.setAttribute('x1', String(x));
      c.setAttribute('x2', String(x));
      c.setAttribute('visibility', t === null ? 'hidden' : 'visible');
    }
    $('cursor').textContent = t === null ? '' : `t = ${(t / 1000).toFixed(2)} s`;
  });
  svg.addEventListener('click', (ev) => {
    const legend = (ev.target as Element).closest('g.legend') as SVGGElement | null;
    if (legend) return void showSa(legend.dataset.preset as PresetName, legend.dataset.spi!);
    const t = timeAt(ev);
    if (t !== null) void showMoment(t);
  });
}

const fateClass = (f: string) => (f === 'lost' || f === 'stale' ? 'bad' : f === 'queued' ? 'warn' : '');

function packetList(list: TracedPacket[], limit = 40): string {
  const rows = list.slice(0, limit).map((p) => `<tr><td>${(p.t / 1000).toFixed(3)} s</td><td>${p.dir}</td><td class="${fateClass(p.fate)}">${p.fate}${p.reason ? ` (${esc(p.reason)})` : ''}</td><td>${p.spi ?? ''}</td><td>${esc(p.flow)}</td></tr>`);
  return `<table class="packets"><tr><th>time</th><th>dir</th><th>fate</th><th>SA</th><th>flow</th></tr>${rows.join('')}</table>${list.length > limit ? `<p>… and ${list.length - limit} more</p>` : ''}`;
}

function flowsOf(list: TracedPacket[]): string {
  const counts = new Map<string, number>();
  for (const p of list) counts.set(p.flow, (counts.get(p.flow) ?? 0) + 1);
  return [...counts].sort((a, b) => b[1] - a[1]).slice(0, 12).map(([f, n]) => `<li>${esc(f)}: ${n}</li>`).join('');
}

async function showMoment(t: number): Promise<void> {
  const d = $('details');
  const out: string[] = [];
  const tr = await traces();
  for (const r of shown.reports) {
    const w = r.timeline.bucketMs;
    const from = Math.floor(t / w) * w;
    const b = r.timeline.buckets.find((x) => x.t === from);
    const events = r.timeline.events.filter((e) => e.t >= from - w && e.t < from + 2 * w);
    const pk = (tr.get(r.preset) ?? []).filter((p) => p.t >= from && p.t < from + w);
    const delivered = b ? Object.entries(b.delivered).map(([spi, n]) => `<span class="swatch" style="background:${saColour(r, spi)}"></span>${spi === 'clear' ? 'bypass' : spi} ${n}`).join(', ') : '';
    out.push(`<section data-preset="${esc(r.preset)}"><h3>${esc(r.preset)} · ${(from / 1000).toFixed(1)}–${((from + w) / 1000).toFixed(1)} s</h3>
      <p>delivered: ${delivered || '0'} · queued ${b?.queued ?? 0} · lost ${b?.lost ?? 0} (stale ${b?.stale ?? 0}) · ACQUIREs ${b?.acquires ?? 0}</p>
      <p>events: ${events.length ? events.map((e) => `${(e.t / 1000).toFixed(3)} s ${e.kind}${e.cause ? ` (${e.cause})` : ''}${e.spi ? ` ${e.spi}` : ''}${e.peer ? ` peer ${e.peer}` : ''}`).join('; ') : 'none'}</p>
      <details${pk.length ? ' open' : ''}><summary>${pk.length} packets, flows</summary><ul>${flowsOf(pk)}</ul>${packetList(pk)}</details></section>`);
  }
  d.innerHTML = out.join('');
}

async function showSa(preset: PresetName, spi: string): Promise<void> {
  const r = shown.reports.find((x) => x.preset === preset)!;
  const tr = await traces();
  const pk = (tr.get(preset) ?? []).filter((p) => (spi === 'clear' ? p.fate === 'delivered' && !p.spi : p.spi === spi));
  const sa = r.timeline.sas.find((s) => s.spi === spi);
  const events = r.timeline.events.filter((e) => e.spi === spi);
  const last = pk.length ? pk[pk.length - 1].t : null;
  $('details').innerHTML = `<section data-preset="${esc(preset)}" data-spi="${esc(spi)}"><h3><span class="swatch" style="background:${saColour(r, spi)}"></span>${esc(preset)} · ${esc(sa ? saLabel(sa) : 'bypass (clear)')}</h3>
    <p>${pk.length} packets${pk.length ? ` from ${(pk[0].t / 1000).toFixed(3)} s to ${(last! / 1000).toFixed(3)} s` : ''}: ${['delivered', 'stale', 'lost'].map((f) => `${f} ${pk.filter((p) => p.fate === f).length}`).join(', ')}</p>
    <p>events: ${events.map((e) => `${(e.t / 1000).toFixed(3)} s ${e.kind}${e.cause ? ` (${e.cause})` : ''}`).join('; ') || 'none'}</p>
    <h4>flows</h4><ul>${flowsOf(pk)}</ul>${packetList(pk)}</section>`;
}

function setupDrop(): void {
  const zone = $('drop');
  const files: { capture?: File; config?: File } = {};
  const take = async (list: FileList | null) => {
    for (const f of list ? [...list] : []) {
      const head = new Uint8Array(await f.slice(0, 4).arrayBuffer());
      const magic = ((head[0] << 24) | (head[1] << 16) | (head[2] << 8) | head[3]) >>> 0;
      const isCapture = [0x0a0d0d0a, 0xa1b2c3d4, 0xd4c3b2a1, 0xa1b23c4d, 0x4d3cb2a1].includes(magic) || /\.(pcap|pcapng|cap)$/i.test(f.name);
      if (isCapture) files.capture = f;
      else files.config = f;
    }
    $('dropped').textContent = `capture: ${files.capture?.name ?? '(none yet)'} · setkey config: ${files.config?.name ?? '(none yet)'}`;
    if (files.capture && files.config) {
      const capture = new Uint8Array(await files.capture.arrayBuffer());
      const configText = await files.config.text();
      await rerun({ capture, captureName: files.capture.name, configText, configName: files.config.name }, { capture: files.capture.name, config: files.config.name });
    }
  };
  zone.addEventListener('dragover', (e) => {
    e.preventDefault();
    zone.classList.add('over');
  });
  zone.addEventListener('dragleave', () => zone.classList.remove('over'));
  zone.addEventListener('drop', (e) => {
    e.preventDefault();
    zone.classList.remove('over');
    void take(e.dataTransfer?.files ?? null);
  });
  $<HTMLInputElement>('files').addEventListener('change', (e) => void take((e.target as HTMLInputElement).files));
}

try {
  main();
} catch (err) {
  document.body.insertAdjacentHTML('afterbegin', `<p class="bad">larval: ${esc((err as Error).message)}</p>`);
  document.documentElement.dataset.larval = 'error';
}
