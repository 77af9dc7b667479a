// Distinct flows for the benchmarks, drawn from larval's own trace generator
// (src/trace.ts) so that they hit the rules the way the differential tests do.

import { generateTrace } from '../src/reference/trace.js';
import { protocolNumber, PROTO_TCP, PROTO_UDP } from '../src/common/protocols.js';
import type { Flow, PolicySpec } from '../src/engine/types.js';

function progress(msg: string): void {
  if (process.stderr.isTTY) process.stderr.write(`\r\x1b[K${msg}`);
}

export function flowKey(f: Flow): string {
  return `${f.src}|${f.dst}|${f.proto}|${f.srcPort ?? f.icmpType ?? ''}|${f.dstPort ?? f.icmpCode ?? ''}|${f.fragment ? 1 : 0}`;
}

/**
 * `count` distinct flows from the rules: trace points, deduplicated. With
 * `portsOnly`, only TCP and UDP flows are kept (what a 5-tuple classifier such as
 * rte_acl reads the same way as R3 does).
 */
export function distinctFlows(policies: PolicySpec[], count: number, seed: number, portsOnly = false): Flow[] {
  const seen = new Set<string>();
  const out: Flow[] = [];
  for (let round = 0; out.length < count; round++) {
    for (const f of generateTrace(policies, Math.max(4096, Math.ceil((count - out.length) * (portsOnly ? 2.5 : 1.3))), { seed: seed + round, fragmentRate: 0 })) {
      if (portsOnly) {
        const p = protocolNumber(f.proto);
        if (p !== PROTO_TCP && p !== PROTO_UDP) continue;
      }
      const k = flowKey(f);
      if (seen.has(k)) continue;
      seen.add(k);
      out.push(f);
      if (out.length === count) break;
    }
    progress(`generating flows: ${out.length}/${count}`);
  }
  progress('');
  return out;
}
