// larval: the public API.
export { createEngine, Engine } from './engine.js';
export type { EngineDump, EngineStats, PacketBuffer, PacketInput, ResolvedOptions } from './engine.js';
export { packetBuffer, Verdicts } from './batch.js';
export { LarvalError } from './errors.js';
export type { ErrorCode } from './errors.js';
export * from './types.js';
export { buildPacket } from './wire/build.js';
export type { BuildOptions } from './wire/build.js';
export { loadClassBench, parseClassBench } from './classbench.js';
export type { ClassBenchOptions } from './classbench.js';
export { generateTrace, randomPolicySet, Rng } from './trace.js';
