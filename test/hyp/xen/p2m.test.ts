// The P2M (Xen xen/arch/arm/p2m.c) as a stage-2 table shared as is with the IPMMU
// (iommu_use_hap_pt): superpage leaves where alignment allows, superpages split to change part
// of them, types read back from the leaves, and every change followed by the IOMMU TLB flush, so
// that a device translating through warm TLBs sees each change at once (the property test
// compares the guest CPU's view, the IPMMU's translation and a reference map).

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Status } from '../../../src/devices/dma-engine/index.js';
import { Imstr } from '../../../src/formats/ipmmu-vmsa/index.js';
import { GUEST_RAM0_BASE, P2mType, XenError, type P2mTypeValue } from '../../../src/hyp/xen/index.js';
import { nodePath, XenMachine } from '../../support/xen-machine.js';

const GFN0 = Number(GUEST_RAM0_BASE >> 12n);

function guest(memoryMiB = 4) {
  const m = new XenMachine();
  const g = m.xen.createDomain({ name: 'g', memoryMiB, devices: [nodePath('dmac1')] });
  return { m, g };
}

describe('P2M leaves and types', () => {
  it('maps guest RAM with 2 MiB superpages when the heap gives aligned runs', () => {
    const { g } = guest(4);
    expect(g.p2m.lookup(GFN0)).toMatchObject({ type: P2mType.RamRw, pageLog2: 21 });
    expect(g.p2m.lookup(GFN0 + 1023)).toMatchObject({ type: P2mType.RamRw, pageLog2: 21 });
    expect(g.p2m.lookup(GFN0 + 1024)).toBeNull();
    expect(g.p2m.lookup(0xe7300)).toMatchObject({ mfn: 0xe7300, type: P2mType.MmioDirect, pageLog2: 12 });
  });

  it('splits a superpage to make one page read-only, keeping every frame where it was', () => {
    const { g } = guest(2);
    const mfn = g.p2m.lookup(GFN0)!.mfn;
    g.p2m.setType(GFN0 + 5, 1, P2mType.RamRo);
    expect(g.p2m.counters.splits).toBe(1);
    expect(g.p2m.lookup(GFN0 + 5)).toEqual({ mfn: mfn + 5, type: P2mType.RamRo, pageLog2: 12 });
    expect(g.p2m.lookup(GFN0 + 4)).toEqual({ mfn: mfn + 4, type: P2mType.RamRw, pageLog2: 12 });
    expect(g.p2m.lookup(GFN0 + 511)).toEqual({ mfn: mfn + 511, type: P2mType.RamRw, pageLog2: 12 });
    expect(() => g.memory.write32(GUEST_RAM0_BASE + 5n * 4096n, 1)).toThrow(/write abort.*does not permit/);
    expect(g.memory.read32(GUEST_RAM0_BASE + 5n * 4096n)).toBe(0);
  });

  it('unmaps part of a superpage, leaving a hole and the rest mapped', () => {
    const { g } = guest(2);
    g.p2m.unmap(GFN0 + 256, 2);
    expect(g.p2m.lookup(GFN0 + 256)).toBeNull();
    expect(g.p2m.lookup(GFN0 + 257)).toBeNull();
    expect(g.p2m.lookup(GFN0 + 258)).not.toBeNull();
    expect(() => g.memory.read32(GUEST_RAM0_BASE + 256n * 4096n)).toThrow(/nothing is mapped/);
  });

  it('refuses to map over a mapping and beyond the IPA space', () => {
    const { g } = guest(2);
    expect(() => g.p2m.map(GFN0 + 3, 0x50000, 1, P2mType.RamRw)).toThrow(XenError);
    expect(() => g.p2m.map(2 ** 28, 0x50000, 1, P2mType.RamRw)).toThrow(/40-bit IPA/);
  });

  it('flushes the IOMMU after every change of a domain that holds a context', () => {
    const { m, g } = guest(2);
    const flushes = g.counters.iommuFlushes;
    const cacheFlushes = () => m.ipmmu('ipmmu_ds1').statistics().contexts.reduce((n, c) => n + c.flushes, 0);
    const before = cacheFlushes();
    g.p2m.setType(GFN0, 1, P2mType.RamRo);
    g.p2m.unmap(GFN0 + 1, 1);
    g.p2m.map(GFN0 + 1, 0x50000, 1, P2mType.RamRw);
    expect(g.counters.iommuFlushes).toBe(flushes + 3);
    expect(cacheFlushes()).toBe(before + 3);
  });

  it('returns every table page to the heap when the domain is destroyed', () => {
    const m = new XenMachine();
    const free = m.xen.heap.stats.freePages;
    const g = m.xen.createDomain({ name: 'g', memoryMiB: 3 });
    g.p2m.setType(GFN0 + 7, 1, P2mType.RamRo);
    g.p2m.unmap(GFN0 + 600, 3);
    m.xen.destroyDomain(g);
    expect(m.xen.heap.stats.freePages).toBe(free);
  });
});

