// setkey(8) configuration: statements and options into PolicySpecs/SaSpecs, errors
// with line:column, the sample gateway applied to a real engine, keys never shown,
// and a differential check of parsed policies against hand-written ones.
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { applyConfig, type Config, ConfigError, type ConfigSa, loadSetkey, parseSetkey, policySpec, saSpec } from '../../src/config/setkey.js';
import { buildPacket, createEngine, type Engine, LarvalError } from '../../src/index.js';
import { generateTrace, Rng } from '../../src/reference/trace.js';
import type { Direction, Flow, PolicySpec } from '../../src/engine/types.js';

const here = (name: string) => fileURLToPath(new URL(name, import.meta.url));
const GCM_KEY = '0x000102030405060708090a0b0c0d0e0fcafebabe'; // 16 + 4 octets
const hex = (s: string) => Uint8Array.from(Buffer.from(s.replace(/^0x/, ''), 'hex'));

function one(text: string) {
  const c = parseSetkey(text);
  expect(c.operations).toHaveLength(1);
  return c.operations[0];
}

function sa(text: string): ConfigSa {
  const op = one(text);
  if (op.op !== 'add' && op.op !== 'update') throw new Error(`not an SA statement: ${op.op}`);
  return op.sa;
}

function policy(text: string) {
  const op = one(text);
  if (op.op !== 'spdadd' && op.op !== 'spdupdate') throw new Error(`not a policy statement: ${op.op}`);
  return op.policy;
}

function failure(text: string, file: string | null = 'gw.conf'): ConfigError {
  try {
    parseSetkey(text, file ?? undefined);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    expect(err).toBeInstanceOf(LarvalError);
    return err as ConfigError;
  }
  throw new Error(`parsed without error: ${text}`);
}

// ---------------------------------------------------------------------------

describe('add / update: SAs', () => {
  it('reads every extension and an AES-GCM key', () => {
    const s = sa(`add -n 192.0.2.1 198.51.100.1 esp 0x1001 -m tunnel -u 7 -r 64 -f random-pad -f nocyclic-seq -ls 3000 -lh 3600 -bs 1000000 -bh 2000000 -E aes-gcm-16 ${GCM_KEY};`);
    expect(s).toEqual({
      spi: 0x1001, src: '192.0.2.1', dst: '198.51.100.1', proto: 'esp', mode: 'tunnel', reqid: 7,
      lifetime: { soft: { addTime: 3_000_000, bytes: 1_000_000 }, hard: { addTime: 3_600_000, bytes: 2_000_000 } },
      encryption: { algorithm: 'aes-gcm-16', key: hex(GCM_KEY) },
      replay: 64, pad: 'random-pad', noCyclicSeq: true, line: 1, column: 1,
    });
    expect(s.encryption!.key).toBeInstanceOf(Uint8Array);
    // What the engine gets: no line, column, replay or pad.
    expect(saSpec(s)).toEqual({
      spi: 0x1001, src: '192.0.2.1', dst: '198.51.100.1', proto: 'esp', mode: 'tunnel', reqid: 7,
      lifetime: { soft: { addTime: 3_000_000, bytes: 1_000_000 }, hard: { addTime: 3_600_000, bytes: 2_000_000 } },
      encryption: { algorithm: 'aes-gcm-16', key: hex(GCM_KEY) },
    });
  });

  it('mode: transport without -m and for -m any (larval needs a mode), tunnel for -m tunnel', () => {
    expect(sa(`add 10.0.0.1 10.0.0.2 esp 256 -E aes-gcm-16 ${GCM_KEY};`).mode).toBe('transport');
    expect(sa(`add 10.0.0.1 10.0.0.2 esp 256 -m any -E aes-gcm-16 ${GCM_KEY};`).mode).toBe('transport');
    expect(sa(`add 10.0.0.1 10.0.0.2 esp 256 -m transport -E aes-gcm-16 ${GCM_KEY};`).mode).toBe('transport');
    expect(sa(`add 10.0.0.1 10.0.0.2 esp 256 -m tunnel -E aes-gcm-16 ${GCM_KEY};`).mode).toBe('tunnel');
  });

  it('SPIs in decimal and hex; 256 is the smallest', () => {
    expect(sa(`add 10.0.0.1 10.0.0.2 esp 256 -E aes-gcm-16 ${GCM_KEY};`).spi).toBe(256);
    expect(sa(`add 10.0.0.1 10.0.0.2 esp 0xffffffff -E aes-gcm-16 ${GCM_KEY};`).spi).toBe(0xffffffff);
    expect(sa(`add 10.0.0.1 10.0.0.2 esp 4294967295 -E aes-gcm-16 ${GCM_KEY};`).spi).toBe(0xffffffff);
  });

  it('aes-cbc and rijndael-cbc with hmac-sha256 (RFC 4868 -128), hmac-sha2-256 and hmac-sha1 (-96)', () => {
    const aes = '0x' + '11'.repeat(16);
    const sha256 = '0x' + '22'.repeat(32);
    const sha1 = '0x' + '33'.repeat(20);
    for (const e of ['aes-cbc', 'rijndael-cbc']) {
      const s = sa(`add 10.0.0.1 10.0.0.2 esp 0x300 -E ${e} ${aes} -A hmac-sha256 ${sha256};`);
      expect(s.encryption).toEqual({ algorithm: 'aes-cbc', key: hex(aes) });
      expect(s.integrity).toEqual({ algorithm: 'hmac-sha256-128', key: hex(sha256) });
    }
    expect(sa(`add 10.0.0.1 10.0.0.2 esp 0x300 -E aes-cbc ${aes} -A hmac-sha2-256 ${sha256};`).integrity!.algorithm).toBe('hmac-sha256-128');
    expect(sa(`add 10.0.0.1 10.0.0.2 esp 0x300 -E aes-cbc ${aes} -A hmac-sha1 ${sha1};`).integrity).toEqual({ algorithm: 'hmac-sha1-96', key: hex(sha1) });
  });

  it('keys as "quoted strings" are their bytes', () => {
    const s = sa('add 10.0.0.1 10.0.0.2 esp 0x300 -E rijndael-cbc "0123456789abcdef" -A hmac-sha1 "twenty octets key!!!";');
    expect(s.encryption!.key).toEqual(Uint8Array.from(Buffer.from('0123456789abcdef')));
    expect(s.integrity!.key).toEqual(Uint8Array.from(Buffer.from('twenty octets key!!!')));
  });

  it('esp-udp: UDP encapsulation, ports from src[port] dst[port] (any/none: 4500)', () => {
    expect(sa(`add 192.0.2.1 198.51.100.1 esp-udp 0x1001 -E aes-gcm-16 ${GCM_KEY};`)).toMatchObject({ proto: 'esp', encap: {} });
    expect(sa(`add 192.0.2.1[4500] 198.51.100.1[31337] esp-udp 0x1001 -E aes-gcm-16 ${GCM_KEY};`).encap).toEqual({ sport: 4500, dport: 31337 });
    expect(sa(`add 192.0.2.1[any] 198.51.100.1[0] esp-udp 0x1001 -E aes-gcm-16 ${GCM_KEY};`).encap).toEqual({});
    expect(sa(`add 192.0.2.1 198.51.100.1 esp 0x1001 -E aes-gcm-16 ${GCM_KEY};`).encap).toBeUndefined();
  });

  it('ah: selected, not computed: the -A key is read and dropped', () => {
    const s = sa('add 10.0.0.1 10.0.0.2 ah 0x500 -m tunnel -A hmac-sha1 "AH SA configuration!";');
    expect(s).toEqual({ spi: 0x500, src: '10.0.0.1', dst: '10.0.0.2', proto: 'ah', mode: 'tunnel', line: 1, column: 1 });
  });

  it('-esn (FreeBSD setkey) sets esn; lifetime 0 means no limit', () => {
    const s = sa(`add 10.0.0.1 10.0.0.2 esp 0x600 -esn -lh 0 -bs 0 -E aes-gcm-16 ${GCM_KEY};`);
    expect(s.esn).toBe(true);
    expect(s.lifetime).toBeUndefined();
  });

  it('a soft lifetime equal to the hard one is accepted; only soft above hard is an error (R25)', () => {
    const s = sa(`add 10.0.0.1 10.0.0.2 esp 0x601 -ls 60 -lh 60 -bs 5000 -bh 5000 -E aes-gcm-16 ${GCM_KEY};`);
    expect(s.lifetime).toEqual({ soft: { addTime: 60_000, bytes: 5000 }, hard: { addTime: 60_000, bytes: 5000 } });
  });

  it('IPv6 endpoints are written canonically', () => {
    const s = sa(`add -6 2001:DB8:0:0::1 2001:db8::0:2 esp 123457 -E aes-gcm-16 ${GCM_KEY};`);
    expect(s).toMatchObject({ src: '2001:db8::1', dst: '2001:db8::2', spi: 123457 });
  });

  it('statements span lines, with comments anywhere and CRLF line ends', () => {
    const c = parseSetkey(['# header', 'add 10.0.0.1   # the source', '\t10.0.0.2 esp 0x1001', `  -E aes-gcm-16 ${GCM_KEY}  # key`, ';', 'spdflush;  # done'].join('\r\n'));
    expect(c.operations.map((o) => [o.op, o.line, o.column])).toEqual([['add', 2, 1], ['spdflush', 6, 1]]);
    expect(c.sas[0]).toMatchObject({ src: '10.0.0.1', dst: '10.0.0.2', line: 2, column: 1 });
  });

  it('update replaces an SA with the same (SPI, dst); delete, deleteall and flush remove', () => {
    const c = parseSetkey(`
add 10.0.0.1 10.0.0.2 esp 0x1001 -E aes-gcm-16 ${GCM_KEY};
add 10.0.0.1 10.0.0.2 esp 0x1002 -E aes-gcm-16 ${GCM_KEY};
add 10.0.0.3 10.0.0.4 esp 0x1003 -E aes-gcm-16 ${GCM_KEY};
add 10.0.0.3 10.0.0.4 ah 0x1004 -A hmac-sha1 "01234567890123456789";
update 10.0.0.1 10.0.0.2 esp 0x1001 -m tunnel -E aes-gcm-16 ${GCM_KEY};
delete 10.0.0.1 10.0.0.2 esp 0x1002;
deleteall 10.0.0.3 10.0.0.4 esp;
`);
    expect(c.operations.map((o) => o.op)).toEqual(['add', 'add', 'add', 'add', 'update', 'delete', 'deleteall']);
    expect(c.operations[5]).toEqual({ op: 'delete', proto: 'esp', src: '10.0.0.1', dst: '10.0.0.2', spi: 0x1002, line: 7, column: 1 });
    expect(c.operations[6]).toEqual({ op: 'deleteall', proto: 'esp', src: '10.0.0.3', dst: '10.0.0.4', line: 8, column: 1 });
    expect(c.sas.map((s) => [s.spi, s.mode, s.line])).toEqual([[0x1004, 'transport', 5], [0x1001, 'tunnel', 6]]);
    const esp = parseSetkey(`add 10.0.0.1 10.0.0.2 esp 0x1001 -E aes-gcm-16 ${GCM_KEY}; add 10.0.0.3 10.0.0.4 ah 0x1004 -A hmac-sha1 "01234567890123456789"; flush esp;`);
    expect(esp.sas.map((s) => s.spi)).toEqual([0x1004]);
    const f = parseSetkey(`add 10.0.0.1 10.0.0.2 esp 0x1001 -E aes-gcm-16 ${GCM_KEY}; flush;`);
    expect(f.sas).toEqual([]);
    expect(f.operations[1]).toEqual({ op: 'flush', line: 1, column: 92 });
    expect(one('flush ah;')).toEqual({ op: 'flush', proto: 'ah', line: 1, column: 1 });
  });
});

