// A software builder of Armv8 VMSAv8-64 translation tables (Arm ARM D8.2, D8.3) as an IOMMU
// driver or a hypervisor keeps them, after Linux's io-pgtable-arm: formats ARM_64_LPAE_S1 (an
// SMMUv3 CD's tables) and ARM_64_LPAE_S2 (an SMMUv3 STE's or a Xen P2M's), the 4 KiB, 16 KiB and
// 64 KiB granules, page and block leaves, tables allocated on demand. Written independently of
// the hardware walker (src/hw/arm-lpae), so that a bug in one is caught by the other; both read
// the same datasheet (src/formats/arm-lpae).
//
// Geometry as Linux computes it: the fewest levels that cover the input size, the start-level
// table holding what the other levels leave; a stage-2 table concatenates up to 16 tables at the
// start level where the architecture requires it (R DXBSH; Table D8-9: a start level the PA size
// does not allow) and, by default, also to avoid a level-0 start, as Linux long did (current
// Linux concatenates only where required: `concatenation: 'when-required'`).
//
// As in Linux, an unmap clears leaves and never splits a block: unmapping part of a block is
// refused (0 bytes unmapped), the IOMMU core's contract being that unmaps match maps. Emptied
// tables stay: freeing one would need a walk-cache invalidation of
// the range (CMD_TLBI_*_VA with Leaf=0), a cost every small unmap would pay. Tables are freed
// when an unmap covers a whole table's range, when a block replaces an empty table, and with the
// domain; the first two put the table's pages on the gather's freelist, to be freed by the
// caller after the TLB invalidation.
//
// Descriptors are read and written as two 32-bit halves in the byte order the walker expects
// (the CPU's by default; Linux's CONFIG_CPU_BIG_ENDIAN tables with CD.ENDI / STE.S2ENDI set);
// page numbers are plain numbers (4 KiB units, below 2^40).

import {
  addressSizeField,
  DescHi,
  DescLo,
  MairAttr,
  mairValue,
  MAX_CONCATENATION_BITS,
  S2MemAttr,
  Shareability,
  stage2LevelMinPaBits,
  tg0Field,
  type GranuleLog2,
} from '../../formats/arm-lpae/index.js';
import type { PhysicalMemory } from '../../sim/physical-memory.js';
import { bswap32 } from '../../sim/u64.js';
import { Prot, type IotlbGather } from '../core/types.js';

export type ArmLpaeFormat = 'ARM_64_LPAE_S1' | 'ARM_64_LPAE_S2';

/** MAIR attribute indices stage-1 leaves use (Linux ARM_LPAE_MAIR_ATTR_IDX_*). */
export const MairIndex = { NonCacheable: 0, Cacheable: 1, Device: 2, InnerNcOuterCacheable: 3 } as const;

/** The MAIR value that goes with stage-1 tables: Attr0..3 as MairIndex says. */
export const ARM_LPAE_MAIR = mairValue([MairAttr.NormalNonCacheable, MairAttr.NormalWriteBack, MairAttr.DeviceNGnRE, MairAttr.NormalInnerNcOuterWriteBack]);

/** Translation-table walk attributes (TCR/VTCR SH0, IRGN0, ORGN0). */
const Rgn = { NonCacheable: 0, WriteBackWriteAllocate: 1 } as const;

