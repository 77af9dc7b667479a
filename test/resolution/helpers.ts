// Shared set-up for the SA-resolution tests (R7–R12): a gateway with one tunnel
// policy, numbered packets, and a recorder of what left the gateway, in order.
import { buildPacket, createGateway, type Gateway, type GatewayOptions, type PolicySpec, type Verdicts } from '../../src/index.js';

export const TUNNEL = { src: '192.0.2.1', dst: '198.51.100.1' };

export const tunnelPolicy = (level: 'require' | 'unique' | 'use' = 'require'): PolicySpec => ({
  dir: 'out', src: '10.1.0.0/16', dst: '10.2.0.0/16', action: 'protect',
  template: { mode: 'tunnel', ...TUNNEL, level },
});

export async function gatewayWith(options: GatewayOptions = {}, policies: PolicySpec[] = [tunnelPolicy()]): Promise<{ gw: Gateway; ids: number[] }> {
  const gw = await createGateway(options);
  const ids = gw.engine.addPolicies(policies);
  return { gw, ids };
}

/** ICMP echo request number `n` (n is also written into the payload, to check order). */
export function echo(n: number, src = '10.1.0.1', dst = '10.2.0.1'): Uint8Array {
  const p = buildPacket({ src, dst, proto: 'icmp', icmpType: 8, icmpCode: 0 }, { payloadLength: 8 });
  new DataView(p.buffer, p.byteOffset).setUint32(p.length - 4, n);
  return p;
}

export function numberOf(p: Uint8Array): number {
  return new DataView(p.buffer, p.byteOffset).getUint32(p.length - 4);
}

export interface Sent {
  n: number;
  saId: number | null;
  /** Engine time it left. */
  time: number;
}

/**
 * Records every packet that leaves protected or in clear, in the order it leaves:
 * packets decided at once by `send()`, and packets released from a resolution queue.
 */
export function recorder(gw: Gateway): { sent: Sent[]; send: (packets: Uint8Array[], now: number) => Verdicts } {
  const sent: Sent[] = [];
  const take = (packets: Uint8Array[], v: Verdicts, time: number) => {
    for (let i = 0; i < v.length; i++) {
      const verdict = v.verdict(i);
      if (verdict === 'protect' || verdict === 'bypass') sent.push({ n: numberOf(packets[i]), saId: v.saId(i), time });
    }
  };
  gw.on('release', (r) => take(r.packets, r.verdicts, r.time));
  return {
    sent,
    send: (packets, now) => {
      const v = gw.outbound(packets, now);
      take(packets, v, now);
      return v;
    },
  };
}
