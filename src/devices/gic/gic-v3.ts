// A GICv3 (IHI 0069) with a single Security state (GICD_CTLR.DS = 1) and affinity routing
// only: a Distributor for SPIs, a Redistributor per PE (an RD_base and an SGI_base frame of
// 64 KiB each) for its SGIs and PPIs, and per PE a CPU interface that the PE reaches as
// system registers (ICC_*_EL1), not through memory. No LPIs, no ITS.
//
//   const gic = new GicV3({ affinities: [0] });
//   bus.map('gicd', 0x0800_0000n, 0x1_0000n, gic.distributor);
//   bus.map('gicr', 0x080a_0000n, 0xf6_0000n, gic.redistributorRegion(0, 0xf6_0000n));
//   cpu.systemRegisters.connect(gic.cpuInterface(0));
//   gic.irq(0).onChange((level) => cpu.externalInterrupt.set(level));

import type { SystemRegisterBlock } from '../../sim/hart.js';
import type { InterruptLine } from '../../sim/irq.js';
import type { MmioDevice, MmioSize } from '../../sim/mmio.js';
import { activePriorityMask, activePriorityWords, GicCore, PRIVATE_INTIDS, SGI_COUNT } from './core.js';
import { InterruptRegisters } from './interrupt-registers.js';
import { LAST_SPI_INTID, resolveGicParameters, type GicOptions } from './parameters.js';
import {
  FIRST_SPECIAL_INTID,
  GICD,
  GICD_CTLR,
  GICD_IROUTER,
  GICD_TYPER,
  GICR,
  GICR_TYPER,
  GICR_WAKER,
  ICC,
  ICC_CTLR,
  ICC_SGIR,
  ICC_SRE_VALUE,
  peripheralId2,
  SPURIOUS_INTID,
} from './registers.js';

/** INTID bits the model implements (GICD_TYPER.IDbits + 1, ICC_CTLR_EL1.IDbits = 0). */
const INTID_BITS = 16;
const INTID_MASK = (1 << INTID_BITS) - 1;

export class GicV3 extends GicCore {
  /** The Distributor's 64 KiB register frame. */
  readonly distributor: MmioDevice;
  private readonly spiRegisters: InterruptRegisters;
  private readonly privateRegisters: InterruptRegisters;
  private readonly cpuInterfaces: SystemRegisterBlock[];

  constructor(options: GicOptions = {}, name = 'gic') {
    super(name, 3, resolveGicParameters(options, 3));
    this.spiRegisters = new InterruptRegisters(this, PRIVATE_INTIDS, PRIVATE_INTIDS + this.spis);
    this.privateRegisters = new InterruptRegisters(this, 0, PRIVATE_INTIDS);
    this.distributor = {
      mmioRead: (offset, size) => this.distributorRead(offset, size),
      mmioWrite: (offset, size, value) => this.distributorWrite(offset, size, value),
    };
    this.cpuInterfaces = Array.from({ length: this.cpus }, (_, c) => ({
      readSystemRegister: (encoding: number) => this.systemRegisterRead(c, encoding),
      writeSystemRegister: (encoding: number, value: bigint) => this.systemRegisterWrite(c, encoding, value),
    }));
  }

  /**
   * A region of Redistributors, `size` bytes: frame k (at k * 128 KiB) is PE firstCpu + k's.
   * Frames past the last PE read as zero (a driver stops at GICR_TYPER.Last before them).
   */
  redistributorRegion(firstCpu: number, size: bigint): MmioDevice {
    const frames = Number(size / BigInt(GICR.STRIDE));
    return {
      mmioRead: (offset, s) => {
        const cpu = firstCpu + Math.floor(offset / GICR.STRIDE);
        if (cpu >= this.cpus) return 0n;
        const local = offset % GICR.STRIDE;
        const last = cpu === this.cpus - 1 || cpu === firstCpu + frames - 1;
        return local < GICR.FRAME_SIZE ? this.rdRead(cpu, local, s, last) : BigInt(this.privateRegisters.read(cpu, local - GICR.FRAME_SIZE, s));
      },
      mmioWrite: (offset, s, value) => {
        const cpu = firstCpu + Math.floor(offset / GICR.STRIDE);
        if (cpu >= this.cpus) return;
        const local = offset % GICR.STRIDE;
        if (local < GICR.FRAME_SIZE) this.rdWrite(cpu, local, s, value);
        else this.privateRegisters.write(cpu, local - GICR.FRAME_SIZE, s, Number(value & 0xffff_ffffn));
      },
    };
  }

  /** PE `cpu`'s CPU interface, to connect to that PE's system registers. */
  cpuInterface(cpu = 0): SystemRegisterBlock {
    return this.cpuInterfaces[cpu];
  }

