// swanctl.conf (strongSwan 5.9) -> SwanctlConfig, the subset a PSK site-to-site user
// writes (issue 13 "Configuration").
//
// parseSwanctl(text, file?) reads strongSwan's settings syntax and the swanctl.conf
// keys below; loadSwanctl(path) reads a file. Every error is a ConfigError (the setkey
// parser's error class): a LarvalError, code EINVAL, whose message starts with
// `file:line:column:` and says what was expected. Secrets never appear in a message:
// the value of every `secret = ...` (and anything after it on its line) is shown as
// "(not shown)", and quoted strings inside `secrets` are never echoed (R31).
//
// Syntax (strongswan.conf(5)):
//   section  := NAME '{' (section | setting)* '}'
//   setting  := KEY '=' VALUE   (the value ends at a newline, '#', '{' or '}')
//   `#` starts a comment outside quoted strings; quoted strings take \" \\ \n \t \r
//   and end on the line they start (larval's rule: see the lexer).
//   A value is a list of comma-separated items; words in one item are joined by
//   one space, as strongSwan joins them. `include` is refused with its own error.
// Unlike strongSwan, which merges a repeated section and lets a repeated key win,
// larval refuses duplicates: a second `rekey_time` in one section is almost always a
// mistake, and a merge would hide which one applies.
//
// Keys and defaults (strongSwan 5.9.8's, read from `swanctl.conf(5)` and checked
// against charon's "configured proposals" log line):
//   connections.NAME
//     version        0 (any) | 2; default 0. larval speaks IKEv2 only: 1 is an error.
//     local_addrs    IP literals or %any; default %any (= [] in the result: any local
//                    address). No names (larval never resolves), ranges or subnets.
//     remote_addrs   as local_addrs; default %any (= []: responder only)
//     local_port     default 500     remote_port   default 500
//     proposals      default: strongSwan's "default" limited to what larval computes:
//                    aes128/192/256-sha256/384/512/sha1-prf(same)-curve25519/ecp256/modp2048
//                    and aes128/192/256gcm16-prfsha256/384/512/sha1-(same groups)
//     encap          yes|no; default no
//     dpd_delay      duration; default 0s (no liveness checks)
//     rekey_time     duration; default 4h (IKE SA rekey)
//     local { auth = psk; id }   id default: the local address if local_addrs has one
//     remote { auth = psk; id }  id default: %any
//     children.NAME
//       local_ts / remote_ts   prefixes, optionally [proto] [proto/port] [proto/lo-hi];
//                              %any, %any4, %any6; `dynamic` (the default) = the single
//                              local/remote address as a host prefix
//       esp_proposals  default: aes128/192/256gcm16-noesn, aes128/192/256-sha256/384/512/sha1-noesn
//                      (the keyword `default` gives the same two in the other order, as
//                      charon 5.9.8 does; test/ike/config-strongswan.test.ts checks both)
//       mode           tunnel (the default; nothing else)
//       start_action   none | trap | start; default none
//       rekey_time     duration; default 1h          life_time  default rekey_time + 10%
//   secrets.ike[-X]  { id, id<suffix>..., secret }   secret: a string; 0x... hex and
//                    0s... base64 as strongSwan reads them (also inside quotes, as there)
//
// Durations: an integer with s, m, h or d (none: seconds), as strongSwan reads them.
// strongSwan settings larval does not implement (mobike, pools, certs, ...) each get
// an error saying so, distinct from a typo's "unknown key".

import { readFile } from 'node:fs/promises';
import { IKE_PORT } from '../../assembly/wire-defs.js';
import { parsePrefix } from '../common/addr.js';
import { ConfigError, type ConfigPosition } from '../config/setkey.js';
import { LarvalError } from '../common/errors.js';
import { PROTOCOLS, carriesPorts } from '../common/protocols.js';
import type {
  ChildConfig,
  DhGroup,
  EspProposal,
  IkeConnectionConfig,
  IkeEncr,
  IkeInteg,
  IkePrf,
  IkeProposal,
  IkeSecret,
  SwanctlConfig,
  TrafficSelectorConfig,
} from './config-types.js';
import { Secret } from './secret.js';

export { ConfigError };

// ---------------------------------------------------------------------------
// Defaults (strongSwan 5.9.8)

const DEFAULT_IKE_REKEY_MS = 4 * 3600_000;
const DEFAULT_CHILD_REKEY_MS = 3600_000;
/** life_time defaults to rekey_time + 10 %. */
const LIFE_OVER_REKEY = 1.1;

const ALL_AES_CBC: IkeEncr[] = [128, 192, 256].map((keyBits) => ({ alg: 'aes-cbc', keyBits }) as IkeEncr);
const ALL_AES_GCM: IkeEncr[] = [128, 192, 256].map((keyBits) => ({ alg: 'aes-gcm-16', keyBits }) as IkeEncr);
const DEFAULT_INTEG: IkeInteg[] = ['hmac-sha2-256-128', 'hmac-sha2-384-192', 'hmac-sha2-512-256', 'hmac-sha1-96'];
const DEFAULT_PRF: IkePrf[] = ['hmac-sha2-256', 'hmac-sha2-384', 'hmac-sha2-512', 'hmac-sha1'];
/** charon's default group order, restricted to larval's groups. */
const DEFAULT_DH: DhGroup[] = ['curve25519', 'ecp256', 'modp2048'];

export function defaultIkeProposals(): IkeProposal[] {
  return [
    { encr: [...ALL_AES_CBC], integ: [...DEFAULT_INTEG], prf: [...DEFAULT_PRF], dh: [...DEFAULT_DH] },
    { encr: [...ALL_AES_GCM], integ: [], prf: [...DEFAULT_PRF], dh: [...DEFAULT_DH] },
  ];
}

export function defaultEspProposals(): EspProposal[] {
  return [
    { encr: [...ALL_AES_GCM], integ: [], dh: [], esn: false },
    { encr: [...ALL_AES_CBC], integ: [...DEFAULT_INTEG], dh: [], esn: false },
  ];
}

// ---------------------------------------------------------------------------
// Proposal keywords (strongSwan's names)

