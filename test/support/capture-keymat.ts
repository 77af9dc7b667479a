// Regenerates test/ike/fixtures/strongswan-keymat.json (and the IKE_SA_INIT/IKE_AUTH
// capture next to it): IKEv2 key-schedule values taken from strongSwan 5.9.8's own log,
// an independent source for larval's known-answer tests (issue 13 acceptance 8).
//
// How: two charons (test/support/strongswan.ts) negotiate with `ike = 4, chd = 4,
// enc = 4` logging. At those levels charon dumps the shared DH secret, SKEYSEED,
// SK_d/ai/ar/ei/er/pi/pr (RFC 7296 §2.14), the AUTH inputs (IDx', octets,
// prf(secret, keypad)) and AUTH (§2.15), each CHILD_SA's KEYMAT seed and keys
// (§2.17), and every generated/parsed payload field (so also the nonces inside the
// encrypted CREATE_CHILD_SA messages). For each case: the initial exchange, a CHILD_SA
// rekey (with PFS where the ESP proposal has a group) and an IKE SA rekey, all started
// by side a (the initiator). The first case also records the initial exchange on
// the veth as a pcap.
//
// Run (root, strongSwan installed):
//   LARVAL_CAPTURE_KEYMAT=1 npx vitest run test/ike/keymat-fixture.test.ts
// The test then checks the regenerated file like the committed one.

import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type IkeSaInfo, run, type SitePair, sleep, startSitePair } from './strongswan.js';

export const FIXTURE_DIR = new URL('../ike/fixtures/', import.meta.url).pathname;
export const KEYMAT_FIXTURE = join(FIXTURE_DIR, 'strongswan-keymat.json');
export const IKE_PCAP = 'strongswan-ike-init-auth.pcap';

export interface KeymatCaseSpec {
  name: string;
  /** swanctl proposals / esp_proposals on both sides. */
  proposals: string;
  espProposals: string;
  /** Algorithm names as larval's config types spell them. */
  ike: { encr: string; keyBits: number; integ: string | null; prf: string; dh: string };
  esp: { encr: string; keyBits: number; integ: string | null; pfs: string | null };
}

export const KEYMAT_CASES: KeymatCaseSpec[] = [
  {
    name: 'curve25519-aes256gcm16-prfsha256',
    proposals: 'aes256gcm16-prfsha256-curve25519',
    espProposals: 'aes256gcm16-curve25519',
    ike: { encr: 'aes-gcm-16', keyBits: 256, integ: null, prf: 'hmac-sha2-256', dh: 'curve25519' },
    esp: { encr: 'aes-gcm-16', keyBits: 256, integ: null, pfs: 'curve25519' },
  },
  {
    name: 'modp2048-aes256-sha256-prfsha384',
    proposals: 'aes256-sha256-prfsha384-modp2048',
    espProposals: 'aes128-sha256-modp2048',
    ike: { encr: 'aes-cbc', keyBits: 256, integ: 'hmac-sha2-256-128', prf: 'hmac-sha2-384', dh: 'modp2048' },
    esp: { encr: 'aes-cbc', keyBits: 128, integ: 'hmac-sha2-256-128', pfs: 'modp2048' },
  },
  {
    name: 'ecp256-aes128gcm16-prfsha512',
    proposals: 'aes128gcm16-prfsha512-ecp256',
    espProposals: 'aes256-sha384',
    ike: { encr: 'aes-gcm-16', keyBits: 128, integ: null, prf: 'hmac-sha2-512', dh: 'ecp256' },
    esp: { encr: 'aes-cbc', keyBits: 256, integ: 'hmac-sha2-384-192', pfs: null },
  },
];

// ---------------------------------------------------------------------------
// charon's log: `HH:MM:SS TT[GRP] label => N bytes @ 0x...` and hex dump lines

export interface Dump {
  /** 0-based line of the header. */
  line: number;
  thread: string;
  group: string;
  /** The text before `=>` ('' for enc's field dumps). */
  label: string;
  bytes: Buffer;
}

