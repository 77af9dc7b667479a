// Node's engine platform: build/larval.wasm read from disk (engine/wasm.ts) and ESP
// with node:crypto (esp/node-crypto.ts). Importing this module registers it; the
// Node entry points (src/index.ts, src/cli/main.ts) and the test setup do.

import { setEnginePlatform, type EnginePlatform } from './platform.js';
import { loadCompiledEngine } from './wasm.js';
import { nodeEspCrypto } from '../esp/node-crypto.js';

export const nodePlatform: EnginePlatform = { wasm: loadCompiledEngine, esp: nodeEspCrypto };

setEnginePlatform(nodePlatform);
