// The software RISC-V page-table builder on its own (Privileged Architecture "Sv39/Sv48/Sv57":
// PTE layout, leaf levels, non-leaf pointers with A/D/U clear): map with 4 KiB, 2 MiB and 1 GiB
// leaves, refusals (overlap, partial superpage unmap), unmap that keeps emptied tables (as
// Linux does) and frees whole tables only when a superpage replaces them or an unmap covers
// them, and a property test against a reference map.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { IotlbGather, Prot } from '../../../src/os/core/types.js';
import { PageAllocator } from '../../../src/os/kernel/page-allocator.js';
import { RiscvIoPgtable, type RiscvPgtableModeName } from '../../../src/os/io-pgtable/riscv.js';
import { PhysicalMemory, type Endianness } from '../../../src/sim/physical-memory.js';

const RAM = 0x8000_0000n;

function setup(mode: RiscvPgtableModeName = 'Sv48', o: { hardwareAd?: boolean; endianness?: Endianness; svpbmt?: boolean } = {}) {
  const memory = new PhysicalMemory({ endianness: o.endianness ?? 'little' });
  const pages = new PageAllocator(memory);
  pages.addRange(RAM, 64n << 20n);
  const freed: number[] = [];
  const pt = new RiscvIoPgtable({
    mode,
    memory,
    allocTable: () => pages.allocPages(1),
    freeTable: (p) => {
      freed.push(p);
      pages.freePages(p);
    },
    hardwareAd: o.hardwareAd ?? true,
    svpbmt: o.svpbmt,
  });
  return { memory, pages, pt, freed };
}

/** The address of the PTE for `iovaPage` at `level`, by walking the table by hand (test-side walk). */
function pteAddress(memory: PhysicalMemory, pt: RiscvIoPgtable, iovaPage: number, level: number): bigint {
  let table = BigInt(pt.root) << 12n;
  for (let l = pt.mode.levels - 1; ; l--) {
    const at = table + BigInt(Math.floor(iovaPage / 2 ** (9 * l)) % 512) * 8n;
    if (l === level) return at;
    const pte = memory.read(at, 8);
    if ((pte & 1n) === 0n) throw new Error(`no table at level ${l}`);
    table = ((pte >> 10n) & ((1n << 44n) - 1n)) << 12n;
  }
}

function pteAt(memory: PhysicalMemory, pt: RiscvIoPgtable, iovaPage: number, level: number): bigint {
  return memory.read(pteAddress(memory, pt, iovaPage, level), 8);
}

const PAGE = 0x9000_0n; // page number of physical 0x9000_0000

/** Maps with a gather of its own; returns the leaves mapped. */
function mapIn(pt: RiscvIoPgtable, iovaPage: number, page: number, pageLog2: number, count: number, prot: number): number {
  return pt.map(iovaPage, page, pageLog2, count, prot, new IotlbGather());
}

