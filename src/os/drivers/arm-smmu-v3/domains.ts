// The domains of an SMMUv3 (after Linux's arm_smmu_domain): paging domains translate at stage 1
// (a CD with the table in TTB0 and an ASID; Linux's default) or at stage 2 (the STE's S2TTB and
// a VMID; when asked, or when the SMMU has no stage 1), both with VMSAv8-64 tables from the
// io-pgtable builder; the identity domain is a bypass STE, the blocked domain an abort STE.

import type { Device } from '../../driver-model/device.js';
import { IommuDomain, type DomainOps, type DomainTypeValue } from '../../core/types.js';
import { pgtableDomainOps } from '../../io-pgtable/domain-ops.js';
import { ArmLpaeIoPgtable } from '../../io-pgtable/arm-lpae.js';
import { ArmSmmuV3Error } from './errors.js';
import { domainGranule } from './features.js';
import type { ArmSmmuV3Device } from './iommu.js';
import type { SmmuMaster } from './master.js';

export type SmmuStage = 1 | 2;

/** Input address size of stage-1 domains: Linux caps it at the CPU's VA_BITS (48). */
export const S1_INPUT_BITS = 48;

export class SmmuPagingDomain {
  /** Masters whose STEs point at this domain (Linux smmu_domain->devices): invalidations go to them. */
  readonly masters = new Set<SmmuMaster>();
  /** Whether a master was ever attached: the ASID or VMID may then have TLB entries. */
  everAttached = false;

  constructor(
    readonly iommu: ArmSmmuV3Device,
    readonly stage: SmmuStage,
    readonly pgtable: ArmLpaeIoPgtable,
    /** The ASID (stage 1) or VMID (stage 2). */
    readonly id: number,
  ) {}

  get asid(): number {
    return this.stage === 1 ? this.id : 0;
  }

  get vmid(): number {
    return this.stage === 2 ? this.id : 0;
  }

  /** Whether any attached master has ATS enabled (Linux nr_ats_masters). */
  get atsMasters(): number {
    let n = 0;
    for (const m of this.masters) if (m.atsEnabled) n++;
    return n;
  }
}

export function pagingOf(domain: IommuDomain): SmmuPagingDomain {
  const d = domain.driverData;
  if (!(d instanceof SmmuPagingDomain)) throw new ArmSmmuV3Error(`${domain.name} is not an SMMUv3 paging domain`);
  return d;
}

export const pagingDomainOps: DomainOps = pgtableDomainOps(pagingOf, (d, gather) => d.iommu.iotlbSync(d, gather), {
  attachDev(domain: IommuDomain, dev: Device): string | null {
    const d = pagingOf(domain);
    return d.iommu.attachPaging(dev, domain, d);
  },
  flushIotlbAll(domain: IommuDomain): void {
    const d = pagingOf(domain);
    d.iommu.flushDomain(d);
  },
  free(domain: IommuDomain): void {
    const d = pagingOf(domain);
    d.iommu.freeDomain(d);
    domain.driverData = null;
  },
});

export const identityDomainOps: DomainOps = {
  attachDev(domain: IommuDomain, dev: Device): string | null {
    return (domain.driverData as ArmSmmuV3Device).attachStatic(dev, domain, 'bypass');
  },
};

export const blockedDomainOps: DomainOps = {
  attachDev(domain: IommuDomain, dev: Device): string | null {
    return (domain.driverData as ArmSmmuV3Device).attachStatic(dev, domain, 'abort');
  },
};

/**
 * A paging domain at `stage` (Linux arm_smmu_domain_finalise): stage 1 has a 48-bit input
 * space and outputs the SMMU's IAS, stage 2 maps the IAS to the OAS; the granule is 4 KiB when
 * the SMMU has it. Each takes the lowest free ASID (from 1) or VMID (from 1; VMID 0 belongs
 * to stage-1 STEs).
 */
export function allocPagingDomain(iommu: ArmSmmuV3Device, type: DomainTypeValue, stage: SmmuStage): IommuDomain | string {
  const f = iommu.features;
  if (stage === 1 && !f.stage1) return 'the SMMU has no stage 1 translation (IDR0.S1P == 0)';
  if (stage === 2 && !f.stage2) return 'the SMMU has no stage 2 translation (IDR0.S2P == 0)';
  const ids = stage === 1 ? iommu.asids : iommu.vmids;
  const id = ids.alloc();
  if (id === null) return `out of ${stage === 1 ? `ASIDs (${f.asidBits}-bit)` : `VMIDs (${f.vmidBits}-bit)`}`;
  const kernel = iommu.kernel;
  let pgtable: ArmLpaeIoPgtable;
  try {
    pgtable = new ArmLpaeIoPgtable({
      format: stage === 1 ? 'ARM_64_LPAE_S1' : 'ARM_64_LPAE_S2',
      granuleLog2: domainGranule(f),
      ias: stage === 1 ? S1_INPUT_BITS : f.iasBits,
      oas: stage === 1 ? f.iasBits : f.oasBits,
      memory: kernel.memory,
      allocTable: (pages) => kernel.pages.allocPages(pages, pages),
      freeTable: (page, pages) => kernel.pages.freePages(page, pages),
      coherentWalk: iommu.coherent,
    });
  } catch (e) {
    ids.free(id);
    return `cannot create the page table: ${(e as Error).message}`;
  }
  const data = new SmmuPagingDomain(iommu, stage, pgtable, id);
  const end = (1n << BigInt(pgtable.ias)) - 1n;
  const name = `${iommu.name} stage-${stage} ${stage === 1 ? 'ASID' : 'VMID'} ${id}`;
  const domain = new IommuDomain(type, pagingDomainOps, iommu, pgtable.pageSizes, { start: 0n, end }, name);
  domain.driverData = data;
  return domain;
}
