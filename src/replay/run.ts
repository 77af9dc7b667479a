// Replay under several presets and the JSON document of the reports: shared by the
// CLI (src/cli/replay.ts) and the page (src/page/), so that both give the same bytes.

import { replay, type CaptureBatch, type ReplayOptions, type ReplayReport, type ReplaySetup } from './replay.js';
import type { PresetName } from '../engine/types.js';

export const PRESET_NAMES: readonly PresetName[] = ['larval', 'linux', 'bsd-2000'];

export interface ReplayDocument {
  capture: string;
  config: string;
  kmDelay: number;
  msl: number;
  /** --acquire-timeout, when given (the CLI only). */
  acquireTimeout?: number;
  /** The warning about a capture cut short, when it was (the CLI only). */
  truncation?: string;
  reports: ReplayReport[];
}

/** `larval replay --json`'s output. */
export function replayJson(doc: ReplayDocument): string {
  const { capture, config, kmDelay, msl, acquireTimeout, truncation, reports } = doc;
  return JSON.stringify({ capture, config, kmDelay, msl, ...(acquireTimeout !== undefined ? { acquireTimeout } : {}), ...(truncation ? { truncation } : {}), reports }, null, 2) + '\n';
}

/** Each preset in turn on the batches `open()` gives anew. */
export async function replayPresets(
  open: () => Iterable<CaptureBatch> | AsyncIterable<CaptureBatch>,
  setup: ReplaySetup,
  presets: readonly PresetName[],
  options: Omit<ReplayOptions, 'preset'>,
): Promise<ReplayReport[]> {
  const reports: ReplayReport[] = [];
  for (const preset of presets) reports.push(await replay(open(), setup, { ...options, preset }));
  return reports;
}
