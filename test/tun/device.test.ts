// TUN device: error mapping (anywhere), and real traffic through a device in a
// network namespace of the test's own (root only, skipped with a visible reason
// elsewhere). A Node process cannot enter a namespace itself, so the device is
// driven by a child script (`ip netns exec NS node SCRIPT`) that imports the
// compiled module from dist/ (npm test builds it first) and prints one JSON line
// per step; the assertions are made here. No traffic leaves the namespace: the
// only interfaces in it are lo and the TUN devices the script creates.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LarvalError } from '../../src/common/errors.js';
import { TunDevice, TunError, tunSystemError, validateTunName } from '../../src/tun/device.js';
import { PROTO_UDP } from '../../src/common/protocols.js';
import { Ipv4Packet } from '../../src/wire/ipv4.js';
import { UdpDatagram } from '../../src/wire/udp.js';

const DIST_TUN = resolve('dist/src/tun/device.js');
const DIST_BUILD = resolve('dist/src/wire/build.js');
const SRC_TUN = resolve('src/tun/device.ts');

function commandWorks(cmd: string, args: string[]): boolean {
  const r = spawnSync(cmd, args, { stdio: 'ignore' });
  return r.error === undefined && r.status === 0;
}

const isRoot = process.getuid?.() === 0;
const hasTunDevice = existsSync('/dev/net/tun');
const skipReason =
  process.platform !== 'linux' ? 'TUN devices are Linux-only'
    : !isRoot ? 'not running as root (needed to create a network namespace and a TUN device)'
      : !hasTunDevice ? '/dev/net/tun is missing (modprobe tun)'
        : !commandWorks('ip', ['-V']) ? 'the ip command (iproute2) is missing'
          : !commandWorks(process.env.LARVAL_PYTHON ?? 'python3', ['-c', 'pass']) ? 'python3 is missing'
            : null;
if (skipReason) console.warn(`test/tun/device.test.ts: SKIPPING the TUN device tests: ${skipReason}`);

