// Encoding and decoding of the engine's records (policy, SA, flow key, verdict)
// with the offsets of assembly/layout.ts, the one definition of the layout.
// Every encoder has its decoder next to it.

import * as L from '../../assembly/layout.js';
import { type Family, formatAddress, formatPrefix } from '../common/addr.js';
import { PROTO_AH } from '../common/protocols.js';
import type { NormalizedFlow, NormalizedPolicy, NormalizedSa } from './validate.js';
import type {
  AcquireCauseName, AcquireTemplate, EngineEvent, Direction, FlowKey, FlowResolution, LarvalOutcome, LarvalSa, OutcomeName,
  Policy, PolicyAction, ReasonName, SecurityAssociation, VerdictName,
} from './types.js';

// Names derive from the enum members of layout.ts: NoSa -> 'no-sa', L4Truncated -> 'l4-truncated'.
export function kebab(name: string): string {
  return name.replace(/([a-z0-9])([A-Z])/g, '$1-$2').toLowerCase();
}

function enumNames<T extends string>(e: Record<string, string | number>, size: number): T[] {
  const out = new Array<T>(size);
  for (const [k, v] of Object.entries(e)) if (typeof v === 'number') out[v] = kebab(k) as T;
  return out;
}

export const REASON_NAMES: readonly ReasonName[] = enumNames<ReasonName>(L.Reason, L.REASON_COUNT);
export const VERDICT_NAMES: readonly VerdictName[] = enumNames<VerdictName>(L.Verdict, L.VERDICT_COUNT);
export const DIR_NAMES: readonly Direction[] = ['out', 'in', 'fwd'];
const ACTION_NAMES: readonly PolicyAction[] = ['bypass', 'discard', 'protect'];
const LEVEL_NAMES = ['require', 'unique', 'use'] as const;

export const DIR_CODE: Readonly<Record<Direction, number>> = { out: L.Dir.Out, in: L.Dir.In, fwd: L.Dir.Fwd };
export const ACTION_CODE: Readonly<Record<PolicyAction, number>> = {
  bypass: L.Action.Bypass, discard: L.Action.Discard, protect: L.Action.Protect,
};
const LEVEL_CODE = { require: L.Level.Require, unique: L.Level.Unique, use: L.Level.Use } as const;
const MODE_CODE = { transport: L.Mode.Transport, tunnel: L.Mode.Tunnel } as const;

// Reasons that mean the packet was not sent: the "drops by reason" of stats() (R26).
// 'resolving' is not one: a queued packet is held, and counted again when it leaves
// (released) or is dropped (queue-full, acquire-timeout, ...).
export function isDropReason(code: number): boolean {
  return code >= L.Reason.NoSa && code !== L.Reason.Resolving && code !== L.Reason.Spi;
}
const CAUSE_NAMES: readonly AcquireCauseName[] = enumNames<AcquireCauseName>(L.AcquireCause, 4);
const OUTCOME_NAMES: readonly OutcomeName[] = enumNames<OutcomeName>(L.Outcome, 5);
const FLOW_STATE_NAMES = enumNames<FlowResolution['state']>(L.FlowState, 4);

function writeWords(dv: DataView, at: number, words: ArrayLike<number>): void {
  for (let i = 0; i < 4; i++) dv.setUint32(at + 4 * i, words[i] >>> 0, true);
}

function readWords(dv: DataView, at: number): Uint32Array {
  const w = new Uint32Array(4);
  for (let i = 0; i < 4; i++) w[i] = dv.getUint32(at + 4 * i, true);
  return w;
}

// ---------------------------------------------------------------------------
// Policy

