// swanctl.conf parser (issue 13 "Configuration"): the subset a PSK site-to-site user
// writes, strongSwan 5.9.8's defaults, errors that name file:line:column (R25) and
// never show a secret (R31).
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ConfigError, defaultEspProposals, defaultIkeProposals, loadSwanctl, parseSwanctl } from '../../src/ike/config.js';
import { Secret } from '../../src/ike/secret.js';
import { LarvalError } from '../../src/common/errors.js';

// The configuration from the strongSwan peer note, as the peer's side writes it.
const NOTE_CONF = `connections { net { version = 2
    local_addrs = 192.0.2.2
    remote_addrs = 192.0.2.1
    proposals = aes256gcm16-prfsha256-curve25519,aes256-sha256-modp2048
    encap = yes
    local { auth = psk
            id = b.example }
    remote { auth = psk
             id = a.example }
    children { net { local_ts = 10.2.0.1/32
                     remote_ts = 10.1.0.0/24
                     esp_proposals = aes256gcm16,aes128-sha256 } } } }
secrets { ike-net { id-1 = a.example
                    id-2 = b.example
                    secret = "a-long-pre-shared-key" } }
`;

/** A minimal connection with `extra` lines in the connection and `child` lines in its child. */
function conn(extra = '', child = '', auth = 'local { auth = psk\n id = a }\nremote { auth = psk\n id = b }'): string {
  return `connections {\n net {\n local_addrs = 192.0.2.1\n remote_addrs = 192.0.2.2\n${extra}\n${auth}\n children {\n c1 {\n local_ts = 10.1.0.0/24\n remote_ts = 10.2.0.0/24\n${child}\n }\n }\n }\n}\n`;
}

function failure(text: string, file: string | null = 'swanctl.conf'): ConfigError {
  try {
    parseSwanctl(text, file ?? undefined);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    expect(err).toBeInstanceOf(LarvalError);
    expect((err as ConfigError).code).toBe('EINVAL');
    return err as ConfigError;
  }
  throw new Error(`parsed without error:\n${text}`);
}

/** Asserts the error's location and that its message contains `words`. */
function expectError(text: string, line: number, column: number, ...words: string[]): ConfigError {
  const e = failure(text);
  expect({ line: e.line, column: e.column }, e.message).toEqual({ line, column });
  expect(e.message.startsWith(`swanctl.conf:${line}:${column}: `), e.message).toBe(true);
  for (const w of words) expect(e.message).toContain(w);
  return e;
}

const enc = (s: string) => new TextEncoder().encode(s);

describe('the strongSwan peer note configuration', () => {
  it('parses into the agreed types with strongSwan defaults', () => {
    const c = parseSwanctl(NOTE_CONF, 'note.conf');
    expect(c.connections).toHaveLength(1);
    const { children, ...ike } = c.connections[0];
    expect(ike).toEqual({
      name: 'net', version: 2, localAddrs: ['192.0.2.2'], remoteAddrs: ['192.0.2.1'], localPort: 500, remotePort: 500,
      proposals: [
        { encr: [{ alg: 'aes-gcm-16', keyBits: 256 }], integ: [], prf: ['hmac-sha2-256'], dh: ['curve25519'] },
        // A classic proposal without prf takes its integrity algorithm's PRF (as strongSwan does).
        { encr: [{ alg: 'aes-cbc', keyBits: 256 }], integ: ['hmac-sha2-256-128'], prf: ['hmac-sha2-256'], dh: ['modp2048'] },
      ],
      encap: true, dpdDelayMs: 0, rekeyTimeMs: 4 * 3600_000,
      local: { auth: 'psk', id: 'b.example' }, remote: { auth: 'psk', id: 'a.example' },
    });
    expect(children).toEqual([{
      name: 'net', localTs: [{ prefix: '10.2.0.1', prefixLength: 32 }], remoteTs: [{ prefix: '10.1.0.0', prefixLength: 24 }],
      espProposals: [
        { encr: [{ alg: 'aes-gcm-16', keyBits: 256 }], integ: [], dh: [], esn: false },
        { encr: [{ alg: 'aes-cbc', keyBits: 128 }], integ: ['hmac-sha2-256-128'], dh: [], esn: false },
      ],
      mode: 'tunnel', startAction: 'none', rekeyTimeMs: 3600_000, lifeTimeMs: 3960_000,
    }]);
    expect(c.secrets).toHaveLength(1);
    expect(c.secrets[0].ids).toEqual(['a.example', 'b.example']);
    expect(c.secrets[0].secret.equals(Secret.fromString('a-long-pre-shared-key'))).toBe(true);
  });

  it('never shows the secret: inspect, JSON, String, template (R31)', () => {
    const c = parseSwanctl(NOTE_CONF);
    const outputs = [inspect(c, { depth: 20 }), JSON.stringify(c), String(c.secrets[0].secret), `${c.secrets[0].secret}`, inspect(c.secrets[0].secret, { showHidden: true })];
    for (const o of outputs) {
      expect(o).not.toContain('a-long-pre-shared-key');
    }
    expect(JSON.stringify(c.secrets[0])).toBe('{"ids":["a.example","b.example"],"secret":"<secret 21 bytes>"}');
    expect(inspect(c.secrets[0].secret)).toBe('<secret 21 bytes>');
  });
});