const ENCR_WORDS: Record<string, IkeEncr> = {
  aes: { alg: 'aes-cbc', keyBits: 128 },
  aes128: { alg: 'aes-cbc', keyBits: 128 },
  aes192: { alg: 'aes-cbc', keyBits: 192 },
  aes256: { alg: 'aes-cbc', keyBits: 256 },
  aes128gcm16: { alg: 'aes-gcm-16', keyBits: 128 },
  aes192gcm16: { alg: 'aes-gcm-16', keyBits: 192 },
  aes256gcm16: { alg: 'aes-gcm-16', keyBits: 256 },
  aes128gcm128: { alg: 'aes-gcm-16', keyBits: 128 },
  aes192gcm128: { alg: 'aes-gcm-16', keyBits: 192 },
  aes256gcm128: { alg: 'aes-gcm-16', keyBits: 256 },
};
const INTEG_WORDS: Record<string, IkeInteg> = {
  sha1: 'hmac-sha1-96',
  sha: 'hmac-sha1-96',
  sha256: 'hmac-sha2-256-128',
  sha2_256: 'hmac-sha2-256-128',
  sha384: 'hmac-sha2-384-192',
  sha2_384: 'hmac-sha2-384-192',
  sha512: 'hmac-sha2-512-256',
  sha2_512: 'hmac-sha2-512-256',
};
const PRF_WORDS: Record<string, IkePrf> = {
  prfsha1: 'hmac-sha1',
  prfsha256: 'hmac-sha2-256',
  prfsha384: 'hmac-sha2-384',
  prfsha512: 'hmac-sha2-512',
};
/** A non-AEAD IKE proposal without a PRF gets the PRFs of its integrity algorithms (strongSwan does the same). */
const PRF_OF_INTEG: Record<IkeInteg, IkePrf> = {
  'hmac-sha1-96': 'hmac-sha1',
  'hmac-sha2-256-128': 'hmac-sha2-256',
  'hmac-sha2-384-192': 'hmac-sha2-384',
  'hmac-sha2-512-256': 'hmac-sha2-512',
};
const DH_WORDS: Record<string, DhGroup> = { curve25519: 'curve25519', x25519: 'curve25519', ecp256: 'ecp256', modp2048: 'modp2048' };
/** strongSwan algorithm names larval does not compute: a different message than a typo. */
const STRONGSWAN_ONLY_ALGORITHMS = new Set([
  '3des', 'des', 'null', 'cast128', 'blowfish', 'blowfish128', 'blowfish192', 'blowfish256', 'twofish', 'serpent',
  'camellia', 'camellia128', 'camellia192', 'camellia256', 'chacha20poly1305', 'aes128ctr', 'aes192ctr', 'aes256ctr',
  'camellia128ctr', 'camellia192ctr', 'camellia256ctr', 'aes128gmac', 'aes192gmac', 'aes256gmac',
  ...['aes128', 'aes192', 'aes256'].flatMap((a) => ['gcm8', 'gcm12', 'gcm64', 'gcm96', 'ccm8', 'ccm12', 'ccm16', 'ccm64', 'ccm96', 'ccm128', 'gcm'].map((m) => a + m)),
  'md5', 'md5_128', 'sha1_160', 'sha256_96', 'sha2_256_96', 'aesxcbc', 'aescmac', 'camelliaxcbc',
  'prfmd5', 'prfaesxcbc', 'prfaescmac', 'prfcamelliaxcbc',
  'modpnone', 'modp768', 'modp1024', 'modp1536', 'modp3072', 'modp4096', 'modp6144', 'modp8192', 'modp1024s160',
  'modp2048s224', 'modp2048s256', 'ecp192', 'ecp224', 'ecp384', 'ecp521', 'ecp224bp', 'ecp256bp', 'ecp384bp', 'ecp512bp',
  'curve448', 'x448', 'ntru112', 'ntru128', 'ntru192', 'ntru256', 'newhope128',
]);

// ---------------------------------------------------------------------------
// Keys larval reads, and strongSwan keys it refuses with a reason

const CONNECTION_KEYS = ['version', 'local_addrs', 'remote_addrs', 'local_port', 'remote_port', 'proposals', 'encap', 'dpd_delay', 'rekey_time', 'local', 'remote', 'children'];
const AUTH_KEYS = ['auth', 'id'];
const CHILD_KEYS = ['local_ts', 'remote_ts', 'esp_proposals', 'mode', 'start_action', 'rekey_time', 'life_time'];
const SECRET_KEYS = ['id', 'id-N (any suffix)', 'secret'];
const STRONGSWAN_CONNECTION_KEYS = new Set([
  'pull', 'dscp', 'encap_udp', 'mobike', 'fragmentation', 'childless', 'send_certreq', 'send_cert', 'ocsp', 'ppk_id',
  'ppk_required', 'keyingtries', 'unique', 'reauth_time', 'over_time', 'rand_time', 'pools', 'if_id_in', 'if_id_out',
  'mediation', 'mediated_by', 'mediation_peer', 'aggressive', 'dpd_timeout', 'vips', 'close_action',
]);
const STRONGSWAN_AUTH_KEYS = new Set(['round', 'certs', 'cert', 'pubkeys', 'cacerts', 'cacert', 'groups', 'cert_policy', 'revocation', 'eap_id', 'aaa_id', 'xauth_id', 'ca_id']);
const STRONGSWAN_CHILD_KEYS = new Set([
  'ah_proposals', 'sha256_96', 'updown', 'hostaccess', 'policies', 'policies_fwd_out', 'dpd_action', 'ipcomp',
  'inactivity', 'reqid', 'priority', 'interface', 'mark_in', 'mark_in_sa', 'mark_out', 'set_mark_in', 'set_mark_out',
  'if_id_in', 'if_id_out', 'label', 'label_mode', 'tfc_padding', 'replay_window', 'hw_offload', 'copy_df', 'copy_ecn',
  'copy_dscp', 'close_action', 'rand_time', 'rekey_bytes', 'life_bytes', 'rand_bytes', 'rekey_packets', 'life_packets',
  'rand_packets',
]);
const STRONGSWAN_TOP_SECTIONS = new Set(['authorities', 'pools']);
const STRONGSWAN_SECRET_TYPES = ['eap', 'xauth', 'ntlm', 'private', 'rsa', 'ecdsa', 'pkcs8', 'pkcs12', 'token', 'ppk'];

