// A real IKEv2 peer for tests: strongSwan 5.9.8's charon with userspace ESP
// (kernel-libipsec), one daemon per network namespace (docs/strongswan-peer.md says
// why each step is needed here).
//
//   const lab = new StrongswanLab();            // owns everything it creates
//   const [a, b] = lab.namespaces(2);           // unique names, lo up
//   lab.link(a, b, '192.0.2.1/24', '192.0.2.2/24');
//   const ca = await lab.startCharon(a, { swanctlConf: '...' });
//   await ca.loadAll();  await ca.initiate('net');  await ca.listSas();
//   await lab.destroy();                        // always, also after a failure
//
// * Names are unique per run (a random suffix): other engineers run namespace tests on
//   the same machine at the same time. Interface names stay within 15 characters.
// * charon runs under `ip netns exec NS unshare -m --propagation private sh -c 'mount -t
//   tmpfs run /run && exec charon'`: a private /run keeps the daemons' pid files apart.
//   `exec` all the way down means the pid we spawned is charon's pid; we stop it by
//   that pid, never by name.
// * Readiness is `swanctl --stats` answering on the daemon's own vici socket, polled;
//   nothing waits a fixed time.
// * destroy() kills what it started and deletes namespaces, links and the temp dir,
//   collecting errors rather than stopping at the first. A process exit hook does the
//   same if a test run dies without calling it.
//
// Gate: strongswanMissing() says why charon cannot run here (or null). Tests skip with
// that reason printed, unless LARVAL_REQUIRE_STRONGSWAN=1 (CI), where they fail.

import { type ChildProcess, execFile, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { accessSync, constants, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const CHARON = '/usr/lib/ipsec/charon';
export const SWANCTL = 'swanctl';
const LIBIPSEC_PLUGIN = '/usr/lib/ipsec/plugins/libstrongswan-kernel-libipsec.so';

// ---------------------------------------------------------------------------
// Gate

function onPath(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

let missingCache: string | null | undefined;

/** Why strongSwan cannot run here, or null when it can. */
export function strongswanMissing(): string | null {
  if (missingCache !== undefined) return missingCache;
  const why = process.getuid?.() !== 0 ? 'not running as root (network namespaces need it)'
    : !existsSync(CHARON) ? `${CHARON} is missing (apt-get install strongswan-charon)`
    : !onPath(SWANCTL) ? 'swanctl is missing (apt-get install strongswan-swanctl)'
    : !existsSync(LIBIPSEC_PLUGIN) ? 'the kernel-libipsec plugin is missing (apt-get install libcharon-extra-plugins)'
    : !existsSync('/dev/net/tun') ? 'no /dev/net/tun (kernel-libipsec needs a TUN device)'
    : !['ip', 'unshare', 'mount'].every(onPath) ? 'ip, unshare or mount is missing'
    : null;
  missingCache = why;
  return why;
}

export function strongswanAvailable(): boolean {
  return strongswanMissing() === null;
}

/** CI sets LARVAL_REQUIRE_STRONGSWAN=1: then a missing strongSwan fails the tests instead of skipping them. */
export function strongswanRequired(): boolean {
  return process.env.LARVAL_REQUIRE_STRONGSWAN === '1';
}

/**
 * Whether tests that need strongSwan should skip. Prints the reason once per title.
 * When strongSwan is required (CI) this is false even if it is missing, so the tests
 * run and fail (use assertStrongswan() first in beforeAll for a clear message).
 */
export function skipWithoutStrongswan(title: string): boolean {
  const why = strongswanMissing();
  if (why === null) return false;
  if (strongswanRequired()) return false;
  console.warn(`SKIPPED: ${title}: ${why}. CI runs it (LARVAL_REQUIRE_STRONGSWAN=1).`);
  return true;
}

/** Throws with the reason when strongSwan is missing. */
export function assertStrongswan(): void {
  const why = strongswanMissing();
  if (why !== null) throw new Error(`strongSwan is required here (LARVAL_REQUIRE_STRONGSWAN=1) but ${why}`);
}

// ---------------------------------------------------------------------------
// Commands

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Run a command (no shell); never throws for a non-zero exit. */
export function run(cmd: string, args: string[], opts: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(cmd, args, { encoding: 'utf8', timeout: opts.timeoutMs ?? 30_000, env: opts.env ?? process.env, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as NodeJS.ErrnoException & { code?: unknown }).code === 'number' ? (err as unknown as { code: number }).code : null) : 0;
      resolve({ code: err && code === 0 ? 1 : code, stdout, stderr });
    });
  });
}