describe('Secret (R31)', () => {
  it('hands out copies and compares by value', () => {
    const s = new Secret(enc('abc'));
    const b = s.bytes();
    b[0] = 0;
    expect(Buffer.from(s.bytes()).toString()).toBe('abc');
    expect(s.equals(new Secret(enc('abc')))).toBe(true);
    expect(s.equals(new Secret(enc('abd')))).toBe(false);
    expect(s.equals(new Secret(enc('abcd')))).toBe(false);
    expect(s.length).toBe(3);
  });

  it('keeps its own copy of the constructor argument and can be wiped', () => {
    const raw = enc('xyz');
    const s = new Secret(raw);
    raw.fill(0);
    expect(Buffer.from(s.bytes()).toString()).toBe('xyz');
    s.wipe();
    expect(Array.from(s.bytes())).toEqual([0, 0, 0]);
  });
});

describe('syntax', () => {
  it('takes comments, blank lines, quoted values, commas with spaces and several connections', () => {
    const c = parseSwanctl(`# head comment
connections {   # trailing comment
  a {
    local_addrs = "192.0.2.1"   # quoted
    remote_addrs = 192.0.2.2, 2001:db8::2
    local { auth = psk
      id = "CN=gw, O=example" }
    remote { auth = psk }
  }

  b { local_addrs = 192.0.2.9
      local { auth = psk }
      remote { auth = psk }
  }
}
`);
    expect(c.connections.map((x) => x.name)).toEqual(['a', 'b']);
    expect(c.connections[0].remoteAddrs).toEqual(['192.0.2.2', '2001:db8::2']);
    expect(c.connections[0].local.id).toBe('CN=gw, O=example');
    // Defaults: the remote id is %any, the local id the single local address.
    expect(c.connections[0].remote.id).toBe('%any');
    expect(c.connections[1].local.id).toBe('192.0.2.9');
    expect(c.connections[1].remoteAddrs).toEqual([]);
    expect(c.secrets).toEqual([]);
  });

  it('keeps = inside a value (ids such as CN=x) and escapes in quotes', () => {
    const c = parseSwanctl(conn('', '', 'local { auth = psk\n id = CN=gw1 }\nremote { auth = psk\n id = "a\\"b\\\\c" }'));
    expect(c.connections[0].local.id).toBe('CN=gw1');
    expect(c.connections[0].remote.id).toBe('a"b\\c');
  });

  it('reads an empty file and empty sections', () => {
    expect(parseSwanctl('')).toEqual({ connections: [], secrets: [] });
    expect(parseSwanctl('connections {}\nsecrets {}\n')).toEqual({ connections: [], secrets: [] });
  });

  it('refuses include with its own error', () => {
    expectError('connections {}\ninclude conf.d/*.conf\n', 2, 1, "'include' is not supported");
  });

  it('names an unclosed section and where it was opened', () => {
    expectError('connections {\n  net {\n    version = 2\n', 4, 1, "missing '}'", 'connections.net', '2:3');
  });

  it('refuses a stray }', () => {
    expectError('connections { }\n}\n', 2, 1, "unexpected '}'");
  });

  it('refuses an unterminated quoted string without showing it', () => {
    const e = expectError('connections {\n  a { local_addrs = "192.0.2.1\n}\n', 2, 21, 'unterminated quoted string');
    expect(e.message).not.toContain('192.0.2.1');
  });

  it('ends a quoted string at its line: a stray quote cannot swallow the lines below (a secret)', () => {
    const e = expectError(`connections {\n net {\n proposals = aes256"gcm16\n }\n}\nsecrets {\n ike { secret = "Qx7vLm2pZr9t" }\n}\n`, 3, 20, 'unterminated quoted string', 'on the same line');
    expect(e.message).not.toContain('Qx7vLm');
  });

  it('refuses a key without = or {', () => {
    expectError('connections {\n  net version 2\n}\n', 2, 7, "expected '=' or '{' after 'net'");
    expectError('connections {\n  net\n}\n', 2, 6, "expected '=' or '{' after 'net'");
  });

  it('refuses a { inside a value', () => {
    expectError('connections = {\n}\n', 1, 15, "unexpected '{' in the value of 'connections'");
  });

  it('refuses duplicate keys and sections, naming the first', () => {
    expectError(conn('encap = yes\nencap = no'), 6, 1, "duplicate 'encap' in connections.net", '5:1');
    expectError('connections {}\nconnections {}\n', 2, 1, "duplicate 'connections' in the file", '1:1');
  });

  it('refuses an empty list item', () => {
    expectError(conn('proposals = aes128gcm16-prfsha256-x25519,,default'), 5, 42, "empty item in the list of 'proposals'");
  });
});

