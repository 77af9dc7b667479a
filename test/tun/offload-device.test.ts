// TUN offloads against the real kernel (issue 16, src/tun/offload.ts): a TUN device
// opened with offloads in a network namespace of the test's own, with a TCP server of
// the kernel's behind it and a TCP client emulated on the device's other side, over
// IPv4 and IPv6. Checks that the kernel takes the frames TcpMerger builds (one write
// for a run of segments, a partial checksum) and delivers every byte in order to the
// server, and that the TSO frames the kernel's TCP hands the device come out cut into
// segments whose checksums verify and whose sequence numbers run on without a gap.
// Root only (skipped with a visible reason elsewhere); the child script runs inside
// the namespace (`ip netns exec`), imports the compiled modules from dist/ and prints
// one JSON line per step.

import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const DIST_TUN = resolve('dist/src/tun/device.js');
const DIST_SUM = resolve('dist/src/wire/checksum.js');
const SRC_OFFLOAD = resolve('src/tun/offload.ts');
const DIST_OFFLOAD = resolve('dist/src/tun/offload.js');

const isRoot = process.getuid?.() === 0;
const works = (cmd: string, args: string[]) => { const r = spawnSync(cmd, args, { stdio: 'ignore' }); return r.error === undefined && r.status === 0; };
const skipReason =
  process.platform !== 'linux' ? 'TUN devices are Linux-only'
    : !isRoot ? 'not running as root (needed to create a network namespace and a TUN device)'
      : !existsSync('/dev/net/tun') ? '/dev/net/tun is missing'
        : !works('ip', ['-V']) ? 'the ip command (iproute2) is missing'
          : !works(process.env.LARVAL_PYTHON ?? 'python3', ['-c', 'pass']) ? 'python3 is missing'
            : null;
if (skipReason) console.warn(`test/tun/offload-device.test.ts: SKIPPING: ${skipReason}`);

