// Which nodes are IOMMUs: this project's architectures and the common real compatibles, and
// any node with #iommu-cells.
import { describe, expect, it } from 'vitest';
import { classifyIommu, IOMMU_KINDS } from '../../../src/platform/bindings/index.js';
import { DtNode, encodeStrings, encodeU32s } from '../../../src/formats/devicetree/tree.js';

function node(compatible: string[], iommuCells?: number): DtNode {
  const n = new DtNode('n');
  if (compatible.length > 0) n.set('compatible', encodeStrings(compatible));
  if (iommuCells !== undefined) n.set('#iommu-cells', encodeU32s([iommuCells]));
  return n;
}

describe('classifyIommu', () => {
  it.each([
    [['riscv,iommu'], 'riscv-iommu'],
    [['vendor,soc-iommu', 'riscv,iommu'], 'riscv-iommu'],
    [['pci1efd,edf1', 'riscv,pci-iommu'], 'riscv-iommu-pci'],
    [['pci1b36,14'], 'riscv-iommu-pci'],
    [['arm,smmu-v3'], 'arm-smmu-v3'],
    [['hisilicon,hi3660-smmu-v3', 'arm,smmu-v3'], 'arm-smmu-v3'],
    [['arm,mmu-500'], 'arm-smmu'],
    [['arm,smmu-v2'], 'arm-smmu'],
    [['arm,smmu-v1'], 'arm-smmu'],
    [['arm,mmu-401'], 'arm-smmu'],
    [['qcom,sdm845-smmu-500', 'arm,mmu-500'], 'arm-smmu'],
    [['nvidia,tegra194-smmu', 'nvidia,smmu-500'], 'arm-smmu'],
    [['renesas,ipmmu-r8a7795'], 'renesas-ipmmu'],
    [['renesas,ipmmu-vmsa'], 'renesas-ipmmu'],
    [['virtio,pci-iommu', 'pci1af4,1057'], 'virtio-iommu-pci'],
    [['pci1af4,1057'], 'virtio-iommu-pci'],
  ] as const)('%j is %s', (compatible, kind) => {
    expect(classifyIommu(node([...compatible]))).toBe(kind);
  });

  it('takes virtio,mmio as an IOMMU only with #iommu-cells', () => {
    expect(classifyIommu(node(['virtio,mmio'], 1))).toBe('virtio-iommu-mmio');
    expect(classifyIommu(node(['virtio,mmio']))).toBeNull();
  });

  it('takes any other node with #iommu-cells as a generic IOMMU, and nothing else', () => {
    expect(classifyIommu(node(['apple,t8103-dart'], 1))).toBe('generic');
    expect(classifyIommu(node(['samsung,exynos-sysmmu'], 0))).toBe('generic');
    expect(classifyIommu(node([], 1))).toBe('generic');
    expect(classifyIommu(node(['arm,gic-v3']))).toBeNull();
    expect(classifyIommu(node(['renesas,pcie-r8a7795']))).toBeNull();
  });

  it('names the ids of each kind', () => {
    expect(Object.fromEntries(Object.entries(IOMMU_KINDS).map(([k, v]) => [k, v.idName]))).toEqual({
      'riscv-iommu': 'device id',
      'riscv-iommu-pci': 'device id',
      'arm-smmu-v3': 'stream id',
      'arm-smmu': 'stream id',
      'renesas-ipmmu': 'micro-TLB',
      'virtio-iommu-mmio': 'endpoint id',
      'virtio-iommu-pci': 'endpoint id',
      generic: 'id',
    });
  });
});
