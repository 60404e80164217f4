// The IOMMU core, after Linux's drivers/iommu/iommu.c: IOMMU drivers register instances;
// devices are probed from firmware (an fwspec from `iommus` / `iommu-map`), deferring while
// their IOMMU has not registered; devices are put in groups, which get a default domain by
// policy (translated or passthrough, strict or lazy); callers allocate, attach, map and unmap
// domains, with page sizes chosen from what the domain supports and invalidations gathered
// into one sync per operation; faults are routed to the owner of the device's domain.

import type { DeviceTree, DtNode } from '../../formats/devicetree/tree.js';
import { hex } from '../../sim/u64.js';
import type { Device } from '../driver-model/device.js';
import type { KernelLog } from '../kernel/log.js';
import { iommuForRid, iommusOf, type IommuReference } from './of-iommu.js';
import {
  DomainType,
  IommuDomain,
  IommuError,
  IommuGroup,
  IotlbGather,
  isPaging,
  type DeviceIommu,
  type DomainTypeValue,
  type FaultHandler,
  type IommuFault,
  type IommuInstance,
} from './types.js';

export interface IommuPolicy {
  /** Default domains: translated (the DMA API maps through the IOMMU) or passthrough (identity). */
  defaultDomain: 'translated' | 'passthrough';
  /** Strict: every DMA unmap is invalidated before it returns; lazy: through a flush queue. */
  strict: boolean;
}

export const DEFAULT_POLICY: IommuPolicy = { defaultDomain: 'translated', strict: true };

export type ConfigureResult = true | { defer: string } | { error: string };

/** Faults logged per domain before the log only counts them (like a rate limit). */
const FAULT_LOG_LIMIT = 16;

export class IommuCore {
  readonly instances: IommuInstance[] = [];
  readonly groups: IommuGroup[] = [];
  readonly stats = { faultsReported: 0, faultsUnhandled: 0 };
  /**
   * Observers of every reported fault, before it is routed (as Linux's IOMMU fault
   * tracepoints): tools watch faults without owning domains.
   */
  readonly faultObservers: ((fault: IommuFault) => void)[] = [];
  private readonly groupsByKey = new Map<string, IommuGroup>();
  /** Called when an instance registers (the driver model retries deferred probes). */
  onRegister: () => void = () => undefined;

  constructor(
    private readonly dt: DeviceTree,
    private readonly log: KernelLog,
    public policy: IommuPolicy = DEFAULT_POLICY,
  ) {}

  // ---- IOMMU instances --------------------------------------------------------------------

  register(instance: IommuInstance): void {
    if (this.instances.some((i) => i.node === instance.node)) throw new IommuError(`an IOMMU is already registered for ${instance.node.path}`);
    this.instances.push(instance);
    this.log.info('iommu', `registered ${instance.name} (${instance.node.path})`);
    this.onRegister();
  }

  instanceFor(node: DtNode): IommuInstance | undefined {
    return this.instances.find((i) => i.node === node);
  }

  // ---- device probing ----------------------------------------------------------------------

  /** The IOMMU references of a device, from its node's `iommus` or its host bridge's `iommu-map`. */
  references(dev: Device): IommuReference[] {
    if (dev.pci !== null) {
      const ref = iommuForRid(this.dt, dev.pci.hostBridge, dev.requesterId ?? 0);
      return ref === null ? [] : [ref];
    }
    return dev.node === null ? [] : iommusOf(this.dt, dev.node);
  }

  /**
   * Sets up translation for `dev` before its driver probes (Linux of_dma_configure): fwspec,
   * the driver's probe_device, the group and its default domain.
   */
  configure(dev: Device): ConfigureResult {
    if (dev.iommu !== null) return true;
    let refs: IommuReference[];
    try {
      refs = this.references(dev);
    } catch (e) {
      return { error: (e as Error).message };
    }
    // An IOMMU never sits behind itself (a PCI IOMMU left out of its bridge's iommu-map).
    refs = refs.filter((r) => r.iommu !== dev.node);
    if (refs.length === 0) return true;
    const node = refs[0].iommu;
    if (refs.some((r) => r.iommu !== node)) return { error: 'devices behind more than one IOMMU are not supported' };
    const status = node.string('status');
    if (status !== undefined && status !== 'okay' && status !== 'ok') return true; // disabled IOMMU: no translation
    const inst = this.instanceFor(node);
    if (inst === undefined) return { defer: `waiting for IOMMU ${node.path}` };

    const info: DeviceIommu = { fwspec: { iommu: inst, ids: [] }, group: new IommuGroup(-1, ''), driverData: undefined };
    dev.iommu = info;
    for (const r of refs) {
      const err = inst.ops.ofXlate(dev, r.args);
      if (err !== null) return this.abandon(dev, `${inst.name}: ${err}`);
    }
    const err = inst.ops.probeDevice(dev);
    if (err !== null) return this.abandon(dev, `${inst.name}: ${err}`);

    const key = `${inst.name}/${inst.ops.deviceGroup?.(dev) ?? dev.name}`;
    let group = this.groupsByKey.get(key);
    if (group === undefined) {
      group = new IommuGroup(this.groups.length, key);
      this.groups.push(group);
      this.groupsByKey.set(key, group);
    }
    info.group = group;
    group.devices.push(dev);
    if (group.domain === null) {
      const domain = this.allocDefaultDomain(dev, inst);
      if (typeof domain === 'string') return this.abandon(dev, domain);
      group.defaultDomain = domain;
    }
    const target = group.domain ?? group.defaultDomain;
    if (target === null) return this.abandon(dev, 'no domain to attach');
    const attachErr = target.ops.attachDev(target, dev);
    if (attachErr !== null) return this.abandon(dev, `attaching ${target.name}: ${attachErr}`);
    group.domain = target;
    target.devices.add(dev);
    this.log.info(dev.name, `added to IOMMU group ${group.id} on ${inst.name}, default domain ${target.name} (${target.type})`);
    return true;
  }

