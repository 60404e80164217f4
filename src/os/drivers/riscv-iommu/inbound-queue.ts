// The consumer side of the two queues the IOMMU writes and software reads: the fault queue
// (specification "Fault/Event-Queue (FQ)") and the page-request queue ("Page-Request-Queue
// (PQ)"). Their protocol is the same (interrupt guidelines): on the queue's ipsr bit, clear
// the error bits (overflow, memory fault) that stopped recording, clear the ipsr bit, then
// consume every entry between head and tail: read it, move head past it, then act on it
// (acting may provoke more entries).

import { Reg } from '../../../formats/riscv-iommu/registers.js';
import type { IommuContext } from './context.js';
import { allocQueue, enableQueue, QueueCsr, type QueueLayout, type QueueRing } from './queue.js';

/** An error bit of the queue's csr, and what to do when it is set. */
export interface InboundQueueError {
  bit: number;
  report(ctx: IommuContext): void;
}

export interface InboundQueueSpec<R> {
  layout: QueueLayout;
  /** The queue's bit in ipsr (fip, pip). */
  ipsrBit: number;
  errors: readonly InboundQueueError[];
  /** Reads the entry at physical `address`. */
  read(address: bigint): R;
  /** Acts on an entry, once its slot is given back. */
  act(entry: R): void;
}

export class InboundQueue<R> {
  private constructor(
    private readonly ctx: IommuContext,
    readonly ring: QueueRing,
    private readonly spec: InboundQueueSpec<R>,
  ) {}

  /** Allocates the ring, programs the base and head registers, and enables the queue. */
  static create<R>(ctx: IommuContext, spec: InboundQueueSpec<R>, log2Entries: number): InboundQueue<R> {
    const ring = allocQueue(ctx, spec.layout, log2Entries);
    ctx.regs.write32(spec.layout.head, 0);
    try {
      enableQueue(ctx, spec.layout);
    } catch (e) {
      ctx.kernel.pages.freePages(ring.page, ring.pages);
      throw e;
    }
    return new InboundQueue(ctx, ring, spec);
  }

  /** The queue's part of the interrupt handler. */
  handle(): void {
    const { regs } = this.ctx;
    const { layout, errors, ipsrBit } = this.spec;
    const csr = regs.read32(layout.csr);
    let set = 0;
    for (const e of errors) {
      if ((csr & e.bit) === 0) continue;
      set |= e.bit;
      e.report(this.ctx);
    }
    // Writing the error bits back (RW1C) restarts recording.
    if (set !== 0) regs.write32(layout.csr, (csr & (QueueCsr.EN | QueueCsr.IE)) | set);
    regs.write32(Reg.ipsr, ipsrBit);
    this.drain();
  }

  /** Consumes every entry the IOMMU has written; returns how many. */
  drain(): number {
    const { regs } = this.ctx;
    const { layout, read, act } = this.spec;
    const n = this.ring.entries;
    let handled = 0;
    for (;;) {
      let head = regs.read32(layout.head) % n;
      const tail = regs.read32(layout.tail);
      if (tail >= n || head === tail) return handled; // empty (or a tail no ring has)
      while (head !== tail) {
        const entry = read(this.ring.address(head));
        head = (head + 1) % n;
        handled++;
        regs.write32(layout.head, head);
        act(entry);
      }
    }
  }
}
