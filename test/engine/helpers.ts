// Small shared helpers for engine tests.
import { createEngine, type Engine } from '../../src/index.js';
import type { EngineOptions, PolicySpec } from '../../src/engine/types.js';

export async function engineWith(policies: PolicySpec[] = [], options: EngineOptions = {}): Promise<{ engine: Engine; ids: number[] }> {
  const engine = await createEngine(options);
  const ids = engine.addPolicies(policies);
  return { engine, ids };
}

/** A minimal IPv4 packet with ports (TCP/UDP/SCTP) or ICMP type/code, for tests that need exact bytes. */
export function ipv4(src: string, dst: string, proto: number, a = 0, b = 0): Uint8Array {
  const l4 = proto === 6 ? 20 : proto === 17 ? 8 : proto === 132 ? 12 : 8;
  const pkt = new Uint8Array(20 + l4);
  const dv = new DataView(pkt.buffer);
  pkt[0] = 0x45;
  dv.setUint16(2, pkt.length);
  pkt[8] = 64;
  pkt[9] = proto;
  pkt.set(src.split('.').map(Number), 12);
  pkt.set(dst.split('.').map(Number), 16);
  if (proto === 1) {
    pkt[20] = a;
    pkt[21] = b;
  } else {
    dv.setUint16(20, a);
    dv.setUint16(22, b);
    if (proto === 6) pkt[32] = 0x50;
    if (proto === 17) dv.setUint16(24, 8);
  }
  return pkt;
}
