// `npm run soak` (issue 17 item 3): two `larval tun` gateways negotiating with larval's
// IKEv2 daemon (--swanctl) in two network namespaces (test/tun/lab.ts), for --seconds
// (default 600), carrying
//
//   - --flows (default 100 000) distinct UDP flows from 10.1.0.0/24 to 10.2.0.0/24
//     (source address x destination address x source port), --passes packets each
//     (default 4), paced evenly over the run; each payload names its flow and pass and
//     carries a digest of both, checked by a sniffer on B's TUN device;
//   - one TCP connection for the whole run, paced at --tcp-rate, whose sha256 the
//     receiver computes and echoes (test/tun/lab.ts TCP_SERVER);
//
// while the CHILD SAs rekey by their configured lifetime (rekey_time = --rekey, the
// engine's soft expiry starts each rekey: R28) and gateway B is killed (SIGKILL, a
// crash: no DELETE is sent) and restarted every --restart. Each gateway prints its
// counters every second (--stats-interval 1s): RSS, heapUsed, external, SAs, key
// entries, drops by reason. Written: PREFIX.csv (the samples), PREFIX.svg (RSS and
// heap over time, rekeys and restarts marked), PREFIX.json (numbers and checks).
//
// Checks (exit 1 if one fails):
//   checksum    the TCP data's sha256 at the receiver equals the sender's
//   no-no-sa    no drop with reason `no-sa` on either gateway (preset larval: packets
//               wait for their SA, R7/R9); every drop reason is a name
//   keys        on each gateway at the end: key entries live = installed - freed =
//               SAs in the table; in every sample at most keysBound() (the CHILD SA
//               pair, the inbound SAs draining 2 MSL after rekeys, one more pair)
//   recovery    after each restart B delivers A's traffic again through SAs of one
//               IKE negotiation (B's first IKE SA), within RECOVERY_BOUND_S
//   flat        A's RSS after warm-up: the median of the last window exceeds the median
//               of the first window after warm-up by less than --rss-bound (MiB), and
//               so does heapUsed (--heap-bound); see docs/soak.md for why these bounds
//
// Readiness, never fixed sleeps: the JSON "up" lines, a first ping through the tunnel,
// the helpers' "listening"/"ready" lines. Restarts are scheduled at fixed times (that is
// the load pattern), their recovery is waited for.
//
//   npm run soak -- [--seconds 600] [--rekey 30s] [--restart 120s] [--flows 100000]
//                   [--passes 4] [--tcp-rate 1000000] [--out docs/soak] [--warmup 60s]
//   npm run soak -- --replot [--out docs/soak]     (PREFIX.svg again from PREFIX.csv and .json)

import { readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { duration, parseFlags } from '../src/cli/args.js';
import { resolveOptions } from '../src/engine/options.js';
import { labMissing, TCP_SERVER, TwoGateways, INNER, type Larval, type Line } from '../test/tun/lab.js';

export interface SoakOptions {
  seconds: number;
  rekeyMs: number;
  restartMs: number;
  flows: number;
  passes: number;
  /** TCP bytes per second. */
  tcpRate: number;
  warmupMs: number;
  /** Path prefix of the CSV, SVG and JSON written; none when null. */
  out: string | null;
  /** Bounds of the flat-memory check, MiB. */
  rssBoundMiB: number;
  heapBoundMiB: number;
  log?: (msg: string) => void;
}

export interface SoakSample {
  t: number; gateway: 'a' | 'b'; pid: number; rss: number; heapUsed: number; external: number;
  sas: number; keysLive: number; keysInstalled: number; keysFreed: number; ikeSas: number;
  tunIn: number; tunOut: number; udpIn: number; udpOut: number; drops: number; rekeys: number;
}

export interface SoakRestart { killAt: number; upAt: number; recoveredAt: number | null; bIkeEstablished: number | null; aInitialContact: number }
export interface SoakCheck { name: string; ok: boolean; detail: string }

export interface SoakResult {
  options: Omit<SoakOptions, 'log'>;
  loadavg: { start: number[]; end: number[] };
  samples: SoakSample[];
  rekeyTimes: number[];
  restarts: SoakRestart[];
  udp: { sent: number; sendErrors: number; received: number; flowsSent: number; flowsSeen: number; corrupt: number; sniffDrops: number };
  tcp: { bytes: number; sha256: string; echo: string; serverSha256: string; serverBytes: number; mbitS: number };
  drops: { a: Record<string, number>; b: Record<string, number> };
  ike: { a: Record<string, number>; aDrops: Record<string, number> };
  keys: { a: Line; b: Line; tablesA: number; tablesB: number };
  memory: { warmupRssA: number; endRssA: number; rssGrowthA: number; heapGrowthA: number; rssSlopeMiBPerMin: number; heapSlopeMiBPerMin: number; maxKeysLive: number };
  checks: SoakCheck[];
}

/**
 * Key entries at most, for CHILD SAs rekeyed every `rekeyMs`: the CHILD SA pair, the
 * old inbound SA of each rekey within the last 2 MSL (it drains, R15; the old outbound
 * one is deleted with the old CHILD SA), and one more pair for a rekey in progress or a
 * rekey collision (RFC 7296 §2.8.1). 6 for the 30 s rekeys of the 10-minute soak.
 */
export function keysBound(rekeyMs: number): number {
  return 2 + Math.ceil((2 * resolveOptions({}).msl) / rekeyMs) + 2;
}
/** B must carry A's traffic again within this long after it is up (one negotiation; generous for a busy 2-CPU machine). */
export const RECOVERY_BOUND_S = 30;

// Paced raw UDP from many sources in 10.1.0.0/24 to many destinations in 10.2.0.0/24
// (IP_HDRINCL: the kernel routes them into lt0 by destination). Flow f: source
// 10.1.0.(2 + f % 250), destination 10.2.0.(2 + f / 250 % 250), source port
// 1024 + f / 62500, destination port 40000 + f % 20000: distinct for every f. The
// payload: flow (4 octets), pass (2), the first 26 octets of sha256 of those 6.
const SENDER = String.raw`
import socket, struct, sys, time, json, hashlib
flows = int(sys.argv[1]); passes = int(sys.argv[2]); secs = float(sys.argv[3])
raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
total = flows * passes; rate = total / secs
print('ready', flush=True)
t0 = time.time(); i = 0; errors = 0
for p in range(passes):
    for f in range(flows):
        if i % 32 == 0:
            ahead = t0 + i / rate - time.time()
            if ahead > 0: time.sleep(ahead)
        tag = struct.pack('!IH', f, p)
        pl = tag + hashlib.sha256(tag).digest()[:26]
        src = bytes([10, 1, 0, 2 + f % 250]); dst = bytes([10, 2, 0, 2 + (f // 250) % 250])
        udp = struct.pack('!HHHH', 1024 + f // 62500, 40000 + f % 20000, 8 + len(pl), 0)
        ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 28 + len(pl), 0, 0x4000, 64, 17, 0, src, dst)
        try: raw.sendto(ip + udp + pl, (socket.inet_ntoa(dst), 0))
        except OSError: errors += 1
        i += 1
print(json.dumps({'sent': i - errors, 'errors': errors, 'seconds': time.time() - t0}), flush=True)
`;

// Counts the soak's UDP packets leaving B's gateway into lt0 (AF_PACKET, before the
// kernel drops them: nobody listens on those ports). Prints 'ready', then on SIGTERM
// one JSON line: packets, distinct flows, corrupt payloads, the socket's own drops.
const SNIFFER = String.raw`
import socket, struct, sys, json, hashlib, signal
flows = int(sys.argv[1])
s = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(0x0800))
try: s.setsockopt(socket.SOL_SOCKET, 33, 64 << 20)  # SO_RCVBUFFORCE (root)
except OSError: s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 << 20)
s.bind(('lt0', 0)); s.settimeout(0.2)
seen = bytearray(flows); pkts = 0; bad = 0; stop = [False]
signal.signal(signal.SIGTERM, lambda *a: stop.__setitem__(0, True))
print('ready', flush=True)
while not stop[0]:
    try: d = s.recv(4096)
    except (socket.timeout, InterruptedError): continue
    if len(d) < 28 or d[9] != 17 or d[12] != 10 or d[13] != 1: continue
    ihl = (d[0] & 15) * 4; pl = d[ihl + 8:]
    if len(pl) != 32: bad += 1; continue
    f, p = struct.unpack('!IH', pl[:6])
    if f >= flows or hashlib.sha256(pl[:6]).digest()[:26] != pl[6:]: bad += 1; continue
    if seen[f] < 255: seen[f] += 1
    pkts += 1
st = struct.unpack('II', s.getsockopt(263, 6, 8))  # SOL_PACKET, PACKET_STATISTICS: packets, drops
print(json.dumps({'packets': pkts, 'flows': sum(1 for x in seen if x), 'corrupt': bad, 'drops': st[1]}), flush=True)
`;

// One TCP connection for the whole run, paced: random blocks at `rate` bytes/s for
// `secs` seconds, then the receiver's sha256 (TCP_SERVER) is read back.
const TCP_PACED = String.raw`
import socket, hashlib, sys, json, os, time
port = int(sys.argv[1]); rate = float(sys.argv[2]); secs = float(sys.argv[3]); h = hashlib.sha256(); sent = 0
s = socket.create_connection(('10.2.0.1', port), timeout=60); s.settimeout(None); t = time.time()
print('connected', flush=True)
while True:
    el = time.time() - t
    if el >= secs: break
    if sent < rate * el:
        b = os.urandom(16384); s.sendall(b); h.update(b); sent += len(b)
    else: time.sleep(0.01)
s.shutdown(socket.SHUT_WR); s.settimeout(300)
got = s.recv(100).decode(); el = time.time() - t
print(json.dumps({'bytes': sent, 'sha256': h.hexdigest(), 'echo': got, 'seconds': el, 'mbit_s': sent * 8 / el / 1e6}), flush=True)
`;

const MiB = 2 ** 20;
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[s.length >> 1] : NaN;
};
/** Least-squares slope of y over x. */
function slope(xs: number[], ys: number[]): number {
  const n = xs.length;
  if (n < 2) return 0;
  const mx = xs.reduce((a, b) => a + b, 0) / n, my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0, den = 0;
  for (let i = 0; i < n; i++) { num += (xs[i] - mx) * (ys[i] - my); den += (xs[i] - mx) ** 2; }
  return den ? num / den : 0;
}
const sumOf = (o: Record<string, number> | undefined) => Object.values(o ?? {}).reduce((x, y) => x + y, 0);
const addInto = (into: Record<string, number>, o: Record<string, number> | undefined) => { for (const [k, v] of Object.entries(o ?? {})) into[k] = (into[k] ?? 0) + v; };
const rekeysOf = (l: Line) => (l.ike?.counters?.['child-rekeyed'] ?? 0) + (l.ike?.counters?.['child-rekeys-answered'] ?? 0);