  private allocDefaultDomain(dev: Device, inst: IommuInstance): IommuDomain | string {
    const forced = inst.ops.defDomainType?.(dev) ?? null;
    let type: DomainTypeValue = forced ?? (this.policy.defaultDomain === 'passthrough' ? DomainType.Identity : this.policy.strict ? DomainType.Dma : DomainType.DmaFq);
    if (type === DomainType.Identity) {
      if (inst.ops.identityDomain !== undefined) return inst.ops.identityDomain;
      type = this.policy.strict ? DomainType.Dma : DomainType.DmaFq; // no identity domain: translate
    }
    if (type === DomainType.Blocked) return inst.ops.blockedDomain ?? 'the IOMMU has no blocked domain';
    return inst.ops.domainAllocPaging(dev, type);
  }

  private abandon(dev: Device, reason: string): ConfigureResult {
    const info = dev.iommu as DeviceIommu | null;
    if (info !== null) info.fwspec.iommu.ops.releaseDevice?.(dev);
    dev.iommu = null;
    return { error: reason };
  }

  /** The core's state for `dev`, or null when no IOMMU translates its DMA. */
  deviceIommu(dev: Device): DeviceIommu | null {
    return dev.iommu as DeviceIommu | null;
  }

  /** The domain `dev` is attached to now (null without an IOMMU). */
  domainOf(dev: Device): IommuDomain | null {
    return this.deviceIommu(dev)?.group.domain ?? null;
  }

  // ---- domains -----------------------------------------------------------------------------

  /** A new paging domain usable by `dev` (Linux iommu_paging_domain_alloc); unmanaged by default. */
  domainAlloc(dev: Device, type: DomainTypeValue = DomainType.Unmanaged): IommuDomain {
    const info = this.deviceIommu(dev);
    if (info === null) throw new IommuError(`${dev.name} is not behind an IOMMU`);
    if (!isPaging(type)) throw new IommuError(`domainAlloc makes paging domains, not ${type}`);
    const d = info.fwspec.iommu.ops.domainAllocPaging(dev, type);
    if (typeof d === 'string') throw new IommuError(`${info.fwspec.iommu.name}: ${d}`);
    return d;
  }

  /** The instance's identity or blocked domain. */
  staticDomain(dev: Device, type: typeof DomainType.Identity | typeof DomainType.Blocked): IommuDomain {
    const info = this.deviceIommu(dev);
    if (info === null) throw new IommuError(`${dev.name} is not behind an IOMMU`);
    const d = type === DomainType.Identity ? info.fwspec.iommu.ops.identityDomain : info.fwspec.iommu.ops.blockedDomain;
    if (d === undefined) throw new IommuError(`${info.fwspec.iommu.name} has no ${type} domain`);
    return d;
  }

  domainFree(domain: IommuDomain): void {
    if (domain.devices.size !== 0) throw new IommuError(`domain ${domain.name} still has ${domain.devices.size} device(s) attached`);
    domain.ops.free?.(domain);
  }

  /**
   * Attaches `dev`'s group to `domain` (Linux iommu_attach_device: the group must hold only
   * this device and be on its default domain).
   */
  attachDevice(domain: IommuDomain, dev: Device): void {
    const group = this.groupOf(dev);
    if (group.devices.length !== 1) throw new IommuError(`${dev.name} shares IOMMU group ${group.id} with other devices: attach the group`);
    this.attachGroup(domain, group);
  }