describe('spdadd / spdupdate / spddelete / spdflush: policies', () => {
  it('the man page example: address[port], prefix, any, a tunnel request', () => {
    expect(policy('spdadd 10.0.11.41/32[21] 10.0.11.33/32[any] any -P out ipsec esp/tunnel/192.168.0.1-192.168.1.2/require ;')).toEqual({
      dir: 'out', src: '10.0.11.41/32', dst: '10.0.11.33/32', srcPort: 21, priority: 0x80000000, action: 'protect',
      template: { proto: 'esp', mode: 'tunnel', src: '192.168.0.1', dst: '192.168.1.2', level: 'require' },
      line: 1, column: 1,
    });
  });

  it('ranges: address, address/prefixlen, address[port], address/prefixlen[port]', () => {
    expect(policy('spdadd 10.0.0.1 10.1.0.0/16 tcp -P out none;')).toMatchObject({ src: '10.0.0.1/32', dst: '10.1.0.0/16', proto: 'tcp' });
    const p = policy('spdadd 10.0.0.1[1234] 10.1.0.0/16[443] tcp -P out none;');
    expect(p).toMatchObject({ src: '10.0.0.1/32', dst: '10.1.0.0/16', srcPort: 1234, dstPort: 443 });
    const any = policy('spdadd 0.0.0.0/0[any] 0.0.0.0/0[0] udp -P in discard;');
    expect(any).toEqual({ dir: 'in', src: '0.0.0.0/0', dst: '0.0.0.0/0', proto: 'udp', priority: 0x80000000, action: 'discard', line: 1, column: 1 });
    expect(policy('spdadd ::/0 2001:DB8::/32[53] udp -P out none;')).toMatchObject({ src: '::/0', dst: '2001:db8::/32', dstPort: 53 });
    // Ports are 16-bit fields (RFC 768, RFC 9293): 65535 is a port, 65536 is not (the error table).
    expect(policy('spdadd 10.0.0.1[65535] 10.1.0.0/16[1] tcp -P out none;')).toMatchObject({ srcPort: 65535, dstPort: 1 });
  });

  it('upperspec: any, names, icmp6, numbers (0 and 255 are any)', () => {
    const proto = (u: string, fam = '10.0.0.0/8 10.1.0.0/16') => policy(`spdadd ${fam} ${u} -P out none;`).proto;
    expect(proto('any')).toBeUndefined();
    expect(proto('0')).toBeUndefined();
    expect(proto('255')).toBeUndefined();
    expect(proto('tcp')).toBe('tcp');
    expect(proto('udp')).toBe('udp');
    expect(proto('icmp')).toBe('icmp');
    expect(proto('gre')).toBe('gre');
    expect(proto('6')).toBe('tcp');
    expect(proto('4')).toBe(4);
    expect(proto('ip4')).toBe(4);
    expect(proto('99')).toBe(99);
    expect(proto('icmp6', '::/0 ::/0')).toBe('ipv6-icmp');
    expect(proto('ipv6-icmp', '::/0 ::/0')).toBe('ipv6-icmp');
  });

  it('ICMP type[,code]; 0 is the kernels\' wildcard', () => {
    expect(policy('spdadd ::/0 ::/0 icmp6 135,0 -P in none ;')).toEqual({
      dir: 'in', src: '::/0', dst: '::/0', proto: 'ipv6-icmp', icmpType: 135, priority: 0x80000000, action: 'bypass', line: 1, column: 1,
    });
    expect(policy('spdadd 0.0.0.0/0 0.0.0.0/0 icmp 3,4 -P out discard;')).toMatchObject({ proto: 'icmp', icmpType: 3, icmpCode: 4 });
    expect(policy('spdadd 0.0.0.0/0 0.0.0.0/0 icmp 8 -P out discard;')).toMatchObject({ icmpType: 8 });
    const zero = policy('spdadd 0.0.0.0/0 0.0.0.0/0 icmp 0,0 -P out discard;');
    expect(zero.icmpType).toBeUndefined();
    expect(zero.icmpCode).toBeUndefined();
  });

  it('actions: none -> bypass, discard -> discard, ipsec -> protect', () => {
    expect(policy('spdadd 10.0.0.0/8 10.0.0.0/8 any -P fwd none;')).toMatchObject({ dir: 'fwd', action: 'bypass' });
    expect(policy('spdadd 10.0.0.0/8 10.0.0.0/8 any -P in discard;')).toMatchObject({ dir: 'in', action: 'discard' });
    expect(policy('spdadd 10.0.0.0/8 10.0.0.0/8 any -P out ipsec esp/transport//require;')).toMatchObject({
      action: 'protect', template: { proto: 'esp', mode: 'transport', level: 'require' },
    });
  });

  it('requests: the forms and levels of ipsec_set_policy(3)', () => {
    const t = (r: string) => policy(`spdadd 10.0.0.0/8 10.1.0.0/16 any -P out ipsec ${r};`).template;
    expect(t('esp/transport')).toEqual({ proto: 'esp', mode: 'transport', level: 'require' });
    expect(t('esp/transport/')).toEqual({ proto: 'esp', mode: 'transport', level: 'require' });
    expect(t('esp/transport//default')).toEqual({ proto: 'esp', mode: 'transport', level: 'require' });
    expect(t('ah/transport//use')).toEqual({ proto: 'ah', mode: 'transport', level: 'use' });
    expect(t('esp/transport//unique')).toEqual({ proto: 'esp', mode: 'transport', level: 'unique' });
    expect(t('esp/transport//unique:5')).toEqual({ proto: 'esp', mode: 'transport', level: 'unique', reqid: 5 });
    expect(t('esp/tunnel/192.0.2.1-198.51.100.1')).toEqual({ proto: 'esp', mode: 'tunnel', src: '192.0.2.1', dst: '198.51.100.1', level: 'require' });
    expect(t('esp/tunnel/192.0.2.1-198.51.100.1/')).toEqual({ proto: 'esp', mode: 'tunnel', src: '192.0.2.1', dst: '198.51.100.1', level: 'require' });
    expect(t('esp/tunnel/2001:DB8::1-2001:db8::2/unique:32767')).toEqual({ proto: 'esp', mode: 'tunnel', src: '2001:db8::1', dst: '2001:db8::2', level: 'unique', reqid: 32767 });
  });

  it('prio: the values libipsec writes, which order the SPD as larval does (lower first)', () => {
    const prio = (spec: string) => policy(`spdadd 10.0.0.0/8 10.1.0.0/16 any -P out ${spec} none;`).priority;
    expect(prio('')).toBe(0x80000000);
    expect(prio('prio def')).toBe(0x80000000);
    expect(prio('priority high')).toBe(0x40000000);
    expect(prio('prio low')).toBe(0xc0000000);
    expect(prio('prio 10')).toBe(0x80000000 - 10);
    expect(prio('prio -10')).toBe(0x80000000 + 10);
    expect(prio('prio 2147483648')).toBe(0);
    expect(prio('prio -2147483647')).toBe(0xffffffff);
    expect(prio('prio def + 100')).toBe(0x80000000 - 100);
    expect(prio('prio def+100')).toBe(0x80000000 - 100);
    expect(prio('prio def -5')).toBe(0x80000000 + 5);
    expect(prio('prio high + 1073741824')).toBe(0);
    expect(prio('prio low - 1073741823')).toBe(0xffffffff);
  });

  it('prio in the engine: high before def+N before no prio (file order) before -N before low; API priority 0 first', async () => {
    const c = parseSetkey(`
spdadd 10.0.0.0/8 10.0.0.0/8 any -P out prio low discard;
spdadd 10.0.0.0/8 10.0.0.0/8 tcp -P out prio -10 discard;
spdadd 10.0.0.0/8 10.0.0.0/8 udp -P out none;
spdadd 10.1.0.0/16 10.0.0.0/8 udp -P out none;
spdadd 10.1.2.0/24 10.0.0.0/8 any -P out prio def + 5 discard;
spdadd 10.1.2.3 10.0.0.0/8 any -P out prio high none;
`);
    const engine = await createEngine();
    const { policyIds: ids } = applyConfig(engine, c);
    const m = (src: string, proto: string) => engine.matchPolicy('out', { src, dst: '10.9.9.9', proto, ...(proto === 'icmp' ? {} : { dstPort: 1 }) });
    expect(m('10.1.2.3', 'udp')).toBe(ids[5]); // high
    expect(m('10.1.2.4', 'udp')).toBe(ids[4]); // def + 5
    expect(m('10.1.3.4', 'udp')).toBe(ids[2]); // no prio: the earlier of two
    expect(m('10.1.3.4', 'tcp')).toBe(ids[1]); // -10 beats low
    expect(m('10.1.3.4', 'icmp')).toBe(ids[0]);
    const api = engine.addPolicy({ dir: 'out', src: '10.0.0.0/8', action: 'discard' }); // priority 0
    expect(m('10.1.2.3', 'udp')).toBe(api);
  });

  it('spdupdate replaces the policy with the same selector and direction; spddelete and spdflush remove', () => {
    const c = parseSetkey(`
spdadd 10.0.0.0/8 10.1.0.0/16 any -P out none;
spdadd 10.0.0.0/8 10.1.0.0/16 any -P in none;
spdadd 10.0.0.0/8 10.2.0.0/16 tcp -P out none;
spdupdate 10.0.0.0/8 10.1.0.0/16 any -P out prio high discard;
spddelete 10.0.0.0/8 10.1.0.0/16 any -P in;
spddelete 10.0.0.0/8 10.2.0.0/16 tcp -P out none;
`);
    expect(c.operations.map((o) => o.op)).toEqual(['spdadd', 'spdadd', 'spdadd', 'spdupdate', 'spddelete', 'spddelete']);
    expect(c.operations[4]).toEqual({ op: 'spddelete', selector: { dir: 'in', src: '10.0.0.0/8', dst: '10.1.0.0/16', line: 6, column: 1 }, line: 6, column: 1 });
    expect(c.policies).toEqual([{ dir: 'out', src: '10.0.0.0/8', dst: '10.1.0.0/16', priority: 0x40000000, action: 'discard', line: 5, column: 1 }]);
    expect(parseSetkey('spdadd 10.0.0.0/8 10.1.0.0/16 any -P out none; spdflush;').policies).toEqual([]);
    expect(policySpec(c.policies[0])).toEqual({ dir: 'out', src: '10.0.0.0/8', dst: '10.1.0.0/16', priority: 0x40000000, action: 'discard' });
  });

  it('the -4/-6/-n flags are accepted (addresses are always numeric)', () => {
    expect(policy('spdadd -4n 10.0.0.0/8 10.1.0.0/16 any -P out none;')).toMatchObject({ src: '10.0.0.0/8' });
    expect(policy('spdadd -6 ::/0 ::/0 any -P out none;')).toMatchObject({ src: '::/0' });
  });
});

