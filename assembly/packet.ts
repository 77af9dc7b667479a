// Packet parsing: raw IPv4/IPv6 bytes in the arena -> flow key (R3, R5, R24).
//
// Every read is preceded by a length check against two bounds:
//   `end` - where the datagram ends by its own length fields (<= wire length);
//   `cap` - how many bytes are actually present (a capture may be cut short).
// A header that the datagram is too short to hold is malformed; a header that the
// capture cut off is reported the same way, because its fields cannot be known.
// Non-first fragments carry no upper-layer fields (RFC 4301 §7): kind None.

import {
  FK_DIR, FK_DPORT, FK_DST, FK_FAMILY, FK_KIND, FK_PROTO, FK_SPORT, FK_SRC,
  Family, L4Kind, MAX_EXT_HEADERS, MAX_PACKET_BYTES, PW_L4OFF, PW_SPI, Reason,
} from './layout';
import * as W from './wire-defs';

// Header offsets, sizes and protocol numbers come from wire-defs.ts, shared with the
// host; here they are typed u32 for the parser's arithmetic.
const IP4_VER_IHL: u32 = W.IPV4_VER_IHL;
const IP4_TOTAL_LEN: u32 = W.IPV4_TOTAL_LEN;
const IP4_FRAG: u32 = W.IPV4_FLAGS_FRAG;
const IP4_PROTO: u32 = W.IPV4_PROTOCOL;
const IP4_SRC: u32 = W.IPV4_SRC;
const IP4_DST: u32 = W.IPV4_DST;
const IP4_MIN_HEADER: u32 = W.IPV4_MIN_HEADER;
const IP4_FRAG_MF: u32 = W.IPV4_FLAG_MF;
const IP4_FRAG_OFFSET: u32 = W.IPV4_FRAG_OFFSET_MASK;
const IP6_PAYLOAD_LEN: u32 = W.IPV6_PAYLOAD_LEN;
const IP6_NEXT_HEADER: u32 = W.IPV6_NEXT_HEADER;
const IP6_SRC: u32 = W.IPV6_SRC;
const IP6_DST: u32 = W.IPV6_DST;
const IP6_HEADER: u32 = W.IPV6_HEADER;
const IP6_FRAG_HEADER: u32 = W.IPV6_FRAG_HEADER;
const IP6_FRAG_OFFSET: u32 = W.IPV6_FRAG_OFFSET_MASK;
const IP6_FRAG_M: u32 = W.IPV6_FRAG_M;
const PROTO_HOPOPTS: u32 = W.PROTO_HOPOPTS;
const PROTO_ICMP: u32 = W.PROTO_ICMP;
const PROTO_TCP: u32 = W.PROTO_TCP;
export const PROTO_UDP: u32 = W.PROTO_UDP;
const PROTO_ROUTING: u32 = W.PROTO_ROUTING;
const PROTO_FRAGMENT: u32 = W.PROTO_FRAGMENT;
export const PROTO_ESP: u32 = W.PROTO_ESP;
export const PROTO_AH: u32 = W.PROTO_AH;
const PROTO_ICMPV6: u32 = W.PROTO_ICMPV6;
const PROTO_NONE: u32 = W.PROTO_NONE;
const PROTO_DSTOPTS: u32 = W.PROTO_DSTOPTS;
const PROTO_SCTP: u32 = W.PROTO_SCTP;
const PROTO_MOBILITY: u32 = W.PROTO_MOBILITY;
const PROTO_HIP: u32 = W.PROTO_HIP;
const PROTO_SHIM6: u32 = W.PROTO_SHIM6;
const TCP_HEADER: u32 = W.TCP_MIN_HEADER;
const TCP_DATA_OFFSET: u32 = W.TCP_DATA_OFFSET;
export const UDP_HEADER: u32 = W.UDP_HEADER;
const UDP_LENGTH: u32 = W.UDP_LENGTH;
const SCTP_HEADER: u32 = W.SCTP_COMMON_HEADER;
const ICMP_HEADER: u32 = W.ICMP_MIN_HEADER;
export const ESP_HEADER: u32 = W.ESP_HEADER;
const AH_HEADER: u32 = W.AH_FIXED_HEADER;
const AH_LENGTH: u32 = W.AH_LENGTH;
const AH_SPI: u32 = W.AH_SPI;

// plainIpv4()'s byte shuffle is written for these positions (and for the ports as
// adjacent u16s of the key).
// @ts-ignore: a compile-time check; the condition folds to false
if (IP4_SRC != 12 || IP4_DST != 16 || IP4_TOTAL_LEN != 2 || IP4_FRAG != 6 || IP4_MIN_HEADER != 20 || FK_DPORT != FK_SPORT + 2) unreachable();

