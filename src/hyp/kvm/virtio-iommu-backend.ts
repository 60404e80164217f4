// The host side of a guest's virtio-iommu, the way QEMU with VFIO does it: the guest programs
// a paravirtual IOMMU (VIRTIO 1.2/1.3 section 5.13), and the VMM replays every request on the
// physical IOMMU that really sits in front of the assigned device, through the host kernel's
// IOMMU core (what the VFIO type1 ioctls reach in Linux). The endpoint's DMA then goes through
// the physical IOMMU only, with page tables the host built from the guest's MAPs.
//
//  - One host UNMANAGED paging domain per guest domain, allocated at the domain's first ATTACH
//    and freed when its last endpoint leaves (5.13.6.4: the domain ceases to exist).
//  - The host device is claimed on first use (Linux vfio binding: the IOMMU configured for it,
//    iommu_device_claim_dma_owner parks it in the blocked domain), and goes back to the blocked
//    domain on DETACH and device reset, so it never keeps access to guest memory it no longer
//    has mapped.
//  - MAP: the guest-physical address is translated through the VMM's guest memory table and
//    mapped with the MAP's permissions (QEMU vfio_iommu_map_notify -> VFIO_IOMMU_MAP_DMA). A MAP
//    with neither READ nor WRITE grants no access: QEMU turns it into an unmap, and VFIO refuses
//    prot 0, so nothing is mapped in the host.
//  - UNMAP: the host unmap, which invalidates the physical IOMMU's IOTLB before it returns
//    (VFIO_IOMMU_UNMAP_DMA is synchronous), so the guest sees UNMAP complete only once the
//    device can no longer reach the pages.
//  - Bypass domains (ATTACH with VIRTIO_IOMMU_ATTACH_F_BYPASS): `bypass` chooses between a host
//    domain mapping all guest RAM one to one (what QEMU's VFIO memory listener builds when the
//    endpoint sees the guest's whole address space) and the host's identity domain (which also
//    exposes host memory: only for an identity VM layout that trusts its guest).
//
// Faults the host IOMMU reports for an assigned device are counted per endpoint. The device
// model offers no entry point to inject a fault into its event queue, and a software backend
// could not call one anyway (it meets the device only through the backend interface), so the
// guest never hears of them; the host logs them as unhandled, as Linux does for VFIO devices.
//
// It implements the virtio-iommu device's backend interface (src/hw/virtio-iommu/backend.ts)
// structurally: software never imports a hardware model.

import { MapFlag } from '../../formats/virtio-iommu/requests.js';
import { hex } from '../../sim/u64.js';
import { DomainType, IommuError, Prot, type IommuDomain, type IommuFault } from '../../os/core/types.js';
import type { Device } from '../../os/driver-model/device.js';
import type { Kernel } from '../../os/kernel/kernel.js';
import { HostBackendError } from './errors.js';
import type { GuestMemoryMap } from './guest-memory.js';

/** The answers of the virtio-iommu backend interface: the device turns failures into NOMEM, UNSUPP and DEVERR. */
export type HostBackendResult = 'ok' | 'nomem' | 'unsupported' | 'failed';
type Failure = Exclude<HostBackendResult, 'ok'>;

/**
 * What a bypass domain becomes on the host: 'map-guest-memory', a host domain with all guest RAM
 * mapped at its guest-physical addresses (the endpoint reaches the guest and nothing else), or
 * 'identity-domain', the host IOMMU's identity domain ('unsupported' without one).
 */
export type HostBypassPolicy = 'map-guest-memory' | 'identity-domain';

export interface HostIommuBackendOptions {
  /** The host kernel, whose IOMMU core drives the physical IOMMU. */
  kernel: Kernel;
  /** The host device (the assigned physical device as the host kernel sees it) behind each endpoint id. */
  endpoints: ReadonlyMap<number, Device>;
  /** Where guest-physical addresses live in host-physical memory. */
  guestMemory: GuestMemoryMap;
  /** Default 'map-guest-memory'. */
  bypass?: HostBypassPolicy;
}

