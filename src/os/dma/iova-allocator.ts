// An IOVA allocator after Linux's drivers/iommu/iova.c: ranges of an IOMMU domain's aperture,
// counted in granules (page frames of the domain's smallest page size), allocated top-down
// below a limit (the device's DMA mask) and aligned to their size rounded up to a power of two;
// freed ranges of orders 0..5 are kept in per-order magazine caches (the "rcache") so that the
// next allocation of that order skips the tree search; ranges can be reserved (MSI windows).
//
// Differences from Linux, on purpose:
// - The tree is an AVL tree augmented with the largest free gap of each subtree, so finding
//   the highest fitting gap below a limit is logarithmic (Linux walks an rb-tree backwards
//   from a cached node, linear in the worst case).
// - One CPU: each order has a `loaded` and a `prev` magazine and a bounded depot (Linux's
//   MAX_GLOBAL_MAGS; newer kernels keep an unbounded depot trimmed by a delayed work item).
// - Misuse that Linux only WARNs about (freeing a range that is not allocated, freeing twice,
//   freeing with the wrong size, reserving over a live allocation) throws an IovaError.

/** Orders 0..IOVA_RANGE_CACHE_MAX_SIZE-1 are cached (Linux IOVA_RANGE_CACHE_MAX_SIZE). */
export const IOVA_RANGE_CACHE_MAX_SIZE = 6;
/** Ranges per magazine (Linux IOVA_MAG_SIZE: 127 keeps a magazine at 1 KiB). */
export const IOVA_MAG_SIZE = 127;
/** Full magazines the depot keeps per order (Linux MAX_GLOBAL_MAGS). */
export const MAX_GLOBAL_MAGS = 32;

export class IovaError extends Error {}

export type IovaRangeKind = 'live' | 'retired' | 'cached' | 'reserved';

export interface IovaAllocatorOptions {
  /** First and last allocatable page frame, inclusive, in granules. */
  startPfn: number;
  endPfn: number;
  /** Bytes per page frame: a power of two of at least 4 KiB (default 4096). */
  granule?: number;
  /** Keep freed small ranges in magazine caches (default true). */
  rcache?: boolean;
  /** Ranges per magazine (default IOVA_MAG_SIZE). */
  magazineSize?: number;
  /** Full magazines kept per order (default MAX_GLOBAL_MAGS). */
  depotSize?: number;
}

export interface IovaStats {
  /** Successful allocations, from the cache or the tree. */
  allocations: number;
  frees: number;
  /** Allocations that found no space (after flushing the caches). */
  failures: number;
  /** Cacheable allocations served by / missed in the rcache. */
  cacheHits: number;
  cacheMisses: number;
  /** Allocations too large to be cached (order >= IOVA_RANGE_CACHE_MAX_SIZE). */
  uncacheable: number;
  /** Times the caches were emptied back into the tree to satisfy an allocation. */
  cacheFlushes: number;
  liveRanges: number;
  livePages: number;
  /** Freed ranges waiting in the caches (still occupying their space). */
  cachedRanges: number;
  cachedPages: number;
  /** Ranges retired by their user and not yet freed (e.g. waiting in a flush queue). */
  retiredRanges: number;
  retiredPages: number;
  reservedPages: number;
  /** Pages of the aperture not occupied by any range. */
  freePages: number;
  largestFreeGap: number;
  /** External fragmentation: 1 - largestFreeGap / freePages (0 when nothing is free). */
  fragmentation: number;
}

export interface IovaRange {
  pfn: number;
  pages: number;
  kind: IovaRangeKind;
}

const KIND_LIVE = 1;
const KIND_RETIRED = 2;
const KIND_CACHED = 3;
const KIND_RESERVED = 4;
const KIND_ANCHOR = 5;
const KIND_NAMES: readonly IovaRangeKind[] = ['live', 'live', 'retired', 'cached', 'reserved', 'reserved'];

/** A magazine of cached ranges (node indices, so a hit needs no tree lookup). */
interface Magazine {
  readonly ids: Int32Array;
  n: number;
}

interface RangeCache {
  loaded: Magazine;
  prev: Magazine;
  readonly depot: Magazine[];
}

/** ceil(log2(n)) for n >= 1 (Linux order_base_2). */
export function orderBase2(n: number): number {
  let o = 0;
  while (2 ** o < n) o++;
  return o;
}

export class IovaAllocator {
  readonly startPfn: number;
  readonly endPfn: number;
  readonly granule: number;
  /** log2(granule). */
  readonly shift: number;

