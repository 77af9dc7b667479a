// Engine options: the defaults, the presets that reproduce legacy kernels' resolution
// behaviour (docs/design.md §9), and their validation into ResolvedOptions.

import * as L from '../../assembly/layout.js';
import { invalid } from '../common/errors.js';
import type { AcquireResend, Direction, EngineOptions, PresetName, SaSelectionMode, UnresolvedMode } from './types.js';
import { direction, integer, oneOf } from './validate.js';

/** The engine's options after defaults and the preset are applied (engine.options). */
export interface ResolvedOptions {
  maxPolicies: number;
  maxSAs: number;
  flowCacheSize: number;
  batchSize: number;
  arenaBytes: number;
  maxClassifierTables: number;
  saSelection: SaSelectionMode;
  defaultAction: Record<Direction, 'bypass' | 'discard'>;
  preset: PresetName;
  unresolved: UnresolvedMode;
  acquireResend: AcquireResend;
  acquireTimeout: number;
  maxLarval: number;
  maxBindings: number;
  eventRingSize: number;
  replayWindow: number;
  invalidSpiRate: number;
  msl: number;
  saSwitch: 'drain' | 'delete';
}

/** The resolution knobs each preset sets (docs/design.md §9); explicit options override them. */
export const PRESETS: Readonly<Record<PresetName, Pick<ResolvedOptions, 'saSelection' | 'unresolved' | 'acquireResend' | 'acquireTimeout' | 'saSwitch'>>> = {
  // R6–R10, R15 as specified.
  larval: { saSelection: 'newest', unresolved: 'queue', acquireResend: 'never', acquireTimeout: 30_000, saSwitch: 'drain' },
  // Linux xfrm: newest SA, larval drop (the sender is told success), one ACQUIRE per
  // larval state, which lives XFRM_ACQ_EXPIRES = 30 s; an expired SA is deleted at once.
  linux: { saSelection: 'newest', unresolved: 'drop', acquireResend: 'never', acquireTimeout: 30_000, saSwitch: 'delete' },
  // KAME 2000: key_allocsa prefers the oldest SA; no queue; an ACQUIRE again after
  // key_blockacq_count = 10 blocked packets; acquire entries live key_blockacq_lifetime = 20 s.
  'bsd-2000': { saSelection: 'oldest', unresolved: 'drop', acquireResend: { everyPackets: 10 }, acquireTimeout: 20_000, saSwitch: 'delete' },
};

const KIB = 1024;
const DEFAULTS: ResolvedOptions = {
  maxPolicies: 16384,
  maxSAs: 16384,
  flowCacheSize: 65536,
  batchSize: 256,
  arenaBytes: 1024 * KIB,
  maxClassifierTables: 4096,
  defaultAction: { out: 'bypass', in: 'bypass', fwd: 'bypass' },
  preset: 'larval',
  ...PRESETS.larval,
  maxLarval: 4096,
  maxBindings: 16384,
  eventRingSize: 1024,
  replayWindow: 128,
  invalidSpiRate: 100,
  msl: 30_000,
};
const OPTION_FIELDS = Object.keys(DEFAULTS);

export function resolveOptions(options: unknown): ResolvedOptions {
  if (options === undefined) options = {};
  if (typeof options !== 'object' || options === null) throw invalid('options', options, 'expected an object');
  const o = options as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    if (!OPTION_FIELDS.includes(k)) throw invalid(`options.${k}`, o[k], `unknown option (known: ${OPTION_FIELDS.join(', ')})`);
  }
  const num = (k: keyof ResolvedOptions, lo: number, hi: number): number =>
    o[k] === undefined ? (DEFAULTS[k] as number) : integer(o[k], `options.${k}`, lo, hi);
  const cache = num('flowCacheSize', 16, 1 << 26);
  const defaults = { ...DEFAULTS.defaultAction };
  if (o.defaultAction !== undefined) {
    if (typeof o.defaultAction !== 'object' || o.defaultAction === null) throw invalid('options.defaultAction', o.defaultAction, 'expected { out?, in?, fwd? }');
    for (const [k, v] of Object.entries(o.defaultAction)) {
      const dir = direction(k, 'options.defaultAction');
      defaults[dir] = oneOf(v, ['bypass', 'discard'] as const, `options.defaultAction.${k}`);
    }
  }
  const preset = o.preset === undefined ? DEFAULTS.preset : oneOf(o.preset, Object.keys(PRESETS) as PresetName[], 'options.preset');
  const knobs = PRESETS[preset];
  let acquireResend: AcquireResend = knobs.acquireResend;
  if (o.acquireResend !== undefined) {
    const r = o.acquireResend as unknown;
    if (r === 'never') acquireResend = 'never';
    else if (typeof r === 'object' && r !== null && Object.keys(r).length === 1 && 'everyPackets' in r) {
      acquireResend = { everyPackets: integer((r as { everyPackets: unknown }).everyPackets, 'options.acquireResend.everyPackets', 1, 0xffffffff) };
    } else throw invalid('options.acquireResend', o.acquireResend, "expected 'never' or { everyPackets: n }");
  }
  const ring = num('eventRingSize', 1, L.MAX_EVENT_RING);
  if ((ring & (ring - 1)) !== 0) throw invalid('options.eventRingSize', ring, 'expected a power of two');
  return {
    preset,
    unresolved: o.unresolved === undefined ? knobs.unresolved : oneOf(o.unresolved, ['queue', 'drop', 'eagain'] as const, 'options.unresolved'),
    acquireResend,
    acquireTimeout: o.acquireTimeout === undefined ? knobs.acquireTimeout : integer(o.acquireTimeout, 'options.acquireTimeout', 1, 0xffffffff),
    maxLarval: num('maxLarval', 1, 1 << 22),
    maxBindings: num('maxBindings', 1, 1 << 24),
    eventRingSize: ring,
    replayWindow: replayWindowOption(o.replayWindow),
    invalidSpiRate: num('invalidSpiRate', 0, 1 << 20),
    msl: num('msl', 0, 0x7fffffff),
    saSwitch: o.saSwitch === undefined ? knobs.saSwitch : oneOf(o.saSwitch, ['drain', 'delete'] as const, 'options.saSwitch'),
    maxPolicies: num('maxPolicies', 1, 1 << 24),
    maxSAs: num('maxSAs', 1, 1 << 24),
    flowCacheSize: 2 ** Math.ceil(Math.log2(cache)),
    batchSize: num('batchSize', 1, 65536),
    arenaBytes: num('arenaBytes', L.MAX_PACKET_BYTES, 1 << 30),
    maxClassifierTables: num('maxClassifierTables', 1, 1 << 16),
    saSelection: o.saSelection === undefined ? knobs.saSelection : oneOf(o.saSelection, ['newest', 'oldest'] as const, 'options.saSelection'),
    defaultAction: defaults,
  };
}

function replayWindowOption(v: unknown): number {
  if (v === undefined) return DEFAULTS.replayWindow;
  const w = integer(v, 'options.replayWindow', 32, L.MAX_REPLAY_WINDOW);
  if (w % 32 !== 0) throw invalid('options.replayWindow', v, 'expected a multiple of 32');
  return w;
}