describe("P2M changes reach the guest's device at once (shared table, flushed TLBs)", () => {
  it('a write after the page turned read-only faults; a read after the unmap faults; a remap goes to the new frame', () => {
    const { m, g } = guest(2);
    expect(m.fill(g, 'dmac1', GUEST_RAM0_BASE, 8, 1n)).toBe(Status.DONE); // warms the TLBs
    g.p2m.setType(GFN0, 1, P2mType.RamRo);
    expect(m.fill(g, 'dmac1', GUEST_RAM0_BASE, 8, 2n) & Status.ERROR).not.toBe(0);
    m.poll();
    expect(m.xen.faults.at(-1)?.kinds).toEqual(['permission fault']);
    g.p2m.unmap(GFN0, 1);
    expect(m.copy(g, 'dmac1', GUEST_RAM0_BASE, GUEST_RAM0_BASE + 0x1000n, 8) & Status.ERROR).not.toBe(0);
    m.poll();
    expect(m.xen.faults.at(-1)?.kinds).toEqual(['translation fault']);
    const frame = m.xen.heap.allocPages(1);
    g.p2m.map(GFN0, frame, 1, P2mType.RamRw);
    expect(m.fill(g, 'dmac1', GUEST_RAM0_BASE, 8, 0x3333n)).toBe(Status.DONE);
    expect(m.memory.read(BigInt(frame) << 12n, 8)).toBe(0x3333n);
    expect(m.root.statistics().faults.multipleHits).toBe(0);
  });

  it('agrees with a reference map for any sequence of changes (property)', () => {
    const change = fc.record({
      kind: fc.constantFrom('unmap' as const, 'retype' as const, 'map' as const),
      page: fc.integer({ min: 0, max: 1023 }),
      count: fc.integer({ min: 1, max: 600 }),
      type: fc.constantFrom<P2mTypeValue>(P2mType.RamRw, P2mType.RamRo),
    });
    fc.assert(
      fc.property(fc.array(change, { minLength: 1, maxLength: 8 }), (changes) => {
        const { m, g } = guest(4);
        const ipmmu = m.ipmmu('ipmmu_ds1');
        const ref = new Map<number, { mfn: number; type: P2mTypeValue }>();
        for (let i = 0; i < 1024; i++) ref.set(GFN0 + i, { mfn: g.p2m.lookup(GFN0 + i)!.mfn, type: P2mType.RamRw });
        const probes = [0, 1, 255, 256, 511, 512, 700, 1023];
        const check = () => {
          for (const p of [...probes, ...changes.map((c) => c.page)]) {
            const gfn = GFN0 + p;
            const want = ref.get(gfn);
            expect(g.p2m.lookup(gfn) === null ? undefined : { mfn: g.p2m.lookup(gfn)!.mfn, type: g.p2m.lookup(gfn)!.type }).toEqual(want);
            for (const write of [false, true]) {
              const r = ipmmu.translate({ utlb: 0, address: (BigInt(gfn) << 12n) + 0x40n, write });
              if (want === undefined) expect(r.fault).toBe(Imstr.TF);
              else if (write && want.type === P2mType.RamRo) expect(r.fault).toBe(Imstr.PF);
              else expect(r.address).toBe((BigInt(want.mfn) << 12n) + 0x40n);
              m.poll(); // takes the fault interrupt, clearing IMSTR
            }
          }
        };
        check();
        let spare = m.xen.heap.allocPages(1024, 512);
        for (const c of changes) {
          const count = Math.min(c.count, 1024 - c.page);
          const gfn = GFN0 + c.page;
          if (c.kind === 'unmap') {
            g.p2m.unmap(gfn, count);
            for (let i = 0; i < count; i++) ref.delete(gfn + i);
          } else if (c.kind === 'retype') {
            g.p2m.setType(gfn, count, c.type);
            for (let i = 0; i < count; i++) {
              const e = ref.get(gfn + i);
              if (e !== undefined) ref.set(gfn + i, { ...e, type: c.type });
            }
          } else {
            // Map the holes of the range to fresh frames.
            for (let i = 0; i < count; i++) {
              if (ref.has(gfn + i)) continue;
              g.p2m.map(gfn + i, spare, 1, c.type);
              ref.set(gfn + i, { mfn: spare++, type: c.type });
            }
          }
          check();
        }
      }),
      { numRuns: 25 },
    );
  });
});