export interface ArmLpaePgtableConfig {
  format: ArmLpaeFormat;
  granuleLog2: GranuleLog2;
  /** Input address size in bits, at least 25 (T0SZ 39); more than the format holds (48; 52 with 64 KiB) is capped, as Linux does. */
  ias: number;
  /** Output address size in bits: a PS size (32, 36, 40, 42, 44, 48; 52 with 64 KiB, FEAT_LPA), capped like `ias`. */
  oas: number;
  /** The CPU's view of RAM. */
  memory: PhysicalMemory;
  /**
   * `pages` contiguous zeroed 4 KiB pages aligned to `pages` (a power of two: a 16 KiB table
   * takes 4, a 64 KiB one 16, concatenated start tables up to 256); returns the first page
   * number. May throw when out of memory.
   */
  allocTable(pages: number): number;
  /** Gives back a table's pages (only pages no IOMMU can walk any more). */
  freeTable(page: number, pages: number): void;
  /**
   * Leaves are born with AF=1, as Linux writes them (default). False leaves AF=0: an IOMMU with
   * hardware Access-flag management (HA) sets it on first use; without HA that use takes an
   * Access flag fault.
   */
  accessFlag?: boolean;
  /**
   * Writable leaves get DBM (Linux IO_PGTABLE_QUIRK_ARM_HD), born writable-dirty; for an IOMMU
   * with hardware dirty-state management (HD) and `readAndClearDirty`. Default false.
   */
  hardwareDirty?: boolean;
  /** Descriptors in big-endian byte order; default the memory's (the CPU's) byte order. */
  bigEndian?: boolean;
  /** Stage 1: leaves and tables marked Non-secure, NS and NSTable (Linux IO_PGTABLE_QUIRK_ARM_NS). Default false. */
  nonSecure?: boolean;
  /** The IOMMU's table walks snoop CPU caches: walk attributes Inner Shareable, Write-Back (default true). */
  coherentWalk?: boolean;
  /** Stage 2: concatenate start tables to avoid a level-0 start as well ('when-possible', default), or only where the architecture requires it. */
  concatenation?: 'when-possible' | 'when-required';
}

/** The translation-control values a driver programs for this table (TCR-like for stage 1, VTCR-like for stage 2). */
export interface ArmLpaeTranslationControl {
  /** T0SZ: 64 - ias. */
  t0sz: number;
  /** TG0 encoding of the granule. */
  tg0: number;
  /** {I}PS encoding of oas. */
  ps: number;
  /** Stage 2 SL0 (the start level, encoded per granule); null for stage 1. */
  sl0: number | null;
  /** Walk attributes: SH0, IRGN0, ORGN0. */
  sh0: number;
  irgn0: number;
  orgn0: number;
  /** Stage 1 MAIR value (ARM_LPAE_MAIR); null for stage 2. */
  mair: bigint | null;
}

/** A leaf as software sees it. */
export interface ArmLpaeLeaf {
  /** Page number (4 KiB units) of the first byte of the leaf. */
  page: number;
  /** log2 of the leaf's size in bytes. */
  pageLog2: number;
  level: number;
  /** The descriptor's halves. */
  lo: number;
  hi: number;
}

const PAGES_PER_4G = 0x100000;
const PAGES_48 = 2 ** 36; // 4 KiB pages in 2^48 bytes

export class ArmLpaeIoPgtable {
  readonly format: ArmLpaeFormat;
  readonly stage: 1 | 2;
  readonly granuleLog2: GranuleLog2;
  /** Effective input and output sizes (after capping). */
  readonly ias: number;
  readonly oas: number;
  /** Level of the first lookup, and number of lookup levels. */
  readonly startLevel: number;
  readonly levels: number;
  /** Tables concatenated at the start level (stage 2; 1 = none). */
  readonly concatenatedTables: number;
  /** Page number of the start-level table (TTBR / VTTBR), and how many 4 KiB pages it takes. */
  readonly root: number;
  readonly rootPages: number;
  /** Leaf sizes offered, log2 of bytes ascending: 4 KiB granule 12/21/30, 16 KiB 14/25, 64 KiB 16/29 (levels the table has). */
  readonly pageSizes: readonly number[];
  readonly control: ArmLpaeTranslationControl;

  private readonly stride: number;
  /** Index bits of the start-level table. */
  private readonly pgdBits: number;
  /** 4 KiB pages of a table below the start level. */
  private readonly granulePages: number;
  private readonly bigEndian: boolean;
  /** Descriptors carry address bits [51:48] in bits [15:12] (64 KiB granule, 52-bit output). */
  private readonly lpa: boolean;
  private pagesInUse = 0;
  // The descriptor last read, as halves (no allocation per access).
  private lo = 0;
  private hi = 0;