// ---------------------------------------------------------------------------
// Lexer

type TokenType = 'word' | 'string' | '{' | '}' | '=' | ',' | 'newline' | 'eof';

interface Token extends ConfigPosition {
  type: TokenType;
  text: string;
  /** Part of a secret: never shown in a message. */
  sensitive: boolean;
  /** Inside the top-level `secrets` section: shown only if it is a known name (SAFE_SECRETS_NAME). */
  inSecrets: boolean;
}

/** Names inside `secrets` that a message may show; any other word there could be a misplaced secret. */
const SAFE_SECRETS_NAME = /^(secret|id|id[-_]?[0-9a-z]{1,8}|(ike|eap|xauth|ntlm|private|rsa|ecdsa|pkcs8|pkcs12|token|ppk)([-_][0-9a-z]{1,16}|[0-9]{0,4}))$/i;

/** A key or section name as a message may show it. */
function nameOf(t: { text: string; sensitive: boolean; inSecrets: boolean }): string {
  if (t.sensitive) return 'text after a secret (not shown)';
  if (t.inSecrets && !SAFE_SECRETS_NAME.test(t.text)) return 'a word inside secrets (not shown)';
  return `'${t.text}'`;
}

function lex(text: string, file: string | undefined): Token[] {
  const out: Token[] = [];
  let line = 1;
  let col = 1;
  let i = 0;
  const n = text.length;
  let inValue = false;
  // Set by `secret =`: everything up to the end of the line is secret.
  let secretLine = false;
  // Brace depth, and the depth inside which the top-level `secrets` section lies (0: not in it).
  let depth = 0;
  let secretsDepth = 0;
  const push = (type: TokenType, t: string, pos: ConfigPosition) => out.push({ type, text: t, ...pos, sensitive: secretLine, inSecrets: secretsDepth > 0 && depth >= secretsDepth });
  while (i < n) {
    const ch = text[i];
    if (ch === '\n') {
      push('newline', '\n', { line, column: col });
      line++;
      col = 1;
      i++;
      inValue = false;
      secretLine = false;
      continue;
    }
    if (ch === ' ' || ch === '\t' || ch === '\r' || ch === '\f' || ch === '\v') {
      i++;
      col++;
      continue;
    }
    if (ch === '#') {
      while (i < n && text[i] !== '\n') i++;
      continue;
    }
    const pos = { line, column: col };
    if (ch === '{' || ch === '}') {
      if (ch === '{') {
        const name = out[out.length - 1];
        if (depth === 0 && name && name.type === 'word' && name.text === 'secrets') secretsDepth = 1;
        depth++;
      } else {
        depth = Math.max(0, depth - 1);
        if (depth < secretsDepth) secretsDepth = 0;
      }
      push(ch, ch, pos);
      inValue = false;
      i++;
      col++;
      continue;
    }
    if (ch === '=' && !inValue) {
      const key = out[out.length - 1];
      if (key && key.type === 'word' && key.text === 'secret') secretLine = true;
      push('=', '=', pos);
      inValue = true;
      i++;
      col++;
      continue;
    }
    if (ch === ',' && inValue) {
      push(',', ',', pos);
      i++;
      col++;
      continue;
    }
    if (ch === '"') {
      let j = i + 1;
      let c = col + 1;
      let s = '';
      for (;;) {
        // A quoted string ends on its own line: a stray quote then cannot pull the lines
        // below it (a secret, say) into some other value and its error message.
        if (j >= n || text[j] === '\n' || (text[j] === '\\' && text[j + 1] === '\n')) {
          throw new ConfigError('unterminated quoted string: expected a closing \'"\' on the same line (contents not shown)', pos, file);
        }
        const d = text[j];
        if (d === '"') break;
        if (d === '\\' && j + 1 < n) {
          const e = text[j + 1];
          s += e === 'n' ? '\n' : e === 't' ? '\t' : e === 'r' ? '\r' : e === '"' || e === '\\' ? e : '\\' + e;
          c += 2;
          j += 2;
          continue;
        }
        s += d;
        c++;
        j++;
      }
      push('string', s, pos);
      col = c + 1;
      i = j + 1;
      continue;
    }
    let j = i;
    // A key or section name ends at '='; a value word may contain '=' (e.g. an id CN=x).
    const stop = inValue ? /[\s{}#",]/ : /[\s{}#"=,]/;
    while (j < n && !stop.test(text[j])) j++;
    if (j === i) {
      // Only ',' outside a value gets here.
      throw new ConfigError("unexpected ','; expected a key or a section name", pos, file);
    }
    push('word', text.slice(i, j), pos);
    col += j - i;
    i = j;
  }
  out.push({ type: 'eof', text: '', line, column: col, sensitive: false, inSecrets: false });
  return out;
}

// ---------------------------------------------------------------------------
// Settings tree

interface Item extends ConfigPosition {
  text: string;
  quoted: boolean;
  sensitive: boolean;
}

interface Setting extends ConfigPosition {
  kind: 'setting';
  key: string;
  items: Item[];
  /** Position just after '=' (where a missing value is reported). */
  valuePos: ConfigPosition;
  sensitive: boolean;
}

interface Section extends ConfigPosition {
  kind: 'section';
  name: string;
  /** Dotted path, e.g. connections.net.children.c1 ('' for the file). */
  path: string;
  entries: (Setting | Section)[];
}

class TreeParser {
  private i = 0;
  constructor(
    private readonly tokens: Token[],
    private readonly file: string | undefined,
  ) {}

  err(reason: string, pos: ConfigPosition): ConfigError {
    return new ConfigError(reason, pos, this.file);
  }

  parseFile(): Section {
    const root: Section = { kind: 'section', name: '', path: '', entries: [], line: 1, column: 1 };
    this.body(root, true);
    return root;
  }

  private body(section: Section, top: boolean): void {
    const seen = new Map<string, ConfigPosition>();
    for (;;) {
      const t = this.tokens[this.i++];
      if (t.type === 'newline') continue;
      if (t.type === 'eof') {
        if (!top) throw this.err(`missing '}': the section '${section.path}' opened at ${section.line}:${section.column} is not closed`, t);
        return;
      }
      if (t.type === '}') {
        if (top) throw this.err("unexpected '}': no section is open here", t);
        return;
      }
      if (t.type !== 'word') {
        throw this.err(`unexpected ${describe(t)}; expected a key or a section name`, t);
      }
      if (t.sensitive) throw this.err("unexpected text after a secret's value (not shown); one setting per line", t);
      if (t.inSecrets && !SAFE_SECRETS_NAME.test(t.text) && this.tokens[this.i].type !== '{' && this.tokens[this.i].type !== '=') {
        throw this.err("unexpected word inside secrets (not shown); expected id = ..., secret = ... or ike-NAME { ... }", t);
      }
      const after = this.tokens[this.i];
      if (t.text === 'include' && after.type !== '=' && after.type !== '{') {
        throw this.err("'include' is not supported: larval reads one swanctl.conf; put everything in this file", t);
      }
      if (after.type === '{') {
        this.i++;
        const child: Section = { kind: 'section', name: t.text, path: section.path ? `${section.path}.${t.text}` : t.text, entries: [], line: t.line, column: t.column };
        this.checkName(t, section, seen);
        this.body(child, false);
        section.entries.push(child);
        continue;
      }
      if (after.type === '=') {
        this.i++;
        this.checkName(t, section, seen);
        section.entries.push(this.value(t, after));
        continue;
      }
      if (after.type === 'word') {
        throw this.err(`expected '=' or '{' after ${nameOf(t)} (keys and section names contain no spaces)`, after);
      }
      throw this.err(`expected '=' or '{' after ${nameOf(t)}`, after);
    }
  }

  private checkName(t: Token, section: Section, seen: Map<string, ConfigPosition>): void {
    const first = seen.get(t.text);
    if (first) {
      throw this.err(`duplicate ${nameOf(t)} in ${section.path || 'the file'} (first at ${first.line}:${first.column}); larval does not merge repeated keys or sections`, t);
    }
    seen.set(t.text, { line: t.line, column: t.column });
  }

  private value(key: Token, eq: Token): Setting {
    const items: Item[] = [];
    let words: Token[] = [];
    const flush = (at: Token) => {
      if (words.length === 0) {
        throw this.err(`empty item in the list of ${nameOf(key)}`, at);
      }
      items.push({
        text: words.map((w) => w.text).join(' '),
        quoted: words.some((w) => w.type === 'string'),
        sensitive: words.some((w) => w.sensitive),
        line: words[0].line,
        column: words[0].column,
      });
      words = [];
    };
    let sawComma = false;
    for (;;) {
      const t = this.tokens[this.i];
      if (t.type === 'word' || t.type === 'string') {
        words.push(t);
        this.i++;
        continue;
      }
      if (t.type === ',') {
        flush(t);
        sawComma = true;
        this.i++;
        continue;
      }
      if (t.type === '{') {
        throw this.err(`unexpected '{' in the value of ${nameOf(key)}; a section is written NAME { ... } without '='`, t);
      }
      // newline, '}' or eof end the value ('}' is left for the section).
      if (words.length > 0 || sawComma) flush(t);
      break;
    }
    return { kind: 'setting', key: key.text, items, valuePos: { line: eq.line, column: eq.column + 1 }, sensitive: key.text === 'secret', line: key.line, column: key.column };
  }
}

function describe(t: Token): string {
  switch (t.type) {
    case 'string':
      return 'a quoted string';
    case 'newline':
      return 'end of line';
    case 'eof':
      return 'end of file';
    default:
      return `'${t.text}'`;
  }
}

// ---------------------------------------------------------------------------
// Semantics

class Reader {
  constructor(private readonly file: string | undefined) {}

  err(reason: string, pos: ConfigPosition): ConfigError {
    return new ConfigError(reason, pos, this.file);
  }

  /** Check every entry of a section against what larval reads; returns them by name. */
  entries(
    section: Section,
    known: string[],
    strongswanOnly: Set<string>,
    what: string,
  ): Map<string, Setting | Section> {
    const out = new Map<string, Setting | Section>();
    for (const e of section.entries) {
      const name = e.kind === 'setting' ? e.key : e.name;
      if (!known.includes(name)) {
        if (strongswanOnly.has(name)) {
          throw this.err(`'${name}' in ${section.path} is a strongSwan setting larval does not implement; remove it (larval reads: ${known.join(', ')})`, e);
        }
        throw this.err(`unknown key '${name}' in ${section.path}; expected one of ${known.join(', ')}${what ? ` (${what})` : ''}`, e);
      }
      out.set(name, e);
    }
    return out;
  }

  setting(e: Setting | Section | undefined, path: string): Setting | undefined {
    if (e === undefined) return undefined;
    if (e.kind === 'section') throw this.err(`'${e.name}' in ${path} is a setting: write ${e.name} = VALUE, not a section`, e);
    return e;
  }

  section(e: Setting | Section | undefined, path: string): Section | undefined {
    if (e === undefined) return undefined;
    if (e.kind === 'setting') throw this.err(`'${e.key}' in ${path} is a section: write ${e.key} { ... }`, e);
    return e;
  }

  /** Exactly one item. */
  one(s: Setting, path: string, expected: string): Item {
    if (s.items.length === 0) throw this.err(`${path}.${s.key}: expected ${expected}, got an empty value`, s.valuePos);
    if (s.items.length > 1) throw this.err(`${path}.${s.key}: expected one value (${expected}), got a list of ${s.items.length}`, s.items[1]);
    return s.items[0];
  }

  list(s: Setting, path: string, expected: string): Item[] {
    if (s.items.length === 0) throw this.err(`${path}.${s.key}: expected ${expected}, got an empty value`, s.valuePos);
    return s.items;
  }

  bool(s: Setting, path: string): boolean {
    const it = this.one(s, path, 'yes or no');
    const v = it.text.toLowerCase();
    if (['yes', 'true', 'on', 'enabled', '1'].includes(v)) return true;
    if (['no', 'false', 'off', 'disabled', '0'].includes(v)) return false;
    throw this.err(`${path}.${s.key}: expected yes or no, got ${shown(it)}`, it);
  }

  port(s: Setting, path: string): number {
    const it = this.one(s, path, 'a UDP port 1..65535');
    if (!/^\d{1,5}$/.test(it.text) || Number(it.text) < 1 || Number(it.text) > 65535) {
      throw this.err(`${path}.${s.key}: expected a UDP port 1..65535, got ${shown(it)}`, it);
    }
    return Number(it.text);
  }

  /** strongSwan durations: an integer and s, m, h or d (seconds without a unit). In ms. */
  duration(s: Setting, path: string): number {
    const it = this.one(s, path, 'a duration such as 30s, 10m, 4h or 1d');
    const m = /^(\d{1,9})([smhd]?)$/.exec(it.text);
    if (!m) throw this.err(`${path}.${s.key}: expected a duration such as 30s, 10m, 4h or 1d (an integer; no unit = seconds), got ${shown(it)}`, it);
    const unit = { '': 1, s: 1, m: 60, h: 3600, d: 86400 }[m[2] as '' | 's' | 'm' | 'h' | 'd'];
    return Number(m[1]) * unit * 1000;
  }
}

/** An item as a message may show it: never a secret. */
function shown(it: Item): string {
  if (it.sensitive) return 'a secret value (not shown)';
  if (/^(0x)?[0-9a-f]{17,}/i.test(it.text)) return 'a long hex string (not shown: it may be a key)';
  if (it.text.length > 60) return `'${it.text.slice(0, 40)}...'`;
  return it.quoted ? `"${it.text}"` : `'${it.text}'`;
}

// ---------------------------------------------------------------------------
// Proposals

function parseProposals(r: Reader, s: Setting, path: string, kind: 'ike' | 'esp'): IkeProposal[] | EspProposal[] {
  const items = r.list(s, path, kind === 'ike' ? 'IKE proposals such as aes256gcm16-prfsha256-curve25519' : 'ESP proposals such as aes256gcm16 or aes128-sha256');
  const out: (IkeProposal | EspProposal)[] = [];
  for (const it of items) {
    if (it.text === 'default') {
      // charon 5.9.8 lists the keyword's ESP proposals classic first, unlike an absent esp_proposals (AEAD first).
      out.push(...(kind === 'ike' ? defaultIkeProposals() : defaultEspProposals().reverse()));
      continue;
    }
    out.push(parseProposal(r, it, `${path}.${s.key}`, kind));
  }
  return out as IkeProposal[] | EspProposal[];
}

function parseProposal(r: Reader, it: Item, field: string, kind: 'ike' | 'esp'): IkeProposal | EspProposal {
  const encr: IkeEncr[] = [];
  const integ: IkeInteg[] = [];
  const prf: IkePrf[] = [];
  const dh: DhGroup[] = [];
  let esn: boolean | undefined;
  let offset = 0;
  const name = `'${it.text}'`;
  for (const word of it.text.split('-')) {
    const pos = { line: it.line, column: it.column + offset };
    offset += word.length + 1;
    const w = word.toLowerCase();
    if (w === '') throw r.err(`${field}: empty algorithm name in proposal ${name} (two '-' in a row?)`, pos);
    if (w in ENCR_WORDS) {
      const e = ENCR_WORDS[w];
      if (!encr.some((x) => x.alg === e.alg && x.keyBits === e.keyBits)) encr.push(e);
    } else if (w in INTEG_WORDS) {
      if (!integ.includes(INTEG_WORDS[w])) integ.push(INTEG_WORDS[w]);
    } else if (w in PRF_WORDS) {
      if (kind === 'esp') throw r.err(`${field}: '${word}' is a PRF; ESP proposals take no PRF (proposal ${name})`, pos);
      if (!prf.includes(PRF_WORDS[w])) prf.push(PRF_WORDS[w]);
    } else if (w in DH_WORDS) {
      if (!dh.includes(DH_WORDS[w])) dh.push(DH_WORDS[w]);
    } else if (w === 'esn' || w === 'noesn') {
      if (kind === 'ike') throw r.err(`${field}: '${word}' applies to ESP only, not to IKE proposals (proposal ${name})`, pos);
      if (esn !== undefined && esn !== (w === 'esn')) throw r.err(`${field}: proposal ${name} has both esn and noesn; larval negotiates one: write one proposal with esn and one with noesn`, pos);
      esn = w === 'esn';
    } else if (w === 'default') {
      throw r.err(`${field}: 'default' stands alone as a proposal (write '${it.text.replace(/-?default-?/, '')}, default')`, pos);
    } else if (STRONGSWAN_ONLY_ALGORITHMS.has(w)) {
      throw r.err(`${field}: '${word}' is a strongSwan algorithm larval does not implement; larval has aes128/192/256, aes128/192/256gcm16, sha1/256/384/512, prfsha1/256/384/512, curve25519 (x25519), ecp256, modp2048${kind === 'esp' ? ', esn/noesn' : ''}`, pos);
    } else {
      throw r.err(`${field}: unknown algorithm '${word}' in proposal ${name}; expected one of aes128/192/256, aes128/192/256gcm16, sha1/256/384/512, ${kind === 'ike' ? 'prfsha1/256/384/512, ' : ''}curve25519 (x25519), ecp256, modp2048${kind === 'esp' ? ', esn, noesn' : ''}`, pos);
    }
  }
  const at = { line: it.line, column: it.column };
  if (encr.length === 0) throw r.err(`${field}: proposal ${name} has no encryption algorithm (expected e.g. aes256gcm16 or aes256)`, at);
  const aead = encr.filter((e) => e.alg === 'aes-gcm-16').length;
  if (aead > 0 && aead < encr.length) {
    throw r.err(`${field}: proposal ${name} mixes AEAD (gcm) and classic encryption; write them as two proposals`, at);
  }
  if (aead > 0 && integ.length > 0) {
    throw r.err(`${field}: proposal ${name} is AEAD (gcm): it takes no integrity algorithm`, at);
  }
  if (aead === 0 && integ.length === 0) {
    throw r.err(`${field}: proposal ${name} needs an integrity algorithm with ${encr.length > 1 ? 'its' : 'a'} non-AEAD cipher (e.g. ${it.text}-sha256)`, at);
  }
  if (kind === 'esp') return { encr, integ, dh, esn: esn ?? false };
  if (prf.length === 0) {
    // charon: "a PRF algorithm is mandatory in IKE proposals" for AEAD; classic ones take their integrity's PRF.
    if (aead > 0) throw r.err(`${field}: proposal ${name} is AEAD (gcm) and needs a PRF (e.g. ${it.text}-prfsha256); a PRF algorithm is mandatory in IKE proposals`, at);
    for (const i of integ) if (!prf.includes(PRF_OF_INTEG[i])) prf.push(PRF_OF_INTEG[i]);
  }
  if (dh.length === 0) throw r.err(`${field}: IKE proposal ${name} needs a key exchange group (curve25519, ecp256 or modp2048)`, at);
  return { encr, integ, prf, dh };
}

// ---------------------------------------------------------------------------
// Addresses and traffic selectors

function parseAddrs(r: Reader, s: Setting, path: string): string[] {
  const items = r.list(s, path, 'IP addresses or %any');
  if (items.length === 1 && items[0].text === '%any') return [];
  const out: string[] = [];
  for (const it of items) {
    if (it.text === '%any' || it.text === '%any4' || it.text === '%any6') throw r.err(`${path}.${s.key}: '${it.text}' stands alone (it means any address)`, it);
    if (/[/-]/.test(it.text) && /^[0-9a-f.:]+[/-]/i.test(it.text)) throw r.err(`${path}.${s.key}: subnets and ranges are not supported, only single addresses (got ${shown(it)})`, it);
    try {
      parsePrefix(it.text, `${path}.${s.key}`);
    } catch {
      throw r.err(`${path}.${s.key}: expected an IPv4 or IPv6 address (larval never resolves names), got ${shown(it)}`, it);
    }
    if (out.includes(it.text)) throw r.err(`${path}.${s.key}: ${shown(it)} is listed twice`, it);
    out.push(it.text);
  }
  return out;
}

function hostPrefix(addr: string): TrafficSelectorConfig {
  return { prefix: addr, prefixLength: addr.includes(':') ? 128 : 32 };
}

function parseTs(r: Reader, s: Setting | undefined, path: string, key: string, endpoint: string[], where: ConfigPosition): TrafficSelectorConfig[] {
  if (!s) {
    // strongSwan's default is `dynamic`.
    if (endpoint.length !== 1) throw r.err(`${path}: ${key} is missing and its default, dynamic, needs exactly one ${key === 'local_ts' ? 'local_addrs' : 'remote_addrs'} address`, where);
    return [hostPrefix(endpoint[0])];
  }
  const out: TrafficSelectorConfig[] = [];
  const field = `${path}.${key}`;
  for (const it of r.list(s, path, 'traffic selectors such as 10.1.0.0/24')) {
    const m = /^([^[\]]*)(?:\[([^\]]*)\])?$/.exec(it.text);
    if (!m) throw r.err(`${field}: expected PREFIX or PREFIX[PROTO/PORT], got ${shown(it)}`, it);
    const [, addrPart, protoPart] = m;
    const extra: Partial<TrafficSelectorConfig> = {};
    if (protoPart !== undefined) {
      const pos = { line: it.line, column: it.column + addrPart.length + 1 };
      const [proto, port, more] = protoPart.split('/');
      if (more !== undefined) throw r.err(`${field}: expected [PROTO] or [PROTO/PORT] or [PROTO/LOW-HIGH], got ${shown(it)}`, pos);
      let p: number | undefined;
      if (proto === '' || proto === '%any') p = undefined;
      else if (/^\d{1,3}$/.test(proto) && Number(proto) <= 255) p = Number(proto) === 0 ? undefined : Number(proto);
      else if (proto in PROTOCOLS) p = PROTOCOLS[proto];
      else throw r.err(`${field}: unknown protocol '${proto}'; expected a number 0..255 or a name such as tcp, udp, icmp, sctp`, pos);
      if (p !== undefined) extra.protocol = p;
      if (port !== undefined && port !== '' && port !== '%any') {
        const ppos = { line: it.line, column: pos.column + proto.length + 1 };
        if (p === undefined || !carriesPorts(p)) {
          throw r.err(`${field}: a port needs a protocol with ports (tcp, udp, sctp)${p !== undefined && (p === 1 || p === 58) ? '; ICMP type selectors are not supported' : ''}`, ppos);
        }
        const pm = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(port);
        if (!pm || Number(pm[1]) > 65535 || Number(pm[2] ?? pm[1]) > 65535) throw r.err(`${field}: expected a port 0..65535 or a range LOW-HIGH, got '${port}'`, ppos);
        const lo = Number(pm[1]);
        const hi = Number(pm[2] ?? pm[1]);
        if (lo > hi) throw r.err(`${field}: port range '${port}' is empty (low > high)`, ppos);
        if (!(lo === 0 && hi === 65535)) {
          extra.portLow = lo;
          extra.portHigh = hi;
        }
      }
    }
    const prefixes: TrafficSelectorConfig[] = [];
    if (addrPart === 'dynamic') {
      if (endpoint.length !== 1) throw r.err(`${field}: 'dynamic' needs exactly one ${key === 'local_ts' ? 'local_addrs' : 'remote_addrs'} address`, it);
      prefixes.push(hostPrefix(endpoint[0]));
    } else if (addrPart === '%any' || addrPart === '') {
      prefixes.push({ prefix: '0.0.0.0', prefixLength: 0 }, { prefix: '::', prefixLength: 0 });
    } else if (addrPart === '%any4') prefixes.push({ prefix: '0.0.0.0', prefixLength: 0 });
    else if (addrPart === '%any6') prefixes.push({ prefix: '::', prefixLength: 0 });
    else {
      if (/^[0-9a-f.:]+-[0-9a-f.:]+$/i.test(addrPart)) throw r.err(`${field}: address ranges are not supported; write prefixes`, it);
      let len: number;
      try {
        len = parsePrefix(addrPart, field).len;
      } catch (e) {
        const why = e instanceof LarvalError ? e.message.replace(/^[^:]*: /, '').replace(/ \(got .*\)$/, '') : 'not a prefix';
        throw r.err(`${field}: expected an address prefix such as 10.1.0.0/24 (${why}), got ${shown({ ...it, text: addrPart })}`, it);
      }
      const slash = addrPart.indexOf('/');
      prefixes.push({ prefix: slash < 0 ? addrPart : addrPart.slice(0, slash), prefixLength: len });
    }
    for (const pfx of prefixes) out.push({ ...pfx, ...extra });
  }
  return out;
}

