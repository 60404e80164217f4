// What every unit of the driver shares about one IOMMU instance: its name for the log, the
// kernel services, the mapped register page and the statistics.

import type { IoMem } from '../../kernel/iomem.js';
import type { Kernel } from '../../kernel/kernel.js';
import type { RiscvIommuStats } from './stats.js';

export interface IommuContext {
  /** The IOMMU's device name, used as the log source. */
  readonly name: string;
  readonly kernel: Kernel;
  /** The 4 KiB register page. */
  readonly regs: IoMem;
  readonly stats: RiscvIommuStats;
}
