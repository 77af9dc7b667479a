#!/usr/bin/env node
// larval's command line: one file per command (replay.ts, tun.ts, demo.ts), shared
// flag and file handling in args.ts. Any failure ends as one line on stderr and a
// non-zero exit code (describeFailure), never a stack trace for a user's mistake.

import '../engine/node-platform.js';
import { readFileSync } from 'node:fs';
import { describeFailure } from '../common/errors.js';
import { findUp } from '../common/paths.js';
import { closest } from './args.js';
import { DEMO_HELP, demoCommand } from './demo.js';
import { REPLAY_HELP, replayCommand } from './replay.js';
import { TUN_HELP, tunCommand } from './tun.js';
import { BENCH_HELP, benchCommand } from './bench.js';

const HELP = `larval — IPsec packet-path engine (WebAssembly data plane)

Usage:
  larval replay CAPTURE --config FILE [--preset larval|linux|bsd-2000|all] [--km-delay 200ms]
                [--msl 30s] [--rekey TIME] [--out OUT.pcap] [--json] [--chart OUT.svg]
                [--html OUT.html]
  larval tun --swanctl FILE --dev NAME [--config SETKEY] [--log]   (or --config SETKEY --listen ADDR:PORT)
  larval demo [--rules FILE] [--packets N] [--seed N] [--json]
  larval bench --config FILE [--capture FILE] [--packets N] [--seconds S] [--json]
  larval help [COMMAND]     (or: larval COMMAND --help)
  larval --version

Commands:
  replay Feed a pcap/pcapng capture, at capture time, through an IPsec gateway built
         from a setkey(8) config, and report what happened to every packet under
         each preset side by side (packets by verdict, drops by reason, ACQUIREs,
         SAs negotiated, packets lost, added latency); optionally write the
         resulting packets (ESP where protected) and an SVG timeline.
  tun    Run as an IPsec gateway between a TUN device and IKEv2 peers (swanctl.conf,
         PSK; strongSwan interoperates): ESP in UDP out, checked and decrypted
         packets in, SAs negotiated on demand (root, /dev/net/tun, python3).
  bench  Lookup rates on your own SPD and traffic: Mpps per stage (flow-cache hit,
         classifier miss, SA selection) with the linear-scan reference beside it.
  demo   Load an SPD from a ClassBench rule file (default: bundled acl1_1k), protect
         every tenth rule through one of four IPsec tunnels (three with SAs, one
         without), generate a packet trace from the rules, run it through the
         engine's batched outbound path (cold flow cache, then warm), check
         a sample against the reference linear scan, and print verdict counts,
         drops by reason and lookup rates.
`;

const COMMANDS: Record<string, { help: string; run: (argv: string[]) => Promise<void> }> = {
  replay: { help: REPLAY_HELP, run: replayCommand },
  tun: { help: TUN_HELP, run: tunCommand },
  demo: { help: DEMO_HELP, run: demoCommand },
  bench: { help: BENCH_HELP, run: benchCommand },
};

function version(): string {
  const file = findUp('package.json');
  return file ? (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version : 'unknown';
}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
    const topic = rest[0] ? COMMANDS[rest[0]] : undefined;
    process.stdout.write(topic ? topic.help : HELP);
    return;
  }
  if (command === '--version' || command === '-V' || command === 'version') {
    process.stdout.write(`larval ${version()}\n`);
    return;
  }
  const cmd = Object.hasOwn(COMMANDS, command) ? COMMANDS[command] : undefined;
  if (!cmd) {
    const guess = closest(command.replace(/^-+/, ''), [...Object.keys(COMMANDS), 'help', 'version']);
    const what = command.startsWith('-') ? 'option' : 'command';
    process.stderr.write(`larval: unknown ${what} ${JSON.stringify(command)}${guess ? `; did you mean ${guess === 'version' ? '--version' : guess}?` : ''} (commands: ${Object.keys(COMMANDS).join(', ')}; see larval --help)\n`);
    process.exitCode = 2;
    return;
  }
  return cmd.run(rest);
}

main(process.argv.slice(2)).catch((err: unknown) => {
  const { line, exitCode } = describeFailure(err);
  process.stderr.write(`larval: ${line}\n`);
  process.exitCode = exitCode;
});
