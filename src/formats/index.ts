export * from './bitfield.js';
export * from './riscv-iommu/index.js';
export * as riscvPte from './riscv-pte/index.js';