// Bit positions of the flow key's fields in the little-endian u64 at FK_SPORT.
const TAIL_SPORT: u64 = (FK_SPORT - FK_SPORT) << 3;
const TAIL_DPORT: u64 = (FK_DPORT - FK_SPORT) << 3;
const TAIL_PROTO: u64 = (FK_PROTO - FK_SPORT) << 3;
const TAIL_FAMILY: u64 = (FK_FAMILY - FK_SPORT) << 3;
const TAIL_KIND: u64 = (FK_KIND - FK_SPORT) << 3;
const TAIL_DIR: u64 = (FK_DIR - FK_SPORT) << 3;

@inline function u8at(p: usize, off: u32): u32 { return <u32>load<u8>(p + off); }
@inline function be16(p: usize, off: u32): u32 { return <u32>bswap<u16>(load<u16>(p + off)); }
@inline function be32(p: usize, off: u32): u32 { return bswap<u32>(load<u32>(p + off)); }

// Parse the packet at `p` into the work record `w` (whose flow key the caller has
// zeroed, with FK_DIR set). Returns 0, or the Reason that makes it malformed.
export function parsePacket(p: usize, cap: u32, wire: u32, w: usize): u32 {
  if (wire <= <u32>MAX_PACKET_BYTES && cap >= IP4_MIN_HEADER + TCP_HEADER && u8at(p, 0) == 0x45 && plainIpv4(p, cap, wire, w)) return 0;
  if (wire > <u32>MAX_PACKET_BYTES) return Reason.Oversized;
  if (cap < 1) return Reason.Truncated;
  const version = u8at(p, 0) >> 4;
  if (version == 4) return parseIpv4(p, cap, wire, w);
  if (version == 6) return parseIpv6(p, cap, wire, w);
  return Reason.BadVersion;
}

// RFC 1122 §3.2.1.2: a received IPv4 header's checksum must verify. Only the inbound
// path checks it: locally sent packets in captures often carry checksums the NIC
// fills in later (offload). For ESP it matters most: the ICV does not cover the
// outer header, so this is what catches a corrupted outer address or protocol.
export function ipv4HeaderValid(p: usize): bool {
  const ihl = (u8at(p, IP4_VER_IHL) & 15) << 2;
  let sum: u32 = 0;
  for (let off: u32 = 0; off < ihl; off += 2) sum += be16(p, off);
  sum = (sum & 0xffff) + (sum >> 16);
  sum = (sum & 0xffff) + (sum >> 16);
  return sum == 0xffff;
}

// The common case first (issue 15's hit path): IPv4 without options, not a fragment,
// TCP or UDP whose header checks pass, with everything present in the capture. Writes
// the same fields parseIpv4() and parseUpper() would and returns true; returns false,
// having written nothing, for anything else, which then takes the full parse (so the
// malformed reasons and every other case stay exactly theirs).
@inline
function plainIpv4(p: usize, cap: u32, wire: u32, w: usize): bool {
  // The first 32 bytes (cap >= 40 here) in two vector loads, and the fields the key
  // needs put in host order by one byte shuffle (WebAssembly has no byte swap: a
  // be32() is a dozen instructions): as u32 lanes, 0 the source address (bytes
  // 12-15), 1 the destination (16-19), 2 the source port | the destination port << 16
  // (20-23), 3 the total length | the flags and fragment offset << 16 (2-3, 6-7).
  const head = v128.load(p);
  const next = v128.load(p, 16);
  const f = i8x16.shuffle(head, next, 15, 14, 13, 12, 19, 18, 17, 16, 21, 20, 23, 22, 3, 2, 7, 6);
  const lenFrag = <u32>i32x4.extract_lane(f, 3);
  const total = lenFrag & 0xffff;
  if (total < IP4_MIN_HEADER + TCP_HEADER || total > wire || total > cap) return false;
  if (((lenFrag >> 16) & (IP4_FRAG_MF | IP4_FRAG_OFFSET)) != 0) return false;
  const proto = <u32>i8x16.extract_lane_u(head, <u8>IP4_PROTO);
  const l4 = IP4_MIN_HEADER;
  if (proto == PROTO_TCP) {
    const dataOffset = (u8at(p, l4 + TCP_DATA_OFFSET) >> 4) << 2;
    if (dataOffset < <u32>TCP_HEADER || l4 + dataOffset > total) return false;
  } else if (proto == PROTO_UDP) {
    const len = be16(p, l4 + UDP_LENGTH);
    if (len < <u32>UDP_HEADER || l4 + len > total) return false;
  } else {
    return false;
  }
  store<u32>(w + FK_SRC, <u32>i32x4.extract_lane(f, 0));
  store<u32>(w + FK_DST, <u32>i32x4.extract_lane(f, 1));
  // The key's last eight bytes (ports, protocol, family, kind and the direction the
  // caller set) in one store: the hash reads them back as one u64, and a load that
  // spans several narrower stores waits for them to reach the cache (no store
  // forwarding), a stall per packet.
  store<u64>(w + FK_SPORT,
    (<u64><u32>i32x4.extract_lane(f, 2) << TAIL_SPORT) | (<u64>proto << TAIL_PROTO) |
    (<u64>Family.V4 << TAIL_FAMILY) | (<u64>L4Kind.Ports << TAIL_KIND) | (<u64>load<u8>(w + FK_DIR) << TAIL_DIR));
  store<u32>(w + PW_L4OFF, l4);
  return true;
}