// ---------------------------------------------------------------------------

describe('errors: file:line:column, what was expected', () => {
  const K = '0x000102030405060708090a0b0c0d0e0fcafebabe';
  const cases: [string, string, string, string][] = [
    // name, text, line:column, message fragment
    ['unknown statement', 'spdadd 10.0.0.0/8 10.1.0.0/16 any -P out none;\n  frobnicate 1 2;', '2:3', "unknown statement 'frobnicate' (expected add, update, delete, deleteall, flush, spdadd, spdupdate, spddelete, spdflush)"],
    ['get is refused', '\nget 10.0.0.1 10.0.0.2 esp 0x1000;', '2:1', "'get' shows one SA of the kernel"],
    ['dump is refused', 'dump esp;', '1:1', "'dump' is not supported"],
    ['missing ; at EOF', `spdflush;\nadd 10.0.0.1 10.0.0.2 esp 0x1001\n  -E aes-gcm-16 ${K}`, '3:59', "missing ';' at the end of the file: the 'add' statement at 2:1 is not terminated"],
    ['empty statement', 'spdflush;;', '1:10', "unexpected ';': an empty statement"],
    ['unterminated quote', 'add 10.0.0.1 10.0.0.2 esp 0x1001 -E aes-cbc "0123456789abcdef;\n', '1:45', 'unterminated quoted string'],
    ['bad IPv4 address', 'spdadd 10.0.0.300 10.1.0.0/16 any -P out none;', '1:8', "source range '10.0.0.300' is not a valid IPv4 address"],
    ['bad IPv6 address', 'add 2001:db8::1 2001:db8:::2 esp 0x1001 -E aes-gcm-16 ' + K + ';', '1:17', "destination address '2001:db8:::2' is not a valid IPv6 address"],
    ['host name', 'add gw.example.com 10.0.0.2 esp 0x1001 -E aes-gcm-16 ' + K + ';', '1:5', 'is not a numeric address: larval does not resolve host names'],
    ['family mismatch (SA)', 'add 10.0.0.1 2001:db8::2 esp 0x1001 -E aes-gcm-16 ' + K + ';', '1:14', 'destination 2001:db8::2 is IPv6 but the source 10.0.0.1 is IPv4'],
    ['family mismatch (policy)', 'spdadd 10.0.0.0/8   2001:db8::/32 any -P out none;', '1:21', 'destination range 2001:db8::/32 is IPv6 but the source range 10.0.0.0/8 is IPv4'],
    ['-4 with an IPv6 address', 'spdadd -4 ::/0 ::/0 any -P out none;', '1:11', 'source range :: is IPv6, but -4 restricts the statement to IPv4'],
    ['prefix length too long', 'spdadd 10.0.0.0/33 10.1.0.0/16 any -P out none;', '1:17', "prefix length '33' of source range: expected 0..32 for IPv4"],
    ['prefix length not a number', 'spdadd 10.0.0.0/8 2001:db8::/x any -P out none;', '1:30', "prefix length 'x' of destination range: expected 0..128 for IPv6"],
    ['host bits set', 'spdadd 10.1.2.0/16 10.1.0.0/16 any -P out none;', '1:8', 'source range 10.1.2.0/16 has host bits set below the /16 mask (did you mean 10.1.0.0/16?)'],
    ['port range', 'spdadd 10.0.0.0/8[1000-2000] 10.1.0.0/16 tcp -P out none;', '1:19', "port '1000-2000': setkey has no port ranges"],
    ['bad port', 'spdadd 10.0.0.0/8 10.1.0.0/16[70000] tcp -P out none;', '1:31', "expected a port 0..65535 or 'any' between the brackets"],
    ['ports with icmp', 'spdadd 10.0.0.0/8[53] 10.1.0.0/16 icmp -P out none;', '1:19', 'srcPort: ports select only tcp, udp and sctp'],
    ['icmp type with IPv6 needs icmp6', 'spdadd ::/0 ::/0 icmp 128 -P out none;', '1:23', "icmpType: needs proto 'ipv6-icmp' for IPv6 selectors"],
    ['SPI below 256', 'add 10.0.0.1 10.0.0.2 esp 255 -E aes-gcm-16 ' + K + ';', '1:27', 'SPI 255 is reserved: SPIs 0..255 are reserved by IANA (RFC 4303 §2.1) and larval refuses them; use 256..4294967295'],
    ['SPI 0x10', 'add 10.0.0.1 10.0.0.2 esp 0x10 -E aes-gcm-16 ' + K + ';', '1:27', 'SPI 16 is reserved'],
    ['SPI too big', 'add 10.0.0.1 10.0.0.2 esp 0x1ffffffff -E aes-gcm-16 ' + K + ';', '1:27', 'does not fit in 32 bits'],
    ['SPI not a number', 'add 10.0.0.1 10.0.0.2 esp spi1 -E aes-gcm-16 ' + K + ';', '1:27', "expected an SPI (decimal, or hex with 0x), got 'spi1'"],
    ['unknown protocol', 'add 10.0.0.1 10.0.0.2 esb 0x1001;', '1:23', "expected a protocol (esp, esp-udp or ah), got 'esb'"],
    ['ipcomp', 'add 10.0.0.1 10.0.0.2 ipcomp 0x1001 -C deflate;', '1:23', "'ipcomp' is not supported"],
    ['unknown encryption algorithm', '\n\n\n\n\n\n\n\n\n\n\nadd 10.0.0.1 10.0.0.2 esp 0x1001 -E aes-xyz ' + K + ';', '12:37', "unknown encryption algorithm 'aes-xyz' (known: aes-gcm-16, aes-cbc, rijndael-cbc, chacha20-poly1305)"],
    ['des-cbc', 'add 10.0.0.1 10.0.0.2 esp 0x1001 -E des-cbc 0x3ffe05014819ffff;', '1:37', "encryption algorithm 'des-cbc' is not supported by larval (supported: aes-gcm-16, aes-cbc, rijndael-cbc, chacha20-poly1305)"],
    ['3des-cbc', 'add 10.0.0.1 10.0.0.2 esp 0x1001 -E 3des-cbc ' + K + ';', '1:37', "encryption algorithm '3des-cbc' is not supported by larval"],
    ['hmac-md5', 'add 10.0.0.1 10.0.0.2 esp 0x1001 -E aes-cbc 0x' + '11'.repeat(16) + ' -A hmac-md5 "authentication!!";', '1:83', "authentication algorithm 'hmac-md5' is not supported by larval (supported: hmac-sha256, hmac-sha2-256, hmac-sha1)"],
    ['unknown authentication algorithm', 'add 10.0.0.1 10.0.0.2 ah 0x1001 -A hmac-sha3 "x";', '1:36', "unknown authentication algorithm 'hmac-sha3'"],
    ['algorithm missing, key given', 'add 10.0.0.1 10.0.0.2 esp 0x1001 -E ' + K + ';', '1:37', 'expected an encryption algorithm after -E, got what looks like a key (not shown)'],
    ['key not hex', 'add 10.0.0.1 10.0.0.2 esp 0x1001 -E aes-gcm-16 0x00010203zz;', '1:48', 'the key after -E aes-gcm-16 is not hex'],
    ['key with an odd number of digits', 'add 10.0.0.1 10.0.0.2 esp 0x1001 -E aes-gcm-16 0x000102030405060708090a0b0c0d0e0fcafebab;', '1:48', 'odd number of hex digits (39)'],
    ['key without 0x', 'add 10.0.0.1 10.0.0.2 esp 0x1001 -E aes-gcm-16 000102030405060708090a0b0c0d0e0fcafebabe;', '1:48', 'must be 0x-prefixed hex or a "quoted string"'],
    ['key missing', 'add 10.0.0.1 10.0.0.2 esp 0x1001 -E aes-gcm-16;', '1:47', "expected the key after -E aes-gcm-16 before ';'"],
    ['key length (engine check)', 'add 10.0.0.1 10.0.0.2 esp 0x1001 -E aes-gcm-16 0x' + '00'.repeat(16) + ';', '1:48', 'encryption.key: aes-gcm-16 takes 20, 28, 36 octets (AES key + 4-octet salt, RFC 4106 §8.1), got 16'],
    ['integrity key length (engine check)', 'add 10.0.0.1 10.0.0.2 esp 0x1001 -E aes-cbc 0x' + '11'.repeat(16) + ' -A hmac-sha256 0x' + '22'.repeat(20) + ';', '1:95', 'integrity.key: hmac-sha256-128 takes 32 octets, got 20'],
    ['aes-cbc without -A (engine check)', 'add 10.0.0.1 10.0.0.2 esp 0x1001 -E aes-cbc 0x' + '11'.repeat(16) + ';', '1:34', 'integrity: aes-cbc needs an integrity algorithm'],
    ['aes-gcm with -A (engine check)', 'add 10.0.0.1 10.0.0.2 esp 0x1001 -E aes-gcm-16 ' + K + ' -A hmac-sha1 0x' + '33'.repeat(20) + ';', '1:91', 'integrity: aes-gcm-16 authenticates by itself'],
    ['esp without -E', 'add 10.0.0.1 10.0.0.2 esp 0x1001 -m tunnel ;', '1:44', "expected -E ealgo key before ';': an esp SA needs an encryption algorithm"],
    ['esp with -A only', 'add 10.0.0.1 10.0.0.2 esp 0x1001 -A hmac-sha1 0x' + '33'.repeat(20) + ';', '1:34', 'an esp SA needs -E ealgo key first: -A alone is for ah'],
    ['ah with -E', 'add 10.0.0.1 10.0.0.2 ah 0x1001 -E aes-gcm-16 ' + K + ' -A hmac-sha1 "x";', '1:33', 'ah takes no -E'],
    ['ah without -A', 'add 10.0.0.1 10.0.0.2 ah 0x1001;', '1:32', "expected -A aalgo key before ';'"],
    ['unknown option', 'add 10.0.0.1 10.0.0.2 esp 0x1001 -x 5 -E aes-gcm-16 ' + K + ';', '1:34', "unknown option '-x' (known: -m, -r, -u, -f, -lh, -ls, -bh, -bs, -esn, -E, -A)"],
    ['-e is not an ESN flag', 'add 10.0.0.1 10.0.0.2 esp 0x1001 -e -E aes-gcm-16 ' + K + ';', '1:34', "unknown option '-e'"],
    ['duplicate -m', 'add 10.0.0.1 10.0.0.2 esp 0x1001 -m tunnel\n  -m transport -E aes-gcm-16 ' + K + ';', '2:3', '-m is given twice (first at 1:34)'],
    // -f takes one padding rule (setkey(8): zero-pad, random-pad or seq-pad); nocyclic-seq may join it.
    ['two pad options', 'add 10.0.0.1 10.0.0.2 esp 0x1001 -f zero-pad -f random-pad -E aes-gcm-16 ' + K + ';', '1:49', 'a second pad option: -f zero-pad is already given'],
    ['bad mode', 'add 10.0.0.1 10.0.0.2 esp 0x1001 -m tunel -E aes-gcm-16 ' + K + ';', '1:37', "expected a mode after -m (transport, tunnel or any), got 'tunel'"],
    ['bad pad option', 'add 10.0.0.1 10.0.0.2 esp 0x1001 -f no-pad -E aes-gcm-16 ' + K + ';', '1:37', 'expected zero-pad, random-pad, seq-pad or nocyclic-seq after -f'],
    ['lifetime not a number', 'add 10.0.0.1 10.0.0.2 esp 0x1001 -lh 1h -E aes-gcm-16 ' + K + ';', '1:38', "expected -lh lifetime (seconds) (a decimal number"],
    ['soft lifetime above hard', 'add 10.0.0.1 10.0.0.2 esp 0x1001 -lh 60 -ls 120 -E aes-gcm-16 ' + K + ';', '1:45', 'the soft lifetime -ls 120 exceeds the hard one -lh 60 (seconds)'],
    ['soft bytes above hard', 'add 10.0.0.1 10.0.0.2 esp 0x1001 -bs 9000 -bh 100 -E aes-gcm-16 ' + K + ';', '1:38', 'the soft lifetime -bs 9000 exceeds the hard one -bh 100 (bytes)'],
    ['port on an esp SA', 'add 10.0.0.1[4500] 10.0.0.2 esp 0x1001 -E aes-gcm-16 ' + K + ';', '1:14', 'ports on SA addresses are for esp-udp'],
    ['prefix on an SA', 'add 10.0.0.0/8 10.0.0.2 esp 0x1001 -E aes-gcm-16 ' + K + ';', '1:5', 'source address is an address, not a prefix'],
    ['NAT-OA', 'add 10.0.0.1 10.0.0.2 esp-udp 10.9.9.9 0x1001 -E aes-gcm-16 ' + K + ';', '1:31', 'NAT-OA addresses after esp-udp are not supported'],
    ['-ctx', 'add 10.0.0.1 10.0.0.2 esp 0x1001 -ctx 1 1 "system_u" -E aes-gcm-16 ' + K + ';', '1:34', '-ctx (security context labels) is not supported'],
    ['duplicate add', `add 10.0.0.1 10.0.0.2 esp 0x1001 -E aes-gcm-16 ${K};\nadd 10.0.0.9 10.0.0.2 esp 4097 -E aes-gcm-16 ${K};`, '2:1', 'an SA with SPI 0x1001 to 10.0.0.2 is already added at 1:1 (use update to replace it)'],
    ['update with another protocol', `add 10.0.0.1 10.0.0.2 esp 0x1001 -E aes-gcm-16 ${K};\nupdate 10.0.0.1 10.0.0.2 ah 0x1001 -A hmac-sha1 "x";`, '2:26', 'is esp, not ah'],
    ['delete with extra words', 'delete 10.0.0.1 10.0.0.2 esp 0x1001 now;', '1:37', "unexpected 'now': expected ';' (delete takes: src dst protocol spi)"],
    ['flush with a bad protocol', 'flush tcp;', '1:7', "'tcp' (TCP-MD5 signatures) is not supported"],
    ['unknown upperspec', 'spdadd 10.0.0.0/8 10.1.0.0/16 tpc -P out none;', '1:31', "unknown upper-layer protocol 'tpc'"],
    ['upperspec too big', 'spdadd 10.0.0.0/8 10.1.0.0/16 256 -P out none;', '1:31', 'upper-layer protocol 256 is out of range'],
    ['icmp type out of range', 'spdadd 0.0.0.0/0 0.0.0.0/0 icmp 300,1 -P out none;', '1:33', 'expected an ICMP type[,code] (0..255 each) after icmp'],
    ['icmp code out of range', 'spdadd 0.0.0.0/0 0.0.0.0/0 icmp 3,256 -P out none;', '1:33', 'expected an ICMP type[,code] (0..255 each) after icmp'],
    ['misc spec for tcp', 'spdadd 10.0.0.0/8 10.1.0.0/16 tcp 80 -P out none;', '1:35', "unexpected '80' after the upper-layer protocol: expected -P"],
    ['missing -P', 'spdadd 10.0.0.0/8 10.1.0.0/16 any;', '1:34', "expected the policy: -P in|out|fwd ... before ';'"],
    ['-P misspelled', 'spdadd 10.0.0.0/8 10.1.0.0/16 any -p out none;', '1:35', "expected the policy (-P in|out|fwd ...), got '-p'"],
    ['bad direction', 'spdadd 10.0.0.0/8 10.1.0.0/16 any -P outbound none;', '1:38', "expected a direction after -P (in, out or fwd), got 'outbound'"],
    ['missing action', 'spdadd 10.0.0.0/8 10.1.0.0/16 any -P out;', '1:41', "expected the action (discard, none or ipsec ...) before ';'"],
    ['bypass/entrust', 'spdadd 10.0.0.0/8 10.1.0.0/16 any -P out entrust;', '1:42', "the 'entrust' policy (for sockets) is not supported"],
    ['unknown action', 'spdadd 10.0.0.0/8 10.1.0.0/16 any -P out drop;', '1:42', "expected the action (discard, none or ipsec), got 'drop'"],
    ['ipsec without a request', 'spdadd 10.0.0.0/8 10.1.0.0/16 any -P out ipsec;', '1:47', "expected a request after ipsec"],
    ['bundle', 'spdadd 10.0.0.0/8 10.1.0.0/16 any -P out ipsec\n    esp/transport//require ah/transport//require;', '2:28', 'SA bundles (more than one request) are not supported'],
    ['tunnel without endpoints', 'spdadd 10.0.0.0/8 10.1.0.0/16 any -P out ipsec esp/tunnel//require;', '1:59', 'tunnel mode needs the tunnel endpoints: esp/tunnel/SRC-DST/require'],
    ['tunnel without anything', 'spdadd 10.0.0.0/8 10.1.0.0/16 any -P out ipsec esp/tunnel;', '1:58', 'tunnel mode needs the tunnel endpoints'],
    ['transport with endpoints', 'spdadd 10.0.0.0/8 10.1.0.0/16 any -P out ipsec esp/transport/10.0.0.1-10.0.0.2/require;', '1:62', 'transport mode takes its endpoints from the packet: write esp/transport//require'],
    ['bad request protocol', 'spdadd 10.0.0.0/8 10.1.0.0/16 any -P out ipsec esb/transport//require;', '1:48', "expected esp or ah as the request's protocol, got 'esb'"],
    ['ipcomp request', 'spdadd 10.0.0.0/8 10.1.0.0/16 any -P out ipsec ipcomp/transport//use;', '1:48', "'ipcomp' requests are not supported"],
    ['bad request mode', 'spdadd 10.0.0.0/8 10.1.0.0/16 any -P out ipsec esp/tunel/1.1.1.1-2.2.2.2/require;', '1:52', "expected transport or tunnel as the request's mode, got 'tunel'"],
    ['request without mode', 'spdadd 10.0.0.0/8 10.1.0.0/16 any -P out ipsec esp;', '1:51', 'expected a mode after esp/ (transport or tunnel)'],
    ['bad level', 'spdadd 10.0.0.0/8 10.1.0.0/16 any -P out ipsec esp/transport//required;', '1:63', "expected a level (default, use, require, unique or unique:N), got 'required'"],
    ['unique:0', 'spdadd 10.0.0.0/8 10.1.0.0/16 any -P out ipsec esp/transport//unique:0;', '1:70', 'expected a policy id 1..32767 after unique:'],
    ['unique:40000', 'spdadd 10.0.0.0/8 10.1.0.0/16 any -P out ipsec esp/transport//unique:40000;', '1:70', 'expected a policy id 1..32767 after unique:'],
    ['me-any', 'spdadd 10.0.0.0/8 10.1.0.0/16 any -P out ipsec esp/tunnel/me-any/require;', '1:59', "'me-any' endpoints are not supported"],
    ['endpoint ports', 'spdadd 10.0.0.0/8 10.1.0.0/16 any -P out ipsec esp/tunnel/192.168.0.1[4500]-192.168.1.2[30000]/require;', '1:59', 'ports in tunnel endpoints (ESP over UDP) are not supported'],
    ['bad tunnel endpoint', 'spdadd 10.0.0.0/8 10.1.0.0/16 any -P out ipsec esp/tunnel/192.0.2.1-198.51.100.300/require;', '1:69', "tunnel destination '198.51.100.300' is not a valid IPv4 address"],
    ['tunnel endpoint families', 'spdadd 10.0.0.0/8 10.1.0.0/16 any -P out ipsec esp/tunnel/192.0.2.1-2001:db8::1/require;', '1:69', 'tunnel destination 2001:db8::1 is IPv6 but the tunnel source 192.0.2.1 is IPv4'],
    ['bad prio', 'spdadd 10.0.0.0/8 10.1.0.0/16 any -P out prio medium none;', '1:47', 'expected a priority after prio: N, -N, low|def|high, or low|def|high followed by + N or - N'],
    ['prio offset too big', 'spdadd 10.0.0.0/8 10.1.0.0/16 any -P out prio high + 1073741825 none;', '1:54', 'priority offset 1073741825 is out of range (at most 1073741824)'],
    ['prio without value', 'spdadd 10.0.0.0/8 10.1.0.0/16 any -P out prio none;', '1:47', 'expected a priority after prio'],
    ['spdadd tagged', 'spdadd tagged "tag" -P out none;', '1:8', "'spdadd tagged' (PF tags) is not supported"],
    ['duplicate spdadd', 'spdadd 10.0.0.0/8 10.1.0.0/16 any -P out none;\n\nspdadd 10.0.0.0/8 10.1.0.0/16 any -P out prio high discard;', '3:1', 'a policy with the same selector and direction is already added at 1:1 (use spdupdate to replace it)'],
  ];

  for (const [name, text, where, fragment] of cases) {
    it(`${name} -> ${where}`, () => {
      const e = failure(text);
      const [line, column] = where.split(':').map(Number);
      expect(e.message).toContain(fragment);
      expect(e.message.startsWith(`gw.conf:${where}: `), e.message).toBe(true);
      expect([e.line, e.column, e.file]).toEqual([line, column, 'gw.conf']);
      expect(e.code).toBe(name.startsWith('duplicate add') || name.startsWith('duplicate spdadd') ? 'EEXIST' : 'EINVAL');
      expect(e.reason).toBe(e.message.slice(`gw.conf:${where}: `.length));
    });
  }

  it('the brief\'s example message, exactly', () => {
    const text = '# gateway\n' + '\n'.repeat(10) + 'add 10.0.0.1 10.0.0.2 esp 0x1001 -E aes-xyz 0x00;';
    expect(failure(text).message).toBe("gw.conf:12:37: unknown encryption algorithm 'aes-xyz' (known: aes-gcm-16, aes-cbc, rijndael-cbc, chacha20-poly1305)");
  });

  it('without a file name the location is line:column', () => {
    expect(failure('bogus;', null).message).toBe("1:1: unknown statement 'bogus' (expected add, update, delete, deleteall, flush, spdadd, spdupdate, spddelete, spdflush)");
  });

  it('loadSetkey names the file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'larval-config-'));
    const path = join(dir, 'broken.conf');
    await writeFile(path, 'spdflush;\nspdadd 10.0.0.0/8 10.1.0.0/16 any -P sideways none;\n');
    await expect(loadSetkey(path)).rejects.toMatchObject({ name: 'ConfigError', file: path, line: 2, column: 38, message: `${path}:2:38: expected a direction after -P (in, out or fwd), got 'sideways'` });
  });
});

