// Mapping and unmapping through the IOMMU core on the SMMUv3 driver, observed on the model:
// VMSAv8-64 page and block translations and their permissions; the stale-TLB window an unmap
// leaves until its invalidation; and the exact invalidation commands per unmap (IHI 0070 4.4,
// after Linux's __arm_smmu_tlb_inv_range): range commands (NUM, SCALE, TG, TTL) with IDR3.RIL,
// one command per leaf without, a whole ASID or VMID past CMDQ_MAX_TLBI_OPS, Leaf = 0 when
// table pages were freed (given back only after the CMD_SYNC), stage 2 by IPA and VMID.

import { describe, expect, it } from 'vitest';
import { IotlbGather, Prot, DomainType, type IommuDomain } from '../../../../src/os/core/types.js';
import { allocPagingDomain, SmmuPagingDomain } from '../../../../src/os/drivers/arm-smmu-v3/index.js';
import { decodeCd } from '../../../../src/formats/smmuv3/structures.js';
import { ENGINE_SID, SmmuV3Machine, type SmmuV3MachineOptions } from '../../../support/smmuv3-machine.js';

const RW = Prot.READ | Prot.WRITE;

function setup(o: SmmuV3MachineOptions = {}): { m: SmmuV3Machine; domain: IommuDomain; p: SmmuPagingDomain } {
  const m = new SmmuV3Machine(o);
  const domain = m.kernel.iommu.domainOf(m.engineDevice);
  if (domain === null || !(domain.driverData instanceof SmmuPagingDomain)) throw new Error(`no paging default domain:\n${m.logText()}`);
  return { m, domain, p: domain.driverData };
}

/** The fields of the commands an operation wrote, in order. */
function commandsOf(m: SmmuV3Machine, op: () => void): { name: string; fields: Record<string, bigint> }[] {
  const mark = m.commandMark;
  op();
  return m.commandsSince(mark).map((c) => ({ name: c.name, fields: c.fields }));
}

describe('SMMUv3 driver: map', () => {
  it('translates 4 KiB pages, 2 MiB and 1 GiB blocks, with their permissions', () => {
    const { m, domain } = setup();
    const core = m.kernel.iommu;
    core.map(domain, 0x1000n, 0x8001_0000n, 0x3000n, RW);
    core.map(domain, 0x20_0000n, 0x8060_0000n, 0x40_0000n, RW);
    core.map(domain, 0x4000_0000n, 0xc000_0000n, 0x4000_0000n, Prot.READ);
    expect(m.translate(ENGINE_SID, 0x2abcn, { write: true })).toEqual({ address: 0x8001_1abcn });
    expect(m.translate(ENGINE_SID, 0x5f_fff8n)).toEqual({ address: 0x809f_fff8n });
    expect(m.smmu.translate({ sid: ENGINE_SID, address: 0x30_0000n }).log2Pages).toBe(9);
    expect(m.translate(ENGINE_SID, 0x7654_3210n)).toEqual({ address: 0xf654_3210n });
    expect(m.smmu.translate({ sid: ENGINE_SID, address: 0x4000_0000n }).log2Pages).toBe(18);
    expect(core.iovaToPhys(domain, 0x5f_fff8n)).toBe(0x809f_fff8n);
    // Read-only: a write is a permission fault; unmapped: a translation fault (7.3.13, 7.3.16).
    expect(m.translate(ENGINE_SID, 0x4000_0000n, { write: true })).toMatchObject({ event: 'F_PERMISSION' });
    expect(m.translate(ENGINE_SID, 0x8000_0000n)).toMatchObject({ event: 'F_TRANSLATION' });
    // Making entries valid needs no invalidation: mapping writes no command.
    expect(commandsOf(m, () => core.map(domain, 0x9000_0000n, 0x8100_0000n, 0x1000n, RW))).toEqual([]);
  });

  it('on a big-endian CPU writes STEs, CDs and commands little-endian and the tables big-endian (CD.ENDI)', () => {
    const { m, domain } = setup({ endianness: 'big' });
    const d = m.driver;
    // STE doubleword 0 of a stage-1 stream: V = 1, Config = 0b101, so byte 0 reads 0x0b.
    expect(m.memory.readBytes(d.steAddress(ENGINE_SID)!, 1)).toEqual(Uint8Array.from([0x0b]));
    expect(decodeCd(d.readCd(m.engineDevice)!).ENDI).toBe(1n);
    m.kernel.iommu.map(domain, 0x1000n, 0x8100_0000n, 0x1000n, Prot.READ);
    expect(m.translate(ENGINE_SID, 0x1010n)).toEqual({ address: 0x8100_0010n });
    m.kernel.iommu.unmap(domain, 0x1000n, 0x1000n);
    expect(m.translate(ENGINE_SID, 0x1010n)).toMatchObject({ event: 'F_TRANSLATION' });
    m.kernel.poll();
    expect(d.recentEvents.map((e) => [e.name, e.inputAddress])).toEqual([['F_TRANSLATION', 0x1010n]]);
  });

  it('translates the top of the 48-bit aperture', () => {
    const { m, domain } = setup();
    const top = domain.geometry.end & ~0xfffn;
    m.kernel.iommu.map(domain, top, 0x8200_0000n, 0x1000n, Prot.READ);
    expect(m.translate(ENGINE_SID, top + 8n)).toEqual({ address: 0x8200_0008n });
  });
});

