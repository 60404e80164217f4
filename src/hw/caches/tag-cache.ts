// A sized, set-associative cache keyed by an exact integer tag (< 2^53), with LRU
// replacement within a set and counters, for directory and configuration caches.

export interface CacheCounters {
  hits: number;
  misses: number;
  fills: number;
  evictions: number;
  invalidations: number;
}

export function newCounters(): CacheCounters {
  return { hits: 0, misses: 0, fills: 0, evictions: 0, invalidations: 0 };
}

/** Set index of an integer tag below 2^53: fold the high word into the low word. */
export function setIndex(tag: number, setMask: number): number {
  return ((tag >>> 0) ^ ((tag / 4294967296) >>> 0)) & setMask;
}

export class TagCache<V> {
  readonly counters: CacheCounters = newCounters();
  readonly capacity: number;
  private readonly tags: Float64Array;
  private readonly valid: Uint8Array;
  private readonly stamps: Float64Array;
  private readonly values: (V | undefined)[];
  private readonly setMask: number;
  private clock = 0;

  constructor(
    readonly sets: number,
    readonly ways: number,
  ) {
    this.capacity = sets * ways;
    this.tags = new Float64Array(this.capacity);
    this.valid = new Uint8Array(this.capacity);
    this.stamps = new Float64Array(this.capacity);
    this.values = new Array<V | undefined>(this.capacity).fill(undefined);
    this.setMask = sets - 1;
  }

  lookup(tag: number): V | undefined {
    const base = setIndex(tag, this.setMask) * this.ways;
    for (let i = base; i < base + this.ways; i++) {
      if (this.valid[i] === 1 && this.tags[i] === tag) {
        this.stamps[i] = ++this.clock;
        this.counters.hits++;
        return this.values[i];
      }
    }
    this.counters.misses++;
    return undefined;
  }

  /** Looks without touching counters or LRU state (for inspection tools). */
  peek(tag: number): V | undefined {
    const base = setIndex(tag, this.setMask) * this.ways;
    for (let i = base; i < base + this.ways; i++) {
      if (this.valid[i] === 1 && this.tags[i] === tag) return this.values[i];
    }
    return undefined;
  }

  insert(tag: number, value: V): void {
    if (this.ways === 0) return;
    const base = setIndex(tag, this.setMask) * this.ways;
    let victim = base;
    for (let i = base; i < base + this.ways; i++) {
      if (this.valid[i] === 1 && this.tags[i] === tag) {
        victim = i;
        break;
      }
      if (this.valid[i] === 0) {
        victim = i;
        break;
      }
      if (this.stamps[i] < this.stamps[victim]) victim = i;
    }
    if (this.valid[victim] === 1 && this.tags[victim] !== tag) this.counters.evictions++;
    this.valid[victim] = 1;
    this.tags[victim] = tag;
    this.values[victim] = value;
    this.stamps[victim] = ++this.clock;
    this.counters.fills++;
  }

  /** Drops every entry for which `match(tag, value)` holds; returns how many. */
  invalidateWhere(match: (tag: number, value: V) => boolean): number {
    let n = 0;
    for (let i = 0; i < this.capacity; i++) {
      if (this.valid[i] === 1 && match(this.tags[i], this.values[i] as V)) {
        this.valid[i] = 0;
        this.values[i] = undefined;
        n++;
      }
    }
    this.counters.invalidations += n;
    return n;
  }

  invalidateTag(tag: number): number {
    const base = setIndex(tag, this.setMask) * this.ways;
    for (let i = base; i < base + this.ways; i++) {
      if (this.valid[i] === 1 && this.tags[i] === tag) {
        this.valid[i] = 0;
        this.values[i] = undefined;
        this.counters.invalidations++;
        return 1;
      }
    }
    return 0;
  }

  clear(): number {
    let n = 0;
    for (let i = 0; i < this.capacity; i++) {
      if (this.valid[i] === 1) n++;
      this.valid[i] = 0;
      this.values[i] = undefined;
    }
    this.counters.invalidations += n;
    return n;
  }

  get occupancy(): number {
    let n = 0;
    for (let i = 0; i < this.capacity; i++) n += this.valid[i];
    return n;
  }

  /** Valid entries, for inspection. */
  *entries(): IterableIterator<[number, V]> {
    for (let i = 0; i < this.capacity; i++) if (this.valid[i] === 1) yield [this.tags[i], this.values[i] as V];
  }
}
