export { RiscvIommu, type RiscvIommuConfig, type RiscvIommuStatistics, type TranslationRequestInit } from './riscv-iommu.js';
export { resolveParameters, DEFAULT_CAPABILITIES, ParameterError, type RiscvIommuCapabilities, type RiscvIommuOptions, type RiscvIommuParameters, type CacheGeometry } from './parameters.js';
export { TranslationRequest, TranslationResponse, RequestKind, ResponseStatus, type RequestKindValue, type ResponseStatusValue } from './transaction.js';
export { DmaStatus, type DmaStatusValue } from './io-bridge.js';
export * from './pcie-messages.js';
export { RecordingTracer, type WalkTracer, type TracedStructure, type TracedAccess } from './trace.js';
export { RiscvIommuDmaPort, type RiscvIommuDownstream, type RiscvIommuDmaPortCounters } from './dma-port.js';
