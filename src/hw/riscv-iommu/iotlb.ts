// The IOTLB: cached leaf translations (IOVA -> SPA, or GPA -> SPA for T2GPA contexts),
// tagged as the specification tags them (GSCID when the second stage is active, PSCID when
// the first stage is active) and invalidated exactly by IOTINVAL.VMA / IOTINVAL.GVMA.
// Entries of different sizes coexist; a lookup probes each size class that is present.
// Storage is a structure of typed arrays so that a lookup allocates nothing.

import { newCounters, setIndex, type CacheCounters } from '../caches/tag-cache.js';
import { alignDown, INV_POW2, POW2 } from './page-number.js';

/** Permission and state bits of an entry, kept per stage (first stage "VS", second stage "G"). */
export const TlbFlag = {
  VS_R: 1 << 0,
  VS_W: 1 << 1,
  VS_X: 1 << 2,
  VS_U: 1 << 3,
  VS_G: 1 << 4,
  VS_D: 1 << 5,
  G_R: 1 << 6,
  G_W: 1 << 7,
  G_X: 1 << 8,
  G_D: 1 << 9,
  MSI: 1 << 10,
} as const;

/** Marker for "no second-stage leaf" in gLog2Pages. */
const NO_G_LEAF = 255;

/**
 * An address space, as the IOTLB tags it: GV and GSCID (`gTag`), PSCV and PSCID (`pTag`), each
 * a small integer (0 when not valid). Lookups, fills and invalidations use the same packing.
 */
export function gscidTag(gv: boolean, gscid: number): number {
  return gv ? 0x10000 | gscid : 0;
}
export function pscidTag(pscv: boolean, pscid: number): number {
  return pscv ? 0x100000 | pscid : 0;
}

export interface TlbFill {
  gTag: number;
  pTag: number;
  /** Input page number (IOVA or GPA), any alignment; aligned down to the entry size. */
  vpn: number;
  /** Output page number for `vpn`. */
  ppn: number;
  /** log2 of the entry size in 4 KiB pages. */
  log2Pages: number;
  flags: number;
  pbmt: number;
  /** Guest-physical page that `vpn` translates through (equal to `vpn` without a first stage). */
  gpaVpn: number;
  /** Size of the second-stage leaf used, for address-selective IOTINVAL.GVMA; NO_G_LEAF when Bare. */
  gLog2Pages: number;
  /** Size of the first-stage leaf used (at least log2Pages), for address-selective IOTINVAL.VMA. */
  sLog2Pages: number;
}

export class Iotlb {
  readonly counters: CacheCounters = newCounters();
  readonly capacity: number;

  // Entry storage, struct-of-arrays.
  private readonly gTag: Int32Array;
  private readonly pTag: Int32Array;
  private readonly vpn: Float64Array;
  private readonly ppn: Float64Array;
  private readonly gpa: Float64Array; // GPA page of the entry's base
  private readonly gLeaf: Float64Array; // base of the second-stage leaf
  private readonly stamp: Float64Array;
  private readonly gen: Uint32Array;
  private readonly log2Pages: Uint8Array;
  private readonly gLog2Pages: Uint8Array;
  private readonly sLog2Pages: Uint8Array; // first-stage leaf the entry was built from
  private readonly flags: Uint16Array;
  private readonly pbmt: Uint8Array;

  /** Indices of valid entries (dense), so that invalidations cost what is cached, not the capacity. */
  private readonly live: Int32Array;
  private readonly livePos: Int32Array;
  private liveCount = 0;
  private currentGen = 1;
  private clock = 0;
  private readonly recent = new Int32Array(RECENT);
  private readonly setMask: number;
  /** Entries per size class; `sizes[0..sizeCount)` lists the classes with entries, ascending. */
  private readonly perSize = new Uint32Array(64);
  private readonly sizes = new Uint8Array(64);
  private sizeCount = 0;

  /** Result of the last successful lookup. */
  hitPpn = 0;
  hitLog2Pages = 0;
  hitFlags = 0;
  hitPbmt = 0;
  hitGppn = 0;

  constructor(
    readonly sets: number,
    readonly ways: number,
  ) {
    const n = sets * ways;
    this.capacity = n;
    this.gTag = new Int32Array(n);
    this.pTag = new Int32Array(n);
    this.vpn = new Float64Array(n);
    this.ppn = new Float64Array(n);
    this.gpa = new Float64Array(n);
    this.gLeaf = new Float64Array(n);
    this.stamp = new Float64Array(n);
    this.gen = new Uint32Array(n);
    this.log2Pages = new Uint8Array(n);
    this.gLog2Pages = new Uint8Array(n);
    this.sLog2Pages = new Uint8Array(n);
    this.flags = new Uint16Array(n);
    this.pbmt = new Uint8Array(n);
    this.live = new Int32Array(n);
    this.livePos = new Int32Array(n);
    this.setMask = sets - 1;
  }