// ---------------------------------------------------------------------------
// Sections

function parseConnection(r: Reader, sec: Section): IkeConnectionConfig {
  const path = sec.path;
  const e = r.entries(sec, CONNECTION_KEYS, STRONGSWAN_CONNECTION_KEYS, 'local-N/remote-N rounds are not supported');
  const get = (k: string) => r.setting(e.get(k), path);

  let version: 2 = 2;
  const v = get('version');
  if (v) {
    const it = r.one(v, path, '0 or 2');
    if (it.text === '1') throw r.err(`${path}.version: IKEv1 is not supported; larval speaks IKEv2 (version = 2)`, it);
    if (it.text !== '0' && it.text !== '2') throw r.err(`${path}.version: expected 0 (any) or 2, got ${shown(it)}`, it);
    version = 2;
  }
  const localAddrs = get('local_addrs') ? parseAddrs(r, get('local_addrs')!, path) : [];
  const remoteAddrs = get('remote_addrs') ? parseAddrs(r, get('remote_addrs')!, path) : [];
  const localPort = get('local_port') ? r.port(get('local_port')!, path) : IKE_PORT;
  const remotePort = get('remote_port') ? r.port(get('remote_port')!, path) : IKE_PORT;
  const proposals = get('proposals') ? (parseProposals(r, get('proposals')!, path, 'ike') as IkeProposal[]) : defaultIkeProposals();
  const encap = get('encap') ? r.bool(get('encap')!, path) : false;
  const dpdDelayMs = get('dpd_delay') ? r.duration(get('dpd_delay')!, path) : 0;
  const rekeyTimeMs = get('rekey_time') ? r.duration(get('rekey_time')!, path) : DEFAULT_IKE_REKEY_MS;

  const local = parseAuth(r, r.section(e.get('local'), path), sec, 'local', localAddrs);
  const remote = parseAuth(r, r.section(e.get('remote'), path), sec, 'remote', remoteAddrs);

  const children: ChildConfig[] = [];
  const ch = r.section(e.get('children'), path);
  if (ch) {
    for (const c of ch.entries) {
      if (c.kind === 'setting') throw r.err(`'${c.key}' in ${ch.path} is a setting; expected a CHILD_SA section: NAME { local_ts = ... }`, c);
      children.push(parseChild(r, c, localAddrs, remoteAddrs));
    }
  }
  for (const c of children) {
    if (c.startAction !== 'none' && remoteAddrs.length === 0) {
      const sa = r.section(ch!.entries.find((x) => x.kind === 'section' && x.name === c.name), ch!.path)!;
      const at = sa.entries.find((x) => x.kind === 'setting' && x.key === 'start_action')!;
      throw r.err(`${sa.path}.start_action: '${c.startAction}' needs remote_addrs in ${path} (whom to start with); %any can only respond`, at);
    }
  }
  return { name: sec.name, version, localAddrs, remoteAddrs, localPort, remotePort, proposals, encap, dpdDelayMs, rekeyTimeMs, local, remote, children };
}

