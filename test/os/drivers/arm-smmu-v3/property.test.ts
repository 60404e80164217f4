// Property: random map/unmap sequences through the IOMMU core on the SMMUv3 driver agree with a
// reference map, both in the page table (iovaToPhys) and in what the SMMU model translates for
// the device. Translations are probed after every operation, so a stale TLB entry left by a
// missing or too narrow invalidation (range commands, per-leaf commands, the whole-ASID or
// whole-VMID fallback, walk-cache invalidation when tables are freed) shows up as a wrong answer.
//
// The reference (test/support/reference-page-map.ts) knows the rules of map and unmap.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DomainType, type IommuDomain } from '../../../../src/os/core/types.js';
import { allocPagingDomain } from '../../../../src/os/drivers/arm-smmu-v3/index.js';
import { Outcome } from '../../../../src/hw/smmuv3/transaction.js';
import { applyPageOp, GIB, MIB2, pageOpArbitrary, probePages, ReferencePageMap } from '../../../support/reference-page-map.js';
import { ENGINE_SID, SmmuV3Machine, type SmmuV3MachineOptions } from '../../../support/smmuv3-machine.js';

const opArb = pageOpArbitrary([0, 1, 2, 33, 511], [1, 2, 5, 33, MIB2 - 1, MIB2, MIB2 + 1, MIB2 + 33, 2 * MIB2, GIB]);
const PROBES = probePages([0, 1, 2, 3, 33, 34, 511]);

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
          const ref = new ReferencePageMap();
          try {
            for (const o of ops) {
              applyPageOp(core, domain, ref, o);
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
