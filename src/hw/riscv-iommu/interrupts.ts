// Interrupt generation (specification sections ipsr, icvec and msi_cfg_tbl): four causes
// (CQ, FQ, HPM, PQ) latch pending bits in ipsr; each cause maps through icvec to a vector,
// which is a wire (fctl.WSI=1) or an MSI configuration-table entry (fctl.WSI=0).

import { InterruptCause, Igs } from '../../formats/riscv-iommu/registers.js';
import { InterruptLine } from '../../sim/irq.js';
import type { SystemBus } from '../../sim/system-bus.js';
import { AccessStatus } from '../../sim/physical-memory.js';
import { bswap32 } from '../../sim/u64.js';
import type { IommuState } from './state.js';

export interface MsiTableEntry {
  /** Message address (4-byte aligned). */
  address: bigint;
  data: number;
  masked: boolean;
  /** A message that could not be sent because the vector was masked. */
  pending: boolean;
}

/** Called when an MSI write faults: report "IOMMU MSI write access fault" (cause 273). */
export type MsiFaultReporter = (address: bigint) => void;

/** The per-cause conditions that keep a pending bit set (re-latched after a clear). */
export type ConditionProbe = (cause: number) => boolean;

export class Interrupts {
  /** ipsr: bit 0 cip, bit 1 fip, bit 2 pmip, bit 3 pip. */
  ipsr = 0;
  /** icvec vectors per cause (index InterruptCause). */
  readonly vector = [0, 0, 0, 0];
  readonly msiTable: MsiTableEntry[];
  /** Wired interrupt outputs, one per vector. */
  readonly wires: InterruptLine[];
  /** Messages sent and masked-then-released, for statistics. */
  msisSent = 0;
  msiFaults = 0;
  onMsiFault: MsiFaultReporter = () => undefined;
  /** Whether the enable and error conditions of a cause still hold (set by the owner). */
  stillPending: ConditionProbe = () => false;
  /** Whether a cause's source enables interrupts (cie, fie, pie; HPM has none). */
  enabled: ConditionProbe = () => true;

  private readonly vectorMask: number;

  constructor(
    private readonly state: IommuState,
    private readonly bus: SystemBus,
    vectorBits: number,
    wires?: InterruptLine[],
  ) {
    const vectors = 1 << vectorBits;
    this.vectorMask = vectors - 1;
    this.msiTable = Array.from({ length: 16 }, () => ({ address: 0n, data: 0, masked: false, pending: false }));
    this.wires = wires ?? Array.from({ length: vectors }, (_, v) => new InterruptLine(`riscv-iommu.wsi${v}`));
  }

  get vectors(): number {
    return this.vectorMask + 1;
  }

  reset(): void {
    this.ipsr = 0;
    this.vector.fill(0);
    for (const e of this.msiTable) Object.assign(e, { address: 0n, data: 0, masked: false, pending: false });
    this.updateWires();
  }

  /**
   * The event of a cause (a new record, an error bit set, a fence with WSI, a counter
   * overflow). A pending bit that goes from 0 to 1 signals: an MSI is an edge.
   */
  raise(cause: number): void {
    const bit = 1 << cause;
    if ((this.ipsr & bit) !== 0) return;
    if (!this.enabled(cause)) return;
    this.ipsr |= bit;
    if (this.state.wsi) this.updateWires();
    else this.sendMsi(this.vector[cause]);
  }

  /** ipsr write (RW1C): clears bits, then re-latches those whose conditions still hold. */
  writeIpsr(value: number): void {
    const clear = value & 0xf;
    this.ipsr &= ~clear;
    if (this.state.wsi) this.updateWires();
    for (let cause = 0; cause < 4; cause++) {
      if ((clear & (1 << cause)) !== 0 && cause !== InterruptCause.HPM && this.stillPending(cause)) this.raise(cause);
    }
  }

  readIcvec(): bigint {
    const [c, f, h, p] = this.vector;
    return BigInt(c | (f << 4) | (h << 8) | (p << 12));
  }

  writeIcvec(value: bigint): void {
    const v = Number(value & 0xffffn);
    this.vector[InterruptCause.CQ] = v & 0xf & this.vectorMask;
    this.vector[InterruptCause.FQ] = (v >>> 4) & 0xf & this.vectorMask;
    this.vector[InterruptCause.HPM] = this.state.hpm ? (v >>> 8) & 0xf & this.vectorMask : 0;
    this.vector[InterruptCause.PQ] = this.state.ats ? (v >>> 12) & 0xf & this.vectorMask : 0;
    if (this.state.wsi) this.updateWires();
  }

  /** Whether MSI configuration-table entry `v` exists (IGS allows MSI and v is a vector). */
  hasMsiEntry(v: number): boolean {
    return this.state.igs !== Igs.WSI && v <= this.vectorMask;
  }

  writeMsiAddress(v: number, value: bigint): void {
    if (!this.hasMsiEntry(v)) return;
    const paMask = (1n << BigInt(this.state.pas)) - 1n;
    this.msiTable[v].address = value & paMask & ~3n;
  }

  writeMsiData(v: number, value: number): void {
    if (!this.hasMsiEntry(v)) return;
    this.msiTable[v].data = value >>> 0;
  }

  writeMsiVectorControl(v: number, value: number): void {
    if (!this.hasMsiEntry(v)) return;
    const e = this.msiTable[v];
    const wasMasked = e.masked;
    e.masked = (value & 1) !== 0;
    if (wasMasked && !e.masked && e.pending) {
      e.pending = false;
      this.deliver(e);
    }
  }

  /** The wire level of each vector follows the pending bits mapped to it (fctl.WSI=1). */
  updateWires(): void {
    for (let v = 0; v < this.wires.length; v++) {
      let level = false;
      if (this.state.wsi) {
        for (let cause = 0; cause < 4; cause++) {
          if ((this.ipsr & (1 << cause)) !== 0 && this.vector[cause] === v) level = true;
        }
      }
      this.wires[v].set(level);
    }
  }

  private sendMsi(v: number): void {
    const e = this.msiTable[v];
    if (e.masked) {
      e.pending = true;
      return;
    }
    this.deliver(e);
  }

  private deliver(e: MsiTableEntry): void {
    const ppn = Number(e.address >> 12n);
    const offset = Number(e.address & 0xfffn);
    // fctl.BE also sets the byte order of the IOMMU's MSI writes.
    const data = this.state.be ? bswap32(e.data) : e.data;
    const status = this.state.inPas(ppn) ? this.bus.write32(ppn, offset, data) : AccessStatus.AccessFault;
    if (status === AccessStatus.AccessFault) {
      this.msiFaults++;
      this.onMsiFault(e.address);
      return;
    }
    this.msisSent++;
  }
}
