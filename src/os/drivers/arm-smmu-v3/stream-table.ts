// The Stream table (IHI 0070 3.3.2, 5.1, 6.3.24 - 6.3.25), as Linux lays it out: linear (2^SIDSIZE
// STEs) when the SMMU has no 2-level tables or its StreamIDs fit one level-2 array, otherwise
// 2-level with SPLIT 8 (arrays of 256 STEs), the level-1 table covering every StreamID (at most
// 2^17 descriptors), and level-2 arrays allocated when a device with a StreamID in their range
// is probed. Every STE starts as V = 1, Config = abort: a StreamID nobody claimed is blocked.

import { encode } from '../../../formats/bitfield.js';
import { StrtabBaseCfgLayout, StrtabBaseLayout, StrtabFmt } from '../../../formats/smmuv3/registers.js';
import { encodeL1std, L1STD_SIZE, STE_DWORDS, STE_SIZE } from '../../../formats/smmuv3/structures.js';
import type { SmmuContext } from './context.js';
import { STRTAB_SPLIT } from './features.js';
import { writeLe64 } from './le64.js';
import { abortSte } from './ste.js';

/** Linux's STRTAB_MAX_L1_ENTRIES. */
export const STRTAB_MAX_L1_ENTRIES = 1 << 17;
const L2_STES = 1 << STRTAB_SPLIT;
const L2_PAGES = (L2_STES * STE_SIZE) / 4096;

export class StreamTable {
  /** Level-2 arrays by level-1 index (page number, or -1 when not allocated). */
  private readonly l2: Float64Array;

  private constructor(
    private readonly ctx: SmmuContext,
    readonly twoLevel: boolean,
    /** First page of the linear table or of the level-1 table, and how many pages it takes. */
    readonly page: number,
    readonly pages: number,
    /** StreamID bits the table covers (SIDSIZE, or fewer when the level-1 table is capped). */
    readonly sidBits: number,
  ) {
    this.l2 = new Float64Array(twoLevel ? 2 ** (sidBits - STRTAB_SPLIT) : 0).fill(-1);
  }

  static create(ctx: SmmuContext, twoLevel: boolean, sidBits: number): StreamTable {
    if (twoLevel) {
      const l1 = Math.min(2 ** (sidBits - STRTAB_SPLIT), STRTAB_MAX_L1_ENTRIES);
      const covered = Math.log2(l1) + STRTAB_SPLIT;
      if (covered < sidBits) ctx.kernel.log.warn(ctx.name, `2-level Stream table only covers ${covered} of ${sidBits} StreamID bits`);
      const pages = Math.max(1, (l1 * L1STD_SIZE) / 4096);
      // Level-1 descriptors start zero: Span 0, every StreamID in their range invalid (5.1).
      return new StreamTable(ctx, true, ctx.kernel.pages.allocPages(pages, pages), pages, covered);
    }
    const entries = 2 ** sidBits;
    const pages = Math.max(1, (entries * STE_SIZE) / 4096);
    const table = new StreamTable(ctx, false, ctx.kernel.pages.allocPages(pages, pages), pages, sidBits);
    table.fillAbort(table.baseAddress, entries);
    return table;
  }

  get baseAddress(): bigint {
    return BigInt(this.page) << 12n;
  }

  /** STRTAB_BASE: the table's address and RA (read-allocate hint), as Linux sets it. */
  get baseRegister(): bigint {
    return encode(StrtabBaseLayout, { ADDR: this.baseAddress >> 6n, RA: 1 });
  }

  /** STRTAB_BASE_CFG: FMT, LOG2SIZE and (2-level) SPLIT. */
  get cfgRegister(): number {
    const fields = this.twoLevel ? { FMT: StrtabFmt.TwoLevel, LOG2SIZE: this.sidBits, SPLIT: STRTAB_SPLIT } : { FMT: StrtabFmt.Linear, LOG2SIZE: this.sidBits };
    return Number(encode(StrtabBaseCfgLayout, fields));
  }

  /** Whether `sid` has an STE in this table (Linux arm_smmu_sid_in_range). */
  covers(sid: number): boolean {
    return Number.isInteger(sid) && sid >= 0 && sid < 2 ** this.sidBits;
  }

  /**
   * Makes sure the level-2 array holding `sid` exists; returns true when it had to be created
   * and its level-1 descriptor written (the caller then invalidates the descriptor, 5.1.1).
   */
  ensureL2(sid: number): boolean {
    if (!this.twoLevel) return false;
    const index = Math.floor(sid / L2_STES);
    if (this.l2[index] >= 0) return false;
    const page = this.ctx.kernel.pages.allocPages(L2_PAGES, L2_PAGES);
    const l2 = BigInt(page) << 12n;
    this.fillAbort(l2, L2_STES);
    // 64-bit single-copy atomic: the SMMU sees the whole descriptor or none of it.
    writeLe64(this.ctx.kernel.memory, this.baseAddress + BigInt(index * L1STD_SIZE), encodeL1std(l2, STRTAB_SPLIT + 1));
    this.l2[index] = page;
    return true;
  }

  /** Address of the STE of `sid`, or null when it is out of range or its level-2 array is missing. */
  steAddress(sid: number): bigint | null {
    if (!this.covers(sid)) return null;
    if (!this.twoLevel) return this.baseAddress + BigInt(sid) * BigInt(STE_SIZE);
    const page = this.l2[Math.floor(sid / L2_STES)];
    if (page < 0) return null;
    return (BigInt(page) << 12n) + BigInt((sid % L2_STES) * STE_SIZE);
  }

  /** Level-2 arrays allocated so far. */
  get l2Arrays(): number {
    let n = 0;
    for (const p of this.l2) if (p >= 0) n++;
    return n;
  }

  private fillAbort(base: bigint, count: number): void {
    const m = this.ctx.kernel.memory;
    const ste = abortSte();
    for (let i = 0; i < count; i++) {
      const a = base + BigInt(i * STE_SIZE);
      for (let d = 0; d < STE_DWORDS; d++) if (ste[d] !== 0n) writeLe64(m, a + BigInt(8 * d), ste[d]);
    }
  }
}
