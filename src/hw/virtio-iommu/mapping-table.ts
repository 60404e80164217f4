// The mappings of one domain: non-overlapping page ranges, each created by one MAP request,
// kept sorted in parallel typed arrays. A lookup is a binary search behind a one-entry
// last-hit cache (DMA streams hit the same mapping again and again); it allocates nothing.
// Inserting and removing shift the arrays (memmove-like), which is fine for the request
// path. Bounds are 4 KiB page numbers, inclusive.

const INITIAL_CAPACITY = 16;

export class MappingTable {
  /** Number of mappings. */
  count = 0;
  private first = new Float64Array(INITIAL_CAPACITY);
  private last = new Float64Array(INITIAL_CAPACITY);
  private phys = new Float64Array(INITIAL_CAPACITY);
  private flagBits = new Uint8Array(INITIAL_CAPACITY);
  private lastHit = -1;

  /** First page of mapping `i`. */
  firstPage(i: number): number {
    return this.first[i];
  }

  /** Last page of mapping `i`. */
  lastPage(i: number): number {
    return this.last[i];
  }

  /** Physical page that the first page of mapping `i` maps to. */
  physPage(i: number): number {
    return this.phys[i];
  }

  /** MAP flags of mapping `i`. */
  flags(i: number): number {
    return this.flagBits[i];
  }

  /** Index of the mapping that contains page `page`, or -1. */
  find(page: number): number {
    const h = this.lastHit;
    if (h >= 0 && this.first[h] <= page && page <= this.last[h]) return h;
    const i = this.firstEndingAtOrAfter(page);
    if (i < this.count && this.first[i] <= page) {
      this.lastHit = i;
      return i;
    }
    return -1;
  }

  /** Index of the first mapping whose last page is >= `page` (count if none). */
  firstEndingAtOrAfter(page: number): number {
    let lo = 0;
    let hi = this.count;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.last[mid] < page) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Whether any mapping has a page in [firstPage, lastPage]. */
  overlaps(firstPage: number, lastPage: number): boolean {
    const i = this.firstEndingAtOrAfter(firstPage);
    return i < this.count && this.first[i] <= lastPage;
  }

  /** Adds a mapping; the caller has checked that it overlaps none. */
  insert(firstPage: number, lastPage: number, physPage: number, flags: number): void {
    if (this.count === this.first.length) this.grow();
    const i = this.firstEndingAtOrAfter(firstPage);
    const n = this.count;
    if (i < n) {
      this.first.copyWithin(i + 1, i, n);
      this.last.copyWithin(i + 1, i, n);
      this.phys.copyWithin(i + 1, i, n);
      this.flagBits.copyWithin(i + 1, i, n);
    }
    this.first[i] = firstPage;
    this.last[i] = lastPage;
    this.phys[i] = physPage;
    this.flagBits[i] = flags;
    this.count = n + 1;
    this.lastHit = -1;
  }

  /** Removes mappings [from, to). */
  remove(from: number, to: number): void {
    const n = this.count;
    if (to < n) {
      this.first.copyWithin(from, to, n);
      this.last.copyWithin(from, to, n);
      this.phys.copyWithin(from, to, n);
      this.flagBits.copyWithin(from, to, n);
    }
    this.count = n - (to - from);
    this.lastHit = -1;
  }

  clear(): void {
    this.count = 0;
    this.lastHit = -1;
  }

  private grow(): void {
    const size = this.first.length * 2;
    const first = new Float64Array(size);
    const last = new Float64Array(size);
    const phys = new Float64Array(size);
    const flagBits = new Uint8Array(size);
    first.set(this.first);
    last.set(this.last);
    phys.set(this.phys);
    flagBits.set(this.flagBits);
    this.first = first;
    this.last = last;
    this.phys = phys;
    this.flagBits = flagBits;
  }
}