describe('keys', () => {
  it('names an unknown connection key, its section and what is expected', () => {
    const e = expectError(conn('lcoal_addrs = 192.0.2.1'), 5, 1, "unknown key 'lcoal_addrs' in connections.net; expected one of version, local_addrs, remote_addrs");
    expect(e.reason).toContain('children');
  });

  it('names an unknown child key with the full path', () => {
    expectError(conn('', 'x = 1'), 14, 1, "unknown key 'x' in connections.net.children.c1; expected one of local_ts, remote_ts, esp_proposals, mode, start_action, rekey_time, life_time");
  });

  it('names an unknown key in local/remote', () => {
    expectError(conn('', '', 'local { auth = psk\n idd = a }\nremote { auth = psk }'), 7, 2, "unknown key 'idd' in connections.net.local; expected one of auth, id");
  });

  it('tells strongSwan settings larval does not implement from typos', () => {
    expectError(conn('mobike = no'), 5, 1, "'mobike' in connections.net is a strongSwan setting larval does not implement");
    expectError(conn('', 'updown = /usr/lib/ipsec/_updown'), 14, 1, "'updown' in connections.net.children.c1 is a strongSwan setting larval does not implement");
    expectError(conn('', '', 'local { auth = psk\n certs = a.pem }\nremote { auth = psk }'), 7, 2, "'certs' in connections.net.local is a strongSwan setting");
    expectError('pools { p { addrs = 10.3.0.0/24 } }\n', 1, 1, "'pools' is a strongSwan section larval does not implement");
  });

  it('refuses local-1 rounds and unknown top-level keys', () => {
    expectError(conn('local-1 { auth = psk }'), 5, 1, "unknown key 'local-1'", 'rounds are not supported');
    expectError('connection { }\n', 1, 1, "unknown key 'connection' at the top level; expected one of connections, secrets");
  });

  it('says when a section is written as a setting and vice versa', () => {
    expectError(conn('children = c1'), 10, 2, "duplicate 'children' in connections.net (first at 5:1)");
    expectError(conn('', '', 'local = psk\nremote { auth = psk }'), 6, 1, "'local' in connections.net is a section: write local { ... }");
    expectError(conn('encap { }'), 5, 1, "'encap' in connections.net is a setting: write encap = VALUE");
    expectError('connections = x\n', 1, 1, "'connections' is a section");
    expectError('connections {\n  x = 1\n}\n', 2, 3, "'x' in connections is a setting; expected a connection section");
  });
});

