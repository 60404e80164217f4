// The Address Translation Cache of a PCIe function (PCIe Base Specification, chapter 10): the
// translations the function obtained with ATS Translation Requests, each covering a naturally
// aligned range of 2^n pages, kept per address space: requests without a PASID, or a PASID
// with the Privileged Mode Requested bit (the permissions of a completion are those of the
// mode it was asked for, 10.2.3 "Priv"). A translation marked Global is valid for every PASID
// of the function. Entries are filled only from Translation Completions and removed only by
// Invalidation Requests, a function reset or ATS being disabled (10.1.1).
//
// Invalidation (10.3.1, 10.3.8) removes every entry that overlaps the request's range and
// belongs to the address spaces it names:
//  - without a PASID: every entry, whatever its PASID (a request without a PASID prefix cannot
//    spare PASID entries; Linux arm-smmu-v3 notes the same consequence);
//  - with PASID p and Global Invalidate clear: the entries of p that are not Global;
//  - with PASID p and Global Invalidate set: the entries of every PASID ("affects all PASID
//    values"), which is how Global entries leave the cache. Entries without a PASID stay.
// A function that does not support Global Invalidate ignores the bit (10.5.1.2) and never
// caches a translation as Global (the caller's choice, see AtsDmaPort), so that each entry
// remains reachable by an invalidation it honours.
//
// Storage is a sized, set-associative structure of typed arrays with LRU replacement per set;
// entries of different sizes coexist and a lookup probes each size class present, so that a
// lookup allocates nothing. Page numbers are plain numbers (below 2^52).

import { setIndex } from '../../hw/caches/tag-cache.js';

/** The address space of requests without a PASID. */
export const NO_PASID = -1;

/** Permission and attribute bits of an entry, from its Translation Completion (10.2.3). */
export const AtcFlag = {
  Read: 1 << 0,
  Write: 1 << 1,
  Exec: 1 << 2,
  /** U: the range may only be accessed with untranslated requests. */
  UntranslatedOnly: 1 << 3,
  /** Valid for every PASID of the function. */
  Global: 1 << 4,
} as const;

export interface AtcGeometry {
  /** A power of two. */
  sets: number;
  /** 1..64. */
  ways: number;
}

export const DEFAULT_ATC_GEOMETRY: AtcGeometry = { sets: 16, ways: 4 };

export interface AtcCounters {
  hits: number;
  misses: number;
  fills: number;
  /** Valid entries replaced to make room (LRU within the set). */
  evictions: number;
  /** Entries dropped because a newer translation of the same address space overlapped them. */
  superseded: number;
  /** Invalidation Requests processed. */
  invalidationRequests: number;
  /** Entries removed by Invalidation Requests and flushes. */
  invalidations: number;
}

/** A cached translation, for inspection. */
export interface AtcEntry {
  /** null for a translation obtained without a PASID. */
  pasid: number | null;
  privileged: boolean;
  /** First untranslated and translated byte of the range, and log2 of its size in bytes. */
  address: bigint;
  translated: bigint;
  sizeLog2: number;
  flags: number;
}

const POW2: readonly number[] = Array.from({ length: 64 }, (_, n) => 2 ** n);
const INV_POW2: readonly number[] = Array.from({ length: 64 }, (_, n) => 2 ** -n);
/** Largest range in pages: 2^64 bytes. */
const MAX_LOG2_PAGES = 52;

export class AddressTranslationCache {
  readonly counters: AtcCounters = { hits: 0, misses: 0, fills: 0, evictions: 0, superseded: 0, invalidationRequests: 0, invalidations: 0 };
  readonly sets: number;
  readonly ways: number;
  readonly capacity: number;