export async function runSoak(o: SoakOptions): Promise<SoakResult> {
  if (labMissing) throw new Error(`soak: ${labMissing}`);
  const log = o.log ?? (() => {});
  const lab = new TwoGateways();
  const load0 = loadavg();
  const samples: SoakSample[] = [];
  const rekeyTimes: number[] = [];
  const restarts: SoakRestart[] = [];
  const bDrops: Record<string, number> = {};
  let t0 = 0;
  const now = () => (performance.now() - t0) / 1000;
  let lastRekeysA = 0;
  const sample = (side: 'a' | 'b', g: Larval) => g.onLine((l) => {
    if (l.event !== 'stats' || t0 === 0) return;
    const t = now();
    const rekeys = rekeysOf(l);
    if (side === 'a' && rekeys > lastRekeysA) { rekeyTimes.push(t); lastRekeysA = rekeys; }
    samples.push({
      t, gateway: side, pid: g.proc.pid!, rss: l.memory.rss, heapUsed: l.memory.heapUsed, external: l.memory.external,
      sas: l.tables.sas, keysLive: l.keys.live, keysInstalled: l.keys.installed, keysFreed: l.keys.freed, ikeSas: l.ike?.ikeSas ?? 0,
      tunIn: l.tunIn, tunOut: l.tunOut, udpIn: l.udpIn, udpOut: l.udpOut, drops: sumOf(l.drops), rekeys,
    });
  });
  try {
    lab.tunArgs = ['--stats-interval', '1s'];
    // The configured lifetime drives the rekeys (the engine's soft expiry, R28); the hard
    // limit leaves room for a rekey on a busy machine (life_time > rekey_time).
    lab.setup(`rekey_time = ${o.rekeyMs / 1000}s\n    life_time = ${Math.round(o.rekeyMs * 1.5) / 1000}s`);
    lab.write('server.py', TCP_SERVER);
    lab.write('tcp.py', TCP_PACED);
    lab.write('sender.py', SENDER);
    lab.write('sniffer.py', SNIFFER);
    await lab.startBoth();
    sample('a', lab.gw.a!);
    sample('b', lab.gw.b!);
    // The first packet negotiates (R7/R9): the SAs exist before the clock starts.
    lab.inNs('a', `ping -c 2 -i 0.2 -W 10 -I ${INNER.a} ${INNER.b}`);
    const sniffer = lab.spawnIn('b', ['python3', `${lab.dir}/sniffer.py`, String(o.flows)]);
    const server = lab.spawnIn('b', ['python3', `${lab.dir}/server.py`, '5001']);
    await sniffer.line((s) => s === 'ready');
    await server.line((s) => s === 'listening');
    t0 = performance.now();
    log(`soak: ${o.seconds} s, rekey ${o.rekeyMs / 1000} s, restart ${o.restartMs / 1000} s, ${o.flows} flows x ${o.passes}; load ${load0.map((x) => x.toFixed(2)).join(' ')}`);
    // Traffic stops TAIL seconds before the end: the last packets get through and are counted.
    const tail = Math.min(10, o.seconds * 0.1);
    const tcp = lab.spawnIn('a', ['python3', `${lab.dir}/tcp.py`, '5001', String(o.tcpRate), String(o.seconds - tail)]);
    const sender = lab.spawnIn('a', ['python3', `${lab.dir}/sender.py`, String(o.flows), String(o.passes), String(o.seconds - tail)]);
    await tcp.line((s) => s === 'connected', 60_000);

    // B is killed and restarted every restartMs (not closer than 10 s to the end).
    const restartLoop = (async () => {
      for (let k = 1; k * o.restartMs <= (o.seconds - 10) * 1000; k++) {
        const wait = t0 + k * o.restartMs - performance.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        const old = lab.gw.b!;
        const last = await lab.stats('b');
        addInto(bDrops, last.drops);
        const aIc = (await lab.stats('a')).ike?.counters?.['initial-contact'] ?? 0;
        const killAt = now();
        old.proc.kill('SIGKILL');
        await old.exited;
        const b = lab.start('b');
        sample('b', b);
        await b.waitFor((l) => l.event === 'up', 60_000, 'up after restart');
        const upAt = now();
        let recoveredAt: number | null = null, bIke: number | null = null;
        // A ping every 0.5 s from A's side while B recovers: on a busy machine B can take
        // seconds to start, and the soak's own traffic may have ended by then.
        const probe = lab.spawnIn('a', ['ping', '-q', '-i', '0.5', '-W', '1', '-I', INNER.a, INNER.b]);
        try {
          const l = await b.waitFor((x) => x.event === 'stats' && x.tunOut > 0, RECOVERY_BOUND_S * 1000, 'traffic from A after restart');
          recoveredAt = now();
          bIke = l.ike?.counters?.['ike-established'] ?? null;
        } catch (err) {
          log(`soak: restart ${k}: ${(err as Error).message.slice(0, 300)}`);
        } finally {
          probe.proc.kill('SIGINT');
        }
        const aIc2 = (await lab.stats('a')).ike?.counters?.['initial-contact'] ?? 0;
        restarts.push({ killAt, upAt, recoveredAt, bIkeEstablished: bIke, aInitialContact: aIc2 - aIc });
        log(`soak: restart ${k} at ${killAt.toFixed(1)} s: up after ${(upAt - killAt).toFixed(1)} s, traffic through again after ${recoveredAt === null ? 'never' : (recoveredAt - upAt).toFixed(1)} s`);
      }
    })();

    const sent = JSON.parse(await sender.line((s) => s.startsWith('{'), (o.seconds + 120) * 1000)) as { sent: number; errors: number };
    const tcpDone = JSON.parse(await tcp.line((s) => s.startsWith('{'), (o.seconds + 400) * 1000)) as { bytes: number; sha256: string; echo: string; mbit_s: number };
    const srv = JSON.parse(await server.line((s) => s.startsWith('{'), 60_000)) as { bytes: number; sha256: string };
    await restartLoop;
    // Let the stats lines of the last second come in, then the final counters.
    const endA = await lab.stats('a');
    const endB = await lab.stats('b');
    addInto(bDrops, endB.drops);
    sniffer.proc.kill('SIGTERM');
    const sniffed = JSON.parse(await sniffer.line((s) => s.startsWith('{'), 30_000)) as { packets: number; flows: number; corrupt: number; drops: number };
    const load1 = loadavg();

    // Memory of A (the gateway that runs the whole soak) after warm-up.
    const after = samples.filter((s) => s.gateway === 'a' && s.t >= o.warmupMs / 1000);
    const win = Math.max(5, Math.round(after.length * 0.1));
    const first = after.slice(0, win), lastW = after.slice(-win);
    const rssGrowth = median(lastW.map((s) => s.rss)) - median(first.map((s) => s.rss));
    const heapGrowth = median(lastW.map((s) => s.heapUsed)) - median(first.map((s) => s.heapUsed));
    const rssSlope = slope(after.map((s) => s.t / 60), after.map((s) => s.rss / MiB));
    const heapSlope = slope(after.map((s) => s.t / 60), after.map((s) => s.heapUsed / MiB));
    const maxKeysLive = Math.max(0, ...samples.map((s) => s.keysLive));

    const aDrops = endA.drops as Record<string, number>;
    const checks: SoakCheck[] = [];
    const check = (name: string, ok: boolean, detail: string) => checks.push({ name, ok, detail });
    check('checksum', tcpDone.sha256 === tcpDone.echo && tcpDone.sha256 === srv.sha256 && srv.bytes === tcpDone.bytes,
      `sent ${tcpDone.bytes} bytes sha256 ${tcpDone.sha256.slice(0, 16)}…, receiver ${srv.bytes} bytes ${srv.sha256.slice(0, 16)}…`);
    const reasons = [...Object.keys(aDrops), ...Object.keys(bDrops)];
    check('no-no-sa', (aDrops['no-sa'] ?? 0) === 0 && (bDrops['no-sa'] ?? 0) === 0 && reasons.every((r) => /^[a-z][a-z0-9-]+$/.test(r)),
      `A drops ${JSON.stringify(aDrops)}; B drops (all runs) ${JSON.stringify(bDrops)}`);
    const bound = keysBound(o.rekeyMs);
    const keysOk = (l: Line) => l.keys.live === l.keys.installed - l.keys.freed && l.keys.live === l.tables.sas && l.keys.live <= bound;
    check('keys', keysOk(endA) && keysOk(endB) && maxKeysLive <= bound,
      `A ${JSON.stringify(endA.keys)} with ${endA.tables.sas} SAs; B (last run) ${JSON.stringify(endB.keys)} with ${endB.tables.sas} SAs; at most ${bound}; most live in any sample ${maxKeysLive}`);
    check('recovery', restarts.length > 0 && restarts.every((r) => r.recoveredAt !== null && r.bIkeEstablished === 1) && endA.ike.ikeSas === 1,
      restarts.map((r) => `kill ${r.killAt.toFixed(0)} s -> up +${(r.upAt - r.killAt).toFixed(1)} s -> through +${r.recoveredAt === null ? '∞' : (r.recoveredAt - r.upAt).toFixed(1)} s (B IKE SAs ${r.bIkeEstablished}, A INITIAL_CONTACT ${r.aInitialContact})`).join('; '));
    // UDP lost only while B was restarting: at most what the sender sent from each kill
    // to the stats line that showed traffic through again (that line comes up to 1 s
    // late, so the window is an upper bound), with a margin for a busy machine.
    const rate = (o.flows * o.passes) / (o.seconds - tail);
    const outage = restarts.reduce((x, r) => x + ((r.recoveredAt ?? o.seconds) - r.killAt), 0);
    const lost = sent.sent - sniffed.packets;
    check('losses-in-outages', sniffed.corrupt === 0 && lost <= rate * outage * 1.5 + 200,
      `UDP sent ${sent.sent}, received ${sniffed.packets} (${sniffed.flows} of ${o.flows} flows, ${sniffed.corrupt} corrupt), lost ${lost} <= ${Math.round(rate * outage * 1.5 + 200)} (${rate.toFixed(0)}/s x ${outage.toFixed(1)} s of restarts x 1.5 + 200)`);
    check('flat', after.length >= 10 && rssGrowth < o.rssBoundMiB * MiB && heapGrowth < o.heapBoundMiB * MiB,
      `A after ${o.warmupMs / 1000} s: RSS ${(median(first.map((s) => s.rss)) / MiB).toFixed(1)} -> ${(median(lastW.map((s) => s.rss)) / MiB).toFixed(1)} MiB (growth ${(rssGrowth / MiB).toFixed(1)} < ${o.rssBoundMiB}), heapUsed growth ${(heapGrowth / MiB).toFixed(1)} < ${o.heapBoundMiB} MiB; slopes ${rssSlope.toFixed(2)} / ${heapSlope.toFixed(2)} MiB/min`);

    const result: SoakResult = {
      options: { seconds: o.seconds, rekeyMs: o.rekeyMs, restartMs: o.restartMs, flows: o.flows, passes: o.passes, tcpRate: o.tcpRate, warmupMs: o.warmupMs, out: o.out, rssBoundMiB: o.rssBoundMiB, heapBoundMiB: o.heapBoundMiB },
      loadavg: { start: load0, end: load1 },
      samples, rekeyTimes, restarts,
      udp: { sent: sent.sent, sendErrors: sent.errors, received: sniffed.packets, flowsSent: o.flows, flowsSeen: sniffed.flows, corrupt: sniffed.corrupt, sniffDrops: sniffed.drops },
      tcp: { bytes: tcpDone.bytes, sha256: tcpDone.sha256, echo: tcpDone.echo, serverSha256: srv.sha256, serverBytes: srv.bytes, mbitS: tcpDone.mbit_s },
      drops: { a: aDrops, b: bDrops },
      ike: { a: endA.ike.counters, aDrops: endA.ike.drops },
      keys: { a: endA.keys, b: endB.keys, tablesA: endA.tables.sas, tablesB: endB.tables.sas },
      memory: { warmupRssA: median(first.map((s) => s.rss)), endRssA: median(lastW.map((s) => s.rss)), rssGrowthA: rssGrowth, heapGrowthA: heapGrowth, rssSlopeMiBPerMin: rssSlope, heapSlopeMiBPerMin: heapSlope, maxKeysLive },
      checks,
    };
    if (o.out) {
      writeFileSync(`${o.out}.csv`, toCsv(samples));
      writeFileSync(`${o.out}.svg`, toSvg(result));
      const { samples: _s, ...summary } = result;
      writeFileSync(`${o.out}.json`, JSON.stringify(summary, null, 1) + '\n');
    }
    return result;
  } finally {
    lab.destroy();
  }
}