/** What the host can map for an endpoint (VFIO_IOMMU_GET_INFO: IOVA ranges and page-size bitmap). */
export interface HostIommuGeometry {
  /** First and last IOVA of the host's paging domains. */
  start: bigint;
  end: bigint;
  /** Page sizes, log2 of bytes, ascending. */
  pageSizes: readonly number[];
}

export interface HostIommuBackendStatistics {
  hostDomains: { current: number; allocated: number; freed: number };
  attaches: number;
  detaches: number;
  /** MAPs and UNMAPs applied to host domains, and the bytes mapped and unmapped there. */
  maps: number;
  unmaps: number;
  bytesMapped: number;
  bytesUnmapped: number;
  /** MAPs that granted no access, so mapped nothing in the host. */
  mapsWithoutAccess: number;
  /** Requests answered with each failure. */
  failures: { nomem: number; unsupported: number; failed: number };
  /** Faults the host IOMMU reported for assigned devices, in all and by endpoint id. */
  faults: number;
  faultsByEndpoint: Record<number, number>;
}

interface Assigned {
  readonly endpoint: number;
  readonly device: Device;
  claimed: boolean;
  domain: HostDomain | null;
  faults: number;
}

interface HostDomain {
  readonly guestId: number;
  readonly domain: IommuDomain;
  readonly bypass: boolean;
  /** Allocated by the backend (freed with the guest domain), as opposed to the host's identity domain. */
  readonly owned: boolean;
  readonly endpoints: Set<number>;
}

const LOG = 'virtio-iommu backend';

export class HostIommuBackend {
  private readonly kernel: Kernel;
  private readonly guestMemory: GuestMemoryMap;
  private readonly bypassPolicy: HostBypassPolicy;
  private readonly assigned = new Map<number, Assigned>();
  private readonly byDevice = new Map<Device, Assigned>();
  private readonly domains = new Map<number, HostDomain>();
  private readonly counters = {
    allocated: 0,
    freed: 0,
    attaches: 0,
    detaches: 0,
    maps: 0,
    unmaps: 0,
    bytesMapped: 0,
    bytesUnmapped: 0,
    mapsWithoutAccess: 0,
    nomem: 0,
    unsupported: 0,
    failed: 0,
    faults: 0,
  };

  constructor(options: HostIommuBackendOptions) {
    this.kernel = options.kernel;
    this.guestMemory = options.guestMemory;
    this.bypassPolicy = options.bypass ?? 'map-guest-memory';
    for (const [endpoint, device] of options.endpoints) {
      if (this.byDevice.has(device)) throw new HostBackendError(`host device ${device.name} is given to two endpoints`);
      const a: Assigned = { endpoint, device, claimed: false, domain: null, faults: 0 };
      this.assigned.set(endpoint, a);
      this.byDevice.set(device, a);
    }
    this.kernel.iommu.faultObservers.push((fault) => this.observeFault(fault));
  }

  // ---- the virtio-iommu backend interface -----------------------------------------------

  attach(endpoint: number, domain: number, bypass: boolean): HostBackendResult {
    const a = this.assigned.get(endpoint);
    if (a === undefined) return this.fail('failed', `endpoint ${hex(endpoint)} has no host device`);
    const claim = this.claim(a);
    if (claim !== 'ok') return claim;
    // Claimed: the device has its IOMMU.
    const instance = this.kernel.iommu.deviceIommu(a.device)?.fwspec.iommu;
    let hd = this.domains.get(domain);
    if (hd === undefined) {
      const created = bypass ? this.bypassDomain(a, domain) : this.pagingDomain(a, domain);
      if (typeof created === 'string') return created;
      hd = created;
    } else if (hd.domain.iommu !== instance) {
      // One host domain lives on one IOMMU; VFIO type1 would keep a copy per IOMMU.
      return this.fail('unsupported', `endpoint ${hex(endpoint)} is behind ${instance?.name}, guest domain ${domain} on ${hd.domain.iommu?.name}`);
    }
    if (a.domain === hd) return 'ok';
    try {
      this.switchTo(a.device, hd.domain);
    } catch (e) {
      if (!(e instanceof IommuError)) throw e;
      if (this.park(a)) this.leave(a);
      if (hd.endpoints.size === 0 && this.domains.get(domain) === hd) this.release(hd);
      return this.fail('failed', `attaching ${a.device.name} to ${hd.domain.name}: ${e.message}`);
    }
    if (a.domain !== null) this.leave(a);
    hd.endpoints.add(endpoint);
    a.domain = hd;
    this.counters.attaches++;
    return 'ok';
  }