const HEADER = /^\S+ (\d+)\[(\w+)\] (.*?)\s*=> (\d+) bytes @ /;
const HEXLINE = /^\S+ \d+\[\w+\]\s+\d+: (.*)$/;

export function parseDumps(log: string): Dump[] {
  const lines = log.split('\n');
  const out: Dump[] = [];
  for (let i = 0; i < lines.length; i++) {
    const m = HEADER.exec(lines[i]);
    if (!m) continue;
    const n = Number(m[4]);
    const hex: string[] = [];
    let j = i + 1;
    while (hex.length < n && j < lines.length) {
      const h = HEXLINE.exec(lines[j]);
      if (!h) break;
      // 16 octets per line in a fixed-width 47-character column, then the ASCII rendering.
      hex.push(...h[1].slice(0, 47).trim().split(' ').filter((x) => /^[0-9A-F]{2}$/.test(x)));
      j++;
    }
    if (hex.length !== n) throw new Error(`charon log line ${i + 1}: '${m[3]}' announced ${n} bytes, read ${hex.length}`);
    out.push({ line: i, thread: m[1], group: m[2], label: m[3].trim(), bytes: Buffer.from(hex.join(''), 'hex') });
    i = j - 1;
  }
  return out;
}

/** Nonces generated or parsed (enc = 4), in log order. */
export function nonceEvents(log: string, dumps: Dump[]): { line: number; dir: 'generated' | 'parsed'; nonce: Buffer }[] {
  const lines = log.split('\n');
  const out: { line: number; dir: 'generated' | 'parsed'; nonce: Buffer }[] = [];
  // Per thread: inside a NONCE payload being generated or parsed?
  const inside = new Map<string, 'generated' | 'parsed'>();
  const byLine = new Map(dumps.map((d) => [d.line, d]));
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i];
    const t = /^\S+ (\d+)\[ENC\] (.*)$/.exec(l);
    if (!t) continue;
    const [, thread, text] = t;
    if (text === 'generating payload of type NONCE') inside.set(thread, 'generated');
    else if (/^parsing NONCE payload, \d+ bytes left$/.test(text)) inside.set(thread, 'parsed');
    else if (/^(generating|parsing) NONCE payload finished$/.test(text)) inside.delete(thread);
    else if (/^\s*(generating|parsing) rule \d+ CHUNK_DATA$/.test(text) && inside.has(thread)) {
      const d = byLine.get(i + 1);
      if (d) out.push({ line: i, dir: inside.get(thread)!, nonce: d.bytes });
    }
  }
  return out;
}

// ---------------------------------------------------------------------------
// IKE messages inside the AUTH octets (RFC 7296 §3.1, §3.2)

const PAYLOAD_KE = 34;
const PAYLOAD_NONCE = 40;

export function ikeMessageFields(msg: Buffer): { spiI: Buffer; spiR: Buffer; length: number; nonce: Buffer; ke: { group: number; data: Buffer } } {
  const length = msg.readUInt32BE(24);
  let next = msg[16];
  let at = 28;
  let nonce: Buffer | undefined;
  let ke: { group: number; data: Buffer } | undefined;
  while (next !== 0 && at + 4 <= length) {
    const len = msg.readUInt16BE(at + 2);
    const body = msg.subarray(at + 4, at + len);
    if (next === PAYLOAD_NONCE) nonce = Buffer.from(body);
    if (next === PAYLOAD_KE) ke = { group: body.readUInt16BE(0), data: Buffer.from(body.subarray(4)) };
    next = msg[at];
    at += len;
  }
  if (!nonce || !ke) throw new Error('IKE_SA_INIT message without nonce or KE payload');
  return { spiI: Buffer.from(msg.subarray(0, 8)), spiR: Buffer.from(msg.subarray(8, 16)), length, nonce, ke };
}

// ---------------------------------------------------------------------------
// One case

const hex = (b: Buffer | undefined) => (b ? b.toString('hex') : null);