  // Nodes as parallel typed arrays (index 0 is the nil node): no object per range.
  private lo = new Float64Array(0);
  private size = new Float64Array(0);
  /** Free pages immediately below the node (between its predecessor's end and its start). */
  private gap = new Float64Array(0);
  /** Largest `gap` in the node's subtree. */
  private maxGap = new Float64Array(0);
  private left = new Int32Array(0);
  private right = new Int32Array(0);
  private height = new Int8Array(0);
  private kind = new Uint8Array(0);
  private capacity = 0;
  private used = 1;
  private freeSlot = 0;
  private root = 0;
  /** Sentinel just above the aperture: its gap is the free space at the top. */
  private readonly anchor: number;
  /** Result of the last successful fit search. */
  private fitPfn = 0;

  private readonly caches: RangeCache[] | null;
  private readonly magazineSize: number;
  private readonly depotSize: number;

  private readonly counters = {
    allocations: 0,
    frees: 0,
    failures: 0,
    cacheHits: 0,
    cacheMisses: 0,
    uncacheable: 0,
    cacheFlushes: 0,
    liveRanges: 0,
    livePages: 0,
    cachedRanges: 0,
    cachedPages: 0,
    retiredRanges: 0,
    retiredPages: 0,
    reservedPages: 0,
    occupiedPages: 0,
  };

  constructor(options: IovaAllocatorOptions) {
    const granule = options.granule ?? 4096;
    if (!Number.isInteger(granule) || granule < 4096 || (granule & (granule - 1)) !== 0) {
      throw new IovaError(`IOVA granule must be a power of two of at least 4096 bytes, not ${granule}`);
    }
    const { startPfn, endPfn } = options;
    if (!Number.isSafeInteger(startPfn) || !Number.isSafeInteger(endPfn) || startPfn < 0 || endPfn < startPfn || endPfn + 1 > 2 ** 52) {
      throw new IovaError(`IOVA aperture ${startPfn}..${endPfn} (page frames) is empty or out of range`);
    }
    this.granule = granule;
    this.shift = Math.log2(granule);
    this.startPfn = startPfn;
    this.endPfn = endPfn;
    this.magazineSize = options.magazineSize ?? IOVA_MAG_SIZE;
    this.depotSize = options.depotSize ?? MAX_GLOBAL_MAGS;
    if (!(this.magazineSize >= 1) || !(this.depotSize >= 0)) throw new IovaError('magazine size must be >= 1 and depot size >= 0');
    this.grow(1024);
    this.maxGap[0] = -1;
    this.anchor = this.newNode(endPfn + 1, 0, KIND_ANCHOR);
    this.gap[this.anchor] = endPfn + 1 - startPfn;
    this.root = this.insert(0, this.anchor);
    this.caches =
      options.rcache === false
        ? null
        : Array.from({ length: IOVA_RANGE_CACHE_MAX_SIZE }, () => ({ loaded: this.newMagazine(), prev: this.newMagazine(), depot: [] }));
  }

  /** Pages an allocation of `pages` really takes: small sizes round up to a power of two so
   *  that a cached range always fits a later request of the same order (as Linux dma-iommu). */
  roundedSize(pages: number): number {
    return pages < 2 ** (IOVA_RANGE_CACHE_MAX_SIZE - 1) ? 2 ** orderBase2(pages) : pages;
  }

  /**
   * Allocates `pages` page frames ending at or below `limitPfn` (inclusive), aligned to the
   * size rounded up to a power of two, as high as possible; returns the first page frame, or
   * null when no such range is free (after returning cached ranges to the tree when
   * `flushCachesOnFailure`, as Linux alloc_iova_fast).
   */
  alloc(pages: number, limitPfn: number, flushCachesOnFailure = true): number | null {
    if (!Number.isSafeInteger(pages) || pages < 1) throw new IovaError(`cannot allocate ${pages} IOVA pages`);
    const size = this.roundedSize(pages);
    const limitEnd = Math.min(limitPfn, this.endPfn) + 1;
    const c = this.counters;
    const order = orderBase2(size);
    if (this.caches !== null && order < IOVA_RANGE_CACHE_MAX_SIZE) {
      const idx = this.cacheGet(this.caches[order], limitEnd - size);
      if (idx !== 0) {
        c.cacheHits++;
        c.allocations++;
        c.cachedRanges--;
        c.cachedPages -= size;
        c.liveRanges++;
        c.livePages += size;
        this.kind[idx] = KIND_LIVE;
        return this.lo[idx];
      }
      c.cacheMisses++;
    } else {
      c.uncacheable++;
    }
    if (limitEnd - size >= this.startPfn) {
      const align = 2 ** orderBase2(size);
      let s = this.search(this.root, size, align, limitEnd);
      if (s === 0 && flushCachesOnFailure && c.cachedRanges > 0) {
        this.flushCaches();
        c.cacheFlushes++;
        s = this.search(this.root, size, align, limitEnd);
      }
      if (s !== 0) {
        const pfn = this.fitPfn;
        this.insertInGap(pfn, size, KIND_LIVE, s);
        c.allocations++;
        c.liveRanges++;
        c.livePages += size;
        return pfn;
      }
    }
    c.failures++;
    return null;
  }