describe('connection values', () => {
  it('reads ports, encap, dpd_delay and rekey_time with units', () => {
    const c = parseSwanctl(conn('local_port = 4500\nremote_port = 4501\nencap = no\ndpd_delay = 30s\nrekey_time = 2d\nversion = 0')).connections[0];
    expect(c).toMatchObject({ localPort: 4500, remotePort: 4501, encap: false, dpdDelayMs: 30_000, rekeyTimeMs: 2 * 86_400_000, version: 2 });
    const d = parseSwanctl(conn('dpd_delay = 90\nrekey_time = 10m\nencap = true')).connections[0];
    expect(d).toMatchObject({ dpdDelayMs: 90_000, rekeyTimeMs: 600_000, encap: true });
  });

  it('uses strongSwan 5.9.8 defaults (charon logged these for proposals = default)', () => {
    const c = parseSwanctl(conn()).connections[0];
    expect(c).toMatchObject({ version: 2, localPort: 500, remotePort: 500, encap: false, dpdDelayMs: 0, rekeyTimeMs: 14_400_000 });
    expect(c.proposals).toEqual(defaultIkeProposals());
    expect(c.proposals[0]).toEqual({
      encr: [{ alg: 'aes-cbc', keyBits: 128 }, { alg: 'aes-cbc', keyBits: 192 }, { alg: 'aes-cbc', keyBits: 256 }],
      integ: ['hmac-sha2-256-128', 'hmac-sha2-384-192', 'hmac-sha2-512-256', 'hmac-sha1-96'],
      prf: ['hmac-sha2-256', 'hmac-sha2-384', 'hmac-sha2-512', 'hmac-sha1'],
      dh: ['curve25519', 'ecp256', 'modp2048'],
    });
    expect(c.proposals[1].encr.every((e) => e.alg === 'aes-gcm-16')).toBe(true);
    expect(c.proposals[1].integ).toEqual([]);
    expect(c.children[0]).toMatchObject({ mode: 'tunnel', startAction: 'none', rekeyTimeMs: 3_600_000, lifeTimeMs: 3_960_000 });
    expect(c.children[0].espProposals).toEqual(defaultEspProposals());
    expect(c.children[0].espProposals.every((p) => p.dh.length === 0 && !p.esn)).toBe(true);
  });

  it('refuses IKEv1 and other versions', () => {
    expectError(conn('version = 1'), 5, 11, 'IKEv1 is not supported');
    expectError(conn('version = 3'), 5, 11, 'expected 0 (any) or 2', "'3'");
  });

  it('refuses bad ports, booleans and durations at the value', () => {
    expectError(conn('local_port = 0'), 5, 14, 'expected a UDP port 1..65535', "'0'");
    expectError(conn('remote_port = 65536'), 5, 15, 'expected a UDP port 1..65535');
    expectError(conn('encap = maybe'), 5, 9, 'expected yes or no', "'maybe'");
    expectError(conn('rekey_time = 1.5h'), 5, 14, 'expected a duration such as 30s', "'1.5h'");
    expectError(conn('dpd_delay = 10ms'), 5, 13, 'expected a duration');
    expectError(conn('dpd_delay ='), 5, 12, 'got an empty value');
    expectError(conn('encap = yes, no'), 5, 14, 'expected one value');
  });

  it('reads %any and IPv6 addresses, refuses names, subnets and %any in a list', () => {
    const c = parseSwanctl(conn('', '', 'local { auth = psk\n id = a }\nremote { auth = psk }').replace('remote_addrs = 192.0.2.2', 'remote_addrs = %any')).connections[0];
    expect(c.remoteAddrs).toEqual([]);
    expectError(conn().replace('remote_addrs = 192.0.2.2', 'remote_addrs = gw.example.com'), 4, 17, 'larval never resolves names', "'gw.example.com'");
    expectError(conn().replace('remote_addrs = 192.0.2.2', 'remote_addrs = 192.0.2.0/24'), 4, 17, 'subnets and ranges are not supported');
    expectError(conn().replace('remote_addrs = 192.0.2.2', 'remote_addrs = 192.0.2.2, %any'), 4, 28, "'%any' stands alone");
    expectError(conn().replace('remote_addrs = 192.0.2.2', 'remote_addrs = 192.0.2.2,192.0.2.2'), 4, 27, 'listed twice');
  });

  it('requires psk authentication on both sides', () => {
    expectError(conn('', '', 'remote { auth = psk }'), 2, 2, "missing 'local { auth = psk");
    expectError(conn('', '', 'local { id = a }\nremote { auth = psk }'), 6, 1, "connections.net.local: missing 'auth = psk'");
    expectError(conn('', '', 'local { auth = pubkey }\nremote { auth = psk }'), 6, 16, "larval supports only 'psk'", "'pubkey'");
  });

  it('needs local.id when local_addrs is not a single address', () => {
    const t = conn('', '', 'local { auth = psk }\nremote { auth = psk }').replace('local_addrs = 192.0.2.1', 'local_addrs = 192.0.2.1, 192.0.2.3');
    expectError(t, 6, 1, "connections.net.local: missing 'id'");
  });
});

