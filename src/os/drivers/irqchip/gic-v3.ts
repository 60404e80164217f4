// Driver for a GICv3 (arm,gic-v3; after Linux drivers/irqchip/irq-gic-v3.c): checks the
// Distributor's architecture revision, resets it with every SPI in Group 1, level-sensitive,
// at the default priority and routed to this CPU's affinity (from MPIDR_EL1), finds this
// CPU's Redistributor by affinity and wakes it, turns on the system register CPU interface,
// and takes interrupts through ICC_IAR1_EL1 / ICC_EOIR1_EL1. The ITS is not used: no LPIs
// (so no MSIs through it).

import type { DtNode } from '../../../formats/devicetree/tree.js';
import { MPIDR_EL1, systemRegister, UndefinedInstructionError, type SystemRegisters } from '../../../sim/hart.js';
import { hex } from '../../../sim/u64.js';
import type { Device, Driver, ProbeResult } from '../../driver-model/device.js';
import type { IoMem } from '../../kernel/iomem.js';
import type { Kernel } from '../../kernel/kernel.js';
import { regions } from '../../of/address.js';
import { GIC_PRIORITY_MASK, GICD_REG, GicDomain, gicInterruptLines, GicInterruptRegisters, type GicController } from './gic-common.js';

export const GIC_V3_COMPATIBLE = ['arm,gic-v3'] as const;

const GICD_CTLR_ENABLE_G1 = 1 << 1; // EnableGrp1 (one Security state) or EnableGrp1A (Non-secure view): Group 1 with affinity routing
const GICD_CTLR_ARE = 1 << 4;
const GICD_CTLR_RWP = 1 << 31;
const GICD_IROUTER = 0x6000;
const GICD_PIDR2 = 0xffe8;
const GICR_CTLR = 0x0000;
const GICR_TYPER = 0x0008;
const GICR_WAKER = 0x0014;
const GICR_PIDR2 = 0xffe8;
const GICR_CTLR_RWP = 1 << 3;
const GICR_TYPER_VLPIS = 1n << 1n;
const GICR_TYPER_LAST = 1n << 4n;
const GICR_WAKER_PROCESSOR_SLEEP = 1 << 1;
const GICR_WAKER_CHILDREN_ASLEEP = 1 << 2;
/** The SGI_base frame follows the RD_base frame; each is 64 KiB. */
const GICR_SGI_BASE = 0x10000;
/** Redistributor stride: two 64 KiB frames, four with GICv4 virtual LPIs. */
const GICR_STRIDE = 0x20000;
const GICR_STRIDE_VLPI = 0x40000;

const ICC_PMR_EL1 = systemRegister(3, 0, 4, 6, 0);
const ICC_IAR1_EL1 = systemRegister(3, 0, 12, 12, 0);
const ICC_EOIR1_EL1 = systemRegister(3, 0, 12, 12, 1);
const ICC_BPR1_EL1 = systemRegister(3, 0, 12, 12, 3);
const ICC_CTLR_EL1 = systemRegister(3, 0, 12, 12, 4);
const ICC_SRE_EL1 = systemRegister(3, 0, 12, 12, 5);
const ICC_IGRPEN1_EL1 = systemRegister(3, 0, 12, 12, 7);
const ICC_CTLR_EOI_MODE = 1n << 1n;
const ICC_SRE_SRE = 1n;

/** Polls of a register bit the GIC clears when it is done (RWP, ChildrenAsleep) before giving up. */
const POLL_LIMIT = 1000;

class GicV3Error extends Error {}

/** ArchRev of a peripheral ID2 register: 3 for GICv3, 4 for GICv4. */
function isGicV3(pidr2: number): boolean {
  const rev = (pidr2 >>> 4) & 0xf;
  return rev === 3 || rev === 4;
}

/**
 * The base of the Redistributor whose GICR_TYPER.Affinity is `affinity`, searching each
 * region frame by frame until a frame with GICR_TYPER.Last.
 */
