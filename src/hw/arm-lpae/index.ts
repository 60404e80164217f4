// The VMSAv8-64 translation table walker shared by the SMMUv3 and IPMMU-VMSA models.

export * from './walker.js';
export * from './walk-config.js';
export * from './physical-descriptor-memory.js';