function nth(dumps: Dump[], label: string, i: number, group?: string): Dump {
  const all = dumps.filter((d) => d.label === label && (group === undefined || d.group === group));
  if (!all[i]) throw new Error(`charon log: no occurrence ${i} of '${label}' (found ${all.length})`);
  return all[i];
}

function maybe(dumps: Dump[], label: string, i: number): Buffer | undefined {
  return dumps.filter((d) => d.label === label)[i]?.bytes;
}

function ikeKeys(dumps: Dump[], i: number) {
  return {
    gIR: hex(nth(dumps, 'shared Diffie Hellman secret', i).bytes),
    SKEYSEED: hex(nth(dumps, 'SKEYSEED', i).bytes),
    SK_d: hex(nth(dumps, 'Sk_d secret', i).bytes),
    SK_ai: hex(maybe(dumps, 'Sk_ai secret', i)),
    SK_ar: hex(maybe(dumps, 'Sk_ar secret', i)),
    SK_ei: hex(nth(dumps, 'Sk_ei secret', i).bytes),
    SK_er: hex(nth(dumps, 'Sk_er secret', i).bytes),
    SK_pi: hex(nth(dumps, 'Sk_pi secret', i).bytes),
    SK_pr: hex(nth(dumps, 'Sk_pr secret', i).bytes),
  };
}

function childKeys(dumps: Dump[], i: number) {
  return {
    seed: hex(nth(dumps, 'seed', i, 'CHD').bytes),
    encrI: hex(nth(dumps, 'encryption initiator key', i).bytes),
    encrR: hex(nth(dumps, 'encryption responder key', i).bytes),
    integI: hex(maybe(dumps, 'integrity initiator key', i)),
    integR: hex(maybe(dumps, 'integrity responder key', i)),
  };
}

function authOf(dumps: Dump[], i: number) {
  return {
    idPrime: hex(nth(dumps, "IDx'", i).bytes),
    SK_p: hex(nth(dumps, 'SK_p', i).bytes),
    octets: hex(nth(dumps, "octets = message + nonce + prf(Sk_px, IDx')", i).bytes),
    prfSecretKeypad: hex(nth(dumps, 'prf(secret, keypad)', i).bytes),
    AUTH: hex(nth(dumps, 'AUTH = prf(prf(secret, keypad), octets)', i).bytes),
  };
}

async function capturePcap(pair: SitePair, path: string, during: () => Promise<void>): Promise<void> {
  const errPath = join(pair.lab.dir, 'dumpcap.err');
  const proc = pair.lab.spawnIn(pair.ns.a, ['dumpcap', '-q', '-i', pair.devs.a, '-P', '-f', 'udp port 500 or udp port 4500', '-w', path], { stderr: errPath });
  // Ready when dumpcap says it is capturing.
  const until = Date.now() + 15_000;
  while (!/Capturing on/.test(existsSync(errPath) ? readFileSync(errPath, 'utf8') : '')) {
    if (proc.exitCode !== null || Date.now() > until) throw new Error(`dumpcap did not start: ${existsSync(errPath) ? readFileSync(errPath, 'utf8') : ''}`);
    await sleep(20);
  }
  await during();
  // Wait until all four messages are in the file before stopping (dumpcap writes as it goes).
  const wait = Date.now() + 10_000;
  for (;;) {
    const r = await run('tshark', ['-r', path, '-T', 'fields', '-e', 'frame.number']);
    if (r.stdout.trim().split('\n').filter(Boolean).length >= 4) break;
    if (Date.now() > wait) break;
    await sleep(50);
  }
  const gone = new Promise((r) => proc.once('exit', r));
  proc.kill('SIGINT');
  await gone;
  chmodSync(path, 0o644); // dumpcap writes 0600
}

