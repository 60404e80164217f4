// A device's CD table (IHI 0070 3.3.2, 5.3, 5.4), as Linux lays it out: linear, 2^S1CDMax CDs,
// when the SMMU has no 2-level CD tables or the device's SubstreamIDs fit 1024 CDs; otherwise
// 2-level with 64 KiB level-2 tables (S1Fmt 0b10, 1024 CDs each) allocated when a SubstreamID in
// their range is first used. This driver attaches domains to SubstreamID 0 only (transactions
// without a PASID use it through S1DSS = 0b10).

import { encodeL1cd, L1CD_SIZE, CD_SIZE, S1Fmt, S1FMT_L2_BITS } from '../../../formats/smmuv3/structures.js';
import type { SmmuContext } from './context.js';
import { writeLe64 } from './le64.js';

/** Linux's CTXDESC_L2_ENTRIES: CDs in a 64 KiB level-2 table. */
export const CD_L2_ENTRIES = 2 ** S1FMT_L2_BITS[S1Fmt.TwoLevel64K];
/** Linux's CTXDESC_LINEAR_CDMAX: the largest linear table without 2-level support (64 KiB). */
export const CD_LINEAR_MAX_BITS = 10;
const L2_PAGES = (CD_L2_ENTRIES * CD_SIZE) / 4096;

export class CdTable {
  /** Level-2 tables by level-1 index (page number, or -1). */
  private readonly l2: Float64Array;

  private constructor(
    private readonly ctx: SmmuContext,
    /** STE.S1Fmt and STE.S1CDMax. */
    readonly s1fmt: number,
    readonly s1cdmax: number,
    /** First page of the linear table or of the level-1 table, and its size in pages. */
    readonly page: number,
    readonly pages: number,
  ) {
    this.l2 = new Float64Array(s1fmt === S1Fmt.Linear ? 0 : Math.ceil(2 ** s1cdmax / CD_L2_ENTRIES)).fill(-1);
  }

  /** A table for `ssidBits` SubstreamID bits (Linux arm_smmu_alloc_cd_tables). */
  static create(ctx: SmmuContext, ssidBits: number, twoLevelSupported: boolean): CdTable {
    const contexts = 2 ** ssidBits;
    if (!twoLevelSupported || contexts <= CD_L2_ENTRIES) {
      const pages = Math.max(1, (contexts * CD_SIZE) / 4096);
      return new CdTable(ctx, S1Fmt.Linear, ssidBits, ctx.kernel.pages.allocPages(pages, pages), pages);
    }
    const l1 = Math.ceil(contexts / CD_L2_ENTRIES);
    const pages = Math.max(1, 2 ** Math.ceil(Math.log2((l1 * L1CD_SIZE) / 4096)));
    return new CdTable(ctx, S1Fmt.TwoLevel64K, ssidBits, ctx.kernel.pages.allocPages(pages, pages), pages);
  }

  get baseAddress(): bigint {
    return BigInt(this.page) << 12n;
  }

  get twoLevel(): boolean {
    return this.s1fmt !== S1Fmt.Linear;
  }

  /**
   * Makes sure the level-2 table holding `ssid` exists; returns true when it had to be created
   * and its L1CD written (the caller then invalidates the L1CD: an invalid one may be cached).
   */
  ensureL2(ssid: number): boolean {
    if (!this.twoLevel) return false;
    const index = Math.floor(ssid / CD_L2_ENTRIES);
    if (this.l2[index] >= 0) return false;
    const page = this.ctx.kernel.pages.allocPages(L2_PAGES, L2_PAGES);
    // 64-bit single-copy atomic: the SMMU sees the whole descriptor or none of it.
    writeLe64(this.ctx.kernel.memory, this.baseAddress + BigInt(index * L1CD_SIZE), encodeL1cd(BigInt(page) << 12n));
    this.l2[index] = page;
    return true;
  }

  /** Address of the CD of `ssid`, or null when it is out of range or its level-2 table is missing. */
  cdAddress(ssid: number): bigint | null {
    if (ssid < 0 || ssid >= 2 ** this.s1cdmax) return null;
    if (!this.twoLevel) return this.baseAddress + BigInt(ssid * CD_SIZE);
    const page = this.l2[Math.floor(ssid / CD_L2_ENTRIES)];
    if (page < 0) return null;
    return (BigInt(page) << 12n) + BigInt((ssid % CD_L2_ENTRIES) * CD_SIZE);
  }

  /** Gives every page of the table back (the SMMU no longer reaches it). */
  free(): void {
    const pages = this.ctx.kernel.pages;
    for (const p of this.l2) if (p >= 0) pages.freePages(p, L2_PAGES);
    pages.freePages(this.page, this.pages);
  }
}

