import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { IOVA_MAG_SIZE, IovaAllocator, IovaError, orderBase2, type IovaRange } from '../../../src/os/dma/iova-allocator.js';

const MAX = Number.MAX_SAFE_INTEGER;

describe('IOVA allocator: placement', () => {
  it('allocates top-down below the aperture end, aligned to the rounded size', () => {
    const a = new IovaAllocator({ startPfn: 1, endPfn: 0xfffff });
    expect(a.alloc(1, MAX)).toBe(0xfffff);
    // Two pages aligned to two: 0xffffe is left free, as in Linux's size-aligned search.
    expect(a.alloc(2, MAX)).toBe(0xffffc);
    expect(a.alloc(1, MAX)).toBe(0xffffe);
    // Three pages round up to four, aligned to four.
    expect(a.alloc(3, MAX)).toBe(0xffff8);
    expect(a.find(0xffff8)).toEqual({ pfn: 0xffff8, pages: 4, kind: 'live' });
    a.validate();
  });

  it('keeps sizes of 32 pages and more unrounded but aligned to the next power of two', () => {
    const a = new IovaAllocator({ startPfn: 1, endPfn: 0xfffff });
    const pfn = a.alloc(40, MAX);
    expect(pfn).toBe(0x100000 - 64);
    expect(a.find(pfn ?? 0)?.pages).toBe(40);
    expect(a.roundedSize(31)).toBe(32);
    expect(a.roundedSize(32)).toBe(32);
    expect(a.roundedSize(33)).toBe(33);
  });

  it('honours the limit (a 32-bit DMA mask) and fails below the aperture start', () => {
    const a = new IovaAllocator({ startPfn: 1, endPfn: 2 ** 27 - 1 }); // 39-bit aperture
    const limit32 = 2 ** 20 - 1;
    expect(a.alloc(1, limit32)).toBe(limit32);
    expect(a.alloc(16, limit32)).toBe(2 ** 20 - 32);
    expect(a.alloc(1, 0)).toBeNull();
    expect(a.stats.failures).toBe(1);
  });

  it('reports exhaustion as null and counts it', () => {
    const a = new IovaAllocator({ startPfn: 0, endPfn: 7, rcache: false });
    const got = Array.from({ length: 8 }, () => a.alloc(1, MAX));
    expect(got).toEqual([7, 6, 5, 4, 3, 2, 1, 0]);
    expect(a.alloc(1, MAX)).toBeNull();
    expect(a.stats).toMatchObject({ failures: 1, liveRanges: 8, freePages: 0, largestFreeGap: 0, fragmentation: 0 });
  });

  it('works in granules of the domain page size (64 KiB)', () => {
    const a = new IovaAllocator({ startPfn: 1, endPfn: 0xffff, granule: 0x10000 });
    expect(a.shift).toBe(16);
    expect(a.alloc(1, MAX)).toBe(0xffff);
    expect(() => new IovaAllocator({ startPfn: 0, endPfn: 1, granule: 0x3000 })).toThrow(IovaError);
    expect(() => new IovaAllocator({ startPfn: 5, endPfn: 4 })).toThrow(/empty/);
  });

  it('measures external fragmentation', () => {
    const a = new IovaAllocator({ startPfn: 0, endPfn: 15, rcache: false });
    const pfns = Array.from({ length: 16 }, () => a.alloc(1, MAX) ?? -1);
    for (const p of pfns) if (p % 2 === 0) a.free(p, 1);
    const s = a.stats;
    expect(s.freePages).toBe(8);
    expect(s.largestFreeGap).toBe(1);
    expect(s.fragmentation).toBeCloseTo(1 - 1 / 8);
    // A two-page request cannot be met although eight pages are free.
    expect(a.alloc(2, MAX)).toBeNull();
  });
});

