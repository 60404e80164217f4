// A GICv2 (IHI 0048B) without the Security Extensions: a Distributor and one memory-mapped
// CPU interface per PE. The Distributor's registers for INTIDs 0-31 are banked per PE and
// the CPU interface is the accessing PE's, so the model offers each PE its own view of
// both; a machine whose bus carries one PE's accesses maps that PE's views.
//
//   const gic = new GicV2({ spis: 64 });
//   bus.map('gicd', 0x0800_0000n, 0x1000n, gic.distributor(0));
//   bus.map('gicc', 0x0801_0000n, 0x2000n, gic.cpuInterface(0));
//   gic.irq(0).onChange((level) => cpu.externalInterrupt.set(level));
//   device.irq = gic.input(32 + 7); // SPI 7

import type { InterruptLine } from '../../sim/irq.js';
import type { MmioDevice, MmioSize } from '../../sim/mmio.js';
import { activePriorityMask, activePriorityWords, GicCore, PRIVATE_INTIDS } from './core.js';
import { InterruptRegisters } from './interrupt-registers.js';
import { resolveGicParameters, type GicOptions } from './parameters.js';
import { FIRST_SPECIAL_INTID, GICC, GICC_CTLR, GICD, GICD_CTLR, GICD_SGIR, GICD_TYPER, OTHER_GROUP_INTID, peripheralId2, SPURIOUS_INTID } from './registers.js';

const SGI_FILTER_LIST = 0;
const SGI_FILTER_OTHERS = 1;
const SGI_FILTER_SELF = 2;

export class GicV2 extends GicCore {
  private readonly distributors: MmioDevice[];
  private readonly cpuInterfaces: MmioDevice[];
  private readonly perInterrupt: InterruptRegisters;

  constructor(options: GicOptions = {}, name = 'gic') {
    super(name, 2, resolveGicParameters(options, 2));
    this.perInterrupt = new InterruptRegisters(this, 0, PRIVATE_INTIDS + this.spis);
    this.distributors = Array.from({ length: this.cpus }, (_, c) => mmio((o, s) => this.distributorRead(c, o, s), (o, s, v) => this.distributorWrite(c, o, s, v)));
    this.cpuInterfaces = Array.from({ length: this.cpus }, (_, c) => mmio((o, s) => this.cpuRead(c, o, s), (o, s, v) => this.cpuWrite(c, o, s, v)));
  }

  /** The Distributor as PE `cpu` sees it. */
  distributor(cpu = 0): MmioDevice {
    return this.distributors[cpu];
  }

  /** PE `cpu`'s CPU interface (GICC), 8 KiB: GICC_DIR is at 0x1000. */
  cpuInterface(cpu = 0): MmioDevice {
    return this.cpuInterfaces[cpu];
  }

  irq(cpu = 0): InterruptLine {
    return this.irqOutputs[cpu];
  }

  fiq(cpu = 0): InterruptLine {
    return this.fiqOutputs[cpu];
  }

  // ---- Distributor (IHI 0048B 4.3) ---------------------------------------------------------

  private distributorRead(cpu: number, offset: number, size: MmioSize): number {
    if (InterruptRegisters.covers(offset)) return this.perInterrupt.read(cpu, offset, size);
    if (offset >= GICD.CPENDSGIR && offset < GICD.SPENDSGIR + 16) return this.readSgiPending(cpu, offset, size);
    if (size !== 4 || (offset & 3) !== 0) return 0;
    const p = this.parameters;
    switch (offset) {
      case GICD.CTLR:
        return (this.enableGroup0 ? GICD_CTLR.ENABLE_GRP0 : 0) | (this.enableGroup1 ? GICD_CTLR.ENABLE_GRP1 : 0);
      case GICD.TYPER:
        // ITLinesNumber, CPUNumber; SecurityExtn and LSPI are 0.
        return (Math.ceil((PRIVATE_INTIDS + this.spis) / 32) - 1) | ((this.cpus - 1) << GICD_TYPER.CPU_NUMBER_SHIFT);
      case GICD.IIDR:
        return ((p.productId << 24) | (p.revision << 12) | p.implementer) >>> 0;
      case GICD.V2_PIDR2:
        return peripheralId2(2, p.implementer);
      default:
        return 0;
    }
  }

  private distributorWrite(cpu: number, offset: number, size: MmioSize, value: number): void {
    if (InterruptRegisters.covers(offset)) {
      this.perInterrupt.write(cpu, offset, size, value);
      return;
    }
    if (offset >= GICD.CPENDSGIR && offset < GICD.SPENDSGIR + 16) {
      this.writeSgiPending(cpu, offset, size, value);
      return;
    }
    if (size !== 4 || (offset & 3) !== 0) return;
    if (offset === GICD.CTLR) {
      this.enableGroup0 = (value & GICD_CTLR.ENABLE_GRP0) !== 0;
      this.enableGroup1 = (value & GICD_CTLR.ENABLE_GRP1) !== 0;
      this.update();
    } else if (offset === GICD.SGIR) {
      this.generateSgi(cpu, value);
    }
  }

