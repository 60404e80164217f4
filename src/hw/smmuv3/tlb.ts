// The SMMU TLB (IHI 0070 3.17, 4.4): leaf translations tagged as the StreamWorld tags them —
// NS-EL1 entries with VMID and ASID (global entries match every ASID), NS-EL2 entries with
// neither, NS-EL2-E2H entries with an ASID, stage-2-only (IPA) entries with a VMID. A nested
// stream's entries combine both stages (VA to PA) under the NS-EL1 tag, so, as in Armv8-A,
// CMD_TLBI_S2_IPA does not reach them (4.4.3.1). Entries of every leaf size coexist; a lookup
// probes each size present. No intermediate (walk-cache) entries are kept, so the Leaf flag of
// an invalidation changes nothing. The level hint (TTL) and granule (TG) of a range
// invalidation narrow the scope to entries from that level and granule, as far as 4.4.1.1
// allows ("only required to invalidate ..."). Storage is typed arrays: no allocation per call.
// Valid entries are also kept in a dense list, so that an invalidation costs what is cached, not
// the capacity, and clearing is O(1) (a generation number).

import { newCounters, type CacheCounters } from '../caches/tag-cache.js';

/** The kind of translation an entry holds, part of its tag. */
export const TlbRegime = {
  /** NS-EL1 stage 1, or stage 1 + stage 2 combined: VA to PA, tagged VMID + ASID. */
  El1: 0,
  /** Stage 2 only: IPA to PA, tagged VMID. */
  Stage2: 1,
  /** NS-EL2: VA to PA, no ASID, no VMID. */
  El2: 2,
  /** NS-EL2-E2H: VA to PA, ASID. */
  El2E2h: 3,
} as const;
export type TlbRegimeValue = (typeof TlbRegime)[keyof typeof TlbRegime];

/** What a fill records about an entry besides its tag. */
export interface TlbFill {
  regime: TlbRegimeValue;
  vmid: number;
  asid: number;
  global: boolean;
  /** Input page (4 KiB units) of any address in the entry; aligned down to the entry size. */
  inputPage: number;
  /** Output page for `inputPage`. */
  outputPage: number;
  /** log2 of the entry size in 4 KiB pages. */
  log2Pages: number;
  /** Perm bits granted (both stages combined). */
  perms: number;
  /** Leaf level and granule (log2) of the walk that TLBI hints refer to. */
  level: number;
  granuleLog2: number;
}

const NONE = -1;
/** 2^n and 2^-n for the entry sizes (n = 0..52), as exact doubles. */
const POW2 = Float64Array.from({ length: 53 }, (_, n) => 2 ** n);
const INV_POW2 = Float64Array.from({ length: 53 }, (_, n) => 2 ** -n);
const INV_TWO_32 = 2 ** -32;

/** An entry's `meta`, a byte each: size (log2 pages), Perm bits, leaf level, granule (log2). */
function meta(log2Pages: number, perms: number, level: number, granuleLog2: number): number {
  return (log2Pages & 0xff) | ((perms & 0xff) << 8) | ((level & 0xff) << 16) | ((granuleLog2 & 0xff) << 24);
}

export class Tlb {
  readonly counters: CacheCounters = newCounters();
  readonly capacity: number;
  /** Results of the last hit. */
  outputPage = 0;
  perms = 0;
  log2Pages = 0;

  private readonly ctx: Int32Array; // regime << 16 | vmid
  private readonly asid: Int32Array; // NONE for global entries
  private readonly vpn: Float64Array;
  private readonly ppn: Float64Array;
  /** The entry's size (log2 pages), Perm bits, leaf level and granule, a byte each (see `meta`). */
  private readonly meta: Int32Array;
  /** An entry is valid when its generation is the current one. */
  private readonly gen: Uint32Array;
  private currentGen = 1;
  private readonly stamp: Float64Array;
  private clock = 0;
  private readonly setMask: number;
  /** Valid entries, dense (`live[0..liveCount)`), and where each sits in that list. */
  private readonly live: Int32Array;
  private readonly livePos: Int32Array;
  private liveCount = 0;
  /** Valid entries of 2^n pages, and bit n set when there are any. */
  private readonly perSize = new Uint32Array(64);
  private sizes = 0;

  constructor(
    readonly sets: number,
    readonly ways: number,
  ) {
    this.capacity = sets * ways;
    this.setMask = sets - 1;
    this.ctx = new Int32Array(this.capacity);
    this.asid = new Int32Array(this.capacity);
    this.vpn = new Float64Array(this.capacity);
    this.ppn = new Float64Array(this.capacity);
    this.meta = new Int32Array(this.capacity);
    this.gen = new Uint32Array(this.capacity);
    this.stamp = new Float64Array(this.capacity);
    this.live = new Int32Array(this.capacity);
    this.livePos = new Int32Array(this.capacity);
  }

  get occupancy(): number {
    return this.liveCount;
  }

  /**
   * Looks up the translation of input page `page` in regime/VMID/ASID. On a hit leaves the
   * output page of `page`, the permissions and the size in fields and returns true.
   */
  lookup(regime: number, vmid: number, asid: number, page: number): boolean {
    const ctx = (regime << 16) | vmid;
    let sizes = this.sizes;
    for (let n = 0; sizes !== 0; n++, sizes >>>= 1) {
      if ((sizes & 1) === 0) continue;
      const key = n === 0 ? page : Math.floor(page * INV_POW2[n]);
      const base = n === 0 ? page : key * POW2[n];
      const i = this.find(ctx, asid, base, key, n);
      if (i >= 0) {
        this.stamp[i] = ++this.clock;
        this.counters.hits++;
        this.outputPage = this.ppn[i] + (page - base);
        this.perms = (this.meta[i] >>> 8) & 0xff;
        this.log2Pages = n;
        return true;
      }
    }
    this.counters.misses++;
    return false;
  }