  detach(endpoint: number, domain: number): HostBackendResult {
    const a = this.assigned.get(endpoint);
    const hd = this.domains.get(domain);
    if (a === undefined || hd === undefined || a.domain !== hd) return this.fail('failed', `endpoint ${hex(endpoint)} is not attached to guest domain ${domain} in the host`);
    if (!this.park(a)) return this.fail('failed', `${a.device.name} could not be blocked; it stays in ${hd.domain.name}`);
    this.leave(a);
    this.counters.detaches++;
    return 'ok';
  }

  map(domain: number, iova: bigint, physical: bigint, size: bigint, flags: number): HostBackendResult {
    const hd = this.domains.get(domain);
    if (hd === undefined || hd.bypass) return this.fail('failed', `MAP in guest domain ${domain}, which has no paging domain in the host`);
    const prot = ((flags & MapFlag.Read) !== 0 ? Prot.READ : 0) | ((flags & MapFlag.Write) !== 0 ? Prot.WRITE : 0) | ((flags & MapFlag.Mmio) !== 0 ? Prot.MMIO : 0);
    if ((prot & (Prot.READ | Prot.WRITE)) === 0) {
      this.counters.mapsWithoutAccess++;
      return 'ok';
    }
    const pieces = this.guestMemory.pieces(physical, size);
    if (pieces === null) return this.fail('failed', `MAP of guest-physical ${hex(physical)} (+${hex(size)}): not guest RAM`);
    const d = hd.domain;
    const granule = (1n << BigInt(d.pageSizes[0] ?? 12)) - 1n;
    if (iova < d.geometry.start || iova + size - 1n > d.geometry.end) {
      return this.fail('unsupported', `MAP of ${hex(iova)} (+${hex(size)}) is outside the host aperture ${hex(d.geometry.start)}..${hex(d.geometry.end)}`);
    }
    if (((iova | size) & granule) !== 0n || pieces.some((p) => (p.host & granule) !== 0n)) {
      return this.fail('unsupported', `MAP of ${hex(iova)} (+${hex(size)}) -> ${hex(physical)} is not aligned to the host's ${granule + 1n}-byte pages`);
    }
    const core = this.kernel.iommu;
    let done = 0n;
    try {
      for (const p of pieces) {
        core.map(d, iova + (p.guest - physical), p.host, p.size, prot);
        done += p.size;
      }
    } catch (e) {
      if (!(e instanceof IommuError)) throw e;
      // The host could not build the tables (the ranges were checked): undo what went in.
      if (done > 0n) core.unmap(d, iova, done);
      return this.fail('nomem', `MAP of ${hex(iova)} (+${hex(size)}) in ${d.name}: ${e.message}`);
    }
    this.counters.maps++;
    this.counters.bytesMapped += Number(size);
    return 'ok';
  }

  unmap(domain: number, iova: bigint, size: bigint): HostBackendResult {
    const hd = this.domains.get(domain);
    if (hd === undefined || hd.bypass) return this.fail('failed', `UNMAP in guest domain ${domain}, which has no paging domain in the host`);
    let unmapped: bigint;
    try {
      unmapped = this.kernel.iommu.unmap(hd.domain, iova, size);
    } catch (e) {
      if (!(e instanceof IommuError)) throw e;
      return this.fail('failed', `UNMAP of ${hex(iova)} (+${hex(size)}) in ${hd.domain.name}: ${e.message}`);
    }
    this.counters.unmaps++;
    this.counters.bytesUnmapped += Number(unmapped);
    return 'ok';
  }

  // ---- for the VMM -------------------------------------------------------------------------

