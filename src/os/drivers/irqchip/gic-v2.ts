// Driver for a GICv2 (arm,gic-400, arm,cortex-a15-gic, arm,cortex-a7-gic; after Linux
// drivers/irqchip/irq-gic.c): finds this CPU's interface mask, resets the Distributor with
// every SPI level-sensitive at the default priority and targeting this CPU, opens the CPU
// interface, and takes interrupts through GICC_IAR / GICC_EOIR. Interrupts stay in Group 0,
// which a GIC without the Security Extensions signals as IRQ.

import type { DtNode } from '../../../formats/devicetree/tree.js';
import { hex } from '../../../sim/u64.js';
import type { Device, Driver, ProbeResult } from '../../driver-model/device.js';
import type { IoMem } from '../../kernel/iomem.js';
import type { Kernel } from '../../kernel/kernel.js';
import { regions } from '../../of/address.js';
import { GIC_PRIORITY_MASK, GICD_REG, GicDomain, gicInterruptLines, GicInterruptRegisters, type GicController } from './gic-common.js';

export const GIC_V2_COMPATIBLE = ['arm,gic-400', 'arm,cortex-a15-gic', 'arm,cortex-a7-gic'] as const;

const GICC_CTLR = 0x00;
const GICC_PMR = 0x04;
const GICC_IAR = 0x0c;
const GICC_EOIR = 0x10;
/** GICC_CTLR: EnableGrp0, and the bypass-disable bits a driver preserves. */
const GICC_ENABLE = 1 << 0;
const GICC_BYPASS_DISABLE = 0xf << 5;
/** GICD_CTLR: Group 0 enable (the only group this driver uses). */
const GICD_ENABLE = 1 << 0;

class GicV2Controller implements GicController {
  readonly intidMask = 0x3ff;
  readonly distributor: GicInterruptRegisters;

  constructor(
    private readonly dist: IoMem,
    private readonly cpu: IoMem,
    readonly spis: number,
  ) {
    this.distributor = new GicInterruptRegisters(dist);
  }

  registersFor(): GicInterruptRegisters {
    return this.distributor; // the private interrupts are banked for the accessing CPU
  }

  acknowledge(): number {
    return this.cpu.read32(GICC_IAR);
  }

  endOfInterrupt(iar: number): void {
    this.cpu.write32(GICC_EOIR, iar);
  }

  /**
   * This CPU's bit in GICD_ITARGETSR: the fields of INTIDs 0-31 read as the reading CPU's
   * mask. A uniprocessor GIC has them RAZ, and then the mask does not matter.
   */
  cpuMask(): number {
    let mask = 0;
    for (let i = 0; i < 32; i += 4) mask |= this.dist.read32(GICD_REG.ITARGETSR + i);
    mask |= mask >>> 16;
    mask |= mask >>> 8;
    return mask & 0xff;
  }

  /** Distributor off; every SPI level-sensitive, default priority, routed to `cpuMask`, disabled and inactive; Distributor on. */
  initDistributor(cpuMask: number): void {
    const lines = 32 + this.spis;
    this.dist.write32(GICD_REG.CTLR, 0);
    this.distributor.reset(32, lines);
    for (let i = 32; i < lines; i += 4) this.dist.write32(GICD_REG.ITARGETSR + i, cpuMask * 0x0101_0101);
    this.dist.write32(GICD_REG.CTLR, GICD_ENABLE);
  }

  /** This CPU's banked interrupts (PPIs off, SGIs on) and its CPU interface, with the priority mask open. */
  initCpu(): void {
    this.distributor.reset(0, 32);
    this.dist.write32(GICD_REG.ISENABLER, 0xffff);
    this.cpu.write32(GICC_PMR, GIC_PRIORITY_MASK);
    this.cpu.write32(GICC_CTLR, (this.cpu.read32(GICC_CTLR) & GICC_BYPASS_DISABLE) | GICC_ENABLE);
  }
}

export const gicV2Driver: Driver = {
  name: 'gic-v2',
  compatible: GIC_V2_COMPATIBLE,
  probe(dev: Device, kernel: Kernel): ProbeResult {
    const node = dev.node as DtNode;
    const reg = regions(node);
    if (reg.length < 2) return { error: 'reg needs the Distributor and the CPU interface' };
    const dist = kernel.ioremap(reg[0].base, reg[0].size);
    const cpu = kernel.ioremap(reg[1].base, reg[1].size);
    const lines = gicInterruptLines(dist.read32(GICD_REG.TYPER));
    const gic = new GicV2Controller(dist, cpu, lines - 32);
    const cpuMask = gic.cpuMask();
    gic.initDistributor(cpuMask);
    gic.initCpu();
    const name = `gic@${node.unitAddress ?? '?'}`;
    kernel.irq.registerDomain(new GicDomain(node, name, gic, kernel.log), true);
    kernel.log.info(dev.name, `GICv2: ${lines} interrupts (${lines - 32} SPIs), Distributor at ${hex(reg[0].base)}, CPU interface at ${hex(reg[1].base)}, CPU mask ${hex(cpuMask, 2)}`);
    return 'bound';
  },
};