  // Entry storage, struct-of-arrays.
  private readonly valid: Uint8Array;
  /** PASID, or NO_PASID. */
  private readonly pasid: Int32Array;
  private readonly privileged: Uint8Array;
  /** First untranslated and translated page of the range. */
  private readonly page: Float64Array;
  private readonly target: Float64Array;
  private readonly log2Pages: Uint8Array;
  private readonly flags: Uint8Array;
  private readonly stamp: Float64Array;
  private readonly setMask: number;
  private clock = 0;
  private live = 0;
  /** Entries per size class; `sizes[0..sizeCount)` lists the classes with entries, ascending. */
  private readonly perSize = new Uint32Array(MAX_LOG2_PAGES + 1);
  private readonly sizes = new Uint8Array(MAX_LOG2_PAGES + 1);
  private sizeCount = 0;

  /** Result of the last successful lookup: the entry, the translated page, its flags. */
  hitIndex = -1;
  hitPage = 0;
  hitFlags = 0;

  constructor(geometry: AtcGeometry = DEFAULT_ATC_GEOMETRY) {
    const { sets, ways } = geometry;
    if (!Number.isInteger(sets) || sets < 1 || (sets & (sets - 1)) !== 0) throw new RangeError(`ATC sets must be a power of two, not ${sets}`);
    if (!Number.isInteger(ways) || ways < 1 || ways > 64) throw new RangeError(`ATC ways must be 1..64, not ${ways}`);
    this.sets = sets;
    this.ways = ways;
    const n = sets * ways;
    this.capacity = n;
    this.valid = new Uint8Array(n);
    this.pasid = new Int32Array(n);
    this.privileged = new Uint8Array(n);
    this.page = new Float64Array(n);
    this.target = new Float64Array(n);
    this.log2Pages = new Uint8Array(n);
    this.flags = new Uint8Array(n);
    this.stamp = new Float64Array(n);
    this.setMask = sets - 1;
  }

  get occupancy(): number {
    return this.live;
  }

  /**
   * Finds the translation of untranslated page `page` for a request with `pasid` (NO_PASID
   * without one) in privileged mode or not. On a hit, hitPage is the translated page of `page`.
   */
  lookup(pasid: number, privileged: boolean, page: number): boolean {
    const priv = privileged ? 1 : 0;
    for (let s = 0; s < this.sizeCount; s++) {
      const log2 = this.sizes[s];
      const index = Math.floor(page * INV_POW2[log2]);
      const base = index * POW2[log2];
      const first = setIndex(index, this.setMask) * this.ways;
      for (let i = first; i < first + this.ways; i++) {
        if (this.valid[i] === 0 || this.page[i] !== base || this.log2Pages[i] !== log2 || this.privileged[i] !== priv) continue;
        const owner = this.pasid[i];
        if (owner !== pasid && (pasid === NO_PASID || owner === NO_PASID || (this.flags[i] & AtcFlag.Global) === 0)) continue;
        this.stamp[i] = ++this.clock;
        this.counters.hits++;
        this.hitIndex = i;
        this.hitPage = this.target[i] + (page - base);
        this.hitFlags = this.flags[i];
        return true;
      }
    }
    this.counters.misses++;
    this.hitIndex = -1;
    return false;
  }

  /** Drops the entry of the last hit (a newer translation of it is on its way). */
  discardHit(): void {
    if (this.hitIndex < 0 || this.valid[this.hitIndex] === 0) return;
    this.remove(this.hitIndex);
    this.counters.superseded++;
    this.hitIndex = -1;
  }