describe('proposals', () => {
  const ike = (p: string) => parseSwanctl(conn(`proposals = ${p}`)).connections[0].proposals;
  const esp = (p: string) => parseSwanctl(conn('', `esp_proposals = ${p}`)).connections[0].children[0].espProposals;

  it('reads every keyword larval implements', () => {
    expect(ike('aes128gcm16-aes192gcm16-aes256gcm128-prfsha1-prfsha256-prfsha384-prfsha512-curve25519-x25519-ecp256-modp2048')).toEqual([{
      encr: [{ alg: 'aes-gcm-16', keyBits: 128 }, { alg: 'aes-gcm-16', keyBits: 192 }, { alg: 'aes-gcm-16', keyBits: 256 }],
      integ: [], prf: ['hmac-sha1', 'hmac-sha2-256', 'hmac-sha2-384', 'hmac-sha2-512'], dh: ['curve25519', 'ecp256', 'modp2048'],
    }]);
    expect(ike('aes-aes192-aes256-sha1-sha384-sha512-prfsha384-ecp256')).toEqual([{
      encr: [{ alg: 'aes-cbc', keyBits: 128 }, { alg: 'aes-cbc', keyBits: 192 }, { alg: 'aes-cbc', keyBits: 256 }],
      integ: ['hmac-sha1-96', 'hmac-sha2-384-192', 'hmac-sha2-512-256'], prf: ['hmac-sha2-384'], dh: ['ecp256'],
    }]);
  });

  it('expands default alongside explicit proposals', () => {
    const p = ike('aes256gcm16-prfsha256-curve25519, default');
    expect(p).toHaveLength(3);
    expect(p.slice(1)).toEqual(defaultIkeProposals());
  });

  it("orders the ESP keyword 'default' classic first, as charon does (an absent esp_proposals is AEAD first)", () => {
    expect(esp('default')).toEqual(defaultEspProposals().reverse());
    expect(esp('default')[0].encr[0].alg).toBe('aes-cbc');
    expect(defaultEspProposals()[0].encr[0].alg).toBe('aes-gcm-16');
  });

  it('reads ESP proposals with PFS groups and esn', () => {
    expect(esp('aes256gcm16-curve25519-esn, aes128-sha256-modp2048-noesn, aes256-sha512')).toEqual([
      { encr: [{ alg: 'aes-gcm-16', keyBits: 256 }], integ: [], dh: ['curve25519'], esn: true },
      { encr: [{ alg: 'aes-cbc', keyBits: 128 }], integ: ['hmac-sha2-256-128'], dh: ['modp2048'], esn: false },
      { encr: [{ alg: 'aes-cbc', keyBits: 256 }], integ: ['hmac-sha2-512-256'], dh: [], esn: false },
    ]);
  });

  it('points at the offending algorithm inside the proposal', () => {
    // proposals = aes256-sha256-md5x-... : 'md5x' starts at column 13 + 14.
    expectError(conn('proposals = aes256-sha256-md5x-curve25519'), 5, 27, "unknown algorithm 'md5x' in proposal 'aes256-sha256-md5x-curve25519'");
    expectError(conn('proposals = aes256-sha256-modp1024'), 5, 27, "'modp1024' is a strongSwan algorithm larval does not implement");
    expectError(conn('proposals = aes256gcm16-prfsha256-x25519, 3des-sha1-modp2048'), 5, 43, "'3des' is a strongSwan algorithm");
    expectError(conn('proposals = chacha20poly1305-prfsha256-x25519'), 5, 13, "'chacha20poly1305' is a strongSwan algorithm");
    expectError(conn('proposals = aes256--sha256'), 5, 20, 'empty algorithm name');
  });

  it('refuses incomplete or inconsistent IKE proposals at the proposal', () => {
    expectError(conn('proposals = aes256gcm16-curve25519'), 5, 13, 'needs a PRF', 'a PRF algorithm is mandatory in IKE proposals');
    expectError(conn('proposals = aes256-prfsha256-curve25519'), 5, 13, 'needs an integrity algorithm');
    expectError(conn('proposals = aes256-sha256'), 5, 13, 'needs a key exchange group');
    expectError(conn('proposals = aes256gcm16-aes256-sha256-prfsha256-x25519'), 5, 13, 'mixes AEAD (gcm) and classic encryption');
    expectError(conn('proposals = aes256gcm16-sha256-prfsha256-x25519'), 5, 13, 'takes no integrity algorithm');
    expectError(conn('proposals = sha256-prfsha256-x25519'), 5, 13, 'has no encryption algorithm');
    expectError(conn('proposals = aes256-sha256-x25519-esn'), 5, 34, 'applies to ESP only');
    expectError(conn('proposals = aes256-sha256-x25519-default'), 5, 34, "'default' stands alone");
  });

  it('refuses ESP proposals with a PRF or both esn and noesn', () => {
    expectError(conn('', 'esp_proposals = aes256gcm16-prfsha256'), 14, 29, 'ESP proposals take no PRF');
    expectError(conn('', 'esp_proposals = aes256gcm16-esn-noesn'), 14, 33, 'both esn and noesn');
    expectError(conn('', 'esp_proposals = aes128'), 14, 17, 'needs an integrity algorithm');
  });
});

