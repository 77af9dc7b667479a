// Every test runs on Node's engine platform (build/larval.wasm, node:crypto ESP),
// as the Node entry points register it (src/engine/platform.ts).
import '../../src/engine/node-platform.js';
