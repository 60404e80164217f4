// Property: random map/unmap sequences through the IOMMU core on the RISC-V IOMMU driver agree
// with a reference map — through the driver's iovaToPhys and through the hardware model's
// translation of the device's DMA (which also proves every unmap's invalidation closed the
// stale-IOTLB window, and that leaves have the size page-size selection promises).
//
// The reference (test/support/reference-page-map.ts) knows the rules of map and unmap.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { OsMachine } from '../../../support/os-machine.js';
import { applyPageOp, GIB, MIB2, pageOpArbitrary, probePages, ReferencePageMap } from '../../../support/reference-page-map.js';

const opArb = pageOpArbitrary([0, 1, 2, 511], [1, 2, 3, MIB2 - 1, MIB2, MIB2 + 1, 2 * MIB2, GIB]);
const PROBES = probePages([0, 1, 2, 3, 511]);

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
        const ref = new ReferencePageMap();
        try {
          for (const o of ops) {
            applyPageOp(core, domain, ref, o);
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
