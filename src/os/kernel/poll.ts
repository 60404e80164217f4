// Busy-waiting as a driver's CPU does it: check, take pending interrupts, let a little
// simulated time pass (a hardware handshake may complete on a later cycle), and give up after
// a bounded number of polls so that dead hardware becomes a clear error rather than a hang
// (Linux's readl_poll_timeout, ARM_SMMU_POLL_TIMEOUT_US, RISCV_IOMMU_QUEUE_TIMEOUT).

import type { Kernel } from './kernel.js';

/** Polls before a wait gives up. */
export const POLL_LIMIT = 10_000;
/** Simulated cycles one poll takes. */
export const POLL_DELAY_CYCLES = 10;

/**
 * Polls `done` until it returns true (returns true) or the budget runs out (returns false).
 * `between` runs after each failed check, before interrupts are taken.
 */
export function pollUntil(kernel: Kernel, done: () => boolean, between?: () => void, limit = POLL_LIMIT): boolean {
  for (let i = 0; i < limit; i++) {
    if (done()) return true;
    between?.();
    kernel.poll();
    kernel.clock.advance(POLL_DELAY_CYCLES);
  }
  return done();
}
