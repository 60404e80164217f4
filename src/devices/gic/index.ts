export { GicCore, CpuInterfaceState, SGI_COUNT, PRIVATE_INTIDS } from './core.js';
export { GicV2 } from './gic-v2.js';
export { GicV3 } from './gic-v3.js';
export { DEFAULT_GIC_PARAMETERS, LAST_SPI_INTID, resolveGicParameters, type GicOptions, type GicParameters } from './parameters.js';
export * from './registers.js';
