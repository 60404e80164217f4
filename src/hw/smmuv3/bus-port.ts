// The SMMU's own accesses to memory (IHI 0070 3.4.3, 14.3): Stream and CD table fetches,
// translation table walks, queue reads and writes, MSIs. They go through the system bus, so
// fault and poison marks and MMIO targets (an interrupt controller's doorbell) are honoured.
// Addresses are page numbers and byte offsets (no BigInt); data travels as little-endian 32-bit
// halves of the accessed doublewords, without allocation: through `words`, or for reads of
// RAM, read where they are (`block` at `blockAt`, as RISC-V's table reader does).

import { AccessStatus } from '../../sim/physical-memory.js';
import type { SystemBus } from '../../sim/system-bus.js';

// Local copies of imported constants, read on every access: V8 folds a module constant's
// properties into optimized code, not an import's.
const ACCESS_FAULT = AccessStatus.AccessFault;

/** The largest block read or written at once: an STE or CD, 8 doublewords. */
const MAX_DWORDS = 8;
/** 2^n, n = 0..64, as exact doubles. */
const POW2 = Float64Array.from({ length: 65 }, (_, n) => 2 ** n);
/** 2^n - 1 for n = 0..31, as 32-bit integers. */
const LOW_MASK = Int32Array.from({ length: 32 }, (_, n) => 2 ** n - 1);

export class BusPort {
  /**
   * The data of a write, and of the last readDword: doubleword i is words[2i] (low) and
   * words[2i+1] (high).
   */
  readonly words: Uint32Array;
  /**
   * The data of the last read: doubleword i is block[blockAt + 2i] and block[blockAt + 2i + 1],
   * valid until the next access. Read-only: it may be memory itself.
   */
  block: Uint32Array;
  blockAt = 0;
  /** Implicit accesses made, for statistics. */
  reads = 0;
  writes = 0;
  private readonly bytes: Uint8Array;

  constructor(private readonly bus: SystemBus) {
    this.bytes = new Uint8Array(8 * MAX_DWORDS);
    // The host is little-endian (PhysicalMemory checks it), so these words are the memory's.
    this.words = new Uint32Array(this.bytes.buffer);
    this.block = this.words;
  }

  /** Reads `dwords` (1..8) little-endian doublewords at (page, offset) into `block` at `blockAt`. */
  read(page: number, offset: number, dwords: number): AccessStatus {
    this.reads++;
    const bus = this.bus;
    const length = 8 * dwords;
    const w = this.words;
    if ((offset & 3) === 0 && offset >= 0 && offset + length <= 4096 && !bus.touchesMmio(page)) {
      // RAM: the bus's mark check, then the words read in the frame. A burst is one access to
      // memory whatever its length (as SystemBus.readBurstAt counts it).
      const memory = bus.memory;
      const status = memory.check(page, offset, length);
      if (status === ACCESS_FAULT) {
        w.fill(0, 0, 2 * dwords);
        this.block = w;
        this.blockAt = 0;
        return status;
      }
      this.block = memory.readInPlace(page, 1);
      this.blockAt = offset >>> 2;
      return status;
    }
    const status = bus.readBurstAt(page, offset, length, this.bytes, 0);
    if (status === ACCESS_FAULT) w.fill(0, 0, 2 * dwords);
    this.block = w;
    this.blockAt = 0;
    return status;
  }

  /** The `dwords` doublewords of the last read, copied into `words` (for tracers, which take them there). */
  readWords(dwords: number): Uint32Array {
    const w = this.words;
    const b = this.block;
    if (b !== w) for (let i = 0, at = this.blockAt; i < 2 * dwords; i++) w[i] = b[at + i];
    return w;
  }

  /** read(page, offset, 1), for a doubleword (a descriptor), into `words[0]` and `words[1]`. */
  readDword(page: number, offset: number): AccessStatus {
    const bus = this.bus;
    if ((offset & 7) !== 0 || offset < 0 || offset > 4088 || bus.touchesMmio(page)) return this.readDwordRouted(page, offset);
    this.reads++;
    const memory = bus.memory;
    const status = memory.check(page, offset, 8);
    const w = this.words;
    if (status === ACCESS_FAULT) {
      w[0] = w[1] = 0;
      return status;
    }
    w[0] = memory.read64(page, offset);
    w[1] = memory.hi;
    return status;
  }

  /** readDword() of a page with MMIO (or of a misaligned doubleword): read() as the bus routes it. */
  private readDwordRouted(page: number, offset: number): AccessStatus {
    const status = this.read(page, offset, 1);
    this.readWords(1);
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
      if (bits < 32) l = (l & LOW_MASK[bits]) >>> 0;
    } else {
      h = (h & LOW_MASK[bits - 32]) >>> 0;
    }
  }
  if (alignLog2 >= 32) {
    l = 0;
    h = h - (h % POW2[alignLog2 - 32]);
  } else if (alignLog2 > 0) {
    l = (l & ~LOW_MASK[alignLog2]) >>> 0;
  }
  into.page = h * 0x10_0000 + (l >>> 12);
  into.offset = l & 4095;
  return into;
}
