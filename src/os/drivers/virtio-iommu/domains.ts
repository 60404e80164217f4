// The domains of a virtio-iommu (VIRTIO 1.3 section 5.13.6), after Linux's virtio-iommu driver:
//  - paging domains: a domain id and the driver's own list of its mappings; MAP and UNMAP
//    requests make the device follow. The device holds a domain only while an endpoint is
//    attached to it (5.13.6.4: a domain whose last endpoint leaves ceases to exist, mappings
//    and all), so a domain nobody is attached to changes only in the driver's list, and the
//    first attach replays the list (Linux viommu_replay_mappings);
//  - the identity domain: with BYPASS_CONFIG, a domain created by ATTACH with
//    VIRTIO_IOMMU_ATTACH_F_BYPASS (its endpoints are in bypass mode); without it, a paging
//    domain that maps RAM one to one, minus the reserved regions of the endpoints attached
//    (Linux viommu_domain_map_identity, which maps the whole input range);
//  - the blocked domain: the endpoints are detached, and the driver set config.bypass to 0
//    so that unattached endpoints reach nothing (5.13.6: "SHOULD NOT let unattached endpoints
//    that are not in bypass mode access the guest-physical address space").

import { MapFlag, VirtioIommuStatus } from '../../../formats/virtio-iommu/requests.js';
import { hex } from '../../../sim/u64.js';
import { IommuDomain, Prot, type DomainOps, type DomainTypeValue, type IotlbGather } from '../../core/types.js';
import type { Device } from '../../driver-model/device.js';
import type { ReservedRegion } from './endpoint.js';
import { VirtioIommuError } from './errors.js';
import { deviceErrors, type VirtioIommuDevice } from './iommu.js';
import { MappingList } from './mappings.js';
import { statusName } from './request-queue.js';

export class ViommuDomain {
  /** The driver's record of the domain's mappings (one entry per MAP request). */
  readonly mappings = new MappingList();
  /** Devices whose endpoints are attached to the domain in the device. */
  readonly devices = new Set<Device>();

  constructor(
    readonly viommu: VirtioIommuDevice,
    readonly id: number,
    /** Created with VIRTIO_IOMMU_ATTACH_F_BYPASS: no mappings, endpoints in bypass mode. */
    readonly bypass: boolean,
  ) {}

  /** Whether the device holds the domain now (some endpoint is attached to it). */
  get live(): boolean {
    return this.devices.size > 0;
  }

  /** Maps pages [first, last] to `phys` with MAP flags; an error message, or null. */
  map(first: number, last: number, phys: number, flags: number): string | null {
    if (!this.mappings.insert(first, last, phys, flags)) return `${describe(first, last)} overlaps a mapping of domain ${this.id}`;
    if (!this.live) return null;
    // Batched: the MAP joins the queue; iotlbSyncMap waits once for the whole map call.
    const requests = this.viommu.requests;
    const status = requests.map(this.id, first, last, phys, flags, !requests.batching);
    if (status === VirtioIommuStatus.Ok || status === -1) return null;
    const i = this.mappings.find(first);
    this.mappings.remove(i, i + 1);
    return `MAP ${describe(first, last)} -> ${hex(BigInt(phys) << 12n)} in domain ${this.id}: ${statusName(status)}`;
  }

  /**
   * Removes every mapping that starts in pages [first, last], whole (one may end past `last`),
   * with one UNMAP (queued, checked at the next sync). Returns the pages removed: 0 when none
   * starts there, or when a mapping starts before `first` and runs into the range (an UNMAP
   * may not split a mapping, 5.13.6.6). `range` receives the pages the UNMAP covered.
   */
  unmap(first: number, last: number, range: { first: number; last: number }): number {
    const t = this.mappings;
    const from = t.firstEndingFrom(first);
    if (from === t.count || t.first(from) > last || t.first(from) < first) return 0;
    let to = from;
    let end = last;
    let pages = 0;
    while (to < t.count && t.first(to) <= last) {
      pages += t.last(to) - t.first(to) + 1;
      if (t.last(to) > end) end = t.last(to);
      to++;
    }
    t.remove(from, to);
    if (this.live) this.viommu.requests.unmap(this.id, first, end);
    range.first = first;
    range.last = end;
    return pages;
  }

