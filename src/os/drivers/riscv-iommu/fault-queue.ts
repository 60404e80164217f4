// The fault queue, consumer side (specification "Fault/Event-Queue (FQ)" and the interrupt
// guidelines): on fip, clear the error bits (fqof, fqmf) that stopped recording, clear fip,
// then read every record between fqh and fqt and advance fqh past them.

import { FqcsrLayout, IpsrLayout, Reg } from '../../../formats/riscv-iommu/registers.js';
import { hex } from '../../../sim/u64.js';
import type { IommuContext } from './context.js';
import { decodeFaultRecord, type FaultRecord } from './fault-record.js';
import { allocQueue, enableQueue, FQ_LAYOUT, QueueCsr, type QueueRing } from './queue.js';

/** Linux's default fault-queue length. */
export const FQ_LOG2_ENTRIES = 12;

const FQCSR_FQMF = 1 << FqcsrLayout.fqmf.lsb;
const FQCSR_FQOF = 1 << FqcsrLayout.fqof.lsb;
const IPSR_FIP = 1 << IpsrLayout.fip.lsb;

export class FaultQueue {
  private constructor(
    private readonly ctx: IommuContext,
    readonly ring: QueueRing,
    private readonly onRecord: (record: FaultRecord) => void,
  ) {}

  /** Allocates the ring, programs fqb and fqh, and enables the queue. */
  static create(ctx: IommuContext, onRecord: (record: FaultRecord) => void, log2Entries = FQ_LOG2_ENTRIES): FaultQueue {
    const ring = allocQueue(ctx, FQ_LAYOUT, log2Entries);
    ctx.regs.write32(Reg.fqh, 0);
    try {
      enableQueue(ctx, FQ_LAYOUT);
    } catch (e) {
      ctx.kernel.pages.freePages(ring.page, ring.pages);
      throw e;
    }
    return new FaultQueue(ctx, ring, onRecord);
  }

  /** The fip part of the interrupt handler. */
  handle(): void {
    const { regs, kernel, name, stats } = this.ctx;
    const csr = regs.read32(Reg.fqcsr);
    const errors = csr & (FQCSR_FQMF | FQCSR_FQOF);
    if (errors !== 0) {
      if ((errors & FQCSR_FQOF) !== 0) {
        stats.queueErrors.faultQueueOverflow++;
        kernel.log.error(name, 'fault queue overflow (fqof): records were dropped; recording resumes');
      }
      if ((errors & FQCSR_FQMF) !== 0) {
        stats.queueErrors.faultQueueMemoryFault++;
        kernel.log.error(name, `fault queue memory fault (fqmf) writing a record at fqt=${regs.read32(Reg.fqt)} (ring at ${hex(this.ring.address(0))}); recording resumes`);
      }
      regs.write32(Reg.fqcsr, (csr & (QueueCsr.EN | QueueCsr.IE)) | errors);
    }
    regs.write32(Reg.ipsr, IPSR_FIP);
    this.drain();
  }

  /** Consumes every record the IOMMU has written; returns how many. */
  drain(): number {
    const { regs, kernel } = this.ctx;
    const n = this.ring.entries;
    let handled = 0;
    for (;;) {
      let head = regs.read32(Reg.fqh) % n;
      const tail = regs.read32(Reg.fqt);
      if (tail >= n || head === tail) return handled; // empty (or a tail no ring has)
      while (head !== tail) {
        const a = this.ring.address(head);
        const m = kernel.memory;
        const record = decodeFaultRecord([m.read(a, 8), m.read(a + 8n, 8), m.read(a + 16n, 8), m.read(a + 24n, 8)]);
        head = (head + 1) % n;
        handled++;
        // Release the slot before reporting: a handler may provoke more faults.
        regs.write32(Reg.fqh, head);
        this.onRecord(record);
      }
    }
  }
}
