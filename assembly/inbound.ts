// The inbound packet path (docs/design.md R17–R20), in two steps around decryption,
// which the host does (RFC 4303 §3.4):
//
//   processInbound  outer packets: ESP → SA by SPI (R17, unknown: R18) → anti-replay
//                   pre-check (R19); anything else → the inbound SPD, where a
//                   cleartext packet that a protect policy selects is dropped (R20).
//   processInner    decrypted packets with the SA and sequence number they came on:
//                   anti-replay update (the ICV verified) → the inner packet must
//                   match an inbound protect policy whose template fits the SA (R20).

import {
  Action, FK_FAMILY, FK_PROTO, Level, PD_OFFSET, PD_SA, PD_SEQ, PD_SIZE,
  PO_T_LEVEL, PW_L4OFF, PW_SIZE, PW_SPI, Reason, SA_FLAGS, SA_ID, SAF_ESN, Verdict, VR_FAMILY,
  VR_L4OFF, VR_PROTO, VR_SIZE, Dir, FK_DPORT, PD_CAPLEN,
} from './layout';
import { ESP_HEADER, PROTO_ESP, PROTO_UDP, UDP_HEADER } from './packet';
import { NATT_PORT } from './wire-defs';
import { arenaBase, beginVerdict, descBase, parseDescriptor, verdictBase, wireLength, workBase, writeVerdict } from './batch';
import { decideFlow } from './outbound';
import { policyAction, policyIdOf, policyPtr } from './spd';
import { saPtr, saSlotOf, specFitsKey, spiLookup, templateKey } from './sad';
import { inferSeq, replayAccept, replayCheck } from './replay';
import { noteInvalidSpi } from './events';
import { accountPacket } from './lifetime';
import { countVerdict } from './counters';

function verdict(v: usize, what: u32, reason: u32, policyId: u32, saId: u32, spi: u32, seq: u64): void {
  writeVerdict(v, what, reason, policyId, saId, spi, seq);
  countVerdict(Dir.In, what, reason);
}

// Parse descriptor i (parseDescriptor, shared with the outbound path). Returns the
// packet's address, or 0 with the malformed verdict written.
function parseAt(i: u32): usize {
  const w = workBase + <usize>i * PW_SIZE;
  const v = verdictBase + <usize>i * VR_SIZE;
  parseDescriptor(i, Dir.In);
  const status = beginVerdict(w, v);
  if (status != 0) {
    countVerdict(Dir.In, Verdict.Malformed, status);
    return 0;
  }
  return arenaBase + load<u32>(descBase + <usize>i * PD_SIZE + PD_OFFSET);
}

export function processInbound(n: u32, now: f64): void {
  for (let i: u32 = 0; i < n; i++) {
    const p = parseAt(i);
    if (p == 0) continue;
    const w = workBase + <usize>i * PW_SIZE;
    const v = verdictBase + <usize>i * VR_SIZE;
    const espAt = espOffset(i, p, w);
    if (espAt != 0) {
      const spi = bswap<u32>(load<u32>(p + espAt));
      const slot = spi == 0 ? -1 : spiLookup(spi, load<u8>(w + FK_FAMILY), w + 16 /* FK_DST */);
      if (slot < 0) {
        verdict(v, Verdict.Drop, Reason.UnknownSpi, 0, 0, spi, 0);
        noteInvalidSpi(w, spi, now);
        continue;
      }
      const sa = saPtr(<u32>slot);
      store<u32>(v + VR_L4OFF, espAt);
      const seql = bswap<u32>(load<u32>(p + espAt + 4));
      const seq = inferSeq(<u32>slot, seql, (load<u32>(sa + SA_FLAGS) & SAF_ESN) != 0);
      const r = replayCheck(<u32>slot, seq);
      if (r != 0) verdict(v, Verdict.Drop, r, 0, load<u32>(sa + SA_ID), spi, seq);
      else verdict(v, Verdict.Protect, Reason.Spi, 0, load<u32>(sa + SA_ID), spi, seq);
      continue;
    }
    const slot1 = decideFlow(w, Dir.In);
    const action = policyAction(slot1, Dir.In);
    const policyId = policyIdOf(slot1);
    const reason: u32 = slot1 == 0 ? Reason.DefaultPolicy : Reason.Policy;
    if (action == Action.Protect) {
      // R20: a packet a protect policy selects must arrive protected. Level `use`
      // accepts it in clear (opportunistic, R7a's inbound side).
      if (load<u8>(policyPtr(slot1 - 1) + PO_T_LEVEL) == <u8>Level.Use) verdict(v, Verdict.Bypass, Reason.Opportunistic, policyId, 0, 0, 0);
      else verdict(v, Verdict.Drop, Reason.ClearProtected, policyId, 0, 0, 0);
    } else {
      verdict(v, action == Action.Bypass ? Verdict.Bypass : Verdict.Discard, reason, policyId, 0, load<u32>(w + PW_SPI), 0);
    }
  }
}

// Where the ESP header of packet i starts, or 0 if it carries none: IP protocol 50,
// or UDP to port 4500 whose first four payload octets are not the non-ESP marker
// (RFC 3948 §2.2; zero marks IKE, a single 0xFF octet a NAT keepalive). A non-first
// fragment has no ports, so it never looks encapsulated.
function espOffset(i: u32, p: usize, w: usize): u32 {
  const l4 = load<u32>(w + PW_L4OFF);
  const proto = load<u8>(w + FK_PROTO);
  if (proto == <u8>PROTO_ESP) return l4;
  if (proto != <u8>PROTO_UDP || load<u16>(w + FK_DPORT) != <u16>NATT_PORT) return 0;
  const esp = l4 + <u32>UDP_HEADER;
  if (esp + <u32>ESP_HEADER > load<u32>(descBase + <usize>i * PD_SIZE + PD_CAPLEN)) return 0;
  return load<u32>(p + esp) == 0 ? 0 : esp;
}

export function processInner(n: u32, now: f64): void {
  for (let i: u32 = 0; i < n; i++) {
    const d = descBase + <usize>i * PD_SIZE;
    const v = verdictBase + <usize>i * VR_SIZE;
    const saId = load<u32>(d + PD_SA);
    const seq = load<u64>(d + PD_SEQ);
    const p = parseAt(i);
    if (p == 0) continue;
    const w = workBase + <usize>i * PW_SIZE;
    const slot = saSlotOf(saId);
    if (slot < 0) {
      verdict(v, Verdict.Drop, Reason.UnknownSpi, 0, saId, 0, seq); // removed since the outer packet
      continue;
    }
    const sa = saPtr(<u32>slot);
    const r = replayCheck(<u32>slot, seq);
    if (r != 0) {
      verdict(v, Verdict.Drop, r, 0, saId, 0, seq);
      continue;
    }
    // The ICV verified: the packet is authentic, so it moves the window even if the
    // policy check below refuses it (RFC 4303 §3.4.3, RFC 4301 §5.2).
    replayAccept(<u32>slot, seq);
    accountPacket(<u32>slot, wireLength(i), now, false); // R13: inbound use counts too
    const slot1 = decideFlow(w, Dir.In);
    const policyId = policyIdOf(slot1);
    if (policyAction(slot1, Dir.In) == Action.Protect && specFitsKey(sa, templateKey(policyPtr(slot1 - 1), w))) {
      verdict(v, Verdict.Protect, Reason.Policy, policyId, saId, 0, seq);
    } else {
      verdict(v, Verdict.Drop, Reason.PolicyMismatch, policyId, saId, 0, seq);
    }
  }
}
