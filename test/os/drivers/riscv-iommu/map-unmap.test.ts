// Mapping and unmapping through the IOMMU core on the RISC-V IOMMU driver, observed on the
// model: translations of 4 KiB, 2 MiB and 1 GiB leaves and their permissions; the stale-IOTLB
// window an unmap leaves until its invalidation ("Changing first-stage page table entry",
// IOTINVAL.VMA with PSCV=1 and AV=1 per page, or AV=0 past Linux's 2 MiB limit or when
// page-table pages were freed, then IOFENCE.C); table pages freed only after the fence; full
// flushes; and domain teardown.

import { describe, expect, it } from 'vitest';
import { IotlbGather, Prot, type IommuDomain } from '../../../../src/os/core/types.js';
import { IOTLB_INVAL_LIMIT_PAGES, RiscvPagingDomain } from '../../../../src/os/drivers/riscv-iommu/index.js';
import { OsMachine } from '../../../support/os-machine.js';

function setup(options: ConstructorParameters<typeof OsMachine>[0] = {}): { m: OsMachine; domain: IommuDomain; paging: RiscvPagingDomain } {
  const m = new OsMachine(options);
  const domain = m.kernel.iommu.domainOf(m.endpoint);
  if (domain === null || !(domain.driverData instanceof RiscvPagingDomain)) throw new Error('no paging default domain');
  return { m, domain, paging: domain.driverData };
}

/** IOTINVAL.VMA words for one page of a PSCID. */
function invalPage(pscid: number, iova: bigint): [bigint, bigint] {
  return [1n | (1n << 10n) | (BigInt(pscid) << 12n) | (1n << 32n), (iova >> 12n) << 10n];
}

describe('RISC-V IOMMU driver: map', () => {
  it('translates 4 KiB, 2 MiB and 1 GiB leaves, and reports their size', () => {
    const { m, domain } = setup();
    const core = m.kernel.iommu;
    core.map(domain, 0x1000n, 0x8001_0000n, 0x3000n, Prot.READ | Prot.WRITE);
    core.map(domain, 0x20_0000n, 0x8060_0000n, 0x40_0000n, Prot.READ | Prot.WRITE);
    core.map(domain, 0x4000_0000n, 0xc000_0000n, 0x4000_0000n, Prot.READ);
    expect(m.translate(5, 0x2abcn, { write: true })).toEqual({ address: 0x8001_1abcn });
    expect(m.translate(5, 0x5f_fff8n)).toEqual({ address: 0x809f_fff8n });
    expect(m.iommu.translate({ deviceId: 5, iova: 0x30_0000n }).log2Pages).toBe(9);
    expect(m.translate(5, 0x7654_3210n)).toEqual({ address: 0xf654_3210n });
    expect(m.iommu.translate({ deviceId: 5, iova: 0x4000_0000n }).log2Pages).toBe(18);
    expect(core.iovaToPhys(domain, 0x5f_fff8n)).toBe(0x809f_fff8n);
    // Read-only: a write is a page fault (cause 15); unmapped: cause 13.
    expect(m.translate(5, 0x4000_0000n, { write: true })).toMatchObject({ cause: 15 });
    expect(m.translate(5, 0x8000_0000n)).toMatchObject({ cause: 13 });
    // Mapping queues no command: V going from 0 to 1 needs no invalidation.
    expect(m.commandsSince(5)).toEqual([]);
  });

  it('fails a map over an existing mapping and leaves the first one intact', () => {
    const { m, domain } = setup();
    const core = m.kernel.iommu;
    core.map(domain, 0x10_0000n, 0x8100_0000n, 0x1000n, Prot.READ);
    expect(() => core.map(domain, 0x10_0000n, 0x8200_0000n, 0x1000n, Prot.READ)).toThrow(/map of 0x100000/);
    expect(m.translate(5, 0x10_0000n)).toEqual({ address: 0x8100_0000n });
  });
});