  /**
   * Attaches `group` to `domain`. The group must be in its default domain or its IOMMU's
   * blocked domain (Linux allows attaching from the blocking domain, where VFIO parks
   * devices), or already in `domain`; the blocked domain itself can always be attached.
   */
  attachGroup(domain: IommuDomain, group: IommuGroup): void {
    const blocked = group.devices.length === 0 ? undefined : this.deviceIommu(group.devices[0])?.fwspec.iommu.ops.blockedDomain;
    if (group.domain !== group.defaultDomain && group.domain !== domain && group.domain !== blocked && domain !== blocked) {
      throw new IommuError(`IOMMU group ${group.id} is attached to ${group.domain?.name}; detach it first`);
    }
    this.switchDomain(group, domain);
  }

  /** Returns `dev`'s group from `domain` to its default domain. */
  detachDevice(domain: IommuDomain, dev: Device): void {
    this.detachGroup(domain, this.groupOf(dev));
  }

  detachGroup(domain: IommuDomain, group: IommuGroup): void {
    if (group.domain !== domain) throw new IommuError(`IOMMU group ${group.id} is not attached to ${domain.name}`);
    if (group.defaultDomain === null) throw new IommuError(`IOMMU group ${group.id} has no default domain`);
    this.switchDomain(group, group.defaultDomain);
  }

  private switchDomain(group: IommuGroup, domain: IommuDomain): void {
    for (const dev of group.devices) {
      const err = domain.ops.attachDev(domain, dev);
      if (err !== null) throw new IommuError(`attaching ${dev.name} to ${domain.name}: ${err}`);
    }
    for (const dev of group.devices) {
      group.domain?.devices.delete(dev);
      domain.devices.add(dev);
    }
    group.domain = domain;
  }

  private groupOf(dev: Device): IommuGroup {
    const info = this.deviceIommu(dev);
    if (info === null) throw new IommuError(`${dev.name} is not behind an IOMMU`);
    return info.group;
  }

  // ---- mapping -----------------------------------------------------------------------------

  /**
   * Maps [iova, iova + size) to [paddr, paddr + size) with `prot` (Prot flags), using the
   * largest page sizes the domain supports that alignment allows.
   */
  map(domain: IommuDomain, iova: bigint, paddr: bigint, size: bigint, prot: number): void {
    const ops = domain.ops;
    if (ops.mapPages === undefined) throw new IommuError(`domain ${domain.name} (${domain.type}) cannot map`);
    this.checkRange(domain, iova, size, 'map');
    const min = BigInt(domain.pageSizes[0]);
    if ((paddr & ((1n << min) - 1n)) !== 0n) throw new IommuError(`map: physical address ${hex(paddr)} is not aligned to the ${sizeName(min)} minimum page`);
    const sizes = domain.pageSizes.map((l) => l - 12);
    let iovaPage = Number(iova >> 12n);
    let page = Number(paddr >> 12n);
    let left = Number(size >> 12n);
    const firstIova = iovaPage;
    domain.stats.mapCalls++;
    while (left > 0) {
      const [log2, count] = pageSize(sizes, iovaPage, page, left);
      const mapped = ops.mapPages(domain, iovaPage, page, log2 + 12, count, prot);
      const pages = mapped * 2 ** log2;
      iovaPage += pages;
      page += pages;
      left -= pages;
      domain.stats.pagesMapped += pages;
      if (mapped < count) {
        // Roll back what this call mapped, then fail.
        if (iovaPage > firstIova) this.unmap(domain, BigInt(firstIova) << 12n, BigInt(iovaPage - firstIova) << 12n);
        throw new IommuError(`map of ${hex(iova)} (+${hex(size)}) failed at ${hex(BigInt(iovaPage) << 12n)}`);
      }
    }
    const error = ops.iotlbSyncMap?.(domain, firstIova, iovaPage - firstIova) ?? null;
    if (error !== null) {
      this.unmap(domain, iova, size);
      throw new IommuError(`map of ${hex(iova)} (+${hex(size)}) failed: ${error}`);
    }
  }

  /** Unmaps [iova, iova + size) and invalidates before returning; returns the bytes unmapped. */
  unmap(domain: IommuDomain, iova: bigint, size: bigint): bigint {
    const gather = new IotlbGather();
    const n = this.unmapFast(domain, iova, size, gather);
    this.iotlbSync(domain, gather);
    return n;
  }

  /** Unmaps without invalidating: the caller syncs `gather` (now or through a flush queue). */
  unmapFast(domain: IommuDomain, iova: bigint, size: bigint, gather: IotlbGather): bigint {
    const ops = domain.ops;
    if (ops.unmapPages === undefined) throw new IommuError(`domain ${domain.name} (${domain.type}) cannot unmap`);
    this.checkRange(domain, iova, size, 'unmap');
    const sizes = domain.pageSizes.map((l) => l - 12);
    let iovaPage = Number(iova >> 12n);
    let left = Number(size >> 12n);
    let unmapped = 0;
    domain.stats.unmapCalls++;
    while (left > 0) {
      const [log2, count] = pageSize(sizes, iovaPage, iovaPage, left);
      const bytes = ops.unmapPages(domain, iovaPage, log2 + 12, count, gather);
      if (bytes === 0) break; // nothing mapped there
      const pages = Math.ceil(bytes / 4096);
      iovaPage += pages;
      left -= pages;
      unmapped += pages;
    }
    domain.stats.pagesUnmapped += unmapped;
    return BigInt(unmapped) << 12n;
  }