  irq(cpu = 0): InterruptLine {
    return this.irqOutputs[cpu];
  }

  fiq(cpu = 0): InterruptLine {
    return this.fiqOutputs[cpu];
  }

  // ---- Distributor (IHI 0069, GIC Distributor register descriptions) ---------------------------

  private distributorRead(offset: number, size: MmioSize): bigint {
    if (offset >= GICD.IROUTER && offset < GICD.IROUTER + 8 * (LAST_SPI_INTID + 1)) return this.routerRead(offset, size);
    // With affinity routing, the Distributor's registers of INTIDs 0-31, ITARGETSR and the
    // GICv2 SGI registers are RES0: the per-interrupt frame holds only the SPIs.
    if (InterruptRegisters.covers(offset)) return BigInt(this.spiRegisters.read(0, offset, size));
    if (size !== 4 || (offset & 3) !== 0) return 0n;
    const p = this.parameters;
    switch (offset) {
      case GICD.CTLR:
        return BigInt((this.enableGroup0 ? GICD_CTLR.ENABLE_GRP0 : 0) | (this.enableGroup1 ? GICD_CTLR.ENABLE_GRP1 : 0) | GICD_CTLR.ARE | GICD_CTLR.DS);
      case GICD.TYPER:
        // ITLinesNumber, CPUNumber, IDbits; no LPIs, no MBIs, no Security, A3V = 0, 1-of-N supported.
        return BigInt((Math.ceil((PRIVATE_INTIDS + this.spis) / 32) - 1) | ((Math.min(this.cpus, 8) - 1) << GICD_TYPER.CPU_NUMBER_SHIFT) | ((INTID_BITS - 1) << GICD_TYPER.ID_BITS_SHIFT));
      case GICD.IIDR:
        return BigInt(((p.productId << 24) | (p.revision << 12) | p.implementer) >>> 0);
      case GICD.V3_PIDR2:
        return BigInt(peripheralId2(3, p.implementer));
      default:
        return 0n;
    }
  }

  private distributorWrite(offset: number, size: MmioSize, value: bigint): void {
    if (offset >= GICD.IROUTER && offset < GICD.IROUTER + 8 * (LAST_SPI_INTID + 1)) {
      this.routerWrite(offset, size, value);
      return;
    }
    if (InterruptRegisters.covers(offset)) {
      this.spiRegisters.write(0, offset, size, Number(value & 0xffff_ffffn));
      return;
    }
    if (size !== 4 || offset !== GICD.CTLR) return;
    // ARE and DS are RAO/WI; RWP reads 0 because writes take effect at once.
    this.enableGroup0 = (value & BigInt(GICD_CTLR.ENABLE_GRP0)) !== 0n;
    this.enableGroup1 = (value & BigInt(GICD_CTLR.ENABLE_GRP1)) !== 0n;
    this.update();
  }

  /** GICD_IROUTER<n>: Aff2.Aff1.Aff0 in bits 23:0, Interrupt_Routing_Mode in 31 (Aff3, bits 39:32, is RES0 with A3V = 0). 64-bit or 32-bit halves. */
  private routerRead(offset: number, size: MmioSize): bigint {
    const n = this.routerSpi(offset, size);
    if (n < 0 || (offset & 4) !== 0) return 0n;
    return BigInt((this.route[n] | (this.routeAny[n] === 1 ? GICD_IROUTER.IRM : 0)) >>> 0);
  }

  private routerWrite(offset: number, size: MmioSize, value: bigint): void {
    const n = this.routerSpi(offset, size);
    if (n < 0 || (offset & 4) !== 0) return;
    const v = Number(value & 0xffff_ffffn);
    this.route[n] = v & 0xff_ffff;
    this.routeAny[n] = (v & GICD_IROUTER.IRM) !== 0 ? 1 : 0;
    this.update();
  }

  /** The SPI index an IROUTER access names, or -1 (SGIs/PPIs, unimplemented SPIs, bad size). */
  private routerSpi(offset: number, size: MmioSize): number {
    const aligned = size === 8 ? (offset & 7) === 0 : size === 4 && (offset & 3) === 0;
    if (!aligned) return -1;
    const intid = (offset - GICD.IROUTER) >> 3;
    return intid >= PRIVATE_INTIDS && intid < PRIVATE_INTIDS + this.spis ? intid - PRIVATE_INTIDS : -1;
  }

  // ---- Redistributor RD_base frame (IHI 0069, GIC Redistributor register descriptions) ---------