export async function captureCase(spec: KeymatCaseSpec, opts: { pcapPath?: string } = {}): Promise<Record<string, unknown>> {
  const pair = await startSitePair({ proposals: spec.proposals, espProposals: spec.espProposals, log: { ike: 4, chd: 4, enc: 4, cfg: 2, knl: 1, net: 1, lib: 1 } });
  try {
    const a = pair.a;
    if (opts.pcapPath) await capturePcap(pair, opts.pcapPath, () => a.initiate('net').then(() => undefined));
    else await a.initiate('net');
    const [sa0] = await a.listSas();
    const child0 = sa0.children[0];

    await a.rekeyChild('net');
    const sa1 = (await a.waitForSas((s) => s[0]?.children.some((c) => c.state === 'INSTALLED' && c.spiIn !== child0.spiIn), 10_000, 'the CHILD_SA rekey'))[0];
    const child1 = sa1.children.find((c) => c.state === 'INSTALLED' && c.spiIn !== child0.spiIn)!;
    await a.waitForLog(/CHILD_SA net\{\d+\} established/, 10_000, a.log().lastIndexOf('rekeying CHILD_SA') >= 0 ? a.log().lastIndexOf('rekeying CHILD_SA') : 0);

    await a.rekeyIke('net');
    const sa2 = (await a.waitForSas((s) => s.length === 1 && s[0].state === 'ESTABLISHED' && s[0].initiatorSpi !== sa0.initiatorSpi, 10_000, 'the IKE SA rekey'))[0];
    // b's log too: both sides must have derived the same keys.
    await pair.b.waitForSas((s) => s.length === 1 && s[0].initiatorSpi === sa2.initiatorSpi, 10_000, 'the peer to finish the IKE rekey');
    await a.waitForLog(/Sk_pr secret[\s\S]*Sk_pr secret/, 10_000);

    const log = a.log();
    const dumps = parseDumps(log);
    const bDumps = parseDumps(pair.b.log());
    for (const label of ['SKEYSEED', 'Sk_d secret', 'Sk_pr secret']) {
      for (const i of [0, 1]) {
        if (!nth(dumps, label, i).bytes.equals(nth(bDumps, label, i).bytes)) throw new Error(`${spec.name}: a and b logged different ${label} #${i}`);
      }
    }

    // Initial exchange: a's own AUTH (initiator) first, then b's (verified by a).
    const authI = authOf(dumps, 0);
    const authR = authOf(dumps, 1);
    const octI = Buffer.from(authI.octets!, 'hex');
    const octR = Buffer.from(authR.octets!, 'hex');
    const msg1 = ikeMessageFields(octI);
    const msg2 = ikeMessageFields(octR);
    const psk = nth(dumps, 'secret', 0, 'IKE').bytes;

    // IKE rekey nonces: the last generated/parsed before the second SKEYSEED; its g^ir is the second.
    const skeyseed2 = nth(dumps, 'SKEYSEED', 1).line;
    const nonces = nonceEvents(log, dumps).filter((e) => e.line < skeyseed2);
    const rekeyNi = [...nonces].reverse().find((e) => e.dir === 'generated')!.nonce;
    const rekeyNr = [...nonces].reverse().find((e) => e.dir === 'parsed')!.nonce;

    const childRekey = childKeys(dumps, 1);
    const childDh = spec.esp.pfs ? nth(dumps, 'DH secret', 0, 'CHD').bytes : undefined;
    const childSeed = Buffer.from(childRekey.seed!, 'hex');
    const nLen = (childSeed.length - (childDh?.length ?? 0)) / 2;

    const spis = (s: IkeSaInfo) => ({ spiI: s.initiatorSpi, spiR: s.responderSpi });
    return {
      name: spec.name,
      proposals: { swanctl: { ike: spec.proposals, esp: spec.espProposals }, ike: spec.ike, esp: spec.esp, charon: { encr: sa0.encrAlg, keysize: sa0.encrKeysize, integ: sa0.integAlg ?? null, prf: sa0.prfAlg, dh: sa0.dhGroup } },
      ikeSaInit: {
        request: octI.subarray(0, msg1.length).toString('hex'),
        response: octR.subarray(0, msg2.length).toString('hex'),
        spiI: msg1.spiI.toString('hex'),
        spiR: msg2.spiR.toString('hex'),
        Ni: msg1.nonce.toString('hex'),
        Nr: msg2.nonce.toString('hex'),
        KEi: { group: msg1.ke.group, data: msg1.ke.data.toString('hex') },
        KEr: { group: msg2.ke.group, data: msg2.ke.data.toString('hex') },
        ...ikeKeys(dumps, 0),
      },
      ikeAuth: { psk: psk.toString('hex'), pskText: psk.toString('utf8'), idI: 'a.example', idR: 'b.example', initiator: authI, responder: authR },
      child: {
        spiInitiatorToResponder: child0.spiOut,
        spiResponderToInitiator: child0.spiIn,
        ...childKeys(dumps, 0),
      },
      childRekey: {
        spiInitiatorToResponder: child1.spiOut,
        spiResponderToInitiator: child1.spiIn,
        gIR: hex(childDh),
        Ni: childSeed.subarray(childDh?.length ?? 0, (childDh?.length ?? 0) + nLen).toString('hex'),
        Nr: childSeed.subarray((childDh?.length ?? 0) + nLen).toString('hex'),
        ...childRekey,
      },
      ikeRekey: {
        ...spis(sa2),
        Ni: rekeyNi.toString('hex'),
        Nr: rekeyNr.toString('hex'),
        ...ikeKeys(dumps, 1),
      },
      pcap: opts.pcapPath ? IKE_PCAP : null,
    };
  } finally {
    await pair.lab.destroy();
  }
}

