// What the three in-memory queues share (specification "In-memory queue interface" and the
// initialization guidelines): a power-of-two ring naturally aligned to its size (at least
// 4 KiB), a base register whose LOG2SZ-1 field is WARL, and a control register whose busy
// bit and on bit acknowledge enabling.

import { Reg } from '../../../formats/riscv-iommu/registers.js';
import { hex } from '../../../sim/u64.js';
import type { IommuContext } from './context.js';
import { RiscvIommuError } from './errors.js';
import { pollUntil } from '../../kernel/poll.js';

export interface QueueLayout {
  /** Short name for messages: "command", "fault", "page-request". */
  readonly name: string;
  readonly base: number;
  readonly head: number;
  readonly tail: number;
  readonly csr: number;
  readonly entrySize: number;
}

export const CQ_LAYOUT: QueueLayout = { name: 'command', base: Reg.cqb, head: Reg.cqh, tail: Reg.cqt, csr: Reg.cqcsr, entrySize: 16 };
export const FQ_LAYOUT: QueueLayout = { name: 'fault', base: Reg.fqb, head: Reg.fqh, tail: Reg.fqt, csr: Reg.fqcsr, entrySize: 32 };
export const PQ_LAYOUT: QueueLayout = { name: 'page-request', base: Reg.pqb, head: Reg.pqh, tail: Reg.pqt, csr: Reg.pqcsr, entrySize: 16 };

/** Control-register bits shared by cqcsr, fqcsr and pqcsr. */
export const QueueCsr = { EN: 1, IE: 2, MF: 1 << 8, ON: 1 << 16, BUSY: 1 << 17 } as const;

/** A queue's ring in memory. */
export class QueueRing {
  constructor(
    readonly layout: QueueLayout,
    /** First page number of the ring. */
    readonly page: number,
    readonly entries: number,
  ) {}

  get pages(): number {
    return Math.max(1, (this.entries * this.layout.entrySize) / 4096);
  }

  /** Physical address of entry `index`. */
  address(index: number): bigint {
    return (BigInt(this.page) << 12n) + BigInt(index * this.layout.entrySize);
  }
}

/**
 * Allocates a ring of up to 2^log2Entries entries (fewer when the hardware's LOG2SZ-1 field
 * holds fewer bits) and programs the base register, checking that the hardware kept it.
 */
export function allocQueue(ctx: IommuContext, layout: QueueLayout, log2Entries: number): QueueRing {
  const { regs, kernel } = ctx;
  // LOG2SZ-1 is WARL: write all ones and read back the largest size the IOMMU supports.
  regs.write64(layout.base, 0x1fn);
  const max = Number(regs.read64(layout.base) & 0x1fn);
  const log2m1 = Math.min(log2Entries - 1, max);
  const entries = 2 ** (log2m1 + 1);
  const pages = Math.max(1, (entries * layout.entrySize) / 4096);
  const page = kernel.pages.allocPages(pages, pages);
  const value = (BigInt(page) << 10n) | BigInt(log2m1);
  regs.write64(layout.base, value);
  const back = regs.read64(layout.base);
  if (back !== value) {
    kernel.pages.freePages(page, pages);
    throw new RiscvIommuError(`${layout.name} queue: base register kept ${hex(back)} instead of ${hex(value)}`);
  }
  return new QueueRing(layout, page, entries);
}

/**
 * Enables a queue with its interrupt, clearing a stale memory fault, and polls until the
 * hardware reports it on and not busy (the initialization guidelines' "poll on ...on").
 */
export function enableQueue(ctx: IommuContext, layout: QueueLayout): void {
  const { regs, kernel } = ctx;
  regs.write32(layout.csr, QueueCsr.EN | QueueCsr.IE | QueueCsr.MF);
  const on = pollUntil(kernel, () => (regs.read32(layout.csr) & (QueueCsr.ON | QueueCsr.BUSY)) === QueueCsr.ON);
  const csr = regs.read32(layout.csr);
  if (!on || (csr & QueueCsr.MF) !== 0) {
    regs.write32(layout.csr, 0);
    throw new RiscvIommuError(`${layout.name} queue failed to start (csr ${hex(csr)})`);
  }
}

/** Turns a queue off without waiting (best effort, on the way out of a failed probe). */
export function disableQueue(ctx: IommuContext, layout: QueueLayout): void {
  ctx.regs.write32(layout.csr, 0);
}
