// The page-request queue, consumer side (specification "Page-Request-Queue (PQ)"): this driver
// does not service page requests (no PRI support), so every request that ends a group is
// answered with an ATS.PRGR "Response Failure", as the specification's guidelines allow, and
// logged. Stop markers need no answer.

import { decode, encode } from '../../../formats/bitfield.js';
import { atsPrgr, AtsPrgrPayloadLayout } from '../../../formats/riscv-iommu/commands.js';
import { PageRequestPayloadLayout, PageRequestRecordWord0, PrgResponseCode } from '../../../formats/riscv-iommu/records.js';
import { IpsrLayout, PqcsrLayout, Reg } from '../../../formats/riscv-iommu/registers.js';
import { hex } from '../../../sim/u64.js';
import type { CommandQueue } from './command-queue.js';
import type { IommuContext } from './context.js';
import { InboundQueue } from './inbound-queue.js';
import { PQ_LAYOUT } from './queue.js';

export const PQ_LOG2_ENTRIES = 12;

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

export type PageRequestQueue = InboundQueue<PageRequest>;

/** The page-request queue: every request that ends a group is answered Response Failure. */
export function createPageRequestQueue(ctx: IommuContext, cmdq: CommandQueue, log2Entries = PQ_LOG2_ENTRIES): PageRequestQueue {
  const memory = ctx.kernel.memory;
  return InboundQueue.create(
    ctx,
    {
      layout: PQ_LAYOUT,
      ipsrBit: 1 << IpsrLayout.pip.lsb,
      errors: [
        {
          bit: 1 << PqcsrLayout.pqof.lsb,
          report: ({ stats, kernel, name }) => {
            stats.queueErrors.pageQueueOverflow++;
            kernel.log.error(name, 'page-request queue overflow (pqof): requests were dropped or answered by the IOMMU');
          },
        },
        {
          bit: 1 << PqcsrLayout.pqmf.lsb,
          report: ({ stats, kernel, name, regs }) => {
            stats.queueErrors.pageQueueMemoryFault++;
            kernel.log.error(name, `page-request queue memory fault (pqmf) at pqt=${regs.read32(Reg.pqt)}`);
          },
        },
      ],
      read: (a) => decodePageRequest(memory.read(a, 8), memory.read(a + 8n, 8)),
      act: (req) => answer(ctx, cmdq, req),
    },
    log2Entries,
  );
}

function answer(ctx: IommuContext, cmdq: CommandQueue, req: PageRequest): void {
  const { kernel, name, stats } = ctx;
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
  cmdq.submit(atsPrgr({ rid, segment: segment !== 0 ? segment : undefined, pasid: req.pv ? req.pid : undefined }, payload));
  stats.pageRequests.responded++;
  kernel.log.warn(name, `page request from ${who}: ${access} at ${hex(req.address)}, group ${req.groupIndex}: answered Response Failure (page requests are not serviced)`);
}