export async function captureKeymat(): Promise<Record<string, unknown>> {
  const cases: Record<string, unknown>[] = [];
  for (const [i, spec] of KEYMAT_CASES.entries()) cases.push(await captureCase(spec, i === 0 ? { pcapPath: join(FIXTURE_DIR, IKE_PCAP) } : {}));
  const version = (await run('swanctl', ['--version'])).stderr.split('\n').find((l) => /strongSwan .* swanctl/.test(l)) ?? 'strongSwan';
  return {
    comment: [
      `IKEv2 key schedule as strongSwan computed it (${version.trim()}, charon with kernel-libipsec, Debian 12), for larval's known-answer tests (issue 13).`,
      'Produced by test/support/capture-keymat.ts (LARVAL_CAPTURE_KEYMAT=1 npx vitest run test/ike/keymat-fixture.test.ts): two charons in network namespaces,',
      "side a (192.0.2.1, id a.example) initiates, then rekeys the CHILD_SA and the IKE SA; values are read from charon's log at ike = 4, chd = 4, enc = 4.",
      'All byte strings are lowercase hex. SPIs as swanctl prints them. gIR = the shared DH secret (modp2048 left-padded to 256 octets).',
      'ikeSaInit.request/response are the IKE_SA_INIT messages as signed (RFC 7296 §2.15); ikeAuth.*.octets = message | peer nonce | prf(SK_p, IDx\'),',
      "AUTH = prf(prf(psk, 'Key Pad for IKEv2'), octets). child.seed = Ni | Nr (§2.17); childRekey.seed = [g^ir |] Ni | Nr of the CREATE_CHILD_SA;",
      "KEYMAT = prf+(SK_d, seed) = encrI | integI | encrR | integR (GCM keys include the 4-octet salt). ikeRekey: SKEYSEED = prf(old SK_d, g^ir | Ni | Nr) (§2.18),",
      `new keys = prf+(SKEYSEED, Ni | Nr | SPIi | SPIr). ${IKE_PCAP} is the first case's IKE_SA_INIT + IKE_AUTH on the veth (IKE_AUTH on 4500 with the non-ESP marker);`,
      "its IKE_AUTH decrypts with that case's SK_ei/SK_er. The PSK is the harness's public test key.",
    ].join(' '),
    cases,
  };
}

export async function writeKeymatFixture(path = KEYMAT_FIXTURE): Promise<void> {
  const data = await captureKeymat();
  writeFileSync(path, JSON.stringify(data, null, 2) + '\n');
}
