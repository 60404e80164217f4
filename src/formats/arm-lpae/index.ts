// The Armv8 VMSAv8-64 translation-table format (Arm ARM chapter D8), shared by the hardware
// walker (src/hw/arm-lpae) and the software builder (src/os/io-pgtable/arm-lpae.ts).

export * from './granule.js';
export * from './address-size.js';
export * from './descriptor.js';
export * from './attributes.js';