  /** Finds an entry covering page `vpn` in address space (gTag, pTag); returns its index or -1. */
  lookup(gTag: number, pTag: number, vpn: number): number {
    // Remember recent hits by low page bits: a repeat finds its entry without a set search.
    // The entry is checked as a full lookup would, and its LRU stamp updated the same way.
    const r = this.recent[vpn & (RECENT - 1)];
    if (this.gen[r] === this.currentGen && this.gTag[r] === gTag && this.pTag[r] === pTag) {
      const delta = vpn - this.vpn[r];
      if (delta >= 0 && delta < POW2[this.log2Pages[r]]) {
        this.hit(r, delta);
        return r;
      }
    }
    return this.search(gTag, pTag, vpn);
  }

  /** The lookup proper: the set of each size class present. */
  private search(gTag: number, pTag: number, vpn: number): number {
    const vpns = this.vpn;
    const gen = this.gen;
    const current = this.currentGen;
    for (let s = 0; s < this.sizeCount; s++) {
      const log2 = this.sizes[s];
      const base = alignDown(vpn, log2);
      const set = this.setOf(base, log2, gTag, pTag);
      for (let i = set; i < set + this.ways; i++) {
        if (vpns[i] === base && gen[i] === current && this.log2Pages[i] === log2 && this.gTag[i] === gTag && this.pTag[i] === pTag) {
          this.hit(i, vpn - base);
          this.recent[vpn & (RECENT - 1)] = i;
          return i;
        }
      }
    }
    return -1;
  }

  /** Marks entry i used (LRU) and loads the hit fields for page `delta` of it. */
  private hit(i: number, delta: number): void {
    this.stamp[i] = ++this.clock;
    this.hitPpn = this.ppn[i] + delta;
    this.hitGppn = this.gpa[i] + delta;
    this.hitLog2Pages = this.log2Pages[i];
    this.hitFlags = this.flags[i];
    this.hitPbmt = this.pbmt[i];
  }

  insert(f: TlbFill): void {
    if (this.ways === 0) return;
    const base = alignDown(f.vpn, f.log2Pages);
    const set = this.setOf(base, f.log2Pages, f.gTag, f.pTag);
    // The victim: a free way, the entry being refilled, or else the least recently used.
    const gen = this.gen;
    const stamp = this.stamp;
    const current = this.currentGen;
    const end = set + this.ways;
    let victim = set;
    let victimStamp = stamp[set];
    for (let i = set; i < end; i++) {
      if (gen[i] !== current || this.holds(i, base, f)) {
        victim = i;
        break;
      }
      const t = stamp[i];
      if (t < victimStamp) {
        victim = i;
        victimStamp = t;
      }
    }
    if (this.gen[victim] === this.currentGen) {
      if (!this.holds(victim, base, f)) {
        this.counters.evictions++;
      }
      this.drop(victim);
    }
    this.gTag[victim] = f.gTag;
    this.pTag[victim] = f.pTag;
    this.vpn[victim] = base;
    this.ppn[victim] = f.ppn - (f.vpn - base);
    this.log2Pages[victim] = f.log2Pages;
    this.flags[victim] = f.flags;
    this.pbmt[victim] = f.pbmt;
    this.gpa[victim] = f.gpaVpn - (f.vpn - base);
    this.gLeaf[victim] = f.gLog2Pages === NO_G_LEAF ? 0 : alignDown(f.gpaVpn, f.gLog2Pages);
    this.gLog2Pages[victim] = f.gLog2Pages;
    this.sLog2Pages[victim] = f.sLog2Pages > f.log2Pages ? f.sLog2Pages : f.log2Pages;
    this.gen[victim] = this.currentGen;
    this.livePos[victim] = this.liveCount;
    this.live[this.liveCount++] = victim;
    this.stamp[victim] = ++this.clock;
    if (this.perSize[f.log2Pages]++ === 0) this.addSize(f.log2Pages);
    this.counters.fills++;
  }

  /** Whether entry i is the one `f` fills (at `base`). */
  private holds(i: number, base: number, f: TlbFill): boolean {
    return this.vpn[i] === base && this.log2Pages[i] === f.log2Pages && this.gTag[i] === f.gTag && this.pTag[i] === f.pTag;
  }

  /** First entry of the set that holds entries of 2^log2 pages at `base` in address space (gTag, pTag). */
  private setOf(base: number, log2: number, gTag: number, pTag: number): number {
    // The set index hashes the page number plus the tags packed as one integer (gTag * 2^21 + pTag).
    return setIndex(base * INV_POW2[log2] + (gTag * 0x200000 + pTag), this.setMask) * this.ways;
  }

  /** Invalidates one entry (e.g. a hit that cannot be used and must be re-walked). */
  invalidateEntry(index: number): void {
    if (this.gen[index] !== this.currentGen) return;
    this.drop(index);
    this.counters.invalidations++;
  }