describe('TUN errors (no device needed)', () => {
  it('names the fix when not root / without CAP_NET_ADMIN (EPERM from TUNSETIFF)', () => {
    const e = tunSystemError('TUNSETIFF', 'EPERM', 'larval0');
    expect(e).toBeInstanceOf(TunError);
    expect(e.code).toBe('EPERM');
    expect(e.errno).toBe('EPERM');
    expect(e.device).toBe('larval0');
    expect(e.message).toMatch(/"larval0".*run as root or with CAP_NET_ADMIN/);
  });

  it('names the fix when /dev/net/tun is missing or not accessible', () => {
    for (const errno of ['ENOENT', 'ENODEV']) {
      const e = tunSystemError('open', errno, undefined);
      expect(e.code).toBe('ENOENT');
      expect(e.message).toMatch(/\/dev\/net\/tun is missing.*modprobe tun/);
    }
    const denied = tunSystemError('open', 'EACCES', 'x');
    expect(denied.code).toBe('EACCES');
    expect(denied.message).toMatch(/no permission to open \/dev\/net\/tun.*run as root/);
  });

  it('says a busy device is held by another process, and an EINVAL from the kernel why', () => {
    expect(tunSystemError('TUNSETIFF', 'EBUSY', 't0').message).toMatch(/busy.*another process/);
    expect(tunSystemError('TUNSETIFF', 'EINVAL', 'lo').message).toMatch(/not a layer-3 TUN device/);
    expect(tunSystemError('SIOCSIFMTU', 'EPERM', 't0').message).toMatch(/MTU.*CAP_NET_ADMIN/);
  });

  it('refuses invalid names and MTUs with EINVAL before touching the system', async () => {
    for (const name of ['', 'a'.repeat(16), 'has space', 'a/b', 'a:b', '.', '..', 'x%s', 'x%d%d', 'caf\u00e9', 42]) {
      expect(() => validateTunName(name), String(name)).toThrow(LarvalError);
      await expect(TunDevice.open({ name: name as string }), String(name)).rejects.toMatchObject({ code: 'EINVAL', field: 'name' });
    }
    for (const name of ['larval0', 'a'.repeat(15), 'larval%d', 'x-y_z.1']) expect(validateTunName(name)).toBe(name);
    for (const mtu of [0, 67, 65536, 1500.5, NaN]) {
      await expect(TunDevice.open({ mtu }), String(mtu)).rejects.toMatchObject({ code: 'EINVAL', field: 'mtu' });
    }
    await expect(TunDevice.open({ wakeup: 'spin' as never })).rejects.toMatchObject({ code: 'EINVAL', field: 'wakeup' });
  });

  it.skipIf(skipReason !== null)('says python3 is needed when the interpreter cannot be started', async () => {
    // Fails after opening /dev/net/tun and before any device exists.
    const e = await TunDevice.open({ name: 'ltestpy0', python: '/nonexistent/python3' }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(TunError);
    expect(e).toMatchObject({ code: 'ENOPYTHON' });
    expect((e as Error).message).toMatch(/needs Python 3.*LARVAL_PYTHON/);
  });
});

// The child script: every step prints {"step": ..., ...}; a failure prints {"step":"error"} and exits 1.
const CHILD = String.raw`
import dgram from 'node:dgram';
import { execFileSync } from 'node:child_process';
const { TunDevice } = await import(process.argv[2]);
const { buildPacket } = await import(process.argv[3]);
const say = (step, data = {}) => process.stdout.write(JSON.stringify({ step, ...data }) + '\n');
const ip = (...args) => execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
const hex = (b) => Buffer.from(b).toString('hex');
const within = (ms, what, p) => {
  let timer;
  const late = new Promise((_, no) => { timer = setTimeout(() => no(new Error('timed out waiting for ' + what)), ms); });
  return Promise.race([p, late]).finally(() => clearTimeout(timer)); // a pending timer would keep the process alive
};
const isUdpTo = (p, port) => p.length >= 28 && p[0] >> 4 === 4 && p[9] === 17 && p[16] === 10 && p[17] === 99 && ((p[22] << 8) | p[23]) === port;

try {
  // 1. helper wake-up (the default): one datagram out through the device, a hand-built reply in.
  const t0 = performance.now();
  const tun = await TunDevice.open({ name: 'ltest0', mtu: 1400 });
  say('opened', { name: tun.name, openMs: performance.now() - t0 });
  ip('link', 'set', 'ltest0', 'up');
  ip('addr', 'add', '10.99.0.1/24', 'dev', 'ltest0');
  say('link', { text: execFileSync('ip', ['-o', 'link', 'show', 'ltest0']).toString() });

  const sock = dgram.createSocket('udp4');
  await new Promise((ok) => sock.bind(0, '10.99.0.1', ok));
  const port = sock.address().port;
  let waiter = null;
  const seen = [];
  tun.onPacket((p) => {
    if (waiter && waiter.match(p)) { const w = waiter; waiter = null; w.resolve(p); } else seen.push(p[0] >> 4);
  });
  const nextPacket = (match) => new Promise((resolve) => { waiter = { match, resolve }; });

  const out = nextPacket((p) => isUdpTo(p, 9999));
  sock.send(Buffer.from('hello larval'), 9999, '10.99.0.2');
  const packet = await within(3000, 'the datagram on the TUN device', out);
  say('read', { port, packet: hex(packet), otherVersions: seen });

  const reply = buildPacket({ src: '10.99.0.2', dst: '10.99.0.1', proto: 'udp', srcPort: 9999, dstPort: port }, { payloadLength: 32 });
  const got = new Promise((resolve) => sock.once('message', (msg, rinfo) => resolve({ msg: hex(msg), from: rinfo.address, fromPort: rinfo.port })));
  const accepted = tun.write(reply);
  say('received', { accepted, reply: hex(reply), ...(await within(3000, 'the reply on the UDP socket', got)) });
  say('writeBad', { accepted: tun.write(new Uint8Array([0x00, 1, 2, 3])), stats: tun.stats() });

  // 1b. recycleReads(): without it each read lands after the last one in the slab; after it,
  // the next read starts again at the slab's beginning (issue 16: no fresh slab per ~140 packets).
  const viewOf = async (text) => {
    const p = nextPacket((q) => isUdpTo(q, 9999) && Buffer.from(q.subarray(28)).toString() === text);
    sock.send(Buffer.from(text), 9999, '10.99.0.2');
    return within(3000, 'datagram ' + text, p);
  };
  const x1 = await viewOf('slab one');
  const x2 = await viewOf('slab two');
  tun.recycleReads();
  const x3 = await viewOf('slab three');
  say('recycle', { sameSlab12: x2.buffer === x1.buffer, after12: x2.byteOffset > x1.byteOffset, sameSlab3: x3.buffer === x1.buffer, x2Offset: x2.byteOffset, x3Offset: x3.byteOffset });

  // 2. round trips (echo: the reading side swaps addresses and ports; the checksums stay valid).
  const swap = (p) => {
    const q = Uint8Array.from(p);
    for (let i = 0; i < 4; i++) { [q[12 + i], q[16 + i]] = [q[16 + i], q[12 + i]]; }
    [q[20], q[21], q[22], q[23]] = [q[22], q[23], q[20], q[21]];
    return q;
  };
  const echo = (p) => { if (isUdpTo(p, 7)) tun.write(swap(p)); };
  tun.onPacket(echo);
  const rtts = [];
  const msg = Buffer.alloc(64);
  for (let i = 0; i < 500; i++) {
    const t = process.hrtime.bigint();
    const back = new Promise((ok) => sock.once('message', ok));
    sock.send(msg, 7, '10.99.0.2');
    await within(2000, 'echo ' + i, back);
    rtts.push(Number(process.hrtime.bigint() - t) / 1000);
  }
  rtts.sort((a, b) => a - b);
  let echoed = 0, inflight = 0;
  const fill = () => { while (inflight < 32) { inflight++; sock.send(msg, 7, '10.99.0.2'); } };
  sock.on('message', () => { echoed++; inflight--; fill(); });
  const refill = setInterval(() => { inflight = 0; fill(); }, 50); // after a drop
  const t1 = performance.now();
  fill();
  await new Promise((ok) => setTimeout(ok, 1000));
  clearInterval(refill);
  sock.removeAllListeners('message');
  const pps = echoed / ((performance.now() - t1) / 1000);
  say('perf', { rttP50us: rtts[rtts.length >> 1], rttP99us: rtts[Math.floor(rtts.length * 0.99)], echoPerSecond: pps });

  // 3. the helper killed from outside: reading goes on by polling.
  // Wait for the helper's exit, not a fixed time (a busy machine may take longer).
  const helperGone = tun.helper.exitCode !== null || tun.helper.signalCode !== null ? Promise.resolve() : new Promise((ok) => tun.helper.once('exit', ok));
  tun.helper.kill('SIGKILL');
  await helperGone;
  const again = nextPacket((p) => isUdpTo(p, 9999));
  sock.send(Buffer.from('after kill'), 9999, '10.99.0.2');
  await within(3000, 'a datagram after the helper was killed', again);
  say('fallback', { wakeup: tun.stats().wakeup });

  // 4. the 'poll' wake-up, on a second device.
  const polled = await TunDevice.open({ name: 'ltest1', wakeup: 'poll' });
  ip('link', 'set', 'ltest1', 'up');
  ip('addr', 'add', '10.99.1.1/24', 'dev', 'ltest1');
  const viaPoll = new Promise((ok) => polled.onPacket((p) => { if (p[0] >> 4 === 4 && p[9] === 17 && p[18] === 1) ok(p); }));
  sock.send(Buffer.from('poll'), 9999, '10.99.1.2');
  const p2 = await within(3000, 'a datagram on the polled device', viaPoll);
  say('polled', { dst: Array.from(p2.subarray(16, 20)).join('.'), wakeup: polled.stats().wakeup });

  // 5. close while idle, then nothing may keep the process alive.
  sock.close();
  await new Promise((ok) => setTimeout(ok, 100));
  const idle = await TunDevice.open({ name: 'ltest2' });
  idle.onPackets(() => {});
  await new Promise((ok) => setTimeout(ok, 100));
  const closes = [];
  for (const d of [tun, polled, idle]) {
    const t = performance.now();
    await d.close();
    closes.push(performance.now() - t);
  }
  const links = execFileSync('ip', ['-o', 'link']).toString();
  say('closed', { closeMs: closes, links, writeAfterClose: tun.write(reply), statsAfterClose: tun.stats() });
} catch (e) {
  say('error', { message: String(e && e.stack || e) });
  process.exit(1);
}
`;

interface Step { step: string; [key: string]: unknown }

describe.skipIf(skipReason !== null)('TUN device in a network namespace', () => {
  const ns = `larval-tun-test-${process.pid}`;
  let dir = '';
  let child: ChildProcess | null = null;
  const steps = new Map<string, Step>();
  let exitCode: number | null = null;
  let closedAt = 0;
  let exitedAt = 0;
  let stderr = '';

  beforeAll(async () => {
    if (!existsSync(DIST_TUN) || !existsSync(DIST_BUILD)) {
      throw new Error(`${DIST_TUN} is missing: run npm run build first (npm test does)`);
    }
    if (statSync(DIST_TUN).mtimeMs < statSync(SRC_TUN).mtimeMs) {
      throw new Error(`${DIST_TUN} is older than ${SRC_TUN}: run npm run build first (npm test does)`);
    }
    spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore' }); // a leftover of a crashed run with the same pid
    const add = spawnSync('ip', ['netns', 'add', ns], { encoding: 'utf8' });
    if (add.status !== 0) throw new Error(`ip netns add ${ns} failed: ${add.stderr}`);
    dir = mkdtempSync(join(tmpdir(), 'larval-tun-'));
    const script = join(dir, 'tun-child.mjs');
    writeFileSync(script, CHILD);

    await new Promise<void>((done) => {
      child = spawn('ip', ['netns', 'exec', ns, process.execPath, script, pathToFileURL(DIST_TUN).href, pathToFileURL(DIST_BUILD).href], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let buffered = '';
      child.stdout!.on('data', (chunk: Buffer) => {
        buffered += chunk.toString();
        let nl: number;
        while ((nl = buffered.indexOf('\n')) >= 0) {
          const step = JSON.parse(buffered.slice(0, nl)) as Step;
          buffered = buffered.slice(nl + 1);
          steps.set(step.step, step);
          if (step.step === 'closed') closedAt = performance.now();
        }
      });
      child.stderr!.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
      const guard = setTimeout(() => child?.kill('SIGKILL'), 60_000);
      child.on('close', (code) => {
        exitedAt = performance.now();
        exitCode = code;
        clearTimeout(guard);
        done();
      });
    });
  }, 90_000);

  afterAll(() => {
    const c = child as ChildProcess | null;
    if (c && c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    const del = spawnSync('ip', ['netns', 'del', ns], { encoding: 'utf8' });
    if (dir) rmSync(dir, { recursive: true, force: true });
    expect(spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout).not.toContain(ns);
    if (del.status !== 0) throw new Error(`ip netns del ${ns} failed: ${del.stderr}`);
  });

  const step = (name: string): Step => {
    const s = steps.get(name);
    if (!s) {
      const error = steps.get('error');
      throw new Error(`the child never reached step ${name}: ${error ? String(error.message) : `exit ${exitCode}, stderr: ${stderr}`}`);
    }
    return s;
  };

  it('creates the named device with the MTU asked for', () => {
    expect(step('opened').name).toBe('ltest0');
    expect(String(step('link').text)).toMatch(/ltest0: <POINTOPOINT.*UP.*> mtu 1400 /);
    console.log(`TUN open (helper start + TUNSETIFF + MTU): ${(step('opened').openMs as number).toFixed(1)} ms`);
  });

  it('reads a datagram sent into the device as an IPv4/UDP packet with the right addresses', () => {
    const s = step('read');
    const bytes = Buffer.from(String(s.packet), 'hex');
    const ip4 = Ipv4Packet.check(bytes);
    expect(bytes.length).toBe(ip4.totalLength); // one read, one whole packet, no packet-information header
    expect(ip4.verifyChecksum()).toBe(true);
    expect(ip4.protocol).toBe(PROTO_UDP);
    expect(ip4.src).toBe('10.99.0.1');
    expect(ip4.dst).toBe('10.99.0.2');
    const udp = UdpDatagram.check(ip4.payload);
    expect(udp.srcPort).toBe(s.port);
    expect(udp.dstPort).toBe(9999);
    expect(udp.verifyChecksum({ src: ip4.srcAddress, dst: ip4.dstAddress })).toBe(true);
    expect(Buffer.from(udp.payload).toString()).toBe('hello larval');
  });

  it('delivers a hand-built reply written into the device to the UDP socket', () => {
    const s = step('received');
    expect(s.accepted).toBe(true);
    expect(s.from).toBe('10.99.0.2');
    expect(s.fromPort).toBe(9999);
    const expected = Buffer.from(Array.from({ length: 32 }, (_, i) => i & 0xff)).toString('hex'); // buildPacket's payload pattern
    expect(s.msg).toBe(expected);
  });

  it('reads each packet after the last one in its slab, and from the slab\'s start again after recycleReads() (issue 16)', () => {
    const r = step('recycle') as unknown as { sameSlab12: boolean; after12: boolean; sameSlab3: boolean; x2Offset: number; x3Offset: number };
    expect(r.sameSlab12).toBe(true);
    expect(r.after12).toBe(true);
    expect(r.sameSlab3).toBe(true);
    expect(r.x3Offset).toBeLessThan(r.x2Offset);
  });

  it('counts a packet the kernel refuses as a write error instead of throwing', () => {
    const s = step('writeBad');
    expect(s.accepted).toBe(false);
    const stats = s.stats as { writeErrors: number; writeErrorsByCode: Record<string, number>; readPackets: number; written: number };
    expect(stats.writeErrors).toBe(1);
    expect(stats.writeErrorsByCode).toEqual({ EINVAL: 1 });
    expect(stats.written).toBe(1);
    expect(stats.readPackets).toBeGreaterThanOrEqual(1);
  });

  it('round-trips packets through the device (measured)', () => {
    const s = step('perf');
    console.log(`TUN echo in a netns: rtt p50 ${(s.rttP50us as number).toFixed(0)} us, p99 ${(s.rttP99us as number).toFixed(0)} us; ${(s.echoPerSecond as number).toFixed(0)} echoed packets/s (each read + written once)`);
    // Behaviour, not speed (the rate is printed; benchmarks judge speed): packets did go round.
    expect(s.echoPerSecond as number).toBeGreaterThan(0);
  });

  it('keeps reading by polling when the wake-up helper is killed', () => {
    expect(step('fallback').wakeup).toBe('poll');
  });

  it("reads with the 'poll' wake-up too", () => {
    expect(step('polled')).toMatchObject({ dst: '10.99.1.2', wakeup: 'poll' });
  });

  it('closes quickly, removes the devices, and lets the process exit by itself', () => {
    const s = step('closed');
    const closeMs = s.closeMs as number[];
    console.log(`TUN close: ${closeMs.map((ms) => ms.toFixed(1)).join(', ')} ms (helper killed, poll, idle helper)`);
    for (const ms of closeMs) expect(ms).toBeLessThan(500);
    expect(String(s.links)).not.toMatch(/ltest/);
    expect(s.writeAfterClose).toBe(false);
    expect((s.statsAfterClose as { writeErrorsByCode: Record<string, number> }).writeErrorsByCode.ECLOSED).toBe(1);
    expect(exitCode, stderr).toBe(0);
    console.log(`child exit ${(exitedAt - closedAt).toFixed(0)} ms after the last close`);
    expect(exitedAt - closedAt).toBeLessThan(2000);
  });
});
