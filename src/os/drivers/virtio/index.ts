export { VirtioBus, virtioDeviceOf, DEFAULT_TRANSPORT_FEATURES, type VirtioDriver, type VirtioBusOptions } from './bus.js';
export { VirtioDevice, type VirtioDeviceCounters, type QueueOptions } from './device.js';
export { SplitVirtqueue, splitRingLayout, type VirtqSegment, type SharedArea, type SplitRingLayout, type SplitVirtqueueOptions, type VirtqueueCounters, type UsedBuffer } from './virtqueue.js';
export type { VirtioTransport, VirtioInterruptMode, ConnectResult } from './transport.js';
export { MmioTransport, createVirtioMmioDriver } from './mmio-transport.js';
export { PciModernTransport, createVirtioPciDriver } from './pci-transport.js';
export { readVirtioPciCapabilities, type VirtioPciCapabilities, type VirtioPciStructure } from './pci-capabilities.js';
export { RegisterWindow } from './registers.js';
export { VirtioError } from './errors.js';