export function encodePolicy(dv: DataView, at: number, p: NormalizedPolicy): void {
  new Uint8Array(dv.buffer, at, L.PO_SIZE).fill(0);
  dv.setUint8(at + L.PO_DIR, DIR_CODE[p.dir]);
  dv.setUint8(at + L.PO_FAMILY, p.family);
  dv.setUint8(at + L.PO_ACTION, ACTION_CODE[p.action]);
  let flags = 0;
  if (p.proto === null) flags |= L.POF_PROTO_ANY;
  else dv.setUint8(at + L.PO_PROTO, p.proto);
  dv.setUint8(at + L.PO_SRCLEN, p.src.len);
  dv.setUint8(at + L.PO_DSTLEN, p.dst.len);
  writeWords(dv, at + L.PO_SRC, p.src.words);
  writeWords(dv, at + L.PO_DST, p.dst.words);
  const ranges = p.ports ? [p.ports.src, p.ports.dst] : p.icmp ? [p.icmp.type, p.icmp.code] : [[0, 65535], [0, 65535]];
  if (p.ports) flags |= L.POF_PORTS;
  if (p.icmp) flags |= L.POF_ICMP;
  dv.setUint16(at + L.PO_SP_LO, ranges[0][0], true);
  dv.setUint16(at + L.PO_SP_HI, ranges[0][1], true);
  dv.setUint16(at + L.PO_DP_LO, ranges[1][0], true);
  dv.setUint16(at + L.PO_DP_HI, ranges[1][1], true);
  dv.setUint8(at + L.PO_FLAGS, flags);
  dv.setUint32(at + L.PO_PRIORITY, p.priority, true);
  const t = p.template;
  if (t) {
    dv.setUint8(at + L.PO_T_PROTO, t.proto);
    dv.setUint8(at + L.PO_T_MODE, MODE_CODE[t.mode]);
    dv.setUint8(at + L.PO_T_LEVEL, LEVEL_CODE[t.level]);
    dv.setUint32(at + L.PO_T_REQID, t.reqid, true);
    if (t.src && t.dst) {
      dv.setUint8(at + L.PO_T_FAMILY, t.src.family);
      writeWords(dv, at + L.PO_T_SRC, t.src.words);
      writeWords(dv, at + L.PO_T_DST, t.dst.words);
    }
  }
}

export function decodePolicy(dv: DataView, at: number): Policy {
  const family = dv.getUint8(at + L.PO_FAMILY) as Family;
  const flags = dv.getUint8(at + L.PO_FLAGS);
  const range = (lo: number, hi: number): [number, number] => [dv.getUint16(at + lo, true), dv.getUint16(at + hi, true)];
  const action = ACTION_NAMES[dv.getUint8(at + L.PO_ACTION)];
  let template: Policy['template'] = null;
  if (action === 'protect') {
    const mode = dv.getUint8(at + L.PO_T_MODE) === L.Mode.Tunnel ? 'tunnel' : 'transport';
    const tfam = dv.getUint8(at + L.PO_T_FAMILY) as Family;
    template = {
      proto: dv.getUint8(at + L.PO_T_PROTO) === PROTO_AH ? 'ah' : 'esp',
      mode,
      level: LEVEL_NAMES[dv.getUint8(at + L.PO_T_LEVEL)],
      reqid: dv.getUint32(at + L.PO_T_REQID, true),
      ...(mode === 'tunnel'
        ? { src: formatAddress(tfam, readWords(dv, at + L.PO_T_SRC)), dst: formatAddress(tfam, readWords(dv, at + L.PO_T_DST)) }
        : {}),
    };
  }
  return {
    id: dv.getUint32(at + L.PO_ID, true),
    generation: dv.getUint32(at + L.PO_GEN, true),
    dir: DIR_NAMES[dv.getUint8(at + L.PO_DIR)],
    priority: dv.getUint32(at + L.PO_PRIORITY, true),
    action,
    family,
    src: formatPrefix(family, readWords(dv, at + L.PO_SRC), dv.getUint8(at + L.PO_SRCLEN)),
    dst: formatPrefix(family, readWords(dv, at + L.PO_DST), dv.getUint8(at + L.PO_DSTLEN)),
    proto: flags & L.POF_PROTO_ANY ? null : dv.getUint8(at + L.PO_PROTO),
    srcPort: flags & L.POF_PORTS ? range(L.PO_SP_LO, L.PO_SP_HI) : null,
    dstPort: flags & L.POF_PORTS ? range(L.PO_DP_LO, L.PO_DP_HI) : null,
    icmpType: flags & L.POF_ICMP ? range(L.PO_SP_LO, L.PO_SP_HI) : null,
    icmpCode: flags & L.POF_ICMP ? range(L.PO_DP_LO, L.PO_DP_HI) : null,
    template,
  };
}

// ---------------------------------------------------------------------------
// SA