describe('RISC-V io-pgtable: map', () => {
  it('maps a 4 KiB page: PTE fields V R W A U, D only without hardware A/D updating', () => {
    for (const hardwareAd of [true, false]) {
      const { memory, pt } = setup('Sv39', { hardwareAd });
      expect(mapIn(pt, 0x12345, Number(PAGE), 12, 1, Prot.READ | Prot.WRITE | Prot.NOEXEC)).toBe(1);
      const pte = pteAt(memory, pt, 0x12345, 0);
      // V R W U A set, X clear (NOEXEC), D as required, PPN in bits 53:10.
      expect(pte & 0xffn).toBe(0x1n | 0x2n | 0x4n | 0x10n | 0x40n | (hardwareAd ? 0n : 0x80n));
      expect(pte >> 10n).toBe(PAGE);
      expect(pt.iovaToPhys(0x12345_678n)).toBe(0x9000_0678n);
      // The non-leaf PTEs above it are pointers: only V, with A, D and U clear.
      expect(pteAt(memory, pt, 0x12345, 1) & 0x3ffn).toBe(1n);
      expect(pteAt(memory, pt, 0x12345, 2) & 0x3ffn).toBe(1n);
    }
  });

  it('makes pages readable, never executable, writable ones never W without R; PRIV clears U', () => {
    const { memory, pt } = setup();
    mapIn(pt, 1, Number(PAGE), 12, 1, Prot.READ);
    mapIn(pt, 2, Number(PAGE) + 1, 12, 1, Prot.WRITE);
    mapIn(pt, 3, Number(PAGE) + 2, 12, 1, Prot.READ | Prot.PRIV);
    expect(pteAt(memory, pt, 1, 0) & 0xfn).toBe(0x3n); // V R
    expect(pteAt(memory, pt, 2, 0) & 0xfn).toBe(0x7n); // V R W
    expect(pteAt(memory, pt, 3, 0) & 0x10n).toBe(0n); // U clear
  });

  it('puts PBMT=IO on MMIO mappings when Svpbmt is available', () => {
    const { memory, pt } = setup('Sv39', { svpbmt: true });
    mapIn(pt, 7, 0x1000_0, 12, 1, Prot.READ | Prot.WRITE | Prot.MMIO);
    expect((pteAt(memory, pt, 7, 0) >> 61n) & 3n).toBe(2n);
  });

  it('maps 2 MiB and 1 GiB leaves at levels 1 and 2', () => {
    const { memory, pt } = setup('Sv48');
    expect(mapIn(pt, 0x200, 0x9_0200, 21, 2, Prot.READ)).toBe(2);
    expect(mapIn(pt, 0x40000, 0x80000, 30, 1, Prot.READ | Prot.WRITE)).toBe(1);
    expect(pt.lookup(0x3ff)).toMatchObject({ page: 0x9_0200, level: 1 });
    expect(pt.iovaToPhys(0x5f_f123n)).toBe(0x905f_f123n); // second leaf, 0x1f_f123 into it
    expect(pt.iovaToPhys(0x4000_0000n + 0x1234_5678n)).toBe(0x8000_0000n + 0x1234_5678n);
    expect((pteAt(memory, pt, 0x40000, 2) & 0xen) !== 0n).toBe(true); // a leaf at level 2
    expect(pt.tablePages).toBe(3); // root, one level-2 table, one level-1 table
  });

  it('refuses to map over an existing leaf, inside a superpage, or over a table', () => {
    const { pt } = setup('Sv39');
    expect(mapIn(pt, 0x10, Number(PAGE), 12, 1, Prot.READ)).toBe(1);
    expect(mapIn(pt, 0x10, Number(PAGE) + 5, 12, 1, Prot.READ)).toBe(0);
    expect(mapIn(pt, 0x400, Number(PAGE), 21, 1, Prot.READ)).toBe(1);
    expect(mapIn(pt, 0x401, Number(PAGE), 12, 1, Prot.READ)).toBe(0); // inside the 2 MiB leaf
    expect(mapIn(pt, 0, Number(PAGE), 21, 1, Prot.READ)).toBe(0); // a table of 4 KiB pages is there
    expect(mapIn(pt, 0xe, Number(PAGE) + 8, 12, 4, Prot.READ)).toBe(2); // 0xe and 0xf; 0x10 is taken
  });

  it('uses the levels of each mode: Sv39 3, Sv48 4, Sv57 5', () => {
    for (const [mode, levels, bits] of [
      ['Sv39', 3, 39],
      ['Sv48', 4, 48],
      ['Sv57', 5, 57],
    ] as const) {
      const { pt } = setup(mode);
      expect(pt.mode.levels).toBe(levels);
      expect(pt.vaBits).toBe(bits);
      const top = 2 ** (bits - 1 - 12) - 1; // last page of the lower half
      expect(mapIn(pt, top, 0x9_0000, 12, 1, Prot.READ)).toBe(1);
      expect(pt.iovaToPhys(BigInt(top) << 12n)).toBe(0x9000_0000n);
      expect(pt.tablePages).toBe(levels);
      expect(pt.iovaToPhys(1n << BigInt(bits))).toBeNull();
    }
  });

  it('stores PTEs in the CPU byte order of big-endian memory', () => {
    const { memory, pt } = setup('Sv39', { endianness: 'big' });
    mapIn(pt, 0x21, Number(PAGE), 12, 1, Prot.READ);
    expect(pt.iovaToPhys(0x21_004n)).toBe(0x9000_0004n);
    const at = pteAddress(memory, pt, 0x21, 0);
    expect(memory.read(at, 8) >> 10n).toBe(PAGE); // memory.read honours the big-endian order
    // The most significant byte comes first in memory; the V/R/A/U byte comes last.
    const bytes = memory.readBytes(at, 8);
    expect(bytes[7]).toBe(0x53); // V R U A
    expect(bytes[0]).toBe(0);
  });
});

