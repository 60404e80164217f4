// Property: for both stages and all three granules (Arm ARM D8.2.8-D8.2.10), any sequence of
// page and block maps and unmaps leaves the software builder's tables agreeing with a reference
// map, through its own iovaToPhys and through the hardware walker (src/hw/arm-lpae) reading the
// same memory with the configuration derived from the builder's translation-control values;
// and every table page comes back through the gathers or the final free.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { levelShift } from '../../../src/formats/arm-lpae/index.js';
import { PhysicalDescriptorMemory, stage1WalkConfig, stage2WalkConfig, VmsaFault, VmsaWalker } from '../../../src/hw/arm-lpae/index.js';
import { IotlbGather, Prot } from '../../../src/os/core/types.js';
import { ArmLpaeIoPgtable, type ArmLpaeFormat } from '../../../src/os/io-pgtable/arm-lpae.js';
import { PageAllocator } from '../../../src/os/kernel/page-allocator.js';
import { PhysicalMemory } from '../../../src/sim/physical-memory.js';

interface RefLeaf {
  iova: number; // first 4 KiB page
  pages: number;
  phys: number;
  block: boolean;
}

/** The reference: leaves as page ranges. */
class Reference {
  readonly leaves: RefLeaf[] = [];

  overlaps(start: number, pages: number): boolean {
    return this.leaves.some((l) => l.iova < start + pages && start < l.iova + l.pages);
  }

  at(page: number): RefLeaf | undefined {
    return this.leaves.find((l) => l.iova <= page && page < l.iova + l.pages);
  }

  remove(start: number, pages: number): void {
    for (let i = this.leaves.length - 1; i >= 0; i--) {
      const l = this.leaves[i];
      if (l.iova < start + pages && start < l.iova + l.pages) this.leaves.splice(i, 1);
    }
  }
}

/** Slots, a level-2 block each: half from a quarter of the input space up, half at its top (every index bit set). */
const SLOTS = 18;

const op = fc.record({
  kind: fc.constantFrom('map' as const, 'unmap' as const),
  slot: fc.integer({ min: 0, max: SLOTS - 1 }),
  block: fc.boolean(),
  count: fc.integer({ min: 1, max: 3 }),
  target: fc.integer({ min: 0, max: 7 }),
});

type Op = typeof op extends fc.Arbitrary<infer T> ? T : never;