  private rdRead(cpu: number, offset: number, size: MmioSize, last: boolean): bigint {
    if (offset === GICR.TYPER || offset === GICR.TYPER + 4) {
      // Processor_Number, Last; no LPIs. Affinity in bits 63:32 has the packed layout.
      const low = BigInt((cpu << GICR_TYPER.PROCESSOR_NUMBER_SHIFT) | (last ? GICR_TYPER.LAST : 0));
      const high = BigInt(this.parameters.affinities[cpu]);
      if (size === 8 && offset === GICR.TYPER) return (high << 32n) | low;
      if (size === 4) return offset === GICR.TYPER ? low : high;
      return 0n;
    }
    if (size !== 4 || (offset & 3) !== 0) return 0n;
    const p = this.parameters;
    switch (offset) {
      case GICR.IIDR:
        return BigInt(((p.productId << 24) | (p.revision << 12) | p.implementer) >>> 0);
      case GICR.WAKER:
        return BigInt(this.cpu[cpu].asleep ? GICR_WAKER.PROCESSOR_SLEEP | GICR_WAKER.CHILDREN_ASLEEP : 0);
      case GICR.PIDR2:
        return BigInt(peripheralId2(3, p.implementer));
      default:
        // GICR_CTLR (EnableLPIs and the rest are RES0 without LPIs), GICR_STATUSR, LPI registers.
        return 0n;
    }
  }

  private rdWrite(cpu: number, offset: number, size: MmioSize, value: bigint): void {
    if (size !== 4 || offset !== GICR.WAKER) return;
    // ChildrenAsleep follows ProcessorSleep at once: the model has no interface to quiesce.
    this.cpu[cpu].asleep = (value & BigInt(GICR_WAKER.PROCESSOR_SLEEP)) !== 0n;
    this.update();
  }

  // ---- CPU interface system registers (IHI 0069, AArch64 System register descriptions) ---------
  // A register this block does not answer is UNDEFINED to the PE: reads of write-only
  // registers, writes of read-only ones, and EL2/EL3 registers (the PE runs at EL1).

  private systemRegisterRead(cpu: number, encoding: number): bigint | undefined {
    const c = this.cpu[cpu];
    switch (encoding) {
      case ICC.PMR_EL1:
        return BigInt(c.pmr);
      case ICC.IAR0_EL1:
        return BigInt(this.acknowledge(cpu, 0));
      case ICC.IAR1_EL1:
        return BigInt(this.acknowledge(cpu, 1));
      case ICC.HPPIR0_EL1:
        return BigInt(this.highestPending(cpu, 0));
      case ICC.HPPIR1_EL1:
        return BigInt(this.highestPending(cpu, 1));
      case ICC.BPR0_EL1:
        return BigInt(c.bpr0);
      case ICC.BPR1_EL1:
        return BigInt(c.cbpr ? Math.min(c.bpr0 + 1, 7) : c.bpr1);
      case ICC.RPR_EL1:
        return BigInt(this.runningPriority(cpu));
      case ICC.CTLR_EL1:
        // CBPR, EOImode; PRIbits; IDbits 0 (16 bits), no SEIs, A3V 0, RSS 0, PMHE 0.
        return BigInt((c.cbpr ? ICC_CTLR.CBPR : 0) | (c.eoiMode1 ? ICC_CTLR.EOI_MODE : 0) | ((this.parameters.priorityBits - 1) << ICC_CTLR.PRI_BITS_SHIFT));
      case ICC.SRE_EL1:
        return BigInt(ICC_SRE_VALUE);
      case ICC.IGRPEN0_EL1:
        return c.enableGroup0 ? 1n : 0n;
      case ICC.IGRPEN1_EL1:
        return c.enableGroup1 ? 1n : 0n;
    }
    const apr = this.activePriorityRegister(encoding);
    return apr === null ? undefined : BigInt(c.activePriorities[apr.group][apr.word]);
  }