  constructor(private readonly config: ArmLpaePgtableConfig) {
    const g = config.granuleLog2;
    if (g !== 12 && g !== 14 && g !== 16) throw new RangeError(`granule 2^${String(g)} is not a VMSAv8-64 granule`);
    this.format = config.format;
    this.stage = config.format === 'ARM_64_LPAE_S1' ? 1 : 2;
    this.granuleLog2 = g;
    const maxBits = g === 16 ? 52 : 48;
    this.ias = Math.min(config.ias, maxBits);
    this.oas = Math.min(config.oas, maxBits);
    const ps = addressSizeField(this.oas);
    if (ps === null) throw new RangeError(`an output size of ${config.oas} bits is not a PS size`);
    if (!Number.isInteger(this.ias) || this.ias < 25) throw new RangeError(`an input size of ${config.ias} bits is below 25 (T0SZ 39)`);
    this.lpa = g === 16 && this.oas > 48;
    this.stride = g - 3;
    this.granulePages = 2 ** (g - 12);

    // The fewest levels that resolve the input bits above the page offset; the start table holds the rest.
    const vaBits = this.ias - g;
    let levels = Math.ceil(vaBits / this.stride);
    let startLevel = 4 - levels;
    let pgdBits = vaBits - this.stride * (levels - 1);
    if (this.stage === 2) {
      // Table D8-9 (a start level the PA size does not allow) and R DXBSH (no 16 KiB level-0 start).
      const unusable = (level: number) => this.oas < stage2LevelMinPaBits(g, level) || (g === 14 && level === 0);
      const required = unusable(startLevel);
      const wanted = config.concatenation !== 'when-required' && startLevel === 0;
      if ((required || wanted) && pgdBits <= MAX_CONCATENATION_BITS) {
        pgdBits += this.stride;
        startLevel++;
        levels--;
      }
      if (unusable(startLevel)) {
        throw new RangeError(`a ${this.ias}-bit stage-2 table with the 2^${g} granule cannot start at level ${startLevel} with ${this.oas}-bit output, nor concatenate 16 tables or fewer below it`);
      }
    }
    this.levels = levels;
    this.startLevel = startLevel;
    this.pgdBits = pgdBits;
    this.concatenatedTables = pgdBits > this.stride ? 2 ** (pgdBits - this.stride) : 1;
    this.rootPages = Math.max(1, 2 ** (pgdBits + 3 - 12));

    const sizes: number[] = [];
    for (let level = 3; level >= startLevel; level--) {
      // Blocks: 4 KiB granule levels 1-2, 16 KiB and 64 KiB level 2 (64 KiB level-1 4 TiB blocks are not offered).
      if (level === 3 || level === 2 || (level === 1 && g === 12)) sizes.push(this.levelShift(level));
    }
    this.pageSizes = sizes;

    const coherent = config.coherentWalk !== false;
    // SL0 counts levels down from the top: 4 KiB granule SL0 = 2 - level (level 3: 3), others SL0 = 3 - level.
    const sl = startLevel + (g === 12 ? 1 : 0);
    this.control = {
      t0sz: 64 - this.ias,
      tg0: tg0Field(g),
      ps,
      sl0: this.stage === 2 ? ~sl & 3 : null,
      sh0: coherent ? Shareability.InnerShareable : Shareability.OuterShareable,
      irgn0: coherent ? Rgn.WriteBackWriteAllocate : Rgn.NonCacheable,
      orgn0: coherent ? Rgn.WriteBackWriteAllocate : Rgn.NonCacheable,
      mair: this.stage === 1 ? ARM_LPAE_MAIR : null,
    };
    this.bigEndian = config.bigEndian ?? config.memory.endianness === 'big';
    this.root = config.allocTable(this.rootPages);
    this.pagesInUse = this.rootPages;
  }

