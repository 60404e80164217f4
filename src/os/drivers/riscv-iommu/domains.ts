// The domains of a RISC-V IOMMU: paging domains (a first-stage page table and a PSCID, the
// device context's iosatp pointing at the table), the identity domain (a valid context with
// iosatp Bare) and the blocked domain (an invalid context: every request faults with cause
// 258, "DDT entry not valid").

import { IosatpMode } from '../../../formats/riscv-iommu/structures.js';
import type { Device } from '../../driver-model/device.js';
import { IommuDomain, type DomainOps, type DomainTypeValue } from '../../core/types.js';
import { pgtableDomainOps } from '../../io-pgtable/domain-ops.js';
import { RiscvIoPgtable, type RiscvPgtableModeName } from '../../io-pgtable/riscv.js';
import { RiscvIommuError } from './errors.js';
import type { RiscvIommuDevice } from './iommu.js';

/** Leaf sizes of paging domains: 4 KiB, 2 MiB, 1 GiB. */
export const PAGE_SIZES: readonly number[] = [12, 21, 30];

export class RiscvPagingDomain {
  /** Devices whose contexts point at this domain now (invalidations go out only when any). */
  readonly attached = new Set<Device>();

  constructor(
    readonly iommu: RiscvIommuDevice,
    readonly mode: RiscvPgtableModeName,
    readonly pgtable: RiscvIoPgtable,
    readonly pscid: number,
  ) {}

  /** DC.fsc: iosatp with the mode and the root table. */
  get iosatp(): bigint {
    return (BigInt(IosatpMode[this.mode]) << 60n) | BigInt(this.pgtable.root);
  }
}

function paging(domain: IommuDomain): RiscvPagingDomain {
  const d = domain.driverData;
  if (!(d instanceof RiscvPagingDomain)) throw new RiscvIommuError(`${domain.name} is not a RISC-V IOMMU paging domain`);
  return d;
}

function owner(domain: IommuDomain): RiscvIommuDevice {
  return domain.driverData as RiscvIommuDevice;
}

export const pagingDomainOps: DomainOps = pgtableDomainOps(paging, (d, gather) => d.iommu.iotlbSync(d, gather), {
  attachDev(domain: IommuDomain, dev: Device): string | null {
    const d = paging(domain);
    return d.iommu.updateContexts(dev, domain, { valid: true, fsc: d.iosatp, pscid: d.pscid }, d);
  },
  flushIotlbAll(domain: IommuDomain): void {
    const d = paging(domain);
    d.iommu.flushPscid(d);
  },
  free(domain: IommuDomain): void {
    const d = paging(domain);
    d.pgtable.destroy();
    d.iommu.pscids.free(d.pscid);
    domain.driverData = null;
  },
});

export const identityDomainOps: DomainOps = {
  attachDev(domain: IommuDomain, dev: Device): string | null {
    return owner(domain).updateContexts(dev, domain, { valid: true, fsc: 0n, pscid: 0 }, null);
  },
};

export const blockedDomainOps: DomainOps = {
  attachDev(domain: IommuDomain, dev: Device): string | null {
    return owner(domain).updateContexts(dev, domain, { valid: false, fsc: 0n, pscid: 0 }, null);
  },
};

/**
 * A paging domain in the widest first-stage mode the IOMMU offers, with a fresh PSCID; its
 * aperture is the lower half of the mode's address space (upper-half IOVAs would need sign
 * extension that DMA addresses do not have).
 */
export function allocPagingDomain(iommu: RiscvIommuDevice, type: DomainTypeValue): IommuDomain | string {
  const mode = iommu.firstStage;
  if (mode === null) return 'the IOMMU offers no first-stage mode (Sv39, Sv48 or Sv57)';
  const pscid = iommu.pscids.alloc();
  if (pscid === null) return 'out of PSCIDs';
  const kernel = iommu.kernel;
  let pgtable: RiscvIoPgtable;
  try {
    pgtable = new RiscvIoPgtable({
      mode,
      memory: kernel.memory,
      allocTable: () => kernel.pages.allocPages(1),
      freeTable: (page) => kernel.pages.freePages(page),
      hardwareAd: iommu.caps.amoHwad,
      svpbmt: iommu.caps.svpbmt,
    });
  } catch (e) {
    iommu.pscids.free(pscid);
    return `cannot allocate a page-table root: ${(e as Error).message}`;
  }
  const data = new RiscvPagingDomain(iommu, mode, pgtable, pscid);
  const end = (1n << BigInt(pgtable.vaBits - 1)) - 1n;
  const domain = new IommuDomain(type, pagingDomainOps, iommu, PAGE_SIZES, { start: 0n, end }, `${iommu.name} ${mode} PSCID ${pscid}`);
  domain.driverData = data;
  return domain;
}
