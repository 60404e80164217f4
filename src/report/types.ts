// What a scenario run reports: typed numbers, collected once at the end of the run (collect.ts)
// and printed as text (text.ts) or stable JSON (json.ts). Counts are plain numbers; 64-bit
// values (addresses, seeds) stay bigint here and become hex strings in JSON.

export interface CacheReport {
  lookups: number;
  hits: number;
  misses: number;
  /** hits / lookups (0 when there were no lookups). */
  hitRate: number;
  evictions: number;
  invalidations: number;
}

/** A number with what it counts ("untranslated", "IOTINVAL.VMA", "first stage"). */
export interface NamedCount {
  name: string;
  count: number;
}

/**
 * What one IOMMU did, in a shape every architecture fills: lists of named counts where the
 * architectures differ (request kinds, caches, walk kinds, commands), so that reports of a
 * RISC-V IOMMU and of an SMMUv3 read the same way.
 */
export interface IommuReport {
  /** The driver's name for the instance ("3010000.iommu"), or the node path if no driver bound. */
  name: string;
  node: string;
  /** "RISC-V IOMMU", "SMMUv3", ... */
  architecture: string;
  /** Requests the model translated, by kind (PCIe AT field, debug interface). */
  translations: { total: number; byKind: NamedCount[] };
  faults: {
    /** Faults the model detected, by cause (fault CAUSE / event type) with the specification's names. */
    byCause: { cause: number; name: string; count: number }[];
    detected: number;
    /** Records written to the fault (event) queue, and dropped (queue full or off). */
    recorded: number;
    dropped: number;
    /** "fault queue", "event queue". */
    queue: string;
  };
  /** The model's caches (IOTLB / TLB first). */
  caches: (CacheReport & { name: string })[];
  /** Table walks by kind (first stage, second stage, directories, ...). */
  walks: { total: number; byKind: NamedCount[]; perTranslation: number };
  /** Implicit accesses to in-memory structures (tables, contexts, queues' records). */
  memory: { reads: number; writes: number; readsPerTranslation: number };
  /** Commands the model executed, by opcode name. */
  commands: NamedCount[];
  /** What the driver asked for (null without a driver bound). */
  driver: {
    /** Invalidation commands by scope. */
    invalidations: NamedCount[];
    /** Waits for completion (IOFENCE.C, CMD_SYNC), under their command name. */
    syncs: NamedCount;
  } | null;
  /** The request queue of an IOMMU the driver talks to through requests (virtio-iommu); absent for the others. */
  requests?: RequestQueueReport;
}

/**
 * A virtio-iommu's request queue from both ends: what the driver sent and how often it waited,
 * the notifications each side sent or saved (VIRTIO_F_EVENT_IDX), the device's answers, and
 * the domains and mappings the device holds.
 */
export interface RequestQueueReport {
  /** Requests the driver sent, by type (ATTACH, DETACH, MAP, UNMAP, PROBE), and in all. */
  sent: NamedCount[];
  total: number;
  /** Times the driver notified the device and waited for every request in flight, and requests per wait. */
  syncs: number;
  perSync: number;
  /** Available-buffer notifications of the driver (kicks) and used-buffer notifications of the device: sent, and avoided by suppression. */
  notifications: { driver: { sent: number; suppressed: number }; device: { sent: number; suppressed: number } };
  /** Answers the device wrote, by status name, and requests it returned without an answer. */
  statuses: NamedCount[];
  unanswered: number;
  /** Domains and mappings in the device: now, and created and removed during the run. */
  domains: { current: number; created: number; destroyed: number };
  mappings: { current: number; created: number; removed: number };
}

export interface KernelReport {
  /** DMA API calls and the invalidations it asked for (strict syncs, flush-queue flushes). */
  dma: { mapped: number; unmapped: number; syncs: number; flushes: number };
  /** Flush-queue activity of lazy DMA domains (null when no domain was lazy). */
  flushQueue: { domains: number; flushes: { full: number; timeout: number; explicit: number }; entriesFlushed: number; pending: number } | null;
  /** Faults the IOMMU drivers reported to the IOMMU core, and those no domain owner handled. */
  faults: { reported: number; unhandled: number };
  /** Devices the kernel found but did not bind, with why. */
  unbound: { name: string; state: string; reason: string }[];
}

export interface DeviceReport {
  name: string;
  transfers: number;
  bytes: number;
  errors: number;
  timeouts: number;
}

export interface WorkloadReport {
  step: number;
  label: string | null;
  /** The guest the workload ran in (hypervisor scenarios); null when the kernel ran it. */
  guest: string | null;
  device: string;
  op: string;
  access: string;
  buffers: number;
  bytes: number;
  /** Transfers whose data was checked. */
  verified: number;
  cycles: number;
  /** DMA API map and unmap calls during the workload (none inside a guest: it uses guest-physical addresses). */
  dmaMaps: number;
  dmaUnmaps: number;
  /** Invalidation commands (IOTINVAL, IODIR, ATS.INVAL, TLBI_*, CFGI_*, ATC_INV; virtio-iommu UNMAP requests) the driver submitted, and waits for completion (IOFENCE.C, CMD_SYNC, request-queue syncs). */
  invalidationCommands: number;
  syncs: number;
  invalidationsPerBuffer: number;
  /** Hit rate of the IOMMU's TLB (IOTLB) on the workload's own translations; null when it looked nothing up (no TLB, as virtio-iommu). */
  tlbHitRate: number | null;
  translations: number;
}

