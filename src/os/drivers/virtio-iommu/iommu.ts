// One virtio-iommu as the driver keeps it once it is up (Linux struct viommu_dev): the
// configuration it read, its request and event queues, domain ids, the identity and blocked
// domains, the endpoints it knows by id, and fault reporting to the IOMMU core. It is the
// `IommuInstance` registered with the core, under the transport's device-tree node, which is
// what endpoints name in `iommus` (#iommu-cells = <1>: the endpoint id) or in `iommu-map`.

import type { DtNode } from '../../../formats/devicetree/tree.js';
import { FAULT_REASON_NAMES, FaultFlag, FaultReason } from '../../../formats/virtio-iommu/fault.js';
import { VirtioIommuFeature } from '../../../formats/virtio-iommu/features.js';
import { AttachFlag, MapFlag, VIRTIO_IOMMU_REQUEST_NAMES, VirtioIommuStatus } from '../../../formats/virtio-iommu/requests.js';
import { hex } from '../../../sim/u64.js';
import { DomainType, IommuDomain, type DeviceIommu, type DomainGeometry, type IommuInstance, type IommuOps } from '../../core/types.js';
import { IommuDmaApi } from '../../dma/dma-api.js';
import { DmaMappingError } from '../../dma/types.js';
import type { Device } from '../../driver-model/device.js';
import type { Kernel } from '../../kernel/kernel.js';
import { regions } from '../../of/address.js';
import type { VirtioDevice } from '../virtio/device.js';
import type { ViommuConfig } from './config.js';
import { IdAllocator } from '../../lib/id-allocator.js';
import { blockedDomainOps, bypassDomainOps, mappedIdentityDomainOps, ViommuDomain } from './domains.js';
import { ViommuEndpoint, type ReservedRegion } from './endpoint.js';
import { VirtioIommuError } from './errors.js';
import { EventQueue, type FaultReport } from './event-queue.js';
import { VirtioIommuOps } from './ops.js';
import { RequestQueue, statusName } from './request-queue.js';

/** Fault reports logged as warnings before the rest go to the debug level (a rate limit). */
const FAULT_LOG_LIMIT = 16;
const WHOLE_SPACE: DomainGeometry = { start: 0n, end: (1n << 64n) - 1n };

const FAULT_MEANINGS: Readonly<Record<number, string>> = {
  [FaultReason.Unknown]: 'UNKNOWN: an internal error, or one no other reason describes',
  [FaultReason.Domain]: 'DOMAIN: the endpoint is not attached to a domain',
  [FaultReason.Mapping]: 'MAPPING: the address is not mapped, or not with this access',
};

export interface VirtioIommuStats {
  /** Requests sent, by type name (ATTACH, DETACH, MAP, UNMAP, PROBE). */
  requests: Record<string, number>;
  totalRequests: number;
  /** Times the driver notified the device and waited for every request in flight. */
  syncs: number;
  /** totalRequests / syncs: how many requests share one wait (0 before any sync). */
  requestsPerSync: number;
  /** Request-queue notifications sent to the device, and those its suppression avoided. */
  kicks: number;
  kicksSuppressed: number;
  /** Adds that found the request queue full and synced first. */
  queueFullSyncs: number;
  /** Requests whose status was not OK, by status name. */
  failed: Record<string, number>;
  /** Requests returned without a status (used length too short): also counted as IOERR. */
  unanswered: number;
  faults: {
    /** Fault reports received on the event queue and reported to the IOMMU core. */
    received: number;
    /** By reason name (an unknown reason counts as UNKNOWN). */
    byReason: Record<string, number>;
    /** Reports for an endpoint id no device of the driver uses. */
    unknownEndpoint: number;
    /** Reports ignored: reserved field set, or a buffer returned shorter than a report. */
    ignored: number;
  };
  /** Domain ids in use (including the identity domain's). */
  domains: number;
}

export interface VirtioIommuParts {
  vdev: VirtioDevice;
  node: DtNode;
  config: ViommuConfig;
  /** Page sizes of paging domains (log2 bytes), or why the device cannot have paging domains. */
  pageSizes: readonly number[] | string;
  /** Whether endpoints attached to no domain are blocked (config.bypass is 0). */
  unattachedBlocked: boolean;
  batching: boolean;
}

