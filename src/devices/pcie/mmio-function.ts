// A PCI function that is nothing but a window onto an MMIO device: registers in BAR0 (and
// optionally more BARs), no DMA of its own through the function. This is how a platform
// device model such as the RISC-V IOMMU becomes a PCIe function (`riscv,pci-iommu`): its
// register file behind BAR0, its own memory accesses made as before.

import type { MmioDevice } from '../../sim/mmio.js';
import { PciFunction, type MsixOptions, type PciBar, type PcieDeviceType } from './pci-function.js';

export interface PciMmioFunctionOptions {
  name: string;
  vendor: number;
  device: number;
  classCode: number;
  revision?: number;
  /** The registers behind BAR0. */
  registers: MmioDevice;
  /** BAR0 size in bytes (a power of two; default 4 KiB). */
  size?: bigint;
  /** A 64-bit BAR0 (default true, as PCIe recommends for memory BARs). */
  is64?: boolean;
  /** Further BARs (index 2 upwards when BAR0 is 64-bit). */
  extraBars?: readonly (PciBar | null | undefined)[];
  pcieType?: PcieDeviceType;
  msix?: MsixOptions;
  interruptPin?: number;
}

export class PciMmioFunction extends PciFunction {
  readonly registers: MmioDevice;

  constructor(o: PciMmioFunctionOptions) {
    const is64 = o.is64 ?? true;
    const bars: (PciBar | null | undefined)[] = [{ size: o.size ?? 0x1000n, is64, device: o.registers }];
    if (is64) bars.push(null);
    for (const b of o.extraBars ?? []) bars.push(b);
    super({
      name: o.name,
      vendor: o.vendor,
      device: o.device,
      classCode: o.classCode,
      revision: o.revision,
      bars,
      pcieType: o.pcieType,
      msix: o.msix,
      interruptPin: o.interruptPin,
    });
    this.registers = o.registers;
  }
}
