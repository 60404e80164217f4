// The IOMMU core's vocabulary, after Linux's: IOMMU instances and the operations a driver
// provides, domains (address spaces) of the kinds Linux has, groups, the invalidation gather,
// and faults reported up to domain owners.

import type { DtNode } from '../../formats/devicetree/tree.js';
import type { Device } from '../driver-model/device.js';

/** Mapping permissions (Linux IOMMU_READ, IOMMU_WRITE, ...). */
export const Prot = {
  READ: 1,
  WRITE: 2,
  CACHE: 4,
  NOEXEC: 8,
  MMIO: 16,
  PRIV: 32,
} as const;

export const DomainType = {
  /** Every access is blocked. */
  Blocked: 'blocked',
  /** Addresses pass through untranslated. */
  Identity: 'identity',
  /** A paging domain a caller manages directly (VFIO-style). */
  Unmanaged: 'unmanaged',
  /** A paging domain owned by the DMA API, invalidating at once (strict). */
  Dma: 'dma',
  /** A paging domain owned by the DMA API, invalidating through a flush queue (lazy). */
  DmaFq: 'dma-fq',
} as const;
export type DomainTypeValue = (typeof DomainType)[keyof typeof DomainType];

export function isPaging(type: DomainTypeValue): boolean {
  return type === DomainType.Unmanaged || type === DomainType.Dma || type === DomainType.DmaFq;
}

/**
 * What an unmap leaves for the invalidation that follows (Linux iommu_iotlb_gather): the
 * range of pages to invalidate, the page size used, and page-table pages to free only after
 * the IOMMU can no longer walk them.
 */
export class IotlbGather {
  /** First and one-past-last page number (4 KiB units) to invalidate; start > end when empty. */
  start = Number.POSITIVE_INFINITY;
  end = 0;
  /** log2 of the largest page size unmapped (bytes). */
  pageLog2 = 0;
  /**
   * log2 of the smallest page size unmapped (bytes); Infinity when nothing was. Equal to
   * pageLog2 when every leaf had one size, which lets an invalidation name their level.
   */
  minPageLog2 = Number.POSITIVE_INFINITY;
  /** Page-table pages (physical page numbers) to free after the invalidation. */
  readonly freelist: number[] = [];

  get empty(): boolean {
    return this.start >= this.end;
  }

  add(firstPage: number, pages: number, pageLog2: number): void {
    if (firstPage < this.start) this.start = firstPage;
    if (firstPage + pages > this.end) this.end = firstPage + pages;
    if (pageLog2 > this.pageLog2) this.pageLog2 = pageLog2;
    if (pageLog2 < this.minPageLog2) this.minPageLog2 = pageLog2;
  }

  reset(): void {
    this.start = Number.POSITIVE_INFINITY;
    this.end = 0;
    this.pageLog2 = 0;
    this.minPageLog2 = Number.POSITIVE_INFINITY;
    this.freelist.length = 0;
  }
}

export interface IommuFault {
  /** The device whose transaction faulted, when the IOMMU could tell. */
  device: Device | null;
  /** The faulting input address. */
  iova: bigint;
  read: boolean;
  write: boolean;
  exec: boolean;
  privileged: boolean;
  /** PASID / process_id, when the transaction carried one. */
  pasid: number | null;
  /** The hardware's cause code and its meaning. */
  cause: number;
  reason: string;
  /** The IOMMU that reported it. */
  iommu: string;
}

/** A domain owner's fault handler; return true when the fault was handled. */
export type FaultHandler = (fault: IommuFault, domain: IommuDomain) => boolean;