describe('RISC-V IOMMU driver: unmap and invalidation', () => {
  it('leaves the stale translation usable until the sync, then closes the window', () => {
    const { m, domain, paging } = setup();
    const core = m.kernel.iommu;
    core.map(domain, 0x8000n, 0x8008_f000n, 0x4000n, Prot.READ); // 0x8000 keeps the table alive
    expect(m.translate(5, 0x9008n)).toEqual({ address: 0x8009_0008n }); // now in the IOTLB
    const mark = m.driver.cmdq.producerIndex;
    const gather = new IotlbGather();
    expect(core.unmapFast(domain, 0x9000n, 0x2000n, gather)).toBe(0x2000n);
    expect(core.iovaToPhys(domain, 0x9008n)).toBeNull(); // gone from the table...
    expect(m.translate(5, 0x9008n)).toEqual({ address: 0x8009_0008n }); // ...not yet from the IOTLB
    core.iotlbSync(domain, gather);
    expect(m.translate(5, 0x9008n)).toMatchObject({ cause: 13 });
    expect(m.translate(5, 0x8008n)).toEqual({ address: 0x8008_f008n });
    const cmds = m.commandsSince(mark);
    expect(cmds.map((c) => c.name)).toEqual(['IOTINVAL.VMA', 'IOTINVAL.VMA', 'IOFENCE.C']);
    expect(cmds[0].words).toEqual(invalPage(paging.pscid, 0x9000n));
    expect(cmds[1].words).toEqual(invalPage(paging.pscid, 0xa000n));
  });

  it('invalidates page by page below 2 MiB and the whole PSCID from 2 MiB on', () => {
    const { m, domain, paging } = setup();
    const core = m.kernel.iommu;
    // A physical address off 2 MiB alignment: 2048 leaves of 4 KiB in four level-0 tables.
    core.map(domain, 0n, 0x8100_1000n, 0x80_0000n, Prot.READ);
    expect(m.iommu.translate({ deviceId: 5, iova: 0n }).log2Pages).toBe(0);
    const stats = m.driver.stats.invalidations;

    let mark = m.driver.cmdq.producerIndex;
    const pages0 = stats.pages;
    core.unmap(domain, 0x1000n, BigInt(IOTLB_INVAL_LIMIT_PAGES - 1) << 12n); // pages 1..511: table 0 keeps page 0
    let cmds = m.commandsSince(mark);
    expect(cmds.length).toBe(IOTLB_INVAL_LIMIT_PAGES);
    expect(cmds.at(-1)?.name).toBe('IOFENCE.C');
    expect(stats.pages - pages0).toBe(511);

    mark = m.driver.cmdq.producerIndex;
    core.unmap(domain, 0x20_1000n, BigInt(IOTLB_INVAL_LIMIT_PAGES) << 12n); // 512 pages; no table empties
    cmds = m.commandsSince(mark);
    expect(cmds.map((c) => c.name)).toEqual(['IOTINVAL.VMA', 'IOFENCE.C']);
    expect(cmds[0].words).toEqual([1n | (BigInt(paging.pscid) << 12n) | (1n << 32n), 0n]);
    expect(m.translate(5, 0x3f_f000n)).toMatchObject({ cause: 13 });
    expect(m.translate(5, 0x40_1000n)).toEqual({ address: 0x8140_2000n });
  });

  it('keeps emptied tables on unmap (per-page invalidation), and frees one a superpage replaces only after a whole-PSCID invalidation', () => {
    const { m, domain, paging } = setup();
    const core = m.kernel.iommu;
    const pages = m.kernel.pages;
    const baseline = pages.stats.allocatedPages;
    core.map(domain, 0x1_0000_0000n, 0x8100_0000n, 0x1000n, Prot.READ); // Sv57: new tables at levels 3..0
    expect(pages.stats.allocatedPages).toBe(baseline + 4);
    expect(m.translate(5, 0x1_0000_0000n)).toEqual({ address: 0x8100_0000n });
    let mark = m.driver.cmdq.producerIndex;
    core.unmap(domain, 0x1_0000_0000n, 0x1000n);
    // Only the leaf was cleared: an address-specific invalidation suffices (RISC-V IOMMU 4.1.1).
    expect(m.commandsSince(mark).map((c) => c.name)).toEqual(['IOTINVAL.VMA', 'IOFENCE.C']);
    expect(pages.stats.allocatedPages).toBe(baseline + 4);
    expect(m.translate(5, 0x1_0000_0000n)).toMatchObject({ cause: 13 });

    // A 2 MiB leaf where the emptied level-0 table is: the table goes, after the IOMMU forgets it.
    mark = m.driver.cmdq.producerIndex;
    core.map(domain, 0x1_0000_0000n, 0x8120_0000n, 0x20_0000n, Prot.READ);
    const cmds = m.commandsSince(mark);
    expect(cmds.map((c) => c.name)).toEqual(['IOTINVAL.VMA', 'IOFENCE.C']);
    expect((cmds[0].words[0] >> 10n) & 1n).toBe(0n); // AV=0: non-leaf entries go too
    expect((cmds[0].words[0] >> 12n) & 0xfffffn).toBe(BigInt(paging.pscid));
    expect(pages.stats.allocatedPages).toBe(baseline + 3);
    expect(m.translate(5, 0x1_0001_2345n)).toEqual({ address: 0x8121_2345n });
  });

  it('flushes a whole domain, and sends nothing for a domain no device uses', () => {
    const { m, domain, paging } = setup();
    const core = m.kernel.iommu;
    let mark = m.driver.cmdq.producerIndex;
    core.flushIotlbAll(domain);
    const flush = m.commandsSince(mark);
    expect(flush.map((c) => c.name)).toEqual(['IOTINVAL.VMA', 'IOFENCE.C']);
    expect(flush[0].words).toEqual([1n | (BigInt(paging.pscid) << 12n) | (1n << 32n), 0n]);
    const spare = core.domainAlloc(m.endpoint);
    core.map(spare, 0x1000n, 0x8000_0000n, 0x1000n, Prot.READ);
    mark = m.driver.cmdq.producerIndex;
    core.unmap(spare, 0x1000n, 0x1000n);
    core.flushIotlbAll(spare);
    expect(m.commandsSince(mark)).toEqual([]);
  });

  it('frees a domain: its tables and its PSCID go back', () => {
    const { m } = setup();
    const core = m.kernel.iommu;
    const pages = m.kernel.pages;
    const baseline = pages.stats.allocatedPages;
    const d = core.domainAlloc(m.endpoint);
    const pscid = (d.driverData as RiscvPagingDomain).pscid;
    core.map(d, 0x40_0000n, 0x8000_0000n, 0x10_0000n, Prot.READ);
    core.attachDevice(d, m.endpoint);
    core.detachDevice(d, m.endpoint);
    core.domainFree(d);
    expect(pages.stats.allocatedPages).toBe(baseline);
    const again = core.domainAlloc(m.endpoint);
    expect((again.driverData as RiscvPagingDomain).pscid).toBe(pscid);
    expect(m.driver.pscids.count).toBe(2);
  });
});