function parseIpv4(p: usize, cap: u32, wire: u32, w: usize): u32 {
  if (cap < <u32>IP4_MIN_HEADER) return Reason.Truncated;
  const ihl = (u8at(p, IP4_VER_IHL) & 15) << 2;
  if (ihl < <u32>IP4_MIN_HEADER) return Reason.BadIhl;
  if (ihl > cap) return Reason.Truncated;
  let total = be16(p, IP4_TOTAL_LEN);
  // Total length 0 is what captures of TCP segmentation offload show for the large
  // segments the stack hands the NIC; the wire length is then the truth (Wireshark
  // does the same).
  if (total == 0) total = wire < 65535 ? wire : 65535;
  if (total < ihl || total > wire) return Reason.BadTotalLength;
  const proto = u8at(p, IP4_PROTO);
  store<u8>(w + FK_FAMILY, <u8>Family.V4);
  store<u8>(w + FK_PROTO, <u8>proto);
  store<u32>(w + FK_SRC, be32(p, IP4_SRC));
  store<u32>(w + FK_DST, be32(p, IP4_DST));
  store<u32>(w + PW_L4OFF, ihl);
  const frag = be16(p, IP4_FRAG);
  const fragOffset = (frag & IP4_FRAG_OFFSET) << 3;
  if (fragOffset + (total - ihl) > 65535) return Reason.FragmentOverflow;
  if (fragOffset != 0) {
    // RFC 1858: an offset of 8 octets lets a TCP fragment rewrite the flags of the
    // first one; such fragments have no legitimate use.
    if (fragOffset == 8 && proto == PROTO_TCP) return Reason.TinyFragment;
    return 0; // non-first fragment: no ports (R5)
  }
  // Whole datagram, or first fragment (MF set): the upper-layer header must be in it.
  return parseUpper(p, ihl, total, cap < total ? cap : total, proto, Family.V4, (frag & IP4_FRAG_MF) != 0, w);
}