/** Run and throw (with stderr) on a non-zero exit. */
export async function must(cmd: string, args: string[], opts: { timeoutMs?: number } = {}): Promise<string> {
  const r = await run(cmd, args, opts);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')}: exit ${r.code}: ${r.stderr.trim() || r.stdout.trim()}`);
  return r.stdout;
}

function mustSync(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: exit ${r.status}: ${(r.stderr || r.stdout).trim()}`);
  return r.stdout;
}

/** swanctl prints plugin-loading noise on stderr (plugins Debian does not ship) and directory scans; drop it. */
export function swanctlStderr(stderr: string): string {
  return stderr
    .split('\n')
    .filter((l) => l.trim() !== '' && !/^plugin '.*': failed to load/.test(l) && !/^opening directory '.*' failed/.test(l))
    .join('\n');
}

// ---------------------------------------------------------------------------
// SAs as swanctl --list-sas --pretty prints them

/** A vici message as a tree: values are strings, lists are string[], sections objects. */
export type ViciValue = string | string[] | ViciSection;
export interface ViciSection {
  [key: string]: ViciValue;
}

/**
 * Parse swanctl's `--pretty` output: `name {` opens a section, `}` closes it,
 * `key = value` is a value (the rest of the line), `key = [` ... `]` a list with one item
 * per line. Several messages (e.g. one `list-sa event` per IKE SA) come back in order.
 */
export function parseViciPretty(text: string): { name: string; body: ViciSection }[] {
  const out: { name: string; body: ViciSection }[] = [];
  const stack: ViciSection[] = [];
  let list: string[] | null = null;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '') continue;
    if (list) {
      if (line === ']') list = null;
      else list.push(line);
      continue;
    }
    let m: RegExpExecArray | null;
    if ((m = /^(.*\S) \{$/.exec(line))) {
      const sec: ViciSection = {};
      if (stack.length === 0) out.push({ name: m[1], body: sec });
      else stack[stack.length - 1][m[1]] = sec;
      stack.push(sec);
    } else if (line === '}') {
      stack.pop();
    } else if ((m = /^(\S+) (?:= )?\[$/.exec(line))) {
      list = [];
      if (stack.length > 0) stack[stack.length - 1][m[1]] = list;
    } else if ((m = /^(\S+) = ?(.*)$/.exec(line))) {
      if (stack.length > 0) stack[stack.length - 1][m[1]] = m[2];
    } else {
      throw new Error(`swanctl --pretty: cannot read line ${JSON.stringify(raw)}`);
    }
  }
  return out;
}

export interface ChildSaInfo {
  /** The configured child name. */
  name: string;
  /** The key of the child in the listing, e.g. net-3. */
  key: string;
  uniqueid: number;
  reqid: number;
  state: string;
  mode: string;
  protocol: string;
  encap: boolean;
  spiIn: string;
  spiOut: string;
  encrAlg?: string;
  encrKeysize?: number;
  integAlg?: string;
  dhGroup?: string;
  esn: boolean;
  bytesIn: number;
  bytesOut: number;
  packetsIn: number;
  packetsOut: number;
  rekeyTime?: number;
  lifeTime?: number;
  localTs: string[];
  remoteTs: string[];
  raw: ViciSection;
}

export interface IkeSaInfo {
  /** The connection name. */
  name: string;
  uniqueid: number;
  version: number;
  state: string;
  localHost: string;
  localPort: number;
  localId: string;
  remoteHost: string;
  remotePort: number;
  remoteId: string;
  initiator: boolean;
  initiatorSpi: string;
  responderSpi: string;
  natLocal: boolean;
  natRemote: boolean;
  natFake: boolean;
  natAny: boolean;
  encrAlg?: string;
  encrKeysize?: number;
  integAlg?: string;
  prfAlg?: string;
  dhGroup?: string;
  established?: number;
  rekeyTime?: number;
  children: ChildSaInfo[];
  raw: ViciSection;
}

const str = (s: ViciSection, k: string): string | undefined => (typeof s[k] === 'string' ? (s[k] as string) : undefined);
const num = (s: ViciSection, k: string): number | undefined => (str(s, k) !== undefined ? Number(str(s, k)) : undefined);
const yes = (s: ViciSection, k: string): boolean => str(s, k) === 'yes';

export function ikeSasFromVici(messages: { name: string; body: ViciSection }[]): IkeSaInfo[] {
  const out: IkeSaInfo[] = [];
  for (const msg of messages) {
    if (msg.name !== 'list-sa event') continue;
    for (const [name, v] of Object.entries(msg.body)) {
      if (typeof v !== 'object' || Array.isArray(v)) continue;
      const s = v;
      const children: ChildSaInfo[] = [];
      const cs = s['child-sas'];
      if (cs && typeof cs === 'object' && !Array.isArray(cs)) {
        for (const [key, cv] of Object.entries(cs)) {
          if (typeof cv !== 'object' || Array.isArray(cv)) continue;
          const c = cv;
          children.push({
            name: str(c, 'name') ?? key, key, uniqueid: num(c, 'uniqueid') ?? 0, reqid: num(c, 'reqid') ?? 0,
            state: str(c, 'state') ?? '', mode: str(c, 'mode') ?? '', protocol: str(c, 'protocol') ?? '', encap: yes(c, 'encap'),
            spiIn: str(c, 'spi-in') ?? '', spiOut: str(c, 'spi-out') ?? '', encrAlg: str(c, 'encr-alg'), encrKeysize: num(c, 'encr-keysize'),
            integAlg: str(c, 'integ-alg'), dhGroup: str(c, 'dh-group'), esn: str(c, 'esn') === '1' || yes(c, 'esn'),
            bytesIn: num(c, 'bytes-in') ?? 0, bytesOut: num(c, 'bytes-out') ?? 0, packetsIn: num(c, 'packets-in') ?? 0, packetsOut: num(c, 'packets-out') ?? 0,
            rekeyTime: num(c, 'rekey-time'), lifeTime: num(c, 'life-time'),
            localTs: Array.isArray(c['local-ts']) ? (c['local-ts'] as string[]) : [], remoteTs: Array.isArray(c['remote-ts']) ? (c['remote-ts'] as string[]) : [],
            raw: c,
          });
        }
      }
      out.push({
        name, uniqueid: num(s, 'uniqueid') ?? 0, version: num(s, 'version') ?? 0, state: str(s, 'state') ?? '',
        localHost: str(s, 'local-host') ?? '', localPort: num(s, 'local-port') ?? 0, localId: str(s, 'local-id') ?? '',
        remoteHost: str(s, 'remote-host') ?? '', remotePort: num(s, 'remote-port') ?? 0, remoteId: str(s, 'remote-id') ?? '',
        initiator: yes(s, 'initiator'), initiatorSpi: str(s, 'initiator-spi') ?? '', responderSpi: str(s, 'responder-spi') ?? '',
        natLocal: yes(s, 'nat-local'), natRemote: yes(s, 'nat-remote'), natFake: yes(s, 'nat-fake'), natAny: yes(s, 'nat-any'),
        encrAlg: str(s, 'encr-alg'), encrKeysize: num(s, 'encr-keysize'), integAlg: str(s, 'integ-alg'), prfAlg: str(s, 'prf-alg'),
        dhGroup: str(s, 'dh-group'), established: num(s, 'established'), rekeyTime: num(s, 'rekey-time'), children, raw: s,
      });
    }
  }
  return out;
}

// ---------------------------------------------------------------------------
// charon

export interface CharonOptions {
  /** swanctl.conf text, written to DIR/swanctl.conf; load it with loadAll(). */
  swanctlConf?: string;
  /** Log levels of the filelog (strongswan.conf `filelog`); default { default: 1, ike: 2, cfg: 2 }. ike = 4 logs key material. */
  log?: Record<string, number>;
  /** Extra text inside `charon { ... }` of strongswan.conf. */
  charonExtra?: string;
  /** How long to wait for the vici socket (default 10 s). */
  readyTimeoutMs?: number;
}

export class Charon {
  readonly vici: string;
  readonly uri: string;
  readonly logPath: string;
  readonly confPath: string;
  readonly swanctlPath: string;
  private exited = false;
  private exitWaiters: (() => void)[] = [];

  constructor(
    readonly ns: string,
    readonly dir: string,
    readonly proc: ChildProcess,
  ) {
    this.vici = join(dir, 'charon.vici');
    this.uri = `unix://${this.vici}`;
    this.logPath = join(dir, 'charon.log');
    this.confPath = join(dir, 'strongswan.conf');
    this.swanctlPath = join(dir, 'swanctl', 'swanctl.conf');
    proc.once('exit', () => {
      this.exited = true;
      for (const w of this.exitWaiters.splice(0)) w();
    });
  }

  get pid(): number {
    return this.proc.pid!;
  }

  get running(): boolean {
    return !this.exited;
  }

  /** Run swanctl against this daemon; stderr without the plugin noise. */
  async swanctl(args: string[], timeoutMs = 30_000): Promise<RunResult> {
    const r = await run(SWANCTL, [...args, '--uri', this.uri], { timeoutMs });
    return { ...r, stderr: swanctlStderr(r.stderr) };
  }

  private async swanctlOk(args: string[], timeoutMs?: number): Promise<string> {
    const r = await this.swanctl(args, timeoutMs);
    if (r.code !== 0) throw new Error(`swanctl ${args.join(' ')} (${this.ns}): exit ${r.code}: ${(r.stdout + '\n' + r.stderr).trim()}\n--- charon log tail ---\n${this.logTail(30)}`);
    return r.stdout;
  }

  /** Write swanctl.conf (when given) and load connections and secrets. */
  async loadAll(swanctlConf?: string): Promise<string> {
    if (swanctlConf !== undefined) writeFileSync(this.swanctlPath, swanctlConf);
    return this.swanctlOk(['--load-all', '--file', this.swanctlPath]);
  }

  /** Initiate a CHILD_SA (and its IKE SA); resolves once it is up, throws if it failed. */
  async initiate(child: string, opts: { ike?: string; timeoutS?: number } = {}): Promise<string> {
    const args = ['--initiate', '--child', child, '--timeout', String(opts.timeoutS ?? 10)];
    if (opts.ike) args.push('--ike', opts.ike);
    return this.swanctlOk(args, (opts.timeoutS ?? 10) * 1000 + 5000);
  }

  /** Initiate and return the result without throwing (for negative tests). */
  async tryInitiate(child: string, opts: { ike?: string; timeoutS?: number } = {}): Promise<RunResult> {
    const args = ['--initiate', '--child', child, '--timeout', String(opts.timeoutS ?? 10)];
    if (opts.ike) args.push('--ike', opts.ike);
    return this.swanctl(args, (opts.timeoutS ?? 10) * 1000 + 5000);
  }

  /** Start a rekey (asynchronous in charon: wait for its effect with waitForSas). */
  async rekeyChild(child: string): Promise<string> {
    return this.swanctlOk(['--rekey', '--child', child]);
  }

  async rekeyIke(ike: string): Promise<string> {
    return this.swanctlOk(['--rekey', '--ike', ike]);
  }

  async terminateIke(ike: string, timeoutS = 10): Promise<string> {
    return this.swanctlOk(['--terminate', '--ike', ike, '--timeout', String(timeoutS)], timeoutS * 1000 + 5000);
  }

  async terminateChild(child: string, timeoutS = 10): Promise<string> {
    return this.swanctlOk(['--terminate', '--child', child, '--timeout', String(timeoutS)], timeoutS * 1000 + 5000);
  }

  async listSas(): Promise<IkeSaInfo[]> {
    return ikeSasFromVici(parseViciPretty(await this.swanctlOk(['--list-sas', '--pretty'])));
  }

  /** Poll --list-sas until `pred` holds; returns the SAs it held for. */
  async waitForSas(pred: (sas: IkeSaInfo[]) => boolean, timeoutMs = 10_000, what = 'the SAs to match'): Promise<IkeSaInfo[]> {
    const until = Date.now() + timeoutMs;
    let delay = 20;
    for (;;) {
      const sas = await this.listSas();
      if (pred(sas)) return sas;
      if (Date.now() > until) throw new Error(`${this.ns}: timed out waiting for ${what}; last --list-sas: ${JSON.stringify(sas.map(({ raw, children, ...s }) => ({ ...s, children: children.map(({ raw: _r, ...c }) => c) })))}`);
      await sleep(delay);
      delay = Math.min(delay * 2, 200);
    }
  }

  /** charon's log so far. */
  log(): string {
    try {
      return readFileSync(this.logPath, 'utf8');
    } catch {
      return '';
    }
  }

  logTail(lines: number): string {
    return this.log().split('\n').slice(-lines - 1).join('\n');
  }

  /** Poll the log until `re` matches (after `from` characters); returns the match. */
  async waitForLog(re: RegExp, timeoutMs = 10_000, from = 0): Promise<RegExpExecArray> {
    const until = Date.now() + timeoutMs;
    let delay = 20;
    for (;;) {
      const m = re.exec(this.log().slice(from));
      if (m) return m;
      if (Date.now() > until || !this.running) throw new Error(`${this.ns}: ${this.running ? 'timed out' : 'charon exited'} waiting for ${re} in the charon log; tail:\n${this.logTail(20)}`);
      await sleep(delay);
      delay = Math.min(delay * 2, 200);
    }
  }

  /** SIGTERM by pid, SIGKILL after `graceMs`; resolves when it has exited. */
  async stop(graceMs = 3000): Promise<void> {
    if (this.exited) return;
    const gone = new Promise<void>((r) => this.exitWaiters.push(r));
    try {
      process.kill(this.pid, 'SIGTERM');
    } catch {
      return;
    }
    const t = setTimeout(() => {
      try {
        process.kill(this.pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }, graceMs);
    await gone;
    clearTimeout(t);
  }

  /** SIGKILL by pid (a crash, for restart tests). */
  async kill(): Promise<void> {
    if (this.exited) return;
    const gone = new Promise<void>((r) => this.exitWaiters.push(r));
    try {
      process.kill(this.pid, 'SIGKILL');
    } catch {
      return;
    }
    await gone;
  }
}

export function strongswanConf(dir: string, opts: Pick<CharonOptions, 'log' | 'charonExtra'> = {}): string {
  const levels = { default: 1, ike: 2, cfg: 2, ...(opts.log ?? {}) };
  return `# written by larval's test harness (test/support/strongswan.ts)
charon {
  load_modular = yes
  install_routes = yes
  plugins {
    include /etc/strongswan.d/charon/*.conf
    vici {
      socket = unix://${join(dir, 'charon.vici')}
    }
    kernel-libipsec {
      load = yes
    }
  }
  filelog {
    larval {
      path = ${join(dir, 'charon.log')}
      time_format = %H:%M:%S
      append = no
      flush_line = yes
${Object.entries(levels).map(([k, v]) => `      ${k} = ${v}`).join('\n')}
    }
  }
  syslog {
    identifier = charon-larval-test
    daemon {
      default = -1
    }
  }
${opts.charonExtra ?? ''}
}
`;
}

// ---------------------------------------------------------------------------
// Namespaces, links and daemons, owned by one lab

function suffix(): string {
  return randomBytes(3).toString('hex');
}

const liveLabs = new Set<StrongswanLab>();
let exitHook = false;

export class StrongswanLab {
  /** Random per lab: every name it creates carries it. */
  readonly id = suffix();
  readonly dir: string;
  readonly created: { namespaces: string[]; links: { ns: string; dev: string }[]; charons: Charon[]; procs: ChildProcess[] } = { namespaces: [], links: [], charons: [], procs: [] };
  private destroyed = false;

  constructor(tag = 'sw') {
    this.dir = mkdtempSync(join(tmpdir(), `larval-${tag}-${this.id}-`));
    liveLabs.add(this);
    if (!exitHook) {
      exitHook = true;
      process.once('exit', () => {
        for (const lab of liveLabs) lab.destroySync();
      });
    }
  }

  /** Create n namespaces (lo up): names `sw<id><i>` (e.g. swa1b2c30). */
  namespaces(n: number): string[] {
    const out: string[] = [];
    for (let i = 0; i < n; i++) {
      const name = `sw${this.id}${i}`;
      mustSync('ip', ['netns', 'add', name]);
      this.created.namespaces.push(name);
      mustSync('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
      out.push(name);
    }
    return out;
  }

  /**
   * A veth pair between two namespaces with the given addresses (CIDR); returns the
   * device names (`v<id><i>a`/`b`, 9 characters).
   */
  link(nsA: string, nsB: string, addrA: string, addrB: string): { devA: string; devB: string } {
    const i = this.created.links.length / 2;
    const devA = `v${this.id}${i}a`;
    const devB = `v${this.id}${i}b`;
    mustSync('ip', ['link', 'add', devA, 'netns', nsA, 'type', 'veth', 'peer', 'name', devB, 'netns', nsB]);
    this.created.links.push({ ns: nsA, dev: devA }, { ns: nsB, dev: devB });
    for (const [ns, dev, addr] of [[nsA, devA, addrA], [nsB, devB, addrB]]) {
      mustSync('ip', ['-n', ns, 'addr', 'add', addr, 'dev', dev]);
      mustSync('ip', ['-n', ns, 'link', 'set', dev, 'up']);
    }
    return { devA, devB };
  }

  /** Run a command inside a namespace. */
  exec(ns: string, cmd: string[], opts: { timeoutMs?: number } = {}): Promise<RunResult> {
    return run('ip', ['netns', 'exec', ns, ...cmd], opts);
  }

  execOk(ns: string, cmd: string[], opts: { timeoutMs?: number } = {}): Promise<string> {
    return must('ip', ['netns', 'exec', ns, ...cmd], opts);
  }

  /** Start a long-running process in a namespace; killed by pid in destroy(). */
  spawnIn(ns: string, cmd: string[], opts: { stdout?: string; stderr?: string } = {}): ChildProcess {
    const out = opts.stdout ? openSync(opts.stdout, 'w') : 'ignore';
    const err = opts.stderr ? openSync(opts.stderr, 'w') : 'ignore';
    const p = spawn('ip', ['netns', 'exec', ns, ...cmd], { stdio: ['ignore', out, err] });
    if (typeof out === 'number') closeSync(out);
    if (typeof err === 'number') closeSync(err);
    this.created.procs.push(p);
    return p;
  }

  /** Start charon in `ns` with its own strongswan.conf, vici socket, log and /run; resolves when vici answers. */
  async startCharon(ns: string, opts: CharonOptions = {}): Promise<Charon> {
    const dir = join(this.dir, `charon-${ns}-${this.created.charons.length}`);
    mkdirSync(join(dir, 'swanctl'), { recursive: true });
    writeFileSync(join(dir, 'strongswan.conf'), strongswanConf(dir, opts));
    if (opts.swanctlConf !== undefined) writeFileSync(join(dir, 'swanctl', 'swanctl.conf'), opts.swanctlConf);
    const out = openSync(join(dir, 'stdout.log'), 'w');
    const proc = spawn('ip', ['netns', 'exec', ns, 'unshare', '-m', '--propagation', 'private', 'sh', '-c', `mount -t tmpfs run /run && exec ${CHARON}`], {
      stdio: ['ignore', out, out],
      env: { ...process.env, STRONGSWAN_CONF: join(dir, 'strongswan.conf') },
    });
    closeSync(out);
    const charon = new Charon(ns, dir, proc);
    this.created.charons.push(charon);
    await this.waitReady(charon, opts.readyTimeoutMs ?? 10_000);
    return charon;
  }

  private async waitReady(c: Charon, timeoutMs: number): Promise<void> {
    const until = Date.now() + timeoutMs;
    let delay = 10;
    for (;;) {
      if (!c.running) throw new Error(`charon in ${c.ns} exited before its vici socket answered; stdout:\n${readText(join(c.dir, 'stdout.log'))}\nlog:\n${c.logTail(30)}`);
      if (existsSync(c.vici)) {
        const r = await run(SWANCTL, ['--stats', '--uri', c.uri], { timeoutMs: 5000 });
        if (r.code === 0) return;
      }
      if (Date.now() > until) throw new Error(`charon in ${c.ns}: vici did not answer within ${timeoutMs} ms; log:\n${c.logTail(30)}`);
      await sleep(delay);
      delay = Math.min(delay * 2, 100);
    }
  }

  /** Stop everything, delete everything. Errors are collected and thrown together at the end. */
  async destroy(): Promise<void> {
    if (this.destroyed) return;
    const errors: string[] = [];
    for (const c of [...this.created.charons].reverse()) {
      try {
        await c.stop();
      } catch (e) {
        errors.push(`stop charon ${c.pid}: ${String(e)}`);
      }
    }
    for (const p of [...this.created.procs].reverse()) {
      if (p.exitCode === null && p.signalCode === null) {
        const gone = new Promise((r) => p.once('exit', r));
        p.kill('SIGTERM');
        const t = setTimeout(() => p.kill('SIGKILL'), 3000);
        await gone;
        clearTimeout(t);
      }
    }
    this.destroySync(errors);
    if (errors.length > 0) throw new Error(`lab ${this.id} teardown:\n${errors.join('\n')}`);
  }

  /** The synchronous part (also the exit hook): kill by pid, delete links, namespaces, files. */
  destroySync(errors: string[] = []): void {
    if (this.destroyed) return;
    this.destroyed = true;
    liveLabs.delete(this);
    for (const c of this.created.charons) if (c.running) try { process.kill(c.pid, 'SIGKILL'); } catch { /* gone */ }
    for (const p of this.created.procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
    for (const ns of [...this.created.namespaces].reverse()) {
      // Processes we did not start by pid (e.g. an `ip netns exec` child still running) would keep the namespace alive; list them by namespace, ours only.
      const pids = spawnSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean);
      for (const pid of pids) try { process.kill(Number(pid), 'SIGKILL'); } catch { /* gone */ }
      const r = spawnSync('ip', ['netns', 'del', ns], { encoding: 'utf8' });
      if (r.status !== 0) errors.push(`ip netns del ${ns}: ${r.stderr.trim()}`);
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Is `path` executable? */
export function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------
// A site-to-site pair: the note's setup, ready to initiate

export interface SitePairOptions {
  /** IKE proposals (swanctl syntax) on both sides; default aes256gcm16-prfsha256-curve25519. */
  proposals?: string;
  /** ESP proposals on both sides; default aes256gcm16. */
  espProposals?: string;
  psk?: string;
  log?: Record<string, number>;
  /** Extra lines in each connection / child section. */
  connExtra?: string;
  childExtra?: string;
}

export interface SitePair {
  lab: StrongswanLab;
  ns: { a: string; b: string };
  devs: { a: string; b: string };
  /** Underlay (veth) addresses. */
  outer: { a: string; b: string };
  /** Protected host addresses (on lo). */
  inner: { a: string; b: string };
  a: Charon;
  b: Charon;
}

/** The swanctl.conf of one side of a site pair (connection and child named `net`). */
export function siteSwanctlConf(side: 'a' | 'b', o: { outer: { a: string; b: string }; inner: { a: string; b: string } }, opts: SitePairOptions = {}): string {
  const other = side === 'a' ? 'b' : 'a';
  return `connections {
  net {
    version = 2
    local_addrs = ${o.outer[side]}
    remote_addrs = ${o.outer[other]}
    proposals = ${opts.proposals ?? 'aes256gcm16-prfsha256-curve25519'}
    encap = yes
    ${opts.connExtra ?? ''}
    local {
      auth = psk
      id = ${side}.example
    }
    remote {
      auth = psk
      id = ${other}.example
    }
    children {
      net {
        local_ts = ${o.inner[side]}/32
        remote_ts = ${o.inner[other]}/32
        esp_proposals = ${opts.espProposals ?? 'aes256gcm16'}
        ${opts.childExtra ?? ''}
      }
    }
  }
}
secrets {
  ike-net {
    id-1 = a.example
    id-2 = b.example
    secret = "${opts.psk ?? 'larval-test-psk-0123456789'}"
  }
}
`;
}

/**
 * Two namespaces joined by a veth (192.0.2.1/24 and .2), protected hosts 10.1.0.1 and
 * 10.2.0.1 on lo, a charon in each with a `net` connection loaded. Call
 * pair.a.initiate('net') to bring the CHILD_SA up; pair.lab.destroy() when done.
 */
export async function startSitePair(opts: SitePairOptions = {}, lab?: StrongswanLab): Promise<SitePair> {
  if (lab) return buildSitePair(opts, lab);
  // A lab of our own: the caller never sees it if setting up fails, so clean it up here.
  const own = new StrongswanLab();
  try {
    return await buildSitePair(opts, own);
  } catch (err) {
    await own.destroy().catch(() => undefined);
    throw err;
  }
}

async function buildSitePair(opts: SitePairOptions, lab: StrongswanLab): Promise<SitePair> {
  const [na, nb] = lab.namespaces(2);
  const outer = { a: '192.0.2.1', b: '192.0.2.2' };
  const inner = { a: '10.1.0.1', b: '10.2.0.1' };
  const { devA, devB } = lab.link(na, nb, `${outer.a}/24`, `${outer.b}/24`);
  mustSync('ip', ['-n', na, 'addr', 'add', `${inner.a}/32`, 'dev', 'lo']);
  mustSync('ip', ['-n', nb, 'addr', 'add', `${inner.b}/32`, 'dev', 'lo']);
  const o = { outer, inner };
  const [a, b] = await Promise.all([
    lab.startCharon(na, { swanctlConf: siteSwanctlConf('a', o, opts), log: opts.log }),
    lab.startCharon(nb, { swanctlConf: siteSwanctlConf('b', o, opts), log: opts.log }),
  ]);
  await Promise.all([a.loadAll(), b.loadAll()]);
  return { lab, ns: { a: na, b: nb }, devs: { a: devA, b: devB }, outer, inner, a, b };
}