  /**
   * What the host can map for `endpoint`, claiming its device (the VMM asks once, before it
   * sets the virtio-iommu's input_range and page_size_mask, as QEMU does with the IOVA ranges
   * and page sizes VFIO reports). Throws HostBackendError when the host cannot assign it.
   */
  hostGeometry(endpoint: number): HostIommuGeometry {
    const a = this.assigned.get(endpoint);
    if (a === undefined) throw new HostBackendError(`endpoint ${hex(endpoint)} has no host device`);
    const problem: string[] = [];
    if (this.claim(a, problem) !== 'ok') throw new HostBackendError(`endpoint ${hex(endpoint)}: ${problem[0]}`);
    let probe: IommuDomain;
    try {
      probe = this.kernel.iommu.domainAlloc(a.device, DomainType.Unmanaged);
    } catch (e) {
      if (!(e instanceof IommuError)) throw e;
      throw new HostBackendError(`endpoint ${hex(endpoint)}: the host cannot give ${a.device.name} a paging domain: ${e.message}`);
    }
    const geometry = { start: probe.geometry.start, end: probe.geometry.end, pageSizes: [...probe.pageSizes] };
    this.kernel.iommu.domainFree(probe);
    return geometry;
  }

  /** The host device of `endpoint`. */
  hostDevice(endpoint: number): Device | undefined {
    return this.assigned.get(endpoint)?.device;
  }

  /** The host domain mirroring guest domain `domain`, while it exists. */
  hostDomain(domain: number): IommuDomain | undefined {
    return this.domains.get(domain)?.domain;
  }

  statistics(): HostIommuBackendStatistics {
    const c = this.counters;
    const faultsByEndpoint: Record<number, number> = {};
    for (const a of this.assigned.values()) if (a.faults > 0) faultsByEndpoint[a.endpoint] = a.faults;
    return {
      hostDomains: { current: this.domains.size, allocated: c.allocated, freed: c.freed },
      attaches: c.attaches,
      detaches: c.detaches,
      maps: c.maps,
      unmaps: c.unmaps,
      bytesMapped: c.bytesMapped,
      bytesUnmapped: c.bytesUnmapped,
      mapsWithoutAccess: c.mapsWithoutAccess,
      failures: { nomem: c.nomem, unsupported: c.unsupported, failed: c.failed },
      faults: c.faults,
      faultsByEndpoint,
    };
  }

  // ---- internals ---------------------------------------------------------------------------

  /**
   * Takes the host device for the guest, once: its IOMMU set up if the host has not done so
   * (binding vfio configures DMA), then parked in the blocked domain. VFIO needs an IOMMU,
   * and a group of its own here (iommu_attach_device works on single-device groups).
   */
  private claim(a: Assigned, problem?: string[]): HostBackendResult {
    if (a.claimed) return 'ok';
    const core = this.kernel.iommu;
    const dev = a.device;
    const refuse = (result: Failure, why: string): HostBackendResult => {
      problem?.push(why);
      return this.fail(result, why);
    };
    const configured = core.configure(dev);
    if (configured !== true) return refuse('failed', `${dev.name}: the host IOMMU cannot take it: ${'defer' in configured ? configured.defer : configured.error}`);
    const info = core.deviceIommu(dev);
    if (info === null) return refuse('unsupported', `${dev.name} is behind no IOMMU in the host: it cannot be assigned`);
    if (info.group.devices.length !== 1) return refuse('unsupported', `${dev.name} shares IOMMU group ${info.group.id} with other devices`);
    if (info.fwspec.iommu.ops.blockedDomain === undefined) return refuse('unsupported', `${info.fwspec.iommu.name} has no blocked domain to park ${dev.name} in`);
    a.claimed = true;
    if (!this.park(a)) {
      a.claimed = false;
      return refuse('failed', `${dev.name} could not be moved to the blocked domain`);
    }
    this.kernel.log.info(LOG, `${dev.name} assigned to the guest as endpoint ${hex(a.endpoint)}, blocked until the guest attaches it`);
    return 'ok';
  }

  /** Moves a claimed device to its IOMMU's blocked domain; false when the host could not. */
  private park(a: Assigned): boolean {
    const info = this.kernel.iommu.deviceIommu(a.device);
    const blocked = info?.fwspec.iommu.ops.blockedDomain;
    if (blocked === undefined) return false;
    try {
      this.switchTo(a.device, blocked);
      return true;
    } catch (e) {
      if (!(e instanceof IommuError)) throw e;
      this.kernel.log.error(LOG, `blocking ${a.device.name}: ${e.message}`);
      return false;
    }
  }

