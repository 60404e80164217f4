export * from './status.js';
export * from './features.js';
export * from './split-ring.js';
export * from './device-ids.js';
export * from './mmio.js';
export * from './pci.js';
