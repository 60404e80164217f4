// The driver's own record of a domain's mappings (Linux keeps an interval tree of them): one
// entry per MAP request it made, as inclusive 4 KiB page ranges. It answers iova_to_phys
// without asking the device, says what an unmap covers (UNMAP may not split a mapping, 5.13.6.6),
// and lets the driver replay the mappings when the domain is attached again after the device
// forgot it. Entries live sorted in parallel typed arrays; lookups are binary searches and
// nothing is allocated except when the arrays grow.

const INITIAL_CAPACITY = 8;

export class MappingList {
  private size = 0;
  private firsts = new Float64Array(INITIAL_CAPACITY);
  private lasts = new Float64Array(INITIAL_CAPACITY);
  private physs = new Float64Array(INITIAL_CAPACITY);
  private flagWords = new Uint32Array(INITIAL_CAPACITY);

  get count(): number {
    return this.size;
  }

  first(i: number): number {
    return this.firsts[i];
  }

  last(i: number): number {
    return this.lasts[i];
  }

  phys(i: number): number {
    return this.physs[i];
  }

  flags(i: number): number {
    return this.flagWords[i];
  }

  /** The index of the first entry that ends at or after `page` (count when none does). */
  firstEndingFrom(page: number): number {
    let lo = 0;
    let hi = this.size;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.lasts[mid] < page) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** The index of the entry holding `page`, or -1. */
  find(page: number): number {
    const i = this.firstEndingFrom(page);
    return i < this.size && this.firsts[i] <= page ? i : -1;
  }

  /** Whether any entry touches pages [first, last]. */
  overlaps(first: number, last: number): boolean {
    const i = this.firstEndingFrom(first);
    return i < this.size && this.firsts[i] <= last;
  }

  /** Records pages [first, last] → `phys`; false, changing nothing, when they overlap an entry. */
  insert(first: number, last: number, phys: number, flags: number): boolean {
    const i = this.firstEndingFrom(first);
    if (i < this.size && this.firsts[i] <= last) return false;
    if (this.size === this.firsts.length) this.grow();
    this.firsts.copyWithin(i + 1, i, this.size);
    this.lasts.copyWithin(i + 1, i, this.size);
    this.physs.copyWithin(i + 1, i, this.size);
    this.flagWords.copyWithin(i + 1, i, this.size);
    this.firsts[i] = first;
    this.lasts[i] = last;
    this.physs[i] = phys;
    this.flagWords[i] = flags;
    this.size++;
    return true;
  }

  /** Drops entries [from, to). */
  remove(from: number, to: number): void {
    if (to <= from) return;
    this.firsts.copyWithin(from, to, this.size);
    this.lasts.copyWithin(from, to, this.size);
    this.physs.copyWithin(from, to, this.size);
    this.flagWords.copyWithin(from, to, this.size);
    this.size -= to - from;
  }

  clear(): void {
    this.size = 0;
  }

  private grow(): void {
    const n = this.firsts.length * 2;
    const widen = (a: Float64Array<ArrayBuffer>): Float64Array<ArrayBuffer> => {
      const b = new Float64Array(n);
      b.set(a);
      return b;
    };
    this.firsts = widen(this.firsts);
    this.lasts = widen(this.lasts);
    this.physs = widen(this.physs);
    const f = new Uint32Array(n);
    f.set(this.flagWords);
    this.flagWords = f;
  }
}