  /**
   * Attaches `dev` to `target`. The core attaches from the default or the blocked domain; a
   * device in a guest domain is parked in the blocked domain first, so that it never passes
   * through its (host) default domain on the way.
   */
  private switchTo(dev: Device, target: IommuDomain): void {
    const core = this.kernel.iommu;
    const info = core.deviceIommu(dev);
    if (info === null) throw new IommuError(`${dev.name} is not behind an IOMMU`);
    const group = info.group;
    if (group.domain === target) return;
    const blocked = info.fwspec.iommu.ops.blockedDomain;
    if (group.domain !== null && group.domain !== group.defaultDomain && blocked !== undefined) core.attachDevice(blocked, dev);
    core.attachDevice(target, dev);
  }

  /** Takes `a` out of its host domain's books; the domain goes with its last endpoint. */
  private leave(a: Assigned): void {
    const hd = a.domain;
    if (hd === null) return;
    hd.endpoints.delete(a.endpoint);
    a.domain = null;
    if (hd.endpoints.size === 0) this.release(hd);
  }

  private pagingDomain(a: Assigned, guestId: number): HostDomain | HostBackendResult {
    const d = this.allocate(a, guestId);
    if (typeof d === 'string') return d;
    return this.track(guestId, d, false, true);
  }

  private bypassDomain(a: Assigned, guestId: number): HostDomain | HostBackendResult {
    if (this.bypassPolicy === 'identity-domain') {
      const identity = this.kernel.iommu.deviceIommu(a.device)?.fwspec.iommu.ops.identityDomain;
      if (identity === undefined) return this.fail('unsupported', `bypass domain ${guestId}: the host IOMMU of ${a.device.name} has no identity domain`);
      return this.track(guestId, identity, true, false);
    }
    const d = this.allocate(a, guestId);
    if (typeof d === 'string') return d;
    const core = this.kernel.iommu;
    for (const r of this.guestMemory.regions) {
      try {
        core.map(d, r.guest, r.host, r.size, Prot.READ | Prot.WRITE);
      } catch (e) {
        if (!(e instanceof IommuError)) throw e;
        core.domainFree(d);
        this.counters.freed++;
        return this.fail('nomem', `bypass domain ${guestId}: mapping guest RAM ${hex(r.guest)} (+${hex(r.size)}) in the host: ${e.message}`);
      }
    }
    return this.track(guestId, d, true, true);
  }

  private allocate(a: Assigned, guestId: number): IommuDomain | HostBackendResult {
    try {
      const d = this.kernel.iommu.domainAlloc(a.device, DomainType.Unmanaged);
      this.counters.allocated++;
      return d;
    } catch (e) {
      if (!(e instanceof IommuError)) throw e;
      return this.fail('nomem', `guest domain ${guestId}: no host domain for ${a.device.name}: ${e.message}`);
    }
  }

  private track(guestId: number, domain: IommuDomain, bypass: boolean, owned: boolean): HostDomain {
    const hd: HostDomain = { guestId, domain, bypass, owned, endpoints: new Set() };
    this.domains.set(guestId, hd);
    this.kernel.log.info(LOG, `guest domain ${guestId}${bypass ? ' (bypass)' : ''} -> host ${domain.name}`);
    return hd;
  }

  /** The guest domain ceased to exist: its host domain goes (its mappings went first, or are guest RAM for bypass). */
  private release(hd: HostDomain): void {
    this.domains.delete(hd.guestId);
    if (!hd.owned) return;
    this.kernel.iommu.domainFree(hd.domain);
    this.counters.freed++;
  }

  private observeFault(fault: IommuFault): void {
    const a = fault.device === null ? undefined : this.byDevice.get(fault.device);
    if (a === undefined) return;
    a.faults++;
    this.counters.faults++;
  }

  private fail(result: Failure, why: string): HostBackendResult {
    this.counters[result]++;
    this.kernel.log.warn(LOG, why);
    return result;
  }
}
