// Decrypts ESP in a capture file with tshark (Wireshark's ESP dissector), as an
// outside check on an ESP implementation.
//
// tshark runs with a throw-away configuration directory (WIRESHARK_CONFIG_DIR),
// so the user's own Wireshark profile is neither read nor changed. The SAs are
// written to the esp_sa UAT file in that directory, one CSV line per SA:
//
//   "IPv4","192.0.2.1","192.0.2.2","0x00001001","AES-GCM with 16 octet ICV [RFC4106]","0x<key||salt>","NULL",""
//   "IPv6","2001:db8::1","2001:db8::2","0x00001002","AES-CBC [RFC3602]","0x<key>","HMAC-SHA-256-128 [RFC4868]","0x<key>"
//
// i.e. protocol, source, destination, SPI, encryption, encryption key,
// authentication, authentication key; keys are "0x" + hex, and for AES-GCM the
// key is the AES key followed by the 4-byte salt, with authentication "NULL".
// Later Wireshark releases add two fields for extended sequence numbers, "SN"
// ("32-bit" / "64-bit") and "ESN High Bits" (hex); tshark 4.0 has neither (it
// warns "More fields than required" and drops them), so it cannot check ESN
// ICVs. tsharkSupportsEsn() probes for them, and the two fields are written
// only when the running tshark has them.
//
// Quirks worth knowing:
//  * The ICV verdict (esp.icv_good / esp.icv_bad) is added to the tree after
//    the decrypted packet has been dissected. If dissecting the inner packet
//    throws (a malformed inner packet, or a payload some port-based dissector
//    rejects), the verdict is missing and icv comes back null; see `expert`.
//  * UDP-encapsulated ESP (RFC 3948) is decoded on UDP port 4500 out of the
//    box (tshark tries the lower port first, so a NAT-mapped high source port
//    towards 4500 works); other ports need `udpEncapPorts`.
//  * Running as root, tshark always prints a "Running as user "root"" notice on
//    stderr; tsharkStderr() drops it, and any other stderr output is an error.
//  * ESP sequence analysis (expert "Wrong Sequence Number") is switched off
//    unless asked for, so that `expert` only carries real problems.

