// Issue 18 acceptance: `larval replay --html` opened in headless Chromium (the Debian
// package, /usr/bin/chromium, driven by playwright-core; no browser is downloaded)
// with every request that is not the file itself refused. The test checks the page
// against the CLI: the table against --json, the legend against the SAs, a re-run in
// the page with the key-manager delay at 0 against `--km-delay 0`, a dropped second
// capture and config against the CLI on the same files, and the browser build's
// --json against the Node build's, byte for byte. Screenshots go to build/.
// Without Chromium the tests are skipped with a printed reason, unless
// LARVAL_REQUIRE_CHROMIUM=1 (CI), where they fail.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BrowserContext, Page } from 'playwright-core';
import { reportRows } from '../../src/replay/report.js';
import type { ReplayReport } from '../../src/replay/replay.js';
import { SECOND_CONFIG, writeSecondCapture } from './second-capture.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const CHROMIUM = process.env.LARVAL_CHROMIUM ?? '/usr/bin/chromium';
const required = process.env.LARVAL_REQUIRE_CHROMIUM === '1';
const present = existsSync(CHROMIUM);
if (!present) console.log(`test/page: ${CHROMIUM} not found (Debian package 'chromium'): ${required ? 'LARVAL_REQUIRE_CHROMIUM=1, so the page tests fail' : 'skipping the page tests'}`);

const out = path.join(root, 'build', 'page-test');
const cli = (...args: string[]) => execFileSync(process.execPath, [path.join(root, 'dist/src/cli/main.js'), 'replay', ...args], { cwd: root, encoding: 'utf8', maxBuffer: 64 << 20 });
const EXAMPLE = ['examples/gateway.pcap', '--config', 'examples/gateway.conf', '--rekey', '20s'];

// The table as the page shows it: one array of cell texts per row, labels trimmed.
const tableOf = (page: Page) => page.$$eval('#report tr', (trs) => trs.map((tr) => [...tr.children].map((c) => (c.textContent ?? '').trim())));
const expectedTable = (reports: ReplayReport[]) => reportRows(reports).map((r) => r.map((c) => c.trim()));
const cellNumber = (s: string) => Number(s.replace(/,/g, ''));

// In CI (LARVAL_REQUIRE_CHROMIUM=1) a missing browser is a failed test, not a skipped one.
it.runIf(!present && required)('needs Chromium (LARVAL_REQUIRE_CHROMIUM=1)', () => {
  expect.fail(`${CHROMIUM} not found: install the Debian package chromium (.ci/run does)`);
});

