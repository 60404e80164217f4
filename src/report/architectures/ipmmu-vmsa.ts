// The IPMMU-VMSA's numbers in the report's architecture-neutral shape, one report per IPMMU of
// the tree (the root IPMMU-MM and each cache IPMMU): transactions by outcome, faults by IMSTR
// bit (recorded in the root's context banks; one that arrives while IMSTR holds another has
// its kind ORed in and its address lost), its TLB in all and per context, and the root's table
// walks. A root's translations are those entering through its own micro-TLBs; its walks serve
// the whole tree, so walks and reads per translation are over the transactions of every IPMMU
// that reports to it. The IPMMU has no command queue: software flushes a context's TLB by writing
// IMCTR.FLUSH (counted as the TLB's invalidations and as "invalidation commands" of
// workloads); which domain asked for it is in the hypervisor's part of the report.

import { Imstr } from '../../formats/ipmmu-vmsa/index.js';
import type { MachineIpmmu } from '../../platform/machine/machine.js';
import type { IommuReport } from '../types.js';
import { cacheReport, walksAndMemory, type IommuCounters } from './common.js';

/** How a report names an IPMMU: its device-tree label (ipmmu_ds0), else its path. */
export function ipmmuName(iommu: MachineIpmmu): string {
  return iommu.node.labels[0] ?? iommu.node.path;
}

export function ipmmuReport(iommu: MachineIpmmu, all: readonly MachineIpmmu[]): IommuReport {
  const s = iommu.model.statistics();
  const root = all.find((i) => i.model === iommu.model.root);
  const f = s.faults;
  const byCause = [
    { cause: Imstr.TF, name: 'TF: translation fault', count: f.translation },
    { cause: Imstr.PF, name: 'PF: permission fault', count: f.permission },
    { cause: Imstr.ABORT, name: 'ABORT: page table walk abort', count: f.walkAbort },
    { cause: Imstr.MHIT, name: 'MHIT: multiple TLB hits', count: f.multipleHits },
  ].filter((c) => c.count > 0);
  const detected = f.translation + f.permission + f.walkAbort + f.multipleHits;
  const contexts = s.contexts.filter((c) => c.tlbHits + c.tlbMisses + c.entriesFlushed > 0);
  // Transactions the root's walks serve: those of every IPMMU of its tree.
  const served = s.role === 'root' ? all.filter((i) => i.model.root === iommu.model).reduce((n, i) => n + (i === iommu ? s.transactions : i.model.statistics().transactions), 0) : s.transactions;
  let walks = 0;
  let reads = 0;
  for (const c of s.contexts) {
    walks += c.walks;
    reads += c.descriptorReads;
  }
  return {
    name: s.role === 'root' ? `${ipmmuName(iommu)} (root)` : `${ipmmuName(iommu)} (cache of ${root === undefined ? iommu.model.root.name : ipmmuName(root)})`,
    node: iommu.node.path,
    architecture: 'IPMMU-VMSA',
    translations: {
      total: s.transactions,
      byKind: [
        { name: 'translated', count: s.translated },
        { name: 'bypassed', count: s.bypassed },
        { name: 'faulted', count: s.faulted },
        { name: 'aborted', count: s.aborted },
      ],
    },
    faults: { byCause, detected, recorded: detected - f.whilePending, dropped: f.whilePending, queue: "context's IMSTR" },
    caches: [
      { name: 'TLB', ...cacheReport({ hits: s.tlb.hits, misses: s.tlb.misses, evictions: s.tlb.evictions, invalidations: s.tlb.invalidations }) },
      ...contexts.map((c) => ({ name: `TLB, context ${c.context}`, ...cacheReport({ hits: c.tlbHits, misses: c.tlbMisses, evictions: 0, invalidations: c.entriesFlushed }) })),
    ],
    ...walksAndMemory(s.role === 'root' ? [{ name: 'table walk', count: walks }] : [], { reads, writes: 0 }, served),
    commands: [],
    driver: null,
  };
}

/** Context flushes (IMCTR.FLUSH) and micro-TLB flushes (IMUCTR.FLUSH) the IPMMU has seen. */
export function ipmmuFlushes(iommu: MachineIpmmu): { contextFlushes: number; entriesFlushed: number; microTlbFlushes: number } {
  const s = iommu.model.statistics();
  let contextFlushes = 0;
  let entriesFlushed = 0;
  for (const c of s.contexts) {
    contextFlushes += c.flushes;
    entriesFlushed += c.entriesFlushed;
  }
  return { contextFlushes, entriesFlushed, microTlbFlushes: s.microTlbFlushes };
}

export function ipmmuCounters(iommu: MachineIpmmu): IommuCounters {
  const s = iommu.model.statistics();
  const f = ipmmuFlushes(iommu);
  return { translations: s.transactions, tlbHits: s.tlb.hits, tlbMisses: s.tlb.misses, invalidationCommands: f.contextFlushes + f.microTlbFlushes, syncs: 0 };
}