describe('keys never appear in error messages', () => {
  const secretHex = 'c0ffee00deadbeef1234567890abcdef5a5a5a5a';
  const secretText = 'hunter2-passphrase!!';
  const bad = [
    `add 10.0.0.1 10.0.0.2 esp 0x1001 -E aes-gcm-16 0x${secretHex}00;`, // 21 octets: engine length check
    `add 10.0.0.1 10.0.0.2 esp 0x1001 -E aes-gcm-16 0x${secretHex}z;`, // not hex
    `add 10.0.0.1 10.0.0.2 esp 0x1001 -E aes-gcm-16 0x${secretHex}0;`, // odd digits
    `add 10.0.0.1 10.0.0.2 esp 0x1001 -E aes-gcm-16 ${secretHex};`, // no 0x
    `add 10.0.0.1 10.0.0.2 esp 0x1001 -E 0x${secretHex};`, // key where the algorithm goes
    `add 10.0.0.1 10.0.0.2 esp 0x1001 -E "${secretText}";`,
    `add 10.0.0.1 10.0.0.2 esp 0x1001 -E aes-cbc "${secretText}" -A hmac-sha1 "${secretText}";`, // wrong lengths
    `add 10.0.0.1 10.0.0.2 esp 0x1001 -E aes-gcm-16 0x${secretHex} 0x${secretHex};`, // a stray second key
    `add 10.0.0.1 10.0.0.2 esp 0x1001 -E aes-gcm-16 0x${secretHex} "${secretText}";`,
    `add 10.0.0.1 10.0.0.2 esp 0x1001 -E aes-gcm-16 0x${secretHex} -A hmac-sha1 "${secretText}";`, // integrity with GCM
    `add 10.0.0.1 10.0.0.2 esp 255 -E aes-gcm-16 0x${secretHex};`, // another error, key on the line
    `add 10.0.0.1 10.0.0.2 esp 0x1001 -E aes-gcm-16 0x${secretHex}`, // missing ;
    `add 10.0.0.1 10.0.0.2 esp 0x1001 -E aes-gcm-16 "${secretText}`, // unterminated
    `spdadd 10.0.0.0/8 10.1.0.0/16 any -P out ipsec esp/tunnel//require 0x${secretHex};`,
    `${secretHex};`,
    `"${secretText}";`,
    `0x${secretHex}`, // a key alone, unterminated
    `spdadd 10.0.0.0/8 10.1.0.0/16 any -P out prio 0x${secretHex} none;`,
    `spdadd 10.0.0.0/8[0x${secretHex}] 10.1.0.0/16 any -P out none;`,
    `spdadd 10.0.0.0/8 10.1.0.0/16 any -P out ipsec esp/tunnel/0x${secretHex}/require;`,
    `add 0x${secretHex} 10.0.0.2 esp 0x1001 -E aes-gcm-16 0x${secretHex};`,
  ];
  for (const [i, text] of bad.entries()) {
    it(`case ${i}`, () => {
      const e = failure(text);
      const everything = `${e.message} ${e.reason} ${String(e.value)} ${JSON.stringify(e)} ${e.stack}`.toLowerCase();
      for (let k = 0; k + 8 <= secretHex.length; k += 4) expect(everything).not.toContain(secretHex.slice(k, k + 8));
      expect(everything).not.toContain('hunter2');
      expect(e.value).toBeUndefined();
    });
  }
});

