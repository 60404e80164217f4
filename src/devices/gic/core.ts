// The interrupt state machine both GIC versions share (IHI 0048B chapter 3, IHI 0069 chapter
// 4): per-interrupt enable, group, priority, trigger, pending and active state; per-PE
// priority mask, binary points and active priorities; selection of the highest priority
// pending interrupt, acknowledge, priority drop and deactivation; and the IRQ/FIQ outputs.
//
// Interrupts live in slots: the 32 private INTIDs (SGIs 0-15, PPIs 16-31) of PE c in slots
// 32c..32c+31, then the SPIs. Ties between equal priorities go to the lowest INTID (the
// architecture leaves the choice to the implementation).

import { InterruptLine } from '../../sim/irq.js';
import type { GicParameters } from './parameters.js';
import { SPURIOUS_INTID } from './registers.js';

export const SGI_COUNT = 16;
export const PRIVATE_INTIDS = 32;

/** The state of one PE's CPU interface (GICC_* for GICv2, ICC_* for GICv3). */
export class CpuInterfaceState {
  enableGroup0 = false;
  enableGroup1 = false;
  /** Group 0 is signalled as FIQ: GICC_CTLR.FIQEn in GICv2, always in GICv3. */
  fiqForGroup0: boolean;
  /** GICv2 GICC_CTLR.AckCtl: GICC_IAR also acknowledges Group 1 interrupts. */
  ackCtl = false;
  /** Common binary point: BPR0 sets the preemption of both groups. */
  cbpr = false;
  /** Split priority drop and deactivation, per group (GICv3 has one bit for both). */
  eoiMode0 = false;
  eoiMode1 = false;
  pmr = 0;
  bpr0: number;
  bpr1: number;
  /** Active group priorities of Group 0 and Group 1: bit k is group priority k << (8 - preemption bits). */
  readonly activePriorities: [Uint32Array, Uint32Array] = [new Uint32Array(4), new Uint32Array(4)];
  /** GICv3 GICR_WAKER.ProcessorSleep: the Redistributor of a sleeping PE forwards nothing. */
  asleep: boolean;
  /** Any other bits software wrote to the control register and reads back. */
  otherControlBits = 0;

  constructor(version: 2 | 3, minBinaryPoint: number) {
    this.fiqForGroup0 = version === 3;
    this.bpr0 = minBinaryPoint;
    this.bpr1 = Math.min(minBinaryPoint + 1, 7);
    this.asleep = version === 3;
  }
}

export class GicCore {
  readonly parameters: GicParameters;
  readonly cpus: number;
  readonly spis: number;
  /** SPI inputs: SPI n (INTID 32 + n) is spiInputs[n]. */
  readonly spiInputs: InterruptLine[];
  /** PPI inputs of each PE: PPI n (INTID 16 + n) of PE c is ppiInputs[c][n]. */
  readonly ppiInputs: InterruptLine[][];
  /** Outputs to each PE. */
  readonly irqOutputs: InterruptLine[];
  readonly fiqOutputs: InterruptLine[];
  readonly cpu: CpuInterfaceState[];
  /** Distributor group enables (GICD_CTLR.EnableGrp0/1). */
  enableGroup0 = false;
  enableGroup1 = false;

  readonly enabled: Uint8Array;
  readonly group: Uint8Array;
  readonly priority: Uint8Array;
  /** 1: edge-triggered; 0: level-sensitive. */
  readonly edge: Uint8Array;
  /** The pending latch: an edge seen, or a software set-pending (level interrupts). */
  readonly latch: Uint8Array;
  /** The input level of wired interrupts. */
  readonly level: Uint8Array;
  readonly active: Uint8Array;
  /** GICv2 SGIs: the PEs that requested the SGI, one bit per source PE (pending per source, IHI 0048B chapter 3). */
  readonly sgiSources: Uint8Array;
  /** GICv2 GICD_ITARGETSR of each SPI. */
  readonly targets: Uint8Array;
  /** GICv3 GICD_IROUTER of each SPI: the affinity, and Interrupt_Routing_Mode. */
  readonly route: Uint32Array;
  readonly routeAny: Uint8Array;

