// What the engine reports about itself: counters (stats) and its tables (dump),
// read from linear memory, never kept in the host (docs/design.md §2).

import type { Direction, LarvalSa, Policy, ReasonName, SecurityAssociation, VerdictName } from './types.js';

/** Counters of an engine (engine.stats()): packets and verdicts, drops by reason (R26), flow cache, classifier, resolution, tables. */
export interface EngineStats {
  packets: Record<Direction, number>;
  verdicts: Record<Direction, Record<VerdictName, number>>;
  /** Packets by the reason of their verdict, per direction (non-zero entries only). */
  reasons: Record<Direction, Partial<Record<ReasonName, number>>>;
  /** Packets not sent, by reason, all directions (R26). */
  drops: Partial<Record<ReasonName, number>>;
  flowCache: { hits: number; misses: number; stale: number; revalidated: number; evictions: number; entries: number; capacity: number };
  classifier: { lookups: number; tablesProbed: number; rulesCompared: number };
  saLookups: number;
  /** R7–R10: larval SAs, ACQUIREs and released packets. */
  resolution: {
    larval: number; maxLarval: number; bindings: number; maxBindings: number;
    acquires: number; acquiresDeferred: number; created: number; resolved: number; expired: number; failed: number;
    /** Queued packets decided again when their larval SA ended (not counted in `packets`). */
    released: number;
    pendingEvents: number;
    /** R18: INVALID_SPI events written, and unknown-SPI packets the rate limit kept quiet. */
    invalidSpiEvents: number;
    invalidSpiSuppressed: number;
    /** EXPIRE/DELETED events that neither the ring nor its backlog could hold. */
    eventsLost: number;
  };
  tables: { policies: number; maxPolicies: number; sas: number; maxSAs: number };
  /**
   * The host's key entries (one per ESP SA with keys, docs/design.md §7): made by
   * addSA, freed when the SA goes (removeSA, flushPeer, its DELETED event, or a sweep
   * after lost events). live = installed - freed; issue 17's soak checks it stays bounded.
   */
  keys: { installed: number; freed: number; live: number };
  memoryBytes: number;
}

/** The engine's whole state, read from the data plane (engine.dump()): SPD, SAD, larval SAs. */
export interface EngineDump {
  /** Engine time (ms). */
  time: number;
  /** SPD generation: changes with every policy change (R12). */
  generation: number;
  defaults: Record<Direction, 'bypass' | 'discard'>;
  /** In evaluation order (R1) per direction. */
  policies: Policy[];
  sas: SecurityAssociation[];
  /** Negotiations in progress (R7), oldest first. */
  larval: LarvalSa[];
}