describe('children', () => {
  const child = (lines: string) => parseSwanctl(conn('', lines.replace(/^/, ''))).connections[0].children[0];

  it('reads traffic selectors with protocols and port ranges', () => {
    const t = conn('', '').replace('remote_ts = 10.2.0.0/24', 'remote_ts = 10.2.0.0/24[tcp/80], 10.3.0.0/16[udp/500-600], 2001:db8::/32[17], 10.4.0.1[icmp], 10.5.0.0/24[tcp/%any]');
    expect(parseSwanctl(t).connections[0].children[0].remoteTs).toEqual([
      { prefix: '10.2.0.0', prefixLength: 24, protocol: 6, portLow: 80, portHigh: 80 },
      { prefix: '10.3.0.0', prefixLength: 16, protocol: 17, portLow: 500, portHigh: 600 },
      { prefix: '2001:db8::', prefixLength: 32, protocol: 17 },
      { prefix: '10.4.0.1', prefixLength: 32, protocol: 1 },
      { prefix: '10.5.0.0', prefixLength: 24, protocol: 6 },
    ]);
  });

  it('reads %any, %any4, %any6 and defaults to dynamic (the single address)', () => {
    const t = conn('', '').replace('local_ts = 10.1.0.0/24', 'local_ts = %any4, %any6').replace('remote_ts = 10.2.0.0/24', 'remote_ts = %any');
    const c = parseSwanctl(t).connections[0].children[0];
    expect(c.localTs).toEqual([{ prefix: '0.0.0.0', prefixLength: 0 }, { prefix: '::', prefixLength: 0 }]);
    expect(c.remoteTs).toEqual([{ prefix: '0.0.0.0', prefixLength: 0 }, { prefix: '::', prefixLength: 0 }]);
    const d = parseSwanctl(conn().replace(' local_ts = 10.1.0.0/24\n', '').replace(' remote_ts = 10.2.0.0/24\n', ' remote_ts = dynamic\n')).connections[0].children[0];
    expect(d.localTs).toEqual([{ prefix: '192.0.2.1', prefixLength: 32 }]);
    expect(d.remoteTs).toEqual([{ prefix: '192.0.2.2', prefixLength: 32 }]);
  });

  it('refuses bad traffic selectors at the selector', () => {
    const ts = (v: string) => conn().replace('remote_ts = 10.2.0.0/24', `remote_ts = ${v}`);
    expectError(ts('10.2.0.1/24'), 13, 14, 'host bits are set');
    expectError(ts('10.2.0.0/33'), 13, 14, 'prefix length must be an integer 0..32');
    expectError(ts('10.2.0.0/24, bogus'), 13, 27, 'expected an address prefix', "'bogus'");
    expectError(ts('10.2.0.0/24[tcp/80-70]'), 13, 30, 'empty (low > high)');
    expectError(ts('10.2.0.0/24[tpc]'), 13, 26, "unknown protocol 'tpc'");
    expectError(ts('10.2.0.0/24[icmp/8]'), 13, 31, 'ICMP type selectors are not supported');
    expectError(ts('10.2.0.0/24[%any/80]'), 13, 31, 'a port needs a protocol with ports');
    expectError(ts('10.2.0.0-10.2.0.9'), 13, 14, 'address ranges are not supported');
    expectError(conn().replace(' remote_ts = 10.2.0.0/24\n', '').replace('remote_addrs = 192.0.2.2', 'remote_addrs = %any'), 11, 2, 'remote_ts is missing', 'exactly one remote_addrs address');
  });

  it('reads rekey_time, life_time, start_action and mode', () => {
    expect(child('rekey_time = 20m\nlife_time = 30m\nstart_action = start\nmode = tunnel')).toMatchObject({ rekeyTimeMs: 1_200_000, lifeTimeMs: 1_800_000, startAction: 'start', mode: 'tunnel' });
    expect(child('rekey_time = 100s')).toMatchObject({ rekeyTimeMs: 100_000, lifeTimeMs: 110_000 });
    expect(child('rekey_time = 0\nstart_action = trap')).toMatchObject({ rekeyTimeMs: 0, lifeTimeMs: 0, startAction: 'trap' });
  });

  it('refuses transport mode, unknown start actions and a life_time not after rekey_time', () => {
    expectError(conn('', 'mode = transport'), 14, 8, "larval supports only 'tunnel'");
    expectError(conn('', 'start_action = route'), 14, 16, 'expected none, trap or start', "'route'");
    expectError(conn('', 'life_time = 30m'), 14, 1, 'life_time: must be longer than rekey_time (3600s, the default)');
    expectError(conn('', 'rekey_time = 1h\nlife_time = 1h'), 15, 1, 'must be longer than rekey_time');
  });

  it('needs remote_addrs to start or trap', () => {
    const t = conn('', 'start_action = start').replace('remote_addrs = 192.0.2.2', 'remote_addrs = %any');
    expectError(t, 14, 1, "start_action: 'start' needs remote_addrs");
  });

  it('refuses a setting directly in children', () => {
    expectError(conn('').replace(' children {\n', ' children {\n x = 1\n'), 11, 2, "'x' in connections.net.children is a setting");
  });
});

