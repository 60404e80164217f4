// The hypervisor's IOMMU framework, after Xen's xen/drivers/passthrough/arm/iommu.c and
// device_tree.c: IOMMU drivers probe their nodes (iommu_hardware_setup, retrying the probes
// that asked to wait, -EAGAIN, whenever another IOMMU registers); the first driver that
// registers an IOMMU sets the ops (iommu_set_ops: one driver per machine); devices are added
// with their `iommus` specifiers (iommu_add_dt_device: an iommu_fwspec, dt_xlate per
// specifier, add_device), and, like Linux's deferred probe, a device whose IOMMU has not
// registered yet waits and is retried when one does; devices are assigned to a domain
// (iommu_assign_dt_device) and deassigned from it (iommu_deassign_dt_device).
//
// Quarantine (Xen's iommu_quarantine, here for device-tree devices too): a device the IOMMU
// protects but no domain owns is assigned to dom_io, whose P2M is empty, so its DMA faults
// instead of reaching memory with the IOMMU bypassed. Without quarantine a deassigned device
// is simply detached, as Xen does for device-tree devices (the IPMMU then bypasses it).

import { phandleSpecifiers, type PhandleSpecifier } from '../../../formats/devicetree/specifiers.js';
import type { DtNode } from '../../../formats/devicetree/tree.js';
import { XenError } from '../errors.js';
import type { XenDomain } from '../domain/domain.js';
import type { Xen } from '../xen.js';
import { DtDevice, type XenIommuDriver, type XenIommuDriverInstance, type XenIommuFault, type XenIommuOps, type XenProbeResult } from './types.js';

/** Faults kept for reports; older ones are dropped (the counters keep counting). */
const FAULT_HISTORY = 1000;

export type AddDeviceResult = 'added' | 'no-iommu' | { defer: string } | { error: string };

export interface XenIommuCounters {
  assignments: number;
  deassignments: number;
  /** Devices put in quarantine (dom_io). */
  quarantined: number;
  /** IOMMU TLB flushes requested for domains. */
  flushes: number;
  faults: number;
  /** Probes (of IOMMUs and devices) that had to wait. */
  deferrals: number;
}

export class XenIommu {
  /** The ops of the driver that registered first (iommu_get_ops); null while no IOMMU is up. */
  ops: XenIommuOps | null = null;
  readonly faults: XenIommuFault[] = [];
  readonly counters: XenIommuCounters = { assignments: 0, deassignments: 0, quarantined: 0, flushes: 0, faults: 0, deferrals: 0 };
  /** Told of every fault as it is reported (tools that watch the hypervisor, such as the scenario runner). */
  readonly faultObservers: ((fault: XenIommuFault) => void)[] = [];
  private readonly drivers: { driver: XenIommuDriver; instance: XenIommuDriverInstance }[];
  private readonly devices = new Map<DtNode, DtDevice>();
  /** IOMMU nodes whose probe asked to wait, and devices waiting for their IOMMU, with the reason. */
  private readonly waitingIommus = new Map<DtNode, string>();
  private readonly waitingDevices = new Map<DtNode, string>();
  /** IOMMU nodes a driver registered. */
  private readonly registered = new Set<DtNode>();
  private readonly initialised = new Set<XenDomain>();
  private retrying = false;

  constructor(
    private readonly xen: Xen,
    drivers: readonly XenIommuDriver[],
  ) {
    this.drivers = drivers.map((driver) => ({ driver, instance: driver.attach(xen) }));
  }

  /** Whether a driver claims `node` (an IOMMU node). */
  claims(node: DtNode): boolean {
    return this.driverFor(node) !== null;
  }

  /** Whether the IOMMU of `node` has registered. */
  isRegistered(node: DtNode): boolean {
    return this.registered.has(node);
  }