// ---------------------------------------------------------------------------

const GATEWAY: PolicySpec[] = [
  { dir: 'out', src: '192.0.2.1', dst: '198.51.100.1', proto: 'udp', srcPort: 500, dstPort: 500, priority: 0x40000000, action: 'bypass' },
  { dir: 'in', src: '198.51.100.1', dst: '192.0.2.1', proto: 'udp', srcPort: 500, dstPort: 500, priority: 0x40000000, action: 'bypass' },
  { dir: 'out', src: '192.0.2.1', dst: '198.51.100.1', proto: 'udp', srcPort: 4500, dstPort: 4500, priority: 0x40000000, action: 'bypass' },
  { dir: 'in', src: '198.51.100.1', dst: '192.0.2.1', proto: 'udp', srcPort: 4500, dstPort: 4500, priority: 0x40000000, action: 'bypass' },
  { dir: 'out', src: '10.1.0.0/16', dst: '10.2.66.0/24', priority: 0x80000000 - 100, action: 'discard' },
  { dir: 'out', src: '10.1.0.0/16', dst: '10.2.0.0/16', priority: 0x80000000, action: 'protect', template: { mode: 'tunnel', src: '192.0.2.1', dst: '198.51.100.1' } },
  { dir: 'in', src: '10.2.0.0/16', dst: '10.1.0.0/16', priority: 0x80000000, action: 'protect', template: { mode: 'tunnel', src: '198.51.100.1', dst: '192.0.2.1' } },
  { dir: 'fwd', src: '10.2.0.0/16', dst: '10.1.0.0/16', priority: 0x80000000, action: 'protect', template: { mode: 'tunnel', src: '198.51.100.1', dst: '192.0.2.1' } },
  { dir: 'out', src: '10.1.0.0/16', dst: '10.3.0.0/16', priority: 0x80000000, action: 'protect', template: { mode: 'tunnel', src: '192.0.2.1', dst: '203.0.113.7' } },
  { dir: 'in', src: '10.3.0.0/16', dst: '10.1.0.0/16', priority: 0x80000000, action: 'protect', template: { mode: 'tunnel', src: '203.0.113.7', dst: '192.0.2.1' } },
];

