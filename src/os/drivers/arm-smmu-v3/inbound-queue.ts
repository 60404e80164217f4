// The consumer side of the two queues the SMMU writes: the Event queue (IHI 0070 7.2 - 7.4) and
// the PRI queue (chapter 8). Software reads every entry between CONS and PROD, moving CONS past
// each before acting on it (acting may produce more entries). When the SMMU had to drop
// entries it toggles PROD.OVFLG (7.4); software acknowledges by copying that flag into
// CONS.OVACKFLG once it has caught up, as Linux's queue_sync_cons_ovf does.

import { OutQueueProdLayout } from '../../../formats/smmuv3/registers.js';
import type { SmmuContext } from './context.js';
import { readLe64 } from './le64.js';
import type { QueueRing } from './queue.js';

const OVFLG = 1 << OutQueueProdLayout.OVFLG.lsb;

export interface InboundQueueSpec<R> {
  /** Decodes the entry whose doublewords (little-endian) were read. */
  decode(dwords: readonly bigint[]): R;
  /** Acts on an entry, once its slot is given back. */
  act(entry: R): void;
  /** The SMMU dropped entries (an overflow not yet acknowledged). */
  overflowed(): void;
}

export class InboundQueue<R> {
  /** Software's consumer pointer, with OVACKFLG at bit 31 as last written. */
  private cons = 0;

  constructor(
    private readonly ctx: SmmuContext,
    readonly ring: QueueRing,
    private readonly spec: InboundQueueSpec<R>,
  ) {}

  /** Consumes every entry the SMMU has written (Linux arm_smmu_evtq_thread); returns how many. */
  drain(): number {
    const { regs } = this.ctx;
    const r = this.ring;
    const mask = r.pointerMask;
    const dwords = r.regs.entryBytes / 8;
    let handled = 0;
    let prod = regs.read32(r.regs.prod) >>> 0;
    if (((prod ^ this.cons) & OVFLG) !== 0) this.spec.overflowed();
    while (((prod ^ this.cons) & mask) !== 0) {
      while (((prod ^ this.cons) & mask) !== 0) {
        const a = r.address(this.cons);
        const words: bigint[] = [];
        for (let i = 0; i < dwords; i++) words.push(readLe64(this.ctx.kernel.memory, a + BigInt(8 * i)));
        this.cons = (this.cons & OVFLG) | r.next(this.cons & mask);
        regs.write32(r.regs.cons, this.cons);
        handled++;
        this.spec.act(this.spec.decode(words));
      }
      prod = regs.read32(r.regs.prod) >>> 0;
    }
    // Caught up: acknowledge an overflow, so that the SMMU reports the next one.
    if (((prod ^ this.cons) & OVFLG) !== 0) {
      this.cons = (this.cons & mask) | (prod & OVFLG);
      regs.write32(r.regs.cons, this.cons);
    }
    return handled;
  }
}
