// setkey(8) statements -> Config: every statement checked as the engine would check
// it, errors at the offending token's line and column (the grammar is in setkey.ts).

import { type Family, formatAddress, formatPrefix, maskWord, parseAddress } from '../common/addr.js';
import { type ErrorCode, LarvalError } from '../common/errors.js';
import type { EncryptionAlgorithm, IntegrityAlgorithm } from '../esp/algorithms.js';
import { checkEspKeys, hexBytes } from '../esp/keys.js';
import { PROTOCOLS, PROTO_AH, isIcmp, protocolName } from '../common/protocols.js';
import type { Direction, IpsecMode, LifetimeLimits, PolicySpec, SaSpec, Template, TemplateLevel } from '../engine/types.js';
import { type NormalizedPolicy, normalizePolicy, normalizeSa } from '../engine/validate.js';
import { ConfigError, type ConfigPosition } from './config-error.js';
import { at, Cursor, quote, shown, tokenize, type Statement, type Token } from './setkey-tokenizer.js';
import { policySpec, saSpec, selectorKey, type Config, type ConfigOperation, type ConfigPolicy, type ConfigSa, type ConfigSelector } from './setkey-types.js';

// ---------------------------------------------------------------------------
// Constants

const PRIORITY_LOW = 0xc0000000;
const PRIORITY_DEFAULT = 0x80000000;
const PRIORITY_HIGH = 0x40000000;
const PRIORITY_OFFSET_POSITIVE_MAX = 0x3fffffff;
const PRIORITY_OFFSET_NEGATIVE_MAX = 0x40000000;
const PRIORITY_BASES: Record<string, number> = { low: PRIORITY_LOW, def: PRIORITY_DEFAULT, high: PRIORITY_HIGH };
const U32_MAX = 0xffffffff;
const MAX_UNIQUE_ID = 32767;

const ENCRYPTION: Record<string, EncryptionAlgorithm> = { 'aes-gcm-16': 'aes-gcm-16', 'aes-cbc': 'aes-cbc', 'rijndael-cbc': 'aes-cbc', 'chacha20-poly1305': 'chacha20-poly1305' };
const INTEGRITY: Record<string, IntegrityAlgorithm> = { 'hmac-sha256': 'hmac-sha256-128', 'hmac-sha2-256': 'hmac-sha256-128', 'hmac-sha1': 'hmac-sha1-96' };
// What setkey itself knows but larval does not compute: a different message than a typo.
const SETKEY_ENCRYPTION = ['des-cbc', '3des-cbc', 'null', 'simple', 'blowfish-cbc', 'cast128-cbc', 'des-deriv', 'des-32iv', 'twofish-cbc', 'aes-ctr', 'camellia-cbc', 'aes-gmac'];
const SETKEY_INTEGRITY = ['hmac-md5', 'keyed-md5', 'keyed-sha1', 'null', 'hmac-sha384', 'hmac-sha2-384', 'hmac-sha512', 'hmac-sha2-512', 'hmac-ripemd160', 'aes-xcbc-mac', 'tcp-md5'];
const UPPER_EXTRA: Record<string, number> = { ip4: 4, ipencap: 4 };
const SA_OPTIONS = ['-m', '-r', '-u', '-f', '-lh', '-ls', '-bh', '-bs', '-esn', '-E', '-A'];
const STATEMENTS = ['add', 'update', 'delete', 'deleteall', 'flush', 'spdadd', 'spdupdate', 'spddelete', 'spdflush'];
const UNSUPPORTED_STATEMENTS: Record<string, string> = {
  get: "'get' shows one SA of the kernel; larval's configuration has nothing to show (use engine.getSA() or dump())",
  getspi: "'getspi' (a larval SA from the kernel) is not supported: larval SAs come from the engine's ACQUIREs",
  dump: "'dump' is not supported: it only prints the kernel's SAD (use engine.dump())",
  spddump: "'spddump' is not supported: it only prints the kernel's SPD (use engine.dump())",
  exit: "'exit' is not supported: end the file instead",
  quit: "'quit' is not supported: end the file instead",
  bye: "'bye' is not supported: end the file instead",
};

// ---------------------------------------------------------------------------
// Parsing

interface AddressFlags {
  family: Family | null;
}

interface HostAddr {
  text: string; // canonical
  family: Family;
  port: number | null; // null: none written; 0: [any] or [0]
  portPos: ConfigPosition | null;
}

interface Range {
  prefix: string; // canonical address/len
  family: Family;
  port: number | null; // null: any
  portPos: ConfigPosition;
}

type Positions = Record<string, ConfigPosition>;

interface SaRecord {
  sa: ConfigSa;
  key: string; // spi|dst
}

interface PolicyRecord {
  policy: ConfigPolicy;
  key: string; // selector and direction
}

/** What saHead() read: endpoints, protocol and SPI, with their positions. */
interface SaHead {
  src: HostAddr;
  dst: HostAddr;
  proto: 'esp' | 'ah';
  udp: boolean;
  protoTok: Token;
  spi: number;
  pos: Positions;
}

/** What saExtensions() read. */
interface SaExtensions {
  mode: IpsecMode;
  reqid?: number;
  replay?: number;
  pad?: ConfigSa['pad'];
  noCyclicSeq: boolean;
  esn: boolean;
  life: { hard: LifetimeLimits; soft: LifetimeLimits };
  lifeTok: Record<string, Token>;
  encryption?: ConfigSa['encryption'];
  integrity?: ConfigSa['integrity'];
  eTok?: Token;
  aTok?: Token;
}