describe('the sample gateway (test/config/gateway.conf) on a real engine', () => {
  it('parses into the expected policies and SAs', async () => {
    const c = await loadSetkey(here('gateway.conf'));
    expect(c.policies.map(policySpec)).toEqual(GATEWAY.map((p) => ({
      ...p,
      src: p.src!.includes('/') ? p.src : `${p.src}/32`,
      dst: p.dst!.includes('/') ? p.dst : `${p.dst}/32`,
      ...(p.template ? { template: { proto: 'esp', ...p.template, level: 'require' } } : {}),
    })));
    expect(c.sas.map(saSpec)).toEqual([
      { spi: 0x1001, src: '192.0.2.1', dst: '198.51.100.1', proto: 'esp', mode: 'tunnel', lifetime: { soft: { addTime: 3_000_000 }, hard: { addTime: 3_600_000 } }, encryption: { algorithm: 'aes-gcm-16', key: hex('000102030405060708090a0b0c0d0e0fcafebabe') } },
      { spi: 0x2001, src: '198.51.100.1', dst: '192.0.2.1', proto: 'esp', mode: 'tunnel', lifetime: { soft: { addTime: 3_000_000 }, hard: { addTime: 3_600_000 } }, encryption: { algorithm: 'aes-gcm-16', key: hex('101112131415161718191a1b1c1d1e1fdeadbeef') } },
    ]);
    expect(c.operations.map((o) => o.op)).toEqual(['flush', 'spdflush', ...Array(8).fill('spdadd'), 'add', 'add', 'spdadd', 'spdadd']);
    expect(c.sas.map((s) => s.line)).toEqual([31, 34]);
  });

  it('applies: dump() shows the SPD in evaluation order and the SAD with its transforms', async () => {
    const c = await loadSetkey(here('gateway.conf'));
    const engine = await createEngine();
    const { policyIds, saIds } = applyConfig(engine, c, 1_000);
    expect(policyIds).toHaveLength(10);
    expect(saIds).toHaveLength(2);
    const d = engine.dump();
    const row = (p: (typeof d.policies)[number]) => `${p.dir} ${p.priority.toString(16)} ${p.action} ${p.src} ${p.dst} ${p.proto ?? '*'} ${p.srcPort?.join('-') ?? '*'}>${p.dstPort?.join('-') ?? '*'}${p.template ? ` ${p.template.mode} ${p.template.src}-${p.template.dst} ${p.template.level}` : ''}`;
    expect(d.policies.map(row)).toEqual([
      'out 40000000 bypass 192.0.2.1/32 198.51.100.1/32 17 500-500>500-500',
      'out 40000000 bypass 192.0.2.1/32 198.51.100.1/32 17 4500-4500>4500-4500',
      'out 7fffff9c discard 10.1.0.0/16 10.2.66.0/24 * *>*',
      'out 80000000 protect 10.1.0.0/16 10.2.0.0/16 * *>* tunnel 192.0.2.1-198.51.100.1 require',
      'out 80000000 protect 10.1.0.0/16 10.3.0.0/16 * *>* tunnel 192.0.2.1-203.0.113.7 require',
      'in 40000000 bypass 198.51.100.1/32 192.0.2.1/32 17 500-500>500-500',
      'in 40000000 bypass 198.51.100.1/32 192.0.2.1/32 17 4500-4500>4500-4500',
      'in 80000000 protect 10.2.0.0/16 10.1.0.0/16 * *>* tunnel 198.51.100.1-192.0.2.1 require',
      'in 80000000 protect 10.3.0.0/16 10.1.0.0/16 * *>* tunnel 203.0.113.7-192.0.2.1 require',
      'fwd 80000000 protect 10.2.0.0/16 10.1.0.0/16 * *>* tunnel 198.51.100.1-192.0.2.1 require',
    ]);
    expect(d.sas.map((s) => ({ id: s.id, spi: s.spi, src: s.src, dst: s.dst, mode: s.mode, proto: s.proto, state: s.state, addTime: s.addTime, transform: s.transform }))).toEqual([
      { id: saIds[0], spi: 0x1001, src: '192.0.2.1', dst: '198.51.100.1', mode: 'tunnel', proto: 'esp', state: 'mature', addTime: 1_000, transform: { encryption: { algorithm: 'aes-gcm-16', keyBits: 128 }, integrity: null, encap: null } },
      { id: saIds[1], spi: 0x2001, src: '198.51.100.1', dst: '192.0.2.1', mode: 'tunnel', proto: 'esp', state: 'mature', addTime: 1_000, transform: { encryption: { algorithm: 'aes-gcm-16', keyBits: 128 }, integrity: null, encap: null } },
    ]);
    // The ids line up with config.policies.
    policyIds.forEach((id, i) => expect(engine.getPolicy(id)).toMatchObject({ dir: c.policies[i].dir, priority: c.policies[i].priority, action: c.policies[i].action }));
    // Lifetimes are seconds in the file, ms in the engine: soft after 3000 s.
    engine.tick(1_000 + 2_999_000);
    expect(engine.getSA(saIds[0])!.state).toBe('mature');
    engine.tick(1_000 + 3_000_000);
    expect(engine.getSA(saIds[0])!.state).toBe('dying');
  });

  it('decides packets: tunnel 1 protected (and encrypted), tunnel 2 waits for a key manager, quarantine dropped, IKE in clear', async () => {
    const engine = await createEngine();
    const { saIds } = applyConfig(engine, await loadSetkey(here('gateway.conf')), 0);
    const packets = [
      buildPacket({ src: '10.1.2.3', dst: '10.2.0.9', proto: 'tcp', srcPort: 40000, dstPort: 443 }),
      buildPacket({ src: '10.1.2.3', dst: '10.3.0.9', proto: 'icmp', icmpType: 8 }),
      buildPacket({ src: '10.1.2.3', dst: '10.2.66.1', proto: 'udp', srcPort: 1, dstPort: 2 }),
      buildPacket({ src: '192.0.2.1', dst: '198.51.100.1', proto: 'udp', srcPort: 500, dstPort: 500 }),
    ];
    const out = engine.output(packets, 10);
    expect(out.verdicts.toArray().map((v) => [v.verdict, v.reason])).toEqual([['protect', 'policy'], ['queued', 'resolving'], ['discard', 'policy'], ['bypass', 'policy']]);
    expect(out.verdicts.saId(0)).toBe(saIds[0]);
    expect(out.packets[0]![9]).toBe(50); // ESP
    expect(engine.readEvents().filter((e) => e.type === 'acquire').map((e) => e.type === 'acquire' && e.template.dst)).toEqual(['203.0.113.7']);
  });

  it('applying it again starts over: flush and spdflush clear what was there', async () => {
    const engine = await createEngine();
    const c = await loadSetkey(here('gateway.conf'));
    const first = applyConfig(engine, c);
    const api = engine.addPolicy({ dir: 'out', family: 4, action: 'discard' });
    const second = applyConfig(engine, c);
    const d = engine.dump();
    expect(d.policies).toHaveLength(10);
    expect(d.sas).toHaveLength(2);
    expect(d.policies.map((p) => p.id)).not.toContain(api);
    expect(second.policyIds.some((id) => first.policyIds.includes(id))).toBe(false);
  });
});