function findRedistributor(rdRegions: readonly IoMem[], stride: number | undefined, affinity: number): bigint {
  for (const region of rdRegions) {
    if (!isGicV3(region.read32(GICR_PIDR2))) continue; // no Redistributor in this region
    for (let offset = 0; offset < Number(region.size); ) {
      const typer = region.read64(offset + GICR_TYPER);
      if (Number(typer >> 32n) === affinity) return region.base + BigInt(offset);
      if ((typer & GICR_TYPER_LAST) !== 0n) break;
      offset += stride ?? ((typer & GICR_TYPER_VLPIS) !== 0n ? GICR_STRIDE_VLPI : GICR_STRIDE);
    }
  }
  throw new GicV3Error(`no Redistributor has this CPU's affinity ${hex(affinity)}`);
}

class GicV3Controller implements GicController {
  readonly intidMask = 0xff_ffff;
  readonly distributor: GicInterruptRegisters;
  /** This CPU's SGIs and PPIs, in its Redistributor's SGI_base frame. */
  readonly redistributor: GicInterruptRegisters;

  constructor(
    private readonly dist: IoMem,
    private readonly rd: IoMem,
    sgiFrame: IoMem,
    private readonly sys: SystemRegisters,
    readonly spis: number,
  ) {
    this.distributor = new GicInterruptRegisters(dist);
    this.redistributor = new GicInterruptRegisters(sgiFrame);
  }

  registersFor(intid: number): GicInterruptRegisters {
    return intid >= 32 ? this.distributor : this.redistributor;
  }

  acknowledge(): number {
    return Number(this.sys.read(ICC_IAR1_EL1) & 0xff_ffffn);
  }

  endOfInterrupt(iar: number): void {
    this.sys.write(ICC_EOIR1_EL1, BigInt(iar));
  }

  /** Distributor off; SPIs in Group 1, level, default priority, off, routed to `affinity`; Distributor on with affinity routing. */
  initDistributor(affinity: bigint): void {
    const lines = 32 + this.spis;
    this.dist.write32(GICD_REG.CTLR, 0);
    this.waitForDistributor();
    for (let i = 32; i < lines; i += 32) this.dist.write32(GICD_REG.IGROUPR + 4 * (i >> 5), 0xffff_ffff);
    this.distributor.reset(32, lines);
    this.waitForDistributor();
    for (let i = 32; i < lines; i++) this.dist.write64(GICD_IROUTER + 8 * i, affinity);
    this.dist.write32(GICD_REG.CTLR, GICD_CTLR_ARE | GICD_CTLR_ENABLE_G1);
    this.waitForDistributor();
  }

  /** Wakes the Redistributor (ProcessorSleep off, then ChildrenAsleep clears), resets this CPU's SGIs and PPIs. */
  initRedistributor(): void {
    const rd = this.rd;
    rd.write32(GICR_WAKER, rd.read32(GICR_WAKER) & ~GICR_WAKER_PROCESSOR_SLEEP);
    this.poll(() => (rd.read32(GICR_WAKER) & GICR_WAKER_CHILDREN_ASLEEP) === 0, 'the Redistributor did not wake (GICR_WAKER.ChildrenAsleep stays set)');
    const sgi = this.redistributor;
    sgi.io.write32(GICD_REG.IGROUPR, 0xffff_ffff);
    sgi.reset(0, 32);
    sgi.io.write32(GICD_REG.ISENABLER, 0xffff); // SGIs on, PPIs off until requested
    this.poll(() => (rd.read32(GICR_CTLR) & GICR_CTLR_RWP) === 0, 'GICR_CTLR.RWP stays set');
  }