  /** GICD_SGIR (IHI 0048B 4.3.15): SGIINTID, CPUTargetList and TargetListFilter; NSATT has no meaning without Security. */
  private generateSgi(source: number, value: number): void {
    const intid = value & GICD_SGIR.INTID_MASK;
    const filter = (value >>> GICD_SGIR.FILTER_SHIFT) & 3;
    let targets: number;
    if (filter === SGI_FILTER_LIST) targets = (value >>> GICD_SGIR.TARGET_LIST_SHIFT) & 0xff;
    else if (filter === SGI_FILTER_OTHERS) targets = 0xff & ~(1 << source);
    else if (filter === SGI_FILTER_SELF) targets = 1 << source;
    else return; // 0b11 is reserved: no SGI
    for (let t = 0; t < this.cpus; t++) if (((targets >>> t) & 1) === 1) this.raiseSgi(t, intid, source);
    this.update();
  }

  /** GICD_CPENDSGIR<n> / GICD_SPENDSGIR<n>: a byte per SGI of the accessing PE, a bit per source PE. */
  private readSgiPending(cpu: number, offset: number, size: MmioSize): number {
    if ((size !== 1 && size !== 4) || offset % size !== 0) return 0;
    const first = (offset - GICD.CPENDSGIR) & 0xf;
    let v = 0;
    for (let i = size - 1; i >= 0; i--) v = (v << 8) | this.sgiSources[cpu * PRIVATE_INTIDS + first + i];
    return v >>> 0;
  }

  private writeSgiPending(cpu: number, offset: number, size: MmioSize, value: number): void {
    if ((size !== 1 && size !== 4) || offset % size !== 0) return;
    const set = offset >= GICD.SPENDSGIR;
    const first = (offset - GICD.CPENDSGIR) & 0xf;
    const implemented = (1 << this.cpus) - 1;
    for (let i = 0; i < size; i++) {
      const slot = cpu * PRIVATE_INTIDS + first + i;
      const bits = (value >>> (8 * i)) & implemented;
      this.sgiSources[slot] = set ? this.sgiSources[slot] | bits : this.sgiSources[slot] & ~bits;
    }
    this.update();
  }

  // ---- CPU interface (IHI 0048B 4.4) ---------------------------------------------------------

  private cpuRead(cpu: number, offset: number, size: MmioSize): number {
    if (size !== 4 || (offset & 3) !== 0) return 0;
    const c = this.cpu[cpu];
    switch (offset) {
      case GICC.CTLR:
        return this.cpuControl(cpu);
      case GICC.PMR:
        return c.pmr;
      case GICC.BPR:
        return c.bpr0;
      case GICC.ABPR:
        return c.bpr1;
      case GICC.IAR:
        return this.acknowledge(cpu, false);
      case GICC.AIAR:
        return this.acknowledge(cpu, true);
      case GICC.HPPIR:
        return this.highestPending(cpu, false);
      case GICC.AHPPIR:
        return this.highestPending(cpu, true);
      case GICC.RPR:
        return this.runningPriority(cpu);
      case GICC.IIDR: {
        const p = this.parameters;
        return ((p.productId << 20) | (0x2 << 16) | (p.revision << 12) | p.implementer) >>> 0;
      }
    }
    const apr = this.activePriorityWord(offset);
    return apr === null ? 0 : c.activePriorities[apr.group][apr.word];
  }

  private cpuWrite(cpu: number, offset: number, size: MmioSize, value: number): void {
    if (size !== 4 || (offset & 3) !== 0) return;
    const c = this.cpu[cpu];
    switch (offset) {
      case GICC.CTLR:
        c.enableGroup0 = (value & GICC_CTLR.ENABLE_GRP0) !== 0;
        c.enableGroup1 = (value & GICC_CTLR.ENABLE_GRP1) !== 0;
        c.ackCtl = (value & GICC_CTLR.ACK_CTL) !== 0;
        c.fiqForGroup0 = (value & GICC_CTLR.FIQ_EN) !== 0;
        c.cbpr = (value & GICC_CTLR.CBPR) !== 0;
        c.eoiMode0 = (value & GICC_CTLR.EOI_MODE_S) !== 0;
        c.eoiMode1 = (value & GICC_CTLR.EOI_MODE_NS) !== 0;
        c.otherControlBits = value & GICC_CTLR.BYPASS_DISABLE;
        break;
      case GICC.PMR:
        c.pmr = value & this.priorityMask;
        break;
      case GICC.BPR:
        c.bpr0 = Math.max(value & 7, this.minBinaryPoint);
        break;
      case GICC.ABPR:
        c.bpr1 = Math.max(value & 7, this.minBinaryPoint + 1);
        break;
      case GICC.EOIR:
        this.endOfInterrupt(cpu, value, c.eoiMode0);
        return;
      case GICC.AEOIR:
        this.endOfInterrupt(cpu, value, c.eoiMode1);
        return;
      case GICC.DIR:
        this.deactivate(cpu, value & 0x3ff);
        return;
      default: {
        const apr = this.activePriorityWord(offset);
        if (apr === null) return;
        c.activePriorities[apr.group][apr.word] = value & activePriorityMask(this.preemptionBits);
      }
    }
    this.update();
  }

