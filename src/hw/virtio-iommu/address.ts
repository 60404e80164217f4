// 64-bit addresses inside the model are (page number, page offset) pairs: the 4 KiB page
// number (below 2^52, an exact double) and the byte offset in it. Byte-exact comparisons of
// two addresses compare the pairs; the model's granule is at least 4 KiB, so mappings are
// whole pages and their bounds are page numbers alone. Bigint addresses convert with dmaPage
// and dmaAddress (devices/dma-port.ts).

const PAGE_SHIFT = 12;
export const PAGE_SIZE = 4096;
export const PAGE_MASK = 0xfff;
/** 2^20: scales the high 32-bit half of an address to a page number. */
const HI_TO_PAGE = 0x10_0000;

/** The page number of the address whose 32-bit halves are `hi` and `lo`. */
export function pageOfHalves(hi: number, lo: number): number {
  return hi * HI_TO_PAGE + (lo >>> PAGE_SHIFT);
}

/** Compares two addresses given as (page, offset) pairs: negative, zero or positive. */
export function compareAddress(pageA: number, offsetA: number, pageB: number, offsetB: number): number {
  return pageA !== pageB ? pageA - pageB : offsetA - offsetB;
}