const CHILD = String.raw`
import net from 'node:net';
import { execFileSync } from 'node:child_process';
const { TunDevice } = await import(process.argv[2]);
const { onesComplementSum, pseudoHeaderSum } = await import(process.argv[3]);
const say = (step, data = {}) => process.stdout.write(JSON.stringify({ step, ...data }) + '\n');
const ip = (...args) => execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
const within = (ms, what, p) => {
  let timer;
  const late = new Promise((_, no) => { timer = setTimeout(() => no(new Error('timed out waiting for ' + what)), ms); });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
};
const put16 = (b, o, v) => { b[o] = (v >>> 8) & 255; b[o + 1] = v & 255; };
const put32 = (b, o, v) => { put16(b, o, v >>> 16); put16(b, o + 2, v & 0xffff); };
const u16 = (b, o) => (b[o] << 8) | b[o + 1];
const u32 = (b, o) => ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
const FAM = {
  4: { local: [10, 98, 0, 1], peer: [10, 98, 0, 2], ip: 20, host: '10.98.0.1' },
  6: { local: [0xfd, 0, 0, 0x98, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], peer: [0xfd, 0, 0, 0x98, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2], ip: 40, host: 'fd00:98::1' },
};
let ident = 100;
// A TCP segment from the emulated peer to the kernel's server, checksums right.
function segment(v, sport, dport, seq, ack, flags, payload, options = []) {
  const f = FAM[v];
  const thl = 20 + options.length;
  const p = new Uint8Array(f.ip + thl + payload.length);
  if (v === 4) {
    p[0] = 0x45; put16(p, 2, p.length); put16(p, 4, ident++); put16(p, 6, 0x4000); p[8] = 64; p[9] = 6;
    p.set(f.peer, 12); p.set(f.local, 16); put16(p, 10, ~onesComplementSum(p, 0, 20) & 0xffff);
  } else {
    p[0] = 0x60; put16(p, 4, p.length - 40); p[6] = 6; p[7] = 64; p.set(f.peer, 8); p.set(f.local, 24);
  }
  const t = f.ip;
  put16(p, t, sport); put16(p, t + 2, dport); put32(p, t + 4, seq); put32(p, t + 8, ack);
  p[t + 12] = (thl / 4) << 4; p[t + 13] = flags; put16(p, t + 14, 65535);
  p.set(options, t + 20); p.set(payload, t + thl);
  const src = v === 4 ? p.subarray(12, 16) : p.subarray(8, 24), dst = v === 4 ? p.subarray(16, 20) : p.subarray(24, 40);
  put16(p, t + 16, ~onesComplementSum(p, t, p.length - t, pseudoHeaderSum(src, dst, 6, p.length - t)) & 0xffff);
  return p;
}
function checksumsOk(p) {
  const v = p[0] >> 4, t = FAM[v].ip;
  const src = v === 4 ? p.subarray(12, 16) : p.subarray(8, 24), dst = v === 4 ? p.subarray(16, 20) : p.subarray(24, 40);
  const l4 = onesComplementSum(p, t, p.length - t, pseudoHeaderSum(src, dst, 6, p.length - t)) === 0xffff;
  return l4 && (v === 6 || onesComplementSum(p, 0, 20) === 0xffff);
}

try {
  const tun = await TunDevice.open({ name: 'loff0', mtu: 1500, offload: true });
  ip('link', 'set', 'loff0', 'up');
  ip('addr', 'add', '10.98.0.1/24', 'dev', 'loff0');
  ip('-6', 'addr', 'add', 'fd00:98::1/64', 'dev', 'loff0', 'nodad');
  let waiter = null;
  const fromKernel = [];
  tun.onPackets((batch) => {
    for (const p of batch) {
      if (p[0] >> 4 !== 4 && p[0] >> 4 !== 6) continue;
      const t = FAM[p[0] >> 4].ip;
      if (p[p[0] >> 4 === 4 ? 9 : 6] !== 6) continue; // TCP only (router solicitations and the like)
      fromKernel.push(p.slice());
      if (waiter && waiter.match(p)) { const w = waiter; waiter = null; w.resolve(p.slice()); }
    }
  });
  const next = (match) => new Promise((resolve) => { waiter = { match, resolve }; });

  for (const v of [4, 6]) {
    const f = FAM[v];
    const received = [];
    let serverSocket = null;
    const server = net.createServer((s) => { serverSocket = s; s.on('data', (d) => received.push(d)); });
    await new Promise((ok) => server.listen(0, f.host, ok));
    const port = server.address().port;
    const sport = 41000 + v;
    // Handshake: SYN with MSS 1000 (no other options, so the data segments carry none).
    const synAck = next((p) => p[f.ip + 13] === 0x12 && u16(p, f.ip) === port);
    tun.write(segment(v, sport, port, 1000, 0, 0x02, new Uint8Array(0), [2, 4, 0x03, 0xe8]));
    const sa = await within(3000, 'SYN-ACK', synAck);
    const serverIsn = u32(sa, f.ip + 4);
    let seq = 1001;
    const ack = (serverIsn + 1) >>> 0;
    tun.write(segment(v, sport, port, seq, ack, 0x10, new Uint8Array(0)));
    await within(3000, 'the server\'s accept', new Promise((ok) => { const w = () => (serverSocket ? ok() : setTimeout(w, 5)); w(); }));

    // 40 segments of 1000 octets in one writeBatch: merged into frames (at most 64 KiB, 64 segments each).
    const data = Uint8Array.from({ length: 40000 }, (_, i) => (i * 31 + v + (i >> 10)) & 255);
    const segs = [];
    for (let o = 0; o < data.length; o += 1000) {
      segs.push(segment(v, sport, port, seq, ack, o + 1000 >= data.length ? 0x18 : 0x10, data.subarray(o, o + 1000)));
      seq += 1000;
    }
    const before = tun.stats();
    const written = tun.writeBatch(segs);
    const after = tun.stats();
    await within(5000, 'all data at the server', new Promise((ok) => { const w = () => (received.reduce((n, d) => n + d.length, 0) >= data.length ? ok() : setTimeout(w, 5)); w(); }));
    const got = Buffer.concat(received);

    // The server answers with 8000 octets (within its initial window of 10 segments, so no ACK is needed):
    // the kernel's TCP hands the device TSO frames.
    const reply = Buffer.from(Uint8Array.from({ length: 8000 }, (_, i) => (i * 7 + v) & 255));
    const mark = fromKernel.length;
    const gsoBefore = tun.stats().gsoFrames;
    serverSocket.write(reply);
    const wanted = (serverIsn + 1 + reply.length) >>> 0;
    await within(5000, 'the reply\'s last segment', new Promise((ok) => {
      const w = () => (fromKernel.slice(mark).some((p) => (u32(p, f.ip + 4) + p.length - f.ip - (p[f.ip + 12] >> 4) * 4) >>> 0 === wanted) ? ok() : setTimeout(w, 5)); w();
    }));
    const replySegs = fromKernel.slice(mark).filter((p) => p.length > f.ip + (p[f.ip + 12] >> 4) * 4);
    let expectSeq = (serverIsn + 1) >>> 0;
    let gap = false, bad = 0, maxSeg = 0;
    const bytes = [];
    for (const p of replySegs) {
      const thl = (p[f.ip + 12] >> 4) * 4;
      if (u32(p, f.ip + 4) !== expectSeq) gap = true;
      if (!checksumsOk(p)) bad++;
      const payload = p.subarray(f.ip + thl);
      maxSeg = Math.max(maxSeg, payload.length);
      expectSeq = (expectSeq + payload.length) >>> 0;
      bytes.push(payload);
    }
    const replyGot = Buffer.concat(bytes);
    say('family' + v, {
      written, segments: segs.length, mergedFrames: after.mergedFrames - before.mergedFrames, mergedPackets: after.mergedPackets - before.mergedPackets,
      writeErrors: after.writeErrors, dataIntact: got.equals(Buffer.from(data)), receivedBytes: got.length,
      gsoFrames: tun.stats().gsoFrames - gsoBefore, replySegments: replySegs.length, replyIntact: replyGot.equals(reply), gap, badChecksums: bad, maxSeg,
      readDrops: tun.stats().readDrops,
    });
    serverSocket.destroy();
    server.close();
  }
  await tun.close();

  // A kernel that refuses TUNSETOFFLOAD (a sandboxed TUN), made here by a python3 wrapper
  // that asks for an offload flag no kernel knows: 'auto' goes on without offloads, true fails.
  const refused = await TunDevice.open({ name: 'loff1', offload: true, python: process.argv[4] }).then(async (d) => { await d.close(); return null; }, (e) => ({ code: e.code, syscall: e.syscall, errno: e.errno, message: e.message }));
  const auto = await TunDevice.open({ name: 'loff1', offload: 'auto', python: process.argv[4] });
  ip('link', 'set', 'loff1', 'up');
  ip('addr', 'add', '10.97.0.1/24', 'dev', 'loff1');
  const seen = new Promise((ok) => auto.onPacket((p) => { if (p[0] >> 4 === 4 && p[9] === 17) ok(p.length); }));
  const udp = (await import('node:dgram')).createSocket('udp4');
  udp.send(Buffer.alloc(100), 9, '10.97.0.2');
  const autoRead = await within(3000, 'a datagram on the device without offloads', seen);
  udp.close();
  const badBatch = [[null], 'x', [new Uint8Array(20), {}]].map((b) => { try { auto.writeBatch(b); return 'accepted'; } catch (e) { return e.code + ' ' + e.field; } });
  say('fallback', { refused, autoOffload: auto.stats().offload, autoRead, badBatch, writesAfterBad: auto.stats().written });
  await auto.close();
  say('done');
} catch (e) {
  say('error', { message: String(e && e.stack || e) });
  process.exit(1);
}
`;

