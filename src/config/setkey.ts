// setkey(8) configuration files -> larval policies and SAs (issue 6: "Configuration").
//
// parseSetkey(text, file?) reads the configuration syntax of ipsec-tools/KAME
// setkey(8) (`setkey -f FILE`) into PolicySpecs, SaSpecs and the ordered list of
// operations; applyConfig(engine, config) replays the operations on an engine the
// way setkey sends them to the kernel. Every error is a ConfigError: a LarvalError
// (code EINVAL unless the engine said otherwise) whose message starts with
// `file:line:column:` and says what was expected. Key material is never shown.
//
// Grammar (statements end with `;` and may span lines; `#` starts a comment
// anywhere outside a quoted string; tokens are separated by white space, except
// that `;` also ends the token before it):
//
//   add    [-46n] src dst protocol spi [extensions] algorithm... ;
//   update [-46n] src dst protocol spi [extensions] algorithm... ;
//   delete [-46n] src dst protocol spi ;
//   deleteall [-46n] src dst protocol ;
//   flush [protocol] ;
//   spdadd    [-46n] src_range dst_range upperspec [icmp_type[,code]] policy ;
//   spdupdate [-46n] src_range dst_range upperspec [icmp_type[,code]] policy ;
//   spddelete [-46n] src_range dst_range upperspec [icmp_type[,code]] -P direction [...] ;
//   spdflush ;
//
//   protocol     esp | esp-udp (ESP in UDP, RFC 3948: SaSpec.encap; ports from src[port]
//                dst[port], default 4500) | ah (selected, never computed: its -A key is
//                parsed and dropped, the SA has no keys)
//   spi          decimal or 0x hex, 256..2^32-1 (0..255 are reserved, RFC 4303 §2.1)
//   extensions   -m transport|tunnel|any   (any, or no -m: transport, as Linux maps
//                                           IPSEC_MODE_ANY; larval needs a mode)
//                -u reqid    -lh/-ls seconds (-> addTime ms)   -bh/-bs bytes
//                -r size     kept as ConfigSa.replay, not applied: larval's window is
//                            the engine option `replayWindow`
//                -f zero-pad|random-pad|seq-pad|nocyclic-seq   kept, not applied (larval
//                            pads as RFC 4303 §2.4 and never cycles sequence numbers)
//                -esn        FreeBSD setkey's flag for 64-bit ESN (SaSpec.esn); the
//                            ipsec-tools setkey has no ESN flag
//   algorithm    -E aes-gcm-16 KEY            (AES key + 4-octet salt: 20/28/36 octets)
//                -E aes-cbc|rijndael-cbc KEY -A hmac-sha256|hmac-sha2-256|hmac-sha1 KEY
//                -A ... alone for ah.  KEY: 0x and an even number of hex digits, or a
//                "quoted string" (its bytes). hmac-sha256 is RFC 4868 HMAC-SHA-256-128,
//                as the BSD kernels do it (Linux's PF_KEY truncates it to 96 bits).
//   src_range    address, address/prefixlen, address[port], address/prefixlen[port];
//                port `any` or 0 = any (setkey has no port ranges). Host bits under
//                the prefix are an error, as everywhere in larval.
//   upperspec    any | a number (0 and 255 mean any, as PF_KEY has it) | a protocol
//                name (tcp, udp, icmp, icmp6, ipv6-icmp, gre, sctp, esp, ah, ip4, ...).
//                icmp/icmp6 may be followed by `type[,code]`; 0 is a wildcard, as the
//                kernels treat it (they cannot tell ICMP type 0 from any).
//   policy       -P in|out|fwd [prio|priority SPEC] discard | none | ipsec REQUEST
//                none -> 'bypass', discard -> 'discard', ipsec -> 'protect'
//   REQUEST      esp|ah / transport|tunnel / [src-dst] / [default|use|require|unique|unique:N]
//                one request only (larval has one template per policy: no bundles);
//                tunnel needs src-dst, transport takes no endpoints (`esp/transport//require`);
//                level default (or omitted) -> require, as Linux treats it (the BSDs
//                consult a sysctl); unique:N -> level unique, reqid N (1..32767).
//
// Priorities are the values ipsec-tools' libipsec writes into sadb_x_policy_priority,
// which order the SPD exactly as larval's `priority` does (lower wins, ties: earlier):
//   no prio: 0x80000000 (def)    prio N: 0x80000000 - N    prio -N: 0x80000000 + N
//   prio low|def|high: 0xC0000000|0x80000000|0x40000000    prio BASE + N: BASE - N
//   prio BASE - N: BASE + N
// So a policy added through the API with the default priority 0 precedes every
// config policy, and config policies without prio keep their file order.
//
// Not supported, each with its own error: get, getspi, dump, spddump, exit,
// `spdadd tagged`, -ctx labels, ipcomp, tcp-md5, esp-old/ah-old, NAT-OA addresses
// (`esp-udp ADDR`), FreeBSD's -natt/-natt_mtu/-hwif, host names (larval never
// resolves names; setkey -n), scoped IPv6 addresses, ports in tunnel endpoints,
// me-any/any-me, SA bundles, the `bypass`/`entrust` policies. Linux setkey's RFC
// mode, which adds a fwd policy for every in policy, is not imitated: write fwd
// policies out.
//
// Config.policies and Config.sas are what the file leaves installed when applied to
// an empty engine (flush, delete and update taken into account), in the order
// applyConfig installs them; Config.operations is every statement in file order.
// Each statement is validated as the engine would (normalizePolicy, normalizeSa and
// the ESP key checks), so an error names the line and column of the offending token.

import { readFile } from 'node:fs/promises';
import { parseSetkey } from './setkey-parser.js';
import type { Config } from './setkey-types.js';

export { ConfigError, type ConfigPosition } from './config-error.js';
export type { Config, ConfigOperation, ConfigPolicy, ConfigSa, ConfigSelector, ConfigTarget } from './setkey-types.js';
export { policySpec, saSpec } from './setkey-types.js';
export { parseSetkey } from './setkey-parser.js';
export { applyConfig } from './setkey-apply.js';

/** Read and parse a setkey(8) configuration file (the Node adapter of parseSetkey). */
export async function loadSetkey(path: string): Promise<Config> {
  return parseSetkey(await readFile(path, 'utf8'), path);
}