import { spawn, spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { encodePcap } from '../../src/io/pcap-writer.js';

export interface TsharkSa {
  /** Outer address family. */
  family: 4 | 6;
  /** Outer source and destination addresses, as seen on the wire ('*' matches any). */
  src: string;
  dst: string;
  spi: number;
  enc: 'aes-gcm-16' | 'aes-cbc';
  /** aes-gcm-16: AES key followed by the 4-byte salt (RFC 4106 §8.1); aes-cbc: AES key. */
  encKey: Uint8Array;
  auth: 'hmac-sha256-128' | 'hmac-sha1-96' | null;
  authKey?: Uint8Array;
  /** Extended sequence numbers; needs a tshark with ESN support (see tsharkSupportsEsn()). */
  esn?: boolean;
  /** With esn: the high 32 bits of the sequence numbers at the start of the capture (default 0). */
  esnHigh?: number;
}

export interface TsharkFrame {
  frame: number;
  /** null when the frame has no ESP header. */
  spi: number | null;
  seq: number | null;
  /** tshark produced decrypted data (it does so even when the ICV is wrong). */
  decrypted: boolean;
  /** null when tshark gave no verdict: no SA matched, or dissection stopped early. */
  icv: 'good' | 'bad' | 'unchecked' | null;
  /**
   * The packet ESP protected, as tshark dissected it. Tunnel mode: the decrypted IP header
   * (proto is its protocol / next header). Transport mode: the outer header, with proto the
   * ESP trailer's next header.
   */
  inner: { family: 4 | 6; src: string; dst: string; proto: number } | null;
  /** ESP was carried in UDP (RFC 3948). */
  udpEncap: boolean;
  /** tshark's expert-info messages for the frame (e.g. "Malformed Packet (Exception occurred)"). */
  expert: string[];
}

export interface TsharkOptions {
  /** Keep tshark's ESP sequence-number analysis on (it reports gaps as expert info). Default false. */
  sequenceAnalysis?: boolean;
  /** Further UDP ports to decode as UDP-encapsulated ESP (4500 is decoded without this). */
  udpEncapPorts?: number[];
}

/**
 * Path of the tshark executable, or null when none is installed. The TSHARK environment
 * variable overrides the search: a path to use, or "" / "none" to act as if tshark were missing.
 */
export const tshark: string | null = findTshark();

function findTshark(): string | null {
  const override = process.env.TSHARK;
  if (override !== undefined) {
    if (override === '' || override === 'none') return null;
    return isExecutable(override) ? override : null;
  }
  const candidates = (process.env.PATH ?? '').split(delimiter).filter(Boolean).map((dir) => join(dir, 'tshark'));
  candidates.push('/usr/bin/tshark', '/usr/local/bin/tshark');
  return candidates.find(isExecutable) ?? null;
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

let missingReason: string | null | undefined;

/** null when tshark can decrypt ESP here; otherwise why not (for visible test skips). */
export function tsharkMissing(): string | null {
  if (missingReason !== undefined) return missingReason;
  missingReason = checkTshark();
  return missingReason;
}

function checkTshark(): string | null {
  if (tshark === null) {
    if (process.env.TSHARK !== undefined) return `tshark disabled or not found (TSHARK=${JSON.stringify(process.env.TSHARK)})`;
    return 'tshark is not installed (not on PATH, not at /usr/bin/tshark); install the Debian/Ubuntu package "tshark"';
  }
  const run = spawnSync(tshark, ['-v'], { encoding: 'utf8', timeout: 30_000 });
  if (run.error) return `${tshark} -v failed: ${run.error.message}`;
  if (run.status !== 0) return `${tshark} -v exited with status ${run.status}: ${run.stderr.trim()}`;
  if (!/gcrypt/i.test(run.stdout)) return `${tshark} was built without Gcrypt, so it cannot decrypt ESP`;
  const fields = spawnSync(tshark, ['-G', 'fields'], { encoding: 'utf8', timeout: 60_000, maxBuffer: 512 * 1024 * 1024 });
  if (fields.status !== 0 || !/\tesp\.icv_good\t/.test(fields.stdout)) {
    return `${tshark} has no esp.icv_good field (too old to report ESP ICV checks)`;
  }
  return null;
}

/** tshark's version line, e.g. "TShark (Wireshark) 4.0.17 (...)", or null. */
export function tsharkVersion(): string | null {
  if (tshark === null) return null;
  const run = spawnSync(tshark, ['-v'], { encoding: 'utf8', timeout: 30_000 });
  return run.status === 0 ? (run.stdout.split('\n')[0] ?? null) : null;
}

let esnSupport: Promise<boolean> | undefined;

/**
 * Whether this tshark's esp_sa UAT has the ESN fields ("SN" and "ESN High Bits").
 * Probed by loading a 10-field record: releases without them warn "More fields than required".
 */
export function tsharkSupportsEsn(): Promise<boolean> {
  esnSupport ??= (async () => {
    if (tsharkMissing() !== null) return false;
    const record = '"IPv4","192.0.2.1","192.0.2.2","0x00000100","NULL","","NULL","","64-bit","0"';
    const { stderr } = await withTempDir(async (dir) => {
      const pcap = join(dir, 'empty.pcap');
      await writeFile(pcap, encodePcap([]));
      await writeFile(join(dir, 'esp_sa'), `${record}\n`);
      return runTshark(['-r', pcap], dir);
    });
    return !/More fields than required|UAT/i.test(stderr);
  })();
  return esnSupport;
}

/**
 * Runs tshark over a capture with the given SAs and reports, per frame, the ESP
 * header, whether tshark decrypted it, its ICV verdict and the protected packet.
 * Throws if tshark fails or complains about its configuration on stderr.
 */
export async function tsharkDecryptEsp(pcapPath: string, sas: TsharkSa[], options: TsharkOptions = {}): Promise<TsharkFrame[]> {
  const reason = tsharkMissing();
  if (reason !== null) throw new Error(reason);
  const withEsn = sas.some((sa) => sa.esn);
  const esnFields = await tsharkSupportsEsn();
  if (withEsn && !esnFields) {
    throw new Error(`${tsharkVersion() ?? 'this tshark'} has no ESN fields in its esp_sa table, so it cannot check ESN SAs`);
  }
  const uat = sas.map((sa, i) => uatLine(sa, i, esnFields)).join('\n');

  const args = [
    '-r', pcapPath,
    '-o', 'esp.enable_encryption_decode:TRUE',
    '-o', 'esp.enable_authentication_check:TRUE',
    '-o', `esp.do_esp_sequence_analysis:${options.sequenceAnalysis ? 'TRUE' : 'FALSE'}`,
  ];
  for (const port of options.udpEncapPorts ?? []) {
    if (!Number.isInteger(port) || port < 1 || port > 0xffff) throw new RangeError(`options.udpEncapPorts: ${port} is not a UDP port`);
    args.push('-d', `udp.port==${port},udpencap`);
  }
  args.push('-T', 'json');
  for (const field of FIELDS) args.push('-e', field);

  const { stdout, stderr, code } = await withTempDir(async (dir) => {
    await writeFile(join(dir, 'esp_sa'), `${uat}\n`);
    return runTshark(args, dir);
  });
  if (code !== 0) throw new Error(`tshark exited with status ${code}: ${stderr}`);
  if (stderr !== '') throw new Error(`tshark complained:\n${stderr}`);
  if (stdout.trim() === '') return [];
  const packets = JSON.parse(stdout) as { _source: { layers: Record<string, string[] | undefined> } }[];
  return packets.map((p) => toFrame(p._source.layers));
}

// ---------------------------------------------------------------------------

const FIELDS = [
  'frame.number',
  'frame.protocols',
  'esp.spi',
  'esp.sequence',
  'esp.decrypted_data',
  'esp.icv_good',
  'esp.icv_bad',
  'esp.protocol',
  'ip.src',
  'ip.dst',
  'ip.proto',
  'ipv6.src',
  'ipv6.dst',
  'ipv6.nxt',
  '_ws.expert.message',
] as const;

const ENCRYPTION = {
  'aes-gcm-16': 'AES-GCM with 16 octet ICV [RFC4106]',
  'aes-cbc': 'AES-CBC [RFC3602]',
} as const;

const AUTHENTICATION = {
  'hmac-sha256-128': 'HMAC-SHA-256-128 [RFC4868]',
  'hmac-sha1-96': 'HMAC-SHA-1-96 [RFC2404]',
} as const;

function uatLine(sa: TsharkSa, i: number, esnFields: boolean): string {
  const where = `sas[${i}]`;
  if (sa.family !== 4 && sa.family !== 6) throw new TypeError(`${where}.family must be 4 or 6`);
  if (!Number.isInteger(sa.spi) || sa.spi < 0 || sa.spi > 0xffff_ffff) throw new RangeError(`${where}.spi must be a 32-bit unsigned integer`);
  const enc = ENCRYPTION[sa.enc];
  if (enc === undefined) throw new TypeError(`${where}.enc must be 'aes-gcm-16' or 'aes-cbc'`);
  if (!(sa.encKey instanceof Uint8Array) || sa.encKey.length === 0) throw new TypeError(`${where}.encKey must be a non-empty Uint8Array`);
  let auth = 'NULL';
  let authKey = '';
  if (sa.enc === 'aes-gcm-16' && sa.auth !== null) {
    throw new TypeError(`${where}.auth must be null with aes-gcm-16 (Wireshark rejects AES-GCM with an authentication algorithm)`);
  }
  if (sa.auth !== null) {
    auth = AUTHENTICATION[sa.auth];
    if (auth === undefined) throw new TypeError(`${where}.auth must be 'hmac-sha256-128', 'hmac-sha1-96' or null`);
    if (!(sa.authKey instanceof Uint8Array) || sa.authKey.length === 0) throw new TypeError(`${where}.authKey must be a non-empty Uint8Array`);
    authKey = hexKey(sa.authKey);
  }
  const fields = [
    sa.family === 4 ? 'IPv4' : 'IPv6',
    uatAddress(sa.src, sa.family, `${where}.src`),
    uatAddress(sa.dst, sa.family, `${where}.dst`),
    `0x${sa.spi.toString(16).padStart(8, '0')}`,
    enc,
    hexKey(sa.encKey),
    auth,
    authKey,
  ];
  if (esnFields) {
    const high = sa.esnHigh ?? 0;
    if (!Number.isInteger(high) || high < 0 || high > 0xffff_ffff) throw new RangeError(`${where}.esnHigh must be a 32-bit unsigned integer`);
    fields.push(sa.esn ? '64-bit' : '32-bit', high.toString(16));
  }
  return fields.map((f) => `"${f}"`).join(',');
}

function hexKey(key: Uint8Array): string {
  return `0x${Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('hex')}`;
}

/**
 * Addresses in the form Wireshark prints them, which its SA matcher compares against.
 * IPv6 goes through the WHATWG URL serialiser, which compresses per RFC 5952 as Wireshark does.
 */
function uatAddress(address: string, family: 4 | 6, field: string): string {
  if (typeof address !== 'string' || address === '' || /[",\n]/.test(address)) throw new TypeError(`${field} must be an address`);
  if (address === '*' || address.includes('/')) return address; // wildcard or prefix, passed through
  if (family === 4) return address;
  try {
    return new URL(`http://[${address}]/`).hostname.slice(1, -1);
  } catch {
    throw new TypeError(`${field} must be an IPv6 address, got ${JSON.stringify(address)}`);
  }
}

function toFrame(layers: Record<string, string[] | undefined>): TsharkFrame {
  const one = (field: string): string | undefined => layers[field]?.[0];
  const protocols = (one('frame.protocols') ?? '').split(':');
  const espAt = protocols.indexOf('esp');
  const good = one('esp.icv_good');
  const bad = one('esp.icv_bad');
  let icv: TsharkFrame['icv'] = null;
  if (good !== undefined || bad !== undefined) icv = isTrue(good) ? 'good' : isTrue(bad) ? 'bad' : 'unchecked';
  const spi = one('esp.spi');
  const seq = one('esp.sequence');
  return {
    frame: Number(one('frame.number')),
    spi: spi === undefined ? null : Number(spi),
    seq: seq === undefined ? null : Number(seq),
    decrypted: layers['esp.decrypted_data'] !== undefined,
    icv,
    inner: espAt < 0 ? null : protectedPacket(layers, protocols, espAt),
    udpEncap: espAt > 0 && protocols.slice(0, espAt).includes('udpencap'),
    expert: layers['_ws.expert.message'] ?? [],
  };
}

/** Picks the IP header that carries the ESP-protected data, by its position in frame.protocols. */
function protectedPacket(layers: Record<string, string[] | undefined>, protocols: string[], espAt: number): TsharkFrame['inner'] {
  const isIp = (p: string): boolean => p === 'ip' || p === 'ipv6';
  let at = protocols.findIndex((p, i) => i > espAt && isIp(p));
  let proto: number | undefined;
  if (at < 0) {
    // Transport mode: the outer header, carrying whatever the ESP trailer names.
    const trailer = layers['esp.protocol']?.[0];
    if (trailer === undefined) return null; // not decrypted, or nothing dissected
    at = -1;
    for (let i = 0; i < espAt; i++) if (isIp(protocols[i]!)) at = i;
    if (at < 0) return null;
    proto = Number(trailer);
  }
  const kind = protocols[at] as 'ip' | 'ipv6';
  const index = protocols.slice(0, at).filter((p) => p === kind).length;
  const src = layers[`${kind}.src`]?.[index];
  const dst = layers[`${kind}.dst`]?.[index];
  proto ??= Number(layers[kind === 'ip' ? 'ip.proto' : 'ipv6.nxt']?.[index]);
  if (src === undefined || dst === undefined || Number.isNaN(proto)) return null;
  return { family: kind === 'ip' ? 4 : 6, src, dst, proto };
}

function isTrue(value: string | undefined): boolean {
  return value === '1' || value === 'True' || value === 'true';
}

interface TsharkRun {
  stdout: string;
  stderr: string;
  code: number | null;
}

function runTshark(args: string[], configDir: string): Promise<TsharkRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(tshark as string, args, {
      env: { ...process.env, WIRESHARK_CONFIG_DIR: configDir },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', reject);
    child.on('close', (code) => {
      resolve({ stdout: Buffer.concat(out).toString('utf8'), stderr: tsharkStderr(Buffer.concat(err).toString('utf8')), code });
    });
  });
}

/** tshark's stderr without the notice it prints whenever it runs as root. */
export function tsharkStderr(stderr: string): string {
  return stderr
    .split('\n')
    .filter((line) => line.trim() !== '' && !/^Running as user "root" and group "root"\. This could be dangerous\.$/.test(line.trim()))
    .join('\n');
}

async function withTempDir<T>(body: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'larval-tshark-'));
  try {
    return await body(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