function parseIpv6(p: usize, cap: u32, wire: u32, w: usize): u32 {
  if (cap < <u32>IP6_HEADER) return Reason.Truncated;
  const payload = be16(p, IP6_PAYLOAD_LEN);
  // Payload length 0 with a hop-by-hop header announces a jumbogram (RFC 2675),
  // which larval does not carry; otherwise it is just an empty payload.
  if (payload == 0 && u8at(p, IP6_NEXT_HEADER) == PROTO_HOPOPTS) return Reason.BadPayloadLength;
  if (<u32>IP6_HEADER + payload > wire) return Reason.BadPayloadLength;
  const end = <u32>IP6_HEADER + payload;
  const avail = cap < end ? cap : end;
  store<u8>(w + FK_FAMILY, <u8>Family.V6);
  for (let i: u32 = 0; i < 4; i++) {
    store<u32>(w + FK_SRC + (i << 2), be32(p, IP6_SRC + (i << 2)));
    store<u32>(w + FK_DST + (i << 2), be32(p, IP6_DST + (i << 2)));
  }
  let next = u8at(p, IP6_NEXT_HEADER);
  let off: u32 = IP6_HEADER;
  let headers: u32 = 0;
  let firstFragment = false;
  while (true) {
    if (next == PROTO_HOPOPTS || next == PROTO_ROUTING || next == PROTO_DSTOPTS ||
        next == PROTO_MOBILITY || next == PROTO_HIP || next == PROTO_SHIM6) {
      if (next == PROTO_HOPOPTS && headers != 0) return Reason.HopByHopNotFirst;
      if (headers == <u32>MAX_EXT_HEADERS) return Reason.ExtChainTooLong;
      if (off + 8 > avail) return Reason.ExtHeaderTruncated;
      const len = (u8at(p, off + 1) + 1) << 3;
      if (off + len > end) return Reason.ExtHeaderTruncated;
      next = u8at(p, off);
      off += len;
      headers++;
      continue;
    }
    if (next == PROTO_FRAGMENT) {
      if (headers == <u32>MAX_EXT_HEADERS) return Reason.ExtChainTooLong;
      if (off + <u32>IP6_FRAG_HEADER > avail) return Reason.ExtHeaderTruncated;
      const fragField = be16(p, off + 2);
      const fragOffset = fragField & IP6_FRAG_OFFSET;
      firstFragment = (fragField & IP6_FRAG_M) != 0;
      next = u8at(p, off);
      off += IP6_FRAG_HEADER;
      headers++;
      if (fragOffset != 0) {
        // RFC 8200 §4.5: offset plus fragment length must stay within 65535.
        if (fragOffset + (end - off) > 65535) return Reason.FragmentOverflow;
        store<u8>(w + FK_PROTO, <u8>next);
        store<u32>(w + PW_L4OFF, off);
        return 0; // non-first fragment: no ports (R5)
      }
      continue; // first fragment or atomic fragment: keep walking
    }
    break;
  }
  store<u8>(w + FK_PROTO, <u8>next);
  store<u32>(w + PW_L4OFF, off);
  if (next == PROTO_NONE) return 0;
  return parseUpper(p, off, end, avail, next, Family.V6, firstFragment, w);
}

// Upper-layer fields at `off`. `end` bounds the datagram (or, for a first fragment,
// this fragment), `avail` the bytes present.
function parseUpper(p: usize, off: u32, end: u32, avail: u32, proto: u32, family: Family, firstFragment: bool, w: usize): u32 {
  if (proto == PROTO_TCP) {
    if (off + <u32>TCP_HEADER > avail) return Reason.L4Truncated;
    const dataOffset = (u8at(p, off + TCP_DATA_OFFSET) >> 4) << 2;
    if (dataOffset < <u32>TCP_HEADER || off + dataOffset > end) return Reason.BadL4Header;
    return ports(p, off, w);
  }
  if (proto == PROTO_UDP) {
    if (off + <u32>UDP_HEADER > avail) return Reason.L4Truncated;
    // A first fragment's UDP length counts the whole datagram, not this fragment.
    const len = be16(p, off + UDP_LENGTH);
    if (len < <u32>UDP_HEADER || (!firstFragment && off + len > end)) return Reason.BadL4Header;
    return ports(p, off, w);
  }
  if (proto == PROTO_SCTP) {
    if (off + <u32>SCTP_HEADER > avail) return Reason.L4Truncated;
    return ports(p, off, w);
  }
  if ((proto == PROTO_ICMP && family == Family.V4) || (proto == PROTO_ICMPV6 && family == Family.V6)) {
    if (off + <u32>ICMP_HEADER > avail) return Reason.L4Truncated;
    store<u16>(w + FK_SPORT, <u16>u8at(p, off));     // type
    store<u16>(w + FK_DPORT, <u16>u8at(p, off + 1)); // code
    store<u8>(w + FK_KIND, <u8>L4Kind.Icmp);
    return 0;
  }
  if (proto == PROTO_ESP) {
    if (off + <u32>ESP_HEADER > avail) return Reason.L4Truncated;
    store<u32>(w + PW_SPI, be32(p, off));
    return 0;
  }
  if (proto == PROTO_AH) {
    if (off + <u32>AH_HEADER > avail) return Reason.L4Truncated;
    // RFC 4302 §2.2: the length is in 32-bit words, minus 2.
    const len = (u8at(p, off + AH_LENGTH) + 2) << 2;
    if (len < <u32>AH_HEADER || off + len > end) return Reason.BadL4Header;
    store<u32>(w + PW_SPI, be32(p, off + AH_SPI));
    return 0;
  }
  return 0;
}

@inline
function ports(p: usize, off: u32, w: usize): u32 {
  store<u16>(w + FK_SPORT, <u16>be16(p, off));
  store<u16>(w + FK_DPORT, <u16>be16(p, off + 2));
  store<u8>(w + FK_KIND, <u8>L4Kind.Ports);
  return 0;
}
