// `larval tun`: a userspace IPsec gateway between a TUN device and a UDP peer
// (src/tun/gateway.ts). Prints one JSON line when it is up, a JSON line of
// counters on SIGUSR1 (and every --stats-interval), rekeys on SIGUSR2, and stops
// cleanly on SIGINT/SIGTERM (the final counters are its last line).

import { LarvalError } from '../common/errors.js';
import { loadSetkey, policySpec, saSpec } from '../config/setkey.js';
import { TunGateway } from '../tun/gateway.js';
import { TunWorkers } from '../tun/workers.js';
import { loadSwanctl } from '../ike/config.js';
import { duration as parseDuration, inputFile, integerFlag, parseFlags } from './args.js';

export const TUN_HELP = `larval tun --swanctl FILE --dev NAME [options]
larval tun --config SETKEY --listen ADDR:PORT --dev NAME [options]

Runs larval as an IPsec gateway: packets read from TUN device NAME go through the
gateway and leave as ESP in UDP (RFC 3948) to the peer; ESP in UDP from the peer is
checked, decrypted and written to the device.

With --swanctl, larval's IKEv2 daemon (RFC 7296, PSK) negotiates the SAs with the
peers of a swanctl.conf (strongSwan syntax): it listens on UDP 500 and 4500 of the
connections' local_addrs, installs the policies the children imply, starts a
negotiation when the first packet needs an SA (the packet waits, it is not lost)
and rekeys when the engine says an SA is getting old. ESP and IKE share port 4500.
--config adds manual policies and SAs in setkey(8) syntax; without --swanctl, only
those are used, with ESP on --listen. Needs root or CAP_NET_ADMIN, /dev/net/tun and
python3.

Options:
  --swanctl FILE       IKEv2 connections and secrets (swanctl.conf syntax)
  --config FILE        manual policies and SAs in setkey(8) syntax
  --listen ADDR:PORT   without --swanctl: local address and UDP port for ESP
  --dev NAME           TUN device to create or attach to (e.g. larval0)      (required)
  --mtu N              MTU of the device                                       (default 1400)
  --offload on|off     TUN offloads: the kernel's TCP frames of up to 64 KiB cut
                       into segments here, consecutive segments merged for the
                       device (default: on where the kernel allows them; on: an
                       error where it does not; LARVAL_TUN_OFFLOAD=0 = off)
  --log                print the IKE daemon's log lines (JSON, never a key)
  --stats-interval TIME  print counters periodically                           (default off)
  --workers N          the data path on N worker threads, one queue each of a
                       multi-queue TUN device; with --config only. Each SA has one
                       owner: N outbound SAs per tunnel (same endpoints) let every
                       worker encrypt; with fewer, the others hand packets over.
                       Run node with --single-threaded-gc for it (docs/performance.md)

Signals: SIGUSR1 prints counters, SIGUSR2 rekeys every CHILD SA, SIGINT/SIGTERM stop.
`;

function endpoint(value: string | undefined, option: string): { address: string; port: number } {
  const m = value ? /^(\d+\.\d+\.\d+\.\d+):(\d+)$/.exec(value) : null;
  if (!m || Number(m[2]) < 1 || Number(m[2]) > 65535) throw new LarvalError('EINVAL', `${option}: expected IPv4ADDRESS:PORT (got ${JSON.stringify(value ?? '')})`);
  return { address: m[1], port: Number(m[2]) };
}