  /** Probes an IOMMU node (device_init with DEVICE_IOMMU); a deferred probe is retried when another IOMMU registers. */
  probe(node: DtNode): XenProbeResult {
    const match = this.driverFor(node);
    if (match === null) return { error: `no IOMMU driver matches ${node.path}` };
    const result = match.instance.probe(node);
    if (result === 'ok') {
      this.waitingIommus.delete(node);
      this.registered.add(node);
      if (this.ops === null) this.ops = match.instance.ops;
      else if (this.ops !== match.instance.ops) this.xen.log.warn('iommu', `${node.path}: cannot set IOMMU ops, already set to ${this.ops.name}`);
      this.retryWaiting();
    } else if ('defer' in result) {
      if (!this.waitingIommus.has(node)) this.counters.deferrals++;
      this.waitingIommus.set(node, result.defer);
      this.xen.log.info('iommu', `${node.path}: probe deferred: ${result.defer}`);
    } else {
      this.waitingIommus.delete(node);
      this.xen.log.error('iommu', `${node.path}: failed to init IOMMU: ${result.error}`);
    }
    return result;
  }

  /** The hypervisor's record of a device node. */
  device(node: DtNode): DtDevice {
    let dev = this.devices.get(node);
    if (dev === undefined) {
      dev = new DtDevice(node);
      this.devices.set(node, dev);
    }
    return dev;
  }

  /** Devices added to the IOMMU. */
  get protectedDevices(): DtDevice[] {
    return [...this.devices.values()].filter((d) => d.protected);
  }

  /** What still waits: IOMMU probes and devices, with the reason. */
  get waiting(): { node: DtNode; reason: string }[] {
    return [...this.waitingIommus, ...this.waitingDevices].map(([node, reason]) => ({ node, reason }));
  }

  /**
   * Adds a device with its `iommus` specifiers (iommu_add_dt_device). 'no-iommu' when it has
   * none (or its IOMMU is disabled); defer while its IOMMU has not registered. A device added
   * is quarantined (dom_io) when quarantine is on.
   */
  addDtDevice(node: DtNode): AddDeviceResult {
    const dev = this.device(node);
    if (dev.protected) return 'added';
    let specs: PhandleSpecifier[];
    try {
      specs = phandleSpecifiers(this.xen.dt, node, 'iommus', '#iommu-cells', (m) => new XenError(m)) ?? [];
    } catch (e) {
      return this.fail(dev, (e as Error).message);
    }
    const usable = specs.filter((s) => isEnabled(s.target));
    if (usable.length === 0) return 'no-iommu';
    if (usable.some((s) => s.target !== usable[0].target)) return this.fail(dev, 'devices behind more than one IOMMU are not supported');
    const ops = this.ops;
    if (ops === null || !this.registered.has(usable[0].target)) return this.wait(dev, `waiting for IOMMU ${usable[0].target.path}`);
    dev.fwspec = { iommu: usable[0].target, ids: [] };
    for (const s of usable) {
      const r = ops.dtXlate(dev, s.target, s.args);
      if (r !== 'ok') {
        dev.fwspec = null;
        dev.iommuPriv = null;
        return 'defer' in r ? this.wait(dev, r.defer) : this.fail(dev, r.error);
      }
    }
    const err = ops.addDevice(dev);
    if (err !== null) {
      dev.fwspec = null;
      dev.iommuPriv = null;
      return this.fail(dev, err);
    }
    this.waitingDevices.delete(node);
    if (this.xen.quarantine) this.quarantine(dev);
    return 'added';
  }

  /** Assigns a protected device to `d` (iommu_assign_dt_device), taking it out of quarantine. Throws XenError. */
  assign(d: XenDomain, dev: DtDevice): void {
    const ops = this.requireOps();
    if (!dev.protected) throw new XenError(`${dev.path} is not protected by an IOMMU: it cannot be assigned`);
    if (dev.domain === d) return;
    const domIo = this.xen.domIo;
    if (dev.domain !== null && dev.domain !== domIo) throw new XenError(`${dev.path} is already assigned to ${dev.domain.label}`);
    if (d.state !== 'running') throw new XenError(`${d.label} is ${d.state}: no device can be assigned to it`);
    if (dev.domain === domIo) this.detach(domIo, dev);
    this.ensureInit(d);
    const err = ops.assignDevice(d, dev);
    if (err !== null) {
      if (this.xen.quarantine && d !== domIo) this.quarantine(dev);
      throw new XenError(`assigning ${dev.path} to ${d.label} failed: ${err}`);
    }
    this.attach(d, dev);
    this.counters.assignments++;
    d.counters.assignments++;
  }

