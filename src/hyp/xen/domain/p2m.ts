// A domain's P2M (Xen xen/arch/arm/p2m.c): the stage-2 table that maps the domain's
// guest-physical frames (gfn) to machine frames (mfn), in the VMSAv8-64 stage-2 format with the
// 4 KiB granule. The CPU's stage-2 walks it, and, because Xen shares it with the IOMMU
// (iommu_use_hap_pt: the IPMMU context's table base is the P2M root), so do the domain's DMA
// masters. So every change is followed by the IOMMU TLB flush (`flush`) before pages it
// released are reused.
//
// Entries have a type, as Xen's p2m_type_t: RAM read/write, RAM read-only, or device MMIO
// mapped 1:1. Leaves are as large as alignment allows (4 KiB, 2 MiB, 1 GiB: Xen's superpages);
// unmapping or retyping part of a superpage first splits it (p2m_split_superpage), so a change
// never touches frames outside its range. Tables come from the hypervisor's heap.

import { DescLo, s2MemAttrType } from '../../../formats/arm-lpae/index.js';
import { IotlbGather, Prot } from '../../../os/core/types.js';
import { ArmLpaeIoPgtable, type ArmLpaeLeaf } from '../../../os/io-pgtable/arm-lpae.js';
import type { PageAllocator } from '../../../os/kernel/page-allocator.js';
import type { PhysicalMemory } from '../../../sim/physical-memory.js';
import { XenError } from '../errors.js';

/** Xen's p2m types that the model uses. */
export const P2mType = {
  /** Guest RAM, read/write (p2m_ram_rw). */
  RamRw: 'ram_rw',
  /** Guest RAM, read-only (p2m_ram_ro). */
  RamRo: 'ram_ro',
  /** Device registers mapped 1:1 (p2m_mmio_direct_dev). */
  MmioDirect: 'mmio_direct',
} as const;
export type P2mTypeValue = (typeof P2mType)[keyof typeof P2mType];

export interface P2mEntry {
  mfn: number;
  type: P2mTypeValue;
  /** log2 of the leaf's size in bytes. */
  pageLog2: number;
}

export interface P2mCounters {
  /** Leaves written by maps (superpages count one). */
  leavesMapped: number;
  leavesUnmapped: number;
  /** Superpages split to change part of them. */
  splits: number;
  /** Changes that ended with a TLB flush. */
  flushes: number;
}

export interface P2mConfig {
  memory: PhysicalMemory;
  heap: PageAllocator;
  /** IPA size (p2m_ipa_bits) and machine address size. */
  ipaBits: number;
  paBits: number;
  /** Invalidates the TLBs that may cache the table (the IOMMU's; the CPU's is not modelled). */
  flush: () => void;
}

function protOf(type: P2mTypeValue): number {
  switch (type) {
    case P2mType.RamRw:
      return Prot.READ | Prot.WRITE | Prot.CACHE;
    case P2mType.RamRo:
      return Prot.READ | Prot.CACHE;
    case P2mType.MmioDirect:
      return Prot.READ | Prot.WRITE | Prot.MMIO;
  }
}

export class P2m {
  readonly counters: P2mCounters = { leavesMapped: 0, leavesUnmapped: 0, splits: 0, flushes: 0 };
  private readonly table: ArmLpaeIoPgtable;
  private readonly gather = new IotlbGather();
  private freed = false;

  constructor(private readonly config: P2mConfig) {
    this.table = new ArmLpaeIoPgtable({
      format: 'ARM_64_LPAE_S2',
      granuleLog2: 12,
      ias: config.ipaBits,
      oas: config.paBits,
      memory: config.memory,
      allocTable: (pages) => config.heap.allocPages(pages, pages),
      freeTable: (page, pages) => config.heap.freePages(page, pages),
    });
  }

  /** Machine address of the root table (VTTBR_EL2.BADDR; the IPMMU's IMTTLBR0/IMTTUBR0). */
  get rootAddress(): bigint {
    return this.table.rootAddress;
  }

  /** IPA size in bits; the IPMMU's IMTTBCR.TSZ0 is 64 minus this. */
  get ipaBits(): number {
    return this.table.ias;
  }

  /** VTCR_EL2.SL0 for this table: the walk's start level (1 for a 40-bit IPA); the IPMMU's stage-2 IMTTBCR.SL0 uses the same encoding. */
  get sl0(): number {
    return this.table.control.sl0 as number;
  }

  /** 4 KiB pages of tables. */
  get tablePages(): number {
    return this.table.tablePages;
  }

  /**
   * Maps `count` frames from `gfn` to `mfn` with `type`, in leaves as large as alignment
   * allows; refuses (XenError) to replace anything mapped. Then flushes.
   */
  map(gfn: number, mfn: number, count: number, type: P2mTypeValue): void {
    this.checkLive();
    this.checkRange(gfn, count);
    for (let i = 0; i < count; i++) {
      if (this.lookup(gfn + i) !== null) throw new XenError(`P2M: gfn 0x${(gfn + i).toString(16)} is already mapped`);
    }
    this.mapRange(gfn, mfn, count, type);
    this.sync();
  }

  /** Unmaps every frame in [gfn, gfn + count) (splitting superpages at the edges); holes are skipped. Then flushes. */
  unmap(gfn: number, count: number): void {
    this.checkLive();
    this.checkRange(gfn, count);
    this.removeRange(gfn, count, null);
    this.sync();
  }