export class VirtioIommuDevice implements IommuInstance {
  readonly name: string;
  readonly node: DtNode;
  /** The transport's device (the virtio-mmio node or the PCI function). */
  readonly device: Device;
  readonly ops: IommuOps;
  readonly kernel: Kernel;
  readonly vdev: VirtioDevice;
  readonly config: ViommuConfig;
  /** Page sizes of paging domains; empty when `pagingProblem` says why there are none. */
  readonly pageSizes: readonly number[];
  readonly pagingProblem: string | null;
  /** The aperture of paging domains: config.input_range (5.13.6.5: a MAP outside it fails). */
  readonly geometry: DomainGeometry;
  /** The input range and RAM in 4 KiB pages, for the identity mappings. */
  readonly inputPages: { first: number; last: number };
  readonly ramPages: readonly { first: number; last: number }[];
  /** MAP flags the device accepts: READ, WRITE, and MMIO when VIRTIO_IOMMU_F_MMIO was negotiated. */
  readonly mapFlags: number;
  readonly unattachedBlocked: boolean;
  readonly requests: RequestQueue;
  readonly events: EventQueue;
  readonly domainIds: IdAllocator;
  readonly identityDomain: IommuDomain | undefined;
  readonly blockedDomain: IommuDomain | undefined;
  /** Devices by endpoint id, from the fwspecs the core handed to probeDevice. */
  readonly devicesById = new Map<number, Device>();
  readonly faultCounters = { byReason: [0, 0, 0], unknownEndpoint: 0 };

  constructor(p: VirtioIommuParts) {
    this.vdev = p.vdev;
    this.kernel = p.vdev.kernel;
    this.name = p.vdev.name;
    this.node = p.node;
    this.device = p.vdev.device;
    this.config = p.config;
    this.pageSizes = typeof p.pageSizes === 'string' ? [] : p.pageSizes;
    this.pagingProblem = typeof p.pageSizes === 'string' ? p.pageSizes : null;
    this.geometry = { start: p.config.inputStart, end: p.config.inputEnd };
    this.inputPages = { first: Number((p.config.inputStart + 0xfffn) >> 12n), last: Number(((p.config.inputEnd + 1n) >> 12n) - 1n) };
    this.ramPages = ramPagesOf(this.kernel);
    this.mapFlags = MapFlag.Read | MapFlag.Write | (p.vdev.hasFeature(VirtioIommuFeature.Mmio) ? MapFlag.Mmio : 0);
    this.unattachedBlocked = p.unattachedBlocked;
    this.domainIds = new IdAllocator(p.config.firstDomain, p.config.lastDomain);

    this.requests = new RequestQueue({ name: this.name, kernel: this.kernel, vdev: p.vdev, batching: p.batching });
    try {
      this.events = new EventQueue({ name: this.name, kernel: this.kernel, vdev: p.vdev, onFault: (r) => this.handleFault(r) });
    } catch (e) {
      this.requests.release();
      throw e;
    }

    this.identityDomain = this.makeIdentityDomain();
    if (this.unattachedBlocked) {
      this.blockedDomain = new IommuDomain(DomainType.Blocked, blockedDomainOps, this, [], { start: 0n, end: 0n }, `${this.name} blocked`);
      this.blockedDomain.driverData = this;
    }
    this.ops = new VirtioIommuOps(this);
  }

  /**
   * With BYPASS_CONFIG a bypass domain; without it, RAM mapped one to one (when paging domains
   * are possible and there is RAM). Its id is the lowest of domain_range, taken first, as
   * Linux reserves it.
   */
  private makeIdentityDomain(): IommuDomain | undefined {
    const bypass = this.vdev.hasFeature(VirtioIommuFeature.BypassConfig);
    if (!bypass && (this.pagingProblem !== null || this.ramPages.length === 0)) return undefined;
    const id = this.domainIds.alloc();
    if (id === null) return undefined;
    const domain = new IommuDomain(DomainType.Identity, bypass ? bypassDomainOps : mappedIdentityDomainOps, this, [], WHOLE_SPACE, `${this.name} identity (${bypass ? 'bypass' : 'mapped'} domain ${id})`);
    domain.driverData = new ViommuDomain(this, id, bypass);
    return domain;
  }