  /** Implemented bits of priority fields. */
  readonly priorityMask: number;
  /** Bits of a group priority (of the active-priority registers). */
  readonly preemptionBits: number;
  /** The smallest GICC_BPR / ICC_BPR0_EL1 value; Group 1's is one more. */
  readonly minBinaryPoint: number;

  // The interrupt selectPending() found, read by the front ends before they activate it.
  protected selectedSlot = -1;
  protected selectedIntid = SPURIOUS_INTID;
  protected selectedPriority = 0xff;
  protected selectedGroup = 0;
  protected selectedSource = 0;

  constructor(
    readonly name: string,
    readonly version: 2 | 3,
    parameters: GicParameters,
  ) {
    this.parameters = parameters;
    this.cpus = parameters.cpus;
    this.spis = parameters.spis;
    this.priorityMask = (0xff << (8 - parameters.priorityBits)) & 0xff;
    this.preemptionBits = Math.min(parameters.priorityBits, 7);
    this.minBinaryPoint = 7 - this.preemptionBits;
    const slots = this.cpus * PRIVATE_INTIDS + this.spis;
    this.enabled = new Uint8Array(slots);
    this.group = new Uint8Array(slots);
    this.priority = new Uint8Array(slots);
    this.edge = new Uint8Array(slots);
    this.latch = new Uint8Array(slots);
    this.level = new Uint8Array(slots);
    this.active = new Uint8Array(slots);
    this.sgiSources = new Uint8Array(this.cpus * PRIVATE_INTIDS);
    this.targets = new Uint8Array(this.spis);
    this.route = new Uint32Array(this.spis);
    this.routeAny = new Uint8Array(this.spis);
    // SGIs are edge-triggered; PPIs and SPIs reset level-sensitive.
    for (let c = 0; c < this.cpus; c++) this.edge.fill(1, c * PRIVATE_INTIDS, c * PRIVATE_INTIDS + SGI_COUNT);
    this.cpu = Array.from({ length: this.cpus }, () => new CpuInterfaceState(version, this.minBinaryPoint));
    this.irqOutputs = Array.from({ length: this.cpus }, (_, c) => new InterruptLine(`${name}.cpu${c}.irq`));
    this.fiqOutputs = Array.from({ length: this.cpus }, (_, c) => new InterruptLine(`${name}.cpu${c}.fiq`));
    this.spiInputs = Array.from({ length: this.spis }, (_, n) => this.wire(`${name}.spi${n}`, this.cpus * PRIVATE_INTIDS + n));
    this.ppiInputs = Array.from({ length: this.cpus }, (_, c) =>
      Array.from({ length: PRIVATE_INTIDS - SGI_COUNT }, (_, n) => this.wire(`${name}.cpu${c}.ppi${n}`, c * PRIVATE_INTIDS + SGI_COUNT + n)),
    );
  }

  /** The input wire of `intid`: a PPI of PE `cpu` (16-31) or an SPI; undefined for SGIs and unimplemented INTIDs. */
  input(intid: number, cpu = 0): InterruptLine | undefined {
    if (intid >= PRIVATE_INTIDS) return this.spiInputs[intid - PRIVATE_INTIDS];
    if (intid >= SGI_COUNT) return this.ppiInputs[cpu]?.[intid - SGI_COUNT];
    return undefined;
  }

  /** The slot of `intid` as PE `cpu` sees it, or -1 when the INTID is not implemented. */
  slotOf(cpu: number, intid: number): number {
    if (intid < 0) return -1;
    if (intid < PRIVATE_INTIDS) return cpu * PRIVATE_INTIDS + intid;
    const n = intid - PRIVATE_INTIDS;
    return n < this.spis ? this.cpus * PRIVATE_INTIDS + n : -1;
  }