export async function tunCommand(argv: string[]): Promise<void> {
  const { values: flags } = parseFlags(argv, {
    swanctl: { type: 'string', value: 'FILE' }, config: { type: 'string', value: 'FILE' }, dev: { type: 'string', value: 'NAME' }, listen: { type: 'string', value: 'ADDR:PORT' },
    mtu: { type: 'string', default: '1400', value: 'N' }, log: { type: 'boolean', default: false }, 'stats-interval': { type: 'string', value: 'TIME' },
    workers: { type: 'string', value: 'N' }, offload: { type: 'string', value: 'on|off' },
    help: { type: 'boolean', short: 'h', default: false },
  }, 'tun');
  const values = flags as Record<string, string | undefined> & { help?: boolean; log?: boolean };
  if (values.help) {
    process.stdout.write(TUN_HELP);
    return;
  }
  if (!values.swanctl && !values.config) throw new LarvalError('EINVAL', 'tun: --swanctl FILE (IKEv2) or --config FILE (manual SAs) is required; see larval tun --help');
  if (!values.dev) throw new LarvalError('EINVAL', 'tun: --dev NAME is required; see larval tun --help');
  if (!values.swanctl && !values.listen) throw new LarvalError('EINVAL', 'tun: without --swanctl, --listen ADDR:PORT is required for the ESP of manual SAs', { field: '--listen' });
  const listen = values.listen ? endpoint(values.listen, '--listen') : undefined;
  const mtu = integerFlag(values.mtu!, '--mtu', 576, 65535);
  if (values.offload !== undefined && values.offload !== 'on' && values.offload !== 'off') throw new LarvalError('EINVAL', `tun: --offload must be on or off (got ${JSON.stringify(values.offload)})`, { field: '--offload' });
  const setkey = values.config ? await loadSetkey(inputFile(values.config, 'config')) : null;
  const swanctl = values.swanctl ? await loadSwanctl(inputFile(values.swanctl, 'swanctl')) : undefined;
  if (values.workers !== undefined) {
    const workers = integerFlag(values.workers, '--workers', 1, 64);
    if (swanctl) throw new LarvalError('EINVAL', 'tun: --workers runs manual SAs (--config) only; the IKE daemon is not wired to workers yet', { field: '--workers' });
    return runWorkers(workers, values.dev, mtu, setkey!, listen!, values['stats-interval'], values.offload === undefined ? undefined : values.offload === 'on');
  }
  const g = await TunGateway.open({
    dev: values.dev, mtu,
    ...(values.offload ? { offload: values.offload === 'on' } : {}),
    ...(setkey ? { policies: setkey.policies.map(policySpec), sas: setkey.sas.map(saSpec) } : {}),
    ...(swanctl ? { swanctl } : {}),
    ...(listen ? { listen } : {}),
    ...(values.log ? { log: (msg: string) => process.stdout.write(JSON.stringify({ event: 'log', msg }) + '\n') } : {}),
  });
  process.stdout.write(JSON.stringify({ event: 'up', dev: g.tun.name, connections: swanctl?.connections.map((c) => c.name) ?? [], ...(listen ? { listen } : {}) }) + '\n');
  process.on('SIGUSR2', () => g.rekey());
  await serve(g, () => ({ dev: g.tun.name, ...g.stats(), ...(g.ike ? { sas: g.ike.list() } : {}) }), values['stats-interval']);
}

/**
 * Runs an open gateway until SIGINT/SIGTERM or a device failure: a stats line on
 * SIGUSR1 and every --stats-interval, a 'stopped' line, then close. A device that
 * failed (deleted under us) ends in one line on stderr and exit 1 (main's describeFailure).
 */
async function serve(g: { onFatal(fn: (err: Error) => void): void; close(): Promise<void> }, snapshot: () => object, statsInterval: string | undefined): Promise<void> {
  const line = (event: string) => process.stdout.write(JSON.stringify({ event, ...snapshot() }) + '\n');
  process.on('SIGUSR1', () => line('stats'));
  const every = statsInterval ? setInterval(() => line('stats'), parseDuration(statsInterval, '--stats-interval')) : null;
  const failure = await new Promise<Error | null>((resolve) => {
    const stop = () => resolve(null);
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    g.onFatal((err) => resolve(err));
  });
  if (every) clearInterval(every);
  line('stopped');
  await g.close();
  if (failure) throw failure instanceof LarvalError ? failure : new LarvalError('EIO', `tun: ${failure.message}`);
}

async function runWorkers(workers: number, dev: string, mtu: number, setkey: Awaited<ReturnType<typeof loadSetkey>>, listen: { address: string; port: number }, statsInterval: string | undefined, offload: boolean | undefined): Promise<void> {
  const g = await TunWorkers.open({ workers, dev, mtu, listen, ...(offload === undefined ? {} : { offload }), policies: setkey.policies.map(policySpec), sas: setkey.sas.map(saSpec) });
  process.stdout.write(JSON.stringify({ event: 'up', dev: g.name, workers, listen }) + '\n');
  await serve(g, () => ({ dev: g.name, ...g.stats() }), statsInterval);
}