  private cpuControl(cpu: number): number {
    const c = this.cpu[cpu];
    return (
      (c.enableGroup0 ? GICC_CTLR.ENABLE_GRP0 : 0) |
      (c.enableGroup1 ? GICC_CTLR.ENABLE_GRP1 : 0) |
      (c.ackCtl ? GICC_CTLR.ACK_CTL : 0) |
      (c.fiqForGroup0 ? GICC_CTLR.FIQ_EN : 0) |
      (c.cbpr ? GICC_CTLR.CBPR : 0) |
      (c.eoiMode0 ? GICC_CTLR.EOI_MODE_S : 0) |
      (c.eoiMode1 ? GICC_CTLR.EOI_MODE_NS : 0) |
      c.otherControlBits
    );
  }

  /**
   * GICC_IAR (IHI 0048B 4.4.4) and GICC_AIAR (4.4.9). GICC_IAR acknowledges a Group 0
   * interrupt, and a Group 1 one only with AckCtl (else it reads 1022 and acknowledges
   * nothing); GICC_AIAR acknowledges Group 1 interrupts only. 1023: nothing of sufficient
   * priority is pending.
   */
  private acknowledge(cpu: number, alias: boolean): number {
    if (!this.selectPending(cpu) || !this.canPreempt(cpu)) return SPURIOUS_INTID;
    if (alias) return this.selectedGroup === 1 ? this.activateSelected(cpu) : SPURIOUS_INTID;
    if (this.selectedGroup === 1 && !this.cpu[cpu].ackCtl) return OTHER_GROUP_INTID;
    return this.activateSelected(cpu);
  }

  /** GICC_HPPIR (4.4.7) and GICC_AHPPIR (4.4.11): what an acknowledge would see, ignoring the priority mask. */
  private highestPending(cpu: number, alias: boolean): number {
    if (!this.selectPending(cpu)) return SPURIOUS_INTID;
    if (alias) return this.selectedGroup === 1 ? this.selectedValue() : SPURIOUS_INTID;
    if (this.selectedGroup === 1 && !this.cpu[cpu].ackCtl) return OTHER_GROUP_INTID;
    return this.selectedValue();
  }

  /** GICC_EOIR / GICC_AEOIR: priority drop, and deactivation unless EOImode splits them. Special INTIDs are ignored. */
  private endOfInterrupt(cpu: number, value: number, splitDeactivation: boolean): void {
    const intid = value & 0x3ff;
    if (intid >= FIRST_SPECIAL_INTID) return;
    this.priorityDrop(cpu);
    if (!splitDeactivation) this.deactivate(cpu, intid);
  }

  /** GICC_APR<n> (Group 0) and GICC_NSAPR<n> (Group 1): as many words as the group priority needs. */
  private activePriorityWord(offset: number): { group: 0 | 1; word: number } | null {
    const words = activePriorityWords(this.preemptionBits);
    if (offset >= GICC.APR && offset < GICC.APR + 4 * words) return { group: 0, word: (offset - GICC.APR) >> 2 };
    if (offset >= GICC.NSAPR && offset < GICC.NSAPR + 4 * words) return { group: 1, word: (offset - GICC.NSAPR) >> 2 };
    return null;
  }
}

/** A register block of 32-bit registers from a pair of accessors, which see the access size (and make 64-bit accesses RAZ/WI). */
function mmio(read: (offset: number, size: MmioSize) => number, write: (offset: number, size: MmioSize, value: number) => void): MmioDevice {
  return {
    mmioRead: (offset, size) => BigInt(read(offset, size) >>> 0),
    mmioWrite: (offset, size, value) => write(offset, size, Number(value & 0xffff_ffffn)),
    mmioRead32: (offset) => read(offset, 4) >>> 0,
    mmioWrite32: (offset, value) => write(offset, 4, value),
  };
}
