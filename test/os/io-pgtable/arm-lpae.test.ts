// The software VMSAv8-64 table builder on its own and against the hardware walker's view of the
// same memory: geometry and translation-control values as Linux's io-pgtable-arm chooses them
// (Arm ARM D8.2: start levels, stage-2 concatenation where Table D8-9 and R DXBSH require it),
// leaf encodings from IOMMU prot flags (D8.3.1, D8.4, D8.6), map/unmap rules (no block
// splitting, tables freed through the gather), big-endian and 52-bit descriptors, and
// hardware-managed access flag and dirty state (D8.5).

import { describe, expect, it } from 'vitest';
import { decode } from '../../../src/formats/bitfield.js';
import { Ap, S2Ap, S2MemAttr, Stage1LeafLayout, Stage1TableLayout, Stage2LeafLayout, Tg0 } from '../../../src/formats/arm-lpae/index.js';
import { PhysicalDescriptorMemory, stage1WalkConfig, stage2WalkConfig, VmsaFault, VmsaWalker, type VmsaWalkConfig } from '../../../src/hw/arm-lpae/index.js';
import { IotlbGather, Prot } from '../../../src/os/core/types.js';
import { ARM_LPAE_MAIR, ArmLpaeIoPgtable, MairIndex, type ArmLpaePgtableConfig } from '../../../src/os/io-pgtable/arm-lpae.js';
import { PageAllocator } from '../../../src/os/kernel/page-allocator.js';
import { PhysicalMemory } from '../../../src/sim/physical-memory.js';

const RAM = 0x8000_0000n;

function setup(over: Partial<ArmLpaePgtableConfig> = {}, endianness: 'little' | 'big' = 'little') {
  const memory = new PhysicalMemory({ endianness });
  const pages = new PageAllocator(memory);
  pages.addRange(RAM, 256n << 20n);
  const freed: [number, number][] = [];
  const before = pages.stats.allocatedPages;
  const pt = new ArmLpaeIoPgtable({
    format: 'ARM_64_LPAE_S1',
    granuleLog2: 12,
    ias: 48,
    oas: 48,
    memory,
    allocTable: (n) => pages.allocPages(n, n),
    freeTable: (p, n) => {
      freed.push([p, n]);
      pages.freePages(p, n);
    },
    ...over,
  });
  return { memory, pages, pt, freed, before };
}

/** The walk configuration the hardware derives from the builder's translation-control values. */
function walkConfig(pt: ArmLpaeIoPgtable, over: Partial<VmsaWalkConfig> = {}): VmsaWalkConfig {
  const c = pt.control;
  const common = { bigEndian: false, hardwareAccessFlag: false, hardwareDirty: false };
  const cfg =
    pt.stage === 1
      ? stage1WalkConfig({ ...common, txsz: c.t0sz, tg: c.tg0, tgField: 0, ips: c.ps, hierarchicalPermissionsDisabled: false }, { paBits: pt.oas, largeVa: true })
      : stage2WalkConfig({ ...common, t0sz: c.t0sz, sl0: c.sl0 as number, tg: c.tg0, ps: c.ps }, { paBits: pt.oas, maxIpaBits: pt.ias });
  if (typeof cfg === 'string') throw new Error(cfg);
  return { ...cfg, ...over };
}

function hwWalk(memory: PhysicalMemory, pt: ArmLpaeIoPgtable, iovaPage: number, over: Partial<VmsaWalkConfig> = {}, write = false): VmsaWalker {
  const w = new VmsaWalker();
  const root = pt.rootAddress;
  w.walk(walkConfig(pt, over), new PhysicalDescriptorMemory(memory), Number(root >> 32n), Number(root & 0xffff_ffffn), iovaPage, write);
  return w;
}

function mapIn(pt: ArmLpaeIoPgtable, iovaPage: number, page: number, pageLog2: number, count: number, prot: number): number {
  return pt.map(iovaPage, page, pageLog2, count, prot, new IotlbGather());
}

/** The descriptor of the leaf for `iovaPage`, as a BigInt. */
function leafOf(pt: ArmLpaeIoPgtable, iovaPage: number): bigint {
  const leaf = pt.lookup(iovaPage);
  if (leaf === null) throw new Error('not mapped');
  return (BigInt(leaf.hi >>> 0) << 32n) | BigInt(leaf.lo >>> 0);
}