// The ConfigSa of an add/update statement, with only the fields it set.
function buildSa(head: Token, h: SaHead, x: SaExtensions): ConfigSa {
  const { src, dst, proto, udp, spi } = h;
  const lifetime: NonNullable<SaSpec['lifetime']> = {};
  if (Object.keys(x.life.soft).length) lifetime.soft = x.life.soft;
  if (Object.keys(x.life.hard).length) lifetime.hard = x.life.hard;
  return {
    spi, src: src.text, dst: dst.text, proto, mode: x.mode,
    ...(x.reqid !== undefined ? { reqid: x.reqid } : {}),
    ...(x.esn ? { esn: x.esn } : {}),
    ...(lifetime.soft || lifetime.hard ? { lifetime } : {}),
    // ah is selected but never computed here: its key is parsed (and checked for
    // shape) but not kept, so the SA installs without keys.
    ...(proto === 'esp' && x.encryption ? { encryption: x.encryption } : {}),
    ...(proto === 'esp' && x.integrity ? { integrity: x.integrity } : {}),
    ...(udp ? { encap: { ...(src.port ? { sport: src.port } : {}), ...(dst.port ? { dport: dst.port } : {}) } } : {}),
    ...(x.replay !== undefined ? { replay: x.replay } : {}),
    ...(x.pad ? { pad: x.pad } : {}),
    ...(x.noCyclicSeq ? { noCyclicSeq: x.noCyclicSeq } : {}),
    ...at(head),
  };
}

class Parser {
  readonly operations: ConfigOperation[] = [];
  private sas: SaRecord[] = [];
  private policies: PolicyRecord[] = [];

  constructor(readonly file: string | undefined) {}

  error(pos: ConfigPosition, reason: string, details: { code?: ErrorCode; field?: string } = {}): ConfigError {
    return new ConfigError(reason, pos, this.file, details);
  }

  result(): Config {
    return {
      ...(this.file !== undefined ? { file: this.file } : {}),
      policies: this.policies.map((p) => p.policy),
      sas: this.sas.map((s) => s.sa),
      operations: this.operations,
    };
  }

  statement(st: Statement): void {
    const c = new Cursor(st.tokens, st.end, this);
    const head = c.next()!;
    const word = head.quoted ? '' : head.text;
    switch (word) {
      case 'add':
      case 'update':
        return this.saStatement(c, head, word);
      case 'delete':
        return this.deleteStatement(c, head);
      case 'deleteall':
        return this.deleteAllStatement(c, head);
      case 'flush': {
        const t = c.next();
        const proto = t ? this.saProtocol(t).proto : undefined;
        c.done("flush takes at most a protocol");
        const pos = at(head);
        this.operations.push({ op: 'flush', ...(proto ? { proto } : {}), ...pos });
        this.sas = proto ? this.sas.filter((s) => (s.sa.proto ?? 'esp') !== proto) : [];
        return;
      }
      case 'spdadd':
      case 'spdupdate':
      case 'spddelete':
        return this.spdStatement(c, head, word);
      case 'spdflush':
        c.done('spdflush takes no arguments');
        this.operations.push({ op: 'spdflush', ...at(head) });
        this.policies = [];
        return;
    }
    if (UNSUPPORTED_STATEMENTS[word]) throw this.error(at(head), UNSUPPORTED_STATEMENTS[word]);
    throw this.error(at(head), `unknown statement ${shown(head)} (expected ${STATEMENTS.join(', ')})`);
  }

  // --- numbers ---------------------------------------------------------------

  private decimal(t: Token, what: string, lo: number, hi: number): number {
    if (t.quoted || !/^\d+$/.test(t.text)) throw this.error(at(t), `expected ${what} (a decimal number ${lo}..${hi}), got ${shown(t)}`);
    const v = Number(t.text);
    if (!Number.isSafeInteger(v) || v < lo || v > hi) throw this.error(at(t), `${what} ${t.text} is out of range (expected ${lo}..${hi})`);
    return v;
  }

  private spi(t: Token): number {
    let v: number;
    if (!t.quoted && /^\d+$/.test(t.text)) v = Number(t.text);
    else if (!t.quoted && /^0x[0-9a-f]+$/i.test(t.text)) v = parseInt(t.text.slice(2), 16);
    else throw this.error(at(t), `expected an SPI (decimal, or hex with 0x), got ${shown(t)}`);
    if (v > U32_MAX) throw this.error(at(t), `SPI ${shown(t)} does not fit in 32 bits (expected 256..4294967295)`);
    if (v < 256) {
      throw this.error(at(t), `SPI ${v} is reserved: SPIs 0..255 are reserved by IANA (RFC 4303 §2.1) and larval refuses them; use 256..4294967295`, { field: 'spi' });
    }
    return v;
  }

  // --- addresses -------------------------------------------------------------

  private flags(c: Cursor): AddressFlags {
    const f: AddressFlags = { family: null };
    for (let t = c.peek(); t && !t.quoted && /^-[46n]+$/.test(t.text); t = c.peek()) {
      c.next();
      for (const ch of t.text.slice(1)) if (ch !== 'n') f.family = ch === '4' ? 4 : 6;
    }
    return f;
  }

  /** A numeric address: `text` at `pos`. */
  private address(text: string, pos: ConfigPosition, what: string, flags?: AddressFlags): { text: string; family: Family; words: Uint32Array } {
    if (text === '') throw this.error(pos, `expected ${what}`);
    let a: ReturnType<typeof parseAddress>;
    try {
      a = parseAddress(text, what);
    } catch {
      const s = quote(text);
      if (text.includes('%')) throw this.error(pos, `${what} ${s}: scoped IPv6 addresses (%zone) are not supported`);
      if (text.includes(':')) throw this.error(pos, `${what} ${s} is not a valid IPv6 address`);
      if (/^[0-9.]+$/.test(text)) throw this.error(pos, `${what} ${s} is not a valid IPv4 address`);
      throw this.error(pos, `${what} ${s} is not a numeric address: larval does not resolve host names (as with setkey -n)`);
    }
    if (flags?.family && a.family !== flags.family) throw this.error(pos, `${what} ${text} is IPv${a.family}, but -${flags.family} restricts the statement to IPv${flags.family}`);
    return { text: formatAddress(a.family, a.words), family: a.family, words: a.words };
  }

