// The system interconnect seen by bus masters (an IOMMU writing its queues and MSIs, a
// device's translated DMA): an access goes to an MMIO region if one claims the address,
// otherwise to RAM, where fault and poison marks apply.

import { MmioBus, type MmioSize } from './mmio.js';
import { AccessStatus, PhysicalMemory } from './physical-memory.js';
import { TWO_32 } from './u64.js';

export class SystemBus {
  readonly mmio: MmioBus;

  constructor(
    readonly memory: PhysicalMemory,
    mmio?: MmioBus,
  ) {
    this.mmio = mmio ?? new MmioBus();
  }

  /** A 32-bit write to physical page `ppn`, byte `offset`; little-endian in RAM. */
  write32(ppn: number, offset: number, value: number): AccessStatus {
    if (this.mmio.all.length !== 0 && this.mmio.touchesPage(ppn)) {
      return this.mmioAccess(ppn, offset, 4, BigInt(value >>> 0), true).status;
    }
    const status = this.memory.check(ppn, offset, 4);
    if (status === AccessStatus.AccessFault) return status;
    this.memory.write32(ppn, offset, value);
    return status;
  }

  /** A 64-bit write given as halves; little-endian in RAM. */
  write64(ppn: number, offset: number, lo: number, hi: number): AccessStatus {
    if (this.mmio.all.length !== 0 && this.mmio.touchesPage(ppn)) {
      return this.mmioAccess(ppn, offset, 8, BigInt(hi >>> 0) * BigInt(TWO_32) + BigInt(lo >>> 0), true).status;
    }
    const status = this.memory.check(ppn, offset, 8);
    if (status === AccessStatus.AccessFault) return status;
    this.memory.write64(ppn, offset, lo, hi);
    return status;
  }

  /** A 32-bit read; the value is returned in `result.value`. */
  read32(ppn: number, offset: number, result: { value: number; status: AccessStatus }): void {
    if (this.mmio.all.length !== 0 && this.mmio.touchesPage(ppn)) {
      const r = this.mmioAccess(ppn, offset, 4, 0n, false);
      result.value = Number(r.value & 0xffff_ffffn);
      result.status = r.status;
      return;
    }
    result.status = this.memory.check(ppn, offset, 4);
    result.value = result.status === AccessStatus.AccessFault ? 0 : this.memory.read32(ppn, offset);
  }

  /** A device-sized access by physical address (cold path: tools and DMA engines). */
  access(addr: bigint, size: MmioSize, write: boolean, value = 0n): { status: AccessStatus; value: bigint } {
    const region = this.mmio.find(addr);
    if (region !== undefined) {
      const offset = Number(addr - region.base);
      if (write) {
        region.device.mmioWrite(offset, size, value);
        return { status: AccessStatus.Ok, value: 0n };
      }
      return { status: AccessStatus.Ok, value: region.device.mmioRead(offset, size) };
    }
    const status = this.memory.check(Number(addr >> 12n), Number(addr & 0xfffn), size);
    if (status === AccessStatus.AccessFault) return { status, value: 0n };
    if (write) {
      this.memory.write(addr, size, value);
      return { status, value: 0n };
    }
    return { status, value: this.memory.read(addr, size) };
  }

  private mmioAccess(ppn: number, offset: number, size: MmioSize, value: bigint, write: boolean) {
    return this.access((BigInt(ppn) << 12n) + BigInt(offset), size, write, value);
  }
}
