// The batch ABI both packet paths share: the regions the host fills (descriptors,
// packet arena) and reads (verdict records), the per-packet work records, and the
// steps every packet of a batch goes through in either direction: its descriptor
// checked and parsed into a flow key, hashed, and one verdict record written.

import {
  Dir, Family, FK_DIR, FK_FAMILY, FK_SIZE, PD_CAPLEN, PD_OFFSET, PD_SIZE, PD_WIRELEN, PW_HASH, PW_SIZE, PW_STATUS, Reason,
  VR_LARVAL, VR_POLICY, VR_REASON, VR_SA, VR_SEQ, VR_SIZE, VR_SPI, VR_VERDICT,
} from './layout';
import { hashWords } from './hash';
import { reserve, zeroWords } from './memory';
import { ipv4HeaderValid, parsePacket } from './packet';

const KEY_WORDS: u32 = FK_SIZE >> 3;

export let descBase: usize = 0;
export let workBase: usize = 0;
export let arenaBase: usize = 0;
export let verdictBase: usize = 0;
export let batchCapacity: u32 = 0;
export let arenaBytes: u32 = 0;

export function initBatchRegions(batch: u32, arena: u32): bool {
  batchCapacity = batch;
  arenaBytes = arena;
  descBase = reserve(<u64>batch * PD_SIZE, 64);
  workBase = reserve(<u64>batch * PW_SIZE, 64);
  verdictBase = reserve(<u64>batch * VR_SIZE, 64);
  arenaBase = reserve(arena, 64);
  return arenaBase != 0;
}

// Hash of the flow key at the start of work record `w`.
@inline
export function hashFlowKey(w: usize): u32 {
  return hashWords(w, KEY_WORDS);
}

// One verdict record (both directions' batch paths write them here). `seq`: the
// packet's sequence number on SA `saId` (outbound: handed out; inbound: inferred).
@inline
export function writeVerdict(v: usize, verdict: u32, reason: u32, policyId: u32, saId: u32, spi: u32, seq: u64 = 0): void {
  store<u8>(v + VR_VERDICT, <u8>verdict);
  store<u8>(v + VR_REASON, <u8>reason);
  store<u32>(v + VR_POLICY, policyId);
  store<u32>(v + VR_SA, saId);
  store<u32>(v + VR_SPI, spi);
  store<u32>(v + VR_LARVAL, 0);
  store<u64>(v + VR_SEQ, seq);
}

// Parse packet i of the batch into its work record for direction `dir`, the
// descriptor's bounds checked against the arena first (R24), and hash its flow key.
// Returns 0, or the Reason it is malformed (also in PW_STATUS). Both directions'
// batch paths start here.
export function parseDescriptor(i: u32, dir: u32): u32 {
  const d = descBase + <usize>i * PD_SIZE;
  const w = workBase + <usize>i * PW_SIZE;
  zeroWords(w, PW_SIZE >> 3);
  store<u8>(w + FK_DIR, <u8>dir);
  const off = load<u32>(d + PD_OFFSET);
  const cap = load<u32>(d + PD_CAPLEN);
  let wire = load<u32>(d + PD_WIRELEN);
  if (wire < cap) wire = cap;
  let status: u32;
  if (cap > arenaBytes || off > arenaBytes - cap) status = Reason.BadDescriptor;
  else {
    status = parsePacket(arenaBase + off, cap, wire, w);
    if (status == 0 && dir == Dir.In && load<u8>(w + FK_FAMILY) == <u8>Family.V4 && !ipv4HeaderValid(arenaBase + off)) status = Reason.BadChecksum;
  }
  store<u32>(w + PW_STATUS, status);
  if (status == 0) store<u32>(w + PW_HASH, hashFlowKey(w));
  return status;
}

// The bytes the packet had on the wire (descriptor i), for lifetime accounting.
export function wireLength(i: u32): u32 {
  const d = descBase + <usize>i * PD_SIZE;
  const wire = load<u32>(d + PD_WIRELEN);
  const cap = load<u32>(d + PD_CAPLEN);
  return wire < cap ? cap : wire;
}