  /**
   * Frees the range that alloc(`pages`) returned at `pfn` (live or retired). Small ranges go
   * to the cache and keep their space until reused or flushed; others return to the tree.
   */
  free(pfn: number, pages: number): void {
    const idx = this.checkRange(pfn, pages, 'free', true);
    const c = this.counters;
    const size = this.size[idx];
    if (this.kind[idx] === KIND_RETIRED) {
      c.retiredRanges--;
      c.retiredPages -= size;
    } else {
      c.liveRanges--;
      c.livePages -= size;
    }
    c.frees++;
    const order = orderBase2(size);
    if (this.caches !== null && order < IOVA_RANGE_CACHE_MAX_SIZE) {
      this.kind[idx] = KIND_CACHED;
      c.cachedRanges++;
      c.cachedPages += size;
      this.cacheInsert(this.caches[order], idx);
    } else {
      this.removeRange(idx);
    }
  }

  /**
   * Marks a live range as being freed: it keeps its space, but can no longer be retired or
   * used again until free() releases it (a flush queue holds retired ranges). Checks the
   * range as free() does, so callers can validate before tearing down mappings.
   */
  retire(pfn: number, pages: number): void {
    const idx = this.checkRange(pfn, pages, 'retire', false);
    const c = this.counters;
    this.kind[idx] = KIND_RETIRED;
    c.liveRanges--;
    c.livePages -= this.size[idx];
    c.retiredRanges++;
    c.retiredPages += this.size[idx];
  }

  /**
   * Takes page frames [pfnLo, pfnHi] out of what alloc() can return (the part inside the
   * aperture). Overlapping reservations are fine; a live or retired range there is an error.
   */
  reserve(pfnLo: number, pfnHi: number): void {
    if (!Number.isSafeInteger(pfnLo) || !Number.isSafeInteger(pfnHi) || pfnHi < pfnLo) throw new IovaError(`cannot reserve page frames ${pfnLo}..${pfnHi}`);
    let cursor = Math.max(pfnLo, this.startPfn);
    const hi = Math.min(pfnHi, this.endPfn);
    // Check first, so that a refused reservation changes nothing.
    for (let n = this.firstEndingAfter(cursor); n !== 0 && this.lo[n] <= hi; n = this.firstEndingAfter(this.lo[n] + this.size[n])) {
      const k = this.kind[n];
      if (k === KIND_LIVE || k === KIND_RETIRED) {
        throw new IovaError(`cannot reserve page frames ${pfnLo}..${pfnHi}: ${this.lo[n]}..${this.lo[n] + this.size[n] - 1} is allocated`);
      }
    }
    while (cursor <= hi) {
      const n = this.firstEndingAfter(cursor);
      const lo = this.lo[n];
      if (lo <= cursor) {
        const k = this.kind[n];
        if (k === KIND_RESERVED) {
          cursor = lo + this.size[n];
        } else if (k === KIND_CACHED) {
          this.flushCaches(); // reservations are rare: simply empty the caches and retry
        } else {
          throw new IovaError(`cannot reserve page frames ${pfnLo}..${pfnHi}: ${lo}..${lo + this.size[n] - 1} is allocated`);
        }
        continue;
      }
      const end = Math.min(lo - 1, hi);
      this.insertInGap(cursor, end - cursor + 1, KIND_RESERVED, n);
      this.counters.reservedPages += end - cursor + 1;
      cursor = end + 1;
    }
  }

