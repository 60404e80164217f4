// Physical page allocation: the RAM the device tree describes, minus reserved regions, handed
// out as naturally aligned runs of 4 KiB pages and zeroed (page tables must start empty).

import type { PhysicalMemory } from '../../sim/physical-memory.js';

export class OutOfMemoryError extends Error {}

interface Range {
  start: number; // first page
  end: number; // one past the last page
}

export class PageAllocator {
  /** Free ranges, sorted by start, non-overlapping, never adjacent. */
  private free: Range[] = [];
  private allocated = 0;
  private total = 0;

  constructor(private readonly memory: PhysicalMemory) {}

  /** Adds RAM [base, base + size) (page-aligned inward). */
  addRange(base: bigint, size: bigint): void {
    const start = Number((base + 4095n) >> 12n);
    const end = Number((base + size) >> 12n);
    if (end > start) {
      this.release(start, end - start);
      this.total += end - start;
    }
  }

  /** Removes [base, base + size) from what can be allocated (page-aligned outward). */
  reserve(base: bigint, size: bigint): void {
    const start = Number(base >> 12n);
    const end = Number((base + size + 4095n) >> 12n);
    const out: Range[] = [];
    for (const r of this.free) {
      if (r.end <= start || r.start >= end) {
        out.push(r);
        continue;
      }
      if (r.start < start) out.push({ start: r.start, end: start });
      if (r.end > end) out.push({ start: end, end: r.end });
      this.total -= Math.min(r.end, end) - Math.max(r.start, start);
    }
    this.free = out;
  }

  /**
   * Allocates `count` contiguous zeroed pages aligned to `alignPages` (a power of two);
   * returns the first page number. Lowest address first, so runs are deterministic.
   */
  allocPages(count = 1, alignPages = 1): number {
    for (let i = 0; i < this.free.length; i++) {
      const r = this.free[i];
      const start = Math.ceil(r.start / alignPages) * alignPages;
      if (start + count > r.end) continue;
      const pieces: Range[] = [];
      if (r.start < start) pieces.push({ start: r.start, end: start });
      if (start + count < r.end) pieces.push({ start: start + count, end: r.end });
      this.free.splice(i, 1, ...pieces);
      for (let p = start; p < start + count; p++) this.memory.zeroPage(p);
      this.allocated += count;
      return start;
    }
    if (this.total === 0) throw new OutOfMemoryError('no physical memory: the device tree describes no RAM (a /memory node with a reg)');
    throw new OutOfMemoryError(`out of physical memory: no run of ${count} pages aligned to ${alignPages} (${this.total - this.allocated} of ${this.total} pages free)`);
  }

  /** Allocates one zeroed page; returns its physical address. */
  allocPage(): bigint {
    return BigInt(this.allocPages(1)) << 12n;
  }

  freePages(first: number, count = 1): void {
    this.release(first, count);
    this.allocated -= count;
  }

  get stats(): { totalPages: number; allocatedPages: number; freePages: number } {
    return { totalPages: this.total, allocatedPages: this.allocated, freePages: this.total - this.allocated };
  }

  private release(start: number, count: number): void {
    const end = start + count;
    // Binary search for the insertion point, then merge with neighbours.
    let lo = 0;
    let hi = this.free.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.free[mid].start < start) lo = mid + 1;
      else hi = mid;
    }
    const prev = this.free[lo - 1];
    const next = this.free[lo];
    if ((prev !== undefined && prev.end > start) || (next !== undefined && next.start < end)) {
      throw new Error(`pages ${start}..${end - 1} are already free`);
    }
    if (prev !== undefined && prev.end === start) {
      prev.end = end;
      if (next !== undefined && next.start === end) {
        prev.end = next.end;
        this.free.splice(lo, 1);
      }
    } else if (next !== undefined && next.start === end) {
      next.start = start;
    } else {
      this.free.splice(lo, 0, { start, end });
    }
  }
}
