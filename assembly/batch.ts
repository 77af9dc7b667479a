// The batch ABI both packet paths share: the regions the host fills (descriptors,
// packet arena) and reads (verdict records), the per-packet work records, and the
// steps every packet of a batch goes through in either direction: its descriptor
// checked and parsed into a flow key, hashed, and one verdict record written.

import {
  Dir, Family, MAX_PACKET_BYTES, FK_DIR, FK_DST, FK_FAMILY, FK_SPORT, FK_SRC, FK_SIZE, PD_CAPLEN, PD_OFFSET, PD_SIZE, PD_WIRELEN, PW_HASH, PW_SIZE, PW_STATUS, Reason,
  FK_PROTO, PW_L4OFF, VR_FAMILY, VR_L4OFF, VR_PROTO, Verdict, VR_LARVAL, VR_POLICY, VR_REASON, VR_SA, VR_SEQ, VR_SIZE, VR_SPI, VR_VERDICT,
} from './layout';
import { hashFlowV4, hashWords } from './hash';
import { reserve, zeroWords } from './memory';
import { ipv4HeaderValid, parsePacket } from './packet';

const KEY_WORDS: u32 = FK_SIZE >> 3;

export let descBase: usize = 0;
export let workBase: usize = 0;
export let arenaBase: usize = 0;
export let stageBase: usize = 0;
// The flow-cache line each packet of the batch touches first (u32 addresses), so that
// the touch loop is a bare run of independent loads and more of them are in flight.
export let touchBase: usize = 0;
export let verdictBase: usize = 0;
export let batchCapacity: u32 = 0;
export let arenaBytes: u32 = 0;

export function initBatchRegions(batch: u32, arena: u32): bool {
  batchCapacity = batch;
  arenaBytes = arena;
  descBase = reserve(<u64>batch * PD_SIZE, 64);
  workBase = reserve(<u64>batch * PW_SIZE, 64);
  verdictBase = reserve(<u64>batch * VR_SIZE, 64);
  stageBase = reserve(<u64>batch * 12, 64);
  touchBase = reserve(<u64>batch * 4, 64);
  arenaBase = reserve(arena, 64);
  return arenaBase != 0;
}

// Tests narrow it (setHashMaskForTesting) so that distinct flows share hashes, and
// so tags: the flow cache must then still tell them apart by the full key.
let hashMask: u32 = 0xffffffff;
export function setHashMask(mask: u32): void {
  hashMask = mask;
}

// Hash of the flow key at the start of work record `w`.
@inline
export function hashFlowKey(w: usize): u32 {
  const h = load<u8>(w + FK_FAMILY) == <u8>Family.V4
    ? hashFlowV4(load<u32>(w + FK_SRC), load<u32>(w + FK_DST), load<u64>(w + FK_SPORT))
    : hashWords(w, KEY_WORDS);
  return h & hashMask;
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
  if (<u32>PW_SIZE == 64) {
    // Four SIMD stores instead of a loop of eight (the branch folds at compile time).
    const z = i64x2.splat(0);
    v128.store(w, z);
    v128.store(w, z, 16);
    v128.store(w, z, 32);
    v128.store(w, z, 48);
  } else {
    zeroWords(w, PW_SIZE >> 3);
  }
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

// Descriptors for up to `n` packets of a capture-like buffer (one byte range holding
// packets one after another, as a capture reader or a ring holds them), so that the
// host does no per-packet work: it stages the packets' offsets into its buffer at
// stageBase, their lengths after `batchCapacity` u32s and, with `wires`, their wire
// lengths after as many again. The first packet's offset is the range's start.
// Returns how many packets fit in the arena (at least one: a packet's head is at most
// MAX_PACKET_BYTES, R24), and leaves the bytes of the range to copy into the arena in
// `stagedBytes`.
// With `check`, the host's checks are done here, in the same loop, for all `n`
// packets (issue 15: not a JS loop, nor a loop of its own): do the offsets never
// decrease, does every packet end within `dataLength` bytes of the buffer and, with
// `wires`, is every wire length at least the packet's length? If one fails, returns
// 0 and nothing may run: the host then takes its validating path, which says what is
// wrong. Without `check` the host has checked them (offsets non-decreasing).
export let stagedBytes: u32 = 0;
export function describeStaged(n: u32, wires: bool, check: bool, dataLength: u32): u32 {
  const lens = stageBase + (<usize>batchCapacity << 2);
  const wls = lens + (<usize>batchCapacity << 2);
  const base = load<u32>(stageBase);
  let end: u32 = 0;
  let m: u32 = 0;
  let prev: u32 = 0;
  let full = false;
  for (let i: u32 = 0; i < n; i++) {
    const at = load<u32>(stageBase + (<usize>i << 2));
    const len = load<u32>(lens + (<usize>i << 2));
    const wire = wires ? load<u32>(wls + (<usize>i << 2)) : len;
    if (check) {
      if (at < prev || <u64>at + <u64>len > <u64>dataLength || wire < len) return 0;
      prev = at;
      if (full) continue;
    }
    const o = at - base;
    const cap = len < <u32>MAX_PACKET_BYTES ? len : <u32>MAX_PACKET_BYTES;
    if (<u64>o + cap > <u64>arenaBytes) {
      if (!check) break;
      full = true;
      continue;
    }
    const d = descBase + <usize>m * PD_SIZE;
    store<u32>(d + PD_OFFSET, o);
    store<u32>(d + PD_CAPLEN, cap);
    store<u32>(d + PD_WIRELEN, wire);
    if (o + cap > end) end = o + cap;
    m++;
  }
  stagedBytes = end;
  return m;
}

// The bytes the packet had on the wire (descriptor i), for lifetime accounting.
export function wireLength(i: u32): u32 {
  const d = descBase + <usize>i * PD_SIZE;
  const wire = load<u32>(d + PD_WIRELEN);
  const cap = load<u32>(d + PD_CAPLEN);
  return wire < cap ? cap : wire;
}


// The fields every verdict record copies from its packet's work record, and the
// verdict of a packet that did not parse (not counted: the caller counts as its
// path does). Returns the packet's parse status (0: parsed).
@inline
export function beginVerdict(w: usize, v: usize): u32 {
  store<u8>(v + VR_FAMILY, load<u8>(w + FK_FAMILY));
  store<u8>(v + VR_PROTO, load<u8>(w + FK_PROTO));
  store<u32>(v + VR_L4OFF, load<u32>(w + PW_L4OFF));
  const status = load<u32>(w + PW_STATUS);
  if (status != 0) writeVerdict(v, Verdict.Malformed, status, 0, 0, 0);
  return status;
}