  /** Returns every cached range to the tree (Linux free_cpu_cached_iovas + free_global_cached_iovas). */
  flushCaches(): void {
    if (this.caches === null) return;
    for (const cache of this.caches) {
      this.emptyMagazine(cache.loaded);
      this.emptyMagazine(cache.prev);
      for (const m of cache.depot) this.emptyMagazine(m);
      cache.depot.length = 0;
    }
  }

  /** The range containing `pfn`, or null when the page frame is free. */
  find(pfn: number): IovaRange | null {
    const n = this.findContaining(pfn);
    return n === 0 ? null : { pfn: this.lo[n], pages: this.size[n], kind: KIND_NAMES[this.kind[n]] };
  }

  /** Every range, in address order (for tests and reports; allocates). */
  ranges(): IovaRange[] {
    const out: IovaRange[] = [];
    const visit = (n: number): void => {
      if (n === 0) return;
      visit(this.left[n]);
      if (n !== this.anchor) out.push({ pfn: this.lo[n], pages: this.size[n], kind: KIND_NAMES[this.kind[n]] });
      visit(this.right[n]);
    };
    visit(this.root);
    return out;
  }

  get stats(): IovaStats {
    const c = this.counters;
    const freePages = this.endPfn - this.startPfn + 1 - c.occupiedPages;
    const largestFreeGap = Math.max(0, this.maxGap[this.root]);
    return {
      allocations: c.allocations,
      frees: c.frees,
      failures: c.failures,
      cacheHits: c.cacheHits,
      cacheMisses: c.cacheMisses,
      uncacheable: c.uncacheable,
      cacheFlushes: c.cacheFlushes,
      liveRanges: c.liveRanges,
      livePages: c.livePages,
      cachedRanges: c.cachedRanges,
      cachedPages: c.cachedPages,
      retiredRanges: c.retiredRanges,
      retiredPages: c.retiredPages,
      reservedPages: c.reservedPages,
      freePages,
      largestFreeGap,
      fragmentation: freePages === 0 ? 0 : 1 - largestFreeGap / freePages,
    };
  }

  /** Checks the tree's invariants (for tests): order, gaps, augmentation, AVL balance. */
  validate(): void {
    let prevEnd = this.startPfn;
    const walk = (n: number): number => {
      if (n === 0) return 0;
      const hl = walk(this.left[n]);
      if (this.lo[n] - prevEnd !== this.gap[n] || this.gap[n] < 0) throw new IovaError(`node at ${this.lo[n]}: gap ${this.gap[n]}, expected ${this.lo[n] - prevEnd}`);
      prevEnd = this.lo[n] + this.size[n];
      const hr = walk(this.right[n]);
      if (Math.abs(hl - hr) > 1 || this.height[n] !== 1 + Math.max(hl, hr)) throw new IovaError(`node at ${this.lo[n]}: unbalanced`);
      const mg = Math.max(this.gap[n], this.maxGap[this.left[n]], this.maxGap[this.right[n]]);
      if (mg !== this.maxGap[n]) throw new IovaError(`node at ${this.lo[n]}: maxGap ${this.maxGap[n]}, expected ${mg}`);
      return this.height[n];
    };
    walk(this.root);
    if (prevEnd !== this.endPfn + 1) throw new IovaError('the anchor is not the last node');
  }

  // ---- checks --------------------------------------------------------------------------

  private checkRange(pfn: number, pages: number, what: string, allowRetired: boolean): number {
    const n = this.findContaining(pfn);
    const range = `page frame ${pfn} (${pages} pages)`;
    if (n === 0 || n === this.anchor) throw new IovaError(`${what}: ${range} is not allocated`);
    const k = this.kind[n];
    const lo = this.lo[n];
    if (k === KIND_RESERVED) throw new IovaError(`${what}: ${range} is reserved`);
    if (k === KIND_CACHED) throw new IovaError(`${what}: ${range} was already freed`);
    if (k === KIND_RETIRED && !allowRetired) throw new IovaError(`${what}: ${range} was already unmapped and waits to be freed`);
    if (lo !== pfn) throw new IovaError(`${what}: ${range} is inside the range allocated at ${lo}, not at its start`);
    if (!Number.isSafeInteger(pages) || pages < 1 || this.roundedSize(pages) !== this.size[n]) {
      throw new IovaError(`${what}: ${range} does not match the ${this.size[n]}-page range allocated there`);
    }
    return n;
  }

  // ---- caches (Linux iova_rcache) --------------------------------------------------------

  private newMagazine(): Magazine {
    return { ids: new Int32Array(this.magazineSize), n: 0 };
  }