describe('IOVA allocator: rcache', () => {
  it('serves a freed range of the same order from the cache without a tree search', () => {
    const a = new IovaAllocator({ startPfn: 1, endPfn: 0xfffff });
    const x = a.alloc(4, MAX) ?? -1;
    a.alloc(4, MAX);
    a.free(x, 4);
    expect(a.stats).toMatchObject({ cachedRanges: 1, cachedPages: 4, liveRanges: 1 });
    expect(a.find(x)?.kind).toBe('cached');
    // 3 pages round to 4: same order, same cache.
    expect(a.alloc(3, MAX)).toBe(x);
    expect(a.stats).toMatchObject({ cacheHits: 1, cacheMisses: 2, cachedRanges: 0, liveRanges: 2 });
  });

  it('skips cached ranges above the limit and falls back to the tree', () => {
    const a = new IovaAllocator({ startPfn: 1, endPfn: 0xfffff });
    const high = a.alloc(1, MAX) ?? -1;
    a.free(high, 1);
    const low = a.alloc(1, 0xffff);
    expect(low).toBe(0xffff);
    expect(a.stats.cacheHits).toBe(0);
    expect(a.find(high)?.kind).toBe('cached');
  });

  it('does not cache orders of 6 and above', () => {
    const a = new IovaAllocator({ startPfn: 1, endPfn: 0xfffff });
    const x = a.alloc(64, MAX) ?? -1;
    a.free(x, 64);
    expect(a.find(x)).toBeNull();
    expect(a.stats).toMatchObject({ uncacheable: 1, cachedRanges: 0, freePages: 0xfffff });
  });

  it('bounds the cache: loaded + prev magazines and a depot, the rest back to the tree', () => {
    const a = new IovaAllocator({ startPfn: 1, endPfn: 0xfffff, magazineSize: 2, depotSize: 1 });
    const pfns = Array.from({ length: 10 }, () => a.alloc(1, MAX) ?? -1);
    for (const p of pfns) a.free(p, 1);
    expect(a.stats.cachedRanges).toBeLessThanOrEqual(2 + 2 + 2);
    expect(a.stats.cachedRanges + a.ranges().filter((r) => r.kind === 'live').length).toBeLessThanOrEqual(6);
    a.validate();
    // The default magazine matches Linux's.
    expect(IOVA_MAG_SIZE).toBe(127);
  });

  it('flushes the caches when the tree is full, so freed space is always reusable', () => {
    const a = new IovaAllocator({ startPfn: 0, endPfn: 7 });
    const pfns = Array.from({ length: 8 }, () => a.alloc(1, MAX) ?? -1);
    for (const p of pfns) a.free(p, 1);
    expect(a.stats.cachedRanges).toBe(8);
    expect(a.alloc(8, MAX)).toBe(0);
    expect(a.stats).toMatchObject({ cacheFlushes: 1, cachedRanges: 0, liveRanges: 1 });
  });
});

describe('IOVA allocator: misuse and reservations', () => {
  it('detects freeing unallocated ranges, double frees, wrong sizes and interior addresses', () => {
    const a = new IovaAllocator({ startPfn: 1, endPfn: 0xfffff });
    const x = a.alloc(4, MAX) ?? -1;
    expect(() => a.free(0x1234, 1)).toThrow(/not allocated/);
    expect(() => a.free(x, 8)).toThrow(/does not match the 4-page range/);
    expect(() => a.free(x + 1, 1)).toThrow(/inside the range/);
    a.free(x, 4);
    expect(() => a.free(x, 4)).toThrow(/already freed/);
    const y = a.alloc(64, MAX) ?? -1;
    a.free(y, 64);
    expect(() => a.free(y, 64)).toThrow(/not allocated/);
  });

  it('retires a range: it keeps its space, cannot be retired twice, and free() releases it', () => {
    const a = new IovaAllocator({ startPfn: 1, endPfn: 0xfffff });
    const x = a.alloc(2, MAX) ?? -1;
    a.retire(x, 2);
    expect(a.find(x)?.kind).toBe('retired');
    expect(a.stats).toMatchObject({ liveRanges: 0, retiredRanges: 1, retiredPages: 2 });
    expect(() => a.retire(x, 2)).toThrow(/already unmapped/);
    expect(a.alloc(2, MAX)).not.toBe(x);
    a.free(x, 2);
    expect(a.stats).toMatchObject({ retiredRanges: 0, retiredPages: 0, cachedRanges: 1 });
  });

  it('reserves windows: allocation avoids them, overlaps merge, live overlaps are refused', () => {
    const a = new IovaAllocator({ startPfn: 0, endPfn: 63, rcache: false });
    a.reserve(48, 55);
    a.reserve(52, 59); // overlaps the first: only 56..59 is new
    expect(a.stats.reservedPages).toBe(12);
    expect(a.alloc(4, MAX)).toBe(60);
    expect(a.alloc(4, MAX)).toBe(44);
    expect(() => a.reserve(40, 47)).toThrow(/is allocated/);
    expect(a.find(40)).toBeNull(); // a refused reservation changes nothing
    expect(() => a.free(50, 1)).toThrow(/reserved/);
    // Clipped to the aperture, but 60..63 is live: refused.
    expect(() => a.reserve(60, 1000)).toThrow(/is allocated/);
    a.reserve(0, 3);
    expect(a.ranges().filter((r) => r.kind === 'reserved').map((r) => [r.pfn, r.pages])).toEqual([
      [0, 4],
      [48, 8],
      [56, 4],
    ]);
  });

  it('reserving over cached ranges empties the caches first', () => {
    const a = new IovaAllocator({ startPfn: 0, endPfn: 63 });
    const x = a.alloc(1, MAX) ?? -1;
    a.free(x, 1);
    a.reserve(x, x);
    expect(a.find(x)?.kind).toBe('reserved');
    expect(a.stats.cachedRanges).toBe(0);
  });
});

describe('IOVA allocator: scale', () => {
  it('handles 50,000 live allocations with a valid balanced tree', () => {
    const a = new IovaAllocator({ startPfn: 1, endPfn: 2 ** 27 - 1 });
    let seed = 12345;
    const rnd = (): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const live: [number, number][] = [];
    for (let i = 0; i < 50_000; i++) {
      const pages = 1 + Math.floor(rnd() * 40);
      const pfn = a.alloc(pages, MAX);
      expect(pfn).not.toBeNull();
      live.push([pfn ?? 0, pages]);
    }
    for (let i = 0; i < 20_000; i++) {
      const j = Math.floor(rnd() * live.length);
      const [pfn, pages] = live[j];
      live[j] = live[live.length - 1];
      live.pop();
      a.free(pfn, pages);
    }
    a.validate();
    expect(a.stats.liveRanges).toBe(30_000);
  });
});