describe('SMMUv3 driver: unmap and TLB invalidation (4.4)', () => {
  it('leaves the stale translation usable until the sync, then closes the window', () => {
    const { m, domain, p } = setup();
    const core = m.kernel.iommu;
    core.map(domain, 0x8000n, 0x8008_f000n, 0x4000n, Prot.READ);
    expect(m.translate(ENGINE_SID, 0x9008n)).toEqual({ address: 0x8009_0008n }); // now in the TLB
    const gather = new IotlbGather();
    const mark = m.commandMark;
    expect(core.unmapFast(domain, 0x9000n, 0x2000n, gather)).toBe(0x2000n);
    expect(core.iovaToPhys(domain, 0x9008n)).toBeNull(); // gone from the table...
    expect(m.translate(ENGINE_SID, 0x9008n)).toEqual({ address: 0x8009_0008n }); // ...not yet from the TLB
    core.iotlbSync(domain, gather);
    expect(m.translate(ENGINE_SID, 0x9008n)).toMatchObject({ event: 'F_TRANSLATION' });
    expect(m.translate(ENGINE_SID, 0x8008n)).toEqual({ address: 0x8008_f008n });
    // With RIL: one range command, 2 granules of 4 KiB (NUM 0, SCALE 1), leaves at level 3.
    const cmds = m.commandsSince(mark);
    expect(cmds.map((c) => c.name)).toEqual(['CMD_TLBI_NH_VA', 'CMD_SYNC']);
    expect(cmds[0].fields).toMatchObject({ ASID: BigInt(p.asid), VMID: 0n, Addr: 0x9n, Leaf: 1n, TG: 1n, TTL: 3n, NUM: 0n, SCALE: 1n });
  });

  it('covers ranges with few range commands, five bits of the size at a time', () => {
    const { m, domain, p } = setup();
    const core = m.kernel.iommu;
    core.map(domain, 0x10_0000n, 0x8100_0000n, 0x30_0000n, RW);
    // 5 pages: one command of NUM + 1 = 5 granules.
    let cmds = commandsOf(m, () => core.unmap(domain, 0x10_1000n, 0x5000n));
    expect(cmds.map((c) => c.name)).toEqual(['CMD_TLBI_NH_VA', 'CMD_SYNC']);
    expect(cmds[0].fields).toMatchObject({ ASID: BigInt(p.asid), Addr: 0x101n, NUM: 4n, SCALE: 0n, TTL: 3n });
    for (const a of [0x10_0000n, 0x10_6000n]) expect(m.translate(ENGINE_SID, a)).toHaveProperty('address');
    for (const a of [0x10_1000n, 0x10_5000n]) expect(m.translate(ENGINE_SID, a)).toMatchObject({ event: 'F_TRANSLATION' });
    // 33 pages (0b100001): 1 granule, then 1 * 2^5 granules.
    cmds = commandsOf(m, () => core.unmap(domain, 0x11_0000n, 0x21000n));
    expect(cmds.map((c) => [c.name, c.fields.Addr, c.fields.NUM, c.fields.SCALE])).toEqual([
      ['CMD_TLBI_NH_VA', 0x110n, 0n, 0n],
      ['CMD_TLBI_NH_VA', 0x111n, 0n, 5n],
      ['CMD_SYNC', undefined, undefined, undefined],
    ]);
  });

  it('names the block level in TTL: a 2 MiB block is one range command at level 2', () => {
    const { m, domain } = setup();
    const core = m.kernel.iommu;
    core.map(domain, 0x40_0000n, 0x8040_0000n, 0x20_0000n, RW);
    expect(m.translate(ENGINE_SID, 0x41_0000n)).toEqual({ address: 0x8041_0000n });
    const cmds = commandsOf(m, () => core.unmap(domain, 0x40_0000n, 0x20_0000n));
    expect(cmds.map((c) => c.name)).toEqual(['CMD_TLBI_NH_VA', 'CMD_SYNC']);
    expect(cmds[0].fields).toMatchObject({ Addr: 0x400n, Leaf: 1n, TG: 1n, TTL: 2n, NUM: 0n, SCALE: 9n });
    expect(m.translate(ENGINE_SID, 0x41_0000n)).toMatchObject({ event: 'F_TRANSLATION' });
  });

  it('drops the level hint when one gather unmapped leaves of two sizes (4.4.1.1: TTL 0)', () => {
    const { m, domain } = setup();
    const core = m.kernel.iommu;
    core.map(domain, 0x40_0000n, 0x8040_0000n, 0x20_0000n, RW);
    core.map(domain, 0x60_0000n, 0x8060_0000n, 0x1000n, RW);
    const gather = new IotlbGather();
    const cmds = commandsOf(m, () => {
      expect(core.unmapFast(domain, 0x40_0000n, 0x20_0000n, gather)).toBe(0x20_0000n);
      expect(core.unmapFast(domain, 0x60_0000n, 0x1000n, gather)).toBe(0x1000n);
      core.iotlbSync(domain, gather);
    });
    expect(cmds.map((c) => c.name).at(-1)).toBe('CMD_SYNC');
    const tlbi = cmds.filter((c) => c.name === 'CMD_TLBI_NH_VA');
    expect(tlbi.length).toBeGreaterThan(0);
    expect(tlbi.every((c) => c.fields.TTL === 0n && c.fields.Leaf === 1n)).toBe(true);
    for (const a of [0x41_0000n, 0x60_0000n]) expect(m.translate(ENGINE_SID, a)).toMatchObject({ event: 'F_TRANSLATION' });
    // The gather was reset: the next block unmap names its level again.
    core.map(domain, 0x80_0000n, 0x8080_0000n, 0x20_0000n, RW);
    const again = commandsOf(m, () => core.unmap(domain, 0x80_0000n, 0x20_0000n));
    expect(again[0].fields).toMatchObject({ Addr: 0x800n, TTL: 2n, SCALE: 9n });
  });

  it('without RIL, invalidates leaf by leaf, and the whole ASID from CMDQ_MAX_TLBI_OPS leaves on', () => {
    const { m, domain, p } = setup({ smmu: { capabilities: { ril: false } } });
    const core = m.kernel.iommu;
    const d = m.driver;
    core.map(domain, 0x8000n, 0x8008_0000n, 0x4000n, RW);
    let cmds = commandsOf(m, () => core.unmap(domain, 0x9000n, 0x2000n));
    expect(cmds.map((c) => c.name)).toEqual(['CMD_TLBI_NH_VA', 'CMD_TLBI_NH_VA', 'CMD_SYNC']);
    expect(cmds.map((c) => [c.fields.Addr, c.fields.Leaf, c.fields.TG, c.fields.TTL])).toEqual([
      [0x9n, 1n, 0n, 0n],
      [0xan, 1n, 0n, 0n],
      [undefined, undefined, undefined, undefined],
    ]);
    // A 2 MiB block: one command for the leaf.
    core.map(domain, 0x20_0000n, 0x8020_0000n, 0x20_0000n, RW);
    cmds = commandsOf(m, () => core.unmap(domain, 0x20_0000n, 0x20_0000n));
    expect(cmds.map((c) => [c.name, c.fields.Addr])).toEqual([
      ['CMD_TLBI_NH_VA', 0x200n],
      ['CMD_SYNC', undefined],
    ]);
    // 511 pages: 511 commands; 512 pages (2 MiB of 4 KiB leaves): one CMD_TLBI_NH_ASID.
    core.map(domain, 0x100_1000n, 0x8100_1000n, 0x1ff000n, RW);
    const before = d.stats.invalidations.nhVaPages;
    core.unmap(domain, 0x100_1000n, 0x1ff000n);
    expect(d.stats.invalidations.nhVaPages - before).toBe(511);
    core.map(domain, 0x200_1000n, 0x8100_1000n, 0x20_0000n, RW);
    cmds = commandsOf(m, () => core.unmap(domain, 0x200_1000n, 0x20_0000n));
    expect(cmds.map((c) => c.name)).toEqual(['CMD_TLBI_NH_ASID', 'CMD_SYNC']);
    expect(cmds[0].fields.ASID).toBe(BigInt(p.asid));
  });

  it('invalidates walk caches too (Leaf = 0) when an unmap freed a table, and frees it only after the sync', () => {
    for (const ril of [true, false]) {
      const { m, domain } = setup({ smmu: { capabilities: { ril } } });
      const core = m.kernel.iommu;
      core.map(domain, 0x20_0000n, 0x8020_0000n, 0x3000n, RW); // a level-3 table under a 2 MiB slot
      const pages = m.kernel.pages.stats.allocatedPages;
      // Unmapping the whole 2 MiB slot removes the table with its leaves.
      const cmds = commandsOf(m, () => core.unmap(domain, 0x20_0000n, 0x20_0000n));
      if (ril) {
        expect(cmds.map((c) => c.name)).toEqual(['CMD_TLBI_NH_VA', 'CMD_SYNC']);
        expect(cmds[0].fields).toMatchObject({ Leaf: 0n, TG: 1n, TTL: 0n, SCALE: 9n, NUM: 0n });
      } else {
        expect(cmds.map((c) => c.name)).toEqual(['CMD_TLBI_NH_ASID', 'CMD_SYNC']);
      }
      expect(m.kernel.pages.stats.allocatedPages).toBe(pages - 1);
      expect(m.translate(ENGINE_SID, 0x20_1000n)).toMatchObject({ event: 'F_TRANSLATION' });
    }
  });

  it('uses the 16 KiB granule when the SMMU has no 4 KiB one: TG0, leaf sizes and range commands follow', () => {
    const { m, domain, p } = setup({ smmu: { capabilities: { gran4K: false } } });
    const core = m.kernel.iommu;
    expect(domain.pageSizes).toEqual([14, 25]);
    expect(decodeCd(m.driver.readCd(m.engineDevice)!).TG0).toBe(2n);
    core.map(domain, 0x10_0000n, 0x8010_0000n, 0x8000n, RW);
    expect(m.translate(ENGINE_SID, 0x10_5678n)).toEqual({ address: 0x8010_5678n });
    const cmds = commandsOf(m, () => core.unmap(domain, 0x10_4000n, 0x4000n));
    expect(cmds[0].fields).toMatchObject({ ASID: BigInt(p.asid), Addr: 0x104n, TG: 2n, TTL: 3n, NUM: 0n, SCALE: 0n });
    expect(m.translate(ENGINE_SID, 0x10_5678n)).toMatchObject({ event: 'F_TRANSLATION' });
    expect(m.translate(ENGINE_SID, 0x10_1234n)).toEqual({ address: 0x8010_1234n });
  });

  it('empties every cache on request (explain --cold): CMD_CFGI_ALL, CMD_TLBI_EL2_ALL, CMD_TLBI_NSNH_ALL, CMD_SYNC', () => {
    const { m, domain } = setup();
    m.kernel.iommu.map(domain, 0x1000n, 0x8001_0000n, 0x1000n, RW);
    m.translate(ENGINE_SID, 0x1000n);
    expect(m.smmu.statistics().caches.tlb.entries).toBe(1);
    const mark = m.commandMark;
    expect(m.driver.invalidateAll()).toEqual(['CMD_CFGI_ALL', 'CMD_TLBI_EL2_ALL', 'CMD_TLBI_NSNH_ALL', 'CMD_SYNC']);
    expect(m.commandNamesSince(mark)).toEqual(['CMD_CFGI_ALL', 'CMD_TLBI_EL2_ALL', 'CMD_TLBI_NSNH_ALL', 'CMD_SYNC']);
    const s = m.smmu.statistics().caches;
    expect([s.tlb.entries, s.ste.entries, s.cd.entries]).toEqual([0, 0, 0]);
  });

  it('invalidates the whole ASID on a full flush', () => {
    const { m, domain, p } = setup();
    const cmds = commandsOf(m, () => m.kernel.iommu.flushIotlbAll(domain));
    expect(cmds.map((c) => c.name)).toEqual(['CMD_TLBI_NH_ASID', 'CMD_SYNC']);
    expect(cmds[0].fields.ASID).toBe(BigInt(p.asid));
  });
});