  private cacheInsert(cache: RangeCache, idx: number): void {
    if (cache.loaded.n === this.magazineSize) {
      if (cache.prev.n < this.magazineSize) {
        const t = cache.loaded;
        cache.loaded = cache.prev;
        cache.prev = t;
      } else {
        // Both full: the loaded one goes to the depot, or back to the tree if the depot is full.
        if (cache.depot.length < this.depotSize) cache.depot.push(cache.loaded);
        else this.emptyMagazine(cache.loaded);
        cache.loaded = this.newMagazine();
      }
    }
    cache.loaded.ids[cache.loaded.n++] = idx;
  }

  /** A cached range starting at or below `maxPfn`, or 0 (Linux __iova_rcache_get). */
  private cacheGet(cache: RangeCache, maxPfn: number): number {
    if (cache.loaded.n === 0) {
      if (cache.prev.n !== 0) {
        const t = cache.loaded;
        cache.loaded = cache.prev;
        cache.prev = t;
      } else {
        const m = cache.depot.pop();
        if (m === undefined) return 0;
        cache.loaded = m;
      }
    }
    // Only the loaded magazine is searched: a miss falls back to the tree, as in Linux.
    const mag = cache.loaded;
    for (let i = mag.n - 1; i >= 0; i--) {
      const idx = mag.ids[i];
      if (this.lo[idx] <= maxPfn) {
        mag.ids[i] = mag.ids[--mag.n];
        return idx;
      }
    }
    return 0;
  }

  private emptyMagazine(mag: Magazine): void {
    const c = this.counters;
    for (let i = 0; i < mag.n; i++) {
      const idx = mag.ids[i];
      c.cachedRanges--;
      c.cachedPages -= this.size[idx];
      this.removeRange(idx);
    }
    mag.n = 0;
  }

  // ---- the augmented AVL tree ------------------------------------------------------------

  private grow(capacity: number): void {
    const copy = <T extends Float64Array | Int32Array | Int8Array | Uint8Array>(a: T, make: (n: number) => T): T => {
      const b = make(capacity);
      b.set(a);
      return b;
    };
    this.lo = copy(this.lo, (n) => new Float64Array(n));
    this.size = copy(this.size, (n) => new Float64Array(n));
    this.gap = copy(this.gap, (n) => new Float64Array(n));
    this.maxGap = copy(this.maxGap, (n) => new Float64Array(n));
    this.left = copy(this.left, (n) => new Int32Array(n));
    this.right = copy(this.right, (n) => new Int32Array(n));
    this.height = copy(this.height, (n) => new Int8Array(n));
    this.kind = copy(this.kind, (n) => new Uint8Array(n));
    this.capacity = capacity;
  }

  private newNode(lo: number, size: number, kind: number): number {
    let n = this.freeSlot;
    if (n !== 0) {
      this.freeSlot = this.left[n];
    } else {
      if (this.used === this.capacity) this.grow(this.capacity * 2);
      n = this.used++;
    }
    this.lo[n] = lo;
    this.size[n] = size;
    this.kind[n] = kind;
    this.gap[n] = 0;
    this.maxGap[n] = 0;
    this.left[n] = 0;
    this.right[n] = 0;
    this.height[n] = 1;
    return n;
  }

  /** Inserts range [pfn, pfn + size) into the free gap just below node `s`. */
  private insertInGap(pfn: number, size: number, kind: number, s: number): void {
    const x = this.newNode(pfn, size, kind);
    const gapStart = this.lo[s] - this.gap[s];
    this.gap[x] = pfn - gapStart;
    // `s` becomes x's successor: it lies on x's insertion path, which insert() re-augments.
    this.gap[s] = this.lo[s] - (pfn + size);
    this.root = this.insert(this.root, x);
    this.counters.occupiedPages += size;
  }

  private removeRange(idx: number): void {
    const s = this.successor(this.lo[idx]);
    // The successor absorbs the range and the gap below it; remove() re-augments its path.
    this.gap[s] += this.gap[idx] + this.size[idx];
    this.root = this.remove(this.root, this.lo[idx]);
    this.counters.occupiedPages -= this.size[idx];
    this.kind[idx] = 0;
    this.left[idx] = this.freeSlot;
    this.freeSlot = idx;
  }

