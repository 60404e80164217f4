export { SmmuV3, type SmmuV3Config, type SmmuV3Statistics, type SmmuV3CacheStatistics, type SmmuTransactionInit, type PcieRequester } from './smmuv3.js';
export { resolveParameters, idRegisters, DEFAULT_CAPABILITIES, ARCH_MINOR_REVISION, ParameterError, type SmmuV3Capabilities, type SmmuV3Options, type SmmuV3Parameters, type CacheGeometry, type IdRegisters } from './parameters.js';
export { SmmuTransaction, SmmuResult, TransactionKind, Outcome, AtsResult, type TransactionKindValue, type OutcomeValue, type AtsResultValue } from './transaction.js';
export { RecordingTracer, type SmmuV3Tracer, type SmmuTracedStructure, type SmmuTracedFetch, type SmmuTraceEvent } from './trace.js';
export { SmmuV3DmaPort } from './dma-port.js';
export { StreamWorld, STREAM_WORLD_NAMES } from './config.js';
export { TlbRegime } from './tlb.js';
export type { SmmuV3InterruptLines } from './interrupts.js';
