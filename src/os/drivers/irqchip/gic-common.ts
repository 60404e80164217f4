// What the GICv2 and GICv3 drivers share (after Linux drivers/irqchip/irq-gic-common.c): the
// device-tree interrupt specifier of the arm,gic bindings, the per-interrupt registers of a
// Distributor (and of a GICv3 Redistributor's SGI frame, laid out alike), and the irq
// domain that connects handlers and takes interrupts (acknowledge, handle, end of interrupt).

import type { DtNode } from '../../../formats/devicetree/tree.js';
import type { IoMem } from '../../kernel/iomem.js';
import { IrqError, type IrqDomain, type IrqHandler } from '../../kernel/irq.js';
import type { KernelLog } from '../../kernel/log.js';

/** Distributor registers both versions have at the same offsets. */
export const GICD_REG = {
  CTLR: 0x000,
  TYPER: 0x004,
  IIDR: 0x008,
  IGROUPR: 0x080,
  ISENABLER: 0x100,
  ICENABLER: 0x180,
  ICACTIVER: 0x380,
  IPRIORITYR: 0x400,
  ITARGETSR: 0x800,
  ICFGR: 0xc00,
} as const;

/** The priority every interrupt gets, and the CPU interface's priority mask: above it, so all pass (Linux GICD_INT_DEF_PRI, DEFAULT_PMR_VALUE). */
export const GIC_DEFAULT_PRIORITY = 0xa0;
export const GIC_PRIORITY_MASK = 0xf0;

/** INTIDs 1020-1023 are special: nothing to handle. */
const FIRST_SPECIAL_INTID = 1020;
const LAST_SPECIAL_INTID = 1023;
/** Largest INTID of an SPI. */
export const GIC_MAX_INTID = 1019;

/** The trigger a specifier asks for; 'unchanged' leaves the configuration as it is (IRQ_TYPE_NONE). */
export type GicTrigger = 'edge' | 'level' | 'unchanged';

export interface GicInterrupt {
  intid: number;
  trigger: GicTrigger;
}

/** INTIDs from GICD_TYPER.ITLinesNumber: 32 (N + 1), at most 1020. */
export function gicInterruptLines(typer: number): number {
  return Math.min(32 * ((typer & 0x1f) + 1), GIC_MAX_INTID + 1);
}

/**
 * Decodes an arm,gic specifier <type number flags [partition]>: type 0 is SPI `number`
 * (INTID 32 + number), type 1 PPI `number` (INTID 16 + number); flags[3:0] are IRQ_TYPE_*
 * (1 rising edge, 2 falling edge, 4 high level, 8 low level). SPIs take only rising edge or
 * high level; PPIs may be inverted outside the GIC. Anything else is an IrqError.
 */
export function decodeGicSpecifier(specifier: readonly number[], spis: number): GicInterrupt {
  if (specifier.length < 3) throw new IrqError(`a GIC interrupt specifier has 3 cells, not ${specifier.length}`);
  const [type, number, flags] = specifier;
  if (specifier.length > 3 && specifier[3] !== 0) throw new IrqError('PPI partitions (a 4th specifier cell) are not supported');
  const sense = flags & 0xf;
  if (type === 0) {
    if (number >= spis) throw new IrqError(`SPI ${number} is beyond the GIC's ${spis} SPIs`);
    if (sense !== 0 && sense !== 1 && sense !== 4) throw new IrqError(`SPI ${number}: trigger flags ${sense} are not rising edge (1) or high level (4)`);
    return { intid: 32 + number, trigger: sense === 0 ? 'unchanged' : sense === 1 ? 'edge' : 'level' };
  }
  if (type === 1) {
    if (number >= 16) throw new IrqError(`PPI ${number} does not exist (PPIs are 0-15)`);
    if (sense === 3) throw new IrqError(`PPI ${number}: trigger flags ${sense} name no single trigger`);
    return { intid: 16 + number, trigger: sense === 0 ? 'unchanged' : (sense & 3) !== 0 ? 'edge' : 'level' };
  }
  if (type === 2 || type === 3) throw new IrqError(`the extended ${type === 2 ? 'SPI' : 'PPI'} range (GICv3.1) is not supported`);
  throw new IrqError(`interrupt type ${type} is neither SPI (0) nor PPI (1)`);
}

