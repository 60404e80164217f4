// The SMMU TLB (IHI 0070 3.17, 4.4): leaf translations tagged as the StreamWorld tags them —
// NS-EL1 entries with VMID and ASID (global entries match every ASID), NS-EL2 entries with
// neither, NS-EL2-E2H entries with an ASID, stage-2-only (IPA) entries with a VMID. A nested
// stream's entries combine both stages (VA to PA) under the NS-EL1 tag, so, as in Armv8-A,
// CMD_TLBI_S2_IPA does not reach them (4.4.3.1). Entries of every leaf size coexist; a lookup
// probes each size present. No intermediate (walk-cache) entries are kept, so the Leaf flag of
// an invalidation changes nothing. The level hint (TTL) and granule (TG) of a range
// invalidation narrow the scope to entries from that level and granule, as far as 4.4.1.1
// allows ("only required to invalidate ..."). Storage is typed arrays: no allocation per call.

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
  private readonly size: Uint8Array;
  private readonly perm: Uint8Array;
  private readonly level: Uint8Array;
  private readonly granule: Uint8Array;
  private readonly valid: Uint8Array;
  private readonly stamp: Float64Array;
  private clock = 0;
  private readonly setMask: number;
  /** Bit n set: some entry of 2^n pages may be present (a hint; cleared only when empty). */
  private sizes = 0;
  private live = 0;

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
    this.size = new Uint8Array(this.capacity);
    this.perm = new Uint8Array(this.capacity);
    this.level = new Uint8Array(this.capacity);
    this.granule = new Uint8Array(this.capacity);
    this.valid = new Uint8Array(this.capacity);
    this.stamp = new Float64Array(this.capacity);
  }

  get occupancy(): number {
    return this.live;
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
      const base = n === 0 ? page : Math.floor(page / 2 ** n) * 2 ** n;
      const i = this.find(ctx, asid, base, n);
      if (i >= 0) {
        this.stamp[i] = ++this.clock;
        this.counters.hits++;
        this.outputPage = this.ppn[i] + (page - base);
        this.perms = this.perm[i];
        this.log2Pages = n;
        return true;
      }
    }
    this.counters.misses++;
    return false;
  }

  insert(f: TlbFill): void {
    const n = f.log2Pages;
    const base = n === 0 ? f.inputPage : Math.floor(f.inputPage / 2 ** n) * 2 ** n;
    const ctx = (f.regime << 16) | f.vmid;
    const asid = f.global ? NONE : f.asid;
    const first = this.setOf(ctx, base, n) * this.ways;
    let victim = first;
    for (let i = first; i < first + this.ways; i++) {
      if (this.valid[i] === 0 || (this.ctx[i] === ctx && this.asid[i] === asid && this.vpn[i] === base && this.size[i] === n)) {
        victim = i;
        break;
      }
      if (this.stamp[i] < this.stamp[victim]) victim = i;
    }
    if (this.valid[victim] === 0) this.live++;
    else if (!(this.ctx[victim] === ctx && this.asid[victim] === asid && this.vpn[victim] === base && this.size[victim] === n)) this.counters.evictions++;
    this.valid[victim] = 1;
    this.ctx[victim] = ctx;
    this.asid[victim] = asid;
    this.vpn[victim] = base;
    this.ppn[victim] = f.outputPage - (f.inputPage - base);
    this.size[victim] = n;
    this.perm[victim] = f.perms;
    this.level[victim] = f.level;
    this.granule[victim] = f.granuleLog2;
    this.stamp[victim] = ++this.clock;
    this.sizes |= 1 << n;
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
    for (let i = 0; i < this.capacity; i++) {
      if (this.valid[i] === 0) continue;
      const ctx = this.ctx[i];
      if (ctx >>> 16 !== regime) continue;
      if (vmid >= 0 && (ctx & 0xffff) !== vmid) continue;
      const a = this.asid[i];
      if (nonGlobalOnly && a === NONE) continue;
      if (asid >= 0 && a !== NONE && a !== asid) continue;
      if (granuleLog2 > 0 && this.granule[i] !== granuleLog2) continue;
      if (level >= 0 && this.level[i] !== level) continue;
      if (pages > 0) {
        const start = this.vpn[i];
        const end = start + 2 ** this.size[i];
        if (end <= firstPage || start >= firstPage + pages) continue;
      }
      this.valid[i] = 0;
      dropped++;
    }
    this.dropped(dropped);
    return dropped;
  }

  /** Drops every entry. */
  clear(): number {
    const n = this.live;
    this.valid.fill(0);
    this.dropped(n);
    return n;
  }

  private dropped(n: number): void {
    this.live -= n;
    this.counters.invalidations += n;
    if (this.live === 0) this.sizes = 0;
  }

  private setOf(ctx: number, base: number, n: number): number {
    const key = Math.floor(base / 2 ** n);
    return ((key >>> 0) ^ ((key / 4294967296) >>> 0) ^ (ctx * 31) ^ n) & this.setMask;
  }

  private find(ctx: number, asid: number, base: number, n: number): number {
    const first = this.setOf(ctx, base, n) * this.ways;
    for (let i = first; i < first + this.ways; i++) {
      if (this.valid[i] === 1 && this.ctx[i] === ctx && this.vpn[i] === base && this.size[i] === n && (this.asid[i] === NONE || this.asid[i] === asid)) return i;
    }
    return -1;
  }
}
