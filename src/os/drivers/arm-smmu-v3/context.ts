// What every unit of the driver shares about one SMMU: its name for the log, the kernel
// services, the mapped register frame (Page 0 and Page 1) and the statistics.

import type { IoMem } from '../../kernel/iomem.js';
import type { Kernel } from '../../kernel/kernel.js';
import type { SmmuV3Stats } from './stats.js';

export interface SmmuContext {
  /** The SMMU's device name, used as the log source. */
  readonly name: string;
  readonly kernel: Kernel;
  /** The 128 KiB register frame: Page 0, and Page 1 at +64 KiB (IHI 0070 6.2). */
  readonly regs: IoMem;
  readonly stats: SmmuV3Stats;
}
