// Attaching domains on the SMMUv3 driver, read back from memory: the STE and CD of a stage-1
// domain (IHI 0070 5.2, 5.4, after Linux's arm_smmu_make_cdtable_ste / arm_smmu_make_s1_cd),
// the stage-2 STE, bypass and abort STEs for the identity and blocked domains; STE and CD
// updates in the safe order of 3.21.3 (Linux arm_smmu_write_entry: hitless when one used
// doubleword changes, V = 0 first otherwise, CMD_CFGI_* and CMD_SYNC after every step); CD
// tables, linear or 2-level; ASIDs and VMIDs; release.

import { describe, expect, it } from 'vitest';
import { encodeU32s, type DeviceTree } from '../../../../src/formats/devicetree/tree.js';
import { decodeCd, decodeSte, L1cdLayout, S1Dss, S1Fmt, SteConfig } from '../../../../src/formats/smmuv3/structures.js';
import { decode } from '../../../../src/formats/bitfield.js';
import { Reg } from '../../../../src/formats/smmuv3/registers.js';
import { DomainType, Prot } from '../../../../src/os/core/types.js';
import { allocPagingDomain, SmmuPagingDomain, type ArmSmmuV3Device } from '../../../../src/os/drivers/arm-smmu-v3/index.js';
import type { Device } from '../../../../src/os/driver-model/device.js';
import type { IommuDomain } from '../../../../src/os/core/types.js';
import { ARM_LPAE_MAIR } from '../../../../src/os/io-pgtable/arm-lpae.js';
import { ENGINE_SID, SmmuV3Machine } from '../../../support/smmuv3-machine.js';

function paging(domain: IommuDomain | null): SmmuPagingDomain {
  if (domain === null || !(domain.driverData instanceof SmmuPagingDomain)) throw new Error('not an SMMUv3 paging domain');
  return domain.driverData;
}

function ste(d: ArmSmmuV3Device, sid: number) {
  return decodeSte(d.readSte(sid)!);
}

function s2Domain(m: SmmuV3Machine): IommuDomain {
  const domain = allocPagingDomain(m.driver, DomainType.Unmanaged, 2);
  if (typeof domain === 'string') throw new Error(domain);
  return domain;
}