describe('geometry and translation control (Linux io-pgtable-arm, Arm ARM D8.2)', () => {
  // [format, granule, ias, oas, start level, concatenated tables, root pages, page sizes, SL0]
  const cases: [ArmLpaePgtableConfig['format'], 12 | 14 | 16, number, number, number, number, number, number[], number | null][] = [
    ['ARM_64_LPAE_S1', 12, 48, 48, 0, 1, 1, [12, 21, 30], null],
    ['ARM_64_LPAE_S1', 12, 39, 44, 1, 1, 1, [12, 21, 30], null],
    ['ARM_64_LPAE_S1', 12, 32, 40, 1, 1, 1, [12, 21, 30], null], // 4 entries at level 1
    ['ARM_64_LPAE_S1', 14, 48, 48, 0, 1, 1, [14, 25], null], // 2 entries at level 0
    ['ARM_64_LPAE_S1', 16, 48, 48, 1, 1, 1, [16, 29], null],
    ['ARM_64_LPAE_S1', 16, 52, 52, 1, 1, 2, [16, 29], null], // 1024 entries: 8 KiB
    ['ARM_64_LPAE_S2', 12, 48, 48, 0, 1, 1, [12, 21, 30], 2],
    ['ARM_64_LPAE_S2', 12, 40, 48, 1, 2, 2, [12, 21, 30], 1], // avoids a level-0 start
    ['ARM_64_LPAE_S2', 12, 40, 40, 1, 2, 2, [12, 21, 30], 1], // Table D8-9: level 0 needs a 44-bit PA
    ['ARM_64_LPAE_S2', 12, 42, 42, 1, 8, 8, [12, 21, 30], 1],
    ['ARM_64_LPAE_S2', 14, 48, 48, 1, 2, 8, [14, 25], 2], // R DXBSH
    ['ARM_64_LPAE_S2', 14, 40, 40, 2, 16, 64, [14, 25], 1], // Table D8-9: level 1 needs 42 bits
    ['ARM_64_LPAE_S2', 14, 40, 48, 1, 1, 1, [14, 25], 2],
    ['ARM_64_LPAE_S2', 16, 48, 48, 1, 1, 1, [16, 29], 2],
    ['ARM_64_LPAE_S2', 16, 44, 40, 2, 4, 64, [16, 29], 1], // Table D8-9: level 1 needs 44 bits
  ];
  for (const [format, g, ias, oas, start, concat, rootPages, sizes, sl0] of cases) {
    it(`${format} granule 2^${g}, ${ias}-bit input, ${oas}-bit output: level ${start}, ${concat} table(s)`, () => {
      const { pt } = setup({ format, granuleLog2: g, ias, oas });
      expect([pt.startLevel, pt.concatenatedTables, pt.rootPages, pt.tablePages, pt.levels]).toEqual([start, concat, rootPages, rootPages, 4 - start]);
      expect(pt.pageSizes).toEqual(sizes);
      expect(pt.control.t0sz).toBe(64 - ias);
      expect(pt.control.tg0).toBe(g === 12 ? Tg0.Size4K : g === 14 ? Tg0.Size16K : Tg0.Size64K);
      expect(pt.control.sl0).toBe(sl0);
      expect(pt.control.mair).toBe(format === 'ARM_64_LPAE_S1' ? ARM_LPAE_MAIR : null);
      // The hardware side derives the same walk from these values.
      const cfg = walkConfig(pt);
      expect([cfg.startLevel, cfg.concatenated, cfg.inputBits, cfg.outputBits]).toEqual([start, concat, ias, oas]);
    });
  }

  it('keeps a level-0 start when only asked to concatenate where required (current Linux)', () => {
    const { pt } = setup({ format: 'ARM_64_LPAE_S2', ias: 40, oas: 48, concatenation: 'when-required' });
    expect([pt.startLevel, pt.concatenatedTables, pt.control.sl0]).toEqual([0, 1, 2]);
  });

  it('gives every stage-2 geometry it accepts in a form the hardware accepts, and refuses the rest', () => {
    for (const g of [12, 14, 16] as const) {
      for (const oas of [32, 36, 40, 42, 44, 48]) {
        for (let ias = 25; ias <= 48; ias++) {
          let pt: ArmLpaeIoPgtable;
          try {
            pt = setup({ format: 'ARM_64_LPAE_S2', granuleLog2: g, ias, oas }).pt;
          } catch (e) {
            expect((e as Error).message).toMatch(/cannot start at level/);
            continue;
          }
          const cfg = walkConfig(pt);
          expect([cfg.startLevel, cfg.concatenated], `2^${g} ias ${ias} oas ${oas}`).toEqual([pt.startLevel, pt.concatenatedTables]);
        }
      }
    }
  });

  it('walk attributes follow coherence; the MAIR is Linux’s (NC, WBRWA, Device-nGnRE, INC/OWBRWA)', () => {
    expect(ARM_LPAE_MAIR).toBe(0xf404ff44n);
    expect([MairIndex.NonCacheable, MairIndex.Cacheable, MairIndex.Device]).toEqual([0, 1, 2]);
    const coherent = setup().pt.control;
    const not = setup({ coherentWalk: false }).pt.control;
    expect([coherent.sh0, coherent.irgn0, coherent.orgn0]).toEqual([3, 1, 1]);
    expect([not.sh0, not.irgn0, not.orgn0]).toEqual([2, 0, 0]);
  });

  it('refuses what it cannot build', () => {
    expect(() => setup({ oas: 47 })).toThrow(/PS size/);
    expect(() => setup({ ias: 24 })).toThrow(/below 25/);
    expect(() => setup({ granuleLog2: 13 as 12 })).toThrow(/not a VMSAv8-64 granule/);
    expect(() => setup({ format: 'ARM_64_LPAE_S2', ias: 48, oas: 40 })).toThrow(/cannot start at level 0/);
    const { pt } = setup();
    expect(() => mapIn(pt, 0, 0, 16, 1, Prot.READ)).toThrow(/no leaf of 2\^16/);
    expect(() => mapIn(pt, 1, 0x200, 21, 1, Prot.READ)).toThrow(/not aligned/);
  });

  it('caps input and output sizes at what the format holds, as Linux does', () => {
    const { pt } = setup({ ias: 52, oas: 52 });
    expect([pt.ias, pt.oas]).toEqual([48, 48]);
  });
});

