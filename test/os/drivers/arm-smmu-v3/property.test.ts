// Property: random map/unmap sequences through the IOMMU core on the SMMUv3 driver agree with a
// reference map, both in the page table (iovaToPhys) and in what the SMMU model translates for
// the device. Translations are probed after every operation, so a stale TLB entry left by a
// missing or too narrow invalidation (range commands, per-leaf commands, the whole-ASID or
// whole-VMID fallback, walk-cache invalidation when tables are freed) shows up as a wrong answer.
//
// The reference knows the rules, not the code (Linux iommu_pgsize and io-pgtable-arm): map picks
// at each step the largest of 4 KiB, 2 MiB and 1 GiB that both addresses are aligned to and that
// fits, and fails without change when anything in the range is mapped; unmap walks the same way,
// stops at a hole or at a leaf larger than the step (a block is never split), and a step that
// covers a table of smaller leaves removes them all.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DomainType, IommuError, Prot, type IommuDomain } from '../../../../src/os/core/types.js';
import { allocPagingDomain } from '../../../../src/os/drivers/arm-smmu-v3/index.js';
import { Outcome } from '../../../../src/hw/smmuv3/transaction.js';
import { ENGINE_SID, SmmuV3Machine, type SmmuV3MachineOptions } from '../../../support/smmuv3-machine.js';

const GIB = 1 << 18; // in 4 KiB pages
const MIB2 = 1 << 9;
/** log2 of the leaf sizes in pages, largest first. */
const LEAVES = [18, 9, 0];

interface Leaf {
  phys: number;
  log2: number;
}

/** The expected contents of the domain, page by page. */
class ReferenceMap {
  readonly pages = new Map<number, Leaf>();

  private mappedIn(start: number, n: number): boolean {
    if (n > 4096) {
      for (const k of this.pages.keys()) if (k >= start && k < start + n) return true;
      return false;
    }
    for (let p = start; p < start + n; p++) if (this.pages.has(p)) return true;
    return false;
  }

  private drop(start: number, n: number): void {
    if (n > 4096) {
      for (const k of [...this.pages.keys()]) if (k >= start && k < start + n) this.pages.delete(k);
    } else {
      for (let p = start; p < start + n; p++) this.pages.delete(p);
    }
  }

  /** Applies a map when it succeeds; returns whether it does. */
  map(iova: number, phys: number, n: number): boolean {
    if (this.mappedIn(iova, n)) return false;
    let i = iova;
    let p = phys;
    for (let left = n; left > 0; ) {
      const log2 = LEAVES.find((s) => i % 2 ** s === 0 && p % 2 ** s === 0 && 2 ** s <= left) ?? 0;
      for (let k = 0; k < 2 ** log2; k++) this.pages.set(i + k, { phys: p + k, log2 });
      i += 2 ** log2;
      p += 2 ** log2;
      left -= 2 ** log2;
    }
    return true;
  }

  /** Applies an unmap; returns the pages it removes from `iova` on. */
  unmap(iova: number, n: number): number {
    let i = iova;
    for (let left = n; left > 0; ) {
      const step = LEAVES.find((s) => i % 2 ** s === 0 && 2 ** s <= left) ?? 0;
      const leaf = this.pages.get(i);
      if ((leaf !== undefined && leaf.log2 > step) || !this.mappedIn(i, 2 ** step)) break;
      this.drop(i, 2 ** step);
      i += 2 ** step;
      left -= 2 ** step;
    }
    return i - iova;
  }
}

// A small universe so that operations collide: two 1 GiB regions, a few 2 MiB slots in each,
// a few pages in each slot.
const iovaArb = fc.record({ gib: fc.constantFrom(1, 2), slot: fc.constantFrom(0, 1, 2, 511), page: fc.constantFrom(0, 1, 2, 33, 511) });
const lengthArb = fc.constantFrom(1, 2, 5, 33, MIB2 - 1, MIB2, MIB2 + 1, MIB2 + 33, 2 * MIB2, GIB);
const opArb = fc.oneof(
  fc.record({ kind: fc.constant('map' as const), at: iovaArb, length: lengthArb, skew: fc.constantFrom(0, 0, 1, MIB2), target: fc.integer({ min: 1, max: 6 }) }),
  fc.record({ kind: fc.constant('unmap' as const), at: iovaArb, length: lengthArb, skew: fc.constant(0), target: fc.constant(0) }),
);

const PROBES: number[] = [];
for (const gib of [1, 2]) for (const slot of [0, 1, 2, 3, 511]) for (const page of [0, 1, 2, 3, 33, 34, 511]) PROBES.push(gib * GIB + slot * MIB2 + page);

const CONFIGS: [string, SmmuV3MachineOptions, 1 | 2][] = [
  ['stage 1, range invalidation', {}, 1],
  ['stage 1, per-leaf invalidation', { smmu: { capabilities: { ril: false } } }, 1],
  ['stage 2, range invalidation', {}, 2],
  ['stage 2, per-leaf invalidation', { smmu: { capabilities: { ril: false } } }, 2],
];

describe('SMMUv3 driver: property', () => {
  for (const [label, options, stage] of CONFIGS) {
    it(`map/unmap through the core agree with a reference, in the table and in the SMMU (${label})`, () => {
      const m = new SmmuV3Machine(options);
      const core = m.kernel.iommu;
      const dev = m.engineDevice;
      const d = m.driver;
      fc.assert(
        fc.property(fc.array(opArb, { minLength: 1, maxLength: 14 }), (ops) => {
          const made = allocPagingDomain(d, DomainType.Unmanaged, stage);
          if (typeof made === 'string') throw new Error(made);
          const domain: IommuDomain = made;
          core.setFaultHandler(domain, () => true);
          core.attachDevice(domain, dev);
          const ref = new ReferenceMap();
          try {
            for (const o of ops) {
              const iova = o.at.gib * GIB + o.at.slot * MIB2 + o.at.page;
              if (o.kind === 'map') {
                // Targets co-aligned with the IOVA (so blocks are possible) unless skewed.
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
                const address = (BigInt(p) << 12n) | 0x18n;
                const want = leaf === undefined ? null : (BigInt(leaf.phys) << 12n) | 0x18n;
                expect(core.iovaToPhys(domain, address)).toBe(want);
                const r = m.smmu.translate({ sid: ENGINE_SID, address, write: true });
                if (leaf === undefined) {
                  expect(r.outcome).toBe(Outcome.Abort);
                } else {
                  expect(r.outcome).toBe(Outcome.Ok);
                  expect(r.address(0x18)).toBe(want);
                  expect(r.log2Pages).toBe(leaf.log2);
                }
              }
              m.kernel.poll(); // drain the Event queue
            }
          } finally {
            core.detachDevice(domain, dev);
            core.domainFree(domain);
          }
        }),
        { numRuns: 25 },
      );
      // Every domain's ASID or VMID went back, and no CMD_SYNC timed out.
      expect(stage === 1 ? d.asids.count : d.vmids.count).toBe(stage === 1 ? 1 : 0);
      expect(d.stats.syncTimeouts).toBe(0);
      expect(d.stats.globalErrors).toEqual({});
    });
  }
});
