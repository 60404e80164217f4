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

const TWO_TO_MINUS_32 = 2 ** -32;

/** Set index of an integer tag below 2^53: fold the high word into the low word. */
export function setIndex(tag: number, setMask: number): number {
  return ((tag >>> 0) ^ ((tag * TWO_TO_MINUS_32) >>> 0)) & setMask;
}

/** The high 32-bit half of a tag below 2^53 (the low half is `tag | 0`). */
export function tagHigh(tag: number): number {
  return Math.floor(tag * TWO_TO_MINUS_32);
}

/**
 * Tags are kept, and may be passed, as their two 32-bit halves: a tag of 31 bits or more is not
 * a small integer for V8, which would allocate it (box it) on every call it is passed to.
 */
export class TagCache<V> {
  readonly counters: CacheCounters = newCounters();
  readonly capacity: number;
  private readonly tagHi: Int32Array;
  private readonly tagLo: Int32Array;
  /** An entry is valid when its generation is the current one: clear() is O(1). */
  private readonly gen: Uint32Array;
  private currentGen = 1;
  private live = 0;
  /** Changes whenever the contents change (fills, invalidations), so users may memoize lookups. */
  version = 0;
  private readonly stamps: Float64Array;
  /**
   * Values stay in their slots after an invalidation (stale, like after clear()) until the slot
   * is reused. A slot is marked exposed once peek() or entries() handed its value out.
   */
  private readonly values: (V | undefined)[];
  private readonly exposed: Uint8Array;
  private readonly setMask: number;
  private clock = 0;

  constructor(
    readonly sets: number,
    readonly ways: number,
  ) {
    this.capacity = sets * ways;
    this.tagHi = new Int32Array(this.capacity);
    this.tagLo = new Int32Array(this.capacity);
    this.gen = new Uint32Array(this.capacity);
    this.stamps = new Float64Array(this.capacity);
    this.values = new Array<V | undefined>(this.capacity).fill(undefined);
    this.exposed = new Uint8Array(this.capacity);
    this.setMask = sets - 1;
  }

  lookup(tag: number): V | undefined {
    return this.lookupHalves(tagHigh(tag), tag | 0);
  }

  /** lookup() of the tag hi * 2^32 + (lo mod 2^32). */
  lookupHalves(hi: number, lo: number): V | undefined {
    const i = this.find(hi, lo | 0);
    if (i < 0) {
      this.counters.misses++;
      return undefined;
    }
    this.stamps[i] = ++this.clock;
    this.counters.hits++;
    return this.values[i];
  }

  /** Looks without touching counters or LRU state (for inspection tools). */
  peek(tag: number): V | undefined {
    const i = this.find(tagHigh(tag), tag | 0);
    if (i < 0) return undefined;
    this.exposed[i] = 1;
    return this.values[i];
  }

  /**
   * Caches `value` under `tag`, replacing the least recently used entry of a full set. Returns
   * the value that leaves the cache's storage (evicted, or stale after an invalidation) when
   * only the cache and lookup() callers ever had it, so that its owner may reuse the object.
   */
  insert(tag: number, value: V): V | undefined {
    return this.insertHalves(tagHigh(tag), tag | 0, value);
  }

  /** insert() under the tag hi * 2^32 + (lo mod 2^32). */
  insertHalves(hi: number, lo: number, value: V): V | undefined {
    if (this.ways === 0) return undefined;
    lo |= 0;
    const base = ((hi ^ lo) & this.setMask) * this.ways; // setIndex() of the tag
    let victim = base;
    for (let i = base; i < base + this.ways; i++) {
      if (this.gen[i] !== this.currentGen || (this.tagLo[i] === lo && this.tagHi[i] === hi)) {
        victim = i;
        break;
      }
      if (this.stamps[i] < this.stamps[victim]) victim = i;
    }
    if (this.gen[victim] !== this.currentGen) this.live++;
    else if (this.tagLo[victim] !== lo || this.tagHi[victim] !== hi) this.counters.evictions++;
    const displaced = this.exposed[victim] === 0 && this.values[victim] !== value ? this.values[victim] : undefined;
    this.gen[victim] = this.currentGen;
    this.tagHi[victim] = hi;
    this.tagLo[victim] = lo;
    this.values[victim] = value;
    this.exposed[victim] = 0;
    this.stamps[victim] = ++this.clock;
    this.counters.fills++;
    this.version++;
    return displaced;
  }

  /** Drops every entry whose tag satisfies `match`; returns how many. */
  invalidateWhere(match: (tag: number) => boolean): number {
    let n = 0;
    for (let i = 0; i < this.capacity; i++) {
      if (this.gen[i] === this.currentGen && match(this.tagAt(i))) {
        this.gen[i] = 0;
        n++;
      }
    }
    this.counters.invalidations += n;
    this.live -= n;
    this.version++;
    return n;
  }

  invalidateTag(tag: number): number {
    const i = this.find(tagHigh(tag), tag | 0);
    if (i < 0) return 0;
    this.gen[i] = 0;
    this.counters.invalidations++;
    this.live--;
    this.version++;
    return 1;
  }

  /** Drops every entry in O(1). */
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
    for (let i = 0; i < this.capacity; i++) {
      if (this.gen[i] === this.currentGen) {
        this.exposed[i] = 1;
        yield [this.tagAt(i), this.values[i] as V];
      }
    }
  }

  /** The valid entry holding the tag with halves hi and lo (lo as int32), or -1. */
  private find(hi: number, lo: number): number {
    const base = ((hi ^ lo) & this.setMask) * this.ways; // setIndex() of the tag
    for (let i = base; i < base + this.ways; i++) {
      if (this.gen[i] === this.currentGen && this.tagLo[i] === lo && this.tagHi[i] === hi) return i;
    }
    return -1;
  }

  private tagAt(i: number): number {
    return this.tagHi[i] * 4294967296 + (this.tagLo[i] >>> 0);
  }
}