describe('secrets', () => {
  const SECRET = 'Sup3r-s3cret-PSK-value';

  it('reads ids and the three secret forms, as strongSwan does (0x/0s also inside quotes)', () => {
    const c = parseSwanctl(`secrets {
  ike-1 { id = a.example
          id-2 = b.example
          secret = ${SECRET} }
  ike-hex { secret = 0x6b65792d6279746573 }
  ike-b64 { secret = 0sa2V5LWJ5dGVz }
  ike-q { secret = "0x6b65792d6279746573" }
  ike { secret = "with spaces, commas # and hashes" }
}`);
    expect(c.secrets.map((s) => s.ids)).toEqual([['a.example', 'b.example'], [], [], [], []]);
    expect(c.secrets[0].secret.equals(Secret.fromString(SECRET))).toBe(true);
    for (const i of [1, 2, 3]) expect(Buffer.from(c.secrets[i].secret.bytes()).toString()).toBe('key-bytes');
    expect(Buffer.from(c.secrets[4].secret.bytes()).toString()).toBe('with spaces, commas # and hashes');
  });

  // Every error in the secrets section, and any error after a secret on its line,
  // must not contain the secret or any part of it.
  const leaks: [string, string, number, number, string][] = [
    ['bad hex', `secrets { ike { secret = 0x${'ab'.repeat(9)}Z } }`, 1, 26, 'even number of hex digits'],
    ['bad base64', `secrets { ike { secret = 0s${SECRET}! } }`, 1, 26, 'needs base64 text'],
    ['a list', `secrets { ike { secret = ${SECRET}, ${SECRET}2 } }`, 1, 26, 'expected one value'],
    ['unterminated quote', `secrets { ike { secret = "${SECRET} } }`, 1, 26, 'unterminated quoted string'],
    ['text after }', `secrets { ike { secret = ${SECRET.slice(0, 8)}}${SECRET.slice(8)} }`, 1, 35, 'unexpected text after a secret'],
    ['brace in value', `secrets { ike { secret = ${SECRET.slice(0, 8)}{${SECRET.slice(8)} } }`, 1, 34, "unexpected '{' in the value of 'secret'"],
    ['key-like text after }', `secrets { ike { secret = abc } ${SECRET} = 1 }`, 1, 32, 'unexpected text after a secret'],
    ['the secret on the next line', `secrets {\n ike {\n secret =\n ${SECRET}\n }\n}\n`, 4, 2, 'unexpected word inside secrets (not shown)'],
    ['the secret as a key', `secrets {\n ike {\n ${SECRET} = x\n }\n}\n`, 3, 2, 'unknown key (not shown: inside secrets)'],
    ['the secret as a section', `secrets {\n ${SECRET} { secret = x }\n}\n`, 2, 2, 'a section named (not shown)'],
    ['the secret twice', `secrets {\n ike {\n ${SECRET} = x\n ${SECRET} = y\n }\n}\n`, 4, 2, 'duplicate a word inside secrets (not shown)'],
  ];
  for (const [name, text, line, column, words] of leaks) {
    it(`never shows a secret in an error: ${name} (R31)`, () => {
      const e = expectError(text, line, column, words);
      for (const part of [SECRET, SECRET.slice(0, 8), SECRET.slice(8), 'abababab']) expect(e.message).not.toContain(part);
      expect(inspect(e)).not.toContain(SECRET.slice(8));
    });
  }

  it('refuses a missing secret, other secret types and unknown keys', () => {
    expectError('secrets {\n  ike-1 { id = a }\n}\n', 2, 3, "secrets.ike-1: missing 'secret = ...'");
    expectError('secrets {\n  eap-1 { secret = x }\n}\n', 2, 3, "'eap' secrets are not supported");
    expectError('secrets {\n  psk { secret = x }\n}\n', 2, 3, "secrets: a section named (not shown); expected a section named ike or ike<suffix>");
    // Any other word inside secrets could be a misplaced secret: never echoed.
    expectError('secrets {\n  ike { secret = x\n    sekret = y }\n}\n', 3, 5, 'unknown key (not shown: inside secrets) in secrets.ike; expected one of id, id-N (any suffix), secret');
    expectError('secrets {\n  ike { secret = "" }\n}\n', 2, 18, 'the secret is empty');
    expectError('secrets {\n  ike { secret = }\n}\n', 2, 17, 'expected a value');
    expectError('secrets {\n  x = 1\n}\n', 2, 3, 'a setting (name not shown) directly in secrets');
    expectError('secrets {\n  secret = 1\n}\n', 2, 3, "'secret' directly in secrets");
  });
});