describe('applyConfig: operations against what the engine holds', () => {
  const add = (spi: number, extra = '') => `add 10.0.0.1 10.0.0.2 esp ${spi} ${extra} -E aes-gcm-16 ${GCM_KEY};`;

  it('update replaces an SA (new id), delete and deleteall remove, flush esp keeps ah', async () => {
    const engine = await createEngine();
    const r1 = applyConfig(engine, parseSetkey(add(0x1001) + add(0x1002) + 'add 10.0.0.1 10.0.0.2 ah 0x1003 -A hmac-sha1 "01234567890123456789";'));
    expect(r1.saIds).toHaveLength(3);
    const r2 = applyConfig(engine, parseSetkey('update 10.0.0.1 10.0.0.2 esp 0x1001 -m tunnel -E aes-gcm-16 ' + GCM_KEY + ';'));
    expect(engine.getSA(r1.saIds[0])).toBeNull();
    expect(engine.getSA(r2.saIds[0])).toMatchObject({ spi: 0x1001, mode: 'tunnel' });
    applyConfig(engine, parseSetkey('delete 10.0.0.1 10.0.0.2 esp 0x1002;'));
    expect(engine.dump().sas.map((s) => s.spi)).toEqual([0x1003, 0x1001]);
    applyConfig(engine, parseSetkey('flush esp;'));
    expect(engine.dump().sas.map((s) => [s.spi, s.proto])).toEqual([[0x1003, 'ah']]);
    applyConfig(engine, parseSetkey('deleteall 10.0.0.1 10.0.0.2 ah;'));
    expect(engine.dump().sas).toEqual([]);
  });

  it('the returned ids follow config.sas / config.policies through update and delete', async () => {
    const engine = await createEngine();
    const c = parseSetkey(add(0x1001) + add(0x1002) + add(0x1003) + 'update 10.0.0.1 10.0.0.2 esp 0x1001 -E aes-gcm-16 ' + GCM_KEY + '; delete 10.0.0.1 10.0.0.2 esp 0x1002;'
      + 'spdadd 10.0.0.0/8 10.1.0.0/16 any -P out none; spdadd 10.0.0.0/8 10.2.0.0/16 any -P out none; spdupdate 10.0.0.0/8 10.1.0.0/16 any -P out discard;');
    const r = applyConfig(engine, c);
    expect(c.sas.map((s) => s.spi)).toEqual([0x1003, 0x1001]);
    expect(r.saIds.map((id) => engine.getSA(id)!.spi)).toEqual([0x1003, 0x1001]);
    expect(c.policies.map((p) => p.dst)).toEqual(['10.2.0.0/16', '10.1.0.0/16']);
    expect(r.policyIds.map((id) => engine.getPolicy(id)!.dst)).toEqual(['10.2.0.0/16', '10.1.0.0/16']);
    expect(engine.getPolicy(r.policyIds[1])!.action).toBe('discard');
  });

  it('spddelete and spdupdate act on policies added through the API too; spdadd of one is EEXIST', async () => {
    const engine = await createEngine();
    const a = engine.addPolicy({ dir: 'out', src: '10.0.0.0/8', dst: '10.1.0.0/16', proto: 'tcp', dstPort: 443, action: 'bypass' });
    const b = engine.addPolicy({ dir: 'in', src: '10.1.0.0/16', dst: '10.0.0.0/8', action: 'bypass' });
    expect(() => applyConfig(engine, parseSetkey('spdadd 10.0.0.0/8 10.1.0.0/16[443] 6 -P out discard;', 'x.conf'))).toThrow(
      expect.objectContaining({ code: 'EEXIST', line: 1, column: 1, message: `x.conf:1:1: spdadd: policy ${a} has the same selector and direction (use spdupdate to replace it)` }),
    );
    applyConfig(engine, parseSetkey('spdupdate 10.0.0.0/8 10.1.0.0/16[443] tcp -P out discard; spddelete 10.1.0.0/16 10.0.0.0/8 any -P in;'));
    const d = engine.dump().policies;
    expect(d.map((p) => p.id)).not.toContain(a);
    expect(d.map((p) => p.id)).not.toContain(b);
    expect(d.map((p) => [p.dir, p.action, p.dstPort])).toEqual([['out', 'discard', [443, 443]]]);
  });

  it('errors name the statement: update/delete/spddelete of nothing (ENOENT), a duplicate SA (EEXIST)', async () => {
    const engine = await createEngine();
    const expectError = (text: string, code: string, where: string, fragment: string) => {
      let e: unknown;
      try {
        applyConfig(engine, parseSetkey(text, 'a.conf'));
      } catch (err) {
        e = err;
      }
      expect(e).toBeInstanceOf(ConfigError);
      expect((e as ConfigError).code).toBe(code);
      expect((e as ConfigError).message.startsWith(`a.conf:${where}: `), (e as ConfigError).message).toBe(true);
      expect((e as ConfigError).message).toContain(fragment);
    };
    expectError('spdflush;\n update 10.0.0.1 10.0.0.2 esp 0x1001 -E aes-gcm-16 ' + GCM_KEY + ';', 'ENOENT', '2:2', 'update: no esp SA with SPI 0x1001 to 10.0.0.2 to update (use add)');
    expectError('delete 10.0.0.1 10.0.0.2 esp 0x1001;', 'ENOENT', '1:1', 'delete: no esp SA with SPI 0x1001 to 10.0.0.2');
    expectError('spddelete 10.0.0.0/8 10.1.0.0/16 any -P out;', 'ENOENT', '1:1', 'spddelete: no out policy with this selector');
    engine.addSA({ spi: 0x1001, src: '10.0.0.9', dst: '10.0.0.2', mode: 'transport' });
    expectError('\n\n   ' + add(0x1001), 'EEXIST', '3:4', 'add: addSA: an SA with SPI 0x1001 to 10.0.0.2 already exists (R17)');
  });
});