describe('SMMUv3 driver: stage-1 domains (5.2, 5.4)', () => {
  it('points the STE at the device\'s CD table and CD 0 at the domain\'s table and ASID', () => {
    const m = new SmmuV3Machine();
    const d = m.driver;
    const dev = m.engineDevice;
    const domain = m.kernel.iommu.domainOf(dev)!;
    const p = paging(domain);
    expect(domain.type).toBe(DomainType.Dma);
    const table = d.master(dev)!.cdTable!;
    expect(ste(d, ENGINE_SID)).toMatchObject({
      V: 1n,
      Config: BigInt(SteConfig.S1Translate),
      S1Fmt: BigInt(S1Fmt.Linear),
      S1ContextPtr: table.baseAddress >> 6n,
      S1CDMax: 0n,
      S1DSS: BigInt(S1Dss.Substream0),
      S1CIR: 1n,
      S1COR: 1n,
      S1CSH: 3n,
      S1STALLD: 0n, // the model's stall model is terminate-only: S1STALLD would be ILLEGAL
      EATS: 0n,
      STRW: 0n,
      S2VMID: 0n,
    });
    expect(decodeCd(d.readCd(dev)!)).toMatchObject({
      V: 1n,
      T0SZ: 16n, // 48-bit input
      TG0: 0n,
      IR0: 1n,
      OR0: 1n,
      SH0: 3n,
      EPD0: 0n,
      EPD1: 1n,
      ENDI: 0n,
      IPS: 5n, // 48-bit IPA
      AA64: 1n,
      R: 1n,
      A: 1n,
      ASET: 1n,
      ASID: BigInt(p.asid),
      TTB0: p.pgtable.rootAddress >> 4n,
      MAIR0: ARM_LPAE_MAIR & 0xffff_ffffn,
      MAIR1: ARM_LPAE_MAIR >> 32n,
    });
    expect(p.asid).toBe(1);
    expect(domain.pageSizes).toEqual([12, 21, 30]);
    expect(domain.geometry).toEqual({ start: 0n, end: (1n << 48n) - 1n });
  });

  it('moves between identity, blocked and paging domains with hitless or breaking STE updates', () => {
    // Snapshots of the STE each time the driver writes CMDQ_PROD (what the SMMU may see then).
    let onProd: (() => void) | null = null;
    const m = new SmmuV3Machine({
      wrapRegisters: (model) => ({
        mmioRead: (off, size) => model.mmioRead(off, size),
        mmioWrite: (off, size, v) => {
          if (off === Reg.CMDQ_PROD) onProd?.();
          model.mmioWrite(off, size, v);
        },
      }),
    });
    const d = m.driver;
    const core = m.kernel.iommu;
    const dev = m.engineDevice;
    const dma = core.domainOf(dev)!;
    core.map(dma, 0x5000n, 0x8050_0000n, 0x1000n, Prot.READ);
    expect(m.translate(ENGINE_SID, 0x5000n)).toEqual({ address: 0x8050_0000n });

    // Stage 1 -> bypass: only doubleword 0 changes a used bit (hitless, 3.21.3): the critical
    // doubleword, then the clean-up of bits bypass does not use; CD 0 is cleared after.
    let mark = m.commandMark;
    core.attachDevice(core.staticDomain(dev, DomainType.Identity), dev);
    expect(m.commandNamesSince(mark)).toEqual(['CMD_CFGI_STE', 'CMD_SYNC', 'CMD_CFGI_STE', 'CMD_SYNC', 'CMD_PREFETCH_CONFIG', 'CMD_CFGI_CD', 'CMD_SYNC', 'CMD_CFGI_CD', 'CMD_SYNC']);
    const cfgi = m.commandsSince(mark)[0].fields;
    expect([cfgi.StreamID, cfgi.Leaf]).toEqual([BigInt(ENGINE_SID), 1n]);
    expect(d.readSte(ENGINE_SID)!.map((w, i) => (i === 0 ? w : w === 0n))).toEqual([BigInt(1 | (SteConfig.Bypass << 1)), true, true, true, true, true, true, true]);
    expect(decodeCd(d.readCd(dev)!).V).toBe(0n);
    expect(m.translate(ENGINE_SID, 0x8765_4320n)).toEqual({ address: 0x8765_4320n });

    // Bypass -> blocked: abort STE, transactions terminate without an event.
    core.detachDevice(core.staticDomain(dev, DomainType.Identity), dev);
    core.attachDevice(core.staticDomain(dev, DomainType.Blocked), dev);
    expect(ste(d, ENGINE_SID)).toMatchObject({ V: 1n, Config: BigInt(SteConfig.Abort), S1ContextPtr: 0n });
    expect(m.translate(ENGINE_SID, 0x5000n)).toEqual({ event: 'none', reason: '' });

    // Blocked -> the default stage-1 domain again: translation resumes.
    core.detachDevice(core.staticDomain(dev, DomainType.Blocked), dev);
    expect(ste(d, ENGINE_SID).Config).toBe(BigInt(SteConfig.S1Translate));
    expect(m.translate(ENGINE_SID, 0x5000n)).toEqual({ address: 0x8050_0000n });

    // Stage 1 -> stage 2: doublewords 0 and 2 change used bits, so the update breaks the STE
    // (V = 0 first), writes doublewords 1..7, then doubleword 0 with V = 1.
    const s2 = s2Domain(m);
    const writes: bigint[][] = [];
    onProd = () => writes.push(d.readSte(ENGINE_SID)!);
    mark = m.commandMark;
    core.attachDevice(s2, dev);
    onProd = null;
    expect(m.commandNamesSince(mark).slice(0, 7)).toEqual(['CMD_CFGI_STE', 'CMD_SYNC', 'CMD_CFGI_STE', 'CMD_SYNC', 'CMD_CFGI_STE', 'CMD_SYNC', 'CMD_PREFETCH_CONFIG']);
    // The SMMU saw V = 0 while doublewords 1..7 changed (the step before the first CMD_CFGI_STE).
    expect(writes[0][0] & 1n).toBe(0n);
    expect(decodeSte(writes[2]).V).toBe(0n);
    expect(decodeSte(writes[2]).S2VMID).toBe(BigInt(paging(s2).vmid));
    expect(decodeSte(writes[4]).V).toBe(1n);
  });

  it('uses a 2-level CD table (64 KiB leaves) when the device has many SubstreamIDs and the SMMU has CD2L', () => {
    const withPasids = (dt: DeviceTree) => dt.find('/soc/dma-controller@3020000')!.set('pasid-num-bits', encodeU32s([16]));
    const m = new SmmuV3Machine({ editTree: withPasids });
    const d = m.driver;
    const dev = m.engineDevice;
    const table = d.master(dev)!.cdTable!;
    expect(ste(d, ENGINE_SID)).toMatchObject({ S1Fmt: BigInt(S1Fmt.TwoLevel64K), S1CDMax: 16n, S1ContextPtr: table.baseAddress >> 6n });
    // L1CD 0 points at the level-2 table holding CD 0; the others stay invalid.
    const l1 = (i: number) => decode(L1cdLayout, m.memory.read(table.baseAddress + BigInt(8 * i), 8));
    expect(l1(0).V).toBe(1n);
    expect(l1(0).L2Ptr << 12n).toBe(table.cdAddress(0));
    expect(l1(1).V).toBe(0n);
    // The new L1CD was invalidated with the non-leaf CMD_CFGI_CD (an invalid one may be cached).
    const cfgiCd = m.commandsSince(0).filter((c) => c.name === 'CMD_CFGI_CD');
    expect(cfgiCd[0].fields.Leaf).toBe(0n);
    expect(cfgiCd.slice(1).every((c) => c.fields.Leaf === 1n)).toBe(true);
    // Transactions without a PASID use CD 0 (S1DSS = 0b10).
    m.kernel.iommu.map(m.kernel.iommu.domainOf(dev)!, 0x3000n, 0x8030_0000n, 0x1000n, Prot.READ);
    expect(m.translate(ENGINE_SID, 0x3000n)).toEqual({ address: 0x8030_0000n });

    // Without CD2L the table is linear, capped at 2^10 CDs (Linux CTXDESC_LINEAR_CDMAX).
    const linear = new SmmuV3Machine({ editTree: withPasids, smmu: { capabilities: { twoLevelCdTable: false } } });
    expect(ste(linear.driver, ENGINE_SID)).toMatchObject({ S1Fmt: BigInt(S1Fmt.Linear), S1CDMax: 10n });
    linear.kernel.iommu.map(linear.kernel.iommu.domainOf(linear.engineDevice)!, 0x3000n, 0x8030_0000n, 0x1000n, Prot.READ);
    expect(linear.translate(ENGINE_SID, 0x3000n)).toEqual({ address: 0x8030_0000n });
  });
});

