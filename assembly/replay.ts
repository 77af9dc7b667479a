// Anti-replay windows (docs/design.md R19, RFC 4303 §3.4.3 and Appendix A, RFC 6479).
//
// Each SA has a fixed-size record: the highest sequence number accepted and a ring
// bitmap of B = nextPow2(window + 32) bits. Bit (seq mod B) marks seq as seen. When
// the window advances, the words between the old and the new top are cleared, so an
// update costs O(words crossed) with no shifting; a sequence number more than
// `window` below the top is rejected before its bit is looked at, so the extra bits
// of the ring never alias a live one.
//
// With extended sequence numbers the packet carries only the low 32 bits; the high
// 32 bits are inferred from the window as in RFC 4303 Appendix A2.2.
//
// check() never changes state; accept() is called only once the ICV verified, so a
// forged packet cannot move the window (RFC 4303 §3.4.3).

import { RP_BITS, RP_TOP, Reason } from './layout';
import { nextPow2, reserve, zeroWords } from './memory';

let base: usize = 0;
let stride: usize = 0;
let window: u64 = 0;
let ringWords: u32 = 0;  // B / 32, a power of two

export function initReplay(maxSas: u32, windowPackets: u32): bool {
  window = windowPackets;
  ringWords = nextPow2(windowPackets + 32) >> 5;
  stride = (<usize>RP_BITS + (<usize>ringWords << 2) + 7) & ~(<usize>7);
  base = reserve(<u64>maxSas * stride, 64);
  return base != 0;
}

@inline function statePtr(slot: u32): usize { return base + <usize>slot * stride; }

// A new SA starts with an empty window.
export function replayReset(slot: u32): void {
  zeroWords(statePtr(slot), <u32>(stride >> 3));
}

// The full sequence number of a packet carrying `seql` on SA `slot` (0: none can be,
// i.e. the packet lies below every window, as the RFC's "Seqh - 1" at Th = 0).
export function inferSeq(slot: u32, seql: u32, esn: bool): u64 {
  if (!esn) return <u64>seql;
  const top = load<u64>(statePtr(slot) + RP_TOP);
  const tl = <u32>top;
  const th = <u32>(top >> 32);
  const w = <u32>window;
  const bottom = tl - w + 1; // wraps when the window spans two sequence-number subspaces
  if (tl >= w - 1) {
    // Case A: the window lies within one subspace.
    return seql >= bottom ? (<u64>th << 32) | seql : (<u64>(th + 1) << 32) | seql;
  }
  // Case B: the window spans two subspaces.
  if (seql >= bottom) {
    if (th == 0) return 0;
    return (<u64>(th - 1) << 32) | seql;
  }
  return (<u64>th << 32) | seql;
}

// 0 when `seq` may be accepted on SA `slot`, else the Reason it is rejected.
export function replayCheck(slot: u32, seq: u64): u32 {
  if (seq == 0) return Reason.ReplayTooOld; // 0 is never sent (RFC 4303 §3.3.3)
  const p = statePtr(slot);
  const top = load<u64>(p + RP_TOP);
  if (seq > top) return 0;
  if (top - seq >= window) return Reason.ReplayTooOld;
  const bit = <u32>seq & ((ringWords << 5) - 1);
  const word = load<u32>(p + RP_BITS + (<usize>(bit >> 5) << 2));
  return (word & (<u32>1 << (bit & 31))) != 0 ? Reason.Replayed : 0;
}

// Record `seq` as received (after replayCheck() said 0 and the ICV verified).
export function replayAccept(slot: u32, seq: u64): void {
  const p = statePtr(slot);
  const top = load<u64>(p + RP_TOP);
  const mask = ringWords - 1;
  if (seq > top) {
    // Clear the words the window moves over; at most the whole ring.
    const from = top >> 5;
    let crossed = (seq >> 5) - from;
    if (crossed > <u64>ringWords) crossed = ringWords;
    for (let i: u64 = 1; i <= crossed; i++) store<u32>(p + RP_BITS + (<usize>(<u32>(from + i) & mask) << 2), 0);
    store<u64>(p + RP_TOP, seq);
  }
  const bit = <u32>seq & ((ringWords << 5) - 1);
  const at = p + RP_BITS + (<usize>(bit >> 5) << 2);
  store<u32>(at, load<u32>(at) | (<u32>1 << (bit & 31)));
}
