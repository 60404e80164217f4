// Driver for a RISC-V IMSIC interrupt file (riscv,imsics): MSIs are writes to its doorbell,
// the kernel hands out interrupt identities, and the hart claims them from its file.

import { phandleSpecifiers } from '../../../formats/devicetree/specifiers.js';
import type { DtNode } from '../../../formats/devicetree/tree.js';
import type { Device, Driver, ProbeResult } from '../../driver-model/device.js';
import type { Kernel } from '../../kernel/kernel.js';
import { region } from '../../of/address.js';

/** The hart's supervisor external interrupt (IRQ_S_EXT). */
const S_EXTERNAL_INTERRUPT = 9;

export const imsicDriver: Driver = {
  name: 'imsic',
  compatible: ['riscv,imsics'],
  probe(dev: Device, kernel: Kernel): ProbeResult {
    const node = dev.node as DtNode;
    const ids = node.u32('riscv,num-ids');
    if (ids === undefined) return { error: 'missing riscv,num-ids' };
    // Only the supervisor-level file (wired to the S-mode external interrupt, 9) is the
    // kernel's; a machine-level file belongs to firmware (Linux fails its probe likewise).
    const ext = phandleSpecifiers(kernel.dt, node, 'interrupts-extended', '#interrupt-cells', (m) => new Error(m));
    if (ext !== undefined && !ext.some((s) => s.args[0] === S_EXTERNAL_INTERRUPT)) {
      return { error: 'not a supervisor-level interrupt file (interrupts-extended names no S-mode external interrupt)' };
    }
    kernel.irq.registerMsiTarget(region(node).base, ids);
    return 'bound';
  },
};
