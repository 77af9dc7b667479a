// IKEv2 numbers (RFC 7296 §3, IANA "Internet Key Exchange Version 2 (IKEv2)
// Parameters"). One definition of each; the codec and the exchanges name them.

import { IKE_HEADER, IKE_PORT, NATT_PORT, NON_ESP_MARKER_LEN } from '../../assembly/wire-defs.js';

// Ports, header size and marker are the data plane's (one definition, assembly/wire-defs.ts).
export { IKE_PORT, NATT_PORT };
export const IKE_HEADER_LENGTH = IKE_HEADER;
/** RFC 3948 §2.2: IKE on port 4500 starts with four zero octets (ESP's SPI is never 0). */
export const NON_ESP_MARKER_LENGTH = NON_ESP_MARKER_LEN;
export const IKE_VERSION = 0x20; // major 2, minor 0
export const GENERIC_HEADER_LENGTH = 4;
/** Messages larger than this are dropped (no fragmentation support, RFC 7383). */
export const MAX_MESSAGE = 65535;

export const Exchange = { IKE_SA_INIT: 34, IKE_AUTH: 35, CREATE_CHILD_SA: 36, INFORMATIONAL: 37 } as const;

export const Flag = { INITIATOR: 0x08, VERSION: 0x10, RESPONSE: 0x20 } as const;

export const Payload = {
  NONE: 0, SA: 33, KE: 34, IDi: 35, IDr: 36, CERT: 37, CERTREQ: 38, AUTH: 39, NONCE: 40, NOTIFY: 41,
  DELETE: 42, VENDOR: 43, TSi: 44, TSr: 45, SK: 46, CP: 47, EAP: 48, SKF: 53,
} as const;

export const Protocol = { IKE: 1, AH: 2, ESP: 3 } as const;

export const TransformType = { ENCR: 1, PRF: 2, INTEG: 3, DH: 4, ESN: 5 } as const;
export const Encr = { AES_CBC: 12, AES_GCM_16: 20 } as const;
export const Prf = { HMAC_SHA1: 2, HMAC_SHA2_256: 5, HMAC_SHA2_384: 6, HMAC_SHA2_512: 7 } as const;
export const Integ = { NONE: 0, HMAC_SHA1_96: 2, HMAC_SHA2_256_128: 12, HMAC_SHA2_384_192: 13, HMAC_SHA2_512_256: 14 } as const;
export const DhId = { MODP2048: 14, ECP256: 19, CURVE25519: 31 } as const;
/** Transform attribute "Key Length" in TV format (AF bit set). */
export const ATTR_KEY_LENGTH = 0x800e;

export const IdType = { IPV4_ADDR: 1, FQDN: 2, RFC822_ADDR: 3, IPV6_ADDR: 5, KEY_ID: 11 } as const;
export const AuthMethod = { PSK: 2 } as const;
export const TsType = { IPV4_ADDR_RANGE: 7, IPV6_ADDR_RANGE: 8 } as const;

export const Notify = {
  UNSUPPORTED_CRITICAL_PAYLOAD: 1, INVALID_IKE_SPI: 4, INVALID_MAJOR_VERSION: 5, INVALID_SYNTAX: 7,
  INVALID_MESSAGE_ID: 9, INVALID_SPI: 11, NO_PROPOSAL_CHOSEN: 14, INVALID_KE_PAYLOAD: 17,
  AUTHENTICATION_FAILED: 24, SINGLE_PAIR_REQUIRED: 34, NO_ADDITIONAL_SAS: 35, INTERNAL_ADDRESS_FAILURE: 36,
  FAILED_CP_REQUIRED: 37, TS_UNACCEPTABLE: 38, INVALID_SELECTORS: 39, TEMPORARY_FAILURE: 43, CHILD_SA_NOT_FOUND: 44,
  INITIAL_CONTACT: 16384, SET_WINDOW_SIZE: 16385, ADDITIONAL_TS_POSSIBLE: 16386, IPCOMP_SUPPORTED: 16387,
  NAT_DETECTION_SOURCE_IP: 16388, NAT_DETECTION_DESTINATION_IP: 16389, COOKIE: 16390, USE_TRANSPORT_MODE: 16391,
  REKEY_SA: 16393, ESP_TFC_PADDING_NOT_SUPPORTED: 16394, NON_FIRST_FRAGMENTS_ALSO: 16395,
} as const;

/** Notify types below this are errors (RFC 7296 §3.10.1). */
export const NOTIFY_ERROR_MAX = 16383;

export function notifyName(type: number): string {
  for (const [k, v] of Object.entries(Notify)) if (v === type) return k;
  return `NOTIFY_${type}`;
}
