// Every benchmark workload at a tiny scale: it runs without an error (each response and result
// checked by the workload itself), and what it counts is what the specifications make it: the
// structure and table reads of each walk, the invalidations and syncs each driver submits, the
// notifications the virtio-iommu driver saves by batching. Speed is never asserted here.

import { beforeAll, describe, expect, it } from 'vitest';
import { OS_WORKLOAD_NAMES, runOsWorkload } from '../../bench/os-iommu.js';
import { runWorkload, WORKLOAD_NAMES } from '../../bench/riscv-iommu-translate.js';
import { runSmmuV3Workload, SMMUV3_WORKLOAD_NAMES } from '../../bench/smmuv3-translate.js';
import { runVirtioIommuWorkload, VIRTIO_IOMMU_WORKLOAD_NAMES } from '../../bench/virtio-iommu.js';

const TINY = 0.001;

/** Each RISC-V workload, its SMMUv3 counterpart, and the reads per translation of each. */
const PAIRS = [
  // No walk: the IOMMU off (ddtp Bare) / STE.Config bypass (IHI 0070 5.2).
  { riscv: 'bare', riscvReads: 0, smmu: 'bypass', smmuReads: 0 },
  // Both pages stay in the IOTLB / TLB.
  { riscv: 'sv39-hit', riscvReads: 0, smmu: 's1-hit', smmuReads: 0 },
  // Sv39: three PTEs; a 39-bit TTB0 with the 4 KiB granule starts at level 1: three descriptors.
  { riscv: 'sv39-cycle', riscvReads: 3, smmu: 's1-cycle', smmuReads: 3 },
  // Plus the 3-level device directory / the L1STD and STE of a 2-level Stream table and the CD.
  { riscv: 'sv39-walk', riscvReads: 6, smmu: 's1-walk', smmuReads: 6 },
  // SMMUv3 nested (IHI 0070 5.2, STE.Config 0b111: the CD and stage 1 table addresses are IPAs):
  // L1STD + STE, the CD's IPA (4 stage 2 reads) + CD, each of the 4 stage 1 descriptors' IPAs
  // (4 + 1 each), and the output IPA (4): 2 + 5 + 20 + 4.
  { riscv: 'sv48x4-two-stage-walk', riscvReads: 27, smmu: 's1s2-nested-walk', smmuReads: 31 },
  // SMMUv3 2-level CD table (5.3): L1STD + STE + L1CD + CD + 4 descriptors.
  { riscv: 'pd17-sv48-walk', riscvReads: 9, smmu: 'cd2l-ssid-walk', smmuReads: 8 },
] as const;

describe('riscv-iommu/* and smmuv3/*: the same requests on both models', () => {
  it('every workload has its counterpart', () => {
    expect(PAIRS.map((p) => p.riscv)).toEqual(WORKLOAD_NAMES);
    expect(PAIRS.map((p) => p.smmu)).toEqual(SMMUV3_WORKLOAD_NAMES);
  });

  for (const p of PAIRS) {
    it(`${p.riscv} / ${p.smmu}: every response right, ${p.riscvReads} / ${p.smmuReads} table reads per translation`, () => {
      const r = runWorkload(p.riscv, TINY);
      const s = runSmmuV3Workload(p.smmu, TINY);
      expect([r.errors, s.errors]).toEqual([0, 0]);
      expect(s.requests).toBe(r.requests);
      expect(r.memoryReadsPerTranslation).toBe(p.riscvReads);
      expect(s.memoryReadsPerTranslation).toBe(p.smmuReads);
    });
  }

  it('smmuv3 cache hit rates: the TLB serves s1-hit; CMD_CFGI_ALL empties the STE and CD caches before each walk (IHI 0070 4.3)', () => {
    expect(runSmmuV3Workload('s1-hit', TINY)).toMatchObject({ tlbHitRate: 1, steHitRate: 1, cdHitRate: 1 });
    expect(runSmmuV3Workload('bypass', TINY)).toMatchObject({ tlbHitRate: 0, steHitRate: 1 });
    for (const name of ['s1-walk', 's1s2-nested-walk', 'cd2l-ssid-walk']) {
      expect(runSmmuV3Workload(name, TINY)).toMatchObject({ tlbHitRate: 0, steHitRate: 0, cdHitRate: 0 });
    }
  });
});

const ARCHITECTURES = ['riscv-iommu', 'smmuv3', 'virtio-iommu'];