function run(format: ArmLpaeFormat, g: 12 | 14 | 16, ias: number, oas: number, bigEndian: boolean, ops: Op[]): void {
  const memory = new PhysicalMemory({ endianness: bigEndian ? 'big' : 'little' });
  const pages = new PageAllocator(memory);
  pages.addRange(0x8000_0000n, 512n << 20n);
  const before = pages.stats.allocatedPages;
  const pt = new ArmLpaeIoPgtable({
    format,
    granuleLog2: g,
    ias,
    oas,
    memory,
    allocTable: (n) => pages.allocPages(n, n),
    freeTable: (p, n) => pages.freePages(p, n),
  });
  const pagePages = 2 ** (g - 12);
  const blockLog2 = levelShift(g, 2);
  const blockPages = 2 ** (blockLog2 - 12);
  const slotPage = (slot: number) => (slot < SLOTS / 2 ? 2 ** (ias - 14) + slot * blockPages : 2 ** (ias - 12) - (SLOTS - slot) * blockPages);
  // Output pages above 2^48 when the output size allows it (FEAT_LPA descriptors).
  const physBase = oas > 48 ? 2 ** (49 - 12) : 2 ** (32 - 12);
  const ref = new Reference();
  const limit = 2 ** (ias - 12);

  for (const o of ops) {
    const base = slotPage(o.slot);
    const per = o.block ? blockPages : pagePages;
    const log2 = o.block ? blockLog2 : g;
    const gather = new IotlbGather();
    if (o.kind === 'map') {
      const phys = physBase + o.target * blockPages;
      let expected = 0;
      for (let i = 0; i < o.count; i++) {
        const start = base + i * per;
        if (start + per > limit || ref.overlaps(start, per)) break; // beyond the input size; a leaf, a table in use, or a covering block
        ref.leaves.push({ iova: start, pages: per, phys: phys + i * per, block: o.block });
        expected++;
      }
      expect(pt.map(base, phys, log2, o.count, Prot.READ | Prot.WRITE, gather)).toBe(expected);
    } else {
      let expected = 0;
      for (let i = 0; i < o.count; i++) {
        const start = base + i * per;
        const l = ref.at(start);
        if (start + per > limit) break;
        if (o.block ? !ref.overlaps(start, per) : l === undefined || l.block || l.iova !== start) break; // a hole, or inside a block
        ref.remove(start, per);
        expected += per * 4096;
      }
      expect(pt.unmap(base, log2, o.count, gather)).toBe(expected);
    }
    for (const p of gather.freelist) pages.freePages(p);
  }

  const c = pt.control;
  const common = { bigEndian, hardwareAccessFlag: false, hardwareDirty: false };
  const cfg =
    pt.stage === 1
      ? stage1WalkConfig({ ...common, txsz: c.t0sz, tg: c.tg0, tgField: 0, ips: c.ps, hierarchicalPermissionsDisabled: false }, { paBits: oas, largeVa: true })
      : stage2WalkConfig({ ...common, t0sz: c.t0sz, sl0: c.sl0 as number, tg: c.tg0, ps: c.ps }, { paBits: oas, maxIpaBits: ias });
  if (typeof cfg === 'string') throw new Error(cfg);
  const walker = new VmsaWalker();
  const dm = new PhysicalDescriptorMemory(memory);
  const rootHi = Math.floor(pt.root / 2 ** 20);
  const rootLo = (pt.root % 2 ** 20) * 4096;
  for (let slot = 0; slot < SLOTS; slot++) {
    const base = slotPage(slot);
    for (const off of [0, 1, pagePages, 2 * pagePages + 1, 3 * pagePages - 1, blockPages / 2, blockPages - 1]) {
      const page = base + off;
      const want = ref.at(page);
      const phys = want === undefined ? null : want.phys + (page - want.iova);
      expect(pt.iovaToPhys((BigInt(page) << 12n) | 0x5an)).toBe(phys === null ? null : (BigInt(phys) << 12n) | 0x5an);
      const fault = walker.walk(cfg, dm, rootHi, rootLo, page, false);
      if (phys === null) {
        expect(fault).toBe(VmsaFault.Translation);
      } else {
        expect(fault).toBe(VmsaFault.None);
        expect(walker.outputPage).toBe(phys);
        expect(walker.leafLog2).toBe(want?.block === true ? blockLog2 : g);
        expect(walker.permits(false, true, true, false)).toBe(true);
      }
    }
  }
  // Every table page comes back: through gathers, then with the table.
  expect(pages.stats.allocatedPages).toBe(before + pt.tablePages);
  pt.free();
  expect(pages.stats.allocatedPages).toBe(before);
}

describe('ARM LPAE io-pgtable: property against a reference map and the hardware walker', () => {
  const geometries: [ArmLpaeFormat, 12 | 14 | 16, number, number][] = [
    ['ARM_64_LPAE_S1', 12, 48, 48],
    ['ARM_64_LPAE_S1', 12, 39, 40],
    ['ARM_64_LPAE_S1', 14, 48, 48],
    ['ARM_64_LPAE_S1', 14, 40, 44],
    ['ARM_64_LPAE_S1', 16, 48, 48],
    ['ARM_64_LPAE_S1', 16, 52, 52],
    ['ARM_64_LPAE_S2', 12, 48, 48],
    ['ARM_64_LPAE_S2', 12, 40, 40],
    ['ARM_64_LPAE_S2', 14, 48, 48],
    ['ARM_64_LPAE_S2', 14, 40, 40],
    ['ARM_64_LPAE_S2', 16, 44, 40],
    ['ARM_64_LPAE_S2', 16, 52, 52],
  ];
  for (const [format, g, ias, oas] of geometries) {
    it(`${format}, granule 2^${g}, ${ias}-bit input, ${oas}-bit output`, () => {
      fc.assert(
        fc.property(fc.boolean(), fc.array(op, { maxLength: 30 }), (bigEndian, ops) => run(format, g, ias, oas, bigEndian, ops)),
        { numRuns: 60 },
      );
    });
  }
});
