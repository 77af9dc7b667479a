// larval: the public API.
export { createEngine, Engine } from './engine.js';
export type { EngineDump, EngineStats, PacketInput, ResolvedOptions } from './engine.js';
export { Verdicts } from './batch.js';
export { LarvalError } from './errors.js';
export type { ErrorCode } from './errors.js';
export * from './types.js';
