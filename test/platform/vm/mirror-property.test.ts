// Property: whatever sequence of map and unmap the guest makes in one of its domains (MAP and
// UNMAP requests, VIRTIO 1.2/1.3 5.13.6.5 and 5.13.6.6), the host domain that mirrors it holds
// exactly the mappings the guest holds (QEMU + VFIO type1 keep the two equal): every mapped
// page translates to its guest-physical (= host-physical) page, nothing else is mapped, and the
// virtio-iommu device agrees with a reference model.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Prot } from '../../../src/os/core/types.js';
import { builtinVirtualMachinePair } from '../../../src/platform/vm/index.js';
import { ENGINE0 } from './helpers.js';

const SLOTS = 8;
/** Slot i starts at IOVA_BASE + i * 4 MiB (2 MiB aligned, so a slot can take a 2 MiB leaf). */
const IOVA_BASE = 0x1_0000_0000n;
const SLOT_SPACING = 0x40_0000n;
const GUEST_RAM_FIRST_PAGE = 0xa0000;
const GUEST_RAM_PAGES = 0x20000;

type Op = { kind: 'map'; slot: number; pages: number; physIndex: number; prot: number } | { kind: 'unmap'; slot: number };

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    kind: fc.constant('map' as const),
    slot: fc.nat(SLOTS - 1),
    pages: fc.constantFrom(1, 3, 512),
    physIndex: fc.nat(GUEST_RAM_PAGES - 512),
    prot: fc.constantFrom(Prot.READ, Prot.WRITE, Prot.READ | Prot.WRITE),
  }),
  fc.record({ kind: fc.constant('unmap' as const), slot: fc.nat(SLOTS - 1) }),
);

describe('host mirror of a guest domain', () => {
  it('holds exactly the mappings the guest made, after any sequence of maps and unmaps', () => {
    fc.assert(
      fc.property(fc.array(op, { minLength: 1, maxLength: 24 }), (ops) => {
        const vm = builtinVirtualMachinePair();
        const dev = vm.device(ENGINE0);
        const g = vm.guest.iommu;
        const domain = g.domainAlloc(dev.guestDevice);
        g.attachDevice(domain, dev.guestDevice);
        const id = vm.viommu.domainOf(dev.endpoint)!;
        const host = vm.backend!.hostDomain(id)!;
        const model = new Map<number, { pages: number; physPage: number }>();
        for (const o of ops) {
          const iova = IOVA_BASE + BigInt(o.slot) * SLOT_SPACING;
          const mapped = model.get(o.slot);
          if (o.kind === 'map') {
            if (mapped !== undefined) continue;
            // A 2 MiB mapping needs a 2 MiB aligned physical address to be one leaf; smaller ones any page.
            const physPage = GUEST_RAM_FIRST_PAGE + (o.pages === 512 ? o.physIndex - (o.physIndex % 512) : o.physIndex);
            g.map(domain, iova, BigInt(physPage) << 12n, BigInt(o.pages) << 12n, o.prot);
            model.set(o.slot, { pages: o.pages, physPage });
          } else {
            if (mapped === undefined) continue;
            expect(g.unmap(domain, iova, BigInt(mapped.pages) << 12n)).toBe(BigInt(mapped.pages) << 12n);
            model.delete(o.slot);
          }
        }
        const core = vm.hostKernel.iommu;
        let pages = 0;
        for (let slot = 0; slot < SLOTS; slot++) {
          const iova = IOVA_BASE + BigInt(slot) * SLOT_SPACING;
          const m = model.get(slot);
          if (m === undefined) {
            expect(core.iovaToPhys(host, iova)).toBeNull();
            expect(core.iovaToPhys(host, iova + 511n * 4096n)).toBeNull();
            continue;
          }
          pages += m.pages;
          for (const p of new Set([0, m.pages >> 1, m.pages - 1])) {
            expect(core.iovaToPhys(host, iova + BigInt(p) * 4096n + 8n)).toBe((BigInt(m.physPage + p) << 12n) + 8n);
          }
          expect(core.iovaToPhys(host, iova + BigInt(m.pages) * 4096n)).toBeNull();
        }
        expect(host.stats.pagesMapped - host.stats.pagesUnmapped).toBe(pages);
        const expected = [...model.entries()]
          .sort(([a], [b]) => a - b)
          .map(([slot, m]) => ({ virtStart: IOVA_BASE + BigInt(slot) * SLOT_SPACING, physStart: BigInt(m.physPage) << 12n, pages: m.pages }));
        expect(vm.viommu.mappings(id).map((m) => ({ virtStart: m.virtStart, physStart: m.physStart, pages: Number((m.virtEnd + 1n - m.virtStart) >> 12n) }))).toEqual(expected);
      }),
      { numRuns: 12 },
    );
  });
});
