// What every architecture's report adapter shares: cache numbers, the driver instance of a
// model, and the running counters a workload takes before and after itself.

import type { IommuInstance } from '../../os/core/types.js';
import type { Kernel } from '../../os/kernel/kernel.js';
import type { CacheReport, IommuReport, NamedCount } from '../types.js';

/** Running totals of one IOMMU, for differences around a workload. */
export interface IommuCounters {
  /** Untranslated DMA requests the model translated. */
  translations: number;
  tlbHits: number;
  tlbMisses: number;
  /** Invalidation commands the driver submitted (a virtio-iommu's: UNMAP requests), and waits for their completion. */
  invalidationCommands: number;
  syncs: number;
}

export function cacheReport(c: { hits: number; misses: number; evictions: number; invalidations: number }): CacheReport {
  const lookups = c.hits + c.misses;
  return { lookups, hits: c.hits, misses: c.misses, hitRate: lookups === 0 ? 0 : c.hits / lookups, evictions: c.evictions, invalidations: c.invalidations };
}

/** The kernel's IOMMU instance for the model at `node`, if a driver bound it. */
export function driverInstance(kernel: Kernel | null, node: string): IommuInstance | undefined {
  return kernel?.iommu.instances.find((i) => i.node.path === node);
}

/** A record of counts by name as a list sorted by name (commands by opcode name). */
export function byName(counts: Readonly<Record<string, number>>): NamedCount[] {
  return Object.entries(counts)
    .map(([name, count]) => ({ name, count }))
    .sort((a, b) => a.name.localeCompare(b.name));
}

/** Walks by kind and memory traffic, per translation. */
export function walksAndMemory(walks: NamedCount[], memory: { reads: number; writes: number }, translations: number): Pick<IommuReport, 'walks' | 'memory'> {
  const total = walks.reduce((a, w) => a + w.count, 0);
  const per = (n: number) => (translations === 0 ? 0 : n / translations);
  return { walks: { total, byKind: walks, perTranslation: per(total) }, memory: { reads: memory.reads, writes: memory.writes, readsPerTranslation: per(memory.reads) } };
}