  /**
   * Caches the translation of the 2^log2Pages-page range containing `page` (log2Pages 0..52),
   * whose first translated page is `target`. Entries of the same address space that overlap
   * the range are dropped first, so that a lookup finds one answer.
   */
  insert(pasid: number, privileged: boolean, page: number, log2Pages: number, target: number, flags: number): void {
    const log2 = Math.min(Math.max(log2Pages, 0), MAX_LOG2_PAGES);
    const index = Math.floor(page * INV_POW2[log2]);
    const base = index * POW2[log2];
    const priv = privileged ? 1 : 0;
    const global = (flags & AtcFlag.Global) !== 0 && pasid !== NO_PASID;
    const end = base + POW2[log2];
    for (let i = 0; i < this.capacity; i++) {
      if (this.valid[i] === 0 || this.privileged[i] !== priv || !this.overlaps(i, base, end)) continue;
      const owner = this.pasid[i];
      const shared = owner === pasid || (owner !== NO_PASID && pasid !== NO_PASID && (global || (this.flags[i] & AtcFlag.Global) !== 0));
      if (!shared) continue;
      this.remove(i);
      this.counters.superseded++;
    }
    const first = setIndex(index, this.setMask) * this.ways;
    let victim = first;
    for (let i = first; i < first + this.ways; i++) {
      if (this.valid[i] === 0) {
        victim = i;
        break;
      }
      if (this.stamp[i] < this.stamp[victim]) victim = i;
    }
    if (this.valid[victim] !== 0) {
      this.remove(victim);
      this.counters.evictions++;
    }
    this.valid[victim] = 1;
    this.pasid[victim] = pasid;
    this.privileged[victim] = priv;
    this.page[victim] = base;
    this.target[victim] = Math.floor(target * INV_POW2[log2]) * POW2[log2];
    this.log2Pages[victim] = log2;
    this.flags[victim] = global ? flags | AtcFlag.Global : flags & ~AtcFlag.Global;
    this.stamp[victim] = ++this.clock;
    this.live++;
    if (this.perSize[log2]++ === 0) this.addSize(log2);
    this.counters.fills++;
  }

  /**
   * Processes an Invalidation Request (see the file comment): the range is the 2^sizeLog2 bytes
   * (12..64) at `address` (aligned down to that size). Returns how many entries it removed.
   */
  invalidate(pasid: number | null, global: boolean, address: bigint, sizeLog2: number): number {
    this.counters.invalidationRequests++;
    const log2 = Math.min(Math.max(sizeLog2 - 12, 0), MAX_LOG2_PAGES);
    const start = Math.floor(Number(address >> 12n) * INV_POW2[log2]) * POW2[log2];
    const end = start + POW2[log2];
    let n = 0;
    for (let i = 0; i < this.capacity; i++) {
      if (this.valid[i] === 0 || !this.overlaps(i, start, end)) continue;
      const owner = this.pasid[i];
      const hit = pasid === null || (global ? owner !== NO_PASID : owner === pasid && (this.flags[i] & AtcFlag.Global) === 0);
      if (!hit) continue;
      this.remove(i);
      n++;
    }
    this.counters.invalidations += n;
    return n;
  }

  /** Drops every entry (function reset, ATS disabled or reconfigured); returns how many. */
  flush(): number {
    let n = 0;
    for (let i = 0; i < this.capacity; i++) {
      if (this.valid[i] === 0) continue;
      this.remove(i);
      n++;
    }
    this.counters.invalidations += n;
    return n;
  }

  /** Valid entries, for inspection. */
  entries(): AtcEntry[] {
    const out: AtcEntry[] = [];
    for (let i = 0; i < this.capacity; i++) {
      if (this.valid[i] === 0) continue;
      out.push({
        pasid: this.pasid[i] === NO_PASID ? null : this.pasid[i],
        privileged: this.privileged[i] === 1,
        address: BigInt(this.page[i]) << 12n,
        translated: BigInt(this.target[i]) << 12n,
        sizeLog2: this.log2Pages[i] + 12,
        flags: this.flags[i],
      });
    }
    return out;
  }

  private overlaps(i: number, start: number, end: number): boolean {
    const first = this.page[i];
    return first < end && first + POW2[this.log2Pages[i]] > start;
  }

  private remove(i: number): void {
    this.valid[i] = 0;
    this.live--;
    const log2 = this.log2Pages[i];
    if (--this.perSize[log2] === 0) this.removeSize(log2);
  }

  private addSize(log2: number): void {
    let at = this.sizeCount++;
    while (at > 0 && this.sizes[at - 1] > log2) {
      this.sizes[at] = this.sizes[at - 1];
      at--;
    }
    this.sizes[at] = log2;
  }

  private removeSize(log2: number): void {
    let at = 0;
    while (this.sizes[at] !== log2) at++;
    for (; at < this.sizeCount - 1; at++) this.sizes[at] = this.sizes[at + 1];
    this.sizeCount--;
  }
}