  /**
   * IOTINVAL.VMA semantics. `gv`/`gscid` select host (GV=0) or one VM's address spaces;
   * `pscid` >= 0 one process address space, sparing global entries (-1: all); with
   * `rangeLog2` >= 0, only entries overlapping [rangeVpn, rangeVpn + 2^rangeLog2).
   */
  invalidateVma(gv: boolean, gscid: number, pscid: number, rangeVpn: number, rangeLog2: number): number {
    let n = 0;
    // Walk the live list backwards: drop() moves the last live entry into the freed slot.
    for (let k = this.liveCount - 1; k >= 0; k--) {
      const i = this.live[k];
      const g = this.gTag[i];
      const p = this.pTag[i];
      if ((g !== 0) !== gv || (gv && (g & 0xffff) !== gscid)) continue;
      if (pscid >= 0 && (p === 0 || (p & 0xfffff) !== pscid || (this.flags[i] & TlbFlag.VS_G) !== 0)) continue;
      if (rangeLog2 >= 0) {
        // An entry smaller than its first-stage leaf (a smaller second stage, an MSI page nearby)
        // holds that leaf: an address anywhere in the leaf selects it.
        const s = this.sLog2Pages[i];
        if (!overlaps(alignDown(this.vpn[i], s), s, rangeVpn, rangeLog2)) continue;
      }
      this.drop(i);
      n++;
    }
    this.counters.invalidations += n;
    return n;
  }

  /**
   * IOTINVAL.GVMA semantics: with `gscid` -1, everything cached through any second stage;
   * otherwise that VM's entries, and with `rangeLog2` >= 0 only those whose second-stage leaf
   * overlaps the range.
   */
  invalidateGvma(gscid: number, rangeVpn: number, rangeLog2: number): number {
    let n = 0;
    for (let k = this.liveCount - 1; k >= 0; k--) {
      const i = this.live[k];
      const g = this.gTag[i];
      if (g === 0 || (gscid >= 0 && (g & 0xffff) !== gscid)) continue;
      if (rangeLog2 >= 0) {
        const g = this.gLog2Pages[i];
        if (g === NO_G_LEAF || !overlaps(this.gLeaf[i], g, rangeVpn, rangeLog2)) continue;
      }
      this.drop(i);
      n++;
    }
    this.counters.invalidations += n;
    return n;
  }

  /** Drops every entry in O(1). */
  flush(): void {
    const n = this.liveCount;
    this.liveCount = 0;
    this.currentGen = (this.currentGen + 1) >>> 0 || 1;
    if (this.currentGen === 1) this.gen.fill(0); // wrapped: forget stale generations
    this.perSize.fill(0);
    this.sizeCount = 0;
    this.counters.invalidations += n;
  }

  get occupancy(): number {
    return this.liveCount;
  }

  /** Valid entries, decoded, for inspection tools. */
  *entries(): IterableIterator<{
    gscid: number | null;
    pscid: number | null;
    vpn: number;
    ppn: number;
    log2Pages: number;
    flags: number;
    pbmt: number;
  }> {
    for (let k = 0; k < this.liveCount; k++) {
      const i = this.live[k];
      const g = this.gTag[i];
      const p = this.pTag[i];
      yield {
        gscid: g !== 0 ? g & 0xffff : null,
        pscid: p !== 0 ? p & 0xfffff : null,
        vpn: this.vpn[i],
        ppn: this.ppn[i],
        log2Pages: this.log2Pages[i],
        flags: this.flags[i],
        pbmt: this.pbmt[i],
      };
    }
  }

  private drop(i: number): void {
    this.gen[i] = 0;
    const k = this.livePos[i];
    const last = this.live[--this.liveCount];
    this.live[k] = last;
    this.livePos[last] = k;
    if (--this.perSize[this.log2Pages[i]] === 0) this.removeSize(this.log2Pages[i]);
  }

  private addSize(log2: number): void {
    let k = this.sizeCount++;
    for (; k > 0 && this.sizes[k - 1] > log2; k--) this.sizes[k] = this.sizes[k - 1];
    this.sizes[k] = log2;
  }

  private removeSize(log2: number): void {
    let k = 0;
    while (this.sizes[k] !== log2) k++;
    for (this.sizeCount--; k < this.sizeCount; k++) this.sizes[k] = this.sizes[k + 1];
  }
}

export { NO_G_LEAF };

/** Slots of the recent-hit memo. */
const RECENT = 8;

function overlaps(aBase: number, aLog2: number, bVpn: number, bLog2: number): boolean {
  const bPages = POW2[bLog2];
  const bBase = alignDown(bVpn, bLog2);
  return aBase < bBase + bPages && bBase < aBase + POW2[aLog2];
}
