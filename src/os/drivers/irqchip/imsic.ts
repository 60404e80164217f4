// Driver for a RISC-V IMSIC interrupt file (riscv,imsics): MSIs are writes to its doorbell,
// the kernel hands out interrupt identities, and the hart claims them from its file.

import type { DtNode } from '../../../formats/devicetree/tree.js';
import type { Device, Driver, ProbeResult } from '../../driver-model/device.js';
import type { Kernel } from '../../kernel/kernel.js';
import { region } from '../../of/address.js';

export const imsicDriver: Driver = {
  name: 'imsic',
  compatible: ['riscv,imsics'],
  probe(dev: Device, kernel: Kernel): ProbeResult {
    const node = dev.node as DtNode;
    const ids = node.u32('riscv,num-ids');
    if (ids === undefined) return { error: 'missing riscv,num-ids' };
    kernel.irq.registerMsiTarget(region(node).base, ids);
    return 'bound';
  },
};
