// `npm run bench:tun` (issue 16): TCP through four paths, side by side in one run,
// each between two network namespaces joined by a veth pair:
//
//   larval     two `larval tun` gateways (AES-GCM-128, ESP in UDP, the test key exchange)
//   larval-wN  `larval tun --workers N` (src/tun/workers.ts): a multi-queue TUN device,
//              N worker threads, N manual AES-GCM SAs each way (one per worker);
//              larval-wN-stgc the same under `node --single-threaded-gc`
//   larval-chacha  the same with manual ChaCha20-Poly1305 SAs (RFC 7634; libsodium when
//              sodium-native is installed), larval-gcm with manual AES-GCM SAs
//   strongswan two strongSwan charon gateways with kernel-libipsec (userspace ESP in
//              UDP, aes128gcm16, encap = yes), per /work/shared/notes/strongswan-peer.md
//   strongswan-chacha  the same with chacha20poly1305 ESP (RFC 7634, strongSwan's openssl
//              plugin): the like-for-like row of larval-chacha; the bench checks in
//              `swanctl --list-sas` on both sides that the CHILD SA really uses it
//   relay      a no-crypto Node relay on larval's own TUN and UDP I/O (bench/tun-relay.ts):
//              every packet read from the TUN device is one UDP datagram to the peer and
//              back: the I/O ceiling of a gateway on these primitives
//   veth       plain veth, no tunnel, MTU 1400
//
// For each: iperf3 TCP for --time seconds (default 8) from 10.1.0.1 to 10.2.0.1,
// a ping (every 50 ms) under that load, RSS of each gateway before/after, CPU of each
// gateway from /proc/PID/stat and, for larval and the relay, packets from their
// counters (SIGUSR1) → CPU µs per packet, packets per TUN read batch and UDP receive
// batch, and TUN wake-ups (the reader slept and its helper woke it) per 1000 packets. Readiness: the gateways' JSON "up" line,
// a first ping through the tunnel, charon's vici socket answering, iperf3's port
// listening; never a fixed sleep.
//
// Needs root, ip, iperf3, ping, python3, /dev/net/tun; strongswan (charon, swanctl)
// for its row. Namespaces and veths have names unique to this run and are deleted
// on exit, also on failure or Ctrl-C.
//
//   npm run bench:tun -- [--time 8] [--paths larval,larval-chacha,strongswan,strongswan-chacha,relay,veth] [--rounds 1] [--json FILE] [--streams 1]
//   --streams: parallel TCP connections (iperf3 -P) on every path: one connection is one
//   flow, which the kernel gives to one queue of a multi-queue device (one worker).
//   --paths may also name larval-chacha, larval-gcm and larval@DIR, larval-chacha@DIR or larval-wN@DIR (the larval built
//   in DIR, e.g. an earlier commit, to measure one change side by side), relay@DIR (that build's relay) and larval+NAME=VALUE (this build with an
//   environment variable set, e.g. larval+LARVAL_TUN_SPIN_US=0; larval-chacha+NAME=VALUE and relay+NAME=VALUE likewise:
//   +LARVAL_TUN_OFFLOAD=0 runs a gateway or the relay without TUN offloads, src/tun/offload.ts).

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';

const root = new URL('../../', import.meta.url).pathname;
const cliIn = (dir: string) => (existsSync(join(dir, 'dist/src/cli/main.js')) ? join(dir, 'dist/src/cli/main.js') : join(dir, 'dist/src/cli.js'));
const CLI = cliIn(root);
const RELAY = join(root, 'dist/bench/tun-relay.js');
const CHARON = '/usr/lib/ipsec/charon';
const HZ = 100; // USER_HZ: /proc/PID/stat times are in these ticks on Linux
const UNDER = { a: '192.0.2.1', b: '192.0.2.2' };
const INNER = { a: '10.1.0.1', b: '10.2.0.1' };
const MTU = 1400;

const { values: opts } = parseArgs({
  options: {
    time: { type: 'string', default: '8' },
    paths: { type: 'string', default: 'larval,larval-chacha,strongswan,strongswan-chacha,relay,veth' },
    rounds: { type: 'string', default: '1' },
    json: { type: 'string' },
    keep: { type: 'boolean', default: false },
    streams: { type: 'string', default: '1' },
  },
});
const SECONDS = Number(opts.time);
const STREAMS = Number(opts.streams);
const tag = `${(process.pid % 46656).toString(36)}${Math.floor(Math.random() * 1296).toString(36)}`.padStart(5, '0');
const dir = mkdtempSync(join(tmpdir(), 'larval-bench-tun-'));
const namespaces: string[] = [];
const children: ChildProcess[] = [];

