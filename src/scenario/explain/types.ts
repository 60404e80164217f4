// What `explain` produces for any IOMMU architecture: the request, what each cache did, every
// implicit memory access with its decoded fields, and the outcome.

import type { RecordedFault } from '../faults.js';
import type { AddressExpr } from '../values.js';

export interface ExplainRequest {
  device: string;
  iova: AddressExpr;
  write: boolean;
  pasid: number | null;
  cold: boolean;
}

export interface ExplainedField {
  name: string;
  value: bigint;
}

export interface ExplainedAccess {
  /** The structure read ("pte", "dc", "ste", "cd", "s1desc", ...). */
  structure: string;
  /** "first-stage PTE, level 2", "device context: fsc", "STE dword 0". */
  what: string;
  level: number;
  address: bigint;
  size: number;
  value: bigint;
  write: boolean;
  status: 'ok' | 'access-fault' | 'data-corruption';
  fields: ExplainedField[];
  /** What the entry means ("next table at 0x...", "2 MiB page at 0x...", "not valid"). */
  meaning: string;
}

export type CacheOutcome = 'hit' | 'miss' | 'not used';

export interface ExplainedCache {
  /** "IOTLB", "device context", "STE", ... */
  name: string;
  outcome: CacheOutcome;
  /** What a miss costs ("page walk", "directory walk"). */
  onMiss: string;
}

/** What every architecture's part is given of the request: the device, its id at the IOMMU, the IOVA, the access. */
export type ExplainBase = Pick<Explanation, 'device' | 'deviceId' | 'iommu' | 'iova' | 'access' | 'pasid'>;

export interface Explanation {
  device: string;
  /** The id the request carries at the IOMMU (device_id, StreamID). */
  deviceId: number;
  iommu: string;
  /** "RISC-V IOMMU", "SMMUv3". */
  architecture: string;
  /** The IOMMU's global mode when the request arrived (ddtp.iommu_mode, SMMUEN/GBPA). */
  iommuMode: string;
  iova: bigint;
  access: 'read' | 'write';
  pasid: number | null;
  /** Commands the driver submitted to empty the caches first (empty without --cold). */
  coldCommands: string[];
  caches: ExplainedCache[];
  accesses: ExplainedAccess[];
  result: { ok: true; physical: bigint; pageSize: bigint; permissions: string } | { ok: false; cause: number; causeName: string; why: string };
  /** The fault as the driver reported it to the kernel (when the request faulted). */
  reported: RecordedFault | null;
  /**
   * What the IOMMU looked up, in words, where there are no memory accesses to show (a
   * virtio-iommu keeps its domains and mappings in the device, not in guest memory).
   */
  notes?: string[];
}
