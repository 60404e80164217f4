// The device configuration honoured (VIRTIO 1.3 section 5.13.4 and the range limits of
// 5.13.6): input_range becomes the aperture of every paging domain, page_size_mask their page
// sizes, domain_range the ids the driver hands out.

import { describe, expect, it } from 'vitest';
import { Prot } from '../../../../src/os/core/types.js';
import { configProblem, domainPageSizes, type ViommuConfig } from '../../../../src/os/drivers/virtio-iommu/index.js';
import { VirtioIommuMachine } from '../../../support/virtio-iommu-machine.js';

const U64_MAX = (1n << 64n) - 1n;

describe('5.13.4 input_range → domain geometry', () => {
  it('bounds paging domains and the DMA API allocates inside it', () => {
    const m = new VirtioIommuMachine({ viommu: { inputRange: { start: 0x4000_0000n, end: 0x4fff_ffffn } } });
    const dev = m.engineDevice();
    const core = m.kernel.iommu;
    expect(core.domainOf(dev)?.geometry).toEqual({ start: 0x4000_0000n, end: 0x4fff_ffffn });
    const unmanaged = core.domainAlloc(dev);
    expect(unmanaged.geometry).toEqual({ start: 0x4000_0000n, end: 0x4fff_ffffn });
    const buf = m.buffer();
    for (let i = 0; i < 8; i++) {
      const dma = m.kernel.dma.mapSingle(dev, buf, 4096, 'bidirectional');
      expect(dma >= 0x4000_0000n && dma <= 0x4fff_f000n).toBe(true);
    }
    // 5.13.6.1: the driver MUST NOT send a MAP outside input_range; the core refuses it first.
    expect(() => core.map(unmanaged, 0x5000_0000n, buf, 0x1000n, Prot.READ)).toThrow(/outside the domain's aperture 0x40000000..0x4fffffff/);
    expect(m.viommu.statistics().statuses.RANGE).toBe(0);
  });
});

describe('5.13.4 page_size_mask → page sizes', () => {
  it('gives paging domains the granule and the larger sizes the mask lists; one MAP per contiguous run of a size', () => {
    const m = new VirtioIommuMachine({ viommu: { pageSizeMask: 0x4020_1000n } });
    const dev = m.engineDevice();
    const core = m.kernel.iommu;
    const domain = core.domainAlloc(dev);
    expect(domain.pageSizes).toEqual([12, 21, 30]);
    core.attachDevice(domain, dev);
    const id = m.viommu.domainOf(5) as number;
    const maps = () => m.driver.statistics().requests.MAP;
    const before = maps();
    // 4 MiB, both addresses 2 MiB aligned: two 2 MiB pages, one request.
    core.map(domain, 0x20_0000n, 0x8020_0000n, 0x40_0000n, Prot.READ);
    expect(maps() - before).toBe(1);
    // 12 KiB: three 4 KiB pages, one request.
    core.map(domain, 0x100_0000n, 0x8100_0000n, 0x3000n, Prot.READ | Prot.WRITE);
    expect(maps() - before).toBe(2);
    expect(m.viommu.mappings(id)).toEqual([
      { virtStart: 0x20_0000n, virtEnd: 0x5f_ffffn, physStart: 0x8020_0000n, flags: 1 },
      { virtStart: 0x100_0000n, virtEnd: 0x100_2fffn, physStart: 0x8100_0000n, flags: 3 },
    ]);
  });

  it('a 4 KiB granule with every larger bit set gives every power of two from 4 KiB', () => {
    expect(domainPageSizes(0xffff_ffff_ffff_f000n)).toEqual(Array.from({ length: 52 }, (_, i) => 12 + i));
  });

  it('a granule below 4 KiB maps whole 4 KiB pages (a multiple of it)', () => {
    expect(domainPageSizes(0x200n | 0x20_0000n)).toEqual([12, 21]);
  });

  it('a granule above 4 KiB allows no paging domain (as Linux): the endpoint cannot get its DMA domain', () => {
    expect(domainPageSizes(0x1_0000n)).toMatch(/granule 0x10000 is larger than the 4 KiB kernel page/);
    const m = new VirtioIommuMachine({ viommu: { pageSizeMask: 0x1_0000n } });
    expect(m.viommuDevice.state).toBe('bound');
    expect(m.engineDevice().state).toBe('failed');
    expect(m.engineDevice().reason).toMatch(/granule 0x10000/);
  });
});

describe('5.13.4 domain_range → domain ids', () => {
  it('hands out ids inside the range, the lowest reserved for the identity domain, and reuses freed ones', () => {
    const m = new VirtioIommuMachine({ viommu: { domainRange: { start: 100, end: 102 } } });
    const dev = m.engineDevice();
    const core = m.kernel.iommu;
    expect(m.driver.identityDomain?.name).toMatch(/domain 100\)/);
    expect(m.viommu.domainOf(5)).toBe(101);
    const extra = core.domainAlloc(dev);
    expect(extra.name).toMatch(/domain 102$/);
    expect(() => core.domainAlloc(dev)).toThrow(/no free domain id in 100..102/);
    core.attachDevice(extra, dev);
    expect(m.viommu.domainOf(5)).toBe(102);
    core.detachDevice(extra, dev);
    core.domainFree(extra);
    expect(core.domainAlloc(dev).name).toMatch(/domain 102$/);
    // Every ATTACH the device saw named an id in range.
    expect(m.viommu.statistics().statuses.RANGE).toBe(0);
  });

  it('a range of one id leaves nothing for DMA domains once the identity domain took it', () => {
    const m = new VirtioIommuMachine({ viommu: { domainRange: { start: 7, end: 7 } } });
    expect(m.engineDevice().state).toBe('failed');
    expect(m.engineDevice().reason).toMatch(/no free domain id in 7..7/);
  });
});

describe('configuration a device MUST NOT present (5.13.4.2)', () => {
  const good: ViommuConfig = { pageSizeMask: 0x1000n, inputStart: 0n, inputEnd: U64_MAX, firstDomain: 0, lastDomain: 10, probeSize: 0 };

  it('is refused with the reason', () => {
    expect(configProblem(good)).toBeNull();
    expect(configProblem({ ...good, pageSizeMask: 0n })).toMatch(/page_size_mask has no bit set/);
    expect(configProblem({ ...good, inputStart: 0x2000n, inputEnd: 0x1000n })).toMatch(/input_range 0x2000..0x1000 is empty/);
    expect(configProblem({ ...good, firstDomain: 5, lastDomain: 4 })).toMatch(/domain_range 5..4 is empty/);
  });
});
