// The scenarios shipped with the lab, usable by name wherever a scenario file is expected
// (`iommu-lab run arm-virt-tour`). The YAML files sit beside this module in src/ and in dist/
// (the build copies them).

import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export interface BuiltinScenario {
  name: string;
  description: string;
  /** Absolute path of the YAML file. */
  file: string;
}

const SCENARIOS: readonly Omit<BuiltinScenario, 'file'>[] = [
  { name: 'riscv-virt-tour', description: 'RISC-V IOMMU on riscv-virt: DMA API, a VFIO-style domain with a 2 MiB page, a fault, isolation, a streaming workload (the default)' },
  { name: 'arm-virt-tour', description: 'Arm SMMUv3 on arm-virt: the same tour through stage 1, with ATS on the PCIe functions' },
  { name: 'virtio-iommu-tour', description: 'virtio-iommu on riscv-virt-virtio-iommu: the tour through MAP/UNMAP requests, a fault on the event queue, lazy unmaps batched per sync' },
  { name: 'vfio-tour', description: 'a guest on riscv-virt-vfio-guest with engines assigned behind its virtio-iommu: run with config.virtio-iommu.backend none or host to see whether the virtio-iommu or the host RISC-V IOMMU translates' },
  { name: 'xen-passthrough-tour', description: 'Xen-style hypervisor on rcar-gen3-xen: guests with DMA engines passed through the IPMMU, isolation, quarantine, a destroyed and a rebooted guest, a workload' },
];

export const DEFAULT_SCENARIO = 'riscv-virt-tour';

export function listBuiltinScenarios(): BuiltinScenario[] {
  return SCENARIOS.map((s) => ({ ...s, file: fileURLToPath(new URL(`./${s.name}.yaml`, import.meta.url)) }));
}

/** The file of the built-in scenario `name`, or null when there is none by that name. */
export function builtinScenarioFile(name: string): string | null {
  const s = listBuiltinScenarios().find((b) => b.name === name);
  return s !== undefined && existsSync(s.file) ? s.file : null;
}

/** The embedded default scenario (`iommu-lab run` with no file). */
export function defaultScenarioFile(): string {
  return listBuiltinScenarios().find((s) => s.name === DEFAULT_SCENARIO)?.file ?? '';
}