describe('leaf encodings (Linux arm_lpae_prot_to_pte; Arm ARM Tables D8-52, D8-53)', () => {
  it('stage 1: nG, AF, AP from READ/WRITE/PRIV, AttrIndx and SH from CACHE/MMIO, UXN+PXN from NOEXEC', () => {
    const { pt } = setup();
    mapIn(pt, 1, 0x90000, 12, 1, Prot.READ | Prot.WRITE);
    mapIn(pt, 2, 0x90001, 12, 1, Prot.READ);
    mapIn(pt, 3, 0x90002, 12, 1, Prot.READ | Prot.WRITE | Prot.PRIV | Prot.CACHE);
    mapIn(pt, 4, 0x90003, 12, 1, Prot.READ | Prot.WRITE | Prot.MMIO | Prot.NOEXEC);
    const d = (p: number) => decode(Stage1LeafLayout, leafOf(pt, p));
    expect(d(1)).toMatchObject({ Valid: 1n, Page: 1n, AP: BigInt(Ap.ReadWrite), AF: 1n, nG: 1n, AttrIndx: 0n, SH: 2n, UXN: 0n, PXN: 0n, DBM: 0n, NS: 0n });
    expect(d(2).AP).toBe(BigInt(Ap.ReadOnly));
    expect(d(3)).toMatchObject({ AP: BigInt(Ap.PrivReadWrite), AttrIndx: BigInt(MairIndex.Cacheable), SH: 3n });
    expect(d(4)).toMatchObject({ AttrIndx: BigInt(MairIndex.Device), UXN: 1n, PXN: 1n });
    expect(leafOf(pt, 1) >> 12n & ((1n << 36n) - 1n)).toBe(0x90000n);
  });

  it('stage 2: S2AP from READ/WRITE, MemAttr from CACHE/MMIO, XN[1] from NOEXEC', () => {
    const { pt, memory } = setup({ format: 'ARM_64_LPAE_S2', ias: 40, oas: 40 });
    mapIn(pt, 1, 0x90000, 12, 1, Prot.READ);
    mapIn(pt, 2, 0x90001, 12, 1, Prot.WRITE | Prot.CACHE);
    mapIn(pt, 3, 0x90002, 12, 1, Prot.READ | Prot.WRITE | Prot.MMIO | Prot.NOEXEC);
    const d = (p: number) => decode(Stage2LeafLayout, leafOf(pt, p));
    expect(d(1)).toMatchObject({ S2AP: BigInt(S2Ap.ReadOnly), MemAttr: BigInt(S2MemAttr.NormalNonCacheable), AF: 1n, SH: 2n, XN: 0n });
    expect(d(2)).toMatchObject({ S2AP: BigInt(S2Ap.WriteOnly), MemAttr: BigInt(S2MemAttr.NormalWriteBack), SH: 3n });
    expect(d(3)).toMatchObject({ S2AP: BigInt(S2Ap.ReadWrite), MemAttr: BigInt(S2MemAttr.DeviceNGnRE), XN: 2n });
    // The hardware reads the same permissions.
    const w = hwWalk(memory, pt, 3);
    expect([w.s2Read, w.s2Write, w.s2Exec, w.memAttr]).toEqual([true, true, false, S2MemAttr.DeviceNGnRE]);
  });

  it('marks tables and leaves Non-secure with the NS quirk', () => {
    const { pt, memory } = setup({ nonSecure: true, ias: 39 });
    mapIn(pt, 5, 0x90000, 12, 1, Prot.READ);
    const root = pt.rootAddress;
    const table = memory.read(root, 8);
    expect(decode(Stage1TableLayout, table)).toMatchObject({ Valid: 1n, Table: 1n, NSTable: 1n });
    expect(decode(Stage1LeafLayout, leafOf(pt, 5)).NS).toBe(1n);
    expect(hwWalk(memory, pt, 5).nonSecure).toBe(true);
  });

  it('maps nothing without READ or WRITE (Linux arm_lpae_map_pages)', () => {
    const { pt } = setup();
    expect(mapIn(pt, 1, 0x90000, 12, 1, Prot.NOEXEC)).toBe(0);
    expect(pt.lookup(1)).toBeNull();
  });
});

