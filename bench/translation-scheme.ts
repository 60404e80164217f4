// What the model translation benchmarks (riscv-iommu/*, smmuv3/*) have in common, so that a
// workload of one architecture and its counterpart of the other send the same requests and
// expect the same answers: the device, the mappings, the request patterns, and how a run is
// warmed up and timed.
//
// Every workload maps PAGES leaf pages of 4 KiB: IOVA_BASE + i*4096 -> SPA_BASE + i*4096 (through
// GPA_BASE + i*4096 when there are two stages). Page numbers stay below 2^31, so the hot loops
// compute them with exact 32-bit integer arithmetic, as C would.

/** The requester: a RISC-V device_id, an SMMUv3 StreamID (wider than a PCIe requester id). */
export const DEVICE = 0x012345;
export const PAGES = 4096;
export const IOVA_BASE = 0x8000_0000;
export const SPA_BASE = 0x20_0000_0000;
export const GPA_BASE = 0x1_0000_0000;
export const IOVA_PAGE = IOVA_BASE / 4096;
export const SPA_PAGE = SPA_BASE / 4096;

/**
 * Which IOVA request k uses (and which address it must translate to). The request loops compute
 * it inline: the mapping i (k, k & 1 or k & (PAGES - 1)), the offset ((k & 63) * 64 in Bare
 * mode, 0 otherwise) and the expected page (IOVA_PAGE + k in Bare mode, SPA_PAGE + i otherwise).
 */
export const Pattern = {
  /** IOVA_BASE + k pages + a moving page offset, passed through untranslated. */
  Bare: 0,
  /** Two pages, alternately. */
  TwoPages: 1,
  /** All PAGES pages in turn. */
  Cycle: 2,
} as const;
export type PatternValue = (typeof Pattern)[keyof typeof Pattern];

export interface Timing {
  /** Wrong responses and failed command submissions, warm-up included. */
  errors: number;
  seconds: number;
  /** Process CPU time of the measured run (all threads; diagnostic, as in the C harness). */
  cpuSeconds: number;
}

/**
 * Warms the JIT up on a few thousand requests, in several calls so that the request loop itself
 * gets optimized code (not only on-stack replacement inside it), calls `ready` (to take clean
 * statistics), then times `run(n)`. `run(count)` sends `count` requests and returns its errors.
 */
export function timeRequests(n: number, run: (count: number) => number, ready: () => void): Timing {
  let errors = 0;
  for (let i = 0; i < 10; i++) errors += run(Math.min(n, 2_000));
  ready();
  const cpu0 = process.cpuUsage();
  const start = performance.now();
  errors += run(n);
  const seconds = (performance.now() - start) / 1000;
  const cpu = process.cpuUsage(cpu0);
  return { errors, seconds, cpuSeconds: (cpu.user + cpu.system) / 1e6 };
}

export interface CacheCounts {
  hits: number;
  misses: number;
}

/** The hit rate of a cache between two snapshots of its counters, 0 without any lookup. */
export function hitRateBetween(before: CacheCounts, after: CacheCounts): number {
  const hits = after.hits - before.hits;
  const misses = after.misses - before.misses;
  return hits + misses === 0 ? 0 : hits / (hits + misses);
}
