// The driver's choices that Linux makes through module parameters or domain-allocation flags,
// as named options of the platform driver.

export interface ArmSmmuV3Options {
  /**
   * Stage of paging domains the IOMMU core allocates: 'auto' prefers stage 1 and falls back to
   * stage 2 when the SMMU has no stage 1 (Linux's default); 's1' or 's2' ask for one stage
   * (Linux allocates stage 2 for IOMMU_HWPT_ALLOC_NEST_PARENT).
   */
  domainStage?: 'auto' | 's1' | 's2';
  /**
   * How CMD_SYNC completion is detected: 'auto' uses the MSI written back into the CMD_SYNC
   * when the SMMU has MSIs and is coherent, else polls CMDQ_CONS (Linux's default); 'cons'
   * always polls CMDQ_CONS (Linux's disable_msipolling).
   */
  syncCompletion?: 'auto' | 'cons';
  /**
   * Largest queues to allocate, as log2 of entries (capped by IDR1.CMDQS, EVENTQS, PRIQS).
   * Linux allocates up to one maximal page allocation; 64 KiB per queue is the default here.
   */
  cmdqLog2?: number;
  eventqLog2?: number;
  priqLog2?: number;
}

export const DEFAULT_OPTIONS: Required<ArmSmmuV3Options> = {
  domainStage: 'auto',
  syncCompletion: 'auto',
  cmdqLog2: 12,
  eventqLog2: 11,
  priqLog2: 12,
};
