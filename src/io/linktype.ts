// Link-layer types and the decoding of a captured frame down to its IP packet.
//
// Link types are the LINKTYPE_* values of the pcap and pcapng formats
// (https://www.tcpdump.org/linktypes.html). Supported:
//
//   0   NULL        4-byte address family in the writer's host byte order
//   1   ETHERNET    with any stack of 802.1Q (0x8100) / 802.1ad (0x88a8, 0x9100) tags
//   12, 14          DLT_RAW as written by some systems (OpenBSD); mapped to RAW as libpcap does
//   101 RAW         IPv4 or IPv6, told apart by the version nibble
//   108 LOOP        4-byte address family in network byte order
//   113 LINUX_SLL   Linux "cooked" capture, 16-byte header
//   228 IPV4
//   229 IPV6
//   276 LINUX_SLL2  Linux "cooked" capture v2, 20-byte header
//
// A frame whose payload is not IP (ARP, LLC, an unknown address family, an IP
// header that is cut short or contradicts its link layer, ...) is not an error:
// the record is delivered with no IP packet and a reason (see describeReason).
//
// The IP packet is checked only as far as needed to delimit it: version,
// fixed header present, IPv4 header length, and the total length (IPv4) or
// payload length (IPv6), which also trims Ethernet padding and trailing FCS.

import type { RecordBatch } from './batch.js';
import { NoIp } from './no-ip.js';

export const LINKTYPE_NULL = 0;
export const LINKTYPE_ETHERNET = 1;
export const LINKTYPE_RAW = 101;
export const LINKTYPE_LOOP = 108;
export const LINKTYPE_LINUX_SLL = 113;
export const LINKTYPE_IPV4 = 228;
export const LINKTYPE_IPV6 = 229;
export const LINKTYPE_LINUX_SLL2 = 276;
/** DLT_RAW as found in the link-type field of files from some systems. */
export const DLT_RAW_12 = 12;
export const DLT_RAW_14 = 14;

/** Decoder selector for a link type (plain numbers: they are switched on per packet). */
export type LinkKind = number;
export const KIND_UNSUPPORTED = 0;
const KIND_ETHERNET = 1;
const KIND_RAW = 2;
const KIND_IPV4 = 3;
const KIND_IPV6 = 4;
const KIND_SLL = 5;
const KIND_SLL2 = 6;
const KIND_NULL = 7;
const KIND_LOOP = 8;

const KINDS = new Map<number, LinkKind>([
  [LINKTYPE_NULL, KIND_NULL],
  [LINKTYPE_ETHERNET, KIND_ETHERNET],
  [DLT_RAW_12, KIND_RAW],
  [DLT_RAW_14, KIND_RAW],
  [LINKTYPE_RAW, KIND_RAW],
  [LINKTYPE_LOOP, KIND_LOOP],
  [LINKTYPE_LINUX_SLL, KIND_SLL],
  [LINKTYPE_IPV4, KIND_IPV4],
  [LINKTYPE_IPV6, KIND_IPV6],
  [LINKTYPE_LINUX_SLL2, KIND_SLL2],
]);

/** The decoder for a link type, or KIND_UNSUPPORTED. */
export function linkKind(linkType: number): LinkKind {
  return KINDS.get(linkType) ?? KIND_UNSUPPORTED;
}

/** Whether larval can decode frames of this link type. */
export function isSupportedLinkType(linkType: number): boolean {
  return linkKind(linkType) !== KIND_UNSUPPORTED;
}

