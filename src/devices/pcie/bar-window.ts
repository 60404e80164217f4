// A BAR as the system bus sees it: the region where firmware placed the BAR, forwarding to
// the device behind it while the function decodes that address (Command.Memory Space set and
// the BAR still holding the address it was mapped at). Otherwise nobody claims the access:
// reads complete with all ones (a master abort) and writes are dropped.

import type { MmioDevice, MmioSize } from '../../sim/mmio.js';
import type { PciFunction } from './pci-function.js';

const ALL_ONES = [0n, 0xffn, 0xffffn, 0n, 0xffff_ffffn, 0n, 0n, 0n, 0xffff_ffff_ffff_ffffn] as const;

export class BarWindow implements MmioDevice {
  private readonly device: MmioDevice;
  /** Accesses nobody claimed. */
  unclaimed = 0;

  constructor(
    readonly fn: PciFunction,
    readonly index: number,
    /** The PCI bus address the BAR was mapped at. */
    readonly pciBase: bigint,
  ) {
    const bar = fn.bars[index];
    if (bar === null || bar === undefined) throw new RangeError(`${fn.name}: BAR${index} is not implemented`);
    this.device = bar.device;
  }

  mmioRead(offset: number, size: MmioSize): bigint {
    if (!this.fn.decodes(this.index, this.pciBase)) {
      this.unclaimed++;
      return ALL_ONES[size];
    }
    return this.device.mmioRead(offset, size);
  }

  mmioWrite(offset: number, size: MmioSize, value: bigint): void {
    if (!this.fn.decodes(this.index, this.pciBase)) {
      this.unclaimed++;
      return;
    }
    this.device.mmioWrite(offset, size, value);
  }

  mmioRead32(offset: number): number {
    if (!this.fn.decodes(this.index, this.pciBase)) {
      this.unclaimed++;
      return 0xffff_ffff;
    }
    const d = this.device;
    return d.mmioRead32 !== undefined ? d.mmioRead32(offset) : Number(d.mmioRead(offset, 4) & 0xffff_ffffn);
  }

  mmioWrite32(offset: number, value: number): void {
    if (!this.fn.decodes(this.index, this.pciBase)) {
      this.unclaimed++;
      return;
    }
    const d = this.device;
    if (d.mmioWrite32 !== undefined) d.mmioWrite32(offset, value);
    else d.mmioWrite(offset, 4, BigInt(value >>> 0));
  }
}