export function toCsv(samples: SoakSample[]): string {
  const cols = ['t', 'gateway', 'pid', 'rss', 'heapUsed', 'external', 'sas', 'keysLive', 'keysInstalled', 'keysFreed', 'ikeSas', 'tunIn', 'tunOut', 'udpIn', 'udpOut', 'drops', 'rekeys'] as const;
  return cols.join(',') + '\n' + samples.map((s) => cols.map((c) => (c === 't' ? s.t.toFixed(2) : String(s[c]))).join(',')).join('\n') + '\n';
}

export function fromCsv(text: string): SoakSample[] {
  const [head, ...rows] = text.trim().split('\n');
  const cols = head.split(',');
  return rows.map((r) => Object.fromEntries(r.split(',').map((v, i) => [cols[i], cols[i] === 'gateway' ? v : Number(v)])) as unknown as SoakSample);
}

/** RSS and heapUsed of both gateways over time (MiB), rekeys (grey) and restarts (red) marked. Plain SVG. */
export function toSvg(r: SoakResult): string {
  const W = 1000, H = 480, L = 60, R = 20, T = 40, B = 50;
  const tMax = r.options.seconds;
  const yMax = Math.ceil(Math.max(64, ...r.samples.map((s) => s.rss / MiB)) / 32) * 32;
  const x = (t: number) => L + (t / tMax) * (W - L - R);
  const y = (v: number) => T + (1 - v / yMax) * (H - T - B);
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`);
  out.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  out.push(`<text x="${L}" y="20" font-size="14">larval soak: RSS and heapUsed of two gateways, ${tMax} s, rekey every ${r.options.rekeyMs / 1000} s, B restarted every ${r.options.restartMs / 1000} s</text>`);
  out.push(`<rect x="${x(0)}" y="${T}" width="${x(r.options.warmupMs / 1000) - x(0)}" height="${H - T - B}" fill="#f2f2f2"/>`);
  out.push(`<text x="${x(0) + 4}" y="${T + 14}" fill="#888">warm-up</text>`);
  for (let v = 0; v <= yMax; v += yMax / 8) {
    out.push(`<line x1="${L}" x2="${W - R}" y1="${y(v)}" y2="${y(v)}" stroke="#e4e4e4"/><text x="${L - 6}" y="${y(v) + 4}" text-anchor="end">${v}</text>`);
  }
  const step = tMax > 120 ? 60 : 10;
  for (let t = 0; t <= tMax; t += step) out.push(`<text x="${x(t)}" y="${H - B + 16}" text-anchor="middle">${t}</text>`);
  out.push(`<text x="${W / 2}" y="${H - 12}" text-anchor="middle">seconds</text><text x="14" y="${H / 2}" transform="rotate(-90 14 ${H / 2})" text-anchor="middle">MiB</text>`);
  for (const t of r.rekeyTimes) out.push(`<line x1="${x(t)}" x2="${x(t)}" y1="${T}" y2="${H - B}" stroke="#bbb" stroke-dasharray="2,3"/>`);
  for (const s of r.restarts) out.push(`<line x1="${x(s.killAt)}" x2="${x(s.killAt)}" y1="${T}" y2="${H - B}" stroke="#d62728" stroke-width="1.5"/>`);
  out.push(`<line x1="${L}" x2="${W - R}" y1="${H - B}" y2="${H - B}" stroke="black"/><line x1="${L}" x2="${L}" y1="${T}" y2="${H - B}" stroke="black"/>`);
  const series = (gw: 'a' | 'b', key: 'rss' | 'heapUsed', color: string, dash: string) => {
    // One polyline per process (B's restarts start a new one).
    const byPid = new Map<number, SoakSample[]>();
    for (const s of r.samples) if (s.gateway === gw) byPid.set(s.pid, [...(byPid.get(s.pid) ?? []), s]);
    for (const ss of byPid.values()) {
      out.push(`<polyline fill="none" stroke="${color}" stroke-width="1.5"${dash ? ` stroke-dasharray="${dash}"` : ''} points="${ss.map((s) => `${x(s.t).toFixed(1)},${y(s[key] / MiB).toFixed(1)}`).join(' ')}"/>`);
    }
  };
  series('a', 'rss', '#1f77b4', ''); series('a', 'heapUsed', '#1f77b4', '5,3');
  series('b', 'rss', '#ff7f0e', ''); series('b', 'heapUsed', '#ff7f0e', '5,3');
  const legend: [string, string, string][] = [['#1f77b4', '', 'A RSS'], ['#1f77b4', '5,3', 'A heapUsed'], ['#ff7f0e', '', 'B RSS'], ['#ff7f0e', '5,3', 'B heapUsed'], ['#d62728', '', 'B killed and restarted'], ['#bbb', '2,3', 'CHILD SA rekey (A)']];
  let lx = L + 10;
  legend.forEach(([c, d, label]) => {
    const ly = T + 30;
    out.push(`<line x1="${lx}" x2="${lx + 24}" y1="${ly}" y2="${ly}" stroke="${c}" stroke-width="2"${d ? ` stroke-dasharray="${d}"` : ''}/><text x="${lx + 28}" y="${ly + 4}">${label}</text>`);
    lx += 40 + label.length * 7;
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}

async function main(): Promise<void> {
  const { values } = parseFlags(process.argv.slice(2), {
    seconds: { type: 'string', default: '600', value: 'N' }, rekey: { type: 'string', default: '30s', value: 'TIME' }, restart: { type: 'string', default: '120s', value: 'TIME' },
    flows: { type: 'string', default: '100000', value: 'N' }, passes: { type: 'string', default: '4', value: 'N' }, 'tcp-rate': { type: 'string', default: '1000000', value: 'BYTES/S' },
    out: { type: 'string', default: 'docs/soak', value: 'PREFIX' }, warmup: { type: 'string', value: 'TIME' }, 'rss-bound': { type: 'string', default: '16', value: 'MiB' }, 'heap-bound': { type: 'string', default: '8', value: 'MiB' },
    replot: { type: 'boolean', default: false },
  }, 'soak') as { values: Record<string, string> & { replot?: boolean } };
  if (values.replot) {
    // Draw PREFIX.svg again from PREFIX.csv and PREFIX.json (a plot change without a 10-minute run).
    const summary = JSON.parse(readFileSync(`${values.out}.json`, 'utf8')) as Omit<SoakResult, 'samples'>;
    writeFileSync(`${values.out}.svg`, toSvg({ ...summary, samples: fromCsv(readFileSync(`${values.out}.csv`, 'utf8')) }));
    return;
  }
  const seconds = Number(values.seconds);
  const result = await runSoak({
    seconds, rekeyMs: duration(values.rekey, '--rekey'), restartMs: duration(values.restart, '--restart'), flows: Number(values.flows), passes: Number(values.passes),
    tcpRate: Number(values['tcp-rate']), warmupMs: values.warmup ? duration(values.warmup, '--warmup') : Math.min(60_000, seconds * 200),
    out: values.out === '-' ? null : values.out, rssBoundMiB: Number(values['rss-bound']), heapBoundMiB: Number(values['heap-bound']),
    log: (m) => process.stderr.write(m + '\n'),
  });
  const { samples: _s, ...summary } = result;
  process.stdout.write(JSON.stringify(summary, null, 1) + '\n');
  for (const c of result.checks) process.stderr.write(`${c.ok ? 'ok  ' : 'FAIL'} ${c.name}: ${c.detail}\n`);
  if (!result.checks.every((c) => c.ok)) process.exitCode = 1;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main().catch((err) => {
    process.stderr.write(`soak: ${(err as Error).message}\n`);
    process.exit(1);
  });
}
