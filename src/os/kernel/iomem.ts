// Device registers as the CPU reaches them: a mapped window (ioremap) whose loads and stores
// go over the bus to whatever device decodes the address.

import type { MmioDevice } from '../../sim/mmio.js';
import type { SystemBus } from '../../sim/system-bus.js';
import { hex } from '../../sim/u64.js';

export class IoMemError extends Error {}

export class IoMem {
  private readonly device: MmioDevice;
  private readonly offset: number;

  constructor(
    bus: SystemBus,
    readonly base: bigint,
    readonly size: bigint,
  ) {
    const region = bus.mmio.find(base);
    if (region === undefined || base + size > region.base + region.size) {
      throw new IoMemError(`no device registers at ${hex(base)}..${hex(base + size - 1n)}`);
    }
    this.device = region.device;
    this.offset = Number(base - region.base);
  }

  read32(off: number): number {
    const d = this.device;
    return d.mmioRead32 !== undefined ? d.mmioRead32(this.offset + off) : Number(d.mmioRead(this.offset + off, 4));
  }

  write32(off: number, value: number): void {
    const d = this.device;
    if (d.mmioWrite32 !== undefined) d.mmioWrite32(this.offset + off, value >>> 0);
    else d.mmioWrite(this.offset + off, 4, BigInt(value >>> 0));
  }

  read64(off: number): bigint {
    return this.device.mmioRead(this.offset + off, 8);
  }

  write64(off: number, value: bigint): void {
    this.device.mmioWrite(this.offset + off, 8, value);
  }
}