function parseAuth(r: Reader, sec: Section | undefined, conn: Section, side: 'local' | 'remote', addrs: string[]): { auth: 'psk'; id: string } {
  if (!sec) {
    throw r.err(`${conn.path}: missing '${side} { auth = psk ${side === 'local' ? 'id = ... ' : ''}}' (larval authenticates with pre-shared keys only; strongSwan's default, pubkey, is not supported)`, conn);
  }
  const e = r.entries(sec, AUTH_KEYS, STRONGSWAN_AUTH_KEYS, '');
  const auth = r.setting(e.get('auth'), sec.path);
  if (!auth) throw r.err(`${sec.path}: missing 'auth = psk' (strongSwan's default, pubkey, is not supported by larval)`, sec);
  const a = r.one(auth, sec.path, 'psk');
  if (a.text !== 'psk') throw r.err(`${sec.path}.auth: larval supports only 'psk' (pre-shared keys, RFC 7296 §2.15), got ${shown(a)}`, a);
  const idSetting = r.setting(e.get('id'), sec.path);
  let id: string;
  if (idSetting) {
    id = r.one(idSetting, sec.path, 'an identity such as gw.example.com, 192.0.2.1 or user@example.com').text;
  } else if (side === 'remote') {
    id = '%any';
  } else {
    if (addrs.length !== 1) throw r.err(`${sec.path}: missing 'id'; its default, the local address, needs exactly one local_addrs address`, sec);
    id = addrs[0];
  }
  return { auth: 'psk', id };
}