export function encodeSa(dv: DataView, at: number, sa: NormalizedSa): void {
  new Uint8Array(dv.buffer, at, L.SA_SIZE).fill(0);
  dv.setUint8(at + L.SA_STATE, sa.state === 'dying' ? L.SaState.Dying : L.SaState.Mature);
  dv.setUint8(at + L.SA_FAMILY, sa.family);
  dv.setUint8(at + L.SA_PROTO, sa.proto);
  dv.setUint8(at + L.SA_MODE, MODE_CODE[sa.mode]);
  dv.setUint32(at + L.SA_SPI, sa.spi, true);
  dv.setUint32(at + L.SA_REQID, sa.reqid, true);
  writeWords(dv, at + L.SA_SRC, sa.src);
  writeWords(dv, at + L.SA_DST, sa.dst);
  dv.setUint32(at + L.SA_FLAGS, sa.esn ? L.SAF_ESN : 0, true);
  // The lifetime spec follows at LS_OFFSET, in the engine's lifetime-record layout.
  const lt = at + L.LS_OFFSET;
  new Uint8Array(dv.buffer, lt, L.LT_SIZE).fill(0);
  dv.setBigUint64(lt + L.LT_SOFT_PACKETS, sa.lifetime.soft.packets, true);
  dv.setBigUint64(lt + L.LT_HARD_PACKETS, sa.lifetime.hard.packets, true);
  dv.setBigUint64(lt + L.LT_SOFT_BYTES, sa.lifetime.soft.bytes, true);
  dv.setBigUint64(lt + L.LT_HARD_BYTES, sa.lifetime.hard.bytes, true);
  dv.setFloat64(lt + L.LT_SOFT_ADD, sa.lifetime.soft.addTime, true);
  dv.setFloat64(lt + L.LT_HARD_ADD, sa.lifetime.hard.addTime, true);
  dv.setFloat64(lt + L.LT_SOFT_USE, sa.lifetime.soft.useTime, true);
  dv.setFloat64(lt + L.LT_HARD_USE, sa.lifetime.hard.useTime, true);
  dv.setBigUint64(lt + L.LT_SEQ_OUT, sa.lastSeq, true);
}

const SA_STATE_NAMES = ['mature', 'mature', 'dying', 'draining'] as const;

export function decodeSa(dv: DataView, at: number, lt: number): SecurityAssociation {
  const family = dv.getUint8(at + L.SA_FAMILY) as Family;
  const state = SA_STATE_NAMES[dv.getUint8(at + L.SA_STATE)];
  const firstUse = dv.getUint32(lt + L.LT_FLAGS, true) & L.LTF_USED ? dv.getFloat64(lt + L.LT_FIRST_USE, true) : -1;
  return {
    id: dv.getUint32(at + L.SA_ID, true),
    spi: dv.getUint32(at + L.SA_SPI, true),
    src: formatAddress(family, readWords(dv, at + L.SA_SRC)),
    dst: formatAddress(family, readWords(dv, at + L.SA_DST)),
    family,
    proto: dv.getUint8(at + L.SA_PROTO) === PROTO_AH ? 'ah' : 'esp',
    mode: dv.getUint8(at + L.SA_MODE) === L.Mode.Tunnel ? 'tunnel' : 'transport',
    reqid: dv.getUint32(at + L.SA_REQID, true),
    state,
    esn: (dv.getUint32(at + L.SA_FLAGS, true) & L.SAF_ESN) !== 0,
    addTime: dv.getFloat64(at + L.SA_ADDTIME, true),
    usage: {
      packets: Number(dv.getBigUint64(lt + L.LT_PACKETS, true)),
      bytes: Number(dv.getBigUint64(lt + L.LT_BYTES, true)),
      lastSeq: dv.getBigUint64(lt + L.LT_SEQ_OUT, true),
      firstUse: firstUse < 0 ? null : firstUse,
    },
    drainEnd: state === 'draining' ? dv.getFloat64(lt + L.LT_DRAIN_END, true) : null,
    transform: null,
  };
}

// ---------------------------------------------------------------------------
// Flow key

const KIND_CODE = { none: L.L4Kind.None, ports: L.L4Kind.Ports, icmp: L.L4Kind.Icmp } as const;

export function encodeFlowKey(dv: DataView, at: number, f: NormalizedFlow): void {
  new Uint8Array(dv.buffer, at, L.PW_SIZE).fill(0);
  writeWords(dv, at + L.FK_SRC, f.src);
  writeWords(dv, at + L.FK_DST, f.dst);
  dv.setUint16(at + L.FK_SPORT, f.sport, true);
  dv.setUint16(at + L.FK_DPORT, f.dport, true);
  dv.setUint8(at + L.FK_PROTO, f.proto);
  dv.setUint8(at + L.FK_FAMILY, f.family);
  dv.setUint8(at + L.FK_KIND, KIND_CODE[f.kind]);
}

// ---------------------------------------------------------------------------
// Resolution: flow keys, resolution keys, events, larval SAs, outcomes

export function decodeFlowKey(dv: DataView, at: number): FlowKey {
  const family = dv.getUint8(at + L.FK_FAMILY) as Family;
  const flow: FlowKey = {
    src: formatAddress(family, readWords(dv, at + L.FK_SRC)),
    dst: formatAddress(family, readWords(dv, at + L.FK_DST)),
    proto: dv.getUint8(at + L.FK_PROTO),
  };
  const kind = dv.getUint8(at + L.FK_KIND);
  const a = dv.getUint16(at + L.FK_SPORT, true);
  const b = dv.getUint16(at + L.FK_DPORT, true);
  if (kind === L.L4Kind.Ports) Object.assign(flow, { srcPort: a, dstPort: b });
  else if (kind === L.L4Kind.Icmp) Object.assign(flow, { icmpType: a, icmpCode: b });
  return flow;
}

