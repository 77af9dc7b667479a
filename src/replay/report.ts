// The replay report, for people (a table with one column per preset, an SVG
// timeline) and for machines (JSON, in cli.ts).

import type { ReplayReport } from './replay.js';

const fmt = (n: number | null, unit = '') => (n === null ? '-' : `${Number.isInteger(n) ? n.toLocaleString('en-US') : n.toFixed(1)}${unit}`);

/** Rows of the side-by-side table: label, then one value per report. */
export function reportRows(reports: readonly ReplayReport[]): string[][] {
  const rows: string[][] = [];
  const row = (label: string, f: (r: ReplayReport) => string) => rows.push([label, ...reports.map(f)]);
  row('preset', (r) => r.preset);
  // The first verdict on each packet; a queued packet gets a second one when its SA
  // arrives (counted below, with the latency it added).
  row('packets out / in, first verdict', (r) => `${fmt(r.packets.out)} / ${fmt(r.packets.in)}`);
  const label: Record<string, string> = { protect: 'protect (ESP)', bypass: 'bypass (in clear)', queued: 'queued for an SA' };
  for (const v of ['protect', 'bypass', 'queued', 'discard', 'drop', 'malformed'] as const) {
    if (reports.some((r) => r.verdicts.out[v] || r.verdicts.in[v])) row(`  ${label[v] ?? v}`, (r) => `${fmt(r.verdicts.out[v])} / ${fmt(r.verdicts.in[v])}`);
  }
  row('outbound reaching the peer (ESP or clear)', (r) => fmt(r.delivered));
  row('LOST (dropped, stale SA)', (r) => fmt(r.lost));
  const reasons = [...new Set(reports.flatMap((r) => Object.keys(r.drops)))].sort();
  for (const reason of reasons) row(`  drop: ${reason}`, (r) => fmt(r.drops[reason] ?? 0));
  row('  sent on a stale SA (R6)', (r) => fmt(r.stale));
  row('sent while the peer had no SA', (r) => fmt(r.peerDown));
  row('ACQUIREs sent', (r) => fmt(r.acquires));
  row('  of them resends', (r) => fmt(r.acquireResends));
  row('negotiations (incl. rekeys)', (r) => fmt(r.negotiations));
  row('SAs installed', (r) => fmt(r.sasInstalled));
  row('peer restarts seen', (r) => fmt(r.peerRestarts));
  row('sent after waiting for an SA', (r) => fmt(r.latency.queued));
  row('  added latency p50', (r) => fmt(r.latency.p50, ' ms'));
  row('  added latency p99', (r) => fmt(r.latency.p99, ' ms'));
  row('  added latency max', (r) => fmt(r.latency.max, ' ms'));
  return rows;
}

/** The table as text, columns aligned. */
export function formatReport(reports: readonly ReplayReport[]): string {
  const rows = reportRows(reports);
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return rows.map((r) => r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('   ').trimEnd()).join('\n');
}

const PALETTE = ['#4e79a7', '#59a14f', '#edc948', '#b07aa1', '#76b7b2', '#ff9da7', '#9c755f', '#f28e2b', '#8cd17d', '#499894', '#d4a6c8', '#86bcb6'];
export const COLOURS = { clear: '#bbbbbb', lost: '#e15759', stale: '#8b1a1a', queued: '#f1a340', acquire: '#111111', resend: '#888888', rekey: '#1f5fbf', restart: '#7b3294' } as const;
const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/"/g, '&quot;');

/** The colour of an SA on the timeline: by its place among the report's SAs. */
export function saColour(r: ReplayReport, spi: string): string {
  if (spi === 'clear') return COLOURS.clear;
  const i = r.timeline.sas.findIndex((s) => s.spi === spi);
  return PALETTE[(i < 0 ? 0 : i) % PALETTE.length];
}

/** The legend's text for an SA: SPI, which negotiation made it and why, and its peer. */
export function saLabel(sa: ReplayReport['timeline']['sas'][number]): string {
  const how = sa.negotiation === 0 ? 'from the config' : `#${sa.negotiation} ${sa.cause} at ${(sa.installedAt / 1000).toFixed(2)} s`;
  return `SPI ${sa.spi} · ${how} · to ${sa.peer}`;
}

// Round tick values for a square-root axis up to `max`.
function sqrtTicks(max: number): number[] {
  const out = [0];
  for (const t of [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000, 20_000, 50_000, 100_000]) {
    if (t <= max && (Math.sqrt(t) - Math.sqrt(out[out.length - 1]) >= Math.sqrt(max) / 6)) out.push(t);
  }
  return out;
}

function timeStep(spanMs: number): number {
  for (const s of [100, 200, 500, 1000, 2000, 5000, 10_000, 20_000, 30_000, 60_000, 120_000, 300_000, 600_000, 1_800_000, 3_600_000]) if (spanMs / s <= 12) return s;
  return 7_200_000;
}

const fmtSeconds = (ms: number) => (ms % 1000 === 0 ? `${ms / 1000}` : (ms / 1000).toFixed(1));

