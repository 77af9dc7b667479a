// What a setkey(8) file parses into (Config and its entries, each with the line
// and column it came from), and the conversions to what the engine takes.

import { formatPrefix } from '../common/addr.js';
import type { Engine } from '../engine/engine.js';
import type { EncryptionAlgorithm, IntegrityAlgorithm } from '../esp/algorithms.js';
import type { PolicySpec, SaSpec } from '../engine/types.js';
import type { NormalizedPolicy } from '../engine/validate.js';
import type { ConfigPosition } from './config-error.js';

export interface ConfigPolicy extends PolicySpec, ConfigPosition {}

/** An SA of an add/update statement; keys as bytes. */
export interface ConfigSa extends SaSpec, ConfigPosition {
  encryption?: { algorithm: EncryptionAlgorithm; key: Uint8Array };
  integrity?: { algorithm: IntegrityAlgorithm; key: Uint8Array };
  /** setkey -r: the replay window as written. Not applied: the window is the engine option `replayWindow`. */
  replay?: number;
  /** setkey -f zero-pad|random-pad|seq-pad. Not applied: larval pads as RFC 4303 §2.4 says. */
  pad?: 'zero-pad' | 'random-pad' | 'seq-pad';
  /** setkey -f nocyclic-seq. larval never cycles sequence numbers anyway (R13). */
  noCyclicSeq?: boolean;
}

/** What spddelete names: a selector and a direction. */
export type ConfigSelector = Omit<PolicySpec, 'action' | 'template' | 'priority'> & ConfigPosition;

export type ConfigOperation =
  | ({ op: 'add' | 'update'; sa: ConfigSa } & ConfigPosition)
  | ({ op: 'delete'; proto: 'esp' | 'ah'; src: string; dst: string; spi: number } & ConfigPosition)
  | ({ op: 'deleteall'; proto: 'esp' | 'ah'; src: string; dst: string } & ConfigPosition)
  | ({ op: 'flush'; proto?: 'esp' | 'ah' } & ConfigPosition)
  | ({ op: 'spdadd' | 'spdupdate'; policy: ConfigPolicy } & ConfigPosition)
  | ({ op: 'spddelete'; selector: ConfigSelector } & ConfigPosition)
  | ({ op: 'spdflush' } & ConfigPosition);

export interface Config {
  file?: string;
  /** The policies the file leaves installed on an empty engine, in install order. */
  policies: ConfigPolicy[];
  /** The SAs the file leaves installed on an empty engine, in install order. */
  sas: ConfigSa[];
  /** Every statement, in file order. */
  operations: ConfigOperation[];
}

/** The part of an Engine that applyConfig uses. */
export type ConfigTarget = Pick<Engine, 'addPolicy' | 'removePolicy' | 'addSA' | 'removeSA' | 'dump'>;

// ---------------------------------------------------------------------------
// Conversions

/** The SaSpec the engine takes (without the config's own fields). */
export function saSpec(sa: ConfigSa): SaSpec {
  const { line: _l, column: _c, replay: _r, pad: _p, noCyclicSeq: _n, ...spec } = sa;
  return spec;
}

/** The PolicySpec the engine takes (without line and column). */
export function policySpec(p: ConfigPolicy): PolicySpec {
  const { line: _l, column: _c, ...spec } = p;
  return spec;
}

export function rangeKey(r: [number, number] | null | undefined): string {
  return r ? `${r[0]}-${r[1]}` : '*';
}

export function selectorKey(n: NormalizedPolicy): string {
  return [
    n.dir, formatPrefix(n.family, n.src.words, n.src.len), formatPrefix(n.family, n.dst.words, n.dst.len), n.proto ?? 'any',
    rangeKey(n.ports?.src), rangeKey(n.ports?.dst), rangeKey(n.icmp?.type), rangeKey(n.icmp?.code),
  ].join('|');
}

export function dumpedSelectorKey(p: ReturnType<ConfigTarget['dump']>['policies'][number]): string {
  return [p.dir, p.src, p.dst, p.proto ?? 'any', rangeKey(p.srcPort), rangeKey(p.dstPort), rangeKey(p.icmpType), rangeKey(p.icmpCode)].join('|');
}
