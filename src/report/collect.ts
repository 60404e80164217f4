// Collecting a run's numbers into a Report: the hardware models' statistics (what the IOMMU
// did), the drivers' and the kernel's (or the hypervisor's) counters (what software asked
// for), and what the scenario runner recorded (steps, expectations, workloads, faults).

import { IommuDmaApi } from '../os/dma/dma-api.js';
import { dmaEngineOf, dmaEngineDriver } from '../os/drivers/dma-engine/index.js';
import type { Kernel } from '../os/kernel/kernel.js';
import type { Machine, MachineIommu } from '../platform/machine/machine.js';
import { iommuReport } from './architectures/index.js';
import { collectHypervisorReport, type HypervisorInput } from './hypervisor.js';
import { FAULT_LIST_LIMIT, type DeviceReport, type FaultReport, type KernelReport, type Report, type StepReport, type WorkloadReport } from './types.js';

export interface ReportInput {
  scenario: Report['scenario'];
  machine: Machine;
  /** Null when the kernel did not boot, or the machine booted a hypervisor. */
  kernel: Kernel | null;
  /**
   * The IOMMUs to report, each with the kernel whose driver programs it; default: the machine's,
   * with `kernel`. A host + guest pair lists the guest's virtio-iommu and the host's IOMMU.
   */
  iommus?: readonly { iommu: MachineIommu; kernel: Kernel | null }[];
  /** What the hypervisor the machine booted did, and the DMA devices did in its domains. */
  hypervisor?: HypervisorInput & { devices: DeviceReport[] };
  steps: StepReport[];
  expectations: Report['expectations'];
  workloads: WorkloadReport[];
  faults: readonly FaultReport[];
  failure: Report['outcome']['failure'];
  wallMs: number;
}

export function collectReport(input: ReportInput): Report {
  const { machine, kernel, hypervisor } = input;
  const iommus = input.iommus ?? machine.iommus.map((iommu) => ({ iommu, kernel }));
  const models = iommus.map((i) => i.iommu);
  return {
    scenario: input.scenario,
    outcome: { ok: input.failure === null, failure: input.failure },
    steps: input.steps,
    expectations: input.expectations,
    iommus: iommus.map((i) => iommuReport(i.iommu, i.kernel, models)),
    kernel: hypervisor === undefined ? kernelReport(kernel) : null,
    hypervisor: hypervisor === undefined ? null : collectHypervisorReport(machine, hypervisor),
    devices: hypervisor !== undefined ? hypervisor.devices : kernel === null ? [] : deviceReports(kernel),
    workloads: input.workloads,
    faults: { total: input.faults.length, list: input.faults.slice(0, FAULT_LIST_LIMIT) },
    unmodelled: machine.unmodelled.map((n) => n.path),
    time: { cycles: machine.clock.now, wallMs: input.wallMs },
  };
}

function kernelReport(kernel: Kernel | null): KernelReport {
  if (kernel === null) return { dma: { mapped: 0, unmapped: 0, syncs: 0, flushes: 0 }, flushQueue: null, faults: { reported: 0, unhandled: 0 }, unbound: [] };
  const dma = kernel.dma;
  let flushQueue: KernelReport['flushQueue'] = null;
  if (dma instanceof IommuDmaApi) {
    const lazy = dma.allDomainStats().filter((d) => d.lazy);
    if (lazy.length > 0) {
      flushQueue = { domains: lazy.length, flushes: { full: 0, timeout: 0, explicit: 0 }, entriesFlushed: 0, pending: 0 };
      for (const d of lazy) {
        flushQueue.flushes.full += d.fqFlushes.full;
        flushQueue.flushes.timeout += d.fqFlushes.timeout;
        flushQueue.flushes.explicit += d.fqFlushes.explicit;
        flushQueue.entriesFlushed += d.fqEntriesFlushed;
        flushQueue.pending += d.fqPending;
      }
    }
  }
  return {
    dma: { ...dma.stats },
    flushQueue,
    faults: { reported: kernel.iommu.stats.faultsReported, unhandled: kernel.iommu.stats.faultsUnhandled },
    unbound: kernel.drivers.devices.filter((d) => d.state === 'failed' || d.state === 'deferred').map((d) => ({ name: d.name, state: d.state, reason: d.reason })),
  };
}

/** Transfers of every DMA engine the kernel drives (the driver's own counters). */
function deviceReports(kernel: Kernel): DeviceReport[] {
  return kernel.drivers.devices
    .filter((d) => d.driver === dmaEngineDriver && d.state === 'bound')
    .map((d) => {
      const s = dmaEngineOf(d).stats;
      return { name: d.name, transfers: s.transfers, bytes: s.bytes, errors: s.errors, timeouts: s.timeouts };
    });
}
