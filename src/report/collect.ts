// Collecting a run's numbers into a Report: the hardware models' statistics (what the IOMMU
// did), the drivers' and the kernel's counters (what software asked for), and what the
// scenario runner recorded (steps, expectations, workloads, faults).

import { describeCause } from '../formats/riscv-iommu/records.js';
import type { RiscvIommuStatistics } from '../hw/riscv-iommu/riscv-iommu.js';
import { IommuDmaApi } from '../os/dma/dma-api.js';
import { dmaEngineOf, dmaEngineDriver } from '../os/drivers/dma-engine/index.js';
import { riscvIommuOf } from '../os/drivers/riscv-iommu/index.js';
import type { Kernel } from '../os/kernel/kernel.js';
import type { Machine, MachineIommu } from '../platform/machine/machine.js';
import { FAULT_LIST_LIMIT, type CacheReport, type DeviceReport, type FaultReport, type IommuReport, type KernelReport, type Report, type StepReport, type WorkloadReport } from './types.js';

export interface ReportInput {
  scenario: Report['scenario'];
  machine: Machine;
  /** Null when the kernel did not boot. */
  kernel: Kernel | null;
  steps: StepReport[];
  expectations: Report['expectations'];
  workloads: WorkloadReport[];
  faults: readonly FaultReport[];
  failure: Report['outcome']['failure'];
  wallMs: number;
}

export function collectReport(input: ReportInput): Report {
  const { machine, kernel } = input;
  return {
    scenario: input.scenario,
    outcome: { ok: input.failure === null, failure: input.failure },
    steps: input.steps,
    expectations: input.expectations,
    iommus: machine.iommus.map((i) => iommuReport(i, kernel)),
    kernel: kernelReport(kernel),
    devices: kernel === null ? [] : deviceReports(kernel),
    workloads: input.workloads,
    faults: { total: input.faults.length, list: input.faults.slice(0, FAULT_LIST_LIMIT) },
    unmodelled: machine.unmodelled.map((n) => n.path),
    time: { cycles: machine.clock.now, wallMs: input.wallMs },
  };
}

function cache(c: { hits: number; misses: number; evictions: number; invalidations: number }): CacheReport {
  const lookups = c.hits + c.misses;
  return { lookups, hits: c.hits, misses: c.misses, hitRate: lookups === 0 ? 0 : c.hits / lookups, evictions: c.evictions, invalidations: c.invalidations };
}

export function iommuReport(iommu: MachineIommu, kernel: Kernel | null): IommuReport {
  const s: RiscvIommuStatistics = iommu.model.statistics();
  const r = s.requests;
  const total = r.untranslated + r.translated + r.atsTranslation;
  const byCause = Object.entries(s.faults.detected)
    .map(([code, count]) => ({ cause: Number(code), name: describeCause(Number(code)), count }))
    .sort((a, b) => a.cause - b.cause);
  const walks = s.walks.deviceDirectory + s.walks.processDirectory + s.walks.firstStage + s.walks.secondStage;
  const instance = kernel?.iommu.instances.find((i) => i.node.path === iommu.node.path);
  const driver = riscvIommuOf(instance);
  return {
    name: instance?.name ?? iommu.node.path,
    node: iommu.node.path,
    translations: { ...r, total },
    faults: { byCause, detected: byCause.reduce((a, c) => a + c.count, 0), recorded: s.faults.recorded, dropped: s.faults.dropped },
    caches: {
      iotlb: { ...cache(s.iotlb), fills: s.iotlb.fills, entries: s.iotlb.entries },
      deviceContext: cache(s.deviceContextCache),
      processContext: cache(s.processContextCache),
    },
    walks: { ...s.walks, perTranslation: total === 0 ? 0 : walks / total },
    memory: { reads: s.memory.reads, writes: s.memory.writes, readsPerTranslation: total === 0 ? 0 : s.memory.reads / total },
    commands: Object.entries(s.commands)
      .map(([name, count]) => ({ name, count }))
      .sort((a, b) => a.name.localeCompare(b.name)),
    invalidations: driver === null ? null : { ...driver.stats.invalidations, fences: driver.stats.fences },
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
