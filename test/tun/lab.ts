// Two `larval tun` gateways in two network namespaces joined by a veth pair, for the
// issue 17 tests (attack, faults, soak). Names carry a random suffix: other people
// run namespace tests on the same machine at the same time. Everything waits for
// readiness (a JSON line, a socket), never a fixed time.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

// Two levels up is the repository from test/tun/, three from dist/test/tun/ (bench/soak.ts imports this).
const up2 = new URL('../../', import.meta.url).pathname;
export const root = existsSync(join(up2, 'package.json')) ? up2 : new URL('../../../', import.meta.url).pathname;
export const cli = join(root, 'dist/src/cli/main.js');
const have = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
export const labMissing = process.getuid?.() !== 0 ? 'not running as root'
  : !existsSync('/dev/net/tun') ? 'no /dev/net/tun'
  : !['ip', 'ping', 'python3'].every(have) ? 'ip, ping or python3 is missing'
  : !existsSync(cli) ? 'dist/ is not built (npm run build)'
  : null;

export const UNDER = { a: '10.200.0.1', b: '10.200.0.2' } as const;
export const INNER = { a: '10.1.0.1', b: '10.2.0.1' } as const;
export type Side = 'a' | 'b';
export type Line = Record<string, any>;

export function sh(cmd: string): string {
  const r = spawnSync('sh', ['-c', cmd], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd}: ${r.stderr}`);
  return r.stdout;
}

export interface Larval {
  proc: ChildProcess;
  lines: Line[];
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  waitFor: (pred: (l: Line) => boolean, ms?: number, what?: string) => Promise<Line>;
  /** Calls fn with each JSON line as it arrives (the soak samples the stats lines). */
  onLine: (fn: (l: Line) => void) => void;
}

export function swanctlConf(side: Side, extraChild = ''): string {
  const [l, r] = side === 'a' ? ['10.1.0.0/24', '10.2.0.0/24'] : ['10.2.0.0/24', '10.1.0.0/24'];
  const [us, them] = side === 'a' ? [UNDER.a, UNDER.b] : [UNDER.b, UNDER.a];
  const [idUs, idThem] = side === 'a' ? ['a.example', 'b.example'] : ['b.example', 'a.example'];
  return `connections { net { version = 2
  local_addrs = ${us}
  remote_addrs = ${them}
  proposals = aes256gcm16-prfsha256-curve25519
  encap = yes
  local { auth = psk
    id = ${idUs} }
  remote { auth = psk
    id = ${idThem} }
  children { net { local_ts = ${l}
    remote_ts = ${r}
    esp_proposals = aes256gcm16
    ${extraChild} } } } }
secrets { ike-net { id-1 = a.example
  id-2 = b.example
  secret = "issue17-pre-shared-key-0123456789" } }
`;
}

export class TwoGateways {
  readonly id = randomBytes(3).toString('hex');
  readonly ns = { a: `l17a-${this.id}`, b: `l17b-${this.id}` };
  readonly dir = mkdtempSync(join(tmpdir(), 'larval-17-'));
  readonly gw: Partial<Record<Side, Larval>> = {};
  /** Appended to the default `larval tun` arguments (e.g. --stats-interval 1s). */
  tunArgs: string[] = [];
  private readonly procs: ChildProcess[] = [];

  inNs(side: Side, cmd: string): string {
    return sh(`ip netns exec ${this.ns[side]} ${cmd}`);
  }

  /** Namespaces, veth (underlay 10.200.0.0/24), a persistent TUN device lt0 on each side (multi-queue for `larval tun --workers`). */
  setup(extraChild = '', multiQueue = false): void {
    writeFileSync(join(this.dir, 'a.swanctl'), swanctlConf('a', extraChild));
    writeFileSync(join(this.dir, 'b.swanctl'), swanctlConf('b', extraChild));
    sh(`ip netns add ${this.ns.a} && ip netns add ${this.ns.b}`);
    const va = `v17a${this.id}`, vb = `v17b${this.id}`; // 10 chars (IFNAMSIZ 16)
    sh(`ip link add ${va} type veth peer name ${vb}`);
    sh(`ip link set ${va} netns ${this.ns.a} name vta && ip link set ${vb} netns ${this.ns.b} name vtb`);
    for (const [side, dev, net] of [['a', 'vta', INNER.a], ['b', 'vtb', INNER.b]] as const) {
      const ns = this.ns[side];
      sh(`ip -n ${ns} link set lo up && ip -n ${ns} addr add ${UNDER[side]}/24 dev ${dev} && ip -n ${ns} link set ${dev} up`);
      sh(`ip -n ${ns} tuntap add dev lt0 mode tun${multiQueue ? ' multi_queue' : ''} && ip -n ${ns} link set lt0 mtu 1400 up && ip -n ${ns} addr add ${net}/24 dev lt0`);
      sh(`ip -n ${ns} route add ${side === 'a' ? '10.2.0.0/24' : '10.1.0.0/24'} dev lt0`);
    }
  }

  /** Starts `larval tun` (or anything else with `argv`) in a side's namespace. */
  start(side: Side, argv?: string[], wrap: string[] = []): Larval {
    const args = argv ?? ['tun', '--swanctl', join(this.dir, `${side}.swanctl`), '--dev', 'lt0', ...this.tunArgs];
    const proc = spawn('ip', ['netns', 'exec', this.ns[side], ...wrap, process.execPath, cli, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.procs.push(proc);
    const lines: Line[] = [];
    let err = '';
    proc.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
    const waiters: { pred: (l: Line) => boolean; resolve: (l: Line) => void }[] = [];
    const listeners: ((l: Line) => void)[] = [];
    createInterface({ input: proc.stdout! }).on('line', (text) => {
      let l: Line;
      try { l = JSON.parse(text) as Line; } catch { l = { event: 'text', text }; }
      lines.push(l);
      for (const fn of listeners) fn(l);
      for (const w of [...waiters]) if (w.pred(l)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(l);
      }
    });
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => proc.once('exit', (code, signal) => r({ code, signal })));
    const waitFor = (pred: (l: Line) => boolean, ms = 20_000, what = 'a line') => new Promise<Line>((resolve, reject) => {
      const hit = lines.find(pred);
      if (hit) return resolve(hit);
      const t = setTimeout(() => reject(new Error(`larval ${side}: timed out waiting for ${what}; stderr: ${err.slice(-500)}; last: ${JSON.stringify(lines.slice(-2)).slice(0, 500)}`)), ms);
      waiters.push({ pred, resolve: (l) => { clearTimeout(t); resolve(l); } });
    });
    const l: Larval = { proc, lines, stderr: () => err, exited, waitFor, onLine: (fn) => { listeners.push(fn); } };
    if (!argv) this.gw[side] = l;
    return l;
  }

  /** Both gateways with manual SAs (`--config` from `setkeyOf(side)`, ESP on UNDER:4500), waiting until each is up. */
  async startManual(setkeyOf: (side: Side) => string, extra: string[] = []): Promise<void> {
    for (const side of ['a', 'b'] as const) {
      const conf = this.write(`${side}.setkey`, setkeyOf(side));
      this.gw[side] = this.start(side, ['tun', '--config', conf, '--listen', `${UNDER[side]}:4500`, '--dev', 'lt0', ...extra]);
    }
    await this.gw.a!.waitFor((l) => l.event === 'up', 30_000, 'up');
    await this.gw.b!.waitFor((l) => l.event === 'up', 30_000, 'up');
  }

  async startBoth(): Promise<void> {
    const a = this.start('a'), b = this.start('b');
    await a.waitFor((l) => l.event === 'up', 30_000, 'up');
    await b.waitFor((l) => l.event === 'up', 30_000, 'up');
  }

  async stats(side: Side): Promise<Line> {
    const l = this.gw[side]!;
    const n = l.lines.length;
    l.proc.kill('SIGUSR1');
    return l.waitFor((x) => x.event === 'stats' && l.lines.indexOf(x) >= n, 20_000, 'stats');
  }

  /** A helper process (python3 …) in a namespace; its stdout lines as they come. */
  spawnIn(side: Side, cmd: string[]): { proc: ChildProcess; line: (pred: (s: string) => boolean, ms?: number) => Promise<string>; lines: string[] } {
    const proc = spawn('ip', ['netns', 'exec', this.ns[side], ...cmd], { stdio: ['ignore', 'pipe', 'inherit'] });
    this.procs.push(proc);
    const lines: string[] = [];
    const waiters: { pred: (s: string) => boolean; resolve: (s: string) => void }[] = [];
    createInterface({ input: proc.stdout! }).on('line', (s) => {
      lines.push(s);
      for (const w of [...waiters]) if (w.pred(s)) { waiters.splice(waiters.indexOf(w), 1); w.resolve(s); }
    });
    const line = (pred: (s: string) => boolean, ms = 120_000) => new Promise<string>((resolve, reject) => {
      const hit = lines.find(pred);
      if (hit) return resolve(hit);
      const t = setTimeout(() => reject(new Error(`${cmd.join(' ')}: timed out; last: ${lines.slice(-3).join(' | ')}`)), ms);
      waiters.push({ pred, resolve: (s) => { clearTimeout(t); resolve(s); } });
    });
    return { proc, line, lines };
  }

  write(name: string, text: string): string {
    const p = join(this.dir, name);
    writeFileSync(p, text);
    return p;
  }

  rssOf(l: Larval): number {
    // `ip netns exec` execs the command: the child's pid is larval's.
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${l.proc.pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : NaN;
  }

  destroy(): string {
    for (const p of this.procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
    for (const ns of Object.values(this.ns)) spawnSync('sh', ['-c', `ip netns pids ${ns} 2>/dev/null | xargs -r kill -9; ip netns del ${ns} 2>/dev/null`]);
    rmSync(this.dir, { recursive: true, force: true });
    return spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout;
  }
}

/** TCP sender/receiver (python3): the server prints 'listening', then one JSON line per connection. */
export const TCP_SERVER = String.raw`
import socket, hashlib, sys, json, threading
# One thread per connection and a deep backlog: a sequential server with listen(8) let
# the kernel drop the handshakes of the connections waiting behind a slow one, and on a
# busy machine those were reset (CI, 2026-12-02: ConnectionResetError, then a timeout).
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('0.0.0.0', int(sys.argv[1]))); s.listen(128)
out = threading.Lock()
print('listening', flush=True)
def serve(c):
    h = hashlib.sha256(); n = 0
    try:
        while True:
            d = c.recv(1 << 16)
            if not d: break
            h.update(d); n += len(d)
        c.sendall(h.hexdigest().encode())
    except OSError as e:
        with out: print(json.dumps({'error': str(e), 'bytes': n}), flush=True)
        return
    finally:
        c.close()
    with out: print(json.dumps({'bytes': n, 'sha256': h.hexdigest()}), flush=True)
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
`;

/** Sends argv[2] bytes to 10.2.0.1:argv[1], prints {"bytes","sha256","echo","seconds","mbit_s"}. */
export const TCP_CLIENT = String.raw`
import socket, hashlib, sys, json, os, time
port = int(sys.argv[1]); total = int(sys.argv[2]); h = hashlib.sha256(); sent = 0
s = socket.create_connection(('10.2.0.1', port), timeout=120); t = time.time()
block = os.urandom(1 << 16)
while sent < total:
    b = block[: min(len(block), total - sent)]
    s.sendall(b); h.update(b); sent += len(b)
s.shutdown(socket.SHUT_WR)
got = s.recv(100).decode(); el = time.time() - t
print(json.dumps({'bytes': sent, 'sha256': h.hexdigest(), 'echo': got, 'seconds': el, 'mbit_s': sent * 8 / el / 1e6}), flush=True)
`;
