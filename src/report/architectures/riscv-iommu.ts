// The RISC-V IOMMU's numbers in the report's architecture-neutral shape: the model's
// statistics (requests, faults by cause, IOTLB and context caches, walks, commands) and the
// driver's counters (invalidations by scope, IOFENCE.C).

import { describeCause } from '../../formats/riscv-iommu/records.js';
import { riscvIommuOf } from '../../os/drivers/riscv-iommu/index.js';
import type { Kernel } from '../../os/kernel/kernel.js';
import type { MachineRiscvIommu } from '../../platform/machine/machine.js';
import type { IommuReport } from '../types.js';
import { byName, cacheReport, driverInstance, walksAndMemory, type IommuCounters } from './common.js';

const INVALIDATION = /^(IOTINVAL|IODIR|ATS\.INVAL)/;
const SYNC = 'IOFENCE.C';

export function riscvIommuReport(iommu: MachineRiscvIommu, kernel: Kernel | null): IommuReport {
  const node = iommu.node.path;
  const s = iommu.model.statistics();
  const r = s.requests;
  const total = r.untranslated + r.translated + r.atsTranslation;
  const byCause = Object.entries(s.faults.detected)
    .map(([code, count]) => ({ cause: Number(code), name: describeCause(Number(code)), count }))
    .sort((a, b) => a.cause - b.cause);
  const w = s.walks;
  const instance = driverInstance(kernel, node);
  const driver = riscvIommuOf(instance);
  const inv = driver?.stats.invalidations;
  return {
    name: instance?.name ?? node,
    node,
    architecture: 'RISC-V IOMMU',
    translations: {
      total,
      byKind: [
        { name: 'untranslated', count: r.untranslated },
        { name: 'translated', count: r.translated },
        { name: 'ATS translation', count: r.atsTranslation },
        { name: 'debug', count: r.debug },
      ],
    },
    faults: { byCause, detected: byCause.reduce((a, c) => a + c.count, 0), recorded: s.faults.recorded, dropped: s.faults.dropped, queue: 'fault queue' },
    caches: [
      { name: 'IOTLB', ...cacheReport(s.iotlb) },
      { name: 'device context', ...cacheReport(s.deviceContextCache) },
      { name: 'process context', ...cacheReport(s.processContextCache) },
    ],
    ...walksAndMemory(
      [
        { name: 'first stage', count: w.firstStage },
        { name: 'second stage', count: w.secondStage },
        { name: 'device directory', count: w.deviceDirectory },
        { name: 'process directory', count: w.processDirectory },
      ],
      s.memory,
      total,
    ),
    commands: byName(s.commands),
    driver:
      inv === undefined || driver === null
        ? null
        : {
            invalidations: [
              { name: 'IOTINVAL.VMA by page', count: inv.pages },
              { name: 'IOTINVAL.VMA by PSCID', count: inv.pscid },
              { name: 'IOTINVAL.VMA all', count: inv.all },
              { name: 'IODIR.INVAL_DDT', count: inv.directory },
            ],
            syncs: { name: SYNC, count: driver.stats.fences },
          },
  };
}

export function riscvIommuCounters(iommu: MachineRiscvIommu, kernel: Kernel): IommuCounters {
  const s = iommu.model.statistics();
  const driver = riscvIommuOf(driverInstance(kernel, iommu.node.path));
  let invalidationCommands = 0;
  for (const [name, n] of Object.entries(driver?.stats.commands ?? {})) if (INVALIDATION.test(name)) invalidationCommands += n;
  return { translations: s.requests.untranslated, tlbHits: s.iotlb.hits, tlbMisses: s.iotlb.misses, invalidationCommands, syncs: driver?.stats.commands[SYNC] ?? 0 };
}
