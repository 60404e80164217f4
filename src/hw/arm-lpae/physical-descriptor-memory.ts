// DescriptorMemory over physical memory: what a walker uses when descriptor addresses are
// physical (stage 1 alone, or stage 2). An access that the memory's fault or poison marks
// refuse is an external abort (an SMMUv3 reports either as F_WALK_EABT); `status` says which.
// Nested walks wrap this with their own stage-2 translation of each address.

import { AccessStatus, type PhysicalMemory } from '../../sim/physical-memory.js';
import type { DescriptorMemory } from './walker.js';

const PAGES_PER_4G = 0x100000;

export class PhysicalDescriptorMemory implements DescriptorMemory {
  lo = 0;
  hi = 0;
  swapped = false;
  /** Status of the most recent access (AccessFault or DataCorruption when it was refused). */
  status: AccessStatus = AccessStatus.Ok;
  /** Accesses made: descriptor reads, and compare-and-swaps that wrote. */
  reads = 0;
  writes = 0;

  constructor(private readonly memory: PhysicalMemory) {}

  read64(addressHi: number, addressLo: number): boolean {
    const ppn = addressHi * PAGES_PER_4G + (addressLo >>> 12);
    const offset = addressLo & 0xfff;
    this.reads++;
    this.status = this.memory.check(ppn, offset, 8);
    if (this.status !== AccessStatus.Ok) return false;
    this.lo = this.memory.read64(ppn, offset);
    this.hi = this.memory.hi;
    return true;
  }

  cas64(addressHi: number, addressLo: number, expectLo: number, expectHi: number, newLo: number, newHi: number): boolean {
    const ppn = addressHi * PAGES_PER_4G + (addressLo >>> 12);
    const offset = addressLo & 0xfff;
    this.reads++;
    this.status = this.memory.check(ppn, offset, 8);
    if (this.status !== AccessStatus.Ok) return false;
    const lo = this.memory.read64(ppn, offset) >>> 0;
    const hi = this.memory.hi >>> 0;
    this.swapped = lo === expectLo >>> 0 && hi === expectHi >>> 0;
    if (this.swapped) {
      this.writes++;
      this.memory.write64(ppn, offset, newLo >>> 0, newHi >>> 0);
    }
    return true;
  }
}
