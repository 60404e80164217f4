export * from './config-space.js';
export { PciFunction, PciConfigurationError, type PciBar, type PciFunctionOptions, type PcieDeviceType, type AtsOptions, type MsixOptions, type PciFunctionCounters, type PciCapabilityOffsets } from './pci-function.js';
export { PcieHostBridge, ecamOffset, type PcieHostBridgeOptions, type PcieHostBridgeCounters } from './host-bridge.js';
export { BarWindow } from './bar-window.js';
export { assignBars, PciResourceError, type BarAssignment } from './bar-assignment.js';
export { pciWindowsOf, type PciWindow, type PciSpace } from './ranges.js';
export { PciMmioFunction, type PciMmioFunctionOptions } from './mmio-function.js';
export { PciDmaEngineFunction, type PciDmaEngineFunctionOptions } from './dma-engine-function.js';
export * from './ids.js';
