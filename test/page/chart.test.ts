// Issue 18: `--chart` draws the same timeline as the HTML report: a legend entry per
// SA (by SPI and negotiation), the marks' legend, and both axes labelled with numbers.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { ReplayReport } from '../../src/replay/replay.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

describe('the --chart SVG (issue 18)', () => {
  it('has a legend per SA, the marks, and numbered axes, one band per preset', () => {
    mkdirSync(path.join(root, 'build'), { recursive: true });
    const svgFile = path.join(root, 'build', 'chart-test.svg');
    const json = execFileSync(process.execPath, [path.join(root, 'dist/src/cli/main.js'), 'replay', 'examples/gateway.pcap', '--config', 'examples/gateway.conf', '--rekey', '20s', '--json', '--chart', svgFile], { cwd: root, encoding: 'utf8', maxBuffer: 64 << 20 });
    const reports = (JSON.parse(json) as { reports: ReplayReport[] }).reports;
    const svg = readFileSync(svgFile, 'utf8');
    for (const mark of ['lost', 'lost on a stale SA (R6)', 'queued (R7)', '▼ ACQUIRE', '▼ ACQUIRE resent', '◆ rekey', '┆ peer restart']) expect(svg).toContain(`>${mark}</text>`);
    const bands = svg.split('<g class="band"').slice(1);
    expect(bands).toHaveLength(reports.length);
    reports.forEach((r, i) => {
      const band = bands[i];
      expect(band).toContain(`data-preset="${r.preset}"`);
      const legend = [...band.matchAll(/<g class="legend" data-spi="([^"]+)"/g)].map((m) => m[1]);
      expect(legend.filter((s) => s !== 'clear')).toEqual(r.timeline.sas.map((s) => s.spi));
      for (const sa of r.timeline.sas) expect(band).toContain(`SPI ${sa.spi} · #${sa.negotiation} ${sa.cause}`);
      // The x axis in seconds (0 … 60 for the example), the y axis in packets per bucket.
      for (const s of ['0', '10', '20', '30', '60']) expect(band).toMatch(new RegExp(`text-anchor="middle">${s}</text>`));
      expect(band).toContain('time since the first packet (s)');
      expect(band).toMatch(/packets \/ 100 ms \(√\)/);
      expect([...band.matchAll(/text-anchor="end">(\d+)<\/text>/g)].length).toBeGreaterThanOrEqual(4);
      // Queued (larval) and stale (bsd-2000) packets are drawn where the report has them.
      if (r.latency.queued) expect(band).toMatch(/queued, /);
      if (r.stale) expect(band).toMatch(/lost on a stale SA, /);
    });
    expect(reports.find((r) => r.preset === 'bsd-2000')!.timeline.events.some((e) => e.kind === 'resend')).toBe(true);
  });
});