describe('RISC-V io-pgtable: unmap', () => {
  it('unmaps leaves and records the range, keeping emptied tables', () => {
    const { pt, freed } = setup('Sv48');
    mapIn(pt, 0x1000, Number(PAGE), 12, 3, Prot.READ);
    expect(pt.tablePages).toBe(4);
    const g = new IotlbGather();
    expect(pt.unmap(0x1000, 12, 2, g)).toBe(8192);
    expect([g.start, g.end, g.pageLog2]).toEqual([0x1000, 0x1002, 12]);
    expect(pt.unmap(0x1002, 12, 1, g)).toBe(4096);
    // Only leaves were cleared, so invalidating the three pages is enough (RISC-V IOMMU 4.1.1).
    expect([g.start, g.end]).toEqual([0x1000, 0x1003]);
    expect(g.freelist).toEqual([]);
    expect(pt.tablePages).toBe(4);
    expect(freed).toEqual([]);
    expect(pt.iovaToPhys(0x1002_000n)).toBeNull();
  });

  it('replaces an emptied table by a superpage, handing the table to the gather', () => {
    const { pt } = setup('Sv39');
    mapIn(pt, 0x600, Number(PAGE), 12, 2, Prot.READ);
    pt.unmap(0x600, 12, 2, new IotlbGather());
    const g = new IotlbGather();
    expect(pt.map(0x600, Number(PAGE), 21, 1, Prot.READ, g)).toBe(1);
    expect(g.freelist.length).toBe(1); // the level-0 table the leaf replaced
    expect([g.start, g.end, g.pageLog2]).toEqual([0x600, 0x800, 21]);
    expect(pt.lookup(0x601)).toMatchObject({ page: Number(PAGE), level: 1 });
    expect(pt.tablePages).toBe(2);
  });

  it('stops at a hole and refuses a partial unmap of a superpage', () => {
    const { pt } = setup('Sv39');
    mapIn(pt, 0x200, Number(PAGE), 21, 1, Prot.READ);
    const g = new IotlbGather();
    expect(pt.unmap(0x201, 12, 1, g)).toBe(0);
    expect(pt.unmap(0x200, 12, 1, g)).toBe(0);
    expect(g.empty).toBe(true);
    expect(pt.unmap(0x200, 21, 1, g)).toBe(2 << 20);
    expect(pt.unmap(0x400, 21, 1, g)).toBe(0);
  });

  it('unmaps a whole table of small pages when asked for the larger size', () => {
    const { pt } = setup('Sv39');
    mapIn(pt, 0x600, Number(PAGE), 12, 5, Prot.READ);
    mapIn(pt, 0x7ff, Number(PAGE) + 9, 12, 1, Prot.READ);
    const g = new IotlbGather();
    expect(pt.unmap(0x600, 21, 1, g)).toBe(2 << 20);
    expect(g.freelist.length).toBe(1); // the level-0 table; the level-1 table stays
    expect(pt.lookup(0x7ff)).toBeNull();
  });

  it('destroy frees every table page, the root included', () => {
    const { pt, pages, freed } = setup('Sv57');
    const before = pages.stats.allocatedPages;
    mapIn(pt, 0, Number(PAGE), 12, 1, Prot.READ);
    mapIn(pt, 0x1_0000_0000, Number(PAGE), 12, 1, Prot.READ);
    const n = pt.tablePages;
    pt.destroy();
    expect(freed.length).toBe(n);
    expect(pages.stats.allocatedPages).toBe(before - 1); // the root was allocated before `before`
  });
});