  /** Sends MAP for every mapping (the domain just became live in the device); error or null. */
  replay(): string | null {
    const t = this.mappings;
    for (let i = 0; i < t.count; i++) {
      const status = this.viommu.requests.map(this.id, t.first(i), t.last(i), t.phys(i), t.flags(i));
      if (status !== VirtioIommuStatus.Ok) return `replaying MAP ${describe(t.first(i), t.last(i))} in domain ${this.id}: ${statusName(status)}`;
    }
    return null;
  }

  /**
   * Makes the mappings exactly the identity `pieces` (page ranges): mappings that are not one
   * of them go (UNMAP, synced), missing pieces are mapped. Error message or null.
   */
  reconcileIdentity(pieces: readonly { first: number; last: number }[]): string | null {
    const t = this.mappings;
    for (let i = t.count - 1; i >= 0; i--) {
      const first = t.first(i);
      const last = t.last(i);
      if (pieces.some((p) => p.first === first && p.last === last)) continue;
      t.remove(i, i + 1);
      if (this.live) this.viommu.requests.unmap(this.id, first, last);
    }
    const err = deviceErrors(() => {
      this.viommu.syncRequests();
      return null;
    });
    if (err !== null) return err;
    for (const p of pieces) {
      const i = t.find(p.first);
      if (i >= 0 && t.first(i) === p.first && t.last(i) === p.last) continue;
      const err = this.map(p.first, p.last, p.first, MapFlag.Read | MapFlag.Write);
      if (err !== null) return err;
    }
    return null;
  }
}

function describe(first: number, last: number): string {
  return `${hex(BigInt(first) << 12n)}..${hex((BigInt(last) << 12n) | 0xfffn)}`;
}

function viommuDomain(domain: IommuDomain): ViommuDomain {
  const d = domain.driverData;
  if (!(d instanceof ViommuDomain)) throw new VirtioIommuError(`${domain.name} is not a virtio-iommu domain (freed?)`);
  return d;
}

/** Reused by unmapPages: the range the last UNMAP covered. */
const unmapped = { first: 0, last: 0 };

export const pagingDomainOps: DomainOps = {
  attachDev(domain: IommuDomain, dev: Device): string | null {
    const d = viommuDomain(domain);
    return d.viommu.reserveIovas(domain, dev) ?? d.viommu.attach(dev, d);
  },
  mapPages(domain: IommuDomain, iovaPage: number, page: number, pageLog2: number, count: number, prot: number): number {
    const d = viommuDomain(domain);
    const v = d.viommu;
    // MAP has no cacheability, execute or privilege attributes: CACHE, NOEXEC and PRIV map to nothing.
    const flags = ((prot & Prot.READ) !== 0 ? MapFlag.Read : 0) | ((prot & Prot.WRITE) !== 0 ? MapFlag.Write : 0) | ((prot & Prot.MMIO) !== 0 ? MapFlag.Mmio : 0);
    if ((flags & ~v.mapFlags) !== 0) {
      v.kernel.log.error(v.name, `cannot map ${hex(BigInt(iovaPage) << 12n)} as MMIO: VIRTIO_IOMMU_F_MMIO was not negotiated (5.13.6.5)`);
      return 0;
    }
    const last = iovaPage + count * 2 ** (pageLog2 - 12) - 1;
    let err: string | null;
    try {
      err = d.map(iovaPage, last, page, flags);
    } catch (e) {
      if (!(e instanceof VirtioIommuError)) throw e;
      err = e.message;
    }
    if (err === null) return count;
    v.kernel.log.error(v.name, err);
    return 0;
  },
  unmapPages(domain: IommuDomain, iovaPage: number, pageLog2: number, count: number, gather: IotlbGather): number {
    const pages = viommuDomain(domain).unmap(iovaPage, iovaPage + count * 2 ** (pageLog2 - 12) - 1, unmapped);
    if (pages === 0) return 0;
    gather.add(unmapped.first, unmapped.last - unmapped.first + 1, pageLog2);
    return pages * 4096;
  },
  iotlbSyncMap(domain: IommuDomain): string | null {
    try {
      viommuDomain(domain).viommu.syncRequests();
      return null;
    } catch (e) {
      if (e instanceof VirtioIommuError) return e.message;
      throw e;
    }
  },
  iotlbSync(domain: IommuDomain): void {
    viommuDomain(domain).viommu.syncRequests();
  },
  flushIotlbAll(domain: IommuDomain): void {
    viommuDomain(domain).viommu.syncRequests();
  },
  iovaToPhys(domain: IommuDomain, iova: bigint): bigint | null {
    const t = viommuDomain(domain).mappings;
    const page = Number(iova >> 12n);
    const i = t.find(page);
    return i < 0 ? null : (BigInt(t.phys(i) + page - t.first(i)) << 12n) | (iova & 0xfffn);
  },
  free(domain: IommuDomain): void {
    const d = viommuDomain(domain);
    d.mappings.clear();
    d.viommu.domainIds.free(d.id);
    domain.driverData = null;
  },
};

