// The SMMUv3's numbers in the report's architecture-neutral shape: the model's statistics
// (requests, faults by event type, TLB and configuration caches, walks and fetches, commands)
// and the driver's counters (invalidations by scope, CMD_SYNC).

import { EVENT_DESCRIPTIONS, EventType } from '../../formats/smmuv3/records.js';
import { smmuV3Of } from '../../os/drivers/arm-smmu-v3/index.js';
import type { Kernel } from '../../os/kernel/kernel.js';
import type { MachineSmmuV3 } from '../../platform/machine/machine.js';
import type { IommuReport } from '../types.js';
import { byName, cacheReport, driverInstance, walksAndMemory, type IommuCounters } from './common.js';

const SYNC = 'CMD_SYNC';

export function smmuV3Report(iommu: MachineSmmuV3, kernel: Kernel | null): IommuReport {
  const node = iommu.node.path;
  const s = iommu.model.statistics();
  const r = s.requests;
  const total = r.untranslated + r.translated + r.atsTranslation;
  const byCause = Object.entries(s.faults)
    .map(([name, count]) => {
      const cause = (EventType as Record<string, number>)[name] ?? -1;
      return { cause, name: `${name}: ${EVENT_DESCRIPTIONS[cause] ?? 'not an architected event'}`, count };
    })
    .sort((a, b) => a.cause - b.cause);
  const w = s.walks;
  const instance = driverInstance(kernel, node);
  const driver = smmuV3Of(instance);
  const inv = driver?.stats.invalidations;
  return {
    name: instance?.name ?? node,
    node,
    architecture: 'SMMUv3',
    translations: {
      total,
      byKind: [
        { name: 'untranslated', count: r.untranslated },
        { name: 'translated', count: r.translated },
        { name: 'ATS translation', count: r.atsTranslation },
        { name: 'bypassed', count: r.bypassed },
      ],
    },
    faults: { byCause, detected: byCause.reduce((a, c) => a + c.count, 0), recorded: s.events.written, dropped: s.events.overflowed + s.events.discarded, queue: 'event queue' },
    caches: [
      { name: 'TLB', ...cacheReport(s.caches.tlb) },
      { name: 'STE', ...cacheReport(s.caches.ste) },
      { name: 'CD', ...cacheReport(s.caches.cd) },
      { name: 'L1 stream table descriptor', ...cacheReport(s.caches.l1std) },
      { name: 'L1 CD descriptor', ...cacheReport(s.caches.l1cd) },
    ],
    ...walksAndMemory(
      [
        { name: 'stage 1', count: w.stage1 },
        { name: 'stage 2', count: w.stage2 },
        { name: 'STE fetch', count: w.steFetches },
        { name: 'CD fetch', count: w.cdFetches },
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
              { name: 'TLBI_NH_VA by page', count: inv.nhVaPages },
              { name: 'TLBI_NH_VA by range', count: inv.nhVaRanges },
              { name: 'TLBI_NH_ASID', count: inv.nhAsid },
              { name: 'TLBI_S2_IPA by page', count: inv.s2IpaPages },
              { name: 'TLBI_S2_IPA by range', count: inv.s2IpaRanges },
              { name: 'TLBI_S12_VMALL', count: inv.s12Vmall },
              { name: 'TLBI all', count: inv.all },
              { name: 'CFGI_STE', count: inv.cfgiSte },
              { name: 'CFGI_CD', count: inv.cfgiCd },
              { name: 'CFGI_ALL', count: inv.cfgiAll },
              { name: 'ATC_INV', count: inv.atcInv },
            ],
            syncs: { name: SYNC, count: driver.stats.syncs },
          },
  };
}

export function smmuV3Counters(iommu: MachineSmmuV3, kernel: Kernel): IommuCounters {
  const s = iommu.model.statistics();
  const driver = smmuV3Of(driverInstance(kernel, iommu.node.path));
  const inv = driver?.stats.invalidations;
  const invalidationCommands = inv === undefined ? 0 : Object.values(inv).reduce((a, n) => a + n, 0);
  return { translations: s.requests.untranslated, tlbHits: s.caches.tlb.hits, tlbMisses: s.caches.tlb.misses, invalidationCommands, syncs: driver?.stats.syncs ?? 0 };
}
