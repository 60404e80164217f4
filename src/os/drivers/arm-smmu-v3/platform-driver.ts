// The SMMUv3 as a platform device (device-tree binding arm,smmu-v3): the 128 KiB register frame
// at `reg` (Page 0 and Page 1), interrupts by `interrupt-names`, `#iommu-cells = <1>` (the
// StreamID), optional `dma-coherent` and `msi-parent`; PCIe host bridges name it in iommu-map.

import type { Device, Driver, ProbeResult } from '../../driver-model/device.js';
import type { Kernel } from '../../kernel/kernel.js';
import { region } from '../../of/address.js';
import { REGISTER_FRAME_SIZE } from '../../../formats/smmuv3/registers.js';
import type { ArmSmmuV3Options } from './options.js';
import { probeArmSmmuV3 } from './probe.js';

export const ARM_SMMU_V3_COMPATIBLE = 'arm,smmu-v3';

/** The platform driver with `options` (Linux's module parameters and domain flags). */
export function createArmSmmuV3Driver(options: ArmSmmuV3Options = {}): Driver {
  return {
    name: 'arm-smmu-v3',
    compatible: [ARM_SMMU_V3_COMPATIBLE],
    probe(dev: Device, kernel: Kernel): ProbeResult {
      const node = dev.node;
      if (node === null) return { error: 'no device-tree node' };
      let regs;
      try {
        const r = region(node);
        if (r.size < BigInt(REGISTER_FRAME_SIZE)) return { error: `MMIO region too small: reg is ${r.size} bytes, the register frame (Page 0 and Page 1) takes ${REGISTER_FRAME_SIZE}` };
        regs = kernel.ioremap(r.base, BigInt(REGISTER_FRAME_SIZE));
      } catch (e) {
        return { error: `could not map the registers: ${(e as Error).message}` };
      }
      return probeArmSmmuV3({ kernel, device: dev, node, regs, options });
    },
  };
}

/** The platform driver with Linux's defaults. */
export const armSmmuV3Driver: Driver = createArmSmmuV3Driver();