function parseChild(r: Reader, sec: Section, localAddrs: string[], remoteAddrs: string[]): ChildConfig {
  const path = sec.path;
  const e = r.entries(sec, CHILD_KEYS, STRONGSWAN_CHILD_KEYS, '');
  const get = (k: string) => r.setting(e.get(k), path);
  const localTs = parseTs(r, get('local_ts'), path, 'local_ts', localAddrs, sec);
  const remoteTs = parseTs(r, get('remote_ts'), path, 'remote_ts', remoteAddrs, sec);
  const espProposals = get('esp_proposals') ? (parseProposals(r, get('esp_proposals')!, path, 'esp') as EspProposal[]) : defaultEspProposals();
  const mode = get('mode');
  if (mode) {
    const it = r.one(mode, path, 'tunnel');
    if (it.text !== 'tunnel') throw r.err(`${path}.mode: larval supports only 'tunnel' (as strongSwan's kernel-libipsec), got ${shown(it)}`, it);
  }
  let startAction: ChildConfig['startAction'] = 'none';
  const sa = get('start_action');
  if (sa) {
    const it = r.one(sa, path, 'none, trap or start');
    if (it.text !== 'none' && it.text !== 'trap' && it.text !== 'start') throw r.err(`${path}.start_action: expected none, trap or start, got ${shown(it)}`, it);
    startAction = it.text;
  }
  const rekey = get('rekey_time');
  const life = get('life_time');
  const rekeyTimeMs = rekey ? r.duration(rekey, path) : DEFAULT_CHILD_REKEY_MS;
  const lifeTimeMs = life ? r.duration(life, path) : Math.round(rekeyTimeMs * LIFE_OVER_REKEY);
  if (life && rekeyTimeMs > 0 && lifeTimeMs <= rekeyTimeMs) {
    throw r.err(`${path}.life_time: must be longer than rekey_time (${rekeyTimeMs / 1000}s${rekey ? '' : ', the default'}): the SA expires when rekeying starts`, life);
  }
  return { name: sec.name, localTs, remoteTs, espProposals, mode: 'tunnel', startAction, rekeyTimeMs, lifeTimeMs };
}

