// A software builder of RISC-V first-stage page tables (Sv39, Sv48, Sv57; Privileged
// Architecture "Sv39/Sv48/Sv57"), as an IOMMU driver keeps them: 4 KiB pages and 2 MiB / 1 GiB
// leaves, tables allocated on demand. As in Linux, an unmap clears leaves and leaves emptied
// tables in place: freeing a table would need an invalidation of the whole address space
// (IOTINVAL.VMA with an address invalidates leaf entries only, RISC-V IOMMU 4.1 / non-leaf
// extension), which would cost every 4 KiB DMA unmap the domain's whole IOTLB. Tables are freed
// when a superpage replaces an empty one, when an unmap covers a whole table, and with the
// domain. Written independently of the IOMMU model's walker, so that a bug in one is caught by
// the other.
//
// PTEs are read and written in the CPU's byte order (the memory's endianness) as two 32-bit
// halves; page numbers are plain numbers (< 2^44).

import { PteBit, Sv39, Sv48, Sv57, type PagingMode } from '../../formats/riscv-pte/index.js';
import type { PhysicalMemory } from '../../sim/physical-memory.js';
import { bswap32 } from '../../sim/u64.js';
import { Prot, type IotlbGather } from '../core/types.js';

export type RiscvPgtableModeName = 'Sv39' | 'Sv48' | 'Sv57';

const MODES: Readonly<Record<RiscvPgtableModeName, PagingMode>> = { Sv39, Sv48, Sv57 };

export interface RiscvPgtableConfig {
  mode: RiscvPgtableModeName;
  /** The CPU's view of RAM. */
  memory: PhysicalMemory;
  /** A zeroed 4 KiB page for a table; returns its page number (may throw when out of memory). */
  allocTable(): number;
  /** Gives a table page back (only for pages that no IOMMU can walk any more). */
  freeTable(page: number): void;
  /** The IOMMU sets A and D itself (DC.tc.SADE); otherwise leaves are born accessed and dirty. */
  hardwareAd: boolean;
  /** Svpbmt is available: Prot.MMIO mappings get PBMT=IO. */
  svpbmt?: boolean;
}

/** A leaf as software sees it: where it points and how large it is. */
export interface RiscvLeaf {
  /** Page number of the first 4 KiB page of the leaf. */
  page: number;
  /** 0 = 4 KiB, 1 = 2 MiB, 2 = 1 GiB, ... */
  level: number;
  /** Low 10 bits of the PTE (V R W X U G A D RSW). */
  flags: number;
}

const PPN_LO_PAGES = 0x400000; // PPN bits held in the low word (22 bits)
const LEAF_BITS = PteBit.R | PteBit.W | PteBit.X;
const PBMT_IO_HI = 2 << 29; // PBMT in bits 62:61

export class RiscvIoPgtable {
  readonly mode: PagingMode;
  /** Page number of the root table (iosatp.PPN). */
  readonly root: number;
  private tables = 0;
  private readonly bigEndian: boolean;
  // The PTE last read, as halves (no allocation per access).
  private lo = 0;
  private hi = 0;

  constructor(private readonly config: RiscvPgtableConfig) {
    this.mode = MODES[config.mode];
    this.bigEndian = config.memory.endianness === 'big';
    this.root = config.allocTable();
    this.tables = 1;
  }

  /** Width of the input address (39, 48 or 57 bits). */
  get vaBits(): number {
    return this.mode.inputBits;
  }

  /** Number of table pages in use, the root included. */
  get tablePages(): number {
    return this.tables;
  }

  /**
   * Maps `count` leaves of 2^pageLog2 bytes from page numbers `iovaPage` to `page`. Refuses to
   * replace anything mapped (unmap first); a table left empty by earlier unmaps where a leaf
   * goes is replaced, its pages put in `gather`'s freelist (to free after a full invalidation).
   * Returns how many leaves were mapped.
   */
  map(iovaPage: number, page: number, pageLog2: number, count: number, prot: number, gather: IotlbGather): number {
    const level = this.levelOf(pageLog2);
    const pages = 2 ** (9 * level);
    const flags = this.leafFlags(prot);
    const pbmt = this.config.svpbmt === true && (prot & Prot.MMIO) !== 0 ? PBMT_IO_HI : 0;
    for (let i = 0; i < count; i++) {
      let ok: boolean;
      try {
        ok = this.mapOne(iovaPage + i * pages, page + i * pages, level, flags, pbmt, gather);
      } catch {
        ok = false; // out of memory for a table: report what was mapped
      }
      if (!ok) return i;
    }
    return count;
  }