/** The identity domain with BYPASS_CONFIG: ATTACH with VIRTIO_IOMMU_ATTACH_F_BYPASS (5.13.6.3). */
export const bypassDomainOps: DomainOps = {
  attachDev(domain: IommuDomain, dev: Device): string | null {
    const d = viommuDomain(domain);
    return d.viommu.attach(dev, d);
  },
};

/** The identity domain without BYPASS_CONFIG: RAM mapped one to one around the endpoints' reserved regions. */
export const mappedIdentityDomainOps: DomainOps = {
  attachDev(domain: IommuDomain, dev: Device): string | null {
    const d = viommuDomain(domain);
    const v = d.viommu;
    if (d.devices.has(dev)) return null;
    const reserved = [...v.reservedRegions(dev)];
    for (const other of d.devices) reserved.push(...v.reservedRegions(other));
    return d.reconcileIdentity(identityPieces(v.ramPages, reserved, v.inputPages)) ?? v.attach(dev, d);
  },
};

/** The blocked domain: the device's endpoints are detached (config.bypass is 0). */
export const blockedDomainOps: DomainOps = {
  attachDev(domain: IommuDomain, dev: Device): string | null {
    return (domain.driverData as VirtioIommuDevice).detach(dev);
  },
};

/**
 * The page ranges an identity domain maps: RAM (whole pages inside it) within the input range,
 * minus every reserved region (whole pages touching it), in ascending order.
 */
export function identityPieces(ram: readonly { first: number; last: number }[], reserved: readonly ReservedRegion[], input: { first: number; last: number }): { first: number; last: number }[] {
  const holes = reserved.map((r) => ({ first: Number(r.start >> 12n), last: Number(r.end >> 12n) })).sort((a, b) => a.first - b.first);
  const out: { first: number; last: number }[] = [];
  for (const r of [...ram].sort((a, b) => a.first - b.first)) {
    let first = Math.max(r.first, input.first);
    const last = Math.min(r.last, input.last);
    for (const h of holes) {
      if (first > last) break;
      if (h.last < first || h.first > last) continue;
      if (h.first > first) out.push({ first, last: h.first - 1 });
      first = h.last + 1;
    }
    if (first <= last) out.push({ first, last });
  }
  return out;
}

/** A new paging domain of `type` with its own domain id, or an error message. */
export function allocPagingDomain(viommu: VirtioIommuDevice, type: DomainTypeValue): IommuDomain | string {
  const id = viommu.domainIds.alloc();
  if (id === null) return `no free domain id in ${viommu.domainIds.min}..${viommu.domainIds.max}`;
  const domain = new IommuDomain(type, pagingDomainOps, viommu, viommu.pageSizes, viommu.geometry, `${viommu.name} domain ${id}`);
  domain.driverData = new ViommuDomain(viommu, id, false);
  return domain;
}
