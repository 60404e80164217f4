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
  /** An entry is valid when its generation is the current one: clear() is O(1). */
  private readonly gen: Uint32Array;
  private currentGen = 1;
  private live = 0;
  /** Changes whenever the contents change (fills, invalidations), so users may memoize lookups. */
  version = 0;
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
    this.gen = new Uint32Array(this.capacity);
    this.stamps = new Float64Array(this.capacity);
    this.values = new Array<V | undefined>(this.capacity).fill(undefined);
    this.setMask = sets - 1;
  }

  lookup(tag: number): V | undefined {
    const base = setIndex(tag, this.setMask) * this.ways;
    for (let i = base; i < base + this.ways; i++) {
      if (this.gen[i] === this.currentGen && this.tags[i] === tag) {
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
      if (this.gen[i] === this.currentGen && this.tags[i] === tag) return this.values[i];
    }
    return undefined;
  }

  insert(tag: number, value: V): void {
    if (this.ways === 0) return;
    const base = setIndex(tag, this.setMask) * this.ways;
    let victim = base;
    for (let i = base; i < base + this.ways; i++) {
      if (this.gen[i] === this.currentGen && this.tags[i] === tag) {
        victim = i;
        break;
      }
      if (this.gen[i] !== this.currentGen) {
        victim = i;
        break;
      }
      if (this.stamps[i] < this.stamps[victim]) victim = i;
    }
    if (this.gen[victim] !== this.currentGen) this.live++;
    else if (this.tags[victim] !== tag) this.counters.evictions++;
    this.gen[victim] = this.currentGen;
    this.tags[victim] = tag;
    this.values[victim] = value;
    this.stamps[victim] = ++this.clock;
    this.counters.fills++;
    this.version++;
  }

  /** Drops every entry for which `match(tag, value)` holds; returns how many. */
  invalidateWhere(match: (tag: number, value: V) => boolean): number {
    let n = 0;
    for (let i = 0; i < this.capacity; i++) {
      if (this.gen[i] === this.currentGen && match(this.tags[i], this.values[i] as V)) {
        this.gen[i] = 0;
        this.values[i] = undefined;
        n++;
      }
    }
    this.counters.invalidations += n;
    this.live -= n;
    this.version++;
    return n;
  }

  invalidateTag(tag: number): number {
    const base = setIndex(tag, this.setMask) * this.ways;
    for (let i = base; i < base + this.ways; i++) {
      if (this.gen[i] === this.currentGen && this.tags[i] === tag) {
        this.gen[i] = 0;
        this.values[i] = undefined;
        this.counters.invalidations++;
        this.live--;
        this.version++;
        return 1;
      }
    }
    return 0;
  }

  /** Drops every entry in O(1) (stale values are released as their slots are reused). */
  clear(): number {
    const n = this.live;
    this.live = 0;
    this.version++;
    this.counters.invalidations += n;
    this.currentGen = (this.currentGen + 1) >>> 0 || 1;
    if (this.currentGen === 1) this.gen.fill(0); // wrapped: forget stale generations
    return n;
  }

  get occupancy(): number {
    return this.live;
  }

  /** Valid entries, for inspection. */
  *entries(): IterableIterator<[number, V]> {
    for (let i = 0; i < this.capacity; i++) if (this.gen[i] === this.currentGen) yield [this.tags[i], this.values[i] as V];
  }
}