function parseSecretValue(r: Reader, s: Setting, path: string): Secret {
  if (s.items.length === 0) throw r.err(`${path}.secret: expected a value, got an empty one`, s.valuePos);
  if (s.items.length > 1) throw r.err(`${path}.secret: expected one value (quote a secret that contains ','), got a list (not shown)`, s.items[0]);
  const it = s.items[0];
  const v = it.text;
  let bytes: Uint8Array;
  if (/^0x/i.test(v)) {
    const hex = v.slice(2);
    if (hex.length === 0 || hex.length % 2 !== 0 || !/^[0-9a-f]*$/i.test(hex)) {
      throw r.err(`${path}.secret: a 0x secret needs an even number of hex digits (value not shown)`, it);
    }
    bytes = Uint8Array.from(Buffer.from(hex, 'hex'));
  } else if (/^0s/.test(v)) {
    const b64 = v.slice(2);
    if (b64.length === 0 || b64.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(b64)) {
      throw r.err(`${path}.secret: a 0s secret needs base64 text (value not shown)`, it);
    }
    bytes = Uint8Array.from(Buffer.from(b64, 'base64'));
  } else {
    bytes = new TextEncoder().encode(v);
  }
  if (bytes.length === 0) throw r.err(`${path}.secret: the secret is empty`, it);
  const secret = new Secret(bytes);
  bytes.fill(0);
  return secret;
}

