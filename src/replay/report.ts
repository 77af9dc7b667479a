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

const PALETTE = ['#4e79a7', '#59a14f', '#edc948', '#b07aa1', '#76b7b2', '#ff9da7', '#9c755f', '#bab0ac', '#f28e2b'];
const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');

/**
 * An SVG timeline, one band per preset: packets that reached the peer per time
 * bucket, coloured by the SA (SPI) they used; lost packets in red below the axis;
 * ACQUIREs as ticks on top. Heights are on a square-root scale.
 */
export function chartSvg(reports: readonly ReplayReport[], title = 'larval replay'): string {
  const width = 960;
  const band = 150;
  const left = 90;
  const top = 40;
  const height = top + reports.length * (band + 30) + 40;
  const span = Math.max(1, ...reports.map((r) => r.durationMs));
  const x = (t: number) => left + ((width - left - 20) * t) / span;
  const spis = [...new Set(reports.flatMap((r) => r.timeline.buckets.flatMap((b) => Object.keys(b.delivered))))];
  const colour = (spi: string) => (spi === 'clear' ? '#cccccc' : PALETTE[spis.indexOf(spi) % PALETTE.length]);
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="11">`);
  out.push(`<rect width="100%" height="100%" fill="white"/>`);
  out.push(`<text x="${left}" y="20" font-size="14">${esc(title)}: packets delivered, by SA (colour); lost (red, below); ACQUIREs (ticks); √ scale</text>`);
  reports.forEach((r, i) => {
    const y0 = top + i * (band + 30);
    const mid = y0 + band * 0.7;
    const maxBucket = Math.max(1, ...r.timeline.buckets.map((b) => Object.values(b.delivered).reduce((a, c) => a + c, 0) + b.lost));
    // Square-root scale: a burst of 1000 packets/s and a ping every 100 ms both show.
    const h = (n: number) => (band * 0.6 * Math.sqrt(n)) / Math.sqrt(maxBucket);
    const w = Math.max(1, x(r.timeline.bucketMs) - x(0));
    out.push(`<text x="8" y="${mid - 20}" font-size="13" font-weight="bold">${esc(r.preset)}</text>`);
    out.push(`<text x="8" y="${mid - 4}">lost ${r.lost}</text>`);
    out.push(`<text x="8" y="${mid + 10}">ACQ ${r.acquires}</text>`);
    out.push(`<line x1="${left}" y1="${mid}" x2="${width - 20}" y2="${mid}" stroke="#333"/>`);
    for (const b of r.timeline.buckets) {
      let y = mid;
      for (const [spi, n] of Object.entries(b.delivered)) {
        const hh = h(n);
        y -= hh;
        out.push(`<rect x="${x(b.t).toFixed(1)}" y="${y.toFixed(1)}" width="${w.toFixed(1)}" height="${hh.toFixed(1)}" fill="${colour(spi)}"><title>${esc(spi)}: ${n} at ${b.t} ms</title></rect>`);
      }
      if (b.lost) out.push(`<rect x="${x(b.t).toFixed(1)}" y="${mid}" width="${w.toFixed(1)}" height="${Math.max(1, h(b.lost) * 0.45).toFixed(1)}" fill="#e15759"><title>lost ${b.lost} at ${b.t} ms</title></rect>`);
      for (let k = 0; k < b.acquires; k++) out.push(`<line x1="${(x(b.t) + k * 2).toFixed(1)}" y1="${y0}" x2="${(x(b.t) + k * 2).toFixed(1)}" y2="${y0 + 8}" stroke="black"/>`);
    }
  });
  const yAxis = height - 25;
  for (let s = 0; s <= span / 1000; s += Math.max(1, Math.ceil(span / 10_000))) {
    out.push(`<text x="${x(s * 1000).toFixed(1)}" y="${yAxis}" text-anchor="middle">${s}s</text>`);
  }
  out.push('</svg>');
  return out.join('\n');
}
