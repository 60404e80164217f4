// The per-interrupt registers, GICD_IGROUPR<n> through GICD_NSACR<n> (IHI 0048B 4.3.4-4.3.14;
// IHI 0069's Distributor and Redistributor register descriptions), which the GICv2
// Distributor, the GICv3 Distributor (SPIs) and the GICv3 Redistributor's SGI_base frame
// (SGIs and PPIs) lay out alike. A frame holds the INTIDs
// [first, end); other INTIDs, and unimplemented ones, read as zero and ignore writes.
//
// IPRIORITYR and ITARGETSR are byte-accessible; every other register takes 32-bit accesses
// only. An access of another size or alignment reads as zero and is ignored (the
// architecture leaves its effect UNPREDICTABLE).

import type { MmioSize } from '../../sim/mmio.js';
import { SGI_COUNT, PRIVATE_INTIDS, type GicCore } from './core.js';
import { GICD } from './registers.js';

// The one-bit-per-interrupt registers, in offset order from GICD_IGROUPR.
const IGROUPR = 0;
const ISENABLER = 1;
const ICENABLER = 2;
const ISPENDR = 3;
const ICPENDR = 4;
const ISACTIVER = 5;
const ICACTIVER = 6;

export class InterruptRegisters {
  constructor(
    private readonly core: GicCore,
    /** The INTIDs this frame holds: [first, end). */
    private readonly first: number,
    private readonly end: number,
  ) {}

  /** Whether `offset` is one of the per-interrupt registers. */
  static covers(offset: number): boolean {
    return offset >= GICD.IGROUPR && offset < GICD.PER_INTERRUPT_END;
  }

  /** A read by PE `cpu` (whose private interrupts a banked register shows). */
  read(cpu: number, offset: number, size: MmioSize): number {
    if (!this.sizeOk(offset, size)) return 0;
    if (offset < GICD.IPRIORITYR) return this.readBits(cpu, offset);
    if (offset < GICD.ICFGR) {
      let v = 0;
      for (let i = size - 1; i >= 0; i--) v = (v << 8) | this.readByte(cpu, offset + i);
      return v >>> 0;
    }
    if (offset < GICD.IGRPMODR) return this.readConfig(cpu, offset);
    // IGRPMODR and NSACR exist only with two Security states: RAZ/WI here.
    return 0;
  }

  write(cpu: number, offset: number, size: MmioSize, value: number): void {
    if (!this.sizeOk(offset, size)) return;
    if (offset < GICD.IPRIORITYR) this.writeBits(cpu, offset, value);
    else if (offset < GICD.ICFGR) for (let i = 0; i < size; i++) this.writeByte(cpu, offset + i, (value >>> (8 * i)) & 0xff);
    else if (offset < GICD.IGRPMODR) this.writeConfig(cpu, offset, value);
    else return;
    this.core.update();
  }

  private sizeOk(offset: number, size: MmioSize): boolean {
    const byteAccessible = offset >= GICD.IPRIORITYR && offset < GICD.ICFGR;
    if (size === 4) return (offset & 3) === 0;
    return size === 1 && byteAccessible;
  }

  /** The slot of `intid` if this frame holds it and it is implemented, else -1. */
  private slot(cpu: number, intid: number): number {
    return intid >= this.first && intid < this.end ? this.core.slotOf(cpu, intid) : -1;
  }

  private readBits(cpu: number, offset: number): number {
    const kind = (offset - GICD.IGROUPR) >> 7;
    const base = ((offset & 0x7f) >> 2) * 32;
    const c = this.core;
    let v = 0;
    for (let b = 0; b < 32; b++) {
      const intid = base + b;
      const slot = this.slot(cpu, intid);
      if (slot < 0) continue;
      let bit: number;
      switch (kind) {
        case IGROUPR:
          bit = c.group[slot];
          break;
        case ISENABLER:
        case ICENABLER:
          bit = this.sgiPermanentlyEnabled(intid) ? 1 : c.enabled[slot];
          break;
        case ISPENDR:
        case ICPENDR:
          bit = c.isPending(slot, intid) ? 1 : 0;
          break;
        default:
          bit = c.active[slot];
      }
      v |= bit << b;
    }
    return v >>> 0;
  }

