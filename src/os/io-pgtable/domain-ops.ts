// The page-table half of a paging domain's operations, the same for every driver whose domains
// own an io-pgtable (Linux's iommu_domain_ops calling io_pgtable_ops): map and unmap go to the
// table, unmap leaves what to invalidate in the gather, and a map that freed tables (a leaf
// replacing an emptied table) invalidates at once, since the IOMMU may still walk them.

import { IotlbGather, type DomainOps, type IommuDomain } from '../core/types.js';

/** What a page-table builder offers a domain (RiscvIoPgtable, ArmLpaeIoPgtable). */
export interface IoPgtable {
  map(iovaPage: number, page: number, pageLog2: number, count: number, prot: number, gather: IotlbGather): number;
  unmap(iovaPage: number, pageLog2: number, count: number, gather: IotlbGather): number;
  iovaToPhys(iova: bigint): bigint | null;
}

/**
 * Domain operations over `of(domain).pgtable`: the driver gives how to find its data, how to
 * invalidate a gather (and wait), and its own attach, flush-all and free.
 */
export function pgtableDomainOps<D extends { readonly pgtable: IoPgtable }>(
  of: (domain: IommuDomain) => D,
  sync: (d: D, gather: IotlbGather) => void,
  driver: Required<Pick<DomainOps, 'attachDev' | 'flushIotlbAll' | 'free'>>,
): DomainOps {
  return {
    ...driver,
    mapPages(domain, iovaPage, page, pageLog2, count, prot) {
      const d = of(domain);
      const gather = new IotlbGather();
      const mapped = d.pgtable.map(iovaPage, page, pageLog2, count, prot, gather);
      if (gather.freelist.length > 0) sync(d, gather);
      return mapped;
    },
    unmapPages(domain, iovaPage, pageLog2, count, gather) {
      return of(domain).pgtable.unmap(iovaPage, pageLog2, count, gather);
    },
    iotlbSync(domain, gather) {
      sync(of(domain), gather);
    },
    iovaToPhys(domain, iova) {
      return of(domain).pgtable.iovaToPhys(iova);
    },
  };
}
