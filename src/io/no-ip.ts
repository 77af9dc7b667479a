// Why a capture record has no IP packet: a code and a detail number per record
// (kept in RecordBatch's typed arrays), turned into text only when asked for.
// Its own module so that the batch (which stores reasons) and the link-layer
// decoders (which produce them) both sit above it.


/** Reason codes (see describeReason). */
export const NoIp = {
  None: 0,
  /** detail: frame length */
  ShortLinkHeader: 1,
  /** detail: ethertype / SLL protocol */
  NotIpEthertype: 2,
  /** detail: 802.3 length field */
  Llc: 3,
  /** detail: address family */
  NotIpFamily: 4,
  /** detail: version nibble found */
  NotIp: 5,
  /** detail: expected version * 16 + version found */
  VersionMismatch: 6,
  /** detail: captured bytes of the IP packet */
  ShortIpHeader: 7,
  /** detail: IHL in bytes */
  BadHeaderLength: 8,
  /** detail: total length */
  TotalLengthBelowHeader: 9,
  /** detail: IP length claimed */
  LengthExceedsFrame: 10,
} as const;

/** The text of a record's reason for having no IP packet; null when it has one. */
export function describeReason(code: number, detail: number): string | null {
  switch (code) {
    case NoIp.None: return null;
    case NoIp.ShortLinkHeader: return `frame of ${detail} bytes is shorter than its link-layer header`;
    case NoIp.NotIpEthertype: return `ethertype 0x${detail.toString(16).padStart(4, '0')} is not IPv4 or IPv6`;
    case NoIp.Llc: return `802.3 frame with length field ${detail} (LLC), not IP`;
    case NoIp.NotIpFamily: return `address family ${detail} is not IPv4 or IPv6`;
    case NoIp.NotIp: return `IP version ${detail} is neither 4 nor 6`;
    case NoIp.VersionMismatch: return `link layer says IPv${detail >> 4} but the packet has IP version ${detail & 15}`;
    case NoIp.ShortIpHeader: return `only ${detail} bytes of the IP header were captured`;
    case NoIp.BadHeaderLength: return `IPv4 header length ${detail} is below 20`;
    case NoIp.TotalLengthBelowHeader: return `IPv4 total length ${detail} is shorter than the IPv4 header`;
    case NoIp.LengthExceedsFrame: return `IP length ${detail} exceeds the frame's length on the wire`;
    default: return `unknown reason ${code}`;
  }
}