// ---- properties ---------------------------------------------------------------------------

type Op = { kind: 'alloc'; pages: number; limit: number } | { kind: 'free'; pick: number } | { kind: 'reserve'; at: number; len: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('alloc' as const), pages: fc.oneof(fc.integer({ min: 1, max: 8 }), fc.integer({ min: 1, max: 70 })), limit: fc.oneof(fc.constant(MAX), fc.integer({ min: 0, max: 1100 })) }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('free' as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('reserve' as const), at: fc.nat(1023), len: fc.integer({ min: 1, max: 16 }) }) },
);

const START = 1;
const END = 1023;

/** The highest aligned fit in the aperture given what is occupied, or null (brute force). */
function bestFit(occupied: readonly IovaRange[], size: number, limit: number): number | null {
  const used = new Uint8Array(END + 2);
  for (const r of occupied) used.fill(1, r.pfn, r.pfn + r.pages);
  const align = 2 ** orderBase2(size);
  for (let pfn = Math.floor((Math.min(limit, END) + 1 - size) / align) * align; pfn >= START; pfn -= align) {
    if (used.subarray(pfn, pfn + size).every((b) => b === 0)) return pfn;
  }
  return null;
}

describe('IOVA allocator: properties (fast-check)', () => {
  it('random alloc/free/reserve: no overlap, inside aperture and limit, aligned, top-down, null only when full', () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 150 }), fc.boolean(), (ops, rcache) => {
        const a = new IovaAllocator({ startPfn: START, endPfn: END, rcache, magazineSize: 4, depotSize: 2 });
        const live: { pfn: number; pages: number; limit: number }[] = [];
        for (const op of ops) {
          if (op.kind === 'alloc') {
            const limit = op.limit;
            const before = a.ranges();
            const s0 = a.stats;
            const pfn = a.alloc(op.pages, limit);
            const s1 = a.stats;
            const size = a.roundedSize(op.pages);
            if (s1.cacheHits > s0.cacheHits) {
              expect(before.some((r) => r.pfn === pfn && r.kind === 'cached' && r.pages === size)).toBe(true);
            } else {
              // A tree allocation is the highest fit; after a cache flush cached ranges count as free.
              const occupied = s1.cacheFlushes > s0.cacheFlushes ? before.filter((r) => r.kind !== 'cached') : before;
              expect(pfn).toBe(bestFit(occupied, size, limit));
            }
            if (pfn !== null) live.push({ pfn, pages: op.pages, limit });
          } else if (op.kind === 'free') {
            if (live.length === 0) continue;
            const [x] = live.splice(op.pick % live.length, 1);
            a.free(x.pfn, x.pages);
          } else {
            const hi = op.at + op.len - 1;
            const clash = live.some((l) => l.pfn <= hi && op.at < l.pfn + a.roundedSize(l.pages));
            if (clash) expect(() => a.reserve(op.at, hi)).toThrow(IovaError);
            else a.reserve(op.at, hi);
          }
          a.validate();
        }
        const ranges = a.ranges();
        for (let i = 1; i < ranges.length; i++) expect(ranges[i].pfn).toBeGreaterThanOrEqual(ranges[i - 1].pfn + ranges[i - 1].pages);
        for (const l of live) {
          const size = a.roundedSize(l.pages);
          expect(l.pfn).toBeGreaterThanOrEqual(START);
          expect(l.pfn + size - 1).toBeLessThanOrEqual(Math.min(END, l.limit));
          expect(l.pfn % 2 ** orderBase2(size)).toBe(0);
          expect(a.find(l.pfn)).toEqual({ pfn: l.pfn, pages: size, kind: 'live' });
        }
        const s = a.stats;
        expect(s.liveRanges).toBe(live.length);
        // Freed space is reusable: free everything, and the whole aperture is one gap again.
        for (const l of live) a.free(l.pfn, l.pages);
        const reserved = a.stats.reservedPages;
        a.flushCaches();
        a.validate();
        expect(a.stats.freePages).toBe(END - START + 1 - reserved);
        if (reserved === 0) expect(a.alloc(512, MAX)).toBe(512);
      }),
      { numRuns: 300 },
    );
  });

  it('a freed cacheable range is handed out again by the next allocation of its order', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 32 }), { minLength: 1, maxLength: 60 }), fc.nat(), (sizes, pick) => {
        const a = new IovaAllocator({ startPfn: 1, endPfn: 0xfffff });
        const got = sizes.map((p) => ({ pfn: a.alloc(p, MAX) ?? -1, pages: p }));
        const x = got[pick % got.length];
        a.free(x.pfn, x.pages);
        const hits = a.stats.cacheHits;
        expect(a.alloc(x.pages, MAX)).toBe(x.pfn);
        expect(a.stats.cacheHits).toBe(hits + 1);
      }),
      { numRuns: 200 },
    );
  });
});