// ---------------------------------------------------------------------------

/** The index of the policy that decides `flow`, or -1 (the default action). */
function decide(engine: Engine, ids: number[], dir: Direction, flow: Flow): number {
  const id = engine.matchPolicy(dir, flow);
  return id === null ? -1 : ids.indexOf(id);
}

/** Random flows plus flows aimed at the policies (generateTrace); every policy must decide some. */
async function differential(config: Config, hand: PolicySpec[], random: Flow[]): Promise<number> {
  const a = await createEngine();
  const b = await createEngine();
  const ids = applyConfig(a, config).policyIds;
  const handIds = b.addPolicies(hand);
  expect(ids).toHaveLength(hand.length);
  const flows = [...random, ...generateTrace(hand, 3000, { seed: 7 })];
  let decided = 0;
  const hit = new Set<number>();
  for (const flow of flows) {
    for (const dir of ['out', 'in', 'fwd'] as const) {
      const x = decide(a, ids, dir, flow);
      const y = decide(b, handIds, dir, flow);
      expect(x, `${dir} ${JSON.stringify(flow)}`).toBe(y);
      if (x >= 0) {
        decided++;
        hit.add(x);
      }
    }
  }
  expect([...hit].sort((p, q) => p - q)).toEqual(hand.map((_, i) => i));
  return decided;
}

describe('differential: parsed policies classify like hand-written PolicySpecs', () => {
  it('the sample gateway, over 6000 flows', async () => {
    const rng = new Rng(6);
    const hosts = ['192.0.2.1', '198.51.100.1', '203.0.113.7', '10.1.0.1', '10.1.255.254', '10.2.0.9', '10.2.66.1', '10.2.67.1', '10.3.4.5', '10.4.0.1', '8.8.8.8'];
    const net = (n: number) => `10.${n}.${rng.chance(0.2) ? 66 : rng.int(0, 255)}.${rng.int(0, 255)}`;
    const addr = () => (rng.chance(0.3) ? rng.pick(hosts) : net(rng.pick([1, 2, 3, 4])));
    const flows: Flow[] = [];
    for (let i = 0; i < 3000; i++) {
      const proto = rng.pick(['tcp', 'udp', 'udp', 'icmp', 'esp', 47]);
      // Half the flows between the local subnet and a remote one (either way), half anywhere.
      const [src, dst] = rng.chance(0.5) ? [addr(), addr()] : rng.chance(0.5) ? [net(1), net(rng.pick([2, 3]))] : [net(rng.pick([2, 3])), net(1)];
      const f: Flow = { src, dst, proto };
      if (proto === 'tcp' || proto === 'udp') {
        f.srcPort = rng.chance(0.5) ? rng.pick([500, 4500]) : rng.int(0, 65535);
        f.dstPort = rng.chance(0.5) ? rng.pick([500, 4500]) : rng.int(0, 65535);
      }
      if (proto === 'icmp') f.icmpType = rng.int(0, 255);
      flows.push(f);
    }
    const decided = await differential(await loadSetkey(here('gateway.conf')), GATEWAY, flows);
    expect(decided).toBeGreaterThan(3000);
  });

  it('IPv6, ICMPv6 type/code, ports, transport templates and every prio form, over 6000 flows', async () => {
    const config = parseSetkey(`
spdadd ::/0 ::/0 icmp6 135,0 -P in none;
spdadd ::/0 ::/0 icmp6 136 -P out prio high none;
spdadd 2001:db8:1::/48 2001:db8:2::/48[443] tcp -P out prio def + 7 ipsec esp/transport//require;
spdadd 2001:db8:1::/48[53] 2001:db8::/32 udp -P out prio -3 discard;
spdadd 2001:db8::/32 2001:db8:2::/48 any -P out ipsec esp/tunnel/2001:db8::a-2001:db8::b/unique:9;
spdadd 2001:db8:2::/48 2001:db8:1::/48 any -P in prio low ipsec ah/transport//use;
spdadd 2001:db8:1::/64 ::/0 icmp6 1,4 -P fwd prio 12 discard;
spdadd 2001:db8:1:0:8000::/65 ::/0 58 -P fwd none;
`);
    const hand: PolicySpec[] = [
      { dir: 'in', family: 6, src: '::/0', dst: '::/0', proto: 'ipv6-icmp', icmpType: 135, priority: 0x80000000, action: 'bypass' },
      { dir: 'out', src: '::/0', dst: '::/0', proto: 58, icmpType: 136, priority: 0x40000000, action: 'bypass' },
      { dir: 'out', src: '2001:db8:1::/48', dst: '2001:db8:2::/48', proto: 'tcp', dstPort: [443, 443], priority: 0x80000000 - 7, action: 'protect', template: { mode: 'transport' } },
      { dir: 'out', src: '2001:db8:1::/48', dst: '2001:db8::/32', proto: 'udp', srcPort: 53, priority: 0x80000003, action: 'discard' },
      { dir: 'out', src: '2001:db8::/32', dst: '2001:db8:2::/48', priority: 0x80000000, action: 'protect', template: { mode: 'tunnel', src: '2001:db8::a', dst: '2001:db8::b', level: 'unique', reqid: 9 } },
      { dir: 'in', src: '2001:db8:2::/48', dst: '2001:db8:1::/48', priority: 0xc0000000, action: 'protect', template: { proto: 'ah', mode: 'transport', level: 'use' } },
      { dir: 'fwd', src: '2001:db8:1::/64', proto: 'ipv6-icmp', icmpType: 1, icmpCode: 4, priority: 0x80000000 - 12, action: 'discard' },
      { dir: 'fwd', src: '2001:db8:1:0:8000::/65', proto: 'ipv6-icmp', priority: 0x80000000, action: 'bypass' },
    ];
    const rng = new Rng(66);
    const prefixes = ['2001:db8:1::', '2001:db8:2::', '2001:db8:3::', '2001:db8:1:0:8000::', '2001:db9::'];
    const addr = () => `${rng.pick(prefixes)}${rng.int(1, 0xffff).toString(16)}`;
    const flows: Flow[] = [];
    for (let i = 0; i < 3000; i++) {
      const proto = rng.pick(['tcp', 'udp', 'ipv6-icmp', 'esp']);
      const f: Flow = { src: addr(), dst: addr(), proto };
      if (proto === 'tcp' || proto === 'udp') {
        f.srcPort = rng.chance(0.4) ? rng.pick([53, 443]) : rng.int(0, 65535);
        f.dstPort = rng.chance(0.4) ? rng.pick([53, 443]) : rng.int(0, 65535);
      }
      if (proto === 'ipv6-icmp') {
        f.icmpType = rng.chance(0.6) ? rng.pick([1, 135, 136]) : rng.int(0, 255);
        f.icmpCode = rng.chance(0.6) ? rng.pick([0, 4]) : rng.int(0, 255);
      }
      flows.push(f);
    }
    const decided = await differential(config, hand, flows);
    expect(decided).toBeGreaterThan(3000);
  });
});
