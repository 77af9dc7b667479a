// A flow described by its addresses, protocol and ports: what matchPolicy() and
// resolveFlow() take, and what wire/build.ts turns into packet bytes. Below both.

/** A flow for matchPolicy(): addresses as strings, protocol as name or number. */
export interface Flow {
  src: string;
  dst: string;
  proto: string | number;
  srcPort?: number;
  dstPort?: number;
  icmpType?: number;
  icmpCode?: number;
  /** A non-first fragment: carries no ports (R5). */
  fragment?: boolean;
}
