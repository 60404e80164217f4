// The built-in platforms: DTS files kept beside this module and usable by name. They are
// located through import.meta.url, so they are found both from src/ (tsx, vitest) and from
// dist/ (the build copies the .dts files next to the compiled module).
//
//   listBuiltinPlatforms().map((p) => p.name); // ['riscv-virt', 'riscv-virt-pci-iommu', 'riscv-virt-virtio-iommu', ...]
//   const { tree } = loadBuiltinPlatform('riscv-virt');
//   tree.find('/soc/iommu@3010000')?.string('compatible'); // 'riscv,iommu'

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { DeviceTreeError, type DeviceTree } from '../../formats/devicetree/tree.js';
import { parseDts } from '../dts/index.js';

export interface BuiltinPlatform {
  name: string;
  /** One line, for `iommu-lab platforms`. */
  description: string;
  /** Absolute path of the DTS file. */
  file: string;
}

export interface LoadedPlatform extends BuiltinPlatform {
  /** The DTS text. */
  source: string;
  tree: DeviceTree;
}

const PLATFORMS: readonly Omit<BuiltinPlatform, 'file'>[] = [
  {
    name: 'riscv-virt',
    description: 'RISC-V virt-like machine: platform RISC-V IOMMU in front of a DMA engine and a PCIe host bridge with three DMA-engine functions',
  },
  {
    name: 'riscv-virt-pci-iommu',
    description: 'riscv-virt with the RISC-V IOMMU as PCIe function 00:01.0 (riscv,pci-iommu) translating the other functions',
  },
  {
    name: 'riscv-virt-virtio-iommu',
    description: 'riscv-virt with a virtio-iommu (virtio-mmio, QEMU virt slot 0) instead of the RISC-V IOMMU, translating the DMA engine and the PCIe functions',
  },
  {
    name: 'riscv-virt-virtio-iommu-pci',
    description: 'riscv-virt with a virtio-iommu as PCIe function 00:01.0 (virtio,pci-iommu, 1af4:1057) translating the other functions',
  },
  {
    name: 'arm-virt',
    description: 'Arm virt-like machine (QEMU virt memory map, GICv3): SMMUv3 in front of a DMA engine and a PCIe host bridge with two DMA-engine functions',
  },
  {
    name: 'rcar-gen3-xen',
    description: 'R-Car Gen3-like board booting the Xen-style hypervisor (GIC-400): a root IPMMU-MM and three cache IPMMUs in front of five DMA engines, four kept for guests',
  },
  {
    name: 'riscv-virt-vfio-host',
    description: 'host half of the VFIO pair: a RISC-V IOMMU in front of two DMA engines assigned to a guest (no host driver binds them)',
  },
  {
    name: 'riscv-virt-vfio-guest',
    description: 'guest half of the VFIO pair: a virtio-iommu and the two assigned DMA engines at their host addresses, backed by the host IOMMU',
  },
];

export class UnknownPlatformError extends DeviceTreeError {
  constructor(readonly platform: string) {
    super(`unknown built-in platform "${platform}"; built-in platforms: ${PLATFORMS.map((p) => p.name).join(', ')}`);
    this.name = 'UnknownPlatformError';
  }
}

function fileOf(name: string): string {
  return fileURLToPath(new URL(`./${name}.dts`, import.meta.url));
}

export function listBuiltinPlatforms(): BuiltinPlatform[] {
  return PLATFORMS.map((p) => ({ ...p, file: fileOf(p.name) }));
}

/** The platform called `name`, or undefined. */
export function findBuiltinPlatform(name: string): BuiltinPlatform | undefined {
  return listBuiltinPlatforms().find((p) => p.name === name);
}

/** Reads and parses the platform called `name`; parse errors name the DTS file. */
export function loadBuiltinPlatform(name: string): LoadedPlatform {
  const platform = findBuiltinPlatform(name);
  if (platform === undefined) throw new UnknownPlatformError(name);
  let source: string;
  try {
    source = readFileSync(platform.file, 'utf8');
  } catch (err) {
    throw new DeviceTreeError(`${platform.file}: cannot read built-in platform "${name}": ${err instanceof Error ? err.message : String(err)}`);
  }
  return { ...platform, source, tree: parseDts(source, { file: platform.file }) };
}