  /** An SA endpoint: `address` or `address[port]`. */
  private hostAddr(t: Token, what: string, flags: AddressFlags): HostAddr {
    if (t.quoted) throw this.error(at(t), `expected ${what}, got ${shown(t)}`);
    const m = /^([^[\]/]*)(?:\[([^\]]*)\])?$/.exec(t.text);
    if (!m) {
      if (t.text.includes('/')) throw this.error(at(t), `${what} is an address, not a prefix: got ${shown(t)}`);
      throw this.error(at(t), `expected ${what} (address or address[port]), got ${shown(t)}`);
    }
    const a = this.address(m[1], at(t), what, flags);
    let port: number | null = null;
    let portPos: ConfigPosition | null = null;
    if (m[2] !== undefined) {
      portPos = at(t, m[1].length + 1);
      port = this.port(m[2], portPos);
    }
    return { text: a.text, family: a.family, port, portPos };
  }

  private port(text: string, pos: ConfigPosition): number {
    if (text === 'any') return 0;
    if (/^\d+$/.test(text) && Number(text) <= 65535) return Number(text);
    if (/^\d+\s*[-:,]\s*\d+$/.test(text)) throw this.error(pos, `port ${quote(text)}: setkey has no port ranges; give one port or 'any'`);
    throw this.error(pos, `expected a port 0..65535 or 'any' between the brackets, got ${quote(text)}`);
  }

  /** A selector range: address[/prefixlen][[port]]. */
  private range(t: Token, what: string, flags: AddressFlags): Range {
    const m = t.quoted ? null : /^([^[\]/]*)(?:\/([^[\]]*))?(?:\[([^\]]*)\])?$/.exec(t.text);
    if (!m) throw this.error(at(t), `expected ${what}: address, address/prefixlen, address[port] or address/prefixlen[port]; got ${shown(t)}`);
    const a = this.address(m[1], at(t), what, flags);
    const max = a.family === 4 ? 32 : 128;
    let len = max;
    if (m[2] !== undefined) {
      const lenPos = at(t, m[1].length + 1);
      if (!/^\d{1,3}$/.test(m[2]) || Number(m[2]) > max) throw this.error(lenPos, `prefix length ${quote(m[2])} of ${what}: expected 0..${max} for IPv${a.family}`);
      len = Number(m[2]);
      const masked = Uint32Array.from(a.words, (w, i) => (w & maskWord(len, i)) >>> 0);
      if (masked.some((w, i) => w !== a.words[i])) {
        throw this.error(at(t), `${what} ${m[1]}/${len} has host bits set below the /${len} mask (did you mean ${formatPrefix(a.family, masked, len)}?)`);
      }
    }
    const portOffset = m[1].length + (m[2] !== undefined ? m[2].length + 1 : 0) + 1;
    const portPos = at(t, portOffset);
    let port: number | null = null;
    if (m[3] !== undefined) {
      const p = this.port(m[3], portPos);
      port = p === 0 ? null : p; // PF_KEY: port 0 is any
    }
    return { prefix: formatPrefix(a.family, a.words, len), family: a.family, port, portPos };
  }

  // --- SAs -------------------------------------------------------------------

  private saProtocol(t: Token): { proto: 'esp' | 'ah'; udp: boolean } {
    switch (t.quoted ? '' : t.text) {
      case 'esp':
        return { proto: 'esp', udp: false };
      case 'esp-udp':
        return { proto: 'esp', udp: true };
      case 'ah':
        return { proto: 'ah', udp: false };
      case 'esp-old':
      case 'ah-old':
        throw this.error(at(t), `${shown(t)} (RFC 1827/1826 framing) is not supported (supported: esp, esp-udp, ah)`);
      case 'ipcomp':
        throw this.error(at(t), "'ipcomp' is not supported: larval has no IPComp (supported: esp, esp-udp, ah)");
      case 'tcp':
        throw this.error(at(t), "'tcp' (TCP-MD5 signatures) is not supported (supported: esp, esp-udp, ah)");
    }
    throw this.error(at(t), `expected a protocol (esp, esp-udp or ah), got ${shown(t)}`);
  }

  private key(t: Token | undefined, after: string, c: Cursor): Uint8Array {
    if (!t) throw this.error(c.end, `expected the key after ${after} before ';'`);
    if (t.quoted) return new TextEncoder().encode(t.text);
    if (/^0x/i.test(t.text)) {
      const hex = t.text.slice(2);
      if (hex === '' || !/^[0-9a-f]+$/i.test(hex)) throw this.error(at(t), `the key after ${after} is not hex: expected 0x and hex digits (the key is not shown)`);
      if (hex.length % 2 !== 0) {
        throw this.error(at(t), `the key after ${after} has an odd number of hex digits (${hex.length}): write whole octets (the key is not shown)`);
      }
      return hexBytes(hex);
    }
    if (/^-[A-Za-z]/.test(t.text) && t.text.length <= 10) throw this.error(at(t), `expected the key after ${after}, got the option ${shown(t)}`);
    throw this.error(at(t), `the key after ${after} must be 0x-prefixed hex or a "quoted string" (the key is not shown)`);
  }

  private algorithm<T>(t: Token | undefined, kind: 'encryption' | 'authentication', table: Record<string, T>, setkeyKnows: string[], c: Cursor, flag: string): T {
    const supported = Object.keys(table).join(', ');
    if (!t) throw this.error(c.end, `expected an ${kind} algorithm after ${flag} before ';' (supported: ${supported})`);
    if (!t.quoted && Object.prototype.hasOwnProperty.call(table, t.text)) return table[t.text];
    if (t.quoted || /^0x/i.test(t.text)) {
      throw this.error(at(t), `expected an ${kind} algorithm after ${flag}, got what looks like a key (not shown); supported: ${supported}`);
    }
    if (setkeyKnows.includes(t.text)) throw this.error(at(t), `${kind} algorithm ${shown(t)} is not supported by larval (supported: ${supported})`);
    throw this.error(at(t), `unknown ${kind} algorithm ${shown(t)} (known: ${supported})`);
  }

  // -E / -A: the algorithm and its key after flag token `flag`, with their positions.
  private transform<T>(flag: Token, c: Cursor, field: 'encryption' | 'integrity', table: Record<string, T>, setkeyKnows: string[], pos: Positions): { algorithm: T; key: Uint8Array } {
    const algTok = c.next();
    const algorithm = this.algorithm(algTok, field === 'encryption' ? 'encryption' : 'authentication', table, setkeyKnows, c, flag.text);
    const keyTok = c.next();
    const key = this.key(keyTok, `${flag.text} ${algTok!.text}`, c);
    pos[field] = at(flag);
    pos[`${field}.algorithm`] = at(algTok!);
    pos[`${field}.key`] = at(keyTok!);
    return { algorithm, key };
  }

  // The flags, source and destination that add, update, delete and deleteall start with.
  private saEndpoints(c: Cursor) {
    const flags = this.flags(c);
    const srcTok = c.expect('the source address');
    const src = this.hostAddr(srcTok, 'source address', flags);
    const dstTok = c.expect('the destination address');
    const dst = this.hostAddr(dstTok, 'destination address', flags);
    if (src.family !== dst.family) throw this.error(at(dstTok), `destination ${dst.text} is IPv${dst.family} but the source ${src.text} is IPv${src.family}`);
    return { flags, srcTok, src, dstTok, dst };
  }

  // add/update: endpoints, protocol and SPI, then the extensions and algorithms,
  // checked together, then recorded (an update replaces the SA it names).
  private saStatement(c: Cursor, head: Token, op: 'add' | 'update'): void {
    const h = this.saHead(c, head);
    const x = this.saExtensions(c, h.pos);
    this.checkSaExtensions(c, h.proto, x, h.pos);
    const sa = buildSa(head, h, x);
    this.validateSa(sa, h.pos);
    this.recordSa(op, head, h.protoTok, sa);
  }

  // src dst protocol spi: the part every SA statement starts with.
  private saHead(c: Cursor, head: Token): SaHead {
    const { srcTok, src, dstTok, dst } = this.saEndpoints(c);
    const protoTok = c.expect('a protocol (esp, esp-udp or ah)');
    const { proto, udp } = this.saProtocol(protoTok);
    if (udp) {
      const n = c.peek();
      if (n && !n.quoted && !/^(\d+|0x[0-9a-f]+)$/i.test(n.text)) {
        throw this.error(at(n), `NAT-OA addresses after esp-udp are not supported: expected the SPI, got ${shown(n)}`);
      }
    }
    for (const a of [src, dst]) {
      if (a.portPos && !udp) throw this.error(a.portPos, `ports on SA addresses are for esp-udp (UDP encapsulation, RFC 3948) only; this SA is ${proto}`);
    }
    const spiTok = c.expect('an SPI');
    const spi = this.spi(spiTok);
    const pos: Positions = { '': at(head), spi: at(spiTok), src: at(srcTok), dst: at(dstTok), proto: at(protoTok), encap: at(protoTok) };
    return { src, dst, proto, udp, protoTok, spi, pos };
  }

  // The extensions (-m -r -u -f -lh -ls -bh -bs -esn) and algorithms (-E -A), each at most once.
  private saExtensions(c: Cursor, pos: Positions): SaExtensions {
    const seen = new Map<string, Token>();
    const x: SaExtensions = { mode: 'transport', noCyclicSeq: false, esn: false, life: { hard: {}, soft: {} }, lifeTok: {} };
    for (let t = c.next(); t; t = c.next()) {
      const o = t.quoted ? '' : t.text;
      if (SA_OPTIONS.includes(o) && o !== '-f') {
        const first = seen.get(o);
        if (first) throw this.error(at(t), `${o} is given twice (first at ${first.line}:${first.column})`);
        seen.set(o, t);
      }
      switch (o) {
        case '-m': {
          const v = c.expect('a mode after -m (transport, tunnel or any)');
          if (v.text === 'tunnel' || v.text === 'transport') x.mode = v.text;
          else if (v.text === 'any') x.mode = 'transport';
          else throw this.error(at(v), `expected a mode after -m (transport, tunnel or any), got ${shown(v)}`);
          pos.mode = at(v);
          break;
        }
        case '-r':
          x.replay = this.decimal(c.expect('a replay window size after -r'), 'replay window size', 0, U32_MAX);
          break;
        case '-u': {
          const v = c.expect('a reqid after -u');
          x.reqid = this.decimal(v, 'reqid', 0, U32_MAX);
          pos.reqid = at(v);
          break;
        }
        case '-f': {
          const v = c.expect('a pad option after -f (zero-pad, random-pad, seq-pad or nocyclic-seq)');
          if (v.text === 'zero-pad' || v.text === 'random-pad' || v.text === 'seq-pad') {
            if (x.pad) throw this.error(at(v), `a second pad option: -f ${x.pad} is already given`);
            x.pad = v.text;
          } else if (v.text === 'nocyclic-seq') x.noCyclicSeq = true;
          else throw this.error(at(v), `expected zero-pad, random-pad, seq-pad or nocyclic-seq after -f, got ${shown(v)}`);
          break;
        }
        case '-lh':
        case '-ls': {
          const v = c.expect(`a time in seconds after ${o}`);
          const s = this.decimal(v, `${o} lifetime (seconds)`, 0, Math.floor(Number.MAX_SAFE_INTEGER / 1000));
          x.lifeTok[o] = v;
          if (s > 0) x.life[o === '-lh' ? 'hard' : 'soft'].addTime = s * 1000; // 0: no limit, as in PF_KEY
          pos[`lifetime.${o === '-lh' ? 'hard' : 'soft'}.addTime`] = at(v);
          break;
        }
        case '-bh':
        case '-bs': {
          const v = c.expect(`a byte count after ${o}`);
          const b = this.decimal(v, `${o} lifetime (bytes)`, 0, Number.MAX_SAFE_INTEGER);
          x.lifeTok[o] = v;
          if (b > 0) x.life[o === '-bh' ? 'hard' : 'soft'].bytes = b;
          pos[`lifetime.${o === '-bh' ? 'hard' : 'soft'}.bytes`] = at(v);
          break;
        }
        case '-esn':
          x.esn = true;
          pos.esn = at(t);
          break;
        case '-E':
          x.eTok = t;
          x.encryption = this.transform(t, c, 'encryption', ENCRYPTION, SETKEY_ENCRYPTION, pos);
          break;
        case '-A':
          x.aTok = t;
          x.integrity = this.transform(t, c, 'integrity', INTEGRITY, SETKEY_INTEGRITY, pos);
          break;
        case '-C':
          throw this.error(at(t), "-C (IPComp) is not supported: larval has no IPComp");
        case '-ctx':
          throw this.error(at(t), '-ctx (security context labels) is not supported');
        case '-natt':
        case '-natt_mtu':
          throw this.error(at(t), `${o} is not supported: write the protocol as esp-udp and the ports as src[port] dst[port]`);
        case '-hwif':
          throw this.error(at(t), '-hwif (if_ipsec interfaces) is not supported');
        default:
          if (o.startsWith('-') && o.length <= 10) throw this.error(at(t), `unknown option ${shown(t)} (known: ${SA_OPTIONS.join(', ')})`);
          throw this.error(at(t), `unexpected ${shown(t)}: expected an extension (-m, -u, -r, -f, -lh, -ls, -bh, -bs, -esn), an algorithm (-E, -A) or ';'`);
      }
    }

    return x;
  }

  // What the extensions must satisfy together: the algorithms the protocol needs,
  // soft lifetimes not above the hard ones.
  private checkSaExtensions(c: Cursor, proto: 'esp' | 'ah', x: SaExtensions, pos: Positions): void {
    // An engine complaint about integrity with no -A given points at -E.
    if (!pos.integrity && x.eTok) pos.integrity = at(x.eTok);
    if (proto === 'esp') {
      if (!x.encryption) {
        if (x.aTok) throw this.error(at(x.aTok), 'an esp SA needs -E ealgo key first: -A alone is for ah (supported: -E aes-gcm-16 KEY, or -E aes-cbc KEY -A hmac-sha256 KEY)');
        throw this.error(c.end, 'expected -E ealgo key before \';\': an esp SA needs an encryption algorithm (aes-gcm-16, aes-cbc, rijndael-cbc)');
      }
    } else {
      if (x.eTok) throw this.error(at(x.eTok), 'ah takes no -E: it only authenticates (-A aalgo key)');
      if (!x.integrity) throw this.error(c.end, "expected -A aalgo key before ';': an ah SA needs an authentication algorithm (hmac-sha256, hmac-sha1)");
    }
    for (const [soft, hard, kind, unit] of [['-ls', '-lh', 'addTime', 'seconds'], ['-bs', '-bh', 'bytes', 'bytes']] as const) {
      const s = x.life.soft[kind];
      const h = x.life.hard[kind];
      if (s !== undefined && h !== undefined && s > h) {
        throw this.error(at(x.lifeTok[soft]), `the soft lifetime ${soft} ${x.lifeTok[soft].text} exceeds the hard one ${hard} ${x.lifeTok[hard].text} (${unit})`);
      }
    }
  }

  // add refuses an SA that is there; update replaces it (same protocol only).
  private recordSa(op: 'add' | 'update', head: Token, protoTok: Token, sa: ConfigSa): void {
    const { spi, dst, proto } = sa;
    const key = `${spi}|${dst}`;
    const existing = this.sas.find((s) => s.key === key);
    if (op === 'add') {
      if (existing) {
        throw this.error(at(head), `an SA with SPI 0x${spi.toString(16)} to ${dst} is already added at ${existing.sa.line}:${existing.sa.column} (use update to replace it)`, { code: 'EEXIST', field: 'spi' });
      }
    } else if (existing) {
      if ((existing.sa.proto ?? 'esp') !== proto) {
        throw this.error(at(protoTok), `update: the SA with SPI 0x${spi.toString(16)} to ${dst} added at ${existing.sa.line}:${existing.sa.column} is ${existing.sa.proto}, not ${proto}`);
      }
      this.sas = this.sas.filter((s) => s !== existing);
    }
    this.sas.push({ sa, key });
    this.operations.push({ op, sa, ...at(head) });
  }

  /** The engine's own checks (fields, lifetimes, ESP keys), with the position of the token at fault. */
  private validateSa(sa: ConfigSa, pos: Positions): void {
    const spec = saSpec(sa);
    this.engineCheck(pos, () => {
      const n = normalizeSa(spec);
      checkEspKeys(spec, n.proto === PROTO_AH ? 'ah' : 'esp');
    });
  }

  private engineCheck(pos: Positions, check: () => void): void {
    try {
      check();
    } catch (err) {
      if (!(err instanceof LarvalError) || err instanceof ConfigError) throw err;
      let field = err.field ?? '';
      while (field && !pos[field]) field = field.includes('.') ? field.slice(0, field.lastIndexOf('.')) : '';
      throw this.error(pos[field] ?? pos[''], err.message, { code: err.code, field: err.field });
    }
  }

  private deleteStatement(c: Cursor, head: Token): void {
    const { srcTok, src, dstTok, dst } = this.saEndpoints(c);
    for (const a of [src, dst]) if (a.portPos) throw this.error(a.portPos, 'delete names an SA by SPI and destination: no ports');
    const { proto } = this.saProtocol(c.expect('a protocol (esp, esp-udp or ah)'));
    const spi = this.spi(c.expect('an SPI'));
    c.done('delete takes: src dst protocol spi');
    this.operations.push({ op: 'delete', proto, src: src.text, dst: dst.text, spi, ...at(head) });
    this.sas = this.sas.filter((s) => !(s.sa.spi === spi && s.sa.dst === dst.text && (s.sa.proto ?? 'esp') === proto));
  }

  private deleteAllStatement(c: Cursor, head: Token): void {
    const { srcTok, src, dstTok, dst } = this.saEndpoints(c);
    for (const a of [src, dst]) if (a.portPos) throw this.error(a.portPos, 'deleteall names SAs by their endpoints: no ports');
    const { proto } = this.saProtocol(c.expect('a protocol (esp, esp-udp or ah)'));
    c.done('deleteall takes: src dst protocol');
    this.operations.push({ op: 'deleteall', proto, src: src.text, dst: dst.text, ...at(head) });
    this.sas = this.sas.filter((s) => !(s.sa.src === src.text && s.sa.dst === dst.text && (s.sa.proto ?? 'esp') === proto));
  }

  // --- policies --------------------------------------------------------------

  private upper(t: Token): number | null {
    const s = t.quoted ? '' : t.text.toLowerCase();
    if (s === 'any') return null;
    if (/^\d+$/.test(s)) {
      const n = Number(s);
      if (n > 255) throw this.error(at(t), `upper-layer protocol ${t.text} is out of range (expected 0..255)`);
      return n === 0 || n === 255 ? null : n; // PF_KEY: IPSEC_ULPROTO_ANY (255), and 0 in Linux selectors
    }
    const n = UPPER_EXTRA[s] ?? PROTOCOLS[s];
    if (n !== undefined) return n;
    throw this.error(at(t), `unknown upper-layer protocol ${shown(t)} (expected any, a number 0..255, or one of ${[...Object.keys(PROTOCOLS), 'ip4'].join(', ')})`);
  }

  private spdStatement(c: Cursor, head: Token, op: 'spdadd' | 'spdupdate' | 'spddelete'): void {
    const first = c.peek();
    if (first && first.text === 'tagged' && !first.quoted) throw this.error(at(first), `'${op} tagged' (PF tags) is not supported`);
    const flags = this.flags(c);
    const srcTok = c.expect('the source range (address, address/prefixlen, address[port] or address/prefixlen[port])');
    const src = this.range(srcTok, 'source range', flags);
    const dstTok = c.expect('the destination range');
    const dst = this.range(dstTok, 'destination range', flags);
    if (src.family !== dst.family) throw this.error(at(dstTok), `destination range ${dst.prefix} is IPv${dst.family} but the source range ${src.prefix} is IPv${src.family}`);
    const upTok = c.expect('an upper-layer protocol (any, tcp, udp, icmp, icmp6, a number, ...)');
    const proto = this.upper(upTok);
    const pos: Positions = { '': at(head), src: at(srcTok), dst: at(dstTok), proto: at(upTok), srcPort: src.portPos, dstPort: dst.portPos };

    let icmpType: number | undefined;
    let icmpCode: number | undefined;
    const misc = c.peek();
    if (misc && !misc.quoted && !misc.text.startsWith('-')) {
      c.next();
      if (proto !== null && isIcmp(proto)) {
        const m = /^(\d{1,3})(?:,(\d{1,3}))?$/.exec(misc.text);
        if (!m || Number(m[1]) > 255 || (m[2] !== undefined && Number(m[2]) > 255)) {
          throw this.error(at(misc), `expected an ICMP type[,code] (0..255 each) after ${upTok.text}, got ${shown(misc)}`);
        }
        // 0 is the kernels' wildcard (they cannot tell type 0 from any).
        if (Number(m[1]) !== 0) icmpType = Number(m[1]);
        if (m[2] !== undefined && Number(m[2]) !== 0) icmpCode = Number(m[2]);
        pos.icmpType = at(misc);
        pos.icmpCode = at(misc, m[1].length + 1);
      } else if (proto === 47) {
        throw this.error(at(misc), 'GRE keys in selectors are not supported');
      } else {
        throw this.error(at(misc), `unexpected ${shown(misc)} after the upper-layer protocol: expected -P (only icmp and icmp6 take a type,code)`);
      }
    }
    const ctx = c.peek();
    if (ctx && ctx.text === '-ctx' && !ctx.quoted) throw this.error(at(ctx), '-ctx (security context labels) is not supported');
    const pTok = c.expect('the policy: -P in|out|fwd ...');
    if (pTok.quoted || pTok.text !== '-P') throw this.error(at(pTok), `expected the policy (-P in|out|fwd ...), got ${shown(pTok)}`);
    const policy = this.policy(c, op === 'spddelete', pos);

    const selector = {
      dir: policy.dir,
      src: src.prefix,
      dst: dst.prefix,
      ...(proto !== null ? { proto: protocolName(proto) === String(proto) ? proto : protocolName(proto) } : {}),
      ...(src.port !== null ? { srcPort: src.port } : {}),
      ...(dst.port !== null ? { dstPort: dst.port } : {}),
      ...(icmpType !== undefined ? { icmpType } : {}),
      ...(icmpCode !== undefined ? { icmpCode } : {}),
    };
    if (op === 'spddelete') {
      let n!: NormalizedPolicy;
      this.engineCheck(pos, () => {
        n = normalizePolicy({ ...selector, action: 'bypass' });
      });
      const sel: ConfigSelector = { ...selector, ...at(head) };
      this.operations.push({ op, selector: sel, ...at(head) });
      const key = selectorKey(n);
      this.policies = this.policies.filter((p) => p.key !== key);
      return;
    }
    const cp: ConfigPolicy = {
      ...selector,
      priority: policy.priority,
      action: policy.action!,
      ...(policy.template ? { template: policy.template } : {}),
      ...at(head),
    };
    let n!: NormalizedPolicy;
    this.engineCheck(pos, () => {
      n = normalizePolicy(policySpec(cp));
    });
    const key = selectorKey(n);
    const existing = this.policies.find((p) => p.key === key);
    if (existing) {
      if (op === 'spdadd') {
        throw this.error(at(head), `a policy with the same selector and direction is already added at ${existing.policy.line}:${existing.policy.column} (use spdupdate to replace it)`, { code: 'EEXIST' });
      }
      this.policies = this.policies.filter((p) => p !== existing);
    }
    this.policies.push({ policy: cp, key });
    this.operations.push({ op, policy: cp, ...at(head) });
  }

  /** `-P` already read: direction [priority] [action [request]]. */
  private policy(c: Cursor, bare: boolean, pos: Positions): { dir: Direction; priority: number; action?: PolicySpec['action']; template?: Template } {
    const dirTok = c.expect('a direction after -P (in, out or fwd)');
    if (dirTok.text !== 'in' && dirTok.text !== 'out' && dirTok.text !== 'fwd') {
      throw this.error(at(dirTok), `expected a direction after -P (in, out or fwd), got ${shown(dirTok)}`);
    }
    const dir = dirTok.text as Direction;
    pos.dir = at(dirTok);
    let priority = PRIORITY_DEFAULT;
    const pt = c.peek();
    if (pt && (pt.text === 'prio' || pt.text === 'priority')) {
      c.next();
      priority = this.priority(c, pt);
      pos.priority = at(pt);
    }
    const actTok = c.next();
    if (!actTok) {
      if (bare) return { dir, priority };
      throw this.error(c.end, "expected the action (discard, none or ipsec ...) before ';'");
    }
    pos.action = at(actTok);
    switch (actTok.quoted ? '' : actTok.text) {
      case 'discard':
        c.done('discard takes no requests');
        return { dir, priority, action: 'discard' };
      case 'none':
        c.done('none takes no requests');
        return { dir, priority, action: 'bypass' };
      case 'ipsec': {
        const reqTok = c.expect('a request after ipsec, such as esp/tunnel/192.0.2.1-198.51.100.1/require');
        const template = this.request(reqTok, pos);
        const more = c.peek();
        if (more) {
          if (!more.quoted && /^(esp|ah|ipcomp)\//.test(more.text)) {
            throw this.error(at(more), 'SA bundles (more than one request) are not supported: a larval policy has one template');
          }
          c.done('one request');
        }
        return { dir, priority, action: 'protect', template };
      }
      case 'bypass':
      case 'entrust':
        throw this.error(at(actTok), `the '${actTok.text}' policy (for sockets) is not supported: use none to pass packets in clear`);
    }
    throw this.error(at(actTok), `expected the action (discard, none or ipsec), got ${shown(actTok)}`);
  }

  /** After `prio`: N | -N | low|def|high | low|def|high + N | low|def|high - N. */
  private priority(c: Cursor, prioTok: Token): number {
    const parts: { text: string; pos: ConfigPosition }[] = [];
    for (let t = c.peek(); t && !t.quoted && !['discard', 'none', 'ipsec', 'bypass', 'entrust'].includes(t.text); t = c.peek()) {
      c.next();
      const re = /[+-]|[^+-]+/g;
      for (let m = re.exec(t.text); m; m = re.exec(t.text)) parts.push({ text: m[0], pos: at(t, m.index) });
    }
    const expected = `expected a priority after ${prioTok.text}: N, -N, low|def|high, or low|def|high followed by + N or - N`;
    const num = (i: number, max: number, what: string): number => {
      const p = parts[i];
      if (!p) throw this.error(c.end, expected);
      if (!/^\d+$/.test(p.text)) throw this.error(p.pos, `${expected}; got ${quote(p.text)}`);
      const v = Number(p.text);
      if (!Number.isSafeInteger(v) || v > max) throw this.error(p.pos, `${what} ${p.text} is out of range (at most ${max})`);
      return v;
    };
    if (parts.length === 0) throw this.error(c.peek() ? at(c.peek()!) : c.end, expected);
    let value: number;
    let used: number;
    const base = PRIORITY_BASES[parts[0].text];
    if (base !== undefined) {
      if (parts.length === 1) {
        value = base;
        used = 1;
      } else if (parts[1].text === '+') {
        value = base - num(2, PRIORITY_OFFSET_NEGATIVE_MAX, 'priority offset');
        used = 3;
      } else if (parts[1].text === '-') {
        value = base + num(2, PRIORITY_OFFSET_POSITIVE_MAX, 'priority offset');
        used = 3;
      } else throw this.error(parts[1].pos, `${expected}; got ${quote(parts[1].text)}`);
    } else if (parts[0].text === '-') {
      value = PRIORITY_DEFAULT + num(1, 0x7fffffff, 'priority');
      used = 2;
    } else {
      value = PRIORITY_DEFAULT - num(0, PRIORITY_DEFAULT, 'priority');
      used = 1;
    }
    if (parts.length > used) throw this.error(parts[used].pos, `${expected}; then the action (discard, none or ipsec)`);
    return value;
  }

  /** protocol/mode[/src-dst[/level]] */
  private request(t: Token, pos: Positions): Template {
    if (t.quoted) throw this.error(at(t), `expected a request such as esp/tunnel/192.0.2.1-198.51.100.1/require, got ${shown(t)}`);
    const parts = t.text.split('/');
    const offs: number[] = [];
    let o = 0;
    for (const p of parts) {
      offs.push(o);
      o += p.length + 1;
    }
    const part = (i: number): ConfigPosition => at(t, offs[i]);
    pos.template = at(t);
    const protoText = parts[0];
    if (protoText === 'ipcomp') throw this.error(part(0), "'ipcomp' requests are not supported (supported: esp, ah)");
    if (protoText !== 'esp' && protoText !== 'ah') throw this.error(part(0), `expected esp or ah as the request's protocol, got ${quote(protoText)}`);
    pos['template.proto'] = part(0);
    if (parts.length < 2 || parts[1] === '') {
      throw this.error(parts.length < 2 ? { line: t.line, column: t.endColumn } : part(1), `expected a mode after ${protoText}/ (transport or tunnel)`);
    }
    if (parts.length > 4) throw this.error(part(4), 'a request is protocol/mode/src-dst/level: too many parts');
    const mode = parts[1];
    if (mode !== 'transport' && mode !== 'tunnel') throw this.error(part(1), `expected transport or tunnel as the request's mode, got ${quote(mode)}`);
    pos['template.mode'] = part(1);
    const ends = parts[2] ?? '';
    const levelText = parts[3] ?? '';
    const template: Template = { proto: protoText, mode };
    if (ends !== '') {
      const ep = part(2);
      pos['template.src'] = ep;
      if (ends === 'me-any' || ends === 'any-me') throw this.error(ep, `${quote(ends)} endpoints are not supported: give the tunnel endpoints as src-dst`);
      if (mode === 'transport') throw this.error(ep, `transport mode takes its endpoints from the packet: write ${protoText}/transport//${levelText || 'require'}`);
      const dash = ends.indexOf('-');
      if (dash < 0 || ends.indexOf('-', dash + 1) >= 0) throw this.error(ep, `expected the tunnel endpoints as src-dst (e.g. 192.0.2.1-198.51.100.1), got ${quote(ends)}`);
      const s = ends.slice(0, dash);
      const d = ends.slice(dash + 1);
      const dpos = at(t, offs[2] + dash + 1);
      pos['template.dst'] = dpos;
      if (s.includes('[') || d.includes('[')) throw this.error(s.includes('[') ? ep : dpos, 'ports in tunnel endpoints (ESP over UDP) are not supported');
      const sa = this.address(s, ep, 'tunnel source');
      const da = this.address(d, dpos, 'tunnel destination');
      if (sa.family !== da.family) throw this.error(dpos, `tunnel destination ${da.text} is IPv${da.family} but the tunnel source ${sa.text} is IPv${sa.family}`);
      template.src = sa.text;
      template.dst = da.text;
    } else if (mode === 'tunnel') {
      throw this.error(parts.length > 2 ? part(2) : { line: t.line, column: t.endColumn }, `tunnel mode needs the tunnel endpoints: ${protoText}/tunnel/SRC-DST/${levelText || 'require'}`);
    }
    const lpos = parts.length > 3 ? part(3) : { line: t.line, column: t.endColumn };
    pos['template.level'] = lpos;
    let level: TemplateLevel = 'require';
    if (levelText === '' || levelText === 'default' || levelText === 'require') level = 'require';
    else if (levelText === 'use') level = 'use';
    else if (levelText === 'unique') level = 'unique';
    else if (/^unique:/.test(levelText)) {
      const id = levelText.slice(7);
      if (!/^\d+$/.test(id) || Number(id) < 1 || Number(id) > MAX_UNIQUE_ID) throw this.error(at(t, offs[3] + 7), `expected a policy id 1..${MAX_UNIQUE_ID} after unique:, got ${quote(id)}`);
      level = 'unique';
      template.reqid = Number(id);
      pos['template.reqid'] = at(t, offs[3] + 7);
    } else throw this.error(lpos, `expected a level (default, use, require, unique or unique:N), got ${quote(levelText)}`);
    template.level = level;
    return template;
  }
}

/** Parse setkey(8) configuration text. `file` names it in error messages. */
export function parseSetkey(text: string, file?: string): Config {
  if (typeof text !== 'string') throw new LarvalError('EINVAL', `parseSetkey: expected the configuration text as a string, got ${typeof text}`, { field: 'text' });
  const parser = new Parser(file);
  for (const st of tokenize(text, file)) parser.statement(st);
  return parser.result();
}
