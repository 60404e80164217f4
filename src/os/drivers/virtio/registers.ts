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

/**
 * The 64 feature bits through a select register and a 32-bit window, as both transports
 * expose them (virtio-mmio DeviceFeaturesSel/DeviceFeatures, 4.2.2; virtio-pci
 * device_feature_select/device_feature, 4.1.4.3): word 1 then word 0.
 */
export function readFeatureWords(regs: RegisterWindow, select: number, window: number): bigint {
  regs.write32(select, 1);
  const hi = regs.read32(window);
  regs.write32(select, 0);
  return (BigInt(hi) << 32n) | BigInt(regs.read32(window));
}

export function writeFeatureWords(regs: RegisterWindow, select: number, window: number, features: bigint): void {
  regs.write32(select, 1);
  regs.write32(window, Number((features >> 32n) & 0xffff_ffffn));
  regs.write32(select, 0);
  regs.write32(window, Number(features & 0xffff_ffffn));
}
