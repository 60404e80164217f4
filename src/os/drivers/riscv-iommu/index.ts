// The RISC-V IOMMU driver (after Linux's drivers/iommu/riscv): platform and PCI front ends, the
// per-instance state registered with the IOMMU core, and what tests and reports look at.

export { riscvIommuPlatformDriver, choosePlatformInterrupts } from './platform-driver.js';
export { riscvIommuPciDriver, pciFunctionNode, RISCV_IOMMU_PCI_CLASS } from './pci-driver.js';
export { RiscvIommuDevice, IOTLB_INVAL_LIMIT_PAGES, MAX_PSCID, type RiscvDeviceInfo, type ContextTarget } from './iommu.js';
export { RiscvPagingDomain, PAGE_SIZES } from './domains.js';
export { CommandQueue, CQ_LOG2_ENTRIES } from './command-queue.js';
export { createFaultQueue, FQ_LOG2_ENTRIES, type FaultQueue } from './fault-queue.js';
export { InboundQueue, type InboundQueueSpec, type InboundQueueError } from './inbound-queue.js';
export { createPageRequestQueue, decodePageRequest, type PageRequest, type PageRequestQueue } from './page-request-queue.js';
export { DeviceDirectory, type DeviceContextWords } from './directory.js';
export { decodeFaultRecord, formatFaultRecord, type FaultRecord } from './fault-record.js';
export { decodeCapabilities, firstStageMode, type RiscvIommuCaps } from './capabilities.js';
export type { InterruptSetup } from './interrupts.js';
export type { RiscvIommuStats } from './stats.js';
export { RiscvIommuError } from './errors.js';

import type { IommuInstance } from '../../core/types.js';
import { RiscvIommuDevice } from './iommu.js';

/** The driver's state behind a registered IOMMU instance, or null for another driver's. */
export function riscvIommuOf(instance: IommuInstance | null | undefined): RiscvIommuDevice | null {
  return instance instanceof RiscvIommuDevice ? instance : null;
}
