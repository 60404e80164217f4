// The RISC-V IOMMU as a PCIe function (class code 08h/06h/00h: base system peripheral, IOMMU):
// registers in BAR0, interrupts as MSIs through the MSI configuration table (Linux's PCI driver
// uses MSIs only). Devices refer to it by the device-tree node of the function, a child of its
// host bridge whose `reg` names the function (PCI bus binding), in the bridge's `iommu-map`.

import type { DtNode } from '../../../formats/devicetree/tree.js';
import { REGISTER_PAGE_SIZE } from '../../../formats/riscv-iommu/registers.js';
import type { Device, Driver, PciFunction, ProbeResult } from '../../driver-model/device.js';
import type { Kernel } from '../../kernel/kernel.js';
import { probeRiscvIommu } from './probe.js';

/** PCI class code of an IOMMU: base class 08h (system peripheral), sub-class 06h, prog-if 00h. */
export const RISCV_IOMMU_PCI_CLASS = 0x080600;

/** The device-tree node describing PCI function `fn` (phys.hi of `reg`: bus 23:16, devfn 15:8). */
export function pciFunctionNode(fn: PciFunction): DtNode | null {
  const want = ((fn.bus & 0xff) << 16) | ((fn.devfn & 0xff) << 8);
  for (const child of fn.hostBridge.children) {
    const reg = child.u32s('reg');
    if (reg !== undefined && reg.length > 0 && (reg[0] & 0x00ffff00) === want) return child;
  }
  return null;
}

export const riscvIommuPciDriver: Driver = {
  name: 'riscv-iommu-pci',
  pci: [
    { classCode: RISCV_IOMMU_PCI_CLASS, classMask: 0xffffff },
    { vendor: 0x1b36, device: 0x0014 }, // QEMU's RISC-V IOMMU (Red Hat ids)
    { vendor: 0x1efd, device: 0x0008 }, // Rivos
  ],
  probe(dev: Device, kernel: Kernel): ProbeResult {
    const fn = dev.pci;
    if (fn === null) return { error: 'not a PCI function' };
    const bar = fn.bars.find((b) => b.index === 0);
    if (bar === undefined) return { error: 'BAR0 (the register page) is not assigned' };
    if (bar.size < BigInt(REGISTER_PAGE_SIZE)) return { error: `BAR0 is ${bar.size} bytes, smaller than the 4 KiB register page` };
    const node = dev.node ?? pciFunctionNode(fn);
    if (node === null) return { error: `no device-tree node describes ${dev.name}: devices could not refer to it in iommu-map` };
    let regs;
    try {
      regs = kernel.ioremap(bar.base, BigInt(REGISTER_PAGE_SIZE));
    } catch (e) {
      return { error: `could not map BAR0: ${(e as Error).message}` };
    }
    return probeRiscvIommu({
      kernel,
      device: dev,
      node,
      regs,
      chooseInterrupts: (caps) => {
        if (caps.igs === 'WSI' || caps.igs === 'reserved') return { error: 'the IOMMU cannot send MSIs, and a PCI function has no wires to it' };
        if (!kernel.irq.hasMsi) return { defer: 'waiting for an MSI controller' };
        return { kind: 'msi' };
      },
    });
  },
};