  /** Byte address of the start-level table (TTBR0 / VTTBR). */
  get rootAddress(): bigint {
    return BigInt(this.root) << 12n;
  }

  /** 4 KiB pages of tables in use, the start-level table included. */
  get tablePages(): number {
    return this.pagesInUse;
  }

  /**
   * Maps `count` leaves of 2^pageLog2 bytes (one of `pageSizes`) from page numbers `iovaPage` to
   * `page`, both aligned to the leaf size, with Prot flags `prot`. Refuses to replace anything
   * mapped (unmap first); a table left empty by earlier unmaps where a block goes is replaced, its
   * pages put on `gather`'s freelist. Stops at a leaf that would not fit the input or output size.
   * Returns how many leaves were mapped (none without READ or WRITE, as Linux).
   */
  map(iovaPage: number, page: number, pageLog2: number, count: number, prot: number, gather: IotlbGather): number {
    const level = this.leafLevel(pageLog2);
    const pages = 2 ** (pageLog2 - 12);
    if (iovaPage % pages !== 0 || page % pages !== 0) throw new RangeError(`page numbers 0x${iovaPage.toString(16)} -> 0x${page.toString(16)} are not aligned to 2^${pageLog2} bytes`);
    if ((prot & (Prot.READ | Prot.WRITE)) === 0) return 0;
    const attrLo = this.leafAttrLo(prot, level);
    const attrHi = this.leafAttrHi(prot);
    const iovaLimit = 2 ** (this.ias - 12);
    const outLimit = 2 ** (this.oas - 12);
    for (let i = 0; i < count; i++) {
      const iova = iovaPage + i * pages;
      const out = page + i * pages;
      if (iova + pages > iovaLimit || out + pages > outLimit) return i;
      let ok: boolean;
      try {
        ok = this.mapOne(iova, out, level, attrLo, attrHi, gather);
      } catch {
        ok = false; // out of memory for a table: report what was mapped
      }
      if (!ok) return i;
    }
    return count;
  }

  /**
   * Unmaps up to `count` leaves of 2^pageLog2 bytes starting at `iovaPage`, recording the range
   * in `gather`. A table found where a leaf of this size would be is unmapped whole, its pages put
   * on the gather's freelist. Stops at a hole, or at a larger leaf (a partial unmap of a block is
   * refused). Returns the bytes unmapped.
   */
  unmap(iovaPage: number, pageLog2: number, count: number, gather: IotlbGather): number {
    const level = this.leafLevel(pageLog2);
    const pages = 2 ** (pageLog2 - 12);
    if (iovaPage % pages !== 0) throw new RangeError(`page number 0x${iovaPage.toString(16)} is not aligned to 2^${pageLog2} bytes`);
    const iovaLimit = 2 ** (this.ias - 12);
    let bytes = 0;
    for (let i = 0; i < count; i++) {
      const iova = iovaPage + i * pages;
      if (iova + pages > iovaLimit || !this.unmapOne(iova, level, gather)) break;
      bytes += pages * 4096;
    }
    return bytes;
  }

  /** The leaf translating page `iovaPage`, or null. */
  lookup(iovaPage: number): ArmLpaeLeaf | null {
    if (!(iovaPage >= 0 && iovaPage < 2 ** (this.ias - 12))) return null;
    let table = this.root;
    for (let level = this.startLevel; level <= 3; level++) {
      this.read(table, this.index(iovaPage, level));
      if ((this.lo & DescLo.VALID) === 0) return null;
      if (this.isTable(level)) {
        table = this.entryPage();
        continue;
      }
      return { page: this.entryPage(), pageLog2: this.levelShift(level), level, lo: this.lo, hi: this.hi };
    }
    return null;
  }

