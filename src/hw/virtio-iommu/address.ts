// 64-bit addresses inside the model are (page number, page offset) pairs: the 4 KiB page
// number (below 2^52, an exact double) and the byte offset in it. Byte-exact comparisons of
// two addresses compare the pairs; the model's granule is at least 4 KiB, so mappings are
// whole pages and their bounds are page numbers alone.

export const PAGE_SHIFT = 12;
export const PAGE_SIZE = 4096;
export const PAGE_MASK = 0xfff;
/** 2^20: scales the high 32-bit half of an address to a page number. */
const HI_TO_PAGE = 0x10_0000;
/** Addresses below 2^53 convert to a number exactly. */
const EXACT_LIMIT = 1n << 53n;
/** Pages whose byte address is below 2^53. */
const EXACT_PAGES = 2 ** 41;

/** The page number of the address whose 32-bit halves are `hi` and `lo`. */
export function pageOfHalves(hi: number, lo: number): number {
  return hi * HI_TO_PAGE + (lo >>> PAGE_SHIFT);
}

/**
 * Splits a 64-bit address into `out.page` and `out.offset` without BigInt arithmetic for
 * addresses below 2^53 (all of them, in practice).
 */
export function splitAddress(address: bigint, out: { page: number; offset: number }): void {
  if (address < EXACT_LIMIT) {
    const a = Number(address);
    const page = Math.floor(a / PAGE_SIZE);
    out.page = page;
    out.offset = a - page * PAGE_SIZE;
  } else {
    out.page = Number(address >> 12n);
    out.offset = Number(address & 0xfffn);
  }
}

/** The byte address of `offset` in page `page`. */
export function joinAddress(page: number, offset: number): bigint {
  return page < EXACT_PAGES ? BigInt(page * PAGE_SIZE + offset) : (BigInt(page) << 12n) | BigInt(offset);
}

/** Compares two addresses given as (page, offset) pairs: negative, zero or positive. */
export function compareAddress(pageA: number, offsetA: number, pageB: number, offsetB: number): number {
  return pageA !== pageB ? pageA - pageB : offsetA - offsetB;
}
