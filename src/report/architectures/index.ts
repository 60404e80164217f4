// One report adapter per IOMMU architecture, chosen by the machine's model.

import type { Kernel } from '../../os/kernel/kernel.js';
import type { MachineIommu } from '../../platform/machine/machine.js';
import type { IommuReport } from '../types.js';
import type { IommuCounters } from './common.js';
import { ipmmuCounters, ipmmuReport } from './ipmmu-vmsa.js';
import { riscvIommuCounters, riscvIommuReport } from './riscv-iommu.js';
import { smmuV3Counters, smmuV3Report } from './smmuv3.js';
import { virtioIommuCounters, virtioIommuReport } from './virtio-iommu.js';

export type { IommuCounters } from './common.js';
export { ipmmuCounters, ipmmuFlushes, ipmmuName } from './ipmmu-vmsa.js';

/** The report of one IOMMU of the machine (`all`: the machine's IOMMUs, which an IPMMU's report names its root among). */
export function iommuReport(iommu: MachineIommu, kernel: Kernel | null, all: readonly MachineIommu[] = [iommu]): IommuReport {
  switch (iommu.kind) {
    case 'riscv-iommu':
      return riscvIommuReport(iommu, kernel);
    case 'smmuv3':
      return smmuV3Report(iommu, kernel);
    case 'virtio-iommu':
      return virtioIommuReport(iommu, kernel);
    case 'ipmmu-vmsa':
      return ipmmuReport(iommu, all.filter((i) => i.kind === 'ipmmu-vmsa'));
  }
}

/** Running totals of one IOMMU. */
export function iommuCounters(iommu: MachineIommu, kernel: Kernel): IommuCounters {
  switch (iommu.kind) {
    case 'riscv-iommu':
      return riscvIommuCounters(iommu, kernel);
    case 'smmuv3':
      return smmuV3Counters(iommu, kernel);
    case 'virtio-iommu':
      return virtioIommuCounters(iommu, kernel);
    case 'ipmmu-vmsa':
      return ipmmuCounters(iommu);
  }
}
