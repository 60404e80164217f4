// The hypervisor's IOMMU vocabulary, after Xen's xen/include/xen/iommu.h and
// asm/iommu_fwspec.h: a device-tree device (struct dt_device_node with its struct device), its
// iommu_fwspec (the IOMMU node and the ids from its `iommus` specifiers), the ops one IOMMU
// driver provides (struct iommu_ops), and the driver's entry point (DT_DEVICE_START with
// DEVICE_IOMMU).

import type { DtNode } from '../../../formats/devicetree/tree.js';
import type { XenDomain } from '../domain/domain.js';
import type { Xen } from '../xen.js';

/** Xen's iommu_fwspec: which IOMMU translates the device, under which ids (micro-TLBs for the IPMMU). */
export interface IommuFwspec {
  iommu: DtNode;
  ids: number[];
}

/** A device of the device tree as the hypervisor tracks it (struct dt_device_node + struct device). */
export class DtDevice {
  fwspec: IommuFwspec | null = null;
  /** Added to the IOMMU (dt_device_set_protected): its DMA goes through an IOMMU the hypervisor manages. */
  protected = false;
  /** The domain it is assigned to (its domain_list membership / used_by); dom_io when quarantined. */
  domain: XenDomain | null = null;
  /** The IOMMU driver's per-device data (fwspec->iommu_priv). */
  iommuPriv: unknown = null;

  constructor(readonly node: DtNode) {}

  get path(): string {
    return this.node.path;
  }
}

export type XenProbeResult = 'ok' | { defer: string } | { error: string };

/** What the IOMMU driver implements (struct iommu_ops). Errors are returned as messages. */
export interface XenIommuOps {
  readonly name: string;
  /** The domain's IOMMU data (iommu_domain_init). */
  init(d: XenDomain): void;
  /** Releases the domain's IOMMU resources; its devices are already deassigned. */
  teardown(d: XenDomain): void;
  /** Invalidates the IOMMU TLBs of the domain's P2M (iotlb_flush; the IPMMU flushes whole contexts). */
  iotlbFlush(d: XenDomain): void;
  /** Points the device's DMA at the domain's P2M. */
  assignDevice(d: XenDomain, dev: DtDevice): string | null;
  /** Detaches the device from `from`. */
  deassignDevice(from: XenDomain, dev: DtDevice): string | null;
  /** Takes one `iommus` specifier of a device; defers while its IOMMU has not registered. */
  dtXlate(dev: DtDevice, iommu: DtNode, args: readonly number[]): XenProbeResult;
  /** Registers the device once every specifier was taken (marks it protected). */
  addDevice(dev: DtDevice): string | null;
  /** The driver's view of its IOMMUs, for reports. */
  report(): XenIommuInstanceReport[];
}

/** A driver that probes IOMMU nodes (DT_DEVICE_START(..., DEVICE_IOMMU)). */
export interface XenIommuDriver {
  readonly name: string;
  readonly compatible: readonly string[];
  /** The driver's instance for one hypervisor (its list of IOMMUs, its ops). */
  attach(xen: Xen): XenIommuDriverInstance;
}

export interface XenIommuDriverInstance {
  readonly ops: XenIommuOps;
  /** Probes one IOMMU node: 'ok' registered it; defer retries it when another IOMMU registers (-EAGAIN). */
  probe(node: DtNode): XenProbeResult;
}

/** One IOMMU as its driver reports it: contexts in use and micro-TLBs enabled. */
export interface XenIommuInstanceReport {
  path: string;
  role: 'root' | 'cache';
  /** The root it reports to (cache IPMMUs). */
  root: string | null;
  /** Root: contexts in use, with their domain (reserved contexts have none). */
  contexts: { context: number; domain: string | null }[];
  /** Micro-TLBs enabled, with the devices on them and their context. */
  utlbs: { utlb: number; context: number; devices: string[] }[];
}

/** An IOMMU fault as the hypervisor decoded it. */
export interface XenIommuFault {
  /** Simulated time it was handled. */
  time: number;
  /** The IOMMU that reported it (the root IPMMU). */
  iommu: string;
  context: number;
  /** The domain whose context faulted; null if no domain owns the context. */
  domain: XenDomain | null;
  /** The devices that could have issued the transaction (those of the domain behind this IOMMU). */
  devices: string[];
  /** The faulting input address (IPA). */
  address: bigint;
  /** The raw status register and its decoded kinds. */
  status: number;
  kinds: string[];
}
