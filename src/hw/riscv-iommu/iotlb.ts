// The IOTLB: cached leaf translations (IOVA -> SPA, or GPA -> SPA for T2GPA contexts),
// tagged as the specification tags them (GSCID when the second stage is active, PSCID when
// the first stage is active) and invalidated exactly by IOTINVAL.VMA / IOTINVAL.GVMA.
// Entries of different sizes coexist; a lookup probes each size class that is present.
// Storage is a structure of typed arrays so that a lookup allocates nothing.

import { newCounters, setIndex, type CacheCounters } from '../caches/tag-cache.js';

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
 * An address-space tag: GV and GSCID, PSCV and PSCID packed into one exact integer.
 * The same packing is used by lookups and by invalidations.
 */
export function addressSpaceTag(gv: boolean, gscid: number, pscv: boolean, pscid: number): number {
  const g = gv ? 0x10000 | gscid : 0;
  const p = pscv ? 0x100000 | pscid : 0;
  return g * 0x200000 + p;
}

function tagGv(tag: number): boolean {
  return tag >= 0x200000;
}
function tagGscid(tag: number): number {
  return Math.floor(tag / 0x200000) & 0xffff;
}
function tagPscv(tag: number): boolean {
  return (tag % 0x200000) >= 0x100000;
}
function tagPscid(tag: number): number {
  return tag % 0x100000;
}

export interface TlbFill {
  tag: number;
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
  private readonly tag: Float64Array;
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
  /** Entries per size class; `sizes` lists the classes with at least one entry. */
  private readonly perSize = new Uint32Array(64);
  private sizes: number[] = [];

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
    this.tag = new Float64Array(n);
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

  /** Finds an entry covering page `vpn` in address space `tag`; returns its index or -1. */
  lookup(tag: number, vpn: number): number {
    // Remember recent hits by low page bits: a repeat finds its entry without a set search.
    // The entry is checked as a full lookup would, and its LRU stamp updated the same way.
    const slot = vpn & (RECENT - 1);
    const r = this.recent[slot];
    if (this.gen[r] === this.currentGen && this.tag[r] === tag) {
      const delta = vpn - this.vpn[r];
      if (delta >= 0 && delta < POW2[this.log2Pages[r]]) {
        this.stamp[r] = ++this.clock;
        this.hitPpn = this.ppn[r] + delta;
        this.hitGppn = this.gpa[r] + delta;
        this.hitLog2Pages = this.log2Pages[r];
        this.hitFlags = this.flags[r];
        this.hitPbmt = this.pbmt[r];
        return r;
      }
    }
    const sizes = this.sizes;
    for (let s = 0; s < sizes.length; s++) {
      const log2 = sizes[s];
      const pages = POW2[log2];
      const base = vpn - (vpn % pages);
      const set = setIndex(base / pages + tag, this.setMask) * this.ways;
      for (let i = set; i < set + this.ways; i++) {
        if (this.gen[i] === this.currentGen && this.vpn[i] === base && this.log2Pages[i] === log2 && this.tag[i] === tag) {
          this.stamp[i] = ++this.clock;
          this.hitPpn = this.ppn[i] + (vpn - base);
          this.hitGppn = this.gpa[i] + (vpn - base);
          this.hitLog2Pages = log2;
          this.hitFlags = this.flags[i];
          this.hitPbmt = this.pbmt[i];
          this.recent[slot] = i;
          return i;
        }
      }
    }
    return -1;
  }

  insert(f: TlbFill): void {
    if (this.ways === 0) return;
    const pages = POW2[f.log2Pages];
    const base = f.vpn - (f.vpn % pages);
    const set = setIndex(base / pages + f.tag, this.setMask) * this.ways;
    let victim = set;
    for (let i = set; i < set + this.ways; i++) {
      if (this.gen[i] !== this.currentGen) {
        victim = i;
        break;
      }
      if (this.vpn[i] === base && this.log2Pages[i] === f.log2Pages && this.tag[i] === f.tag) {
        victim = i;
        break;
      }
      if (this.stamp[i] < this.stamp[victim]) victim = i;
    }
    if (this.gen[victim] === this.currentGen) {
      if (!(this.vpn[victim] === base && this.log2Pages[victim] === f.log2Pages && this.tag[victim] === f.tag)) {
        this.counters.evictions++;
      }
      this.drop(victim);
    }
    this.tag[victim] = f.tag;
    this.vpn[victim] = base;
    this.ppn[victim] = f.ppn - (f.vpn - base);
    this.log2Pages[victim] = f.log2Pages;
    this.flags[victim] = f.flags;
    this.pbmt[victim] = f.pbmt;
    this.gpa[victim] = f.gpaVpn - (f.vpn - base);
    this.gLeaf[victim] = f.gLog2Pages === NO_G_LEAF ? 0 : f.gpaVpn - (f.gpaVpn % POW2[f.gLog2Pages]);
    this.gLog2Pages[victim] = f.gLog2Pages;
    this.sLog2Pages[victim] = f.sLog2Pages > f.log2Pages ? f.sLog2Pages : f.log2Pages;
    this.gen[victim] = this.currentGen;
    this.livePos[victim] = this.liveCount;
    this.live[this.liveCount++] = victim;
    this.stamp[victim] = ++this.clock;
    if (this.perSize[f.log2Pages]++ === 0) this.rebuildSizes();
    this.counters.fills++;
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
      const t = this.tag[i];
      if (tagGv(t) !== gv || (gv && tagGscid(t) !== gscid)) continue;
      if (pscid >= 0 && (!tagPscv(t) || tagPscid(t) !== pscid || (this.flags[i] & TlbFlag.VS_G) !== 0)) continue;
      if (rangeLog2 >= 0) {
        // An entry smaller than its first-stage leaf (a smaller second stage, an MSI page nearby)
        // holds that leaf: an address anywhere in the leaf selects it.
        const s = this.sLog2Pages[i];
        if (!overlaps(this.vpn[i] - (this.vpn[i] % POW2[s]), s, rangeVpn, rangeLog2)) continue;
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
      const t = this.tag[i];
      if (!tagGv(t) || (gscid >= 0 && tagGscid(t) !== gscid)) continue;
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
    this.sizes = [];
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
      const t = this.tag[i];
      yield {
        gscid: tagGv(t) ? tagGscid(t) : null,
        pscid: tagPscv(t) ? tagPscid(t) : null,
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
    if (--this.perSize[this.log2Pages[i]] === 0) this.rebuildSizes();
  }

  private rebuildSizes(): void {
    const sizes: number[] = [];
    for (let s = 0; s < 64; s++) if (this.perSize[s] !== 0) sizes.push(s);
    this.sizes = sizes;
  }
}

export { NO_G_LEAF };

/** Slots of the recent-hit memo. */
const RECENT = 8;

/** 2^n for n in 0..63, as exact doubles. */
const POW2 = Array.from({ length: 64 }, (_, n) => 2 ** n);

function overlaps(aBase: number, aLog2: number, bVpn: number, bLog2: number): boolean {
  const bPages = POW2[bLog2];
  const bBase = bVpn - (bVpn % bPages);
  return aBase < bBase + bPages && bBase < aBase + POW2[aLog2];
}