describe('os/<architecture>/*: the same driver workloads on riscv-virt, arm-virt and riscv-virt-virtio-iommu', () => {
  it('six workloads per architecture', () => {
    const kinds = ['map-unmap-4k', 'map-unmap-2m', 'dma-map-unmap-strict', 'dma-map-unmap-lazy', 'dma-stream-strict', 'dma-stream-lazy'];
    expect(OS_WORKLOAD_NAMES).toEqual(ARCHITECTURES.flatMap((arch) => kinds.map((k) => `${arch}/${k}`)));
  });

  let results: Map<string, ReturnType<typeof runOsWorkload>>;
  beforeAll(() => {
    results = new Map(OS_WORKLOAD_NAMES.map((name) => [name, runOsWorkload(name, TINY)]));
  });

  it('every operation right (the engine read back its buffers through the IOMMU), no fault, no command error', () => {
    for (const [name, r] of results) expect({ name, errors: r.errors }).toEqual({ name, errors: 0 });
  });

  it('RISC-V: an unmap costs one IOTINVAL.VMA and one IOFENCE.C', () => {
    expect(results.get('riscv-iommu/map-unmap-4k')).toMatchObject({ invalidationCommandsPerOperation: 1, syncsPerOperation: 1 });
    expect(results.get('riscv-iommu/dma-map-unmap-strict')).toMatchObject({ invalidationCommandsPerOperation: 1, syncsPerOperation: 1 });
  });

  it('SMMUv3: CMD_TLBI_NH_VA, and CMD_ATC_INV for the ATS-capable PCI function, each completed by a CMD_SYNC (IHI 0070 4.4, 4.5.1, 4.7.3)', () => {
    expect(results.get('smmuv3/map-unmap-4k')).toMatchObject({ invalidationCommandsPerOperation: 2, syncsPerOperation: 2 });
    // The platform DMA engine has no ATC.
    expect(results.get('smmuv3/dma-map-unmap-strict')).toMatchObject({ invalidationCommandsPerOperation: 1, syncsPerOperation: 1 });
  });

  it('virtio-iommu (VIRTIO 1.3 5.13.6): an unmap is one UNMAP request; the MAP and the UNMAP are each a notification and a wait', () => {
    expect(results.get('virtio-iommu/map-unmap-4k')).toMatchObject({ invalidationCommandsPerOperation: 1, syncsPerOperation: 2 });
    expect(results.get('virtio-iommu/dma-map-unmap-strict')).toMatchObject({ invalidationCommandsPerOperation: 1, syncsPerOperation: 2 });
  });

  it('a lazy DMA domain defers invalidations to its flush queue on the page-table architectures', () => {
    for (const arch of ['riscv-iommu', 'smmuv3']) {
      for (const kind of ['dma-map-unmap-lazy', 'dma-stream-lazy']) {
        expect(results.get(`${arch}/${kind}`)?.invalidationCommandsPerOperation).toBeLessThan(1);
      }
    }
  });

  it('virtio-iommu: in a lazy DMA domain an UNMAP waits for no sync of its own: about one per operation, the MAP one', () => {
    for (const kind of ['dma-map-unmap-lazy', 'dma-stream-lazy']) {
      expect(results.get(`virtio-iommu/${kind}`)?.syncsPerOperation).toBeLessThan(1.1);
    }
  });
});

describe('virtio-iommu/*: batching measured (VIRTIO 1.3 5.13.6)', () => {
  let results: Map<string, ReturnType<typeof runVirtioIommuWorkload>>;
  beforeAll(() => {
    results = new Map(VIRTIO_IOMMU_WORKLOAD_NAMES.map((name) => [name, runVirtioIommuWorkload(name, TINY)]));
  });

  it('every request answered OK, every UNMAP applied', () => {
    for (const [name, r] of results) expect({ name, errors: r.errors }).toEqual({ name, errors: 0 });
  });

  it('map + unmap: a MAP and an UNMAP, each waited for, with or without batching', () => {
    for (const name of ['map-unmap-4k-batched', 'map-unmap-4k-unbatched']) {
      expect(results.get(name)).toMatchObject({ requestsPerOperation: 2, kicksPerOperation: 2, syncsPerOperation: 2, requestsPerSync: 1 });
    }
  });

  it('lazy DMA: batched UNMAPs wait for the flush queue and share its sync; unbatched, each is a notification and a wait', () => {
    const batched = results.get('dma-map-unmap-lazy-batched');
    const unbatched = results.get('dma-map-unmap-lazy-unbatched');
    expect(unbatched).toMatchObject({ requestsPerOperation: 2, kicksPerOperation: 2, syncsPerOperation: 2, requestsPerSync: 1 });
    expect(batched?.requestsPerOperation).toBe(2);
    expect(batched?.kicksPerOperation).toBeLessThan(1.1);
    expect(batched?.requestsPerSync).toBeGreaterThan(1.8);
  });
});
