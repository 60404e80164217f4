// Which nodes are IOMMUs, and of which architecture. A node is an IOMMU when one of its
// compatible strings is a known IOMMU binding, or when it has `#iommu-cells` (the generic
// IOMMU binding: every IOMMU provider must have it, so unknown ones are still found).

import type { DtNode } from '../../formats/devicetree/tree.js';
import { readStrings } from './cells.js';

export type IommuKind =
  | 'riscv-iommu'
  | 'riscv-iommu-pci'
  | 'arm-smmu-v3'
  | 'arm-smmu'
  | 'renesas-ipmmu'
  | 'virtio-iommu-mmio'
  | 'virtio-iommu-pci'
  | 'generic';

export interface IommuKindInfo {
  /** Human name of the architecture. */
  title: string;
  /** What the specifier cells after the phandle name, in the binding's words. */
  idName: string;
  /** Whether the IOMMU is itself a PCI function (registers in a BAR, reg holds its BDF). */
  pciFunction: boolean;
}

export const IOMMU_KINDS: Readonly<Record<IommuKind, IommuKindInfo>> = {
  'riscv-iommu': { title: 'RISC-V IOMMU', idName: 'device id', pciFunction: false },
  'riscv-iommu-pci': { title: 'RISC-V IOMMU (PCI function)', idName: 'device id', pciFunction: true },
  'arm-smmu-v3': { title: 'Arm SMMUv3', idName: 'stream id', pciFunction: false },
  'arm-smmu': { title: 'Arm SMMU (v1/v2, MMU-400/500)', idName: 'stream id', pciFunction: false },
  'renesas-ipmmu': { title: 'Renesas IPMMU-VMSA', idName: 'micro-TLB', pciFunction: false },
  'virtio-iommu-mmio': { title: 'virtio-iommu (virtio-mmio)', idName: 'endpoint id', pciFunction: false },
  'virtio-iommu-pci': { title: 'virtio-iommu (PCI function)', idName: 'endpoint id', pciFunction: true },
  generic: { title: 'IOMMU (generic binding)', idName: 'id', pciFunction: false },
};

const ARM_SMMU = /^(arm,(smmu-v[12]|mmu-40[01]|mmu-500)|(cavium|qcom),smmu-v2|qcom,[a-z0-9-]*smmu-500|nvidia,smmu-500)$/;

/** The kind one compatible string names, or null; virtio,mmio only with #iommu-cells. */
function kindOfCompatible(compatible: string, node: DtNode): IommuKind | null {
  if (compatible === 'riscv,iommu') return 'riscv-iommu';
  // The generic PCI binding, or the ids Linux's riscv-iommu-pci matches (QEMU's Red Hat
  // 1b36:0014, Rivos 1efd:edf1) in the PCI bus binding's "pciVVVV,DDDD" form.
  if (compatible === 'riscv,pci-iommu' || compatible === 'pci1b36,14' || compatible === 'pci1efd,edf1') return 'riscv-iommu-pci';
  if (compatible === 'arm,smmu-v3') return 'arm-smmu-v3';
  if (ARM_SMMU.test(compatible)) return 'arm-smmu';
  if (compatible.startsWith('renesas,ipmmu-')) return 'renesas-ipmmu';
  // A virtio-mmio transport is an IOMMU only when its device is one, which the node says
  // by being an IOMMU provider.
  if (compatible === 'virtio,mmio') return node.has('#iommu-cells') ? 'virtio-iommu-mmio' : null;
  // The PCI binding's compatible for vendor 0x1af4 (virtio), device 0x1057 (virtio-iommu).
  if (compatible === 'virtio,pci-iommu' || compatible === 'pci1af4,1057') return 'virtio-iommu-pci';
  return null;
}

/** The IOMMU kind of `node`, or null when it is not an IOMMU. The first recognised compatible
 *  string wins, as a driver matches the most specific one it knows. */
export function classifyIommu(node: DtNode): IommuKind | null {
  for (const c of readStrings(node, 'compatible') ?? []) {
    const kind = kindOfCompatible(c, node);
    if (kind !== null) return kind;
  }
  return node.has('#iommu-cells') ? 'generic' : null;
}
