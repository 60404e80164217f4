export * from './bitfield.js';
export * from './riscv-iommu/index.js';
export * as riscvPte from './riscv-pte/index.js';
export * as devicetree from './devicetree/index.js';
export * as dtb from './dtb/index.js';
