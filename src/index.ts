// iommu-lab public API. 64-bit values cross this boundary as `bigint`.

// Simulation substrate: memory, buses, interrupts, time.
export {
  PhysicalMemory,
  AccessStatus,
  MemoryError,
  PAGE_SIZE,
  PAGE_SHIFT,
  type AccessSize,
  type Endianness,
  type MemoryCounters,
} from './sim/physical-memory.js';
export { Clock, type ScheduledEvent } from './sim/clock.js';
export { MmioBus, BusError, type MmioDevice, type MmioRegion, type MmioSize } from './sim/mmio.js';
export { SystemBus } from './sim/system-bus.js';
export { InterruptLine, MsiController, type MsiRecord } from './sim/irq.js';
export { hex } from './sim/u64.js';

// Specification bit layouts (the datasheets).
export * as formats from './formats/index.js';

// Hardware models. The RISC-V IOMMU's names are at the top level (the first model); the
// others are namespaces, as their names overlap (RecordingTracer, ParameterError, ...).
export * from './hw/riscv-iommu/index.js';
export * as smmuv3 from './hw/smmuv3/index.js';
export * as virtioIommu from './hw/virtio-iommu/index.js';
export * as ipmmuVmsa from './hw/ipmmu-vmsa/index.js';
export * as virtio from './hw/virtio/index.js';

// The Xen-style hypervisor (domains, P2M, device passthrough with the IPMMU).
export * as xen from './hyp/xen/index.js';

// Device trees: DTS text and DTB blobs.
export { DeviceTree, DtNode, DeviceTreeError } from './formats/devicetree/tree.js';
export { readDtb, writeDtb } from './formats/dtb/index.js';
export { parseDts } from './platform/dts/index.js';

// Machines built from device trees, and the built-in platforms.
export { Machine, MachineError, type MachineOptions, type MachineIommu, type MachineDmaEngine, type MachinePcie } from './platform/machine/machine.js';
export { hypervisorOf } from './platform/machine/hypervisor.js';
export { VirtualMachinePair, builtinVirtualMachinePair } from './platform/vm/index.js';
export { listBuiltinPlatforms, loadBuiltinPlatform, type BuiltinPlatform, type LoadedPlatform } from './platform/builtin/index.js';
export { analyseIommuTopology, formatTopology, type IommuTopology } from './platform/bindings/index.js';

// Scenarios and their reports.
export { loadScenario, parseScenario, ScenarioRunner, ScenarioError, defaultScenarioFile, builtinScenarioFile, listBuiltinScenarios, explainTranslation, type LoadedScenario, type RunOptions, type RunResult, type BuiltinScenario } from './scenario/index.js';
export { formatReport, formatReportJson, formatExplanation, type Report } from './report/index.js';