  /** The physical address `iova` maps to, or null. */
  iovaToPhys(iova: bigint): bigint | null {
    if (iova < 0n || iova >> BigInt(this.ias) !== 0n) return null;
    const leaf = this.lookup(Number(iova >> 12n));
    if (leaf === null) return null;
    return (BigInt(leaf.page) << 12n) + (iova & ((1n << BigInt(leaf.pageLog2)) - 1n));
  }

  /**
   * The leaves in pages [iovaPage, iovaPage + pages) that hardware dirty-state management made
   * writable-dirty (DBM with AP[2] clear at stage 1, S2AP[1] set at stage 2; D8.5.2), each as the
   * leaf's first page and size; unless `clear` is false they are made writable-clean again, to
   * catch the next write (Linux read_and_clear_dirty). The caller invalidates the TLB entries of
   * what was cleaned before relying on it.
   */
  readAndClearDirty(iovaPage: number, pages: number, clear = true): { iovaPage: number; pageLog2: number }[] {
    const out: { iovaPage: number; pageLog2: number }[] = [];
    const end = Math.min(iovaPage + pages, 2 ** (this.ias - 12));
    this.visitLeaves(this.root, this.startLevel, 0, Math.max(0, iovaPage), end, (table, index, level, first) => {
      if ((this.hi & DescHi.DBM) === 0) return;
      const dirty = this.stage === 1 ? (this.lo & DescLo.AP2) === 0 : (this.lo & DescLo.AP2) !== 0;
      if (!dirty) return;
      out.push({ iovaPage: first, pageLog2: this.levelShift(level) });
      if (clear) this.write(table, index, (this.stage === 1 ? this.lo | DescLo.AP2 : this.lo & ~DescLo.AP2) >>> 0, this.hi);
    });
    return out;
  }

  /** Frees every table, the start-level table included; the table is unusable afterwards. */
  free(): void {
    this.freeSubtree(this.root, this.startLevel, (p, n) => this.config.freeTable(p, n));
    this.pagesInUse = 0;
  }

  // ---- internals ----------------------------------------------------------------------------

  private levelShift(level: number): number {
    return this.granuleLog2 + (3 - level) * this.stride;
  }

  private leafLevel(pageLog2: number): number {
    if (!this.pageSizes.includes(pageLog2)) throw new RangeError(`this ${this.format} table has no leaf of 2^${pageLog2} bytes`);
    return 3 - (pageLog2 - this.granuleLog2) / this.stride;
  }

  /** Low-half attributes of a leaf (Linux arm_lpae_prot_to_pte), with the descriptor type. */
  private leafAttrLo(prot: number, level: number): number {
    let lo = DescLo.VALID | (level === 3 ? DescLo.TABLE_OR_PAGE : 0);
    if (this.stage === 1) {
      lo |= DescLo.NG;
      if ((prot & Prot.WRITE) === 0) lo |= DescLo.AP2; // read-only
      if ((prot & Prot.PRIV) === 0) lo |= DescLo.AP1; // EL0 (unprivileged) access too
      const index = (prot & Prot.MMIO) !== 0 ? MairIndex.Device : (prot & Prot.CACHE) !== 0 ? MairIndex.Cacheable : MairIndex.NonCacheable;
      lo |= index << DescLo.ATTR_INDX_SHIFT;
      if (this.config.nonSecure === true) lo |= DescLo.NS;
    } else {
      if ((prot & Prot.READ) !== 0) lo |= DescLo.AP1; // S2AP[0]
      if ((prot & Prot.WRITE) !== 0) lo |= DescLo.AP2; // S2AP[1]
      const memAttr = (prot & Prot.MMIO) !== 0 ? S2MemAttr.DeviceNGnRE : (prot & Prot.CACHE) !== 0 ? S2MemAttr.NormalWriteBack : S2MemAttr.NormalNonCacheable;
      lo |= memAttr << DescLo.MEM_ATTR_SHIFT;
    }
    lo |= ((prot & Prot.CACHE) !== 0 ? Shareability.InnerShareable : Shareability.OuterShareable) << DescLo.SH_SHIFT;
    if (this.config.accessFlag !== false) lo |= DescLo.AF;
    return lo;
  }

