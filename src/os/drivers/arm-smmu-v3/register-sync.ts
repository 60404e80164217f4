// Control registers whose update the SMMU acknowledges in a companion register (IHI 0070
// 6.3.9 CR0/CR0ACK, 6.3.16 IRQ_CTRL/IRQ_CTRLACK): write, then poll until the acknowledgement
// matches (Linux arm_smmu_write_reg_sync).

import type { SmmuContext } from './context.js';
import { pollUntil } from '../../kernel/poll.js';

/** Writes `value` to `reg` and waits for `ack` to read it back; false when it never does. */
export function writeRegSync(ctx: SmmuContext, reg: number, ack: number, value: number): boolean {
  ctx.regs.write32(reg, value);
  return pollUntil(ctx.kernel, () => (ctx.regs.read32(ack) >>> 0) === value >>> 0);
}
