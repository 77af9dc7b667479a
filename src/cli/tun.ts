// `larval tun`: a userspace IPsec gateway between a TUN device and a UDP peer
// (src/tun/gateway.ts). Prints one JSON line when it is up, a JSON line of
// counters on SIGUSR1 (and every --stats-interval), rekeys on SIGUSR2, and stops
// cleanly on SIGINT/SIGTERM (the final counters are its last line).

import { parseArgs } from 'node:util';
import { LarvalError } from '../common/errors.js';
import { loadSetkey, policySpec, saSpec } from '../config/setkey.js';
import { TunGateway } from '../tun/gateway.js';
import { parseDuration } from './replay.js';

export const TUN_HELP = `larval tun --config FILE --dev NAME --listen ADDR:PORT --peer ADDR:PORT [options]

Runs larval as an IPsec gateway: packets read from TUN device NAME go through the
gateway built from the setkey(8) config and leave as ESP in UDP (RFC 3948) to the
peer; ESP in UDP from the peer is checked, decrypted and written to the device.
SAs the config leaves out are negotiated with the peer's larval over the same UDP
socket (a test key exchange: keys derived from --secret, not IKE). Needs root or
CAP_NET_ADMIN, /dev/net/tun and python3.

Options:
  --config FILE        policies (and SAs) in setkey(8) syntax                (required)
  --dev NAME           TUN device to create (e.g. larval0)                    (required)
  --listen ADDR:PORT   local underlay address and UDP port (4500 is usual)     (required)
  --peer ADDR:PORT     the peer gateway's address and port                     (required)
  --km-delay TIME      delay before answering a negotiation                    (default 0)
  --rekey TIME         soft lifetime of negotiated SAs (hard: 1.5×)            (default none)
  --secret TEXT        shared secret the test keys are derived from
  --mtu N              MTU of the device                                       (default 1400)
  --stats-interval TIME  print counters periodically                           (default off)

Signals: SIGUSR1 prints counters, SIGUSR2 starts a rekey, SIGINT/SIGTERM stop.
`;

function endpoint(value: string | undefined, option: string): { address: string; port: number } {
  const m = value ? /^(\d+\.\d+\.\d+\.\d+):(\d+)$/.exec(value) : null;
  if (!m || Number(m[2]) < 1 || Number(m[2]) > 65535) throw new LarvalError('EINVAL', `${option}: expected IPv4ADDRESS:PORT (got ${JSON.stringify(value ?? '')})`);
  return { address: m[1], port: Number(m[2]) };
}

export async function tunCommand(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      config: { type: 'string' }, dev: { type: 'string' }, listen: { type: 'string' }, peer: { type: 'string' },
      'km-delay': { type: 'string', default: '0' }, rekey: { type: 'string' }, secret: { type: 'string' },
      mtu: { type: 'string', default: '1400' }, 'stats-interval': { type: 'string' }, help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(TUN_HELP);
    return;
  }
  if (!values.config) throw new LarvalError('EINVAL', 'tun: --config FILE is required; see larval tun --help');
  if (!values.dev) throw new LarvalError('EINVAL', 'tun: --dev NAME is required; see larval tun --help');
  const listen = endpoint(values.listen, '--listen');
  const peer = endpoint(values.peer, '--peer');
  const mtu = Number(values.mtu);
  if (!Number.isInteger(mtu) || mtu < 576 || mtu > 65535) throw new LarvalError('EINVAL', `--mtu: expected 576..65535 (got ${values.mtu})`);
  const config = await loadSetkey(values.config);
  const g = await TunGateway.open({
    policies: config.policies.map(policySpec), sas: config.sas.map(saSpec), dev: values.dev, listen, peer, mtu,
    kmDelay: parseDuration(values['km-delay']!, '--km-delay'),
    ...(values.rekey ? { rekeyMs: parseDuration(values.rekey, '--rekey') } : {}),
    ...(values.secret ? { secret: values.secret } : {}),
  });
  const line = (event: string) => process.stdout.write(JSON.stringify({ event, dev: g.tun.name, ...g.stats() }) + '\n');
  process.stdout.write(JSON.stringify({ event: 'up', dev: g.tun.name, listen, peer }) + '\n');
  process.on('SIGUSR1', () => line('stats'));
  process.on('SIGUSR2', () => g.rekey());
  const every = values['stats-interval'] ? setInterval(() => line('stats'), parseDuration(values['stats-interval'], '--stats-interval')) : null;
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  if (every) clearInterval(every);
  line('stopped');
  await g.close();
}