  private leafAttrHi(prot: number): number {
    let hi = 0;
    if ((prot & Prot.NOEXEC) !== 0) {
      // Stage 1: UXN and PXN. Stage 2: XN[1] only, which forbids execution with or without FEAT_XNX
      // (Linux sets both bits, which FEAT_XNX reads as "EL1 may execute").
      hi |= this.stage === 1 ? DescHi.UXN | DescHi.PXN : DescHi.UXN;
    }
    if (this.config.hardwareDirty === true && (prot & Prot.WRITE) !== 0) hi |= DescHi.DBM;
    return hi;
  }

  private mapOne(iovaPage: number, page: number, level: number, attrLo: number, attrHi: number, gather: IotlbGather): boolean {
    let table = this.root;
    for (let l = this.startLevel; l < level; l++) {
      const idx = this.index(iovaPage, l);
      this.read(table, idx);
      if ((this.lo & DescLo.VALID) === 0) {
        const next = this.config.allocTable(this.granulePages);
        this.pagesInUse += this.granulePages;
        this.write(table, idx, this.tableLo(next), this.tableHi(next));
        table = next;
        continue;
      }
      if (!this.isTable(l)) return false; // a larger leaf covers this address
      table = this.entryPage();
    }
    const idx = this.index(iovaPage, level);
    this.read(table, idx);
    if ((this.lo & DescLo.VALID) !== 0) {
      if (!this.isTable(level)) return false; // already mapped
      const old = this.entryPage();
      if (!this.subtreeEmpty(old, level + 1)) return false; // smaller mappings are in the way
      this.freeSubtree(old, level + 1, (p, n) => this.release(p, n, gather));
      gather.add(iovaPage, 2 ** (this.levelShift(level) - 12), this.levelShift(level));
    }
    this.write(table, idx, (this.addressLo(page) | attrLo) >>> 0, (this.addressHi(page) | attrHi) >>> 0);
    return true;
  }

  private unmapOne(iovaPage: number, level: number, gather: IotlbGather): boolean {
    let table = this.root;
    for (let l = this.startLevel; l < level; l++) {
      this.read(table, this.index(iovaPage, l));
      if ((this.lo & DescLo.VALID) === 0 || !this.isTable(l)) return false; // a hole, or a larger leaf
      table = this.entryPage();
    }
    const idx = this.index(iovaPage, level);
    this.read(table, idx);
    if ((this.lo & DescLo.VALID) === 0) return false;
    if (this.isTable(level)) {
      // A table where a leaf of this size would be: its smaller mappings go with it, whole. An
      // emptied one is a hole, like an invalid entry.
      const sub = this.entryPage();
      if (this.subtreeEmpty(sub, level + 1)) return false;
      this.freeSubtree(sub, level + 1, (p, n) => this.release(p, n, gather));
    }
    this.write(table, idx, 0, 0);
    gather.add(iovaPage, 2 ** (this.levelShift(level) - 12), this.levelShift(level));
    return true;
  }

  private release(page: number, pages: number, gather: IotlbGather): void {
    this.pagesInUse -= pages;
    for (let p = page; p < page + pages; p++) gather.freelist.push(p);
  }

  /** Whether no valid leaf lies under `table`, a table at `level`. */
  private subtreeEmpty(table: number, level: number): boolean {
    const n = this.entries(level);
    for (let i = 0; i < n; i++) {
      this.read(table, i);
      if ((this.lo & DescLo.VALID) === 0) continue;
      if (!this.isTable(level)) return false;
      if (!this.subtreeEmpty(this.entryPage(), level + 1)) return false;
    }
    return true;
  }

