// What the engine needs from the platform it runs on (issue 18): the compiled data
// plane and the ESP stage's cryptography. The engine imports no `node:` module;
// Node's platform (engine/node-platform.ts: build/larval.wasm from disk, node:crypto
// ESP) is registered by the Node entry points (src/index.ts, the CLI, the test
// setup), and the page registers its own (src/page/, the wasm inlined, unsealed ESP).

import { LarvalError } from '../common/errors.js';
import type { EspCrypto } from '../esp/crypto.js';

/** The data plane's exports (its raw bindings). @internal */
export type WasmExports = Awaited<ReturnType<typeof import('../../build/larval.js').instantiate>>;

/**
 * The data plane, compiled (a WebAssembly.Module), and the compiler's raw bindings
 * that instantiate it. Typed loosely on purpose: the public types must compile
 * without the WebAssembly lib and without build/larval.js's declarations.
 */
export interface CompiledEngine {
  module: object;
  instantiate(module: never, imports: Record<string, unknown>): Promise<object>;
}

/** What an engine needs from where it runs: the compiled data plane and ESP crypto (Node: registered by `import 'larval'`; a browser page registers its own). */
export interface EnginePlatform {
  /** The compiled module; called once per engine (cache inside). */
  wasm(): Promise<CompiledEngine>;
  esp: EspCrypto;
}

let current: EnginePlatform | null = null;

/** Use `platform` for engines created from now on. */
export function setEnginePlatform(platform: EnginePlatform): void {
  current = platform;
}

/** The platform registered with setEnginePlatform(). @internal */
export function enginePlatform(): EnginePlatform {
  if (current === null) {
    throw new LarvalError('EBUILD', 'no engine platform: import larval (the Node entry registers build/larval.wasm and node:crypto) or call setEnginePlatform()');
  }
  return current;
}

/** A new instance of the data plane and the ESP adapter to go with it. @internal */
export async function instantiateEngine(): Promise<{ x: WasmExports; esp: EspCrypto }> {
  const p = enginePlatform();
  const { module, instantiate } = await p.wasm();
  return { x: (await instantiate(module as never, {})) as WasmExports, esp: p.esp };
}