/** What a driver implements for its domains (Linux iommu_domain_ops). */
export interface DomainOps {
  /** Points `dev`'s translation at this domain. Returns an error message on failure. */
  attachDev(domain: IommuDomain, dev: Device): string | null;
  /**
   * Maps `count` pages of 2^pageLog2 bytes at page numbers (4 KiB units) `iovaPage` and `page`.
   * Returns how many were mapped (fewer on failure; the core then unmaps them).
   */
  mapPages?(domain: IommuDomain, iovaPage: number, page: number, pageLog2: number, count: number, prot: number): number;
  /**
   * Called once after a whole map succeeded (Linux iotlb_sync_map): drivers that queue their
   * map operations (paravirtual IOMMUs) complete them here. An error message makes the core
   * unmap the range and fail the map.
   */
  iotlbSyncMap?(domain: IommuDomain, iovaPage: number, pages: number): string | null;
  /** Unmaps up to `count` pages of 2^pageLog2 bytes; records what to invalidate in `gather`. Returns bytes unmapped. */
  unmapPages?(domain: IommuDomain, iovaPage: number, pageLog2: number, count: number, gather: IotlbGather): number;
  /** Invalidates what `gather` collected, and waits for the invalidation to complete. */
  iotlbSync?(domain: IommuDomain, gather: IotlbGather): void;
  /** Invalidates every translation of the domain. */
  flushIotlbAll?(domain: IommuDomain): void;
  /** The physical address `iova` maps to, or null. */
  iovaToPhys?(domain: IommuDomain, iova: bigint): bigint | null;
  /** Releases the domain's resources (page tables, address-space ids). */
  free?(domain: IommuDomain): void;
}

export interface DomainGeometry {
  /** First and last input address the domain can translate. */
  start: bigint;
  end: bigint;
}

export class IommuDomain {
  /** Devices currently attached. */
  readonly devices = new Set<Device>();
  faultHandler: FaultHandler | null = null;
  /** Whatever the owning driver keeps (page-table root, address-space id, ...). */
  driverData: unknown = undefined;
  readonly stats = { mapCalls: 0, unmapCalls: 0, pagesMapped: 0, pagesUnmapped: 0, syncs: 0, flushes: 0, faults: 0 };

  constructor(
    readonly type: DomainTypeValue,
    readonly ops: DomainOps,
    /** The IOMMU this domain belongs to (null for domains shared by every instance). */
    readonly iommu: IommuInstance | null,
    /** Page sizes the domain can map, as log2 of bytes, ascending (e.g. 12, 21, 30). */
    readonly pageSizes: readonly number[] = [],
    readonly geometry: DomainGeometry = { start: 0n, end: 0n },
    /** A name for logs and reports. */
    readonly name: string = type,
  ) {}
}

/** What an IOMMU driver implements for its instance (Linux iommu_ops). */
export interface IommuOps {
  /** Adds the device's IDs from an `iommus`/`iommu-map` specifier. Returns an error message or null. */
  ofXlate(dev: Device, args: readonly number[]): string | null;
  /** Sets the device up for translation (e.g. its directory entries). Error message or null. */
  probeDevice(dev: Device): string | null;
  releaseDevice?(dev: Device): void;
  /** Devices with equal keys share an IOMMU group; default: one group per device. */
  deviceGroup?(dev: Device): string;
  /** A new paging domain for devices like `dev`, or an error message. */
  domainAllocPaging(dev: Device, type: DomainTypeValue): IommuDomain | string;
  identityDomain?: IommuDomain;
  blockedDomain?: IommuDomain;
  /** A default-domain type this IOMMU requires for `dev`, overriding the policy. */
  defDomainType?(dev: Device): DomainTypeValue | null;
}

/** A registered IOMMU (Linux iommu_device). */
export interface IommuInstance {
  readonly name: string;
  /** The firmware node devices refer to in `iommus` / `iommu-map`. */
  readonly node: DtNode;
  readonly ops: IommuOps;
  /** The IOMMU's own device. */
  readonly device: Device;
}

export interface IommuFwspec {
  iommu: IommuInstance;
  /** Device IDs on that IOMMU (device_id / StreamID / endpoint id), in specifier order. */
  ids: number[];
}

export class IommuGroup {
  readonly devices: Device[] = [];
  defaultDomain: IommuDomain | null = null;
  /** The domain the group is attached to now. */
  domain: IommuDomain | null = null;

  constructor(
    readonly id: number,
    readonly key: string,
  ) {}
}

/** What the core keeps in `Device.iommu`. */
export interface DeviceIommu {
  fwspec: IommuFwspec;
  group: IommuGroup;
  /** Per-device data of the IOMMU driver. */
  driverData: unknown;
}

export class IommuError extends Error {}
