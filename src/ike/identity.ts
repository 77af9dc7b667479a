// Identities (RFC 7296 §3.5) as swanctl writes them, and the PSK lookup.

import { isIPv4 } from 'node:net';
import type { IkeConnectionConfig, IkeSecret } from './config-types.js';
import { IdType } from './constants.js';

export interface IdRepr { idType: number; data: Buffer }

/** swanctl's forms: an IPv4 literal, `@#hex` (KEY_ID), `@fqdn`, `user@fqdn`, else FQDN. */
export function encodeId(id: string): IdRepr {
  if (isIPv4(id)) return { idType: IdType.IPV4_ADDR, data: Buffer.from(id.split('.').map(Number)) };
  if (id.startsWith('@#')) return { idType: IdType.KEY_ID, data: Buffer.from(id.slice(2), 'hex') };
  if (id.startsWith('@')) return { idType: IdType.FQDN, data: Buffer.from(id.slice(1)) };
  if (id.includes('@')) return { idType: IdType.RFC822_ADDR, data: Buffer.from(id) };
  return { idType: IdType.FQDN, data: Buffer.from(id) };
}

export function sameId(a: IdRepr, b: IdRepr): boolean {
  return a.idType === b.idType && a.data.equals(b.data);
}

/** The ID payload body (type, 3 reserved octets, data): what AUTH's MACedID covers. */
export function idBody(id: IdRepr): Buffer {
  return Buffer.concat([Buffer.from([id.idType, 0, 0, 0]), id.data]);
}

/** The secret for a connection: the entry naming both IDs, else one, else an entry without IDs. */
export function findPsk(secrets: readonly IkeSecret[], conn: IkeConnectionConfig): Buffer | null {
  let best: IkeSecret | null = null;
  let score = -1;
  for (const s of secrets) {
    const n = (s.ids.includes(conn.local.id) ? 1 : 0) + (s.ids.includes(conn.remote.id) ? 2 : 0);
    const sc = s.ids.length === 0 ? 0 : n === 0 ? -1 : n;
    if (sc > score) {
      best = s;
      score = sc;
    }
  }
  return best && score >= 0 ? Buffer.from(best.secret.bytes()) : null;
}