  /**
   * Unmaps up to `count` leaves of 2^pageLog2 bytes starting at `iovaPage`, recording the range
   * in `gather`. A table found where a leaf of this size would be is unmapped whole, its pages
   * put in the gather's freelist. Stops at a hole, or at a larger leaf (a partial unmap of a
   * superpage is refused). Returns the bytes unmapped.
   */
  unmap(iovaPage: number, pageLog2: number, count: number, gather: IotlbGather): number {
    const level = this.levelOf(pageLog2);
    const pages = 2 ** (9 * level);
    let bytes = 0;
    for (let i = 0; i < count; i++) {
      if (!this.unmapOne(iovaPage + i * pages, level, gather)) break;
      bytes += pages * 4096;
    }
    return bytes;
  }

  /** The leaf translating page `iovaPage`, or null. */
  lookup(iovaPage: number): RiscvLeaf | null {
    if (iovaPage < 0 || iovaPage >= 2 ** (this.mode.inputBits - 12)) return null;
    let table = this.root;
    for (let level = this.mode.levels - 1; level >= 0; level--) {
      this.read(table, this.index(iovaPage, level));
      if ((this.lo & PteBit.V) === 0) return null;
      if ((this.lo & LEAF_BITS) !== 0) return { page: this.ptePage(), level, flags: this.lo & 0x3ff };
      table = this.ptePage();
    }
    return null;
  }

  /** The physical address `iova` maps to, or null. */
  iovaToPhys(iova: bigint): bigint | null {
    if (iova < 0n || iova >> BigInt(this.mode.inputBits) !== 0n) return null;
    const leaf = this.lookup(Number(iova >> 12n));
    if (leaf === null) return null;
    const size = 1n << BigInt(12 + 9 * leaf.level);
    return (BigInt(leaf.page) << 12n) + (iova & (size - 1n));
  }

  /** Frees every table page, the root included; the table is unusable afterwards. */
  destroy(): void {
    this.freeSubtree(this.root, this.mode.levels - 1, (p) => this.config.freeTable(p));
    this.tables = 0;
  }

  // ---- internals ----------------------------------------------------------------------------

  private levelOf(pageLog2: number): number {
    const level = (pageLog2 - 12) / 9;
    if (!Number.isInteger(level) || level < 0 || level >= this.mode.levels) {
      throw new RangeError(`${this.mode.name} has no leaf of 2^${pageLog2} bytes`);
    }
    return level;
  }

  private leafFlags(prot: number): number {
    // A writable page must be readable too (W without R is reserved), and never executable:
    // the leaves Linux's driver writes (_PAGE_BASE | _PAGE_READ [| _PAGE_WRITE [| _PAGE_DIRTY]]).
    let f = PteBit.V | PteBit.R | PteBit.A;
    if ((prot & Prot.WRITE) !== 0) f |= PteBit.W;
    // Device requests without a privileged PASID are user-mode accesses (U=1).
    if ((prot & Prot.PRIV) === 0) f |= PteBit.U;
    // Without hardware updating, a clear D would fault the first write: set it up front.
    if ((prot & Prot.WRITE) !== 0 && !this.config.hardwareAd) f |= PteBit.D;
    return f;
  }

