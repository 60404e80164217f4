// 64-bit helpers. Hot paths carry 64-bit quantities as two unsigned 32-bit halves or as
// page numbers (< 2^53, exact in a double); BigInt is reserved for API boundaries.

export const TWO_32 = 0x1_0000_0000;
export const MASK64 = (1n << 64n) - 1n;

/** Low 32 bits of a 64-bit value, as an unsigned number. */
export function lo32(value: bigint): number {
  return Number(value & 0xffff_ffffn);
}

/** High 32 bits of a 64-bit value, as an unsigned number. */
export function hi32(value: bigint): number {
  return Number((value >> 32n) & 0xffff_ffffn);
}

/** Joins two unsigned 32-bit halves into a 64-bit BigInt. */
export function join64(hi: number, lo: number): bigint {
  return (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
}

/** Byte-swaps an unsigned 32-bit value. */
export function bswap32(v: number): number {
  return (((v & 0xff) << 24) | ((v & 0xff00) << 8) | ((v >>> 8) & 0xff00) | (v >>> 24)) >>> 0;
}

/** Byte-swaps a 64-bit BigInt. */
export function bswap64(v: bigint): bigint {
  return join64(bswap32(lo32(v)), bswap32(hi32(v)));
}

/** Formats a value as 0x-prefixed hexadecimal, zero-padded to `digits`. */
export function hex(value: bigint | number, digits = 0): string {
  const text = (typeof value === 'bigint' ? value : BigInt(value)).toString(16);
  return '0x' + text.padStart(digits, '0');
}
