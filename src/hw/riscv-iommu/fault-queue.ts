// The fault/event queue (specification section "Fault/Event-Queue (FQ)"): the IOMMU is the
// producer of 32-byte records; software consumes them and advances fqh. Overflow and memory
// faults latch fqof/fqmf and stop recording until software clears them.

import { CAUSES_REPORTED_DESPITE_DTF, FAULT_RECORD_SIZE } from '../../formats/riscv-iommu/records.js';
import { InterruptCause } from '../../formats/riscv-iommu/registers.js';
import type { SystemBus } from '../../sim/system-bus.js';
import type { Interrupts } from './interrupts.js';
import { OutboundQueue } from './outbound-queue.js';
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

export class FaultQueue extends OutboundQueue {
  readonly stats: FaultQueueStats = { recorded: 0, dropped: 0, suppressedByDtf: 0, overflows: 0, memoryFaults: 0, byCause: new Map() };
  /** Observers of every fault the IOMMU detects, recorded or not (for reports and tests). */
  readonly listeners: ((cause: number, ttyp: number, did: number) => void)[] = [];

  constructor(q: QueueBase, state: IommuState, bus: SystemBus, interrupts: Interrupts) {
    super(q, state, bus, interrupts, InterruptCause.FQ);
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
      this.writeDoubleword(ppn, off, w0lo, w0hi) &&
      this.writeDoubleword(ppn, off + 8, 0, 0) &&
      this.writeDoubleword(ppn, off + 16, iotvalLo, iotvalHi) &&
      this.writeDoubleword(ppn, off + 24, iotval2Lo, iotval2Hi);
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
}
