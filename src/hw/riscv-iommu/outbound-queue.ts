// What the two queues the IOMMU produces share (specification "Fault/Event-Queue (FQ)" and
// "Page-Request-Queue (PQ)"): the control register (en, ie, mf, of, on, busy) with its busy
// handshake, the base and head registers software owns, and writing a record's doublewords in
// the configured byte order. Overflow and memory faults latch and stop recording until
// software clears them.

import type { InterruptCauseValue } from '../../formats/riscv-iommu/registers.js';
import { AccessStatus } from '../../sim/physical-memory.js';
import type { SystemBus } from '../../sim/system-bus.js';
import { bswap32 } from '../../sim/u64.js';
import type { Interrupts } from './interrupts.js';
import type { QueueBase } from './queue-base.js';
import type { IommuState } from './state.js';

export abstract class OutboundQueue {
  enabled = false; // fqen / pqen
  interruptEnable = false; // fie / pie
  on = false; // fqon / pqon
  memoryFault = false; // fqmf / pqmf
  overflow = false; // fqof / pqof

  constructor(
    readonly q: QueueBase,
    protected readonly state: IommuState,
    private readonly bus: SystemBus,
    protected readonly interrupts: Interrupts,
    /** The queue's ipsr bit. */
    protected readonly cause: InterruptCauseValue,
  ) {}

  /** Whether the queue's registers exist (the page-request queue only with ATS). */
  protected get implemented(): boolean {
    return true;
  }

  reset(): void {
    this.q.reset();
    this.enabled = this.interruptEnable = this.on = this.memoryFault = this.overflow = false;
  }

  readCsr(): number {
    if (!this.implemented) return 0;
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
    if (!this.implemented || this.q.busy) return; // UNSPECIFIED while busy: the write is dropped
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
    // The ipsr bit is set while ie is 1 and an error bit is 1 (§ ipsr): setting ie with one pending sets it.
    if (this.errorPending()) this.interrupts.raise(this.cause);
  }

  writeBase(value: bigint): void {
    if (!this.implemented || this.q.busy || this.on) return; // UNSPECIFIED while active: the write is dropped
    this.q.writeBase(value);
    this.q.head = 0;
  }

  writeHead(value: number): void {
    if (this.implemented) this.q.head = this.q.wrap(value);
  }

  /** Whether the conditions behind the ipsr bit still hold (for re-latching after a clear). */
  errorPending(): boolean {
    return this.interruptEnable && (this.overflow || this.memoryFault);
  }

  /** Writes one doubleword of a record; false on an access fault (or outside the PAS). */
  protected writeDoubleword(ppn: number, off: number, lo: number, hi: number): boolean {
    if (!this.state.inPas(ppn)) return false;
    const status = this.state.be ? this.bus.write64(ppn, off, bswap32(hi), bswap32(lo)) : this.bus.write64(ppn, off, lo, hi);
    return status !== AccessStatus.AccessFault;
  }
}