  /**
   * The node whose gap holds the highest range of `size` pages aligned to `align` that ends
   * at or below `limitEnd` (exclusive); the range's start is left in `fitPfn`. Subtrees whose
   * largest gap is too small are skipped, so this is logarithmic unless many gaps are large
   * enough but misaligned.
   */
  private search(n: number, size: number, align: number, limitEnd: number): number {
    if (n === 0 || this.maxGap[n] < size) return 0;
    const lo = this.lo[n];
    // Gaps in the right subtree start at or above this node's end.
    if (lo + this.size[n] + size <= limitEnd) {
      const r = this.search(this.right[n], size, align, limitEnd);
      if (r !== 0) return r;
    }
    const gap = this.gap[n];
    if (gap >= size) {
      const top = Math.min(lo, limitEnd);
      const pfn = Math.floor((top - size) / align) * align;
      if (pfn >= lo - gap) {
        this.fitPfn = pfn;
        return n;
      }
    }
    return this.search(this.left[n], size, align, limitEnd);
  }

  private findContaining(pfn: number): number {
    let n = this.root;
    while (n !== 0) {
      const lo = this.lo[n];
      if (pfn < lo) n = this.left[n];
      else if (pfn >= lo + this.size[n]) n = this.right[n];
      else return n;
    }
    return 0;
  }

  /** The node with the smallest start above `pfn`. */
  private successor(pfn: number): number {
    let n = this.root;
    let best = 0;
    while (n !== 0) {
      if (this.lo[n] > pfn) {
        best = n;
        n = this.left[n];
      } else {
        n = this.right[n];
      }
    }
    return best;
  }

  /** The first node that ends above `pfn` (it contains `pfn` or lies above it). */
  private firstEndingAfter(pfn: number): number {
    let n = this.root;
    let best = 0;
    while (n !== 0) {
      if (this.lo[n] + this.size[n] > pfn) {
        best = n;
        n = this.left[n];
      } else {
        n = this.right[n];
      }
    }
    return best;
  }

  private update(n: number): void {
    const l = this.left[n];
    const r = this.right[n];
    const hl = this.height[l];
    const hr = this.height[r];
    this.height[n] = 1 + (hl > hr ? hl : hr);
    let g = this.gap[n];
    if (this.maxGap[l] > g) g = this.maxGap[l];
    if (this.maxGap[r] > g) g = this.maxGap[r];
    this.maxGap[n] = g;
  }

  private rotateRight(n: number): number {
    const l = this.left[n];
    this.left[n] = this.right[l];
    this.right[l] = n;
    this.update(n);
    this.update(l);
    return l;
  }

  private rotateLeft(n: number): number {
    const r = this.right[n];
    this.right[n] = this.left[r];
    this.left[r] = n;
    this.update(n);
    this.update(r);
    return r;
  }

  private rebalance(n: number): number {
    this.update(n);
    const l = this.left[n];
    const r = this.right[n];
    const balance = this.height[l] - this.height[r];
    if (balance > 1) {
      if (this.height[this.left[l]] < this.height[this.right[l]]) this.left[n] = this.rotateLeft(l);
      return this.rotateRight(n);
    }
    if (balance < -1) {
      if (this.height[this.right[r]] < this.height[this.left[r]]) this.right[n] = this.rotateRight(r);
      return this.rotateLeft(n);
    }
    return n;
  }

  private insert(n: number, x: number): number {
    if (n === 0) {
      this.update(x);
      return x;
    }
    if (this.lo[x] < this.lo[n]) this.left[n] = this.insert(this.left[n], x);
    else this.right[n] = this.insert(this.right[n], x);
    return this.rebalance(n);
  }

  private remove(n: number, lo: number): number {
    if (n === 0) return 0;
    if (lo < this.lo[n]) {
      this.left[n] = this.remove(this.left[n], lo);
    } else if (lo > this.lo[n]) {
      this.right[n] = this.remove(this.right[n], lo);
    } else {
      const l = this.left[n];
      const r = this.right[n];
      if (l === 0 || r === 0) {
        const child = l === 0 ? r : l;
        if (child !== 0) this.update(child); // a right-only child is the successor whose gap grew
        return child;
      }
      // Two children: the successor (leftmost of the right subtree) takes this node's place.
      let m = r;
      while (this.left[m] !== 0) m = this.left[m];
      this.right[m] = this.removeMin(r);
      this.left[m] = l;
      return this.rebalance(m);
    }
    return this.rebalance(n);
  }

  private removeMin(n: number): number {
    if (this.left[n] === 0) return this.right[n];
    this.left[n] = this.removeMin(this.left[n]);
    return this.rebalance(n);
  }
}
