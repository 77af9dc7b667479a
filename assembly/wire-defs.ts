// THE wire constants: IP protocol numbers, header sizes and field offsets, and the
// IPsec ports. Like layout.ts it holds only `export const NAME = <integer>`, the
// subset that AssemblyScript and TypeScript read the same way, so the data plane
// (assembly/packet.ts, inbound.ts) and the host (src/common/protocols.ts, src/wire/,
// src/esp/, src/tun/, src/replay/) use one definition of each number.

// IP protocol numbers (IANA "Assigned Internet Protocol Numbers").
export const PROTO_HOPOPTS = 0;
export const PROTO_ICMP = 1;
export const PROTO_IGMP = 2;
/** IPv4 in IP: ESP tunnel mode's next header for an IPv4 inner packet. */
export const PROTO_IPIP = 4;
export const PROTO_TCP = 6;
export const PROTO_UDP = 17;
/** IPv6 in IP: ESP tunnel mode's next header for an IPv6 inner packet. */
export const PROTO_IPV6 = 41;
export const PROTO_ROUTING = 43;
export const PROTO_FRAGMENT = 44;
export const PROTO_GRE = 47;
export const PROTO_ESP = 50;
export const PROTO_AH = 51;
export const PROTO_ICMPV6 = 58;
export const PROTO_NONE = 59;
export const PROTO_DSTOPTS = 60;
export const PROTO_OSPF = 89;
export const PROTO_SCTP = 132;
export const PROTO_MOBILITY = 135;
export const PROTO_UDPLITE = 136;
export const PROTO_HIP = 139;
export const PROTO_SHIM6 = 140;

// IPv4 header (RFC 791): field offsets and sizes.
export const IPV4_VER_IHL = 0;
export const IPV4_TOTAL_LEN = 2;
export const IPV4_FLAGS_FRAG = 6;
export const IPV4_PROTOCOL = 9;
export const IPV4_SRC = 12;
export const IPV4_DST = 16;
export const IPV4_MIN_HEADER = 20;
export const IPV4_MAX_HEADER = 60;
export const IPV4_FLAG_DF = 0x4000;
export const IPV4_FLAG_MF = 0x2000;
export const IPV4_FRAG_OFFSET_MASK = 0x1fff;

// IPv6 header (RFC 8200) and its fragment header.
export const IPV6_PAYLOAD_LEN = 4;
export const IPV6_NEXT_HEADER = 6;
export const IPV6_SRC = 8;
export const IPV6_DST = 24;
export const IPV6_HEADER = 40;
export const IPV6_FRAG_HEADER = 8;
export const IPV6_FRAG_OFFSET_MASK = 0xfff8;
export const IPV6_FRAG_M = 1;

// Upper-layer headers: the fixed part that must lie inside the datagram.
export const TCP_MIN_HEADER = 20;
export const TCP_DATA_OFFSET = 12;
export const UDP_HEADER = 8;
export const UDP_LENGTH = 4;
export const SCTP_COMMON_HEADER = 12;
/** ICMP type, code and checksum: what the data plane needs (the host's ICMP view checks 8). */
export const ICMP_MIN_HEADER = 4;
/** SPI + sequence number (RFC 4303 §2). */
export const ESP_HEADER = 8;
/** Next header, length, reserved, SPI, sequence number (RFC 4302 §2). */
export const AH_FIXED_HEADER = 12;
export const AH_LENGTH = 1;
export const AH_SPI = 4;

// IPsec ports and markers.
/** IKE (RFC 7296 §2). */
export const IKE_PORT = 500;
/** IKE and ESP in UDP after NAT detection (RFC 3948, RFC 7296 §2.23). */
export const NATT_PORT = 4500;
/** The four zero octets before IKE messages on port 4500 (RFC 3948 §2.2). */
export const NON_ESP_MARKER_LEN = 4;

// IKEv2 header (RFC 7296 §3.1): field offsets and the exchange types replay needs.
export const IKE_HEADER = 28;
export const IKE_INITIATOR_SPI = 0;
export const IKE_RESPONDER_SPI = 8;
export const IKE_NEXT_PAYLOAD = 16;
export const IKE_VERSION = 17;
export const IKE_EXCHANGE_TYPE = 18;
export const IKE_FLAGS = 19;
export const IKE_MESSAGE_ID = 20;
export const IKE_LENGTH = 24;
export const IKE_SA_INIT = 34;
