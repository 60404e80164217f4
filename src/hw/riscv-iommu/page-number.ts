// Arithmetic on page numbers (below 2^53: exact as doubles, but wider than JavaScript's 32-bit
// integer operations). These use 32-bit operations when the bits involved allow it and exact
// double arithmetic (scaling by powers of two) otherwise: never a division, nor a floating-point
// `%` (which V8 compiles to a library call).

/** 2^n and 2^-n as exact doubles, n = 0..63. */
export const POW2: readonly number[] = Array.from({ length: 64 }, (_, n) => 2 ** n);
export const INV_POW2: readonly number[] = Array.from({ length: 64 }, (_, n) => 2 ** -n);

/**
 * The same page number, as a small integer when it is below 2^31. V8 stores such a number as
 * a Smi, so that fields holding page numbers and the walks that start from them use 32-bit
 * arithmetic; a number that came out of floating-point arithmetic would otherwise stay a heap
 * number (and turn the field, and every walk, to floating point).
 */
export function smallPage(pn: number): number {
  return pn < 0x80000000 ? pn | 0 : pn;
}

/** 2^n - 1 for n = 0..31. */
const LOW_MASK = Int32Array.from({ length: 32 }, (_, n) => 2 ** n - 1);

const TWO_32 = 4294967296;

/** (pn >> shift) & mask, for a mask below 2^31. */
export function pageBits(pn: number, shift: number, mask: number): number {
  return (pn < TWO_32 && shift < 32 ? pn >>> shift : Math.floor(pn * INV_POW2[shift])) & mask;
}

/** pn mod 2^n. */
export function lowBits(pn: number, n: number): number {
  return n < 32 ? pn & LOW_MASK[n] : pn - Math.floor(pn * INV_POW2[n]) * POW2[n];
}

/** pn rounded down to a multiple of 2^n. */
export function alignDown(pn: number, n: number): number {
  return pn - lowBits(pn, n);
}
