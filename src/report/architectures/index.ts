// One report adapter per IOMMU architecture, chosen by the machine's model.

import type { Kernel } from '../../os/kernel/kernel.js';
import type { MachineIommu } from '../../platform/machine/machine.js';
import type { IommuReport } from '../types.js';
import type { IommuCounters } from './common.js';
import { riscvIommuCounters, riscvIommuReport } from './riscv-iommu.js';
import { smmuV3Counters, smmuV3Report } from './smmuv3.js';

export type { IommuCounters } from './common.js';

export function iommuReport(iommu: MachineIommu, kernel: Kernel | null): IommuReport {
  return iommu.kind === 'smmuv3' ? smmuV3Report(iommu.node.path, iommu.model, kernel) : riscvIommuReport(iommu.node.path, iommu.model, kernel);
}

export function iommuCounters(iommu: MachineIommu, kernel: Kernel): IommuCounters {
  return iommu.kind === 'smmuv3' ? smmuV3Counters(iommu.node.path, iommu.model, kernel) : riscvIommuCounters(iommu.node.path, iommu.model, kernel);
}