  /** Changes the type of every mapped frame in [gfn, gfn + count), keeping its mfn. Then flushes. */
  setType(gfn: number, count: number, type: P2mTypeValue): void {
    this.checkLive();
    this.checkRange(gfn, count);
    this.removeRange(gfn, count, (first, mfn, pages) => this.mapRange(first, mfn, pages, type));
    this.sync();
  }

  /** The entry translating `gfn`, or null (the software walk a CPU's stage-2 does). */
  lookup(gfn: number): P2mEntry | null {
    const leaf = this.table.lookup(gfn);
    if (leaf === null) return null;
    return { mfn: leaf.page + (gfn - leafFirst(gfn, leaf)), type: typeOf(leaf), pageLog2: leaf.pageLog2 };
  }

  /** The machine address of `gpa`, or null. */
  translate(gpa: bigint): bigint | null {
    const e = this.lookup(Number(gpa >> 12n));
    if (e === null) return null;
    return (BigInt(e.mfn) << 12n) | (gpa & 0xfffn);
  }

  /** Frees every table; the P2M cannot be used afterwards. */
  free(): void {
    if (this.freed) return;
    this.table.free();
    this.freed = true;
  }

  // ---- internals ----------------------------------------------------------------------------

  private mapRange(gfn: number, mfn: number, count: number, type: P2mTypeValue): void {
    const prot = protOf(type);
    for (let done = 0; done < count; ) {
      const g = gfn + done;
      const m = mfn + done;
      let log2 = 12;
      for (const size of this.table.pageSizes) {
        const pages = 2 ** (size - 12);
        if (g % pages === 0 && m % pages === 0 && count - done >= pages) log2 = size;
      }
      const n = this.table.map(g, m, log2, 1, prot, this.gather);
      if (n !== 1) throw new XenError(`P2M: cannot map gfn 0x${g.toString(16)} to mfn 0x${m.toString(16)} (out of memory for tables, or beyond the ${this.table.ias}-bit IPA / ${this.table.oas}-bit PA)`);
      this.counters.leavesMapped++;
      done += 2 ** (log2 - 12);
    }
  }

  /**
   * Removes every leaf in [gfn, gfn + count), splitting superpages that straddle an edge until
   * none does; holes are skipped. `then` gets each removed leaf (first gfn, its mfn, frames).
   */
  private removeRange(gfn: number, count: number, then: ((first: number, mfn: number, pages: number) => void) | null): void {
    const end = gfn + count;
    for (let g = gfn; g < end; ) {
      const e = this.lookup(g);
      if (e === null) {
        g++;
        continue;
      }
      const pages = 2 ** (e.pageLog2 - 12);
      const first = g - (g % pages);
      const base = e.mfn - (g - first);
      if (first < gfn || first + pages > end) {
        this.split(first, base, e);
        continue;
      }
      this.removeLeaf(first, e.pageLog2);
      then?.(first, base, pages);
      g = first + pages;
    }
  }

  /** Replaces the superpage at `first` (mapping `base`) by leaves of the next size down (p2m_split_superpage). */
  private split(first: number, base: number, e: P2mEntry): void {
    const sizes = this.table.pageSizes;
    const smaller = sizes[sizes.indexOf(e.pageLog2) - 1];
    this.removeLeaf(first, e.pageLog2);
    const step = 2 ** (smaller - 12);
    const prot = protOf(e.type);
    for (let i = 0; i < 2 ** (e.pageLog2 - smaller); i++) {
      if (this.table.map(first + i * step, base + i * step, smaller, 1, prot, this.gather) !== 1) throw new XenError(`P2M: out of memory splitting the superpage at gfn 0x${first.toString(16)}`);
    }
    this.counters.splits++;
  }

  private removeLeaf(first: number, pageLog2: number): void {
    if (this.table.unmap(first, pageLog2, 1, this.gather) === 0) throw new XenError(`P2M: gfn 0x${first.toString(16)} is not a leaf of 2^${pageLog2} bytes`);
    this.counters.leavesUnmapped++;
  }

  /** The flush after a change; table pages the change released go back to the heap only then. */
  private sync(): void {
    this.config.flush();
    this.counters.flushes++;
    for (const page of this.gather.freelist) this.config.heap.freePages(page, 1);
    this.gather.reset();
  }

  private checkRange(gfn: number, count: number): void {
    const limit = 2 ** (this.table.ias - 12);
    if (!Number.isInteger(gfn) || !Number.isInteger(count) || gfn < 0 || count < 0 || gfn + count > limit) {
      throw new XenError(`P2M: frames 0x${gfn.toString(16)}..+0x${count.toString(16)} are outside the ${this.table.ias}-bit IPA space`);
    }
  }

  private checkLive(): void {
    if (this.freed) throw new XenError('P2M: the table has been freed with its domain');
  }
}

function leafFirst(gfn: number, leaf: ArmLpaeLeaf): number {
  const pages = 2 ** (leaf.pageLog2 - 12);
  return gfn - (gfn % pages);
}

/** The p2m type a stage-2 leaf encodes: S2AP and MemAttr (Xen keeps the type in software bits; this model reads it back from the permissions). */
function typeOf(leaf: ArmLpaeLeaf): P2mTypeValue {
  const memAttr = (leaf.lo & DescLo.MEM_ATTR_MASK) >>> DescLo.MEM_ATTR_SHIFT;
  if (s2MemAttrType(memAttr) === 'device') return P2mType.MmioDirect;
  const write = (leaf.lo & DescLo.AP2) !== 0; // S2AP[1]
  return write ? P2mType.RamRw : P2mType.RamRo;
}