describe('SMMUv3 driver: passthrough default domains', () => {
  it('gives devices the identity domain (a bypass STE, no CD table) when the policy says passthrough', () => {
    const m = new SmmuV3Machine({ policy: { defaultDomain: 'passthrough' } });
    const d = m.driver;
    expect(m.kernel.iommu.domainOf(m.engineDevice)?.type).toBe(DomainType.Identity);
    expect(ste(d, ENGINE_SID)).toMatchObject({ V: 1n, Config: BigInt(SteConfig.Bypass) });
    expect(d.master(m.engineDevice)!.cdTable).toBeNull();
    expect(m.translate(ENGINE_SID, 0x8123_4567n)).toEqual({ address: 0x8123_4567n });
  });
});

describe('SMMUv3 driver: stage-2 domains', () => {
  it('writes the VMID, the VTCR fields and S2TTB into the STE, and clears CD 0', () => {
    const m = new SmmuV3Machine();
    const d = m.driver;
    const core = m.kernel.iommu;
    const dev = m.engineDevice;
    const domain = s2Domain(m);
    const p = paging(domain);
    core.attachDevice(domain, dev);
    expect(p.vmid).toBe(1);
    expect(ste(d, ENGINE_SID)).toMatchObject({
      V: 1n,
      Config: BigInt(SteConfig.S2Translate),
      S2VMID: 1n,
      S2T0SZ: BigInt(p.pgtable.control.t0sz),
      S2SL0: BigInt(p.pgtable.control.sl0!),
      S2TG: 0n,
      S2PS: 5n,
      S2IR0: 1n,
      S2OR0: 1n,
      S2SH0: 3n,
      S2AA64: 1n,
      S2ENDI: 0n,
      S2PTW: 1n,
      S2R: 1n,
      S2TTB: p.pgtable.rootAddress >> 4n,
      EATS: 0n,
    });
    expect(decodeCd(d.readCd(dev)!).V).toBe(0n);
    core.map(domain, 0x4000_0000n, 0x8000_0000n, 0x20_0000n, Prot.READ | Prot.WRITE);
    expect(m.translate(ENGINE_SID, 0x4001_2344n, { write: true })).toEqual({ address: 0x8001_2344n });
    // Back to the default stage-1 domain.
    core.detachDevice(domain, dev);
    expect(ste(d, ENGINE_SID).Config).toBe(BigInt(SteConfig.S1Translate));
    expect(decodeCd(d.readCd(dev)!).V).toBe(1n);
  });

  it('allocates stage-2 domains when told to, and when the SMMU has no stage 1', () => {
    const told = new SmmuV3Machine({ driver: { domainStage: 's2' } });
    expect(paging(told.kernel.iommu.domainOf(told.engineDevice)).stage).toBe(2);
    expect(ste(told.driver, ENGINE_SID).Config).toBe(BigInt(SteConfig.S2Translate));
    const noS1 = new SmmuV3Machine({ smmu: { capabilities: { stage1: false, hyp: false, ssidBits: 0, twoLevelCdTable: false } } });
    expect(paging(noS1.kernel.iommu.domainOf(noS1.engineDevice)).stage).toBe(2);
    expect(allocPagingDomain(noS1.driver, DomainType.Unmanaged, 1)).toMatch(/no stage 1 translation \(IDR0\.S1P == 0\)/);
    const noS2 = new SmmuV3Machine({ smmu: { capabilities: { stage2: false } }, driver: { domainStage: 's2' } });
    expect(noS2.engineDevice.reason).toMatch(/no stage 2 translation \(IDR0\.S2P == 0\)/);
  });
});