  /** Pending (the interrupt state machines of IHI 0048B chapter 3, IHI 0069 chapter 4): latched, or a level-sensitive input asserted. */
  isPending(slot: number, intid: number): boolean {
    if (this.version === 2 && intid < SGI_COUNT) return this.sgiSources[slot] !== 0;
    return this.latch[slot] === 1 || (this.level[slot] === 1 && this.edge[slot] === 0);
  }

  /** Whether PE `cpu` takes interrupts of `group` (enabled in the Distributor and its CPU interface). */
  groupEnabled(cpu: number, group: number): boolean {
    const c = this.cpu[cpu];
    return group === 0 ? this.enableGroup0 && c.enableGroup0 : this.enableGroup1 && c.enableGroup1;
  }

  /** The group priority of `priority` under `cpu`'s binary points (priority grouping, IHI 0048B 3.3, IHI 0069 4.8). */
  groupPriority(cpu: number, priority: number, group: number): number {
    const c = this.cpu[cpu];
    const mask = group === 0 || c.cbpr ? 0xff << (c.bpr0 + 1) : 0xff << c.bpr1;
    return priority & mask & 0xff;
  }

  /** The running priority: the highest active group priority, 0xff when idle. */
  runningPriority(cpu: number): number {
    const a = this.cpu[cpu].activePriorities;
    for (let w = 0; w < 4; w++) {
      const bits = a[0][w] | a[1][w];
      if (bits !== 0) return ((w * 32 + ctz(bits)) << (8 - this.preemptionBits)) & 0xff;
    }
    return 0xff;
  }

  /**
   * Finds the highest priority pending interrupt PE `cpu` can take: enabled, pending, not
   * active, its group enabled, forwarded to the PE. Fills the selected* fields; false when none.
   */
  protected selectPending(cpu: number): boolean {
    this.selectedSlot = -1;
    this.selectedIntid = SPURIOUS_INTID;
    let best = 0x100;
    if (this.version === 3 && this.cpu[cpu].asleep) return false;
    const base = cpu * PRIVATE_INTIDS;
    for (let intid = 0; intid < PRIVATE_INTIDS; intid++) {
      const slot = base + intid;
      if (this.priority[slot] < best && this.candidate(cpu, slot, intid)) {
        best = this.priority[slot];
        this.selectedSlot = slot;
        this.selectedIntid = intid;
      }
    }
    const spiBase = this.cpus * PRIVATE_INTIDS;
    for (let n = 0; n < this.spis; n++) {
      const slot = spiBase + n;
      if (this.priority[slot] < best && this.candidate(cpu, slot, n + PRIVATE_INTIDS) && this.forwarded(cpu, n)) {
        best = this.priority[slot];
        this.selectedSlot = slot;
        this.selectedIntid = n + PRIVATE_INTIDS;
      }
    }
    if (this.selectedSlot < 0) return false;
    this.selectedPriority = best;
    this.selectedGroup = this.group[this.selectedSlot];
    this.selectedSource = this.version === 2 && this.selectedIntid < SGI_COUNT ? ctz(this.sgiSources[this.selectedSlot]) : 0;
    return true;
  }

  /** Whether the selected interrupt is above the priority mask and preempts the running priority (IHI 0048B 3.3, IHI 0069 4.8). */
  protected canPreempt(cpu: number): boolean {
    return this.selectedPriority < this.cpu[cpu].pmr && this.groupPriority(cpu, this.selectedPriority, this.selectedGroup) < this.runningPriority(cpu);
  }

  /** The value an acknowledge of the selected interrupt returns: GICv2 SGIs carry their source PE in bits 12:10. */
  protected selectedValue(): number {
    return this.version === 2 && this.selectedIntid < SGI_COUNT ? (this.selectedSource << 10) | this.selectedIntid : this.selectedIntid;
  }

  /** Acknowledges the selected interrupt: pending to active (or active and pending), its group priority becomes active. */
  protected activateSelected(cpu: number): number {
    const slot = this.selectedSlot;
    const value = this.selectedValue();
    if (this.version === 2 && this.selectedIntid < SGI_COUNT) this.sgiSources[slot] &= ~(1 << this.selectedSource);
    else this.latch[slot] = 0; // a level input still asserted keeps the interrupt pending
    this.active[slot] = 1;
    const index = this.groupPriority(cpu, this.selectedPriority, this.selectedGroup) >> (8 - this.preemptionBits);
    this.cpu[cpu].activePriorities[this.selectedGroup][index >>> 5] |= 1 << (index & 31);
    this.update();
    return value;
  }

