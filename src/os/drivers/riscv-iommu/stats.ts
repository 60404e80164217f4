// Counters a report can use: what the driver asked of the IOMMU (commands by name,
// invalidations, fences) and what the IOMMU told it (faults, page requests, queue errors).

export interface RiscvIommuStats {
  /** Commands submitted to the command queue, by name ("IOTINVAL.VMA", "IOFENCE.C", ...). */
  commands: Record<string, number>;
  /** Invalidation commands submitted, by scope. */
  invalidations: {
    /** IOTINVAL.VMA for one page of a PSCID (AV=1). */
    pages: number;
    /** IOTINVAL.VMA for a whole PSCID (AV=0, PSCV=1). */
    pscid: number;
    /** IOTINVAL.VMA for every address space (AV=0, PSCV=0). */
    all: number;
    /** IODIR.INVAL_DDT (for one device or for all). */
    directory: number;
  };
  /** IOFENCE.C commands submitted (each one waited for). */
  fences: number;
  /** Fences that did not complete within the polling budget. */
  fenceTimeouts: number;
  /** Interrupts taken (any cause). */
  interrupts: number;
  faults: {
    /** Fault records read from the fault queue and reported to the IOMMU core. */
    handled: number;
    /** Records whose device_id matched no device the driver knows. */
    unknownDevice: number;
    /** Records by cause code. */
    byCause: Record<number, number>;
  };
  pageRequests: {
    received: number;
    /** ATS.PRGR responses sent (Response Failure). */
    responded: number;
    stopMarkers: number;
  };
  queueErrors: {
    commandIllegal: number;
    commandMemoryFault: number;
    commandTimeout: number;
    faultQueueOverflow: number;
    faultQueueMemoryFault: number;
    pageQueueOverflow: number;
    pageQueueMemoryFault: number;
  };
}

export function newStats(): RiscvIommuStats {
  return {
    commands: {},
    invalidations: { pages: 0, pscid: 0, all: 0, directory: 0 },
    fences: 0,
    fenceTimeouts: 0,
    interrupts: 0,
    faults: { handled: 0, unknownDevice: 0, byCause: {} },
    pageRequests: { received: 0, responded: 0, stopMarkers: 0 },
    queueErrors: {
      commandIllegal: 0,
      commandMemoryFault: 0,
      commandTimeout: 0,
      faultQueueOverflow: 0,
      faultQueueMemoryFault: 0,
      pageQueueOverflow: 0,
      pageQueueMemoryFault: 0,
    },
  };
}
