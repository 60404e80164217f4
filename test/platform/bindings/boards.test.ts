// Board-style device trees: Renesas IPMMUs (main and cache instances, iommu-map-mask 0,
// a PCI function behind a root port), and an Arm board mixing an MMU-500, a virtio-iommu on
// virtio-mmio and an IOMMU known only through #iommu-cells.
import { describe, expect, it } from 'vitest';
import { analyseFixture, iommuAt, warningLines } from './helpers.js';

describe('R-Car-like board with IPMMU-VMSA', () => {
  const t = analyseFixture('renesas-rcar-ipmmu.dts');

  it('finds all five IPMMUs, the main one with both interrupts', () => {
    expect(t.iommus.map((i) => [i.path, i.kind, i.labels, i.enabled])).toEqual([
      ['/soc/iommu@e67b0000', 'renesas-ipmmu', ['ipmmu_mm'], true],
      ['/soc/iommu@e6740000', 'renesas-ipmmu', ['ipmmu_ds0'], true],
      ['/soc/iommu@e6570000', 'renesas-ipmmu', ['ipmmu_hc'], true],
      ['/soc/iommu@ff8b0000', 'renesas-ipmmu', ['ipmmu_ir'], false],
      ['/soc/iommu@febd0000', 'renesas-ipmmu', ['ipmmu_vi0'], true],
    ]);
    const mm = iommuAt(t, '/soc/iommu@e67b0000');
    expect(mm.interrupts.map((i) => i.description)).toEqual(['SPI 196 (INTID 228), level high', 'SPI 197 (INTID 229), level high']);
    expect(mm.interrupts.every((i) => i.controller === '/soc/interrupt-controller@f1010000')).toBe(true);
    expect(mm.serves.ipmmuCaches).toEqual(['/soc/iommu@e6740000', '/soc/iommu@e6570000', '/soc/iommu@ff8b0000', '/soc/iommu@febd0000']);
  });

  it('links each cache IPMMU to the main one with its interrupt bit', () => {
    expect(iommuAt(t, '/soc/iommu@e6740000').ipmmuMain).toEqual({ iommu: '/soc/iommu@e67b0000', bit: 0 });
    expect(iommuAt(t, '/soc/iommu@e6570000').ipmmuMain).toEqual({ iommu: '/soc/iommu@e67b0000', bit: 2 });
    expect(iommuAt(t, '/soc/iommu@febd0000').ipmmuMain).toEqual({ iommu: '/soc/iommu@e67b0000', bit: 14 });
    expect(iommuAt(t, '/soc/iommu@e6740000').signalling).toBe('none');
  });

  it('gives the DMA controller three micro-TLBs', () => {
    expect(iommuAt(t, '/soc/iommu@e6740000').serves.endpoints).toEqual([
      { path: '/soc/dma-controller@e7300000', ids: [0] },
      { path: '/soc/dma-controller@e7300000', ids: [1] },
      { path: '/soc/dma-controller@e7300000', ids: [2] },
    ]);
  });

  it('sends every PCIe requester id to micro-TLB 0 (iommu-map-mask 0), behind the root port too', () => {
    const hc = iommuAt(t, '/soc/iommu@e6570000');
    expect(hc.serves.pciRanges).toEqual([{ bridge: '/soc/pcie@fe000000', entry: 0, mask: 0, ridBase: 0, ridLast: 0, idBase: 0, idLast: 0 }]);
    expect(hc.serves.pciFunctions).toEqual([
      { bridge: '/soc/pcie@fe000000', path: '/soc/pcie@fe000000/pci@0', bdf: '00:00.0', rid: 0, id: 0 },
      { bridge: '/soc/pcie@fe000000', path: '/soc/pcie@fe000000/pci@0/ethernet@0', bdf: '01:00.0', rid: 0x100, id: 0 },
    ]);
  });

  it('accepts a disabled endpoint on a disabled IPMMU and warns only about the unused video IPMMU', () => {
    expect(t.endpoints.map((e) => [e.path, e.enabled])).toEqual([
      ['/soc/dma-controller@e7300000', true],
      ['/soc/dma-controller@ec700000', false],
    ]);
    expect(iommuAt(t, '/soc/iommu@ff8b0000').serves.endpoints).toEqual([{ path: '/soc/dma-controller@ec700000', ids: [0] }]);
    expect(warningLines(t)).toEqual(['unused-iommu /soc/iommu@febd0000: no iommus or iommu-map refers to this Renesas IPMMU-VMSA']);
  });
});

describe('Arm board: MMU-500, virtio-iommu over virtio-mmio, an unknown IOMMU', () => {
  const t = analyseFixture('arm-mmu500-virtio-mmio.dts');

  it('names MMU-500 interrupts from #global-interrupts and keeps two-cell specifiers', () => {
    const smmu = iommuAt(t, '/iommu@2b400000');
    expect(smmu.kind).toBe('arm-smmu');
    expect(smmu.iommuCells).toBe(2);
    expect(smmu.interrupts.map((i) => `${i.name}: ${i.description}`)).toEqual([
      'global0: SPI 40 (INTID 72), level high',
      'context0: SPI 41 (INTID 73), level high',
      'context1: SPI 42 (INTID 74), level high',
      'context2: SPI 43 (INTID 75), level high',
    ]);
    expect(smmu.serves.endpoints).toEqual([
      { path: '/ethernet@2b500000', ids: [0x100, 0x7f] },
      { path: '/gpu@2d000000', ids: [0x200, 0] },
      { path: '/gpu@2d000000', ids: [0x201, 0] },
    ]);
  });

  it('recognises virtio,mmio as an IOMMU only when it has #iommu-cells', () => {
    expect(t.iommus.map((i) => [i.path, i.kind])).toEqual([
      ['/iommu@2b400000', 'arm-smmu'],
      ['/virtio@10000', 'virtio-iommu-mmio'],
      ['/iommu@39b004000', 'generic'],
    ]);
    const v = iommuAt(t, '/virtio@10000');
    expect(v.registers).toEqual([{ base: 0x10000n, size: 0x200n }]);
    expect(v.serves).toEqual({
      endpoints: [{ path: '/virtio@10200', ids: [2] }],
      pciRanges: [{ bridge: '/pci@40000000', entry: 0, mask: 0xffffffff, ridBase: 0, ridLast: 0xff, idBase: 0x10, idLast: 0x10f }],
      pciFunctions: [{ bridge: '/pci@40000000', path: '/pci@40000000/net@1', bdf: '00:01.0', rid: 8, id: 0x18 }],
      ipmmuCaches: [],
    });
  });

  it('finds the DART through the generic binding, with a 64-bit register address', () => {
    const dart = iommuAt(t, '/iommu@39b004000');
    expect(dart.compatible).toEqual(['apple,t8103-dart']);
    expect(dart.registers).toEqual([{ base: 0x3_9b00_4000n, size: 0x4000n }]);
    expect(dart.serves.endpoints).toEqual([
      { path: '/usb@382280000', ids: [0] },
      { path: '/usb@382280000', ids: [1] },
    ]);
    expect(warningLines(t)).toEqual([]);
  });
});
