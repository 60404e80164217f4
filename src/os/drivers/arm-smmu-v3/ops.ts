// The IOMMU core's view of the driver (Linux arm_smmu_ops): StreamIDs from the device tree,
// device probing (Stream-table arrays made ready, aliasing refused), release, and domains.

import { hex } from '../../../sim/u64.js';
import type { Device } from '../../driver-model/device.js';
import type { DomainTypeValue, IommuDomain, IommuOps } from '../../core/types.js';
import { AtsCapability, rootComplexSupportsAts } from './ats.js';
import { CD_LINEAR_MAX_BITS } from './cd-table.js';
import { allocPagingDomain, type SmmuStage } from './domains.js';
import { cmdCfgiSte } from '../../../formats/smmuv3/commands.js';
import type { ArmSmmuV3Device } from './iommu.js';
import { SmmuMaster } from './master.js';

export class ArmSmmuV3Ops implements IommuOps {
  constructor(private readonly iommu: ArmSmmuV3Device) {}

  get identityDomain(): IommuDomain {
    return this.iommu.identityDomain;
  }

  get blockedDomain(): IommuDomain {
    return this.iommu.blockedDomain;
  }

  /** #iommu-cells = <1>: the cell is a StreamID; a device may list several. */
  ofXlate(dev: Device, args: readonly number[]): string | null {
    if (args.length !== 1) return `expected #iommu-cells = <1> (a StreamID), got ${args.length} cell(s)`;
    const info = this.iommu.deviceIommu(dev);
    if (info === null) return `${dev.name} is not behind ${this.iommu.name}`;
    info.fwspec.ids.push(args[0] >>> 0);
    return null;
  }

  /**
   * Linux arm_smmu_probe_device: every StreamID must be in range of the Stream table and not
   * used by another device; the level-2 Stream-table arrays holding them are created (their
   * level-1 descriptors invalidated with the non-leaf CMD_CFGI_STE, 5.1.1). The STEs stay
   * "abort" until a domain is attached.
   */
  probeDevice(dev: Device): string | null {
    const iommu = this.iommu;
    const info = iommu.deviceIommu(dev);
    if (info === null || info.fwspec.ids.length === 0) return 'no StreamID for this SMMU';
    const streams = [...new Set(info.fwspec.ids)];
    const table = iommu.streamTable;
    for (const sid of streams) {
      if (!table.covers(sid)) return `StreamID ${hex(sid)} is out of range of the Stream table (${table.sidBits}-bit StreamIDs)`;
      const owner = iommu.streams.get(sid);
      if (owner !== undefined && owner.dev !== dev) return `aliasing StreamID ${hex(sid)} (from ${owner.dev.name}) is not supported`;
    }
    try {
      for (const sid of streams) if (table.ensureL2(sid)) iommu.issue(cmdCfgiSte(sid, false));
    } catch (e) {
      return `cannot prepare the Stream table: ${(e as Error).message}`;
    }
    const f = iommu.features;
    // SubstreamIDs the device may use (Linux: "pasid-num-bits", capped by the SMMU and, without
    // 2-level CD tables, by the largest linear table).
    let ssidBits = Math.min(dev.node?.u32('pasid-num-bits') ?? 0, f.ssidBits);
    if (!f.twoLevelCdTable) ssidBits = Math.min(ssidBits, CD_LINEAR_MAX_BITS);
    const ats = f.ats && rootComplexSupportsAts(dev) ? AtsCapability.find(iommu.kernel, dev) : null;
    const master = new SmmuMaster(dev, streams, ssidBits, ats);
    iommu.masters.set(dev, master);
    for (const sid of streams) iommu.streams.set(sid, master);
    return null;
  }

  /** Linux arm_smmu_release_device: the STEs go back to abort, the CD table is freed. */
  releaseDevice(dev: Device): void {
    const iommu = this.iommu;
    const master = iommu.master(dev);
    if (master === null) return;
    if (master.domain !== null) iommu.attachStatic(dev, iommu.blockedDomain, 'abort');
    for (const sid of master.streams) if (iommu.streams.get(sid) === master) iommu.streams.delete(sid);
    master.paging?.masters.delete(master);
    master.cdTable?.free();
    master.cdTable = null;
    iommu.masters.delete(dev);
  }

  domainAllocPaging(_dev: Device, type: DomainTypeValue): IommuDomain | string {
    const iommu = this.iommu;
    const want = iommu.options.domainStage;
    const stage: SmmuStage = want === 's2' ? 2 : want === 's1' ? 1 : iommu.features.stage1 ? 1 : 2;
    return allocPagingDomain(iommu, type, stage);
  }
}
