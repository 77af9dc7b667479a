// The page's replay, platform-neutral (no DOM, no `node:`): the engine instantiated
// from the wasm bytes inlined in the page, ESP decided without sealing
// (esp/unsealed.ts), captures read from bytes (io/reader-core.ts) and setkey
// configurations parsed from text (config/setkey.ts) — the same modules the CLI
// runs. Node's tests run it too, to compare it with the CLI byte for byte.

import { instantiate } from '../../build/larval.js';
import { setEnginePlatform, type CompiledEngine, type WasmExports } from '../engine/platform.js';
import { unsealedEspCrypto, unsealed } from '../esp/unsealed.js';
import { readCaptureBytes } from '../io/reader-core.js';
import { parseSetkey } from '../config/setkey-parser.js';
import { policySpec, saSpec } from '../config/setkey-types.js';
import { replayJson, replayPresets, PRESET_NAMES } from '../replay/run.js';
import type { ReplayReport, TracedPacket } from '../replay/replay.js';
import type { PresetName } from '../engine/types.js';

/** Register the page's engine platform: `wasm` (or what gives it, called once) compiled once, unsealed ESP. */
export function usePageEngine(wasm: Uint8Array | (() => Uint8Array)): void {
  let compiled: Promise<CompiledEngine> | undefined;
  setEnginePlatform({
    wasm: () =>
      (compiled ??= WebAssembly.compile((typeof wasm === 'function' ? wasm() : wasm) as Uint8Array<ArrayBuffer>).then((module) => ({
        module,
        instantiate: (m: WebAssembly.Module, imports: Record<string, unknown>) => instantiate(m, imports as never) as Promise<WasmExports>,
      }))),
    esp: unsealedEspCrypto,
  });
}

export interface PageReplayInput {
  capture: Uint8Array;
  /** Names as the CLI prints them (the JSON document names the files). */
  captureName: string;
  configText: string;
  configName: string;
  kmDelay: number;
  msl: number;
  rekeyMs?: number;
  presets?: readonly PresetName[];
  /** Each packet's fate, per preset (the page's details). */
  trace?: (preset: PresetName, p: TracedPacket) => void;
}

export interface PageReplayResult {
  reports: ReplayReport[];
  /** Exactly what `larval replay --json` prints for the same inputs. */
  json: string;
  /** Inbound ESP packets the page could not verify (no synchronous AES in a browser). */
  unverifiedEsp: number;
}

/** Replay a capture (bytes) with a setkey configuration (text) under each preset. */
export async function replayInPage(input: PageReplayInput): Promise<PageReplayResult> {
  const config = parseSetkey(input.configText, input.configName);
  const setup = { policies: config.policies.map(policySpec), sas: config.sas.map(saSpec) };
  const presets = input.presets ?? PRESET_NAMES;
  const before = unsealed.unverified;
  const reports: ReplayReport[] = [];
  for (const preset of presets) {
    const trace = input.trace;
    const [r] = await replayPresets(() => readCaptureBytes(input.capture, input.captureName), setup, [preset], {
      kmDelay: input.kmDelay,
      msl: input.msl,
      ...(input.rekeyMs ? { rekeyMs: input.rekeyMs } : {}),
      ...(trace ? { trace: (p: TracedPacket) => trace(preset, p) } : {}),
    });
    reports.push(r);
  }
  return {
    reports,
    json: replayJson({ capture: input.captureName, config: input.configName, kmDelay: input.kmDelay, msl: input.msl, reports }),
    unverifiedEsp: unsealed.unverified - before,
  };
}

/** Base64 to bytes without Node's Buffer. */
export function fromBase64(text: string): Uint8Array {
  const bin = atob(text);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** What the HTML report embeds (src/cli/html.ts writes it, src/page/app.ts reads it). */
export interface PageData {
  capture: string;
  config: string;
  configText: string;
  /** The capture, base64. */
  captureBase64: string;
  kmDelay: number;
  msl: number;
  rekeyMs?: number;
  presets: PresetName[];
  /** The reports the CLI computed (shown at once; the page re-runs on request). */
  reports: ReplayReport[];
}
