export { dmaEngineDriver, dmaEngineOf, DMA_ENGINE_COMPATIBLE, DMA_ENGINE_PCI_VENDOR, DMA_ENGINE_PCI_DEVICE } from './driver.js';
export { DmaEngineChannel, type DmaEngineResult, type DmaEngineErrorKind, type RawTransferOptions, type DmaEngineChannelStats } from './channel.js';
export type { DmaEngineOp } from './registers.js';