  /** Gives the request slots and event buffers back (the driver gives up on the device). */
  releaseMemory(): void {
    this.requests.release();
    this.events.release();
  }

  // ---- endpoints ----------------------------------------------------------------------------

  /** The core's state for `dev` when `dev` is behind this IOMMU, else null. */
  deviceIommu(dev: Device): DeviceIommu | null {
    const info = this.kernel.iommu.deviceIommu(dev);
    return info !== null && info.fwspec.iommu === this ? info : null;
  }

  endpoint(dev: Device): ViommuEndpoint | null {
    const d = this.deviceIommu(dev)?.driverData;
    return d instanceof ViommuEndpoint ? d : null;
  }

  /** The RESV_MEM regions PROBE reported for `dev` (empty without PROBE). */
  reservedRegions(dev: Device): readonly ReservedRegion[] {
    return this.endpoint(dev)?.reservedRegions ?? [];
  }

  /** The device using endpoint id `id`, if the driver knows one. */
  deviceFor(id: number): Device | null {
    return this.devicesById.get(id) ?? null;
  }

  /**
   * Attaches every endpoint of `dev` to `vd` (5.13.6.3: the device first detaches an endpoint
   * from its old domain). A domain that was not live gets its mappings replayed.
   */
  attach(dev: Device, vd: ViommuDomain): string | null {
    const ep = this.endpoint(dev);
    if (ep === null) return `${dev.name} is not an endpoint of ${this.name}`;
    if (vd.viommu !== this) return `domain ${vd.id} belongs to ${vd.viommu.name}`;
    if (ep.domain === vd) return null;
    return deviceErrors(() => {
      const wasLive = vd.live;
      const flags = vd.bypass ? AttachFlag.Bypass : 0;
      for (const id of ep.ids) {
        const status = this.requests.attach(vd.id, id, flags);
        if (status !== VirtioIommuStatus.Ok) return `ATTACH of endpoint ${id} to domain ${vd.id}: ${statusName(status)}`;
      }
      ep.domain?.devices.delete(dev);
      ep.domain = vd;
      vd.devices.add(dev);
      return wasLive ? null : vd.replay();
    });
  }

  /** Detaches every endpoint of `dev` from its domain (5.13.6.4); with config.bypass 0 they are then blocked. */
  detach(dev: Device): string | null {
    const ep = this.endpoint(dev);
    if (ep === null) return `${dev.name} is not an endpoint of ${this.name}`;
    const vd = ep.domain;
    if (vd === null) return null;
    return deviceErrors(() => {
      for (const id of ep.ids) {
        const status = this.requests.detach(vd.id, id);
        if (status !== VirtioIommuStatus.Ok) return `DETACH of endpoint ${id} from domain ${vd.id}: ${statusName(status)}`;
      }
      vd.devices.delete(dev);
      ep.domain = null;
      return null;
    });
  }

  /**
   * Keeps `dev`'s reserved regions out of a DMA domain's IOVA allocator, so that the DMA API
   * never hands out an IOVA the device refuses to map or lets through to an MSI doorbell
   * (Linux: iommu_dma_init_domain reserving iommu_get_resv_regions).
   */
  reserveIovas(domain: IommuDomain, dev: Device): string | null {
    if (domain.type !== DomainType.Dma && domain.type !== DomainType.DmaFq) return null;
    const dma = this.kernel.dma;
    if (!(dma instanceof IommuDmaApi)) return null;
    const g = domain.geometry;
    for (const r of this.reservedRegions(dev)) {
      const start = r.start > g.start ? r.start : g.start;
      const end = r.end < g.end ? r.end : g.end;
      if (start > end) continue;
      try {
        dma.reserveIova(domain, start, end - start + 1n);
      } catch (e) {
        if (e instanceof DmaMappingError) return `cannot keep ${hex(r.start)}..${hex(r.end)} out of the IOVA space: ${e.message}`;
        throw e;
      }
    }
    return null;
  }