/**
 * An SVG timeline, one band per preset, with a legend of its SAs (by SPI and the
 * negotiation that made them) and of the marks, a time axis in seconds and a
 * packets-per-bucket axis (square-root scale, labelled): packets that reached the
 * peer above the axis, coloured by the SA they used (grey: bypass); below it the
 * packets lost (red; dark red: sent on a stale SA, R6) and those queued for a
 * negotiation (orange, R7); ACQUIREs (black triangles) and their resends (grey) on
 * top; installs of rekeyed SAs (blue) and peer restarts (purple lines).
 * Elements carry data-* attributes (preset, t, spi) for the HTML report.
 */
export function chartSvg(reports: readonly ReplayReport[], title = 'larval replay'): string {
  const width = 1000;
  const left = 110;
  const right = 20;
  const plotW = width - left - right;
  const span = Math.max(1, ...reports.map((r) => r.durationMs + r.timeline.bucketMs));
  const x = (t: number) => left + (plotW * t) / span;
  const legendCol = 290;
  void legendCol;
  const perRow = 2;
  const colW = plotW / perRow;
  const out: string[] = [];
  const bands: string[] = [];
  let y = 52;
  reports.forEach((r, ri) => {
    const entries = [...r.timeline.sas.map((sa) => ({ colour: saColour(r, sa.spi), label: saLabel(sa), spi: sa.spi }))];
    if (r.timeline.buckets.some((b) => b.delivered.clear)) entries.push({ colour: COLOURS.clear, label: 'bypass (clear)', spi: 'clear' });
    const legendRows = Math.max(1, Math.ceil(entries.length / perRow));
    const y0 = y;
    const up = 110;
    const down = 55;
    const top = y0 + 22 + legendRows * 16 + 14;
    const mid = top + up;
    const bottom = mid + down;
    const g: string[] = [];
    g.push(`<g class="band" data-preset="${esc(r.preset)}" data-index="${ri}" data-top="${top}" data-bottom="${bottom}">`);
    // Under the marks, so that their tooltips show: the page's hover and click area.
    g.push(`<rect class="hit" x="${left}" y="${top}" width="${plotW}" height="${bottom - top}" fill="transparent"/>`);
    g.push(`<text x="8" y="${y0 + 14}" font-size="14" font-weight="bold">${esc(r.preset)}</text>`);
    g.push(`<text x="${left}" y="${y0 + 14}" font-size="12">delivered ${r.delivered} · lost ${r.lost} (stale ${r.stale}) · queued ${r.latency.queued} · ACQUIREs ${r.acquires} (resends ${r.acquireResends}) · SAs ${r.sasInstalled} · peer restarts ${r.peerRestarts}</text>`);
    entries.forEach((e, k) => {
      const lx = left + (k % perRow) * colW;
      const ly = y0 + 22 + Math.floor(k / perRow) * 16;
      g.push(`<g class="legend" data-spi="${esc(e.spi)}" data-preset="${esc(r.preset)}"><rect x="${lx}" y="${ly + 2}" width="12" height="10" fill="${e.colour}"/><text x="${lx + 16}" y="${ly + 11}">${esc(e.label)}</text></g>`);
    });
    const maxUp = Math.max(1, ...r.timeline.buckets.map((b) => Object.values(b.delivered).reduce((a, c) => a + c, 0)));
    const maxDown = Math.max(1, ...r.timeline.buckets.map((b) => b.lost + b.queued));
    const hu = (n: number) => (up * Math.sqrt(n)) / Math.sqrt(maxUp);
    const hd = (n: number) => (down * Math.sqrt(n)) / Math.sqrt(maxDown);
    // y axis: packets per bucket, square-root scale, both ways from the baseline.
    g.push(`<line x1="${left}" y1="${top}" x2="${left}" y2="${bottom}" stroke="#333"/>`);
    for (const t of sqrtTicks(maxUp)) {
      const yy = mid - hu(t);
      g.push(`<line x1="${left - 4}" y1="${yy.toFixed(1)}" x2="${left}" y2="${yy.toFixed(1)}" stroke="#333"/><text x="${left - 6}" y="${(yy + 3).toFixed(1)}" text-anchor="end">${t}</text>`);
      if (t) g.push(`<line x1="${left}" y1="${yy.toFixed(1)}" x2="${width - right}" y2="${yy.toFixed(1)}" stroke="#eee"/>`);
    }
    for (const t of sqrtTicks(maxDown).slice(1)) {
      const yy = mid + hd(t);
      g.push(`<line x1="${left - 4}" y1="${yy.toFixed(1)}" x2="${left}" y2="${yy.toFixed(1)}" stroke="#333"/><text x="${left - 6}" y="${(yy + 3).toFixed(1)}" text-anchor="end">${t}</text>`);
    }
    g.push(`<text transform="translate(${left - 40},${mid}) rotate(-90)" text-anchor="middle" font-size="10">packets / ${r.timeline.bucketMs} ms (√)</text>`);
    g.push(`<text x="8" y="${top + 10}" font-size="10">↑ sent</text><text x="8" y="${bottom + 14}" font-size="10">↓ lost, queued</text>`);
    const w = Math.max(1, x(r.timeline.bucketMs) - x(0));
    for (const b of r.timeline.buckets) {
      // Stacked on the square-root scale by cumulative count, so the stack's top is hu(total).
      let cum = 0;
      const bx = x(b.t).toFixed(1);
      for (const [spi, n] of Object.entries(b.delivered)) {
        const yy = mid - hu(cum + n);
        const h = hu(cum + n) - hu(cum);
        cum += n;
        g.push(`<rect x="${bx}" y="${yy.toFixed(1)}" width="${w.toFixed(1)}" height="${h.toFixed(1)}" fill="${saColour(r, spi)}" data-t="${b.t}" data-spi="${esc(spi)}"><title>${esc(spi === 'clear' ? 'bypass' : `SPI ${spi}`)}: ${n} delivered, ${(b.t / 1000).toFixed(1)} s</title></rect>`);
      }
      let down0 = 0;
      const fresh = b.lost - b.stale;
      for (const [n, colour, what] of [[fresh, COLOURS.lost, 'lost'], [b.stale, COLOURS.stale, 'lost on a stale SA'], [b.queued, COLOURS.queued, 'queued']] as const) {
        if (!n) continue;
        const h = Math.max(1, hd(down0 + n) - hd(down0));
        g.push(`<rect x="${bx}" y="${(mid + hd(down0)).toFixed(1)}" width="${w.toFixed(1)}" height="${h.toFixed(1)}" fill="${colour}" data-t="${b.t}"><title>${n} ${what}, ${(b.t / 1000).toFixed(1)} s</title></rect>`);
        down0 += n;
      }
    }
    for (const ev of r.timeline.events) {
      const ex = x(ev.t).toFixed(1);
      if (ev.kind === 'acquire' || ev.kind === 'resend') {
        const c = ev.kind === 'acquire' ? COLOURS.acquire : COLOURS.resend;
        g.push(`<path d="M${ex},${top - 2} l-5,-9 h10 z" fill="${c}" data-t="${ev.t}"><title>${ev.kind === 'acquire' ? 'ACQUIRE' : 'ACQUIRE resent'} at ${(ev.t / 1000).toFixed(3)} s</title></path>`);
      } else if (ev.kind === 'install' && ev.cause === 'rekey') {
        g.push(`<path d="M${ex},${top + 2} l5,6 l-5,6 l-5,-6 z" fill="${COLOURS.rekey}" data-t="${ev.t}"><title>rekey: SPI ${esc(ev.spi ?? '')} installed at ${(ev.t / 1000).toFixed(3)} s</title></path>`);
      } else if (ev.kind === 'restart') {
        g.push(`<line x1="${ex}" y1="${top}" x2="${ex}" y2="${bottom}" stroke="${COLOURS.restart}" stroke-width="2" stroke-dasharray="4 3" data-t="${ev.t}"><title>peer ${esc(ev.peer ?? '')} restarted at ${(ev.t / 1000).toFixed(3)} s</title></line>`);
      }
    }
    g.push(`<line x1="${left}" y1="${mid}" x2="${width - right}" y2="${mid}" stroke="#333"/>`);
    // x axis: seconds since the first packet.
    const step = timeStep(span);
    for (let t = 0; t <= span; t += step) {
      g.push(`<line x1="${x(t).toFixed(1)}" y1="${bottom}" x2="${x(t).toFixed(1)}" y2="${bottom + 4}" stroke="#333"/><text x="${x(t).toFixed(1)}" y="${bottom + 15}" text-anchor="middle">${fmtSeconds(t)}</text>`);
    }
    g.push(`<line x1="${left}" y1="${bottom}" x2="${width - right}" y2="${bottom}" stroke="#999"/>`);
    g.push(`<text x="${width - right}" y="${bottom + 28}" text-anchor="end" font-size="10">time since the first packet (s)</text>`);
    g.push('</g>');
    bands.push(...g);
    y = bottom + 40;
  });
  const height = y + 4;
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11" data-span="${span}" data-left="${left}" data-plot-width="${plotW}">`);
  out.push(`<rect width="100%" height="100%" fill="white"/>`);
  out.push(`<text x="8" y="20" font-size="15">${esc(title)}</text>`);
  // The marks' legend, once.
  const marks: [string, string][] = [[COLOURS.lost, 'lost'], [COLOURS.stale, 'lost on a stale SA (R6)'], [COLOURS.queued, 'queued (R7)'], [COLOURS.acquire, '▼ ACQUIRE'], [COLOURS.resend, '▼ ACQUIRE resent'], [COLOURS.rekey, '◆ rekey'], [COLOURS.restart, '┆ peer restart']];
  marks.forEach(([c, label], k) => {
    const lx = 8 + k * 140;
    out.push(`<g class="mark-legend"><rect x="${lx}" y="30" width="12" height="10" fill="${c}"/><text x="${lx + 16}" y="39">${esc(label)}</text></g>`);
  });
  out.push(...bands);
  out.push('</svg>');
  return out.join('\n');
}
