// `larval replay`: a capture through a gateway built from a setkey(8) config, under
// one preset or all of them side by side (src/replay/replay.ts does the work).

import { statSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { LarvalError } from '../common/errors.js';
import { loadSetkey, policySpec, saSpec } from '../config/setkey.js';
import { openCapture } from '../io/reader.js';
import { createPcapWriter, type PcapWriter } from '../io/pcap-writer.js';
import { replay, type ReplayReport } from '../replay/replay.js';
import { chartSvg, formatReport } from '../replay/report.js';
import { Progress } from '../replay/progress.js';
import { replayJson } from '../replay/run.js';
import { writeHtmlReport } from './html.js';
import type { PresetName } from '../engine/types.js';

export const REPLAY_HELP = `larval replay CAPTURE --config FILE [options]

Feeds a pcap or pcapng capture, at capture time, through an IPsec gateway built
from a setkey(8) configuration, and reports what happened to every packet under
each preset side by side: packets by verdict, drops by reason, ACQUIREs sent, SAs
negotiated, packets lost, and the latency that waiting for an SA added.

Traffic from the protected local subnets (the sources of 'out' protect policies)
is outbound; ESP and IKE to the local tunnel addresses, and packets from outside
to the local subnets, are inbound. SAs the config leaves out are negotiated by a
scripted key manager (test keys, after --km-delay). An IKE_SA_INIT request from a
peer means the peer restarted: it forgets its SAs, and a new pair is negotiated.

Options:
  --config FILE        setkey(8) configuration (spdadd, add, ...)           (required)
  --preset NAME        larval, linux, bsd-2000 or all                         (default all)
  --km-delay TIME      the key manager's negotiation delay                    (default 200ms)
  --msl TIME           maximum segment lifetime: a replaced SA drains 2×msl   (default 30s)
  --rekey TIME         soft lifetime of negotiated SAs (hard: 1.5×); none by default
  --out FILE           write the packets that leave the gateway (ESP where protected)
                       to a pcap; with several presets, FILE gets .PRESET before .pcap
  --json               print the reports as JSON
  --chart FILE         draw an SVG timeline: SA usage, losses and ACQUIREs over time
  --html FILE          write one self-contained web page: the table, the timelines,
                       and the same engine to re-run the replay in the browser
  -h, --help           this help

TIME is a number with ms, s or m (plain numbers are ms).
`;

const PRESETS: readonly PresetName[] = ['larval', 'linux', 'bsd-2000'];

export function parseDuration(value: string, option: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(value.trim());
  if (!m) throw new LarvalError('EINVAL', `${option}: expected a time like 200ms, 30s or 2m (got ${JSON.stringify(value)})`);
  const n = Number(m[1]) * (m[2] === 's' ? 1000 : m[2] === 'm' ? 60_000 : 1);
  if (!Number.isFinite(n) || n > 365 * 86_400_000) throw new LarvalError('EINVAL', `${option}: ${value} is out of range`);
  return n;
}

function outPath(file: string, preset: PresetName, several: boolean): string {
  if (!several) return file;
  return /\.pcap$/i.test(file) ? file.replace(/\.pcap$/i, `.${preset}.pcap`) : `${file}.${preset}`;
}

export async function replayCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      config: { type: 'string' },
      preset: { type: 'string', default: 'all' },
      'km-delay': { type: 'string', default: '200ms' },
      msl: { type: 'string', default: '30s' },
      rekey: { type: 'string' },
      out: { type: 'string' },
      json: { type: 'boolean', default: false },
      chart: { type: 'string' },
      html: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(REPLAY_HELP);
    return;
  }
  if (positionals.length !== 1) throw new LarvalError('EINVAL', `replay: expected one CAPTURE file (got ${positionals.length}); see larval replay --help`);
  if (!values.config) throw new LarvalError('EINVAL', 'replay: --config FILE is required (a setkey(8) configuration); see larval replay --help');
  const capture = positionals[0];
  let size: number;
  try {
    size = statSync(capture).size;
  } catch {
    throw new LarvalError('ENOENT', `replay: cannot read capture ${capture}`);
  }
  const preset = values.preset!;
  if (preset !== 'all' && !PRESETS.includes(preset as PresetName)) throw new LarvalError('EINVAL', `--preset: expected larval, linux, bsd-2000 or all (got ${JSON.stringify(preset)})`);
  const presets = preset === 'all' ? PRESETS : [preset as PresetName];
  const kmDelay = parseDuration(values['km-delay']!, '--km-delay');
  const msl = parseDuration(values.msl!, '--msl');
  const rekeyMs = values.rekey === undefined ? undefined : parseDuration(values.rekey, '--rekey');
  const config = await loadSetkey(values.config);
  const setup = { policies: config.policies.map(policySpec), sas: config.sas.map(saSpec) };

  const reports: ReplayReport[] = [];
  for (const p of presets) {
    const progress = new Progress(process.stderr, `${p}`, size);
    const cap = openCapture(capture);
    let writer: PcapWriter | null = null;
    if (values.out) writer = await createPcapWriter(outPath(values.out, p, presets.length > 1), { nanoseconds: true });
    try {
      const report = await replay(cap.batches(), setup, {
        preset: p,
        kmDelay,
        msl,
        ...(rekeyMs ? { rekeyMs } : {}),
        progress: () => progress.update(cap.stats?.bytesRead ?? 0),
        ...(writer ? { emit: (packet: Uint8Array, timeMs: number) => writer!.write({ data: packet, timeMs }) } : {}),
      });
      reports.push(report);
    } finally {
      progress.done();
      await writer?.close();
    }
  }
  if (values.chart) writeFileSync(values.chart, chartSvg(reports, `larval replay ${capture}`));
  if (values.html) writeHtmlReport(values.html, { capture, config: values.config, kmDelay, msl, ...(rekeyMs ? { rekeyMs } : {}), presets: [...presets], reports });
  if (values.json) {
    process.stdout.write(replayJson({ capture, config: values.config, kmDelay, msl, reports }));
  } else {
    process.stdout.write(`larval replay ${capture} with ${values.config} (km delay ${kmDelay} ms, msl ${msl} ms${rekeyMs ? `, rekey ${rekeyMs} ms` : ''})\n\n`);
    process.stdout.write(formatReport(reports) + '\n');
    if (values.out) process.stdout.write(`\nwrote ${presets.map((p) => outPath(values.out!, p, presets.length > 1)).join(', ')}\n`);
    if (values.chart) process.stdout.write(`${values.out ? '' : '\n'}wrote ${values.chart}\n`);
    if (values.html) process.stdout.write(`${values.out || values.chart ? '' : '\n'}wrote ${values.html}\n`);
  }
}