describe('map and unmap', () => {
  it('maps pages and blocks of every granule at the levels the walker finds them', () => {
    for (const [g, sizes] of [
      [12, [12, 21, 30]],
      [14, [14, 25]],
      [16, [16, 29]],
    ] as const) {
      const { pt, memory } = setup({ granuleLog2: g, ias: 44, oas: 44 });
      sizes.forEach((log2, i) => {
        const pages = 2 ** (log2 - 12);
        const iova = (i + 1) * 2 ** (44 - 12 - 3); // far apart, aligned
        const phys = 2 ** 30 + i * pages * 4; // aligned to the leaf
        expect(mapIn(pt, iova, phys, log2, 2, Prot.READ | Prot.WRITE)).toBe(2);
        const probe = iova + pages + Math.floor(pages / 2);
        expect(pt.lookup(probe)).toMatchObject({ page: phys + pages, pageLog2: log2 });
        expect(pt.iovaToPhys((BigInt(probe) << 12n) | 0x123n)).toBe((BigInt(phys + (probe - iova)) << 12n) | 0x123n);
        const w = hwWalk(memory, pt, probe);
        expect([w.fault, w.outputPage, w.leafLog2]).toEqual([VmsaFault.None, phys + (probe - iova), log2]);
      });
    }
  });

  it('refuses to map over a leaf, inside a block, or over a table in use', () => {
    const { pt } = setup({ ias: 39 });
    expect(mapIn(pt, 0x10, 0x90000, 12, 1, Prot.READ)).toBe(1);
    expect(mapIn(pt, 0x10, 0x90005, 12, 1, Prot.READ)).toBe(0);
    expect(mapIn(pt, 0x400, 0x90000, 21, 1, Prot.READ)).toBe(1);
    expect(mapIn(pt, 0x401, 0x90000, 12, 1, Prot.READ)).toBe(0); // inside the 2 MiB block
    expect(mapIn(pt, 0, 0x90000, 21, 1, Prot.READ)).toBe(0); // a table of pages is there
    expect(mapIn(pt, 0xe, 0x90008, 12, 4, Prot.READ)).toBe(2); // 0xe and 0xf; 0x10 is taken
  });

  it('stops at the input and output sizes', () => {
    const { pt } = setup({ ias: 32, oas: 32 });
    expect(mapIn(pt, 2 ** 20 - 2, 0x90000, 12, 4, Prot.READ)).toBe(2);
    expect(mapIn(pt, 0, 2 ** 20 - 1, 12, 2, Prot.READ)).toBe(1);
    expect(pt.iovaToPhys(1n << 32n)).toBeNull();
  });

  it('unmaps leaves, keeping emptied tables; refuses a partial unmap of a block', () => {
    const { pt, freed } = setup({ ias: 39 });
    mapIn(pt, 0x1000, 0x90000, 12, 3, Prot.READ);
    mapIn(pt, 0x200, 0x90200, 21, 1, Prot.READ);
    expect(pt.tablePages).toBe(3);
    const g = new IotlbGather();
    expect(pt.unmap(0x1000, 12, 2, g)).toBe(8192);
    expect([g.start, g.end, g.pageLog2, g.freelist]).toEqual([0x1000, 0x1002, 12, []]);
    expect(pt.unmap(0x201, 12, 1, g)).toBe(0);
    expect(pt.unmap(0x200, 12, 1, g)).toBe(0);
    expect(pt.unmap(0x200, 21, 1, g)).toBe(2 << 20);
    expect(pt.unmap(0x200, 21, 1, g)).toBe(0); // a hole now
    expect(pt.tablePages).toBe(3);
    expect(freed).toEqual([]);
  });

  it('frees a whole 64 KiB table through the gather when an unmap covers it, page by page', () => {
    const { pt, pages, before } = setup({ granuleLog2: 16, ias: 42, oas: 42 });
    mapIn(pt, 0x2000, 0x100000, 16, 3, Prot.READ); // three 64 KiB pages in one level-3 table
    expect([pt.startLevel, pt.tablePages]).toEqual([2, 16 + 16]); // a full 64 KiB table at level 2, one at level 3
    const g = new IotlbGather();
    expect(pt.unmap(0, 29, 1, g)).toBe(512 << 20); // the 512 MiB range holding them
    expect(g.freelist.length).toBe(16);
    expect([g.start, g.end, g.pageLog2]).toEqual([0, 0x20000, 29]);
    for (const p of g.freelist) pages.freePages(p);
    expect(pages.stats.allocatedPages).toBe(before + pt.tablePages);
    expect(pt.lookup(0x2000)).toBeNull();
  });

  it('replaces an emptied table with a block, handing the table to the gather', () => {
    const { pt, memory } = setup({ granuleLog2: 14, ias: 36, oas: 40 });
    mapIn(pt, 0x8000, 0x100000, 14, 2, Prot.READ);
    pt.unmap(0x8000, 14, 2, new IotlbGather());
    const g = new IotlbGather();
    expect(pt.map(0x8000, 0x100000, 25, 1, Prot.READ, g)).toBe(1);
    expect(g.freelist.length).toBe(4); // one 16 KiB table
    expect(pt.lookup(0x8123)).toMatchObject({ page: 0x100000, pageLog2: 25 });
    expect(hwWalk(memory, pt, 0x8123).outputPage).toBe(0x100123);
  });

  it('frees every table, the start-level table included', () => {
    const { pt, pages, freed, before } = setup({ format: 'ARM_64_LPAE_S2', granuleLog2: 12, ias: 42, oas: 42 });
    mapIn(pt, 0, 0x90000, 12, 1, Prot.READ);
    mapIn(pt, 2 ** 29, 0x90000, 12, 1, Prot.READ);
    const n = pt.tablePages;
    expect(n).toBe(8 + 2 + 2);
    pt.free();
    expect(freed.reduce((s, [, c]) => s + c, 0)).toBe(n);
    expect(freed).toContainEqual([pt.root, 8]);
    expect(pages.stats.allocatedPages).toBe(before);
  });
});