describe('RISC-V io-pgtable: property', () => {
  it('random map/unmap sequences agree with a reference map', () => {
    const op = fc.record({
      kind: fc.constantFrom('map' as const, 'unmap' as const),
      slot: fc.integer({ min: 0, max: 31 }),
      size: fc.constantFrom(12, 21),
      count: fc.integer({ min: 1, max: 3 }),
      target: fc.integer({ min: 0, max: 15 }),
    });
    fc.assert(
      fc.property(fc.constantFrom<RiscvPgtableModeName>('Sv39', 'Sv48', 'Sv57'), fc.array(op, { maxLength: 40 }), (mode, ops) => {
        const { pt, pages } = setup(mode);
        // The reference: iova page -> physical page, and whether it belongs to a 2 MiB leaf.
        const ref = new Map<number, { phys: number; big: boolean }>();
        const anyIn = (start: number, n: number): boolean => {
          for (let p = start; p < start + n; p++) if (ref.has(p)) return true;
          return false;
        };
        const allocatedAtStart = pages.stats.allocatedPages;
        for (const o of ops) {
          // Slots are 2 MiB apart; 4 KiB operations touch a slot's first pages.
          const base = o.slot * 512;
          const per = o.size === 12 ? 1 : 512;
          if (o.kind === 'map') {
            const phys = 0x9_0000 + o.target * 512;
            let expected = 0;
            for (let i = 0; i < o.count; i++) {
              const start = base + i * per;
              if (anyIn(start, per)) break; // taken: a leaf, a table, or a covering superpage
              for (let p = 0; p < per; p++) ref.set(start + p, { phys: phys + i * per + p, big: per > 1 });
              expected++;
            }
            const g = new IotlbGather();
            expect(pt.map(base, phys, o.size, o.count, Prot.READ | Prot.WRITE, g)).toBe(expected);
            for (const t of g.freelist) pages.freePages(t);
          } else {
            let expected = 0;
            for (let i = 0; i < o.count; i++) {
              const start = base + i * per;
              if (per === 1 && (ref.get(start) === undefined || ref.get(start)?.big === true)) break; // hole, or inside a superpage
              if (per > 1 && !anyIn(start, per)) break; // hole
              for (let p = 0; p < per; p++) ref.delete(start + p);
              expected += per * 4096;
            }
            const g = new IotlbGather();
            expect(pt.unmap(base, o.size, o.count, g)).toBe(expected);
            for (const t of g.freelist) pages.freePages(t);
          }
        }
        for (let slot = 0; slot < 34; slot++) {
          for (const off of [0, 1, 2, 3, 511]) {
            const p = slot * 512 + off;
            const want = ref.get(p);
            expect(pt.iovaToPhys((BigInt(p) << 12n) | 0x5an)).toBe(want === undefined ? null : (BigInt(want.phys) << 12n) | 0x5an);
          }
        }
        // Every table page comes back: through gathers, then with the table.
        expect(pages.stats.allocatedPages).toBe(allocatedAtStart + pt.tablePages - 1);
        pt.destroy();
        expect(pages.stats.allocatedPages).toBe(allocatedAtStart - 1);
      }),
      { numRuns: 200 },
    );
  });
});