function parseSecrets(r: Reader, sec: Section): IkeSecret[] {
  const out: IkeSecret[] = [];
  for (const e of sec.entries) {
    if (e.kind === 'setting') throw r.err(`${e.key === 'secret' || /^id/.test(e.key) ? `'${e.key}'` : 'a setting (name not shown)'} directly in secrets; expected a section such as ike-1 { id = ..., secret = ... }`, e);
    if (!/^ike/.test(e.name)) {
      const type = STRONGSWAN_SECRET_TYPES.find((t) => e.name.startsWith(t));
      if (type) throw r.err(`secrets.${e.name}: '${type}' secrets are not supported; larval uses IKE pre-shared keys only (sections named ike or ike-X)`, e);
      throw r.err(`secrets: a section named ${SAFE_SECRETS_NAME.test(e.name) ? `'${e.name}'` : '(not shown)'}; expected a section named ike or ike<suffix> (e.g. ike-1) holding id and secret`, e);
    }
    const ids: string[] = [];
    let secret: Secret | undefined;
    for (const s of e.entries) {
      if (s.kind === 'section') throw r.err(`a section in ${e.path}; expected id, id-N or secret settings`, s);
      if (s.key === 'secret') {
        secret = parseSecretValue(r, s, e.path);
      } else if (/^id/.test(s.key)) {
        ids.push(r.one(s, e.path, 'an identity').text);
      } else {
        throw r.err(`unknown key (not shown: inside secrets) in ${e.path}; expected one of ${SECRET_KEYS.join(', ')}`, s);
      }
    }
    if (!secret) throw r.err(`${e.path}: missing 'secret = ...'`, e);
    out.push({ ids, secret });
  }
  return out;
}

/**
 * Parse swanctl.conf text. `file` names the source in error messages.
 * Throws ConfigError (`file:line:column: reason`) on the first error.
 */
export function parseSwanctl(text: string, file?: string): SwanctlConfig {
  if (typeof text !== 'string') throw new LarvalError('EINVAL', 'parseSwanctl: expected the file contents as a string');
  const tree = new TreeParser(lex(text, file), file).parseFile();
  const r = new Reader(file);
  const connections: IkeConnectionConfig[] = [];
  const secrets: IkeSecret[] = [];
  for (const e of tree.entries) {
    const name = e.kind === 'setting' ? e.key : e.name;
    if (name === 'connections' && e.kind === 'section') {
      for (const c of e.entries) {
        if (c.kind === 'setting') throw r.err(`'${c.key}' in connections is a setting; expected a connection section: NAME { version = 2 ... }`, c);
        connections.push(parseConnection(r, c));
      }
    } else if (name === 'secrets' && e.kind === 'section') {
      secrets.push(...parseSecrets(r, e));
    } else if (name === 'connections' || name === 'secrets') {
      throw r.err(`'${name}' is a section: write ${name} { ... }`, e);
    } else if (STRONGSWAN_TOP_SECTIONS.has(name)) {
      throw r.err(`'${name}' is a strongSwan section larval does not implement; larval reads connections and secrets`, e);
    } else {
      throw r.err(`unknown key '${name}' at the top level; expected one of connections, secrets`, e);
    }
  }
  return { connections, secrets };
}

/** Read and parse a swanctl.conf file. */
export async function loadSwanctl(path: string): Promise<SwanctlConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new LarvalError(code === 'ENOENT' ? 'ENOENT' : 'EINVAL', `${path}: cannot read the swanctl configuration (${code ?? String(err)})`, { field: 'swanctl' });
  }
  return parseSwanctl(text, path);
}
