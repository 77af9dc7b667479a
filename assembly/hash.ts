// Hashing of keys made of u64 words (flow keys, bucket keys, resolution keys).
// A multiply-xorshift per word: cheap, and good enough for open addressing with
// linear probing once the final fold mixes the high bits down.

@inline
function mix(h: u64, w: u64): u64 {
  h = (h ^ w) * 0x9E3779B97F4A7C15;
  return h ^ (h >> 29);
}

@inline
export function hashWords(p: usize, words: u32): u32 {
  let h: u64 = 0x243F6A8885A308D3;
  for (let i: u32 = 0; i < words; i++) h = mix(h, load<u64>(p + (<usize>i << 3)));
  h *= 0xD6E8FEB86659FD93;
  return <u32>(h >> 32) ^ <u32>h;
}

@inline
export function hashU32(x: u32): u32 {
  let h: u64 = mix(0x243F6A8885A308D3, <u64>x);
  h *= 0xD6E8FEB86659FD93;
  return <u32>(h >> 32) ^ <u32>h;
}

// Hash of an IPv4 classifier bucket key (table, masked source, masked destination).
// Only the classifier hashes these keys, on insert and on lookup alike, so it may
// differ from hashWords(): two mixes of values already in registers.
@inline
export function hashBucketV4(table: u32, src: u32, dst: u32): u32 {
  let h: u64 = mix(0x243F6A8885A308D3, (<u64>table << 32) | <u64>src);
  h = mix(h, <u64>dst);
  h *= 0xD6E8FEB86659FD93;
  return <u32>(h >> 32) ^ <u32>h;
}

// Hash of an IPv4 flow key: its source and destination address words and its last
// word (ports, protocol, family, kind, direction). The key's other address words are
// zero for IPv4, so two mixes cover it; a hash only spreads keys, the flow cache
// compares whole keys.
@inline
export function hashFlowV4(src: u32, dst: u32, rest: u64): u32 {
  let h: u64 = mix(0x243F6A8885A308D3, (<u64>src << 32) | <u64>dst);
  h = mix(h, rest);
  h *= 0xD6E8FEB86659FD93;
  return <u32>(h >> 32) ^ <u32>h;
}
