export * from './u64.js';
export * from './physical-memory.js';
export * from './clock.js';
export * from './mmio.js';
export * from './irq.js';
export * from './system-bus.js';
export * from './hart.js';