describe('byte order and 52-bit addresses', () => {
  it('stores big-endian descriptors the hardware walks with ENDI set', () => {
    const { pt, memory } = setup({ ias: 39 }, 'big');
    mapIn(pt, 0x21, 0x90000, 12, 1, Prot.READ | Prot.WRITE);
    expect(pt.iovaToPhys(0x21_004n)).toBe(0x9000_0004n);
    expect(hwWalk(memory, pt, 0x21, { bigEndian: true }).outputPage).toBe(0x90000);
    expect(hwWalk(memory, pt, 0x21, { bigEndian: false }).fault).toBe(VmsaFault.Translation);
    const bytes = memory.readBytes(pt.rootAddress, 8);
    expect(bytes[7] & 3).toBe(3); // the byte holding bits [7:0] comes last
  });

  it('puts address bits [51:48] in bits [15:12] with the 64 KiB granule and a 52-bit output', () => {
    const { pt, memory } = setup({ granuleLog2: 16, ias: 52, oas: 52 });
    const phys = 0xa_bcde_f012_0000n >> 12n;
    const iova = 0xf_1234_5678_0000n >> 12n;
    expect(mapIn(pt, Number(iova), Number(phys), 16, 1, Prot.READ)).toBe(1);
    expect((leafOf(pt, Number(iova)) >> 12n) & 0xfn).toBe(0xan);
    expect(pt.iovaToPhys((iova << 12n) + 0xabcn)).toBe((phys << 12n) + 0xabcn);
    const w = hwWalk(memory, pt, Number(iova) + 3);
    expect([w.fault, BigInt(w.outputPage)]).toEqual([VmsaFault.None, phys + 3n]);
  });
});

