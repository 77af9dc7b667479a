// The IKEv2 configuration as the key manager consumes it: what parseSwanctl() makes
// of a swanctl.conf, and what a library user may build by hand. Names follow
// RFC 7296 / IANA transform names; durations are milliseconds.
//
// These shapes are agreed with the IKE daemon (issue 13): fields may be added
// (optional only), never changed.

import { Secret } from './secret.js';

export { Secret };

export type IkeEncr = { alg: 'aes-gcm-16' | 'aes-cbc'; keyBits: 128 | 192 | 256 };
export type IkeInteg = 'hmac-sha2-256-128' | 'hmac-sha2-384-192' | 'hmac-sha2-512-256' | 'hmac-sha1-96';
export type IkePrf = 'hmac-sha2-256' | 'hmac-sha2-384' | 'hmac-sha2-512' | 'hmac-sha1';
export type DhGroup = 'curve25519' | 'ecp256' | 'modp2048';

/** One IKE proposal (RFC 7296 §3.3): every combination of its transforms is acceptable. AEAD proposals have integ = []. */
export interface IkeProposal { encr: IkeEncr[]; integ: IkeInteg[]; prf: IkePrf[]; dh: DhGroup[] }

/** One ESP proposal. AEAD proposals have integ = []. dh = [] means no PFS on rekey. */
export interface EspProposal { encr: IkeEncr[]; integ: IkeInteg[]; dh: DhGroup[] /* empty = no PFS */; esn: boolean }

/** A traffic selector: an address prefix, optionally one protocol and a port range (RFC 7296 §3.13.1). */
export interface TrafficSelectorConfig { prefix: string; prefixLength: number; protocol?: number; portLow?: number; portHigh?: number }

export interface ChildConfig {
  name: string;
  localTs: TrafficSelectorConfig[];
  remoteTs: TrafficSelectorConfig[];
  espProposals: EspProposal[];
  mode: 'tunnel';
  startAction: 'none' | 'trap' | 'start';
  rekeyTimeMs: number;
  lifeTimeMs: number;
}

export interface IkeConnectionConfig {
  name: string;
  version: 2;
  localAddrs: string[];
  remoteAddrs: string[];
  localPort: number;
  remotePort: number;
  proposals: IkeProposal[];
  encap: boolean;
  dpdDelayMs: number;
  rekeyTimeMs: number;
  local: { auth: 'psk'; id: string };
  remote: { auth: 'psk'; id: string };
  children: ChildConfig[];
}

/** A shared secret and the identities it applies to (swanctl `secrets { ike-X { id-N, secret } }`). */
export interface IkeSecret { ids: string[]; secret: Secret }

export interface SwanctlConfig { connections: IkeConnectionConfig[]; secrets: IkeSecret[] }
