// The page-request queue, consumer side (specification "Page-Request-Queue (PQ)"): this driver
// does not service page requests (no PRI support), so every request that ends a group is
// answered with an ATS.PRGR "Response Failure", as the specification's guidelines allow, and
// logged. Stop markers need no answer.

import { decode } from '../../../formats/bitfield.js';
import { atsPrgr, AtsPrgrPayloadLayout } from '../../../formats/riscv-iommu/commands.js';
import { encode } from '../../../formats/bitfield.js';
import { PageRequestPayloadLayout, PageRequestRecordWord0, PrgResponseCode } from '../../../formats/riscv-iommu/records.js';
import { IpsrLayout, PqcsrLayout, Reg } from '../../../formats/riscv-iommu/registers.js';
import { hex } from '../../../sim/u64.js';
import type { CommandQueue } from './command-queue.js';
import type { IommuContext } from './context.js';
import { allocQueue, enableQueue, PQ_LAYOUT, QueueCsr, type QueueRing } from './queue.js';

export const PQ_LOG2_ENTRIES = 12;

const PQCSR_PQMF = 1 << PqcsrLayout.pqmf.lsb;
const PQCSR_PQOF = 1 << PqcsrLayout.pqof.lsb;
const IPSR_PIP = 1 << IpsrLayout.pip.lsb;

export interface PageRequest {
  deviceId: number;
  pv: boolean;
  pid: number;
  priv: boolean;
  exec: boolean;
  read: boolean;
  write: boolean;
  /** Last request of its page request group. */
  last: boolean;
  groupIndex: number;
  address: bigint;
}

export function decodePageRequest(w0: bigint, payload: bigint): PageRequest {
  const h = decode(PageRequestRecordWord0, w0);
  const p = decode(PageRequestPayloadLayout, payload);
  return {
    deviceId: Number(h.DID),
    pv: h.PV === 1n,
    pid: Number(h.PID),
    priv: h.PRIV === 1n,
    exec: h.EXEC === 1n,
    read: p.R === 1n,
    write: p.W === 1n,
    last: p.L === 1n,
    groupIndex: Number(p.PRGI),
    address: p.ADDR_63_12 << 12n,
  };
}

export class PageRequestQueue {
  private constructor(
    private readonly ctx: IommuContext,
    readonly ring: QueueRing,
    private readonly cmdq: CommandQueue,
  ) {}

  static create(ctx: IommuContext, cmdq: CommandQueue, log2Entries = PQ_LOG2_ENTRIES): PageRequestQueue {
    const ring = allocQueue(ctx, PQ_LAYOUT, log2Entries);
    ctx.regs.write32(Reg.pqh, 0);
    try {
      enableQueue(ctx, PQ_LAYOUT);
    } catch (e) {
      ctx.kernel.pages.freePages(ring.page, ring.pages);
      throw e;
    }
    return new PageRequestQueue(ctx, ring, cmdq);
  }

  /** The pip part of the interrupt handler. */
  handle(): void {
    const { regs, kernel, name, stats } = this.ctx;
    const csr = regs.read32(Reg.pqcsr);
    const errors = csr & (PQCSR_PQMF | PQCSR_PQOF);
    if (errors !== 0) {
      if ((errors & PQCSR_PQOF) !== 0) {
        stats.queueErrors.pageQueueOverflow++;
        kernel.log.error(name, 'page-request queue overflow (pqof): requests were dropped or answered by the IOMMU');
      }
      if ((errors & PQCSR_PQMF) !== 0) {
        stats.queueErrors.pageQueueMemoryFault++;
        kernel.log.error(name, `page-request queue memory fault (pqmf) at pqt=${regs.read32(Reg.pqt)}`);
      }
      regs.write32(Reg.pqcsr, (csr & (QueueCsr.EN | QueueCsr.IE)) | errors);
    }
    regs.write32(Reg.ipsr, IPSR_PIP);
    this.drain();
  }

  /** Consumes every queued request, answering each group's last one; returns how many. */
  drain(): number {
    const { regs, kernel } = this.ctx;
    const n = this.ring.entries;
    let handled = 0;
    for (;;) {
      let head = regs.read32(Reg.pqh) % n;
      const tail = regs.read32(Reg.pqt);
      if (tail >= n || head === tail) return handled;
      while (head !== tail) {
        const a = this.ring.address(head);
        const req = decodePageRequest(kernel.memory.read(a, 8), kernel.memory.read(a + 8n, 8));
        head = (head + 1) % n;
        handled++;
        this.answer(req);
      }
      regs.write32(Reg.pqh, head);
    }
  }

  private answer(req: PageRequest): void {
    const { kernel, name, stats } = this.ctx;
    stats.pageRequests.received++;
    const who = `device ${hex(req.deviceId)}${req.pv ? ` process_id ${hex(req.pid)}` : ''}`;
    if (req.last && !req.read && !req.write) {
      stats.pageRequests.stopMarkers++;
      kernel.log.info(name, `page request: stop marker from ${who}`);
      return;
    }
    const access = `${req.read ? 'R' : ''}${req.write ? 'W' : ''}${req.exec ? 'X' : ''}`;
    if (!req.last) {
      kernel.log.info(name, `page request from ${who}: ${access} at ${hex(req.address)}, group ${req.groupIndex} (not last; answered with the group)`);
      return;
    }
    const rid = req.deviceId & 0xffff;
    const segment = req.deviceId >>> 16;
    const payload = encode(AtsPrgrPayloadLayout, { PRGI: req.groupIndex, ResponseCode: PrgResponseCode.ResponseFailure, DestinationId: rid });
    this.cmdq.submit(atsPrgr({ rid, segment: segment !== 0 ? segment : undefined, pasid: req.pv ? req.pid : undefined }, payload));
    stats.pageRequests.responded++;
    kernel.log.warn(name, `page request from ${who}: ${access} at ${hex(req.address)}, group ${req.groupIndex}: answered Response Failure (page requests are not serviced)`);
  }
}