  /**
   * A sync point: notifies the device, waits for every request, and throws VirtioIommuError
   * when requests that nobody waited for (batched UNMAPs) failed since the last sync point.
   */
  syncRequests(): void {
    this.requests.sync();
    const failed = this.requests.takeFailures();
    if (failed.length > 0) {
      const shown = failed.slice(0, 4).join('; ');
      throw new VirtioIommuError(`${this.name}: ${failed.length} request(s) failed: ${shown}${failed.length > 4 ? '; ...' : ''}`);
    }
  }

  // ---- faults -------------------------------------------------------------------------------

  /** One fault report from the event queue (5.13.6.9): logged, and routed to the device's domain owner. */
  handleFault(r: FaultReport): void {
    // 5.13.6.9: a reason the driver does not know is treated as UNKNOWN.
    const reason = r.reason <= FaultReason.Mapping ? r.reason : FaultReason.Unknown;
    this.faultCounters.byReason[reason]++;
    const dev = this.deviceFor(r.endpoint);
    if (dev === null) this.faultCounters.unknownEndpoint++;
    const hasAddress = (r.flags & FaultFlag.Address) !== 0;
    const read = (r.flags & FaultFlag.Read) !== 0;
    const write = (r.flags & FaultFlag.Write) !== 0;
    const exec = (r.flags & FaultFlag.Exec) !== 0;
    const access = `${read ? 'R' : ''}${write ? 'W' : ''}${exec ? 'X' : ''}`;
    const text = `${FAULT_REASON_NAMES[reason]} fault from endpoint ${r.endpoint}${dev === null ? '' : ` (${dev.name})`}${hasAddress ? ` at ${hex(r.address)}` : ''}${access === '' ? '' : ` [${access}]`}${reason !== r.reason ? ` (reason ${r.reason})` : ''}`;
    if (this.events.counters.reports <= FAULT_LOG_LIMIT) this.kernel.log.warn(this.name, text);
    else this.kernel.log.debug(this.name, text);
    this.kernel.iommu.reportFault({
      device: dev,
      iova: hasAddress ? r.address : 0n,
      read,
      write,
      exec,
      privileged: false,
      pasid: null,
      cause: reason,
      reason: FAULT_MEANINGS[reason],
      iommu: this.name,
    });
  }

  // ---- statistics ---------------------------------------------------------------------------

  statistics(): VirtioIommuStats {
    const c = this.requests.counters;
    const requests: Record<string, number> = {};
    for (let t = 1; t <= 5; t++) requests[VIRTIO_IOMMU_REQUEST_NAMES[t]] = c.byType[t];
    const total = this.requests.requests;
    const byReason: Record<string, number> = {};
    this.faultCounters.byReason.forEach((n, reason) => (byReason[FAULT_REASON_NAMES[reason]] = n));
    const e = this.events.counters;
    return {
      requests,
      totalRequests: total,
      syncs: c.syncs,
      requestsPerSync: c.syncs === 0 ? 0 : total / c.syncs,
      kicks: this.requests.vq.counters.kicks,
      kicksSuppressed: this.requests.vq.counters.kicksSuppressed,
      queueFullSyncs: c.queueFull,
      failed: { ...c.failed },
      unanswered: c.unanswered,
      faults: { received: e.reports, byReason, unknownEndpoint: this.faultCounters.unknownEndpoint, ignored: e.reservedSet + e.short },
      domains: this.domainIds.count,
    };
  }
}

/** Runs `body`, turning a request queue the device broke or stopped answering into an error message. */
export function deviceErrors(body: () => string | null): string | null {
  try {
    return body();
  } catch (e) {
    if (e instanceof VirtioIommuError) return e.message;
    throw e;
  }
}

/** RAM as the device tree's /memory nodes describe it, in whole 4 KiB pages. */
function ramPagesOf(kernel: Kernel): { first: number; last: number }[] {
  const out: { first: number; last: number }[] = [];
  for (const node of kernel.dt.root.children) {
    if (node.string('device_type') !== 'memory') continue;
    for (const r of regions(node)) {
      const first = Number((r.base + 0xfffn) >> 12n);
      const last = Number(((r.base + r.size) >> 12n) - 1n);
      if (last >= first) out.push({ first, last });
    }
  }
  return out;
}