  private writeBits(cpu: number, offset: number, value: number): void {
    const kind = (offset - GICD.IGROUPR) >> 7;
    const base = ((offset & 0x7f) >> 2) * 32;
    const c = this.core;
    for (let b = 0; b < 32; b++) {
      const intid = base + b;
      const slot = this.slot(cpu, intid);
      if (slot < 0) continue;
      const bit = (value >>> b) & 1;
      if (kind === IGROUPR) {
        c.group[slot] = bit;
        continue;
      }
      if (bit === 0) continue; // set/clear registers: writing 0 has no effect
      // GICv2 SGIs are made pending per source, through GICD_SGIR and GICD_[S|C]PENDSGIR.
      const v2Sgi = c.version === 2 && intid < SGI_COUNT;
      switch (kind) {
        case ISENABLER:
          c.enabled[slot] = 1;
          break;
        case ICENABLER:
          if (!this.sgiPermanentlyEnabled(intid)) c.enabled[slot] = 0;
          break;
        case ISPENDR:
          if (!v2Sgi) c.latch[slot] = 1;
          break;
        case ICPENDR:
          if (!v2Sgi) c.latch[slot] = 0;
          break;
        case ISACTIVER:
          c.active[slot] = 1;
          break;
        case ICACTIVER:
          c.active[slot] = 0;
          break;
      }
    }
  }

  private sgiPermanentlyEnabled(intid: number): boolean {
    return this.core.version === 2 && intid < SGI_COUNT && this.core.parameters.sgisAlwaysEnabled;
  }

  private readByte(cpu: number, offset: number): number {
    const c = this.core;
    if (offset < GICD.ITARGETSR) {
      const slot = this.slot(cpu, offset - GICD.IPRIORITYR);
      return slot < 0 ? 0 : c.priority[slot];
    }
    // GICD_ITARGETSR: GICv2 only (with affinity routing the range is RES0). A uniprocessor
    // GIC has them RAZ/WI; the private interrupts' fields name the reading PE.
    const intid = offset - GICD.ITARGETSR;
    if (c.version !== 2 || c.cpus === 1 || this.slot(cpu, intid) < 0) return 0;
    return intid < PRIVATE_INTIDS ? 1 << cpu : c.targets[intid - PRIVATE_INTIDS];
  }

  private writeByte(cpu: number, offset: number, value: number): void {
    const c = this.core;
    if (offset < GICD.ITARGETSR) {
      const slot = this.slot(cpu, offset - GICD.IPRIORITYR);
      if (slot >= 0) c.priority[slot] = value & c.priorityMask;
      return;
    }
    const intid = offset - GICD.ITARGETSR;
    if (c.version !== 2 || c.cpus === 1 || intid < PRIVATE_INTIDS || this.slot(cpu, intid) < 0) return;
    c.targets[intid - PRIVATE_INTIDS] = value & ((1 << c.cpus) - 1);
  }

  /** GICD_ICFGR: two bits per interrupt, Int_config[1] (edge) in the upper one. */
  private readConfig(cpu: number, offset: number): number {
    const base = ((offset - GICD.ICFGR) >> 2) * 16;
    let v = 0;
    for (let i = 0; i < 16; i++) {
      const slot = this.slot(cpu, base + i);
      if (slot >= 0 && this.core.edge[slot] === 1) v |= 2 << (2 * i);
    }
    return v >>> 0;
  }

  private writeConfig(cpu: number, offset: number, value: number): void {
    const base = ((offset - GICD.ICFGR) >> 2) * 16;
    const c = this.core;
    for (let i = 0; i < 16; i++) {
      const intid = base + i;
      const slot = this.slot(cpu, intid);
      // SGIs are always edge-triggered; PPIs only when the implementation lets software choose.
      if (slot < 0 || intid < SGI_COUNT || (intid < PRIVATE_INTIDS && !c.parameters.ppiTriggerProgrammable)) continue;
      c.edge[slot] = (value >>> (2 * i + 1)) & 1;
    }
  }
}