describe('SMMUv3 driver: stage-2 invalidation', () => {
  function s2(o: SmmuV3MachineOptions = {}) {
    const m = new SmmuV3Machine(o);
    const domain = allocPagingDomain(m.driver, DomainType.Unmanaged, 2);
    if (typeof domain === 'string') throw new Error(domain);
    m.kernel.iommu.attachDevice(domain, m.engineDevice);
    return { m, domain, vmid: BigInt((domain.driverData as SmmuPagingDomain).vmid) };
  }

  it('invalidates by IPA (CMD_TLBI_S2_IPA) and by VMID (CMD_TLBI_S12_VMALL)', () => {
    const { m, domain, vmid } = s2();
    const core = m.kernel.iommu;
    core.map(domain, 0x1_0000n, 0x8001_0000n, 0x2000n, RW);
    expect(m.translate(ENGINE_SID, 0x1_1000n)).toEqual({ address: 0x8001_1000n });
    let cmds = commandsOf(m, () => core.unmap(domain, 0x1_1000n, 0x1000n));
    expect(cmds.map((c) => c.name)).toEqual(['CMD_TLBI_S2_IPA', 'CMD_SYNC']);
    // One granule with its level: NUM = SCALE = 0 is allowed with TTL.
    expect(cmds[0].fields).toMatchObject({ VMID: vmid, Addr: 0x11n, Leaf: 1n, TG: 1n, TTL: 3n, NUM: 0n, SCALE: 0n });
    expect(m.translate(ENGINE_SID, 0x1_1000n)).toMatchObject({ event: 'F_TRANSLATION' });
    cmds = commandsOf(m, () => core.flushIotlbAll(domain));
    expect(cmds.map((c) => [c.name, c.fields.VMID])).toEqual([
      ['CMD_TLBI_S12_VMALL', vmid],
      ['CMD_SYNC', undefined],
    ]);
  });

  it('without RIL: one CMD_TLBI_S2_IPA per leaf, the VMID past the threshold', () => {
    const { m, domain, vmid } = s2({ smmu: { capabilities: { ril: false } } });
    const core = m.kernel.iommu;
    core.map(domain, 0x1_0000n, 0x8001_0000n, 0x3000n, RW);
    let cmds = commandsOf(m, () => core.unmap(domain, 0x1_0000n, 0x3000n));
    expect(cmds.map((c) => [c.name, c.fields.Addr])).toEqual([
      ['CMD_TLBI_S2_IPA', 0x10n],
      ['CMD_TLBI_S2_IPA', 0x11n],
      ['CMD_TLBI_S2_IPA', 0x12n],
      ['CMD_SYNC', undefined],
    ]);
    core.map(domain, 0x100_1000n, 0x8100_1000n, 0x20_0000n, RW);
    cmds = commandsOf(m, () => core.unmap(domain, 0x100_1000n, 0x20_0000n));
    expect(cmds.map((c) => [c.name, c.fields.VMID])).toEqual([
      ['CMD_TLBI_S12_VMALL', vmid],
      ['CMD_SYNC', undefined],
    ]);
  });
});