const NAMES: Record<number, string> = {
  0: 'NULL', 1: 'ETHERNET', 3: 'AX25', 6: 'IEEE802_5', 7: 'ARCNET_BSD', 8: 'SLIP', 9: 'PPP', 10: 'FDDI',
  12: 'RAW (DLT_RAW)', 14: 'RAW (DLT_RAW, OpenBSD)',
  50: 'PPP_HDLC', 51: 'PPP_ETHER', 100: 'ATM_RFC1483', 101: 'RAW', 104: 'C_HDLC', 105: 'IEEE802_11',
  107: 'FRELAY', 108: 'LOOP', 113: 'LINUX_SLL', 114: 'LTALK', 117: 'PFLOG', 119: 'IEEE802_11_PRISM',
  122: 'IP_OVER_FC', 123: 'SUNATM', 127: 'IEEE802_11_RADIOTAP', 129: 'ARCNET_LINUX', 138: 'APPLE_IP_OVER_IEEE1394',
  139: 'MTP2_WITH_PHDR', 140: 'MTP2', 141: 'MTP3', 142: 'SCCP', 143: 'DOCSIS', 144: 'LINUX_IRDA',
  163: 'IEEE802_11_AVS', 165: 'BACNET_MS_TP', 166: 'PPP_PPPD', 169: 'GPRS_LLC', 177: 'LINUX_LAPD',
  187: 'BLUETOOTH_HCI_H4', 189: 'USB_LINUX', 192: 'PPI', 195: 'IEEE802_15_4_WITHFCS', 196: 'SITA',
  197: 'ERF', 201: 'BLUETOOTH_HCI_H4_WITH_PHDR', 202: 'AX25_KISS', 203: 'LAPD', 204: 'PPP_WITH_DIR',
  209: 'IPMB_LINUX', 215: 'IEEE802_15_4_NONASK_PHY', 220: 'USB_LINUX_MMAPPED', 224: 'FC_2',
  227: 'CAN_SOCKETCAN', 230: 'IEEE802_15_4_NOFCS', 231: 'DBUS', 235: 'DVB_CI', 239: 'NFLOG',
  240: 'NETANALYZER', 247: 'INFINIBAND', 248: 'SCTP', 249: 'USBPCAP', 251: 'BLUETOOTH_LE_LL',
  253: 'NETLINK', 254: 'BLUETOOTH_LINUX_MONITOR', 256: 'BLUETOOTH_LE_LL_WITH_PHDR', 258: 'EPON',
  263: 'WATTSTOPPER_DLM', 264: 'ISO_14443', 266: 'DISPLAYPORT_AUX', 270: 'NORDIC_BLE',
  274: 'USB_DARWIN', 279: 'ZWAVE_R1_R2', 281: 'ETW', 283: 'ZBOSS_NCP', 288: 'AUERSWALD_LOG',
};
for (let i = 0; i <= 15; i++) NAMES[147 + i] = `USER${i}`;

/** "160 (USER13)", "1 (ETHERNET)", or just the number when it has no known name. */
export function linkTypeName(linkType: number): string {
  const name = NAMES[linkType];
  return name === undefined ? String(linkType) : `${linkType} (${name})`;
}

/** The supported link types, for error messages. */
export const SUPPORTED_LINK_TYPES =
  '0 NULL, 1 ETHERNET, 12/14 DLT_RAW, 101 RAW, 108 LOOP, 113 LINUX_SLL, 228 IPV4, 229 IPV6, 276 LINUX_SLL2';

/** The reason text of an unsupported link type. */
export function unsupportedLinkType(linkType: number): string {
  return `link type ${linkTypeName(linkType)} is not supported (supported: ${SUPPORTED_LINK_TYPES})`;
}


const ETH_IPV4 = 0x0800;
const ETH_IPV6 = 0x86dd;
const ETH_8021Q = 0x8100;
const ETH_8021AD = 0x88a8;
const ETH_QINQ_OLD = 0x9100;

function noIp(b: RecordBatch, n: number, code: number, detail: number): void {
  b.ipOffset[n] = -1;
  b.ipLength[n] = 0;
  b.ipWireLength[n] = 0;
  b.reasonCode[n] = code;
  b.reasonDetail[n] = detail;
}

/**
 * Decodes the frame at buf[off, off + caplen) (wire: its length on the wire) and
 * fills record n's IP fields in the batch.
 */
