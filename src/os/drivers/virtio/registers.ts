// Device registers of a virtio transport as the CPU reaches them: 32-bit accesses through
// the ioremapped window, 8- and 16-bit ones as CPU loads and stores of that size on the bus
// (the virtio-pci common configuration has byte and halfword fields that must be accessed
// at their width, 4.1.3.1).

import type { Kernel } from '../../kernel/kernel.js';
import type { IoMem } from '../../kernel/iomem.js';

export class RegisterWindow {
  private readonly io: IoMem;

  constructor(
    private readonly kernel: Kernel,
    readonly base: bigint,
    readonly size: number,
  ) {
    this.io = kernel.ioremap(base, BigInt(size));
  }

  read8(offset: number): number {
    return Number(this.kernel.bus.access(this.base + BigInt(offset), 1, false).value);
  }

  read16(offset: number): number {
    return Number(this.kernel.bus.access(this.base + BigInt(offset), 2, false).value);
  }

  read32(offset: number): number {
    return this.io.read32(offset) >>> 0;
  }

  write8(offset: number, value: number): void {
    this.kernel.bus.access(this.base + BigInt(offset), 1, true, BigInt(value & 0xff));
  }

  write16(offset: number, value: number): void {
    this.kernel.bus.access(this.base + BigInt(offset), 2, true, BigInt(value & 0xffff));
  }

  write32(offset: number, value: number): void {
    this.io.write32(offset, value >>> 0);
  }
}
