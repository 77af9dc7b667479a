// `larval replay`: a capture through a gateway built from a setkey(8) config, under
// one preset or all of them side by side (src/replay/replay.ts does the work).

import { statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { LarvalError } from '../common/errors.js';
import { loadSetkey, policySpec, saSpec } from '../config/setkey.js';
import { openCapture } from '../io/reader.js';
import { createPcapWriter, createPcapngWriter } from '../io/pcap-writer.js';
import { LINKTYPE_RAW } from '../io/pcap-writer.js';
import { PRESETS as PRESET_KNOBS } from '../engine/engine.js';
import { replay, type ReplayReport } from '../replay/replay.js';
import { chartSvg, formatReport } from '../replay/report.js';
import { Progress } from '../replay/progress.js';
import { replayJson } from '../replay/run.js';
import { writeHtmlReport } from './html.js';
import type { PresetName } from '../engine/types.js';
import { choice, duration, inputFile, looksBinary, outputPath, parseFlags, usage, warn } from './args.js';

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
  --acquire-timeout TIME  how long packets wait for a negotiation before they
                       are dropped (R10)         (default: the preset's, 30s; bsd-2000 20s)
  --msl TIME           maximum segment lifetime: a replaced SA drains 2×msl   (default 30s)
  --rekey TIME         soft lifetime of negotiated SAs (hard: 1.5×); none by default
  --out FILE|DIR       write the packets that leave the gateway (ESP where protected):
                       pcapng if FILE ends in .pcapng, else pcap; with several presets,
                       FILE gets .PRESET before its extension; an existing directory
                       DIR gets one file per preset, CAPTURE-NAME.PRESET.pcap
  --json               print the reports as JSON
  --chart FILE         draw an SVG timeline: SA usage, losses and ACQUIREs over time
  --html FILE          write one self-contained web page: the table, the timelines,
                       and the same engine to re-run the replay in the browser
  -h, --help           this help

TIME is a number with ms, s, m or h (plain numbers are ms), up to 24h.
A capture whose last record is cut short is replayed up to that record, with a
warning (like tcpdump's "truncated dump file").
`;

const PRESETS: readonly PresetName[] = ['larval', 'linux', 'bsd-2000'];

/** A time flag (kept for the other commands; see args.ts duration()). */
export function parseDuration(value: string, option: string): number {
  return duration(value, option);
}

// Where --out writes preset `preset`'s packets: FILE as given for one preset, with
// .PRESET before the extension for several, or CAPTURE-NAME.PRESET.pcap in a directory.
function outPath(out: string, kind: 'file' | 'directory', capture: string, preset: PresetName, several: boolean): string {
  if (kind === 'directory') return path.join(out, `${path.basename(capture).replace(/\.(pcapng|pcap|cap)$/i, '')}.${preset}.pcap`);
  if (!several) return out;
  const m = /\.(pcapng|pcap)$/i.exec(out);
  return m ? `${out.slice(0, m.index)}.${preset}${m[0]}` : `${out}.${preset}`;
}

export async function replayCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parseFlags(argv, {
    config: { type: 'string', value: 'FILE' },
    preset: { type: 'string', default: 'all', value: 'NAME' },
    'km-delay': { type: 'string', default: '200ms', value: 'TIME' },
    'acquire-timeout': { type: 'string', value: 'TIME' },
    msl: { type: 'string', default: '30s', value: 'TIME' },
    rekey: { type: 'string', value: 'TIME' },
    out: { type: 'string', value: 'FILE or DIR' },
    json: { type: 'boolean', default: false },
    chart: { type: 'string', value: 'FILE' },
    html: { type: 'string', value: 'FILE' },
    help: { type: 'boolean', short: 'h', default: false },
  }, 'replay');
  const str = (name: string) => values[name] as string | undefined;
  if (values.help) {
    process.stdout.write(REPLAY_HELP);
    return;
  }
  if (positionals.length !== 1) {
    throw new LarvalError('EINVAL', `replay: expected one CAPTURE file (got ${positionals.length === 0 ? 'none' : positionals.map((p) => JSON.stringify(p)).join(' ')}); see larval replay --help`, { field: '--' });
  }
  const configFile = str('config');
  if (!configFile) throw usage('--config', 'replay: --config FILE is required (a setkey(8) configuration); see larval replay --help');
  // Every flag and file is checked before the replay starts: a mistake costs nothing.
  const presets = str('preset') === 'all' ? PRESETS : [choice(str('preset')!, '--preset', [...PRESETS, 'all'] as const) as PresetName];
  const kmDelay = duration(str('km-delay')!, '--km-delay', { max: 3_600_000 });
  const acquireTimeout = str('acquire-timeout') === undefined ? undefined : duration(str('acquire-timeout')!, '--acquire-timeout', { min: 1, max: 86_400_000 });
  const msl = duration(str('msl')!, '--msl', { max: 3_600_000 });
  const rekeyMs = str('rekey') === undefined ? undefined : duration(str('rekey')!, '--rekey', { min: 1000, max: 86_400_000 });
  const capture = inputFile(positionals[0], 'capture');
  const size = statSync(capture).size;
  inputFile(configFile, 'config');
  const kind = looksBinary(configFile);
  if (kind) {
    throw new LarvalError('EINVAL', `config ${configFile}: ${kind === 'capture' ? 'is a capture file' : 'is a binary file'}, not a setkey(8) configuration; give the capture as CAPTURE and the configuration with --config`);
  }
  const out = str('out');
  const outKind = out === undefined ? null : outputPath(out, '--out', true);
  const chart = str('chart');
  if (chart !== undefined) outputPath(chart, '--chart');
  const html = str('html');
  if (html !== undefined) outputPath(html, '--html');

  const config = await loadSetkey(configFile);
  if (config.policies.length === 0 && config.sas.length === 0) {
    warn(`config ${configFile} has no policies and no SAs: every packet is bypassed (sent in clear) by the default policy`);
  }
  const tooShort = presets.filter((p) => kmDelay >= (acquireTimeout ?? PRESET_KNOBS[p].acquireTimeout));
  if (tooShort.length) {
    const limits = tooShort.map((p) => `${p} ${acquireTimeout ?? PRESET_KNOBS[p].acquireTimeout} ms`).join(', ');
    warn(`--km-delay ${kmDelay} ms is not below the acquire timeout (${limits}): every negotiation ends before its SA arrives and the packets waiting for it are dropped; raise --acquire-timeout`);
  }
  const setup = { policies: config.policies.map(policySpec), sas: config.sas.map(saSpec) };
  const outFile = (p: PresetName) => outPath(out!, outKind!, capture, p, presets.length > 1);

  const reports: ReplayReport[] = [];
  let truncation: string | null = null;
  for (const p of presets) {
    const progress = new Progress(process.stderr, `${p}`, size);
    // A capture stopped mid-write ends inside its last record: replay what was read
    // and say so (tcpdump: "truncated dump file").
    const cap = openCapture(capture, { onTruncated: 'stop' });
    let writer: { write(r: { data: Uint8Array; timeMs: number }): unknown; close(): Promise<void> } | null = null;
    if (out !== undefined) {
      const file = outFile(p);
      writer = /\.pcapng$/i.test(file)
        ? await createPcapngWriter(file, { interfaces: [{ linkType: LINKTYPE_RAW }] })
        : await createPcapWriter(file, { nanoseconds: true });
    }
    try {
      const report = await replay(cap.batches(), setup, {
        preset: p,
        kmDelay,
        msl,
        ...(acquireTimeout !== undefined ? { acquireTimeout } : {}),
        ...(rekeyMs ? { rekeyMs } : {}),
        progress: () => progress.update(cap.stats?.bytesRead ?? 0),
        ...(writer ? { emit: (packet: Uint8Array, timeMs: number) => writer!.write({ data: packet, timeMs }) as void } : {}),
      });
      reports.push(report);
    } finally {
      progress.done();
      await writer?.close();
    }
    if (cap.truncation && truncation === null) {
      truncation = `${capture}: truncated dump file: ${cap.truncation.reason}; replayed the ${cap.truncation.record.toLocaleString('en-US')} complete records before it`;
      warn(truncation);
    }
  }
  if (chart !== undefined) writeFileSync(chart, chartSvg(reports, `larval replay ${capture}`));
  if (html !== undefined) writeHtmlReport(html, { capture, config: configFile, kmDelay, msl, ...(rekeyMs ? { rekeyMs } : {}), presets: [...presets], reports });
  if (values.json) {
    process.stdout.write(replayJson({ capture, config: configFile, kmDelay, msl, ...(acquireTimeout !== undefined ? { acquireTimeout } : {}), ...(truncation ? { truncation } : {}), reports }));
  } else {
    process.stdout.write(`larval replay ${capture} with ${configFile} (km delay ${kmDelay} ms, msl ${msl} ms${rekeyMs ? `, rekey ${rekeyMs} ms` : ''}${acquireTimeout !== undefined ? `, acquire timeout ${acquireTimeout} ms` : ''})\n\n`);
    process.stdout.write(formatReport(reports) + '\n');
    if (truncation) process.stdout.write(`\n${truncation}\n`);
    if (out !== undefined) process.stdout.write(`\nwrote ${presets.map(outFile).join(', ')}\n`);
    if (chart !== undefined) process.stdout.write(`${out !== undefined ? '' : '\n'}wrote ${chart}\n`);
    if (html !== undefined) process.stdout.write(`${out !== undefined || chart !== undefined ? '' : '\n'}wrote ${html}\n`);
  }
}

