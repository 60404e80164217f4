// What the driver keeps per device behind the SMMU (Linux struct arm_smmu_master): its
// StreamIDs, its CD table once a stage-1 domain needed one, its ATS capability and state, and
// the domain its STEs point at.

import type { Device } from '../../driver-model/device.js';
import type { IommuDomain } from '../../core/types.js';
import type { AtsCapability } from './ats.js';
import type { CdTable } from './cd-table.js';
import type { SmmuPagingDomain } from './domains.js';

export class SmmuMaster {
  /** The CD table (allocated at the first stage-1 attach). */
  cdTable: CdTable | null = null;
  /** The domain the STEs point at now, and its paging state when it is a paging domain. */
  domain: IommuDomain | null = null;
  paging: SmmuPagingDomain | null = null;
  /** ATS Control.Enable is set in the function (and STE.EATS allows ATS). */
  atsEnabled = false;

  constructor(
    readonly dev: Device,
    /** Distinct StreamIDs, in fwspec order (PCI aliases may repeat one). */
    readonly streams: readonly number[],
    /** SubstreamID bits the device uses (0: none, a CD table of one CD). */
    readonly ssidBits: number,
    /** The function's ATS capability, when it is a PCI function behind an ATS-capable root complex. */
    readonly ats: AtsCapability | null,
  ) {}
}
