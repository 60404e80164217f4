// Output address sizes of the VMSAv8-64 translation system (Arm ARM D8.1.6, D8.1.7): the 3-bit
// TCR_ELx.{I}PS / VTCR_EL2.PS encoding (also ID_AA64MMFR0_EL1.PARange's low bits, SMMUv3
// CD.IPS, STE.S2PS and SMMU_IDR5.OAS) and the effective size a translation stage checks output
// addresses against.

import type { GranuleLog2 } from './granule.js';

/** Bits selected by each {I}PS encoding (Table D8-6). */
export const ADDRESS_SIZE_BITS: readonly number[] = [32, 36, 40, 42, 44, 48, 52, 56];

/** The address size an {I}PS value selects (only its 3 low bits count). */
export function addressSizeBits(ps: number): number {
  return ADDRESS_SIZE_BITS[ps & 7];
}

/** The {I}PS encoding of an address size, or null when no encoding has it. */
export function addressSizeField(bits: number): number | null {
  const ps = ADDRESS_SIZE_BITS.indexOf(bits);
  return ps < 0 ? null : ps;
}

/**
 * The largest output address a VMSAv8-64 descriptor can hold (R QQQSJ): 52 bits with the 64 KiB
 * granule and FEAT_LPA, 48 bits otherwise (FEAT_LPA2's 52-bit 4 KiB / 16 KiB format is not
 * modelled).
 */
export function maxOutputBits(g: GranuleLog2, largePa: boolean): number {
  return g === 16 && largePa ? 52 : 48;
}

/**
 * The output address size a stage checks against (R CLPQT, AArch64.PhysicalAddressSize): the
 * {I}PS selection, capped by the implemented PA size and by what the descriptors can hold.
 */
export function effectiveOutputBits(ps: number, paBits: number, g: GranuleLog2, largePa: boolean): number {
  return Math.min(addressSizeBits(ps), paBits, maxOutputBits(g, largePa));
}
