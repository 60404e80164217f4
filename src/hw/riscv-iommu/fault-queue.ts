// The fault/event queue (specification section "Fault/Event-Queue (FQ)"): the IOMMU is the
// producer of 32-byte records; software consumes them and advances fqh. Overflow and memory
// faults latch fqof/fqmf and stop recording until software clears them.

import { CAUSES_REPORTED_DESPITE_DTF, FAULT_RECORD_SIZE } from '../../formats/riscv-iommu/records.js';
import { InterruptCause } from '../../formats/riscv-iommu/registers.js';
import { AccessStatus } from '../../sim/physical-memory.js';
import type { SystemBus } from '../../sim/system-bus.js';
import { bswap32 } from '../../sim/u64.js';
import type { Interrupts } from './interrupts.js';
import type { QueueBase } from './queue-base.js';
import type { IommuState } from './state.js';

export interface FaultQueueStats {
  recorded: number;
  /** Faults not recorded: queue off, in error, full, or suppressed by DC.tc.DTF. */
  dropped: number;
  suppressedByDtf: number;
  overflows: number;
  memoryFaults: number;
  /** Records written, by cause code. */
  byCause: Map<number, number>;
}

export class FaultQueue {
  enabled = false; // fqen
  interruptEnable = false; // fie
  on = false; // fqon
  memoryFault = false; // fqmf
  overflow = false; // fqof
  readonly stats: FaultQueueStats = { recorded: 0, dropped: 0, suppressedByDtf: 0, overflows: 0, memoryFaults: 0, byCause: new Map() };
  /** Observers of every fault the IOMMU detects, recorded or not (for reports and tests). */
  readonly listeners: ((cause: number, ttyp: number, did: number) => void)[] = [];

  constructor(
    readonly q: QueueBase,
    private readonly state: IommuState,
    private readonly bus: SystemBus,
    private readonly interrupts: Interrupts,
  ) {}

  reset(): void {
    this.q.reset();
    this.enabled = this.interruptEnable = this.on = this.memoryFault = this.overflow = false;
  }

  readCsr(): number {
    return (
      (this.enabled ? 1 : 0) |
      (this.interruptEnable ? 2 : 0) |
      (this.memoryFault ? 1 << 8 : 0) |
      (this.overflow ? 1 << 9 : 0) |
      (this.on ? 1 << 16 : 0) |
      (this.q.busy ? 1 << 17 : 0)
    );
  }

  writeCsr(value: number): void {
    if (this.q.busy) return; // UNSPECIFIED while busy: the write is dropped
    this.interruptEnable = (value & 2) !== 0;
    if ((value & (1 << 8)) !== 0) this.memoryFault = false;
    if ((value & (1 << 9)) !== 0) this.overflow = false;
    const en = (value & 1) !== 0;
    if (en !== this.enabled) {
      this.enabled = en;
      // Turning the queue on or off takes effect when the busy handshake completes.
      this.q.control(() => {
        if (en) {
          this.q.tail = 0;
          this.memoryFault = false;
          this.overflow = false;
        }
        this.on = en;
      });
    }
    // fip is set while fie is 1 and an error bit is 1 (§ ipsr): setting fie with one pending sets it.
    if (this.errorPending()) this.interrupts.raise(InterruptCause.FQ);
  }

  writeBase(value: bigint): void {
    if (this.q.busy || this.on) return; // UNSPECIFIED while active: the write is dropped
    this.q.writeBase(value);
    this.q.head = 0;
  }

  writeHead(value: number): void {
    this.q.head = this.q.wrap(value);
  }

  /** Whether the conditions behind ipsr.fip still hold (for re-latching after a clear). */
  errorPending(): boolean {
    return this.interruptEnable && (this.overflow || this.memoryFault);
  }

  /**
   * Reports a fault. `dtf` is DC.tc.DTF of the device (0 when no device context was found).
   * iotval and iotval2 travel as 32-bit halves.
   */
  report(cause: number, ttyp: number, did: number, pv: boolean, pid: number, priv: boolean, iotvalHi: number, iotvalLo: number, iotval2Hi: number, iotval2Lo: number, dtf: boolean): void {
    for (const l of this.listeners) l(cause, ttyp, did);
    if (dtf && !CAUSES_REPORTED_DESPITE_DTF.has(cause)) {
      this.stats.suppressedByDtf++;
      this.stats.dropped++;
      return;
    }
    if (!this.on || !this.enabled || this.memoryFault || this.overflow) {
      this.stats.dropped++;
      return;
    }
    const q = this.q;
    if (q.isFull()) {
      this.overflow = true;
      this.stats.overflows++;
      this.stats.dropped++;
      this.interrupts.raise(InterruptCause.FQ);
      return;
    }
    // Record fields not meaningful for the transaction are zero (PID and PRIV without PV).
    const w0lo = ((cause & 0xfff) | ((pv ? pid & 0xfffff : 0) << 12)) >>> 0;
    const w0hi = ((pv ? 1 : 0) | (pv && priv ? 2 : 0) | ((ttyp & 0x3f) << 2) | ((did & 0xffffff) << 8)) >>> 0;
    const ppn = q.entryPage(q.tail, FAULT_RECORD_SIZE);
    const off = q.entryOffset(q.tail, FAULT_RECORD_SIZE);
    const ok =
      this.write(ppn, off, w0lo, w0hi) &&
      this.write(ppn, off + 8, 0, 0) &&
      this.write(ppn, off + 16, iotvalLo, iotvalHi) &&
      this.write(ppn, off + 24, iotval2Lo, iotval2Hi);
    if (!ok) {
      this.memoryFault = true;
      this.stats.memoryFaults++;
      this.stats.dropped++;
    } else {
      q.tail = q.next(q.tail);
      this.stats.recorded++;
      this.stats.byCause.set(cause, (this.stats.byCause.get(cause) ?? 0) + 1);
    }
    this.interrupts.raise(InterruptCause.FQ);
  }

  private write(ppn: number, off: number, lo: number, hi: number): boolean {
    if (!this.state.inPas(ppn)) return false;
    const status = this.state.be ? this.bus.write64(ppn, off, bswap32(hi), bswap32(lo)) : this.bus.write64(ppn, off, lo, hi);
    return status !== AccessStatus.AccessFault;
  }
}