  /** Calls `free` on every table under (and including) `table` at `level`, children first. */
  private freeSubtree(table: number, level: number, free: (page: number, pages: number) => void): void {
    if (level < 3) {
      const n = this.entries(level);
      for (let i = 0; i < n; i++) {
        this.read(table, i);
        if ((this.lo & DescLo.VALID) !== 0 && this.isTable(level)) this.freeSubtree(this.entryPage(), level + 1, free);
      }
    }
    free(table, level === this.startLevel ? this.rootPages : this.granulePages);
  }

  /**
   * Calls `visit` with each valid leaf under `table` (at `level`, mapping from page `base`) that
   * overlaps pages [first, end), the leaf's descriptor in lo/hi.
   */
  private visitLeaves(table: number, level: number, base: number, first: number, end: number, visit: (table: number, index: number, level: number, leafFirst: number) => void): void {
    const span = 2 ** (this.levelShift(level) - 12);
    const n = this.entries(level);
    const from = Math.max(0, Math.floor((first - base) / span));
    for (let i = from; i < n; i++) {
      const start = base + i * span;
      if (start >= end) break;
      this.read(table, i);
      if ((this.lo & DescLo.VALID) === 0) continue;
      if (this.isTable(level)) this.visitLeaves(this.entryPage(), level + 1, start, first, end, visit);
      else visit(table, i, level, start);
    }
  }

  private entries(level: number): number {
    return 2 ** (level === this.startLevel ? this.pgdBits : this.stride);
  }

  private index(iovaPage: number, level: number): number {
    return Math.floor(iovaPage / 2 ** (this.levelShift(level) - 12)) % this.entries(level);
  }

  /** Whether the descriptor last read (valid) at `level` is a Table descriptor. */
  private isTable(level: number): boolean {
    return level < 3 && (this.lo & DescLo.TABLE_OR_PAGE) !== 0;
  }

  /** The page number in the descriptor last read: bits [47:granule], with [51:48] from bits [15:12] under LPA. */
  private entryPage(): number {
    const g = this.granuleLog2;
    let page = (this.hi & DescHi.ADDRESS_MASK) * PAGES_PER_4G + Math.floor((this.lo >>> 0) / 2 ** g) * 2 ** (g - 12);
    if (this.lpa) page += ((this.lo & DescLo.OA_51_48_MASK) >>> DescLo.OA_51_48_SHIFT) * PAGES_48;
    return page;
  }

  private addressLo(page: number): number {
    let lo = (page % PAGES_PER_4G) * 4096;
    if (this.lpa) lo += (Math.floor(page / PAGES_48) % 16) << DescLo.OA_51_48_SHIFT;
    return lo;
  }

  private addressHi(page: number): number {
    return Math.floor(page / PAGES_PER_4G) % 0x10000;
  }

  private tableLo(page: number): number {
    return (this.addressLo(page) | DescLo.VALID | DescLo.TABLE_OR_PAGE) >>> 0;
  }

  private tableHi(page: number): number {
    const ns = this.stage === 1 && this.config.nonSecure === true;
    return (this.addressHi(page) | (ns ? DescHi.NS_TABLE : 0)) >>> 0;
  }

  private read(table: number, index: number): void {
    const m = this.config.memory;
    const byte = index * 8;
    const rawLo = m.read64(table + Math.floor(byte / 4096), byte % 4096) >>> 0;
    const rawHi = m.hi >>> 0;
    if (this.bigEndian) {
      this.lo = bswap32(rawHi);
      this.hi = bswap32(rawLo);
    } else {
      this.lo = rawLo;
      this.hi = rawHi;
    }
  }

  private write(table: number, index: number, lo: number, hi: number): void {
    const m = this.config.memory;
    const byte = index * 8;
    if (this.bigEndian) m.write64(table + Math.floor(byte / 4096), byte % 4096, bswap32(hi), bswap32(lo));
    else m.write64(table + Math.floor(byte / 4096), byte % 4096, lo >>> 0, hi >>> 0);
  }
}