  iotlbSync(domain: IommuDomain, gather: IotlbGather): void {
    if (gather.empty && gather.freelist.length === 0) return;
    domain.stats.syncs++;
    domain.ops.iotlbSync?.(domain, gather);
    gather.reset();
  }

  flushIotlbAll(domain: IommuDomain): void {
    domain.stats.flushes++;
    domain.ops.flushIotlbAll?.(domain);
  }

  iovaToPhys(domain: IommuDomain, iova: bigint): bigint | null {
    if (domain.type === DomainType.Identity) return iova;
    if (domain.type === DomainType.Blocked) return null;
    return domain.ops.iovaToPhys?.(domain, iova) ?? null;
  }

  private checkRange(domain: IommuDomain, iova: bigint, size: bigint, what: string): void {
    const min = BigInt(domain.pageSizes[0] ?? 12);
    const mask = (1n << min) - 1n;
    if (size <= 0n) throw new IommuError(`${what}: size must be positive`);
    if ((iova & mask) !== 0n || (size & mask) !== 0n) {
      throw new IommuError(`${what}: ${hex(iova)} (+${hex(size)}) is not aligned to the ${sizeName(min)} minimum page`);
    }
    const g = domain.geometry;
    if (iova < g.start || iova + size - 1n > g.end) {
      throw new IommuError(`${what}: ${hex(iova)} (+${hex(size)}) is outside the domain's aperture ${hex(g.start)}..${hex(g.end)}`);
    }
  }

  // ---- faults ------------------------------------------------------------------------------

  setFaultHandler(domain: IommuDomain, handler: FaultHandler | null): void {
    domain.faultHandler = handler;
  }

  /** Called by IOMMU drivers: routes a fault to the owner of the device's current domain. */
  reportFault(fault: IommuFault): void {
    this.stats.faultsReported++;
    for (const observe of this.faultObservers) observe(fault);
    const domain = fault.device === null ? null : this.domainOf(fault.device);
    if (domain !== null) {
      domain.stats.faults++;
      if (domain.faultHandler !== null && domain.faultHandler(fault, domain)) return;
    }
    this.stats.faultsUnhandled++;
    const n = domain?.stats.faults ?? this.stats.faultsUnhandled;
    if (n <= FAULT_LOG_LIMIT) {
      const who = fault.device?.name ?? 'unknown device';
      const access = fault.exec ? 'execute' : fault.write ? 'write' : 'read';
      this.log.warn(fault.iommu, `unhandled fault: ${who} ${access} at ${hex(fault.iova)}${fault.pasid !== null ? ` pasid ${fault.pasid}` : ''}: ${fault.reason} (cause ${fault.cause})`);
      if (n === FAULT_LOG_LIMIT) this.log.warn(fault.iommu, 'further unhandled faults of this domain are counted, not logged');
    }
  }
}

/**
 * Page-size selection (as Linux iommu_pgsize), in 4 KiB page units: the largest supported
 * size that fits the remaining length and the alignment of both addresses, and how many of
 * them to map before a larger size could take over.
 */
export function pageSize(sizes: readonly number[], iovaPage: number, page: number, pages: number): [number, number] {
  const align = Math.min(trailingZeros(iovaPage), trailingZeros(page));
  let log2 = -1;
  for (const s of sizes) if (s <= align && 2 ** s <= pages && s > log2) log2 = s;
  if (log2 < 0) log2 = sizes[0]; // callers check alignment to the smallest size first
  let limit = pages;
  const next = sizes.find((s) => s > log2);
  if (next !== undefined && (iovaPage - page) % 2 ** next === 0) {
    // Both addresses can reach the next size's alignment together: stop there.
    const toBoundary = 2 ** next - (iovaPage % 2 ** next);
    if (toBoundary + 2 ** next <= pages) limit = toBoundary;
  }
  return [log2, Math.max(1, Math.floor(limit / 2 ** log2))];
}

function trailingZeros(x: number): number {
  if (x === 0) return 64;
  let n = 0;
  while (x % 2 === 0) {
    x /= 2;
    n++;
  }
  return n;
}

function sizeName(log2: bigint): string {
  const n = Number(log2);
  return n >= 30 ? `${2 ** (n - 30)} GiB` : n >= 20 ? `${2 ** (n - 20)} MiB` : `${2 ** (n - 10)} KiB`;
}