function sh(cmd: string): string {
  const r = spawnSync('sh', ['-c', cmd], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd}: ${r.stderr || r.stdout}`);
  return r.stdout;
}
const have = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;

function cleanup(): void {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const ns of namespaces) spawnSync('sh', ['-c', `ip netns pids ${ns} | xargs -r kill -9; ip netns del ${ns}`]);
  namespaces.length = 0;
  if (!opts.keep) rmSync(dir, { recursive: true, force: true });
}
process.on('SIGINT', () => { cleanup(); process.exit(130); });
process.on('SIGTERM', () => { cleanup(); process.exit(143); });

const until = async (what: string, ms: number, probe: () => boolean): Promise<void> => {
  const end = Date.now() + ms;
  for (;;) {
    if (probe()) return;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50)); // poll interval of a readiness check, not a wait for readiness
  }
};

interface Pair { a: string; b: string }

/**
 * Extra node options for the gateway on side a (BENCH_TUN_NODE_ARGS, e.g. --cpu-prof --cpu-prof-dir=/tmp/p), for
 * profiling; BENCH_TUN_NODE_SIDES=ab (or b) gives them to both sides (or side b, the receiver of the TCP data).
 */
const nodeArgs = (side: 'a' | 'b'): string[] => ((process.env.BENCH_TUN_NODE_SIDES ?? 'a').includes(side) && process.env.BENCH_TUN_NODE_ARGS ? process.env.BENCH_TUN_NODE_ARGS.split(' ') : []);

/** Two namespaces joined by a veth pair, underlay addresses on it. */
function makePair(name: string): Pair {
  const p = { a: `lb${tag}${name}a`, b: `lb${tag}${name}b` };
  for (const ns of [p.a, p.b]) {
    sh(`ip netns add ${ns}`);
    namespaces.push(ns);
  }
  const va = `v${tag}${name}a`, vb = `v${tag}${name}b`; // ≤ 15 characters
  sh(`ip link add ${va} type veth peer name ${vb}`);
  sh(`ip link set ${va} netns ${p.a} name veth0 && ip link set ${vb} netns ${p.b} name veth0`);
  for (const side of ['a', 'b'] as const) {
    const ns = p[side];
    sh(`ip -n ${ns} link set lo up && ip -n ${ns} addr add ${UNDER[side]}/24 dev veth0 && ip -n ${ns} link set veth0 up`);
  }
  return p;
}

/** Stop a gateway gracefully (SIGTERM: its last counters, a profile if asked for), SIGKILL after 5 s. */
async function stop(p: Proc | undefined): Promise<void> {
  if (!p || p.proc.exitCode !== null || p.proc.signalCode !== null) return;
  const exited = new Promise((r) => p.proc.once('exit', r));
  p.proc.kill('SIGTERM');
  const t = setTimeout(() => p.proc.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(t);
}

function deletePair(p: Pair): void {
  for (const ns of [p.a, p.b]) {
    spawnSync('sh', ['-c', `ip netns pids ${ns} | xargs -r kill -9; ip netns del ${ns}`]);
    namespaces.splice(namespaces.indexOf(ns), 1);
  }
}

/** A persistent TUN device `lt0` in each namespace with the inner address and the route to the other side. */
function addTun(p: Pair, multiQueue = false): void {
  for (const side of ['a', 'b'] as const) {
    const ns = p[side];
    const other = side === 'a' ? 'b' : 'a';
    sh(`ip -n ${ns} tuntap add dev lt0 mode tun${multiQueue ? ' multi_queue' : ''} && ip -n ${ns} link set lt0 mtu ${MTU} up && ip -n ${ns} addr add ${INNER[side]}/24 dev lt0`);
    sh(`ip -n ${ns} route add ${INNER[other].replace(/\.\d+$/, '.0')}/24 dev lt0`);
  }
}

interface Proc {
  proc: ChildProcess;
  pid: number;
  lines: Record<string, unknown>[];
  waitFor(pred: (l: Record<string, unknown>) => boolean, ms?: number): Promise<Record<string, unknown>>;
}

/** A child speaking JSON lines on stdout (larval tun, the relay). */
function jsonChild(label: string, argv: string[], env: Record<string, string> = {}): Proc {
  const proc = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  children.push(proc);
  const lines: Record<string, unknown>[] = [];
  const waiters: { pred: (l: Record<string, unknown>) => boolean; resolve: (l: Record<string, unknown>) => void }[] = [];
  let err = '';
  proc.stderr!.on('data', (d: Buffer) => { if (err.length < 8192) err += d.toString(); });
  createInterface({ input: proc.stdout! }).on('line', (text) => {
    let l: Record<string, unknown>;
    try { l = JSON.parse(text) as Record<string, unknown>; } catch { return; }
    lines.push(l);
    for (const w of [...waiters]) if (w.pred(l)) { waiters.splice(waiters.indexOf(w), 1); w.resolve(l); }
  });
  const waitFor = (pred: (l: Record<string, unknown>) => boolean, ms = 15_000) => new Promise<Record<string, unknown>>((resolve, reject) => {
    const hit = lines.find(pred);
    if (hit) return resolve(hit);
    const t = setTimeout(() => reject(new Error(`${label}: timed out waiting (stderr: ${err.trim().slice(-500)})`)), ms);
    proc.once('exit', (code) => { clearTimeout(t); reject(new Error(`${label} exited (${code}): ${err.trim().slice(-500)}`)); });
    waiters.push({ pred, resolve: (l) => { clearTimeout(t); resolve(l); } });
  });
  return { proc, pid: proc.pid!, lines, waitFor };
}

async function counters(p: Proc): Promise<Record<string, any>> {
  const n = p.lines.length;
  p.proc.kill('SIGUSR1');
  return p.waitFor((x) => x.event === 'stats' && p.lines.indexOf(x) >= n, 10_000);
}

/** utime + stime of a process and all its threads, in seconds. */
function cpuSeconds(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return (Number(rest[11]) + Number(rest[12])) / HZ; // fields 14 and 15
}
function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

async function pingUntilUp(ns: string, dst: string, src: string, ms = 20_000): Promise<void> {
  await until(`a ping ${src} -> ${dst} in ${ns}`, ms, () => spawnSync('ip', ['netns', 'exec', ns, 'ping', '-c', '1', '-W', '1', '-I', src, dst]).status === 0);
}

interface Result {
  path: string;
  mbps: number;
  retransmits: number;
  pingP50: number | null;
  pingP99: number | null;
  pingLoss: number | null;
  gateways: { label: string; pid: number; rssBefore: number; rssAfter: number; cpuPct: number; packets: number | null; usPerPacket: number | null; perBatch: { tun: number; udp: number; wakesPer1000: number } | null }[];
  note?: string;
  /** Idle CPU of the whole machine during the run, in cores (other users' load shows here). */
  idleCores?: number;
}

function machineCpu(): { idle: number; total: number } {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  return { idle: f[3] + f[4], total: f.reduce((x, y) => x + y, 0) };
}

const quantile = (xs: number[], q: number) => {
  if (xs.length === 0) return null;
  const s = [...xs].sort((x, y) => x - y);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
};

/** iperf3 from a to b (and ping alongside), measuring the given gateway processes. */
async function measurePath(path: string, p: Pair, gws: { label: string; pid: number; proc?: Proc }[], dst = INNER.b, src = INNER.a): Promise<Result> {
  const server = spawn('ip', ['netns', 'exec', p.b, 'iperf3', '-s', '-1', '-B', dst], { stdio: 'ignore' });
  children.push(server);
  await until('iperf3 listening', 10_000, () => /:5201\b/.test(sh(`ip netns exec ${p.b} ss -ltnH`)));
  const before = await Promise.all(gws.map(async (g) => ({ cpu: cpuSeconds(g.pid), rss: rssMiB(g.pid), c: g.proc ? await counters(g.proc) : null })));
  const t0 = performance.now();
  const m0 = machineCpu();
  const pingCount = Math.floor(SECONDS / 0.05);
  const ping = spawn('ip', ['netns', 'exec', p.a, 'ping', '-i', '0.05', '-c', String(pingCount), '-W', '1', '-I', src, dst], { stdio: ['ignore', 'pipe', 'ignore'] });
  children.push(ping);
  let pingOut = '';
  ping.stdout!.on('data', (d: Buffer) => { pingOut += d.toString(); });
  const client = spawnSync('ip', ['netns', 'exec', p.a, 'iperf3', '-c', dst, '-B', src, '-t', String(SECONDS), '-P', String(STREAMS), '-J'], { encoding: 'utf8', maxBuffer: 64 << 20 });
  const elapsed = (performance.now() - t0) / 1000;
  const m1 = machineCpu();
  const idleCores = ((m1.idle - m0.idle) / (m1.total - m0.total)) * cpus().length;
  const after = await Promise.all(gws.map(async (g) => ({ cpu: cpuSeconds(g.pid), rss: rssMiB(g.pid), c: g.proc ? await counters(g.proc) : null })));
  if (ping.exitCode === null) { ping.kill('SIGINT'); await new Promise((r) => ping.once('exit', r)); }
  if (server.exitCode === null) server.kill('SIGKILL');
  let mbps = NaN, retransmits = NaN, note: string | undefined;
  try {
    const j = JSON.parse(client.stdout);
    if (j.error) note = `iperf3: ${j.error}`;
    mbps = j.end.sum_received.bits_per_second / 1e6;
    retransmits = j.end.sum_sent.retransmits;
  } catch {
    note = `iperf3 failed: ${(client.stderr || client.stdout).trim().slice(-300)}`;
  }
  const rtts = [...pingOut.matchAll(/time=([\d.]+) ms/g)].map((m) => Number(m[1]));
  const sent = /(\d+) packets transmitted/.exec(pingOut);
  return {
    path, mbps, retransmits, note, idleCores,
    pingP50: quantile(rtts, 0.5), pingP99: quantile(rtts, 0.99),
    pingLoss: sent ? 1 - rtts.length / Number(sent[1]) : null,
    gateways: gws.map((g, i) => {
      const cpu = after[i].cpu - before[i].cpu;
      const packets = after[i].c && before[i].c ? packetCount(after[i].c!) - packetCount(before[i].c!) : null;
      return {
        label: g.label, pid: g.pid, rssBefore: before[i].rss, rssAfter: after[i].rss, cpuPct: (100 * cpu) / elapsed,
        packets, usPerPacket: packets ? (cpu * 1e6) / packets : null, perBatch: after[i].c && before[i].c ? perBatch(before[i].c!, after[i].c!) : null,
      };
    }),
  };
}

/**
 * Packets per batch over the run: TUN reads per delivered batch, datagrams received per
 * batch; and how often the TUN reader slept and was woken (helper round trips) per 1000
 * packets read from it (counters the gateway has: NaN without).
 */
function perBatch(c0: Record<string, any>, c1: Record<string, any>): { tun: number; udp: number; wakesPer1000: number } {
  const d = (f: (c: Record<string, any>) => unknown) => Number(f(c1)) - Number(f(c0));
  return {
    tun: d((c) => c.tun?.readPackets) / d((c) => c.tun?.readBatches),
    udp: d((c) => c.udp?.received ?? c.udpIn) / d((c) => c.udp?.batches),
    wakesPer1000: (1000 * d((c) => c.tun?.wakeups)) / d((c) => c.tun?.readPackets),
  };
}

/** Packets a gateway handled: read from the TUN device plus datagrams received. */
function packetCount(c: Record<string, any>): number {
  return Number(c.tunIn ?? 0) + Number(c.udpIn ?? 0);
}

// -- the paths -------------------------------------------------------------------

/** Manual SAs both ways (ESP in UDP, fixed bench keys): no key exchange at all. `perSide` SAs each way (--workers: one per worker). */
function manualSas(alg: 'aes-gcm-16' | 'chacha20-poly1305', perSide = 1): string {
  const len = alg === 'aes-gcm-16' ? 20 : 36;
  const key = (seed: number) => '0x' + Array.from({ length: len }, (_, i) => ((i * 29 + seed) & 255).toString(16).padStart(2, '0')).join('');
  let conf = '';
  for (let k = 0; k < perSide; k++) {
    conf += `add ${UNDER.a}[4500] ${UNDER.b}[4500] esp-udp 0x${(0x2001 + 2 * k).toString(16)} -m tunnel -E ${alg} ${key(1 + 2 * k)};\n`
      + `add ${UNDER.b}[4500] ${UNDER.a}[4500] esp-udp 0x${(0x2002 + 2 * k).toString(16)} -m tunnel -E ${alg} ${key(2 + 2 * k)};\n`;
  }
  return conf;
}

function setkeyConf(l: string, r: string, us: string, them: string): string {
  return `spdadd ${l} ${r} any -P out ipsec esp/tunnel/${us}-${them}/require;\nspdadd ${r} ${l} any -P in ipsec esp/tunnel/${them}-${us}/require;\n`;
}

async function runLarval(workers?: number, cli = CLI, label?: string, env: Record<string, string> = {}, manual?: 'aes-gcm-16' | 'chacha20-poly1305', nodeFlags: string[] = []): Promise<Result> {
  const name = label ? `c${namespaces.length}` : workers ? `w${workers}` : 'l';
  const p = makePair(name);
  let a: Proc | undefined, b: Proc | undefined;
  try {
    addTun(p, workers !== undefined);
    // Manual SAs both ways: `larval tun` negotiates only through IKE (--swanctl), and the
    // bench measures the data path, not the negotiation.
    const sas = manualSas(manual ?? 'aes-gcm-16', workers ?? 1);
    writeFileSync(join(dir, 'a.conf'), setkeyConf('10.1.0.0/24', '10.2.0.0/24', UNDER.a, UNDER.b) + sas);
    writeFileSync(join(dir, 'b.conf'), setkeyConf('10.2.0.0/24', '10.1.0.0/24', UNDER.b, UNDER.a) + sas);
    const gw = (side: 'a' | 'b') => {
      return jsonChild(`larval ${side}`, ['ip', 'netns', 'exec', p[side], process.execPath, ...nodeFlags, ...nodeArgs(side), cli, 'tun', '--config', join(dir, `${side}.conf`), '--dev', 'lt0',
        '--listen', `${UNDER[side]}:4500`, ...(workers ? ['--workers', String(workers)] : [])], env);
    };
    a = gw('a'); b = gw('b');
    await Promise.all([a.waitFor((l) => l.event === 'up'), b.waitFor((l) => l.event === 'up')]);
    await pingUntilUp(p.a, INNER.b, INNER.a);
    const r = await measurePath(label ?? (workers ? `larval-w${workers}` : 'larval'), p, [{ label: 'larval a', pid: a.pid, proc: a }, { label: 'larval b', pid: b.pid, proc: b }]);
    const drops = [await counters(a!), await counters(b!)].map((c) => JSON.stringify(c.drops));
    if (drops.some((d) => d !== '{}')) r.note = `drops a ${drops[0]} b ${drops[1]}`;
    return r;
  } finally {
    await stop(a); await stop(b);
    deletePair(p);
  }
}

async function runRelay(relay = RELAY, label = 'no-crypto relay (same I/O)', env: Record<string, string> = {}): Promise<Result> {
  const p = makePair(label === 'no-crypto relay (same I/O)' ? 'r' : `r${namespaces.length}`);
  let a: Proc | undefined, b: Proc | undefined;
  try {
    addTun(p);
    const start = (side: 'a' | 'b') => {
      const other = side === 'a' ? 'b' : 'a';
      return jsonChild(`relay ${side}`, ['ip', 'netns', 'exec', p[side], process.execPath, ...nodeArgs(side), relay, '--dev', 'lt0', '--listen', `${UNDER[side]}:4500`, '--peer', `${UNDER[other]}:4500`], env);
    };
    a = start('a'); b = start('b');
    await Promise.all([a.waitFor((l) => l.event === 'up'), b.waitFor((l) => l.event === 'up')]);
    await pingUntilUp(p.a, INNER.b, INNER.a);
    return await measurePath(label, p, [{ label: 'relay a', pid: a.pid, proc: a }, { label: 'relay b', pid: b.pid, proc: b }]);
  } finally {
    await stop(a); await stop(b);
    deletePair(p);
  }
}

async function runVeth(): Promise<Result> {
  const p = makePair('v');
  try {
    for (const side of ['a', 'b'] as const) sh(`ip -n ${p[side]} link set veth0 mtu ${MTU}`);
    return await measurePath('plain veth, MTU 1400', p, [], UNDER.b, UNDER.a);
  } finally {
    deletePair(p);
  }
}

function charonConf(d: string): string {
  return `charon {
  load_modular = yes
  plugins {
    include /etc/strongswan.d/charon/*.conf
    vici { socket = unix://${d}/charon.vici }
    kernel-libipsec { load = yes }
  }
  filelog { f { path = ${d}/charon.log
                default = 1 } }
}
`;
}

/** strongSwan's ESP proposal per path: `strongswan` AES-GCM-128, `strongswan-chacha` ChaCha20-Poly1305 (RFC 7634, its openssl plugin). */
const SWAN_ESP = { 'aes-gcm': 'aes128gcm16', chacha: 'chacha20poly1305' } as const;
/** What `swanctl --list-sas` names the negotiated CHILD SA's algorithm. */
const SWAN_ESP_SHOWN = { 'aes-gcm': 'AES_GCM_16-128', chacha: 'CHACHA20_POLY1305' } as const; // the CHILD SA line: "ESP:CHACHA20_POLY1305/..."
type SwanEsp = keyof typeof SWAN_ESP;

function swanctlConf(side: 'a' | 'b', esp: SwanEsp): string {
  const other = side === 'a' ? 'b' : 'a';
  const id = (s: string) => `${s}.example`;
  return `connections { net { version = 2
    local_addrs = ${UNDER[side]}
    remote_addrs = ${UNDER[other]}
    proposals = aes128gcm16-prfsha256-curve25519
    encap = yes
    local { auth = psk
            id = ${id(side)} }
    remote { auth = psk
             id = ${id(other)} }
    children { net { local_ts = ${INNER[side]}/32
                     remote_ts = ${INNER[other]}/32
                     esp_proposals = ${SWAN_ESP[esp]} } } } }
secrets { ike-net { id-1 = a.example
                    id-2 = b.example
                    secret = "bench-tun-pre-shared-key" } }
`;
}

async function runStrongswan(esp: SwanEsp = 'aes-gcm'): Promise<Result> {
  const p = makePair(esp === 'chacha' ? 'sc' : 's');
  try {
    const pids: number[] = [];
    for (const side of ['a', 'b'] as const) {
      const ns = p[side];
      const d = join(dir, `charon-${esp}-${side}`);
      sh(`mkdir -p ${d}`);
      writeFileSync(join(d, 'strongswan.conf'), charonConf(d));
      writeFileSync(join(d, 'swanctl.conf'), swanctlConf(side, esp));
      sh(`ip -n ${ns} addr add ${INNER[side]}/32 dev lo`);
      const c = spawn('ip', ['netns', 'exec', ns, 'unshare', '-m', '--propagation', 'private', 'sh', '-c', `mount -t tmpfs run /run && exec ${CHARON}`], {
        env: { ...process.env, STRONGSWAN_CONF: join(d, 'strongswan.conf') }, stdio: 'ignore', detached: true,
      });
      children.push(c);
      const uri = `unix://${d}/charon.vici`;
      await until(`charon ${side} vici`, 15_000, () => spawnSync('swanctl', ['--stats', '--uri', uri]).status === 0);
      sh(`swanctl --load-all --file ${join(d, 'swanctl.conf')} --uri ${uri}`);
      pids.push(c.pid!); // ip netns exec and unshare exec; sh execs charon: the same pid
    }
    sh(`swanctl --initiate --child net --uri unix://${join(dir, `charon-${esp}-a`)}/charon.vici`);
    await pingUntilUp(p.a, INNER.b, INNER.a);
    // The row is only what it says if the CHILD SA really uses the proposed algorithm (on both sides).
    for (const side of ['a', 'b']) {
      const sas = sh(`swanctl --list-sas --uri unix://${join(dir, `charon-${esp}-${side}`)}/charon.vici`);
      if (!sas.includes(`ESP:${SWAN_ESP_SHOWN[esp]}`)) throw new Error(`charon ${side}: the CHILD SA does not use ${SWAN_ESP_SHOWN[esp]}: ${sas.replace(/\s+/g, ' ').slice(0, 300)}`);
      process.stderr.write(`charon ${side} CHILD SA: ${/\S*ESP:\S+/.exec(sas)?.[0] ?? ''}\n`);
    }
    return await measurePath(esp === 'chacha' ? 'strongSwan kernel-libipsec ChaCha20-Poly1305' : 'strongSwan kernel-libipsec', p, [{ label: 'charon a', pid: pids[0] }, { label: 'charon b', pid: pids[1] }]);
  } finally {
    deletePair(p);
  }
}

// -- main ------------------------------------------------------------------------

function table(results: Result[]): string {
  const f = (x: number | null | undefined, d = 0) => (x === null || x === undefined || Number.isNaN(x) ? '–' : x.toFixed(d));
  const rows = ['| path | TCP Mbit/s | retransmits | ping p50 / p99 ms (loss) | idle cores | gateway: CPU %, µs/packet, RSS MiB before→after, packets per batch TUN/UDP |', '|---|---:|---:|---|---:|---|'];
  for (const r of results) {
    const gws = r.gateways.map((g) => `${g.label}: ${f(g.cpuPct)} %, ${g.usPerPacket === null ? '–' : f(g.usPerPacket, 1)} µs/pkt, ${f(g.rssBefore)}→${f(g.rssAfter)}${g.perBatch && (g.perBatch.tun > 0 || g.perBatch.udp > 0) ? `, ${f(g.perBatch.tun, 1)}/${f(g.perBatch.udp, 1)} pkt/batch${Number.isFinite(g.perBatch.wakesPer1000) ? `, ${f(g.perBatch.wakesPer1000, 1)} TUN wake-ups/1000 pkt` : ''}` : ''}`).join('; ') || '–';
    rows.push(`| ${r.path} | ${f(r.mbps)} | ${f(r.retransmits)} | ${f(r.pingP50, 2)} / ${f(r.pingP99, 2)} (${r.pingLoss === null ? '–' : f(r.pingLoss * 100) + ' %'}) | ${f(r.idleCores, 2)} | ${gws}${r.note ? ` (${r.note})` : ''} |`);
  }
  return rows.join('\n');
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('bench:tun needs root (network namespaces, TUN devices)');
  for (const cmd of ['ip', 'iperf3', 'ping', 'python3', 'ss']) if (!have(cmd)) throw new Error(`bench:tun needs ${cmd}`);
  if (!existsSync(CLI) || !existsSync(RELAY)) throw new Error('run npm run build first');
  const paths = opts.paths!.split(',');
  const all: Result[][] = [];
  for (let round = 0; round < Number(opts.rounds); round++) {
    const results: Result[] = [];
    for (const path of paths) {
      const [base, setting] = path.split('+') as [string, string | undefined];
      // NAME=VALUE: split at the first '=' only (a value may hold one: NODE_OPTIONS=--max-semi-space-size=32)
      const envOf = (nv: string) => { const i = nv.indexOf('='); return { [nv.slice(0, i)]: nv.slice(i + 1) }; };
      const env = setting ? envOf(setting) : {};
      const wn = /^larval-w(\d+)(-stgc)?$/.exec(path);
      // larval@DIR, larval-chacha@DIR: another build's gateways (AES-GCM or ChaCha20-Poly1305 SAs)
      const at = /^(larval|larval-chacha|larval-w\d+)@(.+)$/.exec(path);
      const atWorkers = at && /^larval-w(\d+)$/.exec(at[1]);
      const run = path === 'larval' ? () => runLarval()
        // larval-wN: larval tun --workers N (multi-queue TUN device, N SAs each way)
        // larval-wN-stgc: the same under node --single-threaded-gc (each thread collects its own garbage)
        : wn ? () => runLarval(Number(wn[1]), CLI, wn[2] ? path : undefined, {}, undefined, wn[2] ? ['--single-threaded-gc'] : [])
        // larval-chacha / larval-gcm: manual SAs from the config (setkey add), no key exchange; +NAME=VALUE as below
        // larval@DIR / larval-chacha@DIR / larval-wN@DIR: another build of larval (DIR/dist/src/cli/main.js), e.g. the commit before a change, side by side
        : at ? () => runLarval(atWorkers ? Number(atWorkers[1]) : undefined, cliIn(at[2]), `${at[1]}@${at[2].split('/').pop()}`, {}, at[1] === 'larval-chacha' ? 'chacha20-poly1305' : 'aes-gcm-16')
        // larval-stgc / larval-chacha-stgc: the one-thread gateway under node --single-threaded-gc (no GC helper threads)
        : base === 'larval-stgc' || base === 'larval-chacha-stgc' ? () => runLarval(undefined, CLI, path, env, base === 'larval-stgc' ? 'aes-gcm-16' : 'chacha20-poly1305', ['--single-threaded-gc'])
        : base === 'larval-chacha' ? () => runLarval(undefined, CLI, path, env, 'chacha20-poly1305')
        : base === 'larval-gcm' ? () => runLarval(undefined, CLI, path, env, 'aes-gcm-16')
        // larval+NAME=VALUE: this build with an environment variable (a tuning knob) set
        : path.startsWith('larval+') ? () => runLarval(undefined, CLI, path, envOf(path.slice(7)))
        : path === 'relay' ? () => runRelay()
        // relay+NAME=VALUE: the relay with an environment variable set (relay+LARVAL_TUN_OFFLOAD=0: without TUN offloads)
        : base === 'relay' && setting ? () => runRelay(RELAY, path, env)
        // relay@DIR: the relay of another build (DIR/dist/bench/tun-relay.js), side by side
        : path.startsWith('relay@') ? () => runRelay(join(path.slice(6), 'dist/bench/tun-relay.js'), `relay@${path.slice(6).split('/').pop()}`)
        : path === 'veth' ? runVeth
        : path === 'strongswan' ? (existsSync(CHARON) && have('swanctl') ? () => runStrongswan('aes-gcm') : null)
        // strongswan-chacha: the same with chacha20poly1305 ESP, the like-for-like row of larval-chacha
        : path === 'strongswan-chacha' ? (existsSync(CHARON) && have('swanctl') ? () => runStrongswan('chacha') : null)
        : null;
      if (!run) {
        results.push({ path, mbps: NaN, retransmits: NaN, pingP50: null, pingP99: null, pingLoss: null, gateways: [], note: 'unavailable' });
        continue;
      }
      try {
        results.push(await run());
      } catch (e) {
        results.push({ path, mbps: NaN, retransmits: NaN, pingP50: null, pingP99: null, pingLoss: null, gateways: [], note: `failed: ${(e as Error).message.slice(0, 300)}` });
      }
      process.stderr.write(`${results.at(-1)!.path}: ${results.at(-1)!.mbps.toFixed(0)} Mbit/s\n`);
    }
    all.push(results);
    console.log(`\nround ${round + 1}, iperf3 TCP ${SECONDS} s, ${new Date().toISOString()}\n`);
    console.log(table(results));
    const mbps = (path: string) => { const m = results.find((r) => r.path === path)?.mbps; return m && m > 0 ? m : undefined; };
    const larval = mbps('larval'), sw = mbps('strongSwan kernel-libipsec'), swChacha = mbps('strongSwan kernel-libipsec ChaCha20-Poly1305'), relay = mbps('no-crypto relay (same I/O)');
    const ratios: string[] = [];
    if (larval && sw) ratios.push(`larval / strongSwan = ${(larval / sw).toFixed(2)}×`);
    if (larval && relay) ratios.push(`larval / relay = ${(larval / relay).toFixed(2)}×`);
    for (const r of results) {
      if (r.path === 'larval' || !r.path.startsWith('larval-') || !(r.mbps > 0)) continue;
      if (sw) ratios.push(`${r.path} / strongSwan = ${(r.mbps / sw).toFixed(2)}×`);
      // like for like: larval's ChaCha20-Poly1305 against strongSwan's
      if (swChacha && r.path.startsWith('larval-chacha')) ratios.push(`${r.path} / strongSwan-chacha = ${(r.mbps / swChacha).toFixed(2)}×`);
      if (relay) ratios.push(`${r.path} / relay = ${(r.mbps / relay).toFixed(2)}×`);
    }
    if (sw && swChacha) ratios.push(`strongSwan-chacha / strongSwan = ${(swChacha / sw).toFixed(2)}×`);
    const w1 = results.find((r) => r.path === 'larval-w1')?.mbps;
    for (const r of results) if (w1 && /^larval-w\d+/.test(r.path) && r.path !== 'larval-w1' && r.mbps > 0) ratios.push(`${r.path} / larval-w1 = ${(r.mbps / w1).toFixed(2)}×`);
    if (ratios.length) console.log(`\n${ratios.join('; ')}`);
  }
  if (opts.json) writeFileSync(opts.json, JSON.stringify(all, null, 2));
}

main().then(() => cleanup(), (e) => { cleanup(); console.error(e); process.exit(1); });