  private mapOne(iovaPage: number, page: number, level: number, flags: number, pbmtHi: number, gather: IotlbGather): boolean {
    let table = this.root;
    for (let l = this.mode.levels - 1; l > level; l--) {
      const idx = this.index(iovaPage, l);
      this.read(table, idx);
      if ((this.lo & PteBit.V) === 0) {
        const next = this.config.allocTable();
        this.tables++;
        this.write(table, idx, this.pointerLo(next), this.pointerHi(next));
        table = next;
        continue;
      }
      if ((this.lo & LEAF_BITS) !== 0) return false; // a larger leaf covers this address
      table = this.ptePage();
    }
    const idx = this.index(iovaPage, level);
    this.read(table, idx);
    if ((this.lo & PteBit.V) !== 0) {
      if ((this.lo & LEAF_BITS) !== 0) return false; // already mapped
      const old = this.ptePage();
      if (!this.subtreeEmpty(old, level - 1)) return false; // smaller mappings are in the way
      this.freeSubtree(old, level - 1, (p) => this.release(p, gather));
      gather.add(iovaPage, 2 ** (9 * level), 12 + 9 * level);
    }
    this.write(table, idx, (this.pointerLo(page) | flags) >>> 0, this.pointerHi(page) | pbmtHi);
    return true;
  }

  /** Whether no valid leaf lies under `table` (which sits at `level`). */
  private subtreeEmpty(table: number, level: number): boolean {
    for (let i = 0; i < 512; i++) {
      this.read(table, i);
      if ((this.lo & PteBit.V) === 0) continue;
      if (level === 0 || (this.lo & LEAF_BITS) !== 0) return false;
      if (!this.subtreeEmpty(this.ptePage(), level - 1)) return false;
    }
    return true;
  }

  private release(page: number, gather: IotlbGather): void {
    this.tables--;
    gather.freelist.push(page);
  }

  private unmapOne(iovaPage: number, level: number, gather: IotlbGather): boolean {
    let table = this.root;
    for (let l = this.mode.levels - 1; l > level; l--) {
      this.read(table, this.index(iovaPage, l));
      if ((this.lo & PteBit.V) === 0) return false;
      if ((this.lo & LEAF_BITS) !== 0) return false;
      table = this.ptePage();
    }
    const idx = this.index(iovaPage, level);
    this.read(table, idx);
    if ((this.lo & PteBit.V) === 0) return false;
    if ((this.lo & LEAF_BITS) === 0) {
      // A table where a leaf of this size would be: its smaller mappings go with it, whole. An
      // emptied one is a hole, like an invalid entry.
      const sub = this.ptePage();
      if (this.subtreeEmpty(sub, level - 1)) return false;
      this.freeSubtree(sub, level - 1, (p) => this.release(p, gather));
    }
    this.write(table, idx, 0, 0);
    gather.add(iovaPage, 2 ** (9 * level), 12 + 9 * level);
    return true;
  }

  /** Calls `free` on every table page under (and including) `table`, children first. */
  private freeSubtree(table: number, level: number, free: (page: number) => void): void {
    if (level > 0) {
      for (let i = 0; i < 512; i++) {
        this.read(table, i);
        if ((this.lo & PteBit.V) !== 0 && (this.lo & LEAF_BITS) === 0) this.freeSubtree(this.ptePage(), level - 1, free);
      }
    }
    free(table);
  }

  private index(iovaPage: number, level: number): number {
    return Math.floor(iovaPage / 2 ** (9 * level)) % 512;
  }

  private pointerLo(page: number): number {
    return ((page % PPN_LO_PAGES) * 1024 + PteBit.V) >>> 0;
  }

  private pointerHi(page: number): number {
    return Math.floor(page / PPN_LO_PAGES);
  }

  /** Page number in the PTE last read. */
  private ptePage(): number {
    return (this.hi & 0x3fffff) * PPN_LO_PAGES + (this.lo >>> 10);
  }

  private read(table: number, index: number): void {
    const m = this.config.memory;
    const rawLo = m.read64(table, index * 8);
    const rawHi = m.hi;
    if (this.bigEndian) {
      this.lo = bswap32(rawHi);
      this.hi = bswap32(rawLo);
    } else {
      this.lo = rawLo >>> 0;
      this.hi = rawHi >>> 0;
    }
  }

  private write(table: number, index: number, lo: number, hi: number): void {
    const m = this.config.memory;
    if (this.bigEndian) m.write64(table, index * 8, bswap32(hi), bswap32(lo));
    else m.write64(table, index * 8, lo >>> 0, hi >>> 0);
  }
}
