// The fault queue, consumer side (specification "Fault/Event-Queue (FQ)"): records decoded
// and reported; overflow and memory faults logged and cleared so that recording resumes.

import { FqcsrLayout, IpsrLayout, Reg } from '../../../formats/riscv-iommu/registers.js';
import type { IommuContext } from './context.js';
import { decodeFaultRecord, type FaultRecord } from './fault-record.js';
import { InboundQueue } from './inbound-queue.js';
import { FQ_LAYOUT } from './queue.js';

/** Linux's default fault-queue length. */
export const FQ_LOG2_ENTRIES = 12;

export type FaultQueue = InboundQueue<FaultRecord>;

/** The fault queue: every record decoded and handed to `onRecord`. */
export function createFaultQueue(ctx: IommuContext, onRecord: (record: FaultRecord) => void, log2Entries = FQ_LOG2_ENTRIES): FaultQueue {
  const memory = ctx.kernel.memory;
  return InboundQueue.create(
    ctx,
    {
      layout: FQ_LAYOUT,
      ipsrBit: 1 << IpsrLayout.fip.lsb,
      errors: [
        {
          bit: 1 << FqcsrLayout.fqof.lsb,
          report: ({ stats, kernel, name }) => {
            stats.queueErrors.faultQueueOverflow++;
            kernel.log.error(name, 'fault queue overflow (fqof): records were dropped; recording resumes');
          },
        },
        {
          bit: 1 << FqcsrLayout.fqmf.lsb,
          report: ({ stats, kernel, name, regs }) => {
            stats.queueErrors.faultQueueMemoryFault++;
            kernel.log.error(name, `fault queue memory fault (fqmf) writing a record at fqt=${regs.read32(Reg.fqt)}; recording resumes`);
          },
        },
      ],
      read: (a) => decodeFaultRecord([memory.read(a, 8), memory.read(a + 8n, 8), memory.read(a + 16n, 8), memory.read(a + 24n, 8)]),
      act: onRecord,
    },
    log2Entries,
  );
}
