// What the three queues share (IHI 0070 3.5): a ring of 2^LOG2SIZE entries in memory, aligned
// to its size (at least 32 bytes), described by a *_BASE register (ADDR, LOG2SIZE and the
// read/write-allocate hint), and a producer and a consumer index register whose value is the
// index with a wrap flag just above it (3.5.1). The Command queue's index registers are in
// Page 0; the Event and PRI queues' are in Page 1.

import { QueueBaseLayout, queueIncrement, Reg } from '../../../formats/smmuv3/registers.js';
import { encode } from '../../../formats/bitfield.js';
import type { SmmuContext } from './context.js';

export interface QueueRegisters {
  /** Short name for messages: "cmdq", "eventq", "priq". */
  readonly name: string;
  readonly base: number;
  readonly prod: number;
  readonly cons: number;
  readonly entryBytes: number;
}

export const CMDQ_REGS: QueueRegisters = { name: 'cmdq', base: Reg.CMDQ_BASE, prod: Reg.CMDQ_PROD, cons: Reg.CMDQ_CONS, entryBytes: 16 };
export const EVENTQ_REGS: QueueRegisters = { name: 'eventq', base: Reg.EVENTQ_BASE, prod: Reg.EVENTQ_PROD, cons: Reg.EVENTQ_CONS, entryBytes: 32 };
export const PRIQ_REGS: QueueRegisters = { name: 'priq', base: Reg.PRIQ_BASE, prod: Reg.PRIQ_PROD, cons: Reg.PRIQ_CONS, entryBytes: 16 };

/** A queue's ring in memory. */
export class QueueRing {
  constructor(
    readonly regs: QueueRegisters,
    /** First page number of the ring. */
    readonly page: number,
    readonly log2Entries: number,
  ) {}

  get entries(): number {
    return 2 ** this.log2Entries;
  }

  get pages(): number {
    return Math.max(1, Math.ceil((this.entries * this.regs.entryBytes) / 4096));
  }

  get baseAddress(): bigint {
    return BigInt(this.page) << 12n;
  }

  /** Physical address of the entry at index `pointer` (the wrap flag is ignored). */
  address(pointer: number): bigint {
    const index = pointer & (this.entries - 1);
    return this.baseAddress + BigInt(index * this.regs.entryBytes);
  }

  /** The *_BASE value: ADDR, LOG2SIZE, and RA/WA set as Linux does (Q_BASE_RWA). */
  get baseRegister(): bigint {
    return encode(QueueBaseLayout, { ADDR: this.baseAddress >> 5n, LOG2SIZE: this.log2Entries, RA_WA: 1 });
  }

  /** Mask of the index and wrap bits of a pointer. */
  get pointerMask(): number {
    return (2 << this.log2Entries) - 1;
  }

  next(pointer: number): number {
    return queueIncrement(pointer, this.log2Entries);
  }
}

/** Allocates a zeroed ring of 2^log2Entries entries, naturally aligned (3.5.1, 6.3.26). */
export function allocRing(ctx: SmmuContext, regs: QueueRegisters, log2Entries: number): QueueRing {
  const pages = Math.max(1, Math.ceil((2 ** log2Entries * regs.entryBytes) / 4096));
  const page = ctx.kernel.pages.allocPages(pages, pages);
  return new QueueRing(regs, page, log2Entries);
}

/** Programs *_BASE, PROD and CONS of a ring (both indexes 0), as the reset sequence does before enabling it. */
export function programRing(ctx: SmmuContext, ring: QueueRing): void {
  ctx.regs.write64(ring.regs.base, ring.baseRegister);
  ctx.regs.write32(ring.regs.prod, 0);
  ctx.regs.write32(ring.regs.cons, 0);
}
