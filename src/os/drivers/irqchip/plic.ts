// Driver for a RISC-V PLIC (riscv,plic0, sifive,plic-1.0.0): finds the context wired to this
// hart's supervisor external interrupt, and claims/completes sources for their handlers.

import type { DtNode } from '../../../formats/devicetree/tree.js';
import type { Device, Driver, ProbeResult } from '../../driver-model/device.js';
import type { IoMem } from '../../kernel/iomem.js';
import type { IrqDomain, IrqHandler } from '../../kernel/irq.js';
import type { Kernel } from '../../kernel/kernel.js';
import { region } from '../../of/address.js';

/** Interrupt number of the supervisor external interrupt at a hart's interrupt controller. */
const S_EXTERNAL = 9;

class PlicDomain implements IrqDomain {
  readonly name: string;
  private readonly handlers = new Map<number, IrqHandler>();

  constructor(
    readonly node: DtNode,
    private readonly regs: IoMem,
    private readonly context: number,
    private readonly kernel: Kernel,
  ) {
    this.name = `plic@${node.unitAddress ?? '?'}`;
    this.regs.write32(0x200000 + 0x1000 * context, 0); // threshold 0: every priority > 0 passes
  }

  request(specifier: number[], handler: IrqHandler): void {
    const src = specifier[0];
    this.handlers.set(src, handler);
    this.regs.write32(4 * src, 1); // priority 1
    const enable = 0x2000 + 0x80 * this.context + 4 * Math.floor(src / 32);
    this.regs.write32(enable, this.regs.read32(enable) | (1 << (src % 32)));
  }

  dispatch(): void {
    const claim = 0x200004 + 0x1000 * this.context;
    for (;;) {
      const src = this.regs.read32(claim);
      if (src === 0) return;
      const h = this.handlers.get(src);
      if (h !== undefined) h();
      else this.kernel.log.warn(this.name, `spurious interrupt from source ${src}`);
      this.regs.write32(claim, src);
    }
  }
}

export const plicDriver: Driver = {
  name: 'plic',
  compatible: ['riscv,plic0', 'sifive,plic-1.0.0'],
  probe(dev: Device, kernel: Kernel): ProbeResult {
    const node = dev.node as DtNode;
    const r = region(node);
    // The context of this hart's supervisor external interrupt: its position in interrupts-extended.
    const ext = node.u32s('interrupts-extended') ?? [];
    let context = -1;
    for (let i = 0, ctx = 0; i + 1 < ext.length; i += 2, ctx++) {
      if (ext[i + 1] === S_EXTERNAL) {
        context = ctx;
        break;
      }
    }
    if (context < 0) return { error: 'no context for the supervisor external interrupt in interrupts-extended' };
    kernel.irq.registerDomain(new PlicDomain(node, kernel.ioremap(r.base, r.size), context, kernel), true);
    return 'bound';
  },
};
