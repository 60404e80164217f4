// The IOMMU core's view of the driver (Linux riscv_iommu_ops): device ids from the device
// tree, device probing (directory slots prepared, not yet valid), groups, and domains.

import { hex } from '../../../sim/u64.js';
import type { Device } from '../../driver-model/device.js';
import type { DomainTypeValue, IommuDomain, IommuOps } from '../../core/types.js';
import { DcWord } from '../../../formats/riscv-iommu/structures.js';
import { allocPagingDomain } from './domains.js';
import type { RiscvIommuDevice } from './iommu.js';

export class RiscvIommuOps implements IommuOps {
  constructor(private readonly iommu: RiscvIommuDevice) {}

  get identityDomain(): IommuDomain {
    return this.iommu.identityDomain;
  }

  get blockedDomain(): IommuDomain {
    return this.iommu.blockedDomain;
  }

  /** #iommu-cells = <1>: the cell is the device_id; a device may list several. */
  ofXlate(dev: Device, args: readonly number[]): string | null {
    if (args.length !== 1) return `expected #iommu-cells = <1> (a device_id), got ${args.length} cell(s)`;
    const id = args[0];
    if (id >= 2 ** 24) return `device_id ${hex(id)} is wider than 24 bits`;
    const info = this.iommu.deviceIommu(dev);
    if (info === null) return `${dev.name} is not behind ${this.iommu.name}`;
    if (!info.fwspec.ids.includes(id)) info.fwspec.ids.push(id);
    return null;
  }

  /**
   * Creates the device-context slots (non-leaf directory pages as needed) with the tc bits
   * the driver uses but V clear; attaching a domain makes them valid.
   */
  probeDevice(dev: Device): string | null {
    const iommu = this.iommu;
    const info = iommu.deviceIommu(dev);
    if (info === null || info.fwspec.ids.length === 0) return 'no device_id for this IOMMU';
    const dir = iommu.directory;
    for (const id of info.fwspec.ids) {
      if (id >= 2 ** dir.deviceIdBits) return `device_id ${hex(id)} does not fit the ${dir.modeName} directory (${dir.deviceIdBits}-bit ids)`;
    }
    for (const id of info.fwspec.ids) {
      let slot: bigint | null;
      try {
        slot = dir.contextAddress(id, true);
      } catch (e) {
        return `no memory for the device directory: ${(e as Error).message}`;
      }
      if (slot === null) return `device_id ${hex(id)} has no directory slot`;
      const users = iommu.devicesById.get(id) ?? [];
      if (users.length === 0) {
        // A context another device (sharing this id) made valid stays as it is.
        if ((dir.read(slot).tc & 1n) !== 0n) iommu.kernel.log.warn(dev.name, `device_id ${hex(id)} is already valid in the device directory`);
        else dir.writeWord(slot, DcWord.tc, iommu.tcBase);
      }
      if (!users.includes(dev)) users.push(dev);
      iommu.devicesById.set(id, users);
    }
    iommu.deviceInfo(dev);
    return null;
  }

  /** The device's contexts go invalid (Linux's release domain is the blocked one). */
  releaseDevice(dev: Device): void {
    const iommu = this.iommu;
    const info = iommu.deviceIommu(dev);
    if (info === null) return;
    const attached = iommu.deviceInfo(dev)?.domain ?? null;
    if (attached !== null && attached !== iommu.blockedDomain) iommu.updateContexts(dev, iommu.blockedDomain, { valid: false, fsc: 0n, pscid: 0 }, null);
    for (const id of info.fwspec.ids) {
      const users = (iommu.devicesById.get(id) ?? []).filter((d) => d !== dev);
      if (users.length === 0) iommu.devicesById.delete(id);
      else iommu.devicesById.set(id, users);
    }
  }

  /** Devices with the same set of device_ids share a group (they cannot be told apart). */
  deviceGroup(dev: Device): string {
    const ids = [...(this.iommu.deviceIommu(dev)?.fwspec.ids ?? [])].sort((a, b) => a - b);
    return `device-id ${ids.map((id) => hex(id)).join(',')}`;
  }

  domainAllocPaging(_dev: Device, type: DomainTypeValue): IommuDomain | string {
    return allocPagingDomain(this.iommu, type);
  }
}
