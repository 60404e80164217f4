// The IOMMU core's view of the driver (Linux viommu_ops): endpoint ids from the device tree,
// device probing with PROBE and its reserved regions, groups, and domains.

import { VirtioIommuStatus } from '../../../formats/virtio-iommu/requests.js';
import { hex } from '../../../sim/u64.js';
import type { DomainTypeValue, IommuDomain, IommuOps } from '../../core/types.js';
import type { Device } from '../../driver-model/device.js';
import { allocPagingDomain } from './domains.js';
import { parseProperties, ViommuEndpoint } from './endpoint.js';
import { deviceErrors, type VirtioIommuDevice } from './iommu.js';
import { statusName } from './request-queue.js';

export class VirtioIommuOps implements IommuOps {
  readonly identityDomain: IommuDomain | undefined;
  readonly blockedDomain: IommuDomain | undefined;

  constructor(private readonly viommu: VirtioIommuDevice) {
    this.identityDomain = viommu.identityDomain;
    this.blockedDomain = viommu.blockedDomain;
  }

  /** #iommu-cells = <1>: the cell is the endpoint id (32 bits); a device may list several. */
  ofXlate(dev: Device, args: readonly number[]): string | null {
    if (args.length !== 1) return `expected #iommu-cells = <1> (an endpoint id), got ${args.length} cell(s)`;
    const info = this.viommu.deviceIommu(dev);
    if (info === null) return `${dev.name} is not behind ${this.viommu.name}`;
    if (!info.fwspec.ids.includes(args[0])) info.fwspec.ids.push(args[0]);
    return null;
  }

  /**
   * Records the device's endpoints and, when PROBE was negotiated, asks the device about each
   * of them before anything attaches them (5.13.5.1: SHOULD), keeping the RESV_MEM regions.
   */
  probeDevice(dev: Device): string | null {
    const v = this.viommu;
    const info = v.deviceIommu(dev);
    if (info === null || info.fwspec.ids.length === 0) return 'no endpoint id for this IOMMU';
    const ep = new ViommuEndpoint(dev, info.fwspec.ids);
    info.driverData = ep;
    for (const id of ep.ids) {
      const other = v.devicesById.get(id);
      if (other !== undefined && other !== dev) v.kernel.log.warn(dev.name, `endpoint id ${hex(id)} is also used by ${other.name}`);
      else v.devicesById.set(id, dev);
    }
    if (v.config.probeSize === 0) return null;
    for (const id of ep.ids) {
      let properties: Uint8Array = new Uint8Array(0);
      const err = deviceErrors(() => {
        const answer = v.requests.probe(id, v.config.probeSize);
        properties = answer.properties;
        return answer.status === VirtioIommuStatus.Ok ? null : `PROBE of endpoint ${id}: ${statusName(answer.status)}`;
      });
      if (err !== null) return err;
      const { regions, skipped } = parseProperties(properties);
      for (const s of skipped) v.kernel.log.warn(dev.name, `PROBE of endpoint ${id}: ignored ${s}`);
      for (const r of regions) {
        if (ep.reservedRegions.some((o) => o.start === r.start && o.end === r.end && o.kind === r.kind)) continue;
        ep.reservedRegions.push(r);
        v.kernel.log.info(dev.name, `endpoint ${id}: ${r.kind === 'msi' ? 'MSI doorbell' : 'reserved'} region ${hex(r.start)}..${hex(r.end)}`);
      }
    }
    ep.reservedRegions.sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
    return null;
  }

  /** Detaches the device's endpoints (Linux viommu_release_device) and forgets them. */
  releaseDevice(dev: Device): void {
    const v = this.viommu;
    const info = v.deviceIommu(dev);
    if (info === null) return;
    if (v.endpoint(dev) !== null) {
      const err = v.detach(dev);
      if (err !== null) v.kernel.log.warn(dev.name, `releasing from ${v.name}: ${err}`);
    }
    for (const id of info.fwspec.ids) if (v.devicesById.get(id) === dev) v.devicesById.delete(id);
    info.driverData = undefined;
  }

  /** Devices with the same endpoint ids share a group (the device cannot tell them apart). */
  deviceGroup(dev: Device): string {
    const ids = [...(this.viommu.deviceIommu(dev)?.fwspec.ids ?? [])].sort((a, b) => a - b);
    return `endpoint ${ids.map((id) => hex(id)).join(',')}`;
  }

  /** A paging domain: a fresh domain id, the device's page sizes, the input range as aperture. */
  domainAllocPaging(_dev: Device, type: DomainTypeValue): IommuDomain | string {
    const v = this.viommu;
    if (v.pagingProblem !== null) return v.pagingProblem;
    return allocPagingDomain(v, type);
  }
}
