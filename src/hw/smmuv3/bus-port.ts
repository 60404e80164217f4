// The SMMU's own accesses to memory (IHI 0070 3.4.3, 14.3): Stream and CD table fetches,
// translation table walks, queue reads and writes, MSIs. They go through the system bus, so
// fault and poison marks and MMIO targets (an interrupt controller's doorbell) are honoured.
// Addresses are page numbers and byte offsets (no BigInt); data travels through `words`, the
// accessed doublewords as little-endian 32-bit halves, without allocation.

import { AccessStatus } from '../../sim/physical-memory.js';
import type { SystemBus } from '../../sim/system-bus.js';

/** The largest block read or written at once: an STE or CD, 8 doublewords. */
const MAX_DWORDS = 8;

export class BusPort {
  /** The data of the last access: doubleword i is words[2i] (low) and words[2i+1] (high). */
  readonly words: Uint32Array;
  /** Implicit accesses made, for statistics. */
  reads = 0;
  writes = 0;
  private readonly bytes: Uint8Array;

  constructor(private readonly bus: SystemBus) {
    this.bytes = new Uint8Array(8 * MAX_DWORDS);
    // The host is little-endian (PhysicalMemory checks it), so these words are the memory's.
    this.words = new Uint32Array(this.bytes.buffer);
  }

  /** Reads `dwords` (1..8) little-endian doublewords at (page, offset) into `words`. */
  read(page: number, offset: number, dwords: number): AccessStatus {
    this.reads++;
    const status = this.bus.readBurstAt(page, offset, 8 * dwords, this.bytes, 0);
    if (status === AccessStatus.AccessFault) this.words.fill(0, 0, 2 * dwords);
    return status;
  }

  /** Writes `dwords` (1..8) doublewords from `words` at (page, offset). */
  write(page: number, offset: number, dwords: number): AccessStatus {
    this.writes++;
    return this.bus.writeBurstAt(page, offset, 8 * dwords, this.bytes, 0);
  }

  /** A 32-bit write (an MSI): a naturally aligned word, as an interrupt controller expects. */
  write32(page: number, offset: number, value: number): AccessStatus {
    this.writes++;
    return this.bus.write32(page, offset, value >>> 0);
  }
}

/** An address as a page number and an offset, computed from register halves without BigInt. */
export interface PageAddress {
  page: number;
  offset: number;
}

/**
 * The page and offset of the address hi:lo with bits at and above `bits` cleared and the low
 * `alignLog2` bits cleared (the SMMU's "treated as zero" rules for base registers).
 */
export function pageAddress(hi: number, lo: number, bits: number, alignLog2: number, into: PageAddress): PageAddress {
  let h = hi >>> 0;
  let l = lo >>> 0;
  if (bits < 64) {
    if (bits <= 32) {
      h = 0;
      if (bits < 32) l = l & (2 ** bits - 1);
    } else {
      h = h & (2 ** (bits - 32) - 1);
    }
  }
  if (alignLog2 >= 32) {
    l = 0;
    h = h - (h % 2 ** (alignLog2 - 32));
  } else if (alignLog2 > 0) {
    l = l - (l % 2 ** alignLog2);
  }
  into.page = h * 2 ** 20 + Math.floor(l / 4096);
  into.offset = l % 4096;
  return into;
}
