// Implicit memory accesses of the IOMMU to its in-memory structures: PAS check, fault and
// poison marks, per-structure endianness (fctl.BE or DC.tc.SBE), and counting. A 64-bit
// entry is returned as two 32-bit halves (low half returned, high half in `hi`).

import { AccessStatus, type PhysicalMemory } from '../../sim/physical-memory.js';
import { bswap32 } from '../../sim/u64.js';
import type { IommuState } from './state.js';
import type { WalkTracer, TracedStructure } from './trace.js';

export class TableReader {
  /** Status of the most recent access. */
  status: AccessStatus = AccessStatus.Ok;
  /** High half of the most recent 64-bit read. */
  hi = 0;
  /** Implicit accesses made, for per-translation statistics. */
  reads = 0;
  writes = 0;
  tracer: WalkTracer | null = null;
  /** Where readBlock() left the structure it read. */
  block: Uint32Array;
  blockAt = 0;
  private readonly scratch = new Uint32Array(16);

  constructor(
    private readonly memory: PhysicalMemory,
    private readonly state: IommuState,
  ) {
    this.block = this.scratch;
  }

  /** Reads the 64-bit entry at (ppn, offset); bigEndian selects the doubleword's byte order. */
  read64(structure: TracedStructure, level: number, ppn: number, offset: number, bigEndian: boolean): number {
    this.reads++;
    if (!this.state.inPas(ppn)) return this.fail(structure, level, ppn, offset, 8, false);
    const status = this.memory.check(ppn, offset, 8);
    if (status === AccessStatus.AccessFault) return this.fail(structure, level, ppn, offset, 8, false);
    let lo = this.memory.read64(ppn, offset);
    let hi = this.memory.hi;
    if (bigEndian) {
      const t = bswap32(lo);
      lo = bswap32(hi);
      hi = t;
    }
    this.status = status;
    this.hi = hi;
    if (this.tracer !== null) this.tracer.access(structure, level, ppn, offset, 8, lo, hi, status, false);
    return lo;
  }

  /**
   * Reads a structure of `dwords` doublewords at (ppn, offset): one implicit access (counted
   * once in `reads`) made of doubleword reads, which stop at an access fault. Returns the worst
   * status; the doublewords are then block[blockAt ...] as halves, [lo0, hi0, lo1, ...],
   * endian-corrected, valid until the next access.
   */
  readBlock(structure: TracedStructure, level: number, ppn: number, offset: number, dwords: number, bigEndian: boolean): AccessStatus {
    const reads = this.reads;
    let worst = AccessStatus.Ok as AccessStatus;
    if (this.tracer === null && !bigEndian && this.state.inPas(ppn) && this.memory.check(ppn, offset, 8 * dwords) === AccessStatus.Ok) {
      // Nothing to trace, to swap or marked: the same doubleword reads, read where they are.
      this.block = this.memory.readInPlace(ppn, dwords);
      this.blockAt = offset >>> 2;
      this.status = AccessStatus.Ok;
      this.hi = this.block[this.blockAt + 2 * dwords - 1];
    } else {
      const words = this.scratch;
      for (let i = 0; i < dwords && worst !== AccessStatus.AccessFault; i++) {
        words[2 * i] = this.read64(structure, level, ppn, offset + 8 * i, bigEndian);
        words[2 * i + 1] = this.hi;
        if (this.status !== AccessStatus.Ok) worst = this.status;
      }
      this.block = words;
      this.blockAt = 0;
    }
    this.reads = reads + 1;
    return worst;
  }

  /** Reads a 32-bit entry (Sv32 and Sv32x4 PTEs). */
  read32(structure: TracedStructure, level: number, ppn: number, offset: number, bigEndian: boolean): number {
    this.reads++;
    if (!this.state.inPas(ppn)) return this.fail(structure, level, ppn, offset, 4, false);
    const status = this.memory.check(ppn, offset, 4);
    if (status === AccessStatus.AccessFault) return this.fail(structure, level, ppn, offset, 4, false);
    let v = this.memory.read32(ppn, offset);
    if (bigEndian) v = bswap32(v);
    this.status = status;
    this.hi = 0;
    if (this.tracer !== null) this.tracer.access(structure, level, ppn, offset, 4, v, 0, status, false);
    return v;
  }

  /** Writes a 64-bit entry back (A/D updates, MRIF updates). Returns the access status. */
  write64(structure: TracedStructure, level: number, ppn: number, offset: number, lo: number, hi: number, bigEndian: boolean): AccessStatus {
    this.writes++;
    if (!this.state.inPas(ppn)) return this.fail(structure, level, ppn, offset, 8, true), this.status;
    const status = this.memory.check(ppn, offset, 8);
    if (status === AccessStatus.AccessFault) return this.fail(structure, level, ppn, offset, 8, true), this.status;
    if (bigEndian) this.memory.write64(ppn, offset, bswap32(hi), bswap32(lo));
    else this.memory.write64(ppn, offset, lo, hi);
    if (this.tracer !== null) this.tracer.access(structure, level, ppn, offset, 8, lo, hi, status, true);
    this.status = status;
    return status;
  }

  write32(structure: TracedStructure, level: number, ppn: number, offset: number, value: number, bigEndian: boolean): AccessStatus {
    this.writes++;
    if (!this.state.inPas(ppn)) return this.fail(structure, level, ppn, offset, 4, true), this.status;
    const status = this.memory.check(ppn, offset, 4);
    if (status === AccessStatus.AccessFault) return this.fail(structure, level, ppn, offset, 4, true), this.status;
    this.memory.write32(ppn, offset, bigEndian ? bswap32(value) : value);
    if (this.tracer !== null) this.tracer.access(structure, level, ppn, offset, 4, value, 0, status, true);
    this.status = status;
    return status;
  }

  private fail(structure: TracedStructure, level: number, ppn: number, offset: number, size: number, write: boolean): number {
    this.status = AccessStatus.AccessFault;
    this.hi = 0;
    if (this.tracer !== null) this.tracer.access(structure, level, ppn, offset, size, 0, 0, AccessStatus.AccessFault, write);
    return 0;
  }
}
