// The ESP stage of the packet path: what happens to a batch after the engine decided
// it (VPP's esp-encrypt / esp-decrypt nodes after ipsec-output / ipsec-input).
//
//   protect  outbound verdicts → bytes for the wire: ESP built with the SA and the
//            sequence number the engine assigned (R13); bypass packets as they
//            are; nothing for discard, drop and queued packets. An SA without keys,
//            or a packet that cannot be encapsulated, becomes a counted drop: a
//            packet a protect policy selected never leaves in clear (R23).
//   accept   inbound verdicts → verify and decrypt each ESP packet with its SA;
//            only those whose ICV verified go to Engine.inboundDecrypted(), which
//            moves the anti-replay window and checks the inner packet against the
//            inbound policy (R19, R20). Cleartext bypass packets pass as they are.

import * as L from '../../assembly/layout.js';
import { REASON_NAMES } from './codec.js';
import type { Verdicts } from './verdicts.js';
import { packetAt } from './packets.js';
import type { PacketBuffer, PacketInput } from './packets.js';
import type { Direction, ReasonName } from './types.js';
import type { EspCrypto, EspSaHandle } from '../esp/crypto.js';

/**
 * What the ESP stage needs of the engine (the Engine class provides it): keys by SA
 * id, the inbound path after decryption, and drop counters. A small interface, so
 * that the stage sits below the engine wrapper that calls it.
 */
export interface EspStageEngine {
  espSa(id: number): EspSaHandle | null;
  /** The platform's ESP cryptography (node:crypto in Node; esp/crypto.ts). */
  readonly espCrypto: EspCrypto;
  inboundDecrypted(items: readonly { packet: Uint8Array; saId: number; seq: bigint | number }[], now?: number): Verdicts;
  countDrops(dir: Direction, reason: ReasonName, n: number): void;
}

/** What engine.output()/input() return: the verdicts and the packets to send or deliver (ESP applied or removed). */
export interface PacketOutput {
  /** One record per input packet: the engine's verdict, replaced by `drop` and its reason where the ESP stage dropped it. */
  verdicts: Verdicts;
  /** Per input packet: the bytes to send on (ESP, a bypass packet, a decrypted inner packet), or null. */
  packets: (Uint8Array | null)[];
}

// The ESP stage's drops of one batch: the packet's verdict becomes `drop` with the
// reason, and the engine's counters get one call per reason (R26).
class BatchDrops {
  private readonly byReason = new Map<number, number>();
  constructor(private readonly verdicts: Verdicts) {}

  drop(i: number, reason: number): void {
    this.verdicts.override(i, L.Verdict.Drop, reason);
    this.byReason.set(reason, (this.byReason.get(reason) ?? 0) + 1);
  }

  count(engine: EspStageEngine, dir: Direction): void {
    for (const [r, n] of this.byReason) engine.countDrops(dir, REASON_NAMES[r], n);
  }
}

/** Outbound bytes for each verdict of `verdicts` (decided for `input`); drops are counted in `dir`. */
export function protectPackets(engine: EspStageEngine, input: readonly PacketInput[] | PacketBuffer, verdicts: Verdicts, dir: Direction = 'out'): (Uint8Array | null)[] {
  const out = new Array<Uint8Array | null>(verdicts.length).fill(null);
  const drops = new BatchDrops(verdicts);
  for (let i = 0; i < verdicts.length; i++) {
    const v = verdicts.verdictCode(i);
    if (v === L.Verdict.Bypass) {
      out[i] = packetAt(input, i);
      continue;
    }
    if (v !== L.Verdict.Protect) continue;
    const sa = engine.espSa(verdicts.saId(i)!);
    const r = sa === null ? L.Reason.NoKeys : engine.espCrypto.encrypt(sa, packetAt(input, i), verdicts.seq(i) ?? 0n);
    if (typeof r === 'number') drops.drop(i, r);
    else out[i] = r;
  }
  drops.count(engine, dir);
  return out;
}

/** Decrypt and check the inbound packets `verdicts` was decided for, at engine time `now`. */
export function acceptPackets(engine: EspStageEngine, input: readonly PacketInput[] | PacketBuffer, verdicts: Verdicts, now?: number): PacketOutput {
  const out = new Array<Uint8Array | null>(verdicts.length).fill(null);
  const drops = new BatchDrops(verdicts);
  const items: { packet: Uint8Array; saId: number; seq: bigint }[] = [];
  const index: number[] = [];
  for (let i = 0; i < verdicts.length; i++) {
    const v = verdicts.verdictCode(i);
    if (v === L.Verdict.Bypass) {
      out[i] = packetAt(input, i);
      continue;
    }
    if (v !== L.Verdict.Protect) continue;
    const saId = verdicts.saId(i)!;
    const seq = verdicts.seq(i) ?? 0n;
    const sa = engine.espSa(saId);
    const r = sa === null ? L.Reason.NoKeys : engine.espCrypto.decrypt(sa, packetAt(input, i), verdicts.l4Offset(i), seq);
    if (typeof r === 'number') {
      drops.drop(i, r);
      continue;
    }
    items.push({ packet: r, saId, seq });
    index.push(i);
  }
  drops.count(engine, 'in');
  if (items.length) {
    const inner = engine.inboundDecrypted(items, now);
    for (let k = 0; k < items.length; k++) {
      const i = index[k];
      verdicts.assign(i, inner, k);
      if (inner.verdictCode(k) === L.Verdict.Protect) out[i] = items[k].packet;
    }
  }
  return { verdicts, packets: out };
}