  /** The system register interface on, priority mask open, no preemption grouping, EOI drops and deactivates, Group 1 on. */
  initCpuInterface(): number {
    let sre = this.sys.read(ICC_SRE_EL1);
    if ((sre & ICC_SRE_SRE) === 0n) {
      this.sys.write(ICC_SRE_EL1, sre | ICC_SRE_SRE);
      sre = this.sys.read(ICC_SRE_EL1);
      if ((sre & ICC_SRE_SRE) === 0n) throw new GicV3Error('the system register CPU interface cannot be enabled (ICC_SRE_EL1.SRE stays 0)');
    }
    this.sys.write(ICC_PMR_EL1, BigInt(GIC_PRIORITY_MASK));
    this.sys.write(ICC_BPR1_EL1, 0n);
    const ctlr = this.sys.read(ICC_CTLR_EL1);
    this.sys.write(ICC_CTLR_EL1, ctlr & ~ICC_CTLR_EOI_MODE);
    this.sys.write(ICC_IGRPEN1_EL1, 1n);
    return Number((ctlr >> 8n) & 7n) + 1;
  }

  private waitForDistributor(): void {
    this.poll(() => (this.dist.read32(GICD_REG.CTLR) & GICD_CTLR_RWP) === 0, 'GICD_CTLR.RWP stays set');
  }

  private poll(done: () => boolean, failure: string): void {
    for (let i = 0; i < POLL_LIMIT; i++) if (done()) return;
    throw new GicV3Error(failure);
  }
}

export const gicV3Driver: Driver = {
  name: 'gic-v3',
  compatible: GIC_V3_COMPATIBLE,
  probe(dev: Device, kernel: Kernel): ProbeResult {
    const node = dev.node as DtNode;
    const reg = regions(node);
    const rdCount = node.u32('#redistributor-regions') ?? 1;
    if (reg.length < 1 + rdCount) return { error: `reg needs the Distributor and ${rdCount} Redistributor region(s)` };
    const dist = kernel.ioremap(reg[0].base, reg[0].size);
    if (!isGicV3(dist.read32(GICD_PIDR2))) return { error: `no GICv3 Distributor at ${hex(reg[0].base)} (GICD_PIDR2.ArchRev is not 3 or 4)` };
    const lines = gicInterruptLines(dist.read32(GICD_REG.TYPER));
    const sys = kernel.firmware.hart.systemRegisters;
    let gic: GicV3Controller;
    try {
      const mpidr = sys.read(MPIDR_EL1);
      // GICR_TYPER packs Aff3 above Aff2..Aff0; GICD_IROUTER keeps MPIDR_EL1's layout (Aff3 in bits 39:32).
      const aff3 = (mpidr >> 32n) & 0xffn;
      const affinity = Number((aff3 << 24n) | (mpidr & 0xff_ffffn));
      const rdRegions = reg.slice(1, 1 + rdCount).map((r) => kernel.ioremap(r.base, r.size));
      const rd = findRedistributor(rdRegions, node.u32('redistributor-stride'), affinity);
      const frame = BigInt(GICR_SGI_BASE);
      gic = new GicV3Controller(dist, kernel.ioremap(rd, frame), kernel.ioremap(rd + frame, frame), sys, lines - 32);
      gic.initDistributor((aff3 << 32n) | (mpidr & 0xff_ffffn));
      gic.initRedistributor();
      const priorityBits = gic.initCpuInterface();
      kernel.log.info(dev.name, `GICv3: ${lines} interrupts (${lines - 32} SPIs), ${priorityBits} priority bits, Distributor at ${hex(reg[0].base)}, CPU affinity ${hex(affinity)}`);
    } catch (e) {
      if (e instanceof GicV3Error) return { error: e.message };
      if (e instanceof UndefinedInstructionError) return { error: `this CPU has no GICv3 system register interface (${e.message})` };
      throw e;
    }
    kernel.irq.registerDomain(new GicDomain(node, `gic@${node.unitAddress ?? '?'}`, gic, kernel.log), true);
    if (node.children.some((c) => (c.strings('compatible') ?? []).includes('arm,gic-v3-its'))) {
      kernel.log.info(dev.name, 'the ITS is not used: no LPIs, so no MSIs through it');
    }
    return 'bound';
  },
};