interface Step { step: string; [key: string]: unknown }

describe.skipIf(skipReason !== null)('TUN offloads with the kernel\'s TCP (issue 16)', () => {
  const ns = `larval-off-test-${process.pid}`;
  let dir = '';
  const steps = new Map<string, Step>();
  let stderr = '';

  beforeAll(async () => {
    if (!existsSync(DIST_OFFLOAD) || statSync(DIST_OFFLOAD).mtimeMs < statSync(SRC_OFFLOAD).mtimeMs) {
      throw new Error(`${DIST_OFFLOAD} is missing or older than its source: run npm run build first (npm test does)`);
    }
    spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
    const add = spawnSync('ip', ['netns', 'add', ns], { encoding: 'utf8' });
    if (add.status !== 0) throw new Error(`ip netns add ${ns} failed: ${add.stderr}`);
    spawnSync('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    dir = mkdtempSync(join(tmpdir(), 'larval-off-'));
    const script = join(dir, 'offload-child.mjs');
    writeFileSync(script, CHILD);
    // python3 that runs the helper with an unknown TUNSETOFFLOAD flag: the kernel answers EINVAL.
    const refusing = join(dir, 'python-refusing-offload');
    writeFileSync(refusing, `#!/bin/sh\ncode=$(printf '%s' "$4" | sed 's/0x400454d0, 0x07/0x400454d0, 0x40000000/')\nshift 4\nexec ${process.env.LARVAL_PYTHON ?? 'python3'} -I -S -c "$code" "$@"\n`, { mode: 0o755 });
    await new Promise<void>((done) => {
      const child = spawn('ip', ['netns', 'exec', ns, process.execPath, script, pathToFileURL(DIST_TUN).href, pathToFileURL(DIST_SUM).href, refusing], { stdio: ['ignore', 'pipe', 'pipe'] });
      let buffered = '';
      child.stdout!.on('data', (chunk: Buffer) => {
        buffered += chunk.toString();
        let nl: number;
        while ((nl = buffered.indexOf('\n')) >= 0) {
          const s = JSON.parse(buffered.slice(0, nl)) as Step;
          buffered = buffered.slice(nl + 1);
          steps.set(s.step, s);
        }
      });
      child.stderr!.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
      const guard = setTimeout(() => child.kill('SIGKILL'), 60_000);
      child.on('close', () => { clearTimeout(guard); done(); });
    });
  }, 90_000);

  afterAll(() => {
    spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
    if (dir) rmSync(dir, { recursive: true, force: true });
    expect(spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout).not.toContain(ns);
  });

  const step = (name: string): Step => {
    const s = steps.get(name);
    if (!s) {
      const error = steps.get('error');
      throw new Error(`the child never reached step ${name}: ${error ? String(error.message) : `stderr: ${stderr}`}`);
    }
    return s;
  };

  it("where the kernel refuses offloads: offload 'auto' opens the device without them and reads; true is a TunError at TUNSETOFFLOAD", () => {
    const s = step('fallback');
    expect(s.refused).toMatchObject({ code: 'EIO', syscall: 'TUNSETOFFLOAD', errno: 'EINVAL' });
    expect(String((s.refused as { message: string }).message)).toMatch(/refused TUNSETOFFLOAD \(EINVAL\).*without them/);
    expect(s.autoOffload).toBe(false);
    expect(s.autoRead).toBe(128);
    // writeBatch() refuses what is not an array of Uint8Array before writing any of it.
    expect(s.badBatch).toEqual(['EINVAL packets[0]', 'EINVAL packets', 'EINVAL packets[1]']);
    expect(s.writesAfterBad).toBe(0);
  });

  for (const v of [4, 6]) {
    it(`IPv${v}: 40 segments written as merged frames reach the kernel's TCP server intact and in order`, () => {
      const s = step(`family${v}`);
      expect(s.written).toBe(40);
      expect(s.writeErrors).toBe(0);
      expect(s.mergedFrames).toBeGreaterThanOrEqual(1);
      expect(s.mergedFrames).toBeLessThan(40); // fewer writes than segments
      expect(s.mergedPackets).toBe(40);
      expect(s.receivedBytes).toBe(40000);
      expect(s.dataIntact).toBe(true);
    });

    it(`IPv${v}: the kernel's TSO frames come out as segments within the MSS, checksums right, no sequence gap`, () => {
      const s = step(`family${v}`);
      expect(s.gsoFrames).toBeGreaterThanOrEqual(1);
      expect(s.replyIntact).toBe(true);
      expect(s.gap).toBe(false);
      expect(s.badChecksums).toBe(0);
      expect(s.maxSeg).toBeLessThanOrEqual(1000); // our SYN's MSS
      expect(s.readDrops).toBe(0);
    });
  }
});