  insert(f: TlbFill): void {
    const n = f.log2Pages;
    const key = n === 0 ? f.inputPage : Math.floor(f.inputPage * INV_POW2[n]);
    const base = n === 0 ? f.inputPage : key * POW2[n];
    const ctx = (f.regime << 16) | f.vmid;
    const asid = f.global ? NONE : f.asid;
    const first = this.setOf(ctx, key, n) * this.ways;
    const end = first + this.ways;
    const gen = this.gen;
    const stamp = this.stamp;
    const current = this.currentGen;
    // The victim: a free way, the entry being refilled, or else the least recently used.
    let victim = first;
    let victimStamp = stamp[first];
    for (let i = first; i < end; i++) {
      if (gen[i] !== current || this.holds(i, ctx, asid, base, n)) {
        victim = i;
        break;
      }
      const t = stamp[i];
      if (t < victimStamp) {
        victim = i;
        victimStamp = t;
      }
    }
    if (gen[victim] !== current) {
      gen[victim] = current;
      this.livePos[victim] = this.liveCount;
      this.live[this.liveCount++] = victim;
    } else {
      if (!this.holds(victim, ctx, asid, base, n)) this.counters.evictions++;
      this.removeSize(this.meta[victim] & 0xff);
    }
    this.ctx[victim] = ctx;
    this.asid[victim] = asid;
    this.vpn[victim] = base;
    this.ppn[victim] = f.outputPage - (f.inputPage - base);
    this.meta[victim] = meta(n, f.perms, f.level, f.granuleLog2);
    this.stamp[victim] = ++this.clock;
    if (this.perSize[n]++ === 0) this.sizes |= 1 << n;
    this.counters.fills++;
  }

  /**
   * Invalidates entries of `regime` (and VMID when vmid >= 0; ASID when asid >= 0, where global
   * entries match every ASID unless `nonGlobalOnly`) whose input range meets [firstPage,
   * firstPage + pages) when pages > 0, or any address when pages == 0. With granuleLog2 > 0,
   * only entries from that granule; with level >= 0, only entries from that leaf level.
   * Returns how many entries were dropped.
   */
  invalidate(regime: number, vmid: number, asid: number, nonGlobalOnly: boolean, firstPage: number, pages: number, granuleLog2: number, level: number): number {
    let dropped = 0;
    // Backwards: drop() moves the last live entry into the freed place.
    for (let k = this.liveCount - 1; k >= 0; k--) {
      const i = this.live[k];
      const ctx = this.ctx[i];
      if (ctx >>> 16 !== regime) continue;
      if (vmid >= 0 && (ctx & 0xffff) !== vmid) continue;
      const a = this.asid[i];
      if (nonGlobalOnly && a === NONE) continue;
      if (asid >= 0 && a !== NONE && a !== asid) continue;
      const m = this.meta[i];
      if (granuleLog2 > 0 && m >>> 24 !== granuleLog2) continue;
      if (level >= 0 && ((m >>> 16) & 0xff) !== level) continue;
      if (pages > 0) {
        const start = this.vpn[i];
        const end = start + POW2[m & 0xff];
        if (end <= firstPage || start >= firstPage + pages) continue;
      }
      this.drop(i);
      dropped++;
    }
    this.counters.invalidations += dropped;
    return dropped;
  }

  /** Drops every entry. */
  clear(): number {
    const n = this.liveCount;
    this.liveCount = 0;
    this.currentGen = (this.currentGen + 1) >>> 0 || 1;
    if (this.currentGen === 1) this.gen.fill(0); // wrapped: forget stale generations
    for (let sizes = this.sizes, n = 0; sizes !== 0; sizes >>>= 1, n++) this.perSize[n] = 0;
    this.sizes = 0;
    this.counters.invalidations += n;
    return n;
  }

  /** Invalidates entry i (valid), keeping the live list dense. */
  private drop(i: number): void {
    this.gen[i] = 0;
    const pos = this.livePos[i];
    const last = this.live[--this.liveCount];
    this.live[pos] = last;
    this.livePos[last] = pos;
    this.removeSize(this.meta[i] & 0xff);
  }

  private removeSize(n: number): void {
    if (--this.perSize[n] === 0) this.sizes &= ~(1 << n);
  }

  /** Whether entry i holds the translation of 2^n pages at `base` tagged ctx/asid. */
  private holds(i: number, ctx: number, asid: number, base: number, n: number): boolean {
    return this.vpn[i] === base && this.ctx[i] === ctx && this.asid[i] === asid && (this.meta[i] & 0xff) === n;
  }

  /** The set of an entry of 2^n pages whose base is key * 2^n. */
  private setOf(ctx: number, key: number, n: number): number {
    return ((key >>> 0) ^ ((key * INV_TWO_32) >>> 0) ^ (ctx * 31) ^ n) & this.setMask;
  }

  private find(ctx: number, asid: number, base: number, key: number, n: number): number {
    const first = this.setOf(ctx, key, n) * this.ways;
    const end = first + this.ways;
    const vpn = this.vpn;
    const gen = this.gen;
    const current = this.currentGen;
    for (let i = first; i < end; i++) {
      if (vpn[i] === base && gen[i] === current && this.ctx[i] === ctx && (this.meta[i] & 0xff) === n && (this.asid[i] === NONE || this.asid[i] === asid)) return i;
    }
    return -1;
  }
}
