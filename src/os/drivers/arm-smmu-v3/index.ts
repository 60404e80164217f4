// The Arm SMMUv3 driver (after Linux's drivers/iommu/arm/arm-smmu-v3): the platform driver, the
// per-instance state registered with the IOMMU core, and what tests and reports look at.

export { armSmmuV3Driver, createArmSmmuV3Driver, ARM_SMMU_V3_COMPATIBLE } from './platform-driver.js';
export { ArmSmmuV3Device, type StaticKind } from './iommu.js';
export { DEFAULT_OPTIONS, type ArmSmmuV3Options } from './options.js';
export { SmmuPagingDomain, allocPagingDomain, pagingOf, S1_INPUT_BITS, type SmmuStage } from './domains.js';
export { SmmuMaster } from './master.js';
export { CommandQueue, type SyncCompletion } from './command-queue.js';
export { InboundQueue } from './inbound-queue.js';
export { QueueRing, CMDQ_REGS, EVENTQ_REGS, PRIQ_REGS } from './queue.js';
export { StreamTable, STRTAB_MAX_L1_ENTRIES } from './stream-table.js';
export { CdTable, CD_L2_ENTRIES, CD_LINEAR_MAX_BITS } from './cd-table.js';
export { probeFeatures, describeFeatures, domainGranule, STRTAB_SPLIT, type SmmuV3Features } from './features.js';
export { decodeEventRecord, formatEvent, type SmmuEvent } from './event-record.js';
export { tlbiRangeCommands, atcInvCommand, CMDQ_MAX_TLBI_OPS, type TlbiRangeRequest } from './invalidation.js';
export { writeEntry, type EntryAccess, type EntryUpdate } from './entry-writer.js';
export { abortSte, bypassSte, cdTableSte, s2Ste, steUsed } from './ste.js';
export { s1Cd, clearCd, cdUsed } from './cd.js';
export { AtsCapability, rootComplexSupportsAts } from './ats.js';
export type { InterruptPlan, MsiSetup } from './interrupts.js';
export type { SmmuV3Stats } from './stats.js';
export { ArmSmmuV3Error } from './errors.js';

import type { IommuInstance } from '../../core/types.js';
import { ArmSmmuV3Device } from './iommu.js';

/** The driver's state behind a registered IOMMU instance, or null for another driver's. */
export function smmuV3Of(instance: IommuInstance | null | undefined): ArmSmmuV3Device | null {
  return instance instanceof ArmSmmuV3Device ? instance : null;
}
