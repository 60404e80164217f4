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

// Hardware models.
export * from './hw/riscv-iommu/index.js';