export function decodeResolutionKey(dv: DataView, at: number, level: number): AcquireTemplate {
  const family = dv.getUint8(at + L.RK_FAMILY) as Family;
  return {
    proto: dv.getUint8(at + L.RK_PROTO) === PROTO_AH ? 'ah' : 'esp',
    mode: dv.getUint8(at + L.RK_MODE) === L.Mode.Tunnel ? 'tunnel' : 'transport',
    level: LEVEL_NAMES[level],
    reqid: dv.getUint8(at + L.RK_FLAGS) & L.RKF_REQID_ANY ? 0 : dv.getUint32(at + L.RK_REQID, true),
    family,
    src: formatAddress(family, readWords(dv, at + L.RK_SRC)),
    dst: formatAddress(family, readWords(dv, at + L.RK_DST)),
  };
}

export function decodeEvent(dv: DataView, at: number): EngineEvent | null {
  const type = dv.getUint8(at + L.EV_TYPE);
  if (type === L.EventType.InvalidSpi) {
    const flow = decodeFlowKey(dv, at + L.EV_FLOW);
    return { type: 'invalid-spi', spi: dv.getUint32(at + L.EV_SEQ, true), src: flow.src, dst: flow.dst, time: dv.getFloat64(at + L.EV_TIME, true) };
  }
  if (type === L.EventType.Expire || type === L.EventType.Deleted) {
    const key = decodeResolutionKey(dv, at + L.EV_KEY, 0);
    const sa = {
      saId: dv.getUint32(at + L.EV_SA, true), spi: dv.getUint32(at + L.EV_SPI, true),
      src: key.src, dst: key.dst, proto: key.proto, mode: key.mode, reqid: dv.getUint32(at + L.EV_KEY + L.RK_REQID, true),
    };
    const time = dv.getFloat64(at + L.EV_TIME, true);
    if (type === L.EventType.Deleted) return { type: 'deleted', ...sa, time };
    return { type: 'expire', kind: dv.getUint8(at + L.EV_REASON) === L.ExpireKind.Hard ? 'hard' : 'soft', ...sa, time };
  }
  if (type !== L.EventType.Acquire) return null;
  return {
    type: 'acquire',
    seq: dv.getUint32(at + L.EV_SEQ, true),
    policyId: dv.getUint32(at + L.EV_POLICY, true),
    policyGeneration: dv.getUint32(at + L.EV_POLICY_GEN, true),
    dir: DIR_NAMES[dv.getUint8(at + L.EV_DIR)],
    time: dv.getFloat64(at + L.EV_TIME, true),
    cause: CAUSE_NAMES[dv.getUint8(at + L.EV_REASON)],
    template: decodeResolutionKey(dv, at + L.EV_KEY, dv.getUint8(at + L.EV_LEVEL)),
    flow: decodeFlowKey(dv, at + L.EV_FLOW),
  };
}

export function decodeLarval(dv: DataView, at: number): LarvalSa {
  return {
    id: dv.getUint32(at + L.LV_ID, true),
    policyId: dv.getUint32(at + L.LV_POLICY, true),
    policyGeneration: dv.getUint32(at + L.LV_POLICY_GEN, true),
    dir: DIR_NAMES[dv.getUint8(at + L.LV_DIR)],
    template: decodeResolutionKey(dv, at + L.LV_KEY, dv.getUint8(at + L.LV_LEVEL)),
    flow: decodeFlowKey(dv, at + L.LV_FLOW),
    expires: dv.getFloat64(at + L.LV_EXPIRES, true),
    undelivered: (dv.getUint8(at + L.LV_FLAGS) & L.LVF_UNDELIVERED) !== 0,
  };
}

export function decodeOutcome(dv: DataView, at: number): LarvalOutcome {
  const sa = dv.getUint32(at + L.OC_SA, true);
  return { larvalId: dv.getUint32(at + L.OC_LARVAL, true), outcome: OUTCOME_NAMES[dv.getUint32(at + L.OC_KIND, true)], saId: sa || null };
}

export function decodeFlowResolution(dv: DataView, at: number): FlowResolution {
  const id = (off: number) => dv.getUint32(at + off, true) || null;
  return {
    state: FLOW_STATE_NAMES[dv.getUint32(at + L.RF_STATE, true)],
    verdict: VERDICT_NAMES[dv.getUint32(at + L.RF_VERDICT, true)],
    reason: REASON_NAMES[dv.getUint32(at + L.RF_REASON, true)],
    policyId: id(L.RF_POLICY),
    saId: id(L.RF_SA),
    larvalId: id(L.RF_LARVAL),
  };
}
