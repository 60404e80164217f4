export { DmaEngine, type DmaEngineOptions, type DmaEngineCounters } from './dma-engine.js';
export * from './registers.js';