export type StepStatus = 'ok' | 'failed' | 'not run';

export interface StepReport {
  index: number;
  kind: string;
  label: string | null;
  line: number | null;
  status: StepStatus;
  /** One line: what the step did ("copy of 4 KiB ... completed"). */
  summary: string;
}

export interface FaultReport {
  /** Kernel name of the device, or null when the IOMMU driver could not tell. */
  device: string | null;
  iova: bigint;
  write: boolean;
  pasid: number | null;
  cause: number;
  /** The cause's name from the specification's table. */
  causeName: string;
  /** The IOMMU (driver instance name) that reported it. */
  iommu: string;
  /** Simulated time when the fault reached the IOMMU core. */
  cycle: number;
}

export interface Report {
  scenario: { name: string | null; description: string | null; file: string; platform: string; seed: bigint };
  outcome: { ok: boolean; failure: { step: number | null; label: string | null; line: number | null; message: string } | null };
  steps: StepReport[];
  expectations: { checked: number; passed: number; failed: number };
  iommus: IommuReport[];
  /** What the kernel did; null when the machine booted a hypervisor instead. */
  kernel: KernelReport | null;
  /** What the hypervisor did; null when the machine booted a kernel. */
  hypervisor: HypervisorReport | null;
  devices: DeviceReport[];
  workloads: WorkloadReport[];
  /** Faults reported to the kernel, in order (the first FAULT_LIST_LIMIT), and how many in all. */
  faults: { total: number; list: FaultReport[] };
  /** Device-tree nodes the machine has no model for. */
  unmodelled: string[];
  /** Simulated cycles; wall-clock milliseconds (the one field that differs between runs). */
  time: { cycles: number; wallMs: number };
}

export const FAULT_LIST_LIMIT = 50;

/** DMA a guest's driver (or a device on its own) programmed, as the engines reported it. */
export interface DmaCounts {
  transfers: number;
  bytes: number;
  errors: number;
  timeouts: number;
}

/** One domain of a hypervisor run: dom0, each guest (destroyed and rebooted ones too), dom_io. */
export interface DomainReport {
  id: number;
  name: string;
  /** "d1 (a)", as the hypervisor's log names it. */
  label: string;
  kind: 'hardware' | 'guest' | 'system';
  /** running, or dead once destroyed (a reboot destroys the domain and creates a new one). */
  state: string;
  ramPages: number;
  /** Devices assigned at the end (quarantined ones for dom_io). */
  devices: string[];
  /** IOMMU contexts it holds at the end: root IPMMU and context number. */
  contexts: { iommu: string; context: number }[];
  /** DMA its driver programmed (scenario `dma` and `workload` steps in it). */
  dma: DmaCounts;
  /** IOMMU faults the hypervisor attributed to it. */
  faults: number;
  /** IOMMU TLB flushes the hypervisor issued for it (one per P2M change, context set-up, ...). */
  iommuFlushes: number;
  /** Its P2M: leaves mapped and unmapped, superpages split, changes (each followed by a flush), table pages now. */
  p2m: { leavesMapped: number; leavesUnmapped: number; splits: number; changes: number; tablePages: number };
}

/** The contexts of one root IOMMU: in use at the end, by whom, and the most in use at once. */
export interface ContextUsageReport {
  iommu: string;
  total: number;
  inUse: { context: number; domain: string | null }[];
  peak: number;
}

/** TLB flushes one IOMMU model saw (IMCTR.FLUSH per context, IMUCTR.FLUSH per micro-TLB). */
export interface IommuFlushReport {
  iommu: string;
  contextFlushes: number;
  entriesFlushed: number;
  microTlbFlushes: number;
}

/** An IOMMU fault as the hypervisor decoded and attributed it. */
export interface HypervisorFaultReport {
  cycle: number;
  iommu: string;
  context: number;
  /** The domain whose context faulted (its label), or null. */
  domain: string | null;
  /** The devices that can have issued the transaction (the IOMMU records no requester). */
  devices: string[];
  /** The faulting input address (IPA). */
  address: bigint;
  status: number;
  kinds: string[];
}

export interface HypervisorReport {
  name: string;
  /** The IOMMU driver whose ops the hypervisor uses. */
  iommuDriver: string | null;
  domains: DomainReport[];
  contexts: ContextUsageReport[];
  flushes: { requested: number; byIommu: IommuFlushReport[] };
  devices: { assignments: number; deassignments: number; quarantined: number; deferredProbes: number };
  faults: { total: number; list: HypervisorFaultReport[] };
  heap: { totalPages: number; allocatedPages: number; freePages: number };
}