export function decodeLink(b: RecordBatch, n: number, buf: Uint8Array, off: number, caplen: number, wire: number, kind: LinkKind): void {
  switch (kind) {
    case KIND_RAW:
      ipPacket(b, n, buf, off, caplen, wire, 0);
      return;
    case KIND_ETHERNET: {
      if (caplen < 14) return noIp(b, n, NoIp.ShortLinkHeader, caplen);
      return ethertype(b, n, buf, off, caplen, wire, 12);
    }
    case KIND_IPV4:
      ipPacket(b, n, buf, off, caplen, wire, 4);
      return;
    case KIND_IPV6:
      ipPacket(b, n, buf, off, caplen, wire, 6);
      return;
    case KIND_SLL:
      if (caplen < 16) return noIp(b, n, NoIp.ShortLinkHeader, caplen);
      return ethertype(b, n, buf, off, caplen, wire, 14);
    case KIND_SLL2: {
      if (caplen < 20) return noIp(b, n, NoIp.ShortLinkHeader, caplen);
      const proto = (buf[off]! << 8) | buf[off + 1]!;
      return afterEthertype(b, n, buf, off, caplen, wire, proto, 20);
    }
    case KIND_NULL:
    case KIND_LOOP: {
      if (caplen < 4) return noIp(b, n, NoIp.ShortLinkHeader, caplen);
      let af: number;
      if (kind === KIND_LOOP) {
        af = ((buf[off]! << 24) | (buf[off + 1]! << 16) | (buf[off + 2]! << 8) | buf[off + 3]!) >>> 0;
      } else {
        // Host byte order of the machine that wrote the file, which need not be the
        // file's: a family is a small number, so the half that is non-zero tells.
        af = (buf[off]! | (buf[off + 1]! << 8) | (buf[off + 2]! << 16) | (buf[off + 3]! << 24)) >>> 0;
        if ((af & 0xffff) === 0) af = ((buf[off]! << 24) | (buf[off + 1]! << 16) | (buf[off + 2]! << 8) | buf[off + 3]!) >>> 0;
      }
      if (af === 2) return ipPacket(b, n, buf, off + 4, caplen - 4, wire - 4, 4);
      if (af === 24 || af === 28 || af === 30) return ipPacket(b, n, buf, off + 4, caplen - 4, wire - 4, 6);
      return noIp(b, n, NoIp.NotIpFamily, af);
    }
    default:
      // Unsupported link types are refused before any record reaches here.
      return noIp(b, n, NoIp.NotIp, 0);
  }
}

/** Reads the ethertype at off + at, skipping VLAN tags. */
function ethertype(b: RecordBatch, n: number, buf: Uint8Array, off: number, caplen: number, wire: number, at: number): void {
  const proto = (buf[off + at]! << 8) | buf[off + at + 1]!;
  afterEthertype(b, n, buf, off, caplen, wire, proto, at + 2);
}

function afterEthertype(b: RecordBatch, n: number, buf: Uint8Array, off: number, caplen: number, wire: number, proto: number, hdr: number): void {
  while (proto === ETH_8021Q || proto === ETH_8021AD || proto === ETH_QINQ_OLD) {
    if (hdr + 4 > caplen) return noIp(b, n, NoIp.ShortLinkHeader, caplen);
    proto = (buf[off + hdr + 2]! << 8) | buf[off + hdr + 3]!;
    hdr += 4;
  }
  if (proto === ETH_IPV4) return ipPacket(b, n, buf, off + hdr, caplen - hdr, wire - hdr, 4);
  if (proto === ETH_IPV6) return ipPacket(b, n, buf, off + hdr, caplen - hdr, wire - hdr, 6);
  if (proto <= 1500) return noIp(b, n, NoIp.Llc, proto);
  return noIp(b, n, NoIp.NotIpEthertype, proto);
}

/**
 * Delimits the IP packet at buf[off, off + cap) whose length on the wire is at
 * most wire; expect is the version the link layer announced (0: either).
 */
function ipPacket(b: RecordBatch, n: number, buf: Uint8Array, off: number, cap: number, wire: number, expect: number): void {
  if (cap < 1) return noIp(b, n, NoIp.ShortIpHeader, cap);
  const v0 = buf[off]!;
  const version = v0 >> 4;
  if (expect !== 0 && version !== expect) return noIp(b, n, NoIp.VersionMismatch, expect * 16 + version);
  let length: number;
  if (version === 4) {
    if (cap < 20) return noIp(b, n, NoIp.ShortIpHeader, cap);
    const ihl = (v0 & 15) * 4;
    if (ihl < 20) return noIp(b, n, NoIp.BadHeaderLength, ihl);
    length = (buf[off + 2]! << 8) | buf[off + 3]!;
    if (length < ihl) return noIp(b, n, NoIp.TotalLengthBelowHeader, length);
  } else if (version === 6) {
    if (cap < 40) return noIp(b, n, NoIp.ShortIpHeader, cap);
    const payload = (buf[off + 4]! << 8) | buf[off + 5]!;
    // Payload length 0: a jumbogram (RFC 2675) or a segmentation-offload capture; take the frame.
    length = payload === 0 ? wire : 40 + payload;
  } else {
    return noIp(b, n, NoIp.NotIp, version);
  }
  if (length > wire) return noIp(b, n, NoIp.LengthExceedsFrame, length);
  b.ipOffset[n] = off;
  b.ipLength[n] = length < cap ? length : cap;
  b.ipWireLength[n] = length;
  b.reasonCode[n] = NoIp.None;
  b.reasonDetail[n] = 0;
}