/** The per-interrupt registers of a Distributor or of a GICv3 SGI frame, as the driver uses them. */
export class GicInterruptRegisters {
  constructor(readonly io: IoMem) {}

  enable(intid: number): void {
    this.io.write32(GICD_REG.ISENABLER + 4 * (intid >> 5), 1 << (intid & 31));
  }

  disable(intid: number): void {
    this.io.write32(GICD_REG.ICENABLER + 4 * (intid >> 5), 1 << (intid & 31));
  }

  /** Sets Int_config[1] (edge) of `intid`; false when the bit does not stick (a fixed PPI trigger). */
  setTrigger(intid: number, edge: boolean): boolean {
    const offset = GICD_REG.ICFGR + 4 * (intid >> 4);
    const bit = 2 << (2 * (intid & 15));
    const old = this.io.read32(offset);
    const value = edge ? old | bit : old & ~bit;
    this.io.write32(offset, value);
    return ((this.io.read32(offset) & bit) !== 0) === edge;
  }

  /** The common configuration of INTIDs [first, end): level-sensitive (SPIs only), default priority, disabled and inactive. */
  reset(first: number, end: number): void {
    if (first >= 32) for (let i = first; i < end; i += 16) this.io.write32(GICD_REG.ICFGR + 4 * (i >> 4), 0);
    const priorities = GIC_DEFAULT_PRIORITY * 0x0101_0101;
    for (let i = first; i < end; i += 4) this.io.write32(GICD_REG.IPRIORITYR + i, priorities);
    for (let i = first; i < end; i += 32) {
      this.io.write32(GICD_REG.ICACTIVER + 4 * (i >> 5), 0xffff_ffff);
      this.io.write32(GICD_REG.ICENABLER + 4 * (i >> 5), 0xffff_ffff);
    }
  }
}

/** What a GIC version gives the domain. */
export interface GicController {
  readonly spis: number;
  /** The registers that configure and enable `intid` (Distributor for SPIs; GICv3: the Redistributor for PPIs). */
  registersFor(intid: number): GicInterruptRegisters;
  /** The INTID bits of an acknowledge value (GICv2 puts an SGI's source PE above them). */
  readonly intidMask: number;
  /** Reads the interrupt acknowledge register. */
  acknowledge(): number;
  /** Writes the end-of-interrupt register with what acknowledge() returned. */
  endOfInterrupt(iar: number): void;
}

export class GicDomain implements IrqDomain {
  private readonly handlers = new Map<number, IrqHandler>();

  constructor(
    readonly node: DtNode,
    readonly name: string,
    private readonly gic: GicController,
    private readonly log: KernelLog,
  ) {}

  /** Configures the trigger the specifier names, then enables the interrupt (routing was set up at probe). */
  request(specifier: number[], handler: IrqHandler): void {
    const { intid, trigger } = decodeGicSpecifier(specifier, this.gic.spis);
    const regs = this.gic.registersFor(intid);
    if (trigger !== 'unchanged') {
      // The trigger may change only while the interrupt is disabled.
      regs.disable(intid);
      if (!regs.setTrigger(intid, trigger === 'edge')) {
        if (intid >= 32) throw new IrqError(`INTID ${intid}: the GIC did not take the ${trigger} trigger`);
        this.log.warn(this.name, `PPI ${intid - 16}: the trigger is fixed by the implementation; ${trigger} ignored`);
      }
    }
    this.handlers.set(intid, handler);
    regs.enable(intid);
  }

  /** Takes one interrupt: acknowledge, handler, end of interrupt. A special INTID means nothing was there. */
  dispatch(): void {
    const iar = this.gic.acknowledge();
    const intid = iar & this.gic.intidMask;
    if (intid >= FIRST_SPECIAL_INTID && intid <= LAST_SPECIAL_INTID) return;
    const handler = this.handlers.get(intid);
    if (handler !== undefined) handler();
    else this.log.warn(this.name, `INTID ${intid} has no handler`);
    this.gic.endOfInterrupt(iar);
  }
}