describe('SMMUv3 driver: ASIDs and VMIDs', () => {
  it('hands out the lowest free id, runs out at 8 bits, and invalidates an id before reusing it', () => {
    const m = new SmmuV3Machine({ smmu: { capabilities: { asid16: false, vmid16: false } } });
    const d = m.driver;
    const core = m.kernel.iommu;
    const dev = m.engineDevice;
    const made: IommuDomain[] = [];
    for (;;) {
      const x = allocPagingDomain(d, DomainType.Unmanaged, 1);
      if (typeof x === 'string') {
        expect(x).toBe('out of ASIDs (8-bit)');
        break;
      }
      made.push(x);
    }
    // ASID 1 is the default domain's; 2..255 are these.
    expect(made.map((x) => paging(x).asid)).toEqual(Array.from({ length: 254 }, (_, i) => i + 2));
    const used = made[3];
    core.attachDevice(used, dev);
    core.detachDevice(used, dev);
    const mark = m.commandMark;
    core.domainFree(used);
    // The freed ASID's TLB entries go before the ASID can be given out again.
    const cmds = m.commandsSince(mark);
    expect(cmds.map((c) => c.name)).toEqual(['CMD_TLBI_NH_ASID', 'CMD_SYNC']);
    expect(cmds[0].fields.ASID).toBe(5n);
    core.domainFree(made[1]); // never attached: nothing to invalidate
    expect(m.commandNamesSince(mark).length).toBe(2);
    expect(paging(allocPagingDomain(d, DomainType.Unmanaged, 1) as IommuDomain).asid).toBe(3);
    expect(paging(allocPagingDomain(d, DomainType.Unmanaged, 1) as IommuDomain).asid).toBe(5);
    const vmids = [s2Domain(m), s2Domain(m)].map((x) => paging(x).vmid);
    expect(vmids).toEqual([1, 2]);
  });
});

describe('SMMUv3 driver: release', () => {
  it('puts the STEs back to abort and frees the CD table when a device goes away', () => {
    const m = new SmmuV3Machine({ endpoints: [{ name: 'ep', sids: [0x40, 0x41] }] });
    const d = m.driver;
    const ep: Device = m.endpoint('ep');
    expect([0x40, 0x41].map((sid) => ste(d, sid).Config)).toEqual([BigInt(SteConfig.S1Translate), BigInt(SteConfig.S1Translate)]);
    const pagesBefore = m.kernel.pages.stats.allocatedPages;
    d.ops.releaseDevice?.(ep);
    expect([0x40, 0x41].map((sid) => ste(d, sid))).toEqual([expect.objectContaining({ V: 1n, Config: 0n }), expect.objectContaining({ V: 1n, Config: 0n })]);
    expect(d.master(ep)).toBeNull();
    expect(d.deviceFor(0x40)).toBeNull();
    expect(m.kernel.pages.stats.allocatedPages).toBe(pagesBefore - 1);
  });
});