  private systemRegisterWrite(cpu: number, encoding: number, value: bigint): boolean {
    const c = this.cpu[cpu];
    const v = Number(value & 0xffff_ffffn);
    switch (encoding) {
      case ICC.PMR_EL1:
        c.pmr = v & this.priorityMask;
        break;
      case ICC.EOIR0_EL1:
      case ICC.EOIR1_EL1:
        this.endOfInterrupt(cpu, v & INTID_MASK);
        return true;
      case ICC.DIR_EL1:
        this.deactivate(cpu, v & INTID_MASK);
        return true;
      case ICC.BPR0_EL1:
        c.bpr0 = Math.max(v & 7, this.minBinaryPoint);
        break;
      case ICC.BPR1_EL1:
        if (!c.cbpr) c.bpr1 = Math.max(v & 7, this.minBinaryPoint + 1);
        break;
      case ICC.CTLR_EL1:
        c.cbpr = (v & ICC_CTLR.CBPR) !== 0;
        c.eoiMode0 = c.eoiMode1 = (v & ICC_CTLR.EOI_MODE) !== 0;
        break;
      case ICC.SRE_EL1:
        return true; // RAO/WI
      case ICC.IGRPEN0_EL1:
        c.enableGroup0 = (v & 1) !== 0;
        break;
      case ICC.IGRPEN1_EL1:
        c.enableGroup1 = (v & 1) !== 0;
        break;
      case ICC.SGI0R_EL1:
        this.generateSgi(cpu, value, 0);
        return true;
      case ICC.SGI1R_EL1:
        this.generateSgi(cpu, value, 1);
        return true;
      case ICC.ASGI1R_EL1:
        // Group 1 of the other Security state: with one Security state there is none.
        return true;
      default: {
        const apr = this.activePriorityRegister(encoding);
        if (apr === null) return false;
        c.activePriorities[apr.group][apr.word] = v & activePriorityMask(this.preemptionBits);
      }
    }
    this.update();
    return true;
  }

  /** ICC_IAR<g>_EL1: the highest priority pending interrupt if it is of Group g and may preempt; 1023 otherwise. */
  private acknowledge(cpu: number, group: number): number {
    if (!this.selectPending(cpu) || this.selectedGroup !== group || !this.canPreempt(cpu)) return SPURIOUS_INTID;
    return this.activateSelected(cpu);
  }

  /** ICC_HPPIR<g>_EL1: the highest priority pending interrupt if it is of Group g, whatever the priority mask. */
  private highestPending(cpu: number, group: number): number {
    return this.selectPending(cpu) && this.selectedGroup === group ? this.selectedIntid : SPURIOUS_INTID;
  }

  /** ICC_EOIR<g>_EL1: priority drop, and deactivation unless ICC_CTLR_EL1.EOImode. Special INTIDs are ignored. */
  private endOfInterrupt(cpu: number, intid: number): void {
    if (intid >= FIRST_SPECIAL_INTID && intid <= SPURIOUS_INTID) return;
    this.priorityDrop(cpu);
    if (!this.cpu[cpu].eoiMode1) this.deactivate(cpu, intid);
  }

  /**
   * ICC_SGI0R_EL1 / ICC_SGI1R_EL1: SGI INTID to the PEs the target list names at
   * Aff3.Aff2.Aff1.(RS * 16 + bit), or to every other PE with IRM. A target takes it if it
   * has the SGI in the register's group.
   */
  private generateSgi(source: number, value: bigint, group: number): void {
    const lo = Number(value & 0xffff_ffffn);
    const hi = Number((value >> 32n) & 0xffff_ffffn);
    const intid = (lo >>> ICC_SGIR.INTID_SHIFT) & (SGI_COUNT - 1);
    const list = lo & ICC_SGIR.TARGET_LIST_MASK;
    const aff1 = (lo >>> ICC_SGIR.AFF1_SHIFT) & 0xff;
    const aff2 = (hi >>> (ICC_SGIR.AFF2_SHIFT - 32)) & 0xff;
    const aff3 = (hi >>> (ICC_SGIR.AFF3_SHIFT - 32)) & 0xff;
    const everyOther = ((hi >>> (ICC_SGIR.IRM_SHIFT - 32)) & 1) === 1;
    const rangeBase = ((hi >>> (ICC_SGIR.RS_SHIFT - 32)) & 0xf) * 16;
    for (let t = 0; t < this.cpus; t++) {
      const a = this.parameters.affinities[t];
      let targeted: boolean;
      if (everyOther) targeted = t !== source;
      else {
        const aff0 = (a & 0xff) - rangeBase;
        targeted = aff3 === 0 && ((a >>> 16) & 0xff) === aff2 && ((a >>> 8) & 0xff) === aff1 && aff0 >= 0 && aff0 < 16 && ((list >>> aff0) & 1) === 1;
      }
      if (targeted && this.group[t * PRIVATE_INTIDS + intid] === group) this.raiseSgi(t, intid, source);
    }
    this.update();
  }

  /** ICC_AP0R<n>_EL1 / ICC_AP1R<n>_EL1, n below the number the group priority needs; others are UNDEFINED. */
  private activePriorityRegister(encoding: number): { group: 0 | 1; word: number } | null {
    const words = activePriorityWords(this.preemptionBits);
    if (encoding >= ICC.AP0R0_EL1 && encoding < ICC.AP0R0_EL1 + words) return { group: 0, word: encoding - ICC.AP0R0_EL1 };
    if (encoding >= ICC.AP1R0_EL1 && encoding < ICC.AP1R0_EL1 + words) return { group: 1, word: encoding - ICC.AP1R0_EL1 };
    return null;
  }
}