  /** Deassigns a device from `d` (iommu_deassign_dt_device); it goes to quarantine when that is on. Throws XenError. */
  deassign(d: XenDomain, dev: DtDevice): void {
    this.requireOps();
    if (dev.domain !== d) throw new XenError(`${dev.path} is not assigned to ${d.label}`);
    this.detach(d, dev);
    this.counters.deassignments++;
    if (this.xen.quarantine && d !== this.xen.domIo) this.quarantine(dev);
  }

  /** The IOMMU TLB flush after a change of `d`'s P2M. */
  iotlbFlush(d: XenDomain): void {
    if (this.ops === null || !this.initialised.has(d)) return;
    this.ops.iotlbFlush(d);
    this.counters.flushes++;
    d.counters.iommuFlushes++;
  }

  /** Releases `d`'s IOMMU resources (its devices are deassigned already). */
  teardown(d: XenDomain): void {
    if (this.ops === null || !this.initialised.has(d)) return;
    this.ops.teardown(d);
    this.initialised.delete(d);
  }

  /** A driver reports a fault it decoded. */
  reportFault(fault: XenIommuFault): void {
    this.counters.faults++;
    if (fault.domain !== null) fault.domain.counters.iommuFaults++;
    this.faults.push(fault);
    if (this.faults.length > FAULT_HISTORY) this.faults.shift();
    for (const observe of this.faultObservers) observe(fault);
  }

  private quarantine(dev: DtDevice): void {
    const domIo = this.xen.domIo;
    this.ensureInit(domIo);
    const err = this.requireOps().assignDevice(domIo, dev);
    if (err !== null) {
      this.xen.log.error('iommu', `${dev.path}: cannot be quarantined: ${err}; its DMA is not translated`);
      return;
    }
    this.attach(domIo, dev);
    this.counters.quarantined++;
  }

  private attach(d: XenDomain, dev: DtDevice): void {
    dev.domain = d;
    d.devices.add(dev);
  }

  private detach(d: XenDomain, dev: DtDevice): void {
    const err = this.requireOps().deassignDevice(d, dev);
    if (err !== null) throw new XenError(`deassigning ${dev.path} from ${d.label} failed: ${err}`);
    d.devices.delete(dev);
    dev.domain = null;
  }

  private ensureInit(d: XenDomain): void {
    if (this.initialised.has(d)) return;
    this.requireOps().init(d);
    this.initialised.add(d);
  }

  private requireOps(): XenIommuOps {
    if (this.ops === null) throw new XenError('no IOMMU is registered: devices cannot be assigned');
    return this.ops;
  }

  private wait(dev: DtDevice, reason: string): AddDeviceResult {
    if (!this.waitingDevices.has(dev.node)) {
      this.counters.deferrals++;
      this.xen.log.info('iommu', `${dev.path}: add deferred: ${reason}`);
    }
    this.waitingDevices.set(dev.node, reason);
    return { defer: reason };
  }

  private fail(dev: DtDevice, error: string): AddDeviceResult {
    this.waitingDevices.delete(dev.node);
    this.xen.log.error('iommu', `${dev.path}: failed to add to the IOMMU: ${error}`);
    return { error };
  }

  /** Retries waiting IOMMU probes, then waiting devices, until nothing changes. */
  private retryWaiting(): void {
    if (this.retrying) return; // a probe inside the loop registered: the loop goes on
    this.retrying = true;
    try {
      let progress = true;
      while (progress) {
        progress = false;
        for (const node of [...this.waitingIommus.keys()]) {
          if (this.probe(node) === 'ok') progress = true;
        }
        for (const node of [...this.waitingDevices.keys()]) {
          if (this.addDtDevice(node) === 'added') progress = true;
        }
      }
    } finally {
      this.retrying = false;
    }
  }

  private driverFor(node: DtNode): { driver: XenIommuDriver; instance: XenIommuDriverInstance } | null {
    const compatible = node.strings('compatible') ?? [];
    return this.drivers.find((d) => d.driver.compatible.some((c) => compatible.includes(c))) ?? null;
  }
}

export function isEnabled(node: DtNode): boolean {
  const s = node.string('status');
  return s === undefined || s === 'okay' || s === 'ok';
}