describe('loadSwanctl', () => {
  it('reads a file and names it in errors', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'larval-swanctl-'));
    try {
      const good = join(dir, 'swanctl.conf');
      await writeFile(good, NOTE_CONF);
      expect((await loadSwanctl(good)).connections[0].name).toBe('net');
      const bad = join(dir, 'bad.conf');
      await writeFile(bad, 'connections {\n  net { version = 7 }\n}\n');
      await expect(loadSwanctl(bad)).rejects.toThrow(`${bad}:2:19: connections.net.version: expected 0 (any) or 2`);
      await expect(loadSwanctl(join(dir, 'missing.conf'))).rejects.toMatchObject({ code: 'ENOENT' });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('errors without a file name start with line:column', () => {
    const e = failure('connections {\n  x = 1\n}\n', null);
    expect(e.message).toMatch(/^2:3: /);
    expect(e.file).toBeUndefined();
  });
});

describe('hostile input (GUIDE: a clear error, never a crash or a hang; R31)', () => {
  // A small deterministic generator (xorshift32): the same mutations every run.
  function rng(seed: number) {
    let x = seed >>> 0 || 1;
    return (n: number) => {
      x ^= x << 13;
      x >>>= 0;
      x ^= x >>> 17;
      x ^= x << 5;
      x >>>= 0;
      return x % n;
    };
  }
  // A PSK no message text could contain by chance; any 6 consecutive characters of it count as shown.
  const PSK = 'Qx7vLm2pZr9tWk4s';
  const BASE = NOTE_CONF.replace('a-long-pre-shared-key', PSK);
  const pieces = Array.from({ length: PSK.length - 5 }, (_, i) => PSK.slice(i, i + 6));

  function check(text: string): void {
    try {
      parseSwanctl(text, 'fuzz.conf');
    } catch (err) {
      if (!(err instanceof ConfigError)) throw new Error(`not a ConfigError for ${JSON.stringify(text)}: ${String(err)}`);
      expect(err.message).toMatch(/^fuzz\.conf:\d+:\d+: /);
      for (const p of pieces) if (err.message.includes(p)) throw new Error(`secret shown: ${err.message}\nfor ${JSON.stringify(text)}`);
    }
  }

  it('every truncation of a valid file: parsed or a ConfigError, the PSK never shown', () => {
    expect(BASE).toContain(PSK);
    for (let n = 0; n <= BASE.length; n++) check(BASE.slice(0, n));
  });

  it('3000 random byte edits (delete, insert, replace with syntax characters): parsed or a ConfigError, the PSK never shown', () => {
    const next = rng(0x13);
    const alphabet = '{}=,"#\n \\[]/-:0x%abc';
    for (let k = 0; k < 3000; k++) {
      let t = BASE;
      for (let e = 1 + next(3); e > 0; e--) {
        const at = next(t.length);
        const ch = alphabet[next(alphabet.length)];
        const op = next(3);
        t = op === 0 ? t.slice(0, at) + t.slice(at + 1) : op === 1 ? t.slice(0, at) + ch + t.slice(at) : t.slice(0, at) + ch + t.slice(at + 1);
      }
      check(t);
    }
  });

  it('deep nesting and long inputs stay linear (no recursion limit for reasonable files, no quadratic blowup)', () => {
    check('a {'.repeat(2000) + '}'.repeat(2000));
    check(`connections { ${'x'.repeat(200_000)} = 1 }`);
    check(`secrets { ike { secret = "${'s'.repeat(100_000)}" } }`);
    check('\u0000\u00ff\ud800 { = } "');
  });
});