describe('hardware-managed access flag and dirty state (D8.5)', () => {
  it('leaves AF clear when asked; the walker sets it with HA and faults without', () => {
    const { pt, memory } = setup({ accessFlag: false, ias: 39 });
    mapIn(pt, 7, 0x90000, 12, 1, Prot.READ);
    expect(decode(Stage1LeafLayout, leafOf(pt, 7)).AF).toBe(0n);
    expect(hwWalk(memory, pt, 7).fault).toBe(VmsaFault.AccessFlag);
    expect(hwWalk(memory, pt, 7, { hardwareAccessFlag: true }).accessFlagUpdated).toBe(true);
    expect(decode(Stage1LeafLayout, leafOf(pt, 7)).AF).toBe(1n);
  });

  for (const format of ['ARM_64_LPAE_S1', 'ARM_64_LPAE_S2'] as const) {
    it(`${format}: reads and clears dirty leaves the walker dirtied`, () => {
      const { pt, memory } = setup({ format, hardwareDirty: true, ias: 40, oas: 40 });
      mapIn(pt, 0x10, 0x90000, 12, 4, Prot.READ | Prot.WRITE);
      mapIn(pt, 0x200, 0x90200, 21, 1, Prot.READ | Prot.WRITE);
      mapIn(pt, 0x20, 0x90020, 12, 1, Prot.READ); // read-only: no DBM
      // Born writable-dirty, as Linux writes them.
      expect(pt.readAndClearDirty(0, 0x400)).toEqual([
        { iovaPage: 0x10, pageLog2: 12 },
        { iovaPage: 0x11, pageLog2: 12 },
        { iovaPage: 0x12, pageLog2: 12 },
        { iovaPage: 0x13, pageLog2: 12 },
        { iovaPage: 0x200, pageLog2: 21 },
      ]);
      expect(pt.readAndClearDirty(0, 0x400)).toEqual([]);
      const hd = { hardwareAccessFlag: true, hardwareDirty: true };
      expect(hwWalk(memory, pt, 0x12, hd).writableClean).toBe(true);
      expect(hwWalk(memory, pt, 0x12, hd, true).dirtyStateUpdated).toBe(true);
      expect(hwWalk(memory, pt, 0x2ff, hd, true).dirtyStateUpdated).toBe(true);
      expect(hwWalk(memory, pt, 0x20, hd, true).dirtyStateUpdated).toBe(false);
      expect(pt.readAndClearDirty(0x11, 0x200, false)).toEqual([{ iovaPage: 0x12, pageLog2: 12 }, { iovaPage: 0x200, pageLog2: 21 }]);
      expect(pt.readAndClearDirty(0x13, 1)).toEqual([]);
      expect(pt.readAndClearDirty(0x12, 1)).toEqual([{ iovaPage: 0x12, pageLog2: 12 }]);
      expect(pt.readAndClearDirty(0, 0x400)).toEqual([{ iovaPage: 0x200, pageLog2: 21 }]);
    });
  }
});
