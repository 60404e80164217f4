// The flush queue of a lazy ('dma-fq') DMA domain, after Linux's dma-iommu.c: an unmap
// clears the page tables but does not invalidate the IOTLB; the freed IOVA range (and the
// page-table pages the unmap emptied) wait here, and are released only after one
// invalidation of the whole domain, which happens when the queue fills or when a timer that
// started with the first queued entry expires. Until then the device may still hit stale
// IOTLB entries, so nothing in the queue can be reused: that is the price of lazy mode.
//
// One queue per domain (the simulated kernel has one CPU; Linux keeps one per CPU).
// The queue holds `size` entries and the unmap that fills it flushes it at once, so a full
// flush releases exactly `size` entries (Linux's ring flushes when a 256-slot ring holding
// 255 entries receives another). A full flush cancels the pending timer, which Linux leaves
// armed to flush a possibly empty queue later; here every timeout flush releases something.

import type { Clock, ScheduledEvent } from '../../sim/clock.js';

/** Linux IOVA_DEFAULT_FQ_SIZE. */
export const DEFAULT_FQ_SIZE = 256;
/** Linux IOVA_DEFAULT_FQ_TIMEOUT, in milliseconds. */
export const DEFAULT_FQ_TIMEOUT_MS = 10;
/**
 * Simulated cycles per millisecond assumed by the DMA layer: a 1 GHz clock (one cycle per
 * nanosecond), so the default timeout is 10,000,000 cycles.
 */
export const DMA_CYCLES_PER_MS = 1_000_000;
export const DEFAULT_FQ_TIMEOUT_CYCLES = DEFAULT_FQ_TIMEOUT_MS * DMA_CYCLES_PER_MS;

export type FlushReason = 'full' | 'timeout' | 'explicit';

export interface FlushQueueOptions {
  /** Entries the queue holds; the one that fills it triggers the flush. */
  size: number;
  /** Cycles from the first entry queued after a flush to the timeout flush. */
  timeoutCycles: number;
}

export interface FlushQueueHooks {
  /** Invalidates every translation of the domain (one flushIotlbAll). */
  invalidate(): void;
  /** Releases one entry after the invalidation: its IOVA range and its page-table pages. */
  release(pfn: number, pages: number, freelist: readonly number[]): void;
}

export interface FlushQueueStats {
  flushes: Record<FlushReason, number>;
  /** Entries released by all flushes. */
  entriesFlushed: number;
  /** Entries queued so far. */
  queued: number;
}

export class FlushQueue {
  readonly size: number;
  readonly timeoutCycles: number;
  readonly stats: FlushQueueStats = { flushes: { full: 0, timeout: 0, explicit: 0 }, entriesFlushed: 0, queued: 0 };
  // Entries as parallel arrays, reused from flush to flush.
  private readonly pfns: Float64Array;
  private readonly pages: Float64Array;
  private readonly freelists: number[][];
  private count = 0;
  private timer: ScheduledEvent | null = null;
  private readonly onTimeout = (): void => {
    this.timer = null;
    if (this.count > 0) this.flush('timeout');
  };

  constructor(
    private readonly clock: Clock,
    options: FlushQueueOptions,
    private readonly hooks: FlushQueueHooks,
  ) {
    if (!Number.isInteger(options.size) || options.size < 1) throw new RangeError(`flush queue size must be a positive integer, not ${options.size}`);
    if (!(options.timeoutCycles > 0) || !Number.isFinite(options.timeoutCycles)) throw new RangeError(`flush queue timeout must be a positive number of cycles, not ${options.timeoutCycles}`);
    this.size = options.size;
    this.timeoutCycles = options.timeoutCycles;
    this.pfns = new Float64Array(this.size);
    this.pages = new Float64Array(this.size);
    this.freelists = Array.from({ length: this.size }, () => []);
  }

  /** Entries waiting for the next flush. */
  get length(): number {
    return this.count;
  }

  /** Queues a retired IOVA range and the page-table pages its unmap freed (copied). */
  push(pfn: number, pages: number, freelist: readonly number[]): void {
    const i = this.count++;
    this.pfns[i] = pfn;
    this.pages[i] = pages;
    const fl = this.freelists[i];
    fl.length = 0;
    for (const p of freelist) fl.push(p);
    this.stats.queued++;
    if (this.timer === null) this.timer = this.clock.schedule(this.timeoutCycles, this.onTimeout);
    if (this.count === this.size) this.flush('full');
  }

  /** Invalidates once and releases every queued entry; returns how many. */
  flush(reason: FlushReason): number {
    if (this.timer !== null) {
      this.clock.cancel(this.timer);
      this.timer = null;
    }
    const n = this.count;
    if (n === 0) return 0;
    this.hooks.invalidate();
    for (let i = 0; i < n; i++) this.hooks.release(this.pfns[i], this.pages[i], this.freelists[i]);
    this.count = 0;
    this.stats.flushes[reason]++;
    this.stats.entriesFlushed += n;
    return n;
  }
}
