// The Renesas IPMMU-VMSA model: cache IPMMUs with micro-TLBs in front of a root IPMMU-MM that
// holds the context banks, VMSAv8-64 stage-2 (or Gen3 stage-1) tables, TLBs at both levels,
// faults in IMSTR and an interrupt.

export { IpmmuVmsa, IpmmuOutcome, type IpmmuOutcomeValue, type IpmmuVmsaConfig, type IpmmuVmsaStatistics, type IpmmuTranslation, type IpmmuAbortCounters, type IpmmuUtlbCounters } from './ipmmu-vmsa.js';
export { IpmmuDmaPort } from './dma-port.js';
export { resolveIpmmuParameters, DEFAULT_IPMMU_PARAMETERS, IpmmuParameterError, type IpmmuVmsaOptions, type IpmmuVmsaParameters, type UntranslatedPolicy } from './parameters.js';
export { IpmmuRecordingTracer, type IpmmuTracer, type IpmmuTracedDescriptor, type IpmmuTraceEvent } from './trace.js';
export type { IpmmuContextCounters, IpmmuFaultCounters } from './context-bank.js';
export type { IpmmuTlbCounters } from './tlb.js';
