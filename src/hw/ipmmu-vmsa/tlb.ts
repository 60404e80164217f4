// An IPMMU's TLB: leaf translations of its contexts, tagged by context, leaf size and input
// page. Every IPMMU keeps one: a cache IPMMU's is the translation cache in front of its
// masters, the root's (IPMMU-MM) the main TLB its table walks fill. IMCTR.FLUSH of a context
// drops that context's entries in that IPMMU only (both drivers flush the root and every cache
// IPMMU a domain uses).
//
// Entries of every leaf size (4 KiB, 2 MiB, 1 GiB) coexist and a lookup probes each size that
// is present: when software changes a table without flushing, two entries of different sizes
// may both match an address, and the lookup reports it (IMSTR.MHIT, "Multiple TLB hits").
// Storage is typed arrays, set-associative with LRU replacement: nothing is allocated per call.

/** log2 of the leaf sizes in 4 KiB pages: 4 KiB, 2 MiB, 1 GiB (the 4 KiB granule's leaves). */
const SIZE_LOG2 = [0, 9, 18] as const;
const TWO_32 = 4294967296;

export interface IpmmuTlbCounters {
  hits: number;
  misses: number;
  fills: number;
  evictions: number;
  /** Entries dropped by flushes. */
  invalidations: number;
}

export class IpmmuTlb {
  readonly capacity: number;
  readonly counters: IpmmuTlbCounters = { hits: 0, misses: 0, fills: 0, evictions: 0, invalidations: 0 };
  /** Results of the last lookup that found an entry. */
  outputPage = 0;
  perms = 0;
  /** log2 of the matching entry's size in 4 KiB pages. */
  log2Pages = 0;
  /** Entries the last lookup found (0, 1, or more on a multiple hit). */
  matches = 0;

  private readonly context: Int8Array;
  private readonly size: Uint8Array;
  private readonly vpn: Float64Array; // input page >> size
  private readonly ppn: Float64Array; // output page of the entry's first page
  private readonly perm: Uint8Array;
  private readonly stamp: Float64Array;
  private readonly setMask: number;
  private clock = 0;
  private live = 0;
  /** Bit k set: entries of SIZE_LOG2[k] may be present. */
  private sizes = 0;

  constructor(
    readonly sets: number,
    readonly ways: number,
  ) {
    if (!Number.isInteger(sets) || sets < 1 || (sets & (sets - 1)) !== 0) throw new RangeError(`TLB sets must be a power of two, not ${sets}`);
    if (!Number.isInteger(ways) || ways < 1 || ways > 64) throw new RangeError(`TLB ways must be 1..64, not ${ways}`);
    this.capacity = sets * ways;
    this.setMask = sets - 1;
    this.context = new Int8Array(this.capacity).fill(-1);
    this.size = new Uint8Array(this.capacity);
    this.vpn = new Float64Array(this.capacity);
    this.ppn = new Float64Array(this.capacity);
    this.perm = new Uint8Array(this.capacity);
    this.stamp = new Float64Array(this.capacity);
  }

  get occupancy(): number {
    return this.live;
  }

  /**
   * Looks up input page `page` of `context`; returns how many entries match (leaving the first
   * match's output page, permissions and size in fields). Counts one hit or one miss.
   */
  lookup(context: number, page: number): number {
    let found = -1;
    let matches = 0;
    for (let k = 0; k < 3; k++) {
      if ((this.sizes & (1 << k)) === 0) continue;
      const n = SIZE_LOG2[k];
      const vpn = n === 0 ? page : Math.floor(page / 2 ** n);
      const i = this.find(context, n, vpn);
      if (i < 0) continue;
      matches++;
      if (found < 0) found = i;
    }
    this.matches = matches;
    if (found < 0) {
      this.counters.misses++;
      return 0;
    }
    this.counters.hits++;
    this.stamp[found] = ++this.clock;
    const n = this.size[found];
    this.log2Pages = n;
    this.outputPage = this.ppn[found] + (n === 0 ? 0 : page - this.vpn[found] * 2 ** n);
    this.perms = this.perm[found];
    return matches;
  }

  /** Caches the translation of `page` (output `outputPage`) from a leaf of 2^log2Pages pages. */
  insert(context: number, page: number, outputPage: number, log2Pages: number, perms: number): void {
    const n = log2Pages >= 18 ? 18 : log2Pages >= 9 ? 9 : 0;
    const vpn = n === 0 ? page : Math.floor(page / 2 ** n);
    const first = this.setOf(context, n, vpn) * this.ways;
    let victim = first;
    for (let i = first; i < first + this.ways; i++) {
      if (this.context[i] < 0 || (this.context[i] === context && this.size[i] === n && this.vpn[i] === vpn)) {
        victim = i;
        break;
      }
      if (this.stamp[i] < this.stamp[victim]) victim = i;
    }
    if (this.context[victim] < 0) this.live++;
    else if (!(this.context[victim] === context && this.size[victim] === n && this.vpn[victim] === vpn)) this.counters.evictions++;
    this.context[victim] = context;
    this.size[victim] = n;
    this.vpn[victim] = vpn;
    this.ppn[victim] = outputPage - (page - vpn * 2 ** n);
    this.perm[victim] = perms;
    this.stamp[victim] = ++this.clock;
    this.sizes |= n === 0 ? 1 : n === 9 ? 2 : 4;
    this.counters.fills++;
  }

  /** Drops every entry of `context`; returns how many. */
  flushContext(context: number): number {
    let n = 0;
    for (let i = 0; i < this.capacity; i++) {
      if (this.context[i] !== context) continue;
      this.context[i] = -1;
      n++;
    }
    this.dropped(n);
    return n;
  }

  /** Drops every entry (reset). */
  clear(): number {
    const n = this.live;
    this.context.fill(-1);
    this.dropped(n);
    return n;
  }

  /** Valid entries, for inspection tools: context, first input and output page, size. */
  entries(): { context: number; inputPage: number; outputPage: number; log2Pages: number; perms: number }[] {
    const out = [];
    for (let i = 0; i < this.capacity; i++) {
      if (this.context[i] < 0) continue;
      const n = this.size[i];
      out.push({ context: this.context[i], inputPage: this.vpn[i] * 2 ** n, outputPage: this.ppn[i], log2Pages: n, perms: this.perm[i] });
    }
    return out;
  }

  private dropped(n: number): void {
    this.live -= n;
    this.counters.invalidations += n;
    if (this.live === 0) this.sizes = 0;
  }

  private setOf(context: number, n: number, vpn: number): number {
    return ((vpn >>> 0) ^ ((vpn / TWO_32) >>> 0) ^ (context * 0x9e37) ^ (n * 0x51)) & this.setMask;
  }

  private find(context: number, n: number, vpn: number): number {
    const first = this.setOf(context, n, vpn) * this.ways;
    for (let i = first; i < first + this.ways; i++) {
      if (this.context[i] === context && this.size[i] === n && this.vpn[i] === vpn) return i;
    }
    return -1;
  }
}