describe.skipIf(!present)('the HTML report in headless Chromium (issue 18)', () => {
  let context: BrowserContext;
  let page: Page;
  let userDataDir: string;
  const problems: string[] = [];
  const blocked: string[] = [];
  let cliJson: string;
  let report: string;
  let openMs: number;
  let pageMs: number;

  beforeAll(async () => {
    mkdirSync(out, { recursive: true });
    report = path.join(out, 'report.html');
    // One run writes the page and prints the JSON it was made from.
    cliJson = cli(...EXAMPLE, '--html', report, '--json');
    const { chromium } = await import('playwright-core');
    userDataDir = mkdtempSync(path.join(os.tmpdir(), 'larval-chromium-'));
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      headless: true,
      offline: true,
      viewport: { width: 1280, height: 900 },
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    await context.route('**/*', (route) => {
      const url = route.request().url();
      if (url.startsWith('file://')) return route.continue();
      blocked.push(url);
      return route.abort();
    });
    page = context.pages()[0] ?? (await context.newPage());
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(`console: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    const t0 = performance.now();
    await page.goto(`file://${report}`);
    await page.waitForFunction(() => document.documentElement.dataset.larval === 'ready', undefined, { timeout: 60_000 });
    openMs = performance.now() - t0;
    pageMs = Number(await page.evaluate(() => document.documentElement.dataset.readyMs));
    await page.screenshot({ path: path.join(root, 'build', 'page-report.png'), fullPage: true });
  });

  afterAll(async () => {
    await context?.close();
    if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
  });

  it('is one file under 2 MB that opens in under 2 s with no network and no console error', async () => {
    const size = statSync(report).size;
    console.log(`test/page: report ${(size / 1024).toFixed(0)} KiB, ready ${openMs.toFixed(0)} ms after goto (${pageMs} ms after the page's navigation start)`);
    expect(size).toBeLessThan(2 * 1024 * 1024);
    expect(openMs).toBeLessThan(2000);
    expect(await page.evaluate(() => document.documentElement.dataset.larval)).toBe('ready');
    const html = readFileSync(report, 'utf8');
    expect(html).not.toMatch(/<script[^>]+src=|<link[^>]+href=|https?:\/\/(?!www\.w3\.org\/2000\/svg)/);
    expect(blocked).toEqual([]);
    expect(problems).toEqual([]);
  });

  it("shows the table with --json's numbers (the text report's rows)", async () => {
    const reports = (JSON.parse(cliJson) as { reports: ReplayReport[] }).reports;
    const table = await tableOf(page);
    expect(table).toEqual(expectedTable(reports));
    const row = (label: string) => table.find((r) => r[0] === label)!.slice(1).map(cellNumber);
    expect(row('outbound reaching the peer (ESP or clear)')).toEqual(reports.map((r) => r.delivered));
    expect(row('LOST (dropped, stale SA)')).toEqual(reports.map((r) => r.lost));
    expect(row('ACQUIREs sent')).toEqual(reports.map((r) => r.acquires));
    expect(row('SAs installed')).toEqual(reports.map((r) => r.sasInstalled));
  });

  it('draws a timeline per preset with a legend entry per SA and labelled axes', async () => {
    const reports = (JSON.parse(cliJson) as { reports: ReplayReport[] }).reports;
    for (const r of reports) {
      const band = page.locator(`#timeline g.band[data-preset="${r.preset}"]`);
      expect(await band.count()).toBe(1);
      const legend = await band.locator('g.legend').evaluateAll((gs) => gs.map((g) => (g as SVGGElement).dataset.spi));
      const used = new Set(r.timeline.buckets.flatMap((b) => Object.keys(b.delivered)));
      expect(new Set(legend)).toEqual(new Set([...r.timeline.sas.map((s) => s.spi), ...(used.has('clear') ? ['clear'] : [])]));
      for (const spi of used) expect(legend).toContain(spi);
      expect(r.timeline.sas.length).toBeGreaterThan(0);
      const text = await band.textContent();
      expect(text).toMatch(/time since the first packet \(s\)/);
      expect(text).toMatch(/packets \/ 100 ms/);
      for (const s of ['10', '30', '50']) expect(text).toContain(s);
    }
  });

  it('shows a shared time cursor and the packets, flows and events of a moment and of an SA', async () => {
    const hit = page.locator('#timeline g.band[data-index="0"] rect.hit');
    await hit.scrollIntoViewIfNeeded();
    const box = (await hit.boundingBox())!;
    await page.mouse.move(box.x + box.width * 0.02, box.y + box.height / 2);
    const cursors = await page.$$eval('#timeline line.cursor', (ls) => ls.map((l) => [l.getAttribute('visibility'), l.getAttribute('x1')]));
    expect(cursors).toHaveLength(3);
    expect(new Set(cursors.map((c) => c.join()))).toHaveProperty('size', 1);
    expect(cursors[0][0]).toBe('visible');
    await page.mouse.click(box.x + box.width * 0.005, box.y + box.height / 2);
    await page.waitForSelector('#details section[data-preset="bsd-2000"]');
    const details = await page.textContent('#details');
    expect(details).toMatch(/packets, flows/);
    expect(details).toMatch(/10\.1\.0\.10 > 10\.2\.0\.\d+ (udp|icmp)/);
    expect(details).toMatch(/acquire/);
    await page.locator('#timeline g.band[data-preset="larval"] g.legend').first().click();
    await page.waitForSelector('#details section[data-spi]');
    expect(await page.textContent('#details')).toMatch(/SPI 0x10000 .*negotiation|#1 acquire/);
    expect(await page.textContent('#details')).toMatch(/delivered \d+/);
    await page.screenshot({ path: path.join(root, 'build', 'page-details.png'), fullPage: true });
    expect(problems).toEqual([]);
  });

  it('gives the same --json bytes as the Node build (the browser core replaying in Chromium)', async () => {
    const browserJson = await page.evaluate(() => window.larval!.replayJson());
    expect(browserJson.length).toBe(cliJson.length);
    expect(browserJson === cliJson).toBe(true);
  });

  it('re-runs in the page with the key-manager delay at 0 ms: 0 lost wherever the CLI says so', async () => {
    const cliReports = (JSON.parse(cli(...EXAMPLE, '--km-delay', '0', '--json')) as { reports: ReplayReport[] }).reports;
    await page.fill('#km-delay', '0');
    await page.click('#rerun');
    await page.waitForFunction(() => document.documentElement.dataset.run === '1', undefined, { timeout: 60_000 });
    const table = await tableOf(page);
    const lost = table.find((r) => r[0] === 'LOST (dropped, stale SA)')!.slice(1).map(cellNumber);
    expect(lost).toEqual(cliReports.map((r) => r.lost));
    cliReports.forEach((r, i) => {
      if (r.lost === 0) expect(lost[i]).toBe(0);
    });
    expect(cliReports.some((r) => r.lost === 0)).toBe(true);
    expect(table).toEqual(expectedTable(cliReports));
    await page.screenshot({ path: path.join(root, 'build', 'page-km-delay-0.png'), fullPage: true });
    expect(problems).toEqual([]);
  });

  it('replays a dropped capture and setkey file of the reader\'s own (a pcapng), as the CLI does', async () => {
    const cap = path.join(out, 'second.pcapng');
    const conf = path.join(out, 'second.conf');
    await writeSecondCapture(cap);
    writeFileSync(conf, SECOND_CONFIG);
    const expected = (JSON.parse(cli('build/page-test/second.pcapng', '--config', 'build/page-test/second.conf', '--km-delay', '0', '--rekey', '20s', '--json')) as { reports: ReplayReport[] }).reports;
    const dt = await page.evaluateHandle(
      ({ capture, config }) => {
        const bytes = Uint8Array.from(atob(capture), (c) => c.charCodeAt(0));
        const t = new DataTransfer();
        t.items.add(new File([bytes], 'second.pcapng'));
        t.items.add(new File([config], 'second.conf'));
        return t;
      },
      { capture: readFileSync(cap).toString('base64'), config: SECOND_CONFIG },
    );
    await page.dispatchEvent('#drop', 'drop', { dataTransfer: dt });
    await page.waitForFunction(() => document.documentElement.dataset.run === '2', undefined, { timeout: 60_000 });
    expect(await page.textContent('#source')).toMatch(/^second\.pcapng with second\.conf/);
    expect(await tableOf(page)).toEqual(expectedTable(expected));
    // The config's static SA (0x2001) carries the 10.9.0.0/24 traffic; 10.7.0.0/24 is negotiated.
    expect(expected[0].timeline.sas.map((s) => s.spi)).toContain('0x2001');
    const legend = await page.locator('#timeline g.band[data-preset="larval"] g.legend').evaluateAll((gs) => gs.map((g) => (g as SVGGElement).dataset.spi));
    expect(new Set(legend)).toEqual(new Set(expected[0].timeline.sas.map((s) => s.spi)));
    await page.screenshot({ path: path.join(root, 'build', 'page-dropped.png'), fullPage: true });
    expect(blocked).toEqual([]);
    expect(problems).toEqual([]);
  });
});
