// Property: random map/unmap sequences through the IOMMU core on the RISC-V IOMMU driver agree
// with a reference map — through the driver's iovaToPhys and through the hardware model's
// translation of the device's DMA (which also proves every unmap's invalidation closed the
// stale-IOTLB window, and that leaves have the size page-size selection promises).
//
// The reference knows the rules, not the code: map picks, at each step, the largest of 4 KiB,
// 2 MiB and 1 GiB that both addresses are aligned to and that fits (Linux iommu_pgsize), and
// fails without change when anything in the range is mapped; unmap walks the same way and stops
// at a hole or at a leaf larger than the step (no partial superpage unmap), and a step that
// covers a table of smaller leaves removes them all.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { IommuError, Prot } from '../../../../src/os/core/types.js';
import { OsMachine } from '../../../support/os-machine.js';

const GIB = 1 << 18; // in 4 KiB pages
const MIB2 = 1 << 9;
const SIZES = [18, 9, 0]; // log2 of leaf sizes in pages, largest first

interface Leaf {
  phys: number;
  log2: number;
}

class Reference {
  readonly pages = new Map<number, Leaf>();

  anyIn(start: number, n: number): boolean {
    if (n > 4096) {
      for (const k of this.pages.keys()) if (k >= start && k < start + n) return true;
      return false;
    }
    for (let p = start; p < start + n; p++) if (this.pages.has(p)) return true;
    return false;
  }

  /** Whether the map succeeds; applies it when it does. */
  map(iova: number, phys: number, n: number): boolean {
    if (this.anyIn(iova, n)) return false;
    for (let i = iova, p = phys, left = n; left > 0; ) {
      const log2 = SIZES.find((s) => i % 2 ** s === 0 && p % 2 ** s === 0 && 2 ** s <= left) ?? 0;
      for (let k = 0; k < 2 ** log2; k++) this.pages.set(i + k, { phys: p + k, log2 });
      i += 2 ** log2;
      p += 2 ** log2;
      left -= 2 ** log2;
    }
    return true;
  }

  /** Pages unmapped from `iova` on, as the rules say. */
  unmap(iova: number, n: number): number {
    let i = iova;
    let left = n;
    while (left > 0) {
      const step = SIZES.find((s) => i % 2 ** s === 0 && 2 ** s <= left) ?? 0;
      const at = this.pages.get(i);
      if (at !== undefined && at.log2 > step) break; // partial unmap of a larger leaf
      if (!this.anyIn(i, 2 ** step)) break; // a hole
      if (2 ** step > 4096) {
        for (const k of [...this.pages.keys()]) if (k >= i && k < i + 2 ** step) this.pages.delete(k);
      } else {
        for (let k = i; k < i + 2 ** step; k++) this.pages.delete(k);
      }
      i += 2 ** step;
      left -= 2 ** step;
    }
    return i - iova;
  }
}

// A small universe of addresses so that operations collide: two GiB regions, a few 2 MiB slots
// in each, a few pages in each slot.
const iovaArb = fc.record({ gib: fc.constantFrom(1, 2), slot: fc.constantFrom(0, 1, 2, 511), page: fc.constantFrom(0, 1, 2, 511) });
const lengthArb = fc.constantFrom(1, 2, 3, MIB2 - 1, MIB2, MIB2 + 1, 2 * MIB2, GIB);
const opArb = fc.oneof(
  fc.record({ kind: fc.constant('map' as const), at: iovaArb, length: lengthArb, skew: fc.constantFrom(0, 0, 1, MIB2), target: fc.integer({ min: 1, max: 6 }) }),
  fc.record({ kind: fc.constant('unmap' as const), at: iovaArb, length: lengthArb, skew: fc.constant(0), target: fc.constant(0) }),
);

const PROBES: number[] = [];
for (const gib of [1, 2]) for (const slot of [0, 1, 2, 3, 511]) for (const page of [0, 1, 2, 3, 511]) PROBES.push(gib * GIB + slot * MIB2 + page);

describe('RISC-V IOMMU driver: property', () => {
  it('map/unmap through the core agree with a reference, in the table and in the IOMMU', () => {
    const m = new OsMachine();
    const core = m.kernel.iommu;
    const ep = m.endpoint;
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 1, maxLength: 16 }), (ops) => {
        const domain = core.domainAlloc(ep);
        core.setFaultHandler(domain, () => true);
        core.attachDevice(domain, ep);
        const ref = new Reference();
        try {
          for (const o of ops) {
            const iova = o.at.gib * GIB + o.at.slot * MIB2 + o.at.page;
            if (o.kind === 'map') {
              // Physical targets co-aligned with the IOVA (so large leaves are possible) unless skewed.
              const phys = o.target * 4 * GIB + (iova % GIB) + o.skew;
              const ok = ref.map(iova, phys, o.length);
              const call = () => core.map(domain, BigInt(iova) << 12n, BigInt(phys) << 12n, BigInt(o.length) << 12n, Prot.READ | Prot.WRITE);
              if (ok) call();
              else expect(call).toThrow(IommuError);
            } else {
              const want = ref.unmap(iova, o.length);
              expect(core.unmap(domain, BigInt(iova) << 12n, BigInt(o.length) << 12n)).toBe(BigInt(want) << 12n);
            }
            for (const p of PROBES) {
              const leaf = ref.pages.get(p);
              const iovaAddr = (BigInt(p) << 12n) | 0x18n;
              const want = leaf === undefined ? null : (BigInt(leaf.phys) << 12n) | 0x18n;
              expect(core.iovaToPhys(domain, iovaAddr)).toBe(want);
              const rsp = m.iommu.translate({ deviceId: 5, iova: iovaAddr, write: true });
              if (leaf === undefined) {
                expect(rsp.cause).toBe(13 + 2); // write page fault
              } else {
                expect(rsp.status).toBe(0);
                expect(rsp.address(0x18)).toBe(want);
                expect(rsp.log2Pages).toBe(leaf.log2);
              }
            }
            m.kernel.poll(); // drain the fault queue
          }
        } finally {
          core.detachDevice(domain, ep);
          core.domainFree(domain);
        }
      }),
      { numRuns: 60 },
    );
    // Every domain's tables and PSCID were given back.
    expect(m.driver.pscids.count).toBe(1);
  });
});
