// Memory-mapped I/O: devices expose registers at offsets inside a region of the physical
// address space. The bus decodes addresses to (device, offset) and forwards the access.

import { hex } from './u64.js';

export type MmioSize = 1 | 2 | 4 | 8;

/** A device with memory-mapped registers. Offsets are relative to the region base. */
export interface MmioDevice {
  mmioRead(offset: number, size: MmioSize): bigint;
  mmioWrite(offset: number, size: MmioSize, value: bigint): void;
  /** Optional 32-bit accesses without BigInt, with the same semantics as size 4. */
  mmioRead32?(offset: number): number;
  mmioWrite32?(offset: number, value: number): void;
}

export interface MmioRegion {
  readonly name: string;
  readonly base: bigint;
  readonly size: bigint;
  readonly device: MmioDevice;
}

export class BusError extends Error {}

export class MmioBus {
  private readonly regions: MmioRegion[] = [];

  /** Places `device` at [base, base+size). Regions may not overlap. */
  map(name: string, base: bigint, size: bigint, device: MmioDevice): MmioRegion {
    if (size <= 0n) throw new BusError(`region ${name} needs a positive size`);
    for (const r of this.regions) {
      if (base < r.base + r.size && r.base < base + size) {
        throw new BusError(`region ${name} at ${hex(base)} overlaps ${r.name} at ${hex(r.base)}`);
      }
    }
    const region = { name, base, size, device };
    this.regions.push(region);
    this.regions.sort((a, b) => (a.base < b.base ? -1 : 1));
    return region;
  }

  /** The region containing `addr`, if any. */
  find(addr: bigint): MmioRegion | undefined {
    for (const r of this.regions) {
      if (addr >= r.base && addr < r.base + r.size) return r;
    }
    return undefined;
  }

  /** Whether any region overlaps the 4 KiB page `ppn` (cheap pre-check for DMA routing). */
  touchesPage(ppn: number): boolean {
    if (this.regions.length === 0) return false;
    const start = BigInt(ppn) << 12n;
    const end = start + 4096n;
    for (const r of this.regions) if (r.base < end && start < r.base + r.size) return true;
    return false;
  }

  get all(): readonly MmioRegion[] {
    return this.regions;
  }
}