  /** Priority drop: the highest active priority is no longer active. False when none was. */
  protected priorityDrop(cpu: number): boolean {
    const a = this.cpu[cpu].activePriorities;
    for (let w = 0; w < 4; w++) {
      const bits = a[0][w] | a[1][w];
      if (bits === 0) continue;
      const bit = 1 << ctz(bits);
      if ((a[0][w] & bit) !== 0) a[0][w] &= ~bit;
      else a[1][w] &= ~bit;
      this.update();
      return true;
    }
    return false;
  }

  /** Deactivation of `intid` as PE `cpu` names it; an unimplemented or inactive INTID is ignored. */
  protected deactivate(cpu: number, intid: number): void {
    const slot = this.slotOf(cpu, intid);
    if (slot < 0 || this.active[slot] === 0) return;
    this.active[slot] = 0;
    this.update();
  }

  /** A GICv2 SGI from PE `source`, or a GICv3 SGI, becomes pending at PE `target`. */
  protected raiseSgi(target: number, intid: number, source: number): void {
    const slot = target * PRIVATE_INTIDS + intid;
    if (this.version === 2) this.sgiSources[slot] |= 1 << source;
    else this.latch[slot] = 1;
  }

  /** Recomputes every PE's IRQ and FIQ after a change of state. */
  update(): void {
    for (let c = 0; c < this.cpus; c++) {
      let irq = false;
      let fiq = false;
      if (this.selectPending(c) && this.canPreempt(c)) {
        if (this.selectedGroup === 0 && this.cpu[c].fiqForGroup0) fiq = true;
        else irq = true;
      }
      this.irqOutputs[c].set(irq);
      this.fiqOutputs[c].set(fiq);
    }
  }

  private candidate(cpu: number, slot: number, intid: number): boolean {
    return this.enabled[slot] === 1 && this.active[slot] === 0 && this.isPending(slot, intid) && this.groupEnabled(cpu, this.group[slot]);
  }

  /** Whether SPI n goes to PE `cpu`: GICv2 by its targets, GICv3 by IROUTER. */
  private forwarded(cpu: number, n: number): boolean {
    if (this.version === 2) return this.cpus === 1 || ((this.targets[n] >>> cpu) & 1) === 1;
    if (this.routeAny[n] === 0) return this.route[n] === this.parameters.affinities[cpu];
    // 1 of N: the lowest-numbered awake PE that takes the interrupt's group (which
    // participating PE gets it is IMPLEMENTATION DEFINED). `cpu` is awake here.
    const group = this.group[this.cpus * PRIVATE_INTIDS + n];
    for (let c = 0; c < this.cpus; c++) {
      if (!this.cpu[c].asleep && this.groupEnabled(c, group)) return c === cpu;
    }
    return false;
  }

  private wire(name: string, slot: number): InterruptLine {
    const line = new InterruptLine(name);
    line.onChange((level) => {
      this.level[slot] = level ? 1 : 0;
      if (level && this.edge[slot] === 1) this.latch[slot] = 1;
      this.update();
    });
    return line;
  }
}

/** The 32-bit active-priority registers a group needs: one bit per group priority value. */
export function activePriorityWords(preemptionBits: number): number {
  return Math.max(1, (1 << preemptionBits) >> 5);
}

/** The implemented bits of each active-priority register (fewer than 32 with 4 preemption bits). */
export function activePriorityMask(preemptionBits: number): number {
  return preemptionBits >= 5 ? 0xffff_ffff : (1 << (1 << preemptionBits)) - 1;
}

/** Count of trailing zero bits of a non-zero 32-bit value. */
function ctz(v: number): number {
  return 31 - Math.clz32(v & -v);
}
