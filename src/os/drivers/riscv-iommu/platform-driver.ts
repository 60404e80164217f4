// The RISC-V IOMMU as a platform device (device-tree binding "riscv,iommu"): registers at
// `reg`, wired interrupts in `interrupts` (optionally named cmdq, fltq, pm, priq), or MSIs when
// the IOMMU cannot signal wires or the node asks for them through `msi-parent`.

import type { DtNode } from '../../../formats/devicetree/tree.js';
import { REGISTER_PAGE_SIZE } from '../../../formats/riscv-iommu/registers.js';
import type { Device, Driver, ProbeResult } from '../../driver-model/device.js';
import type { Kernel } from '../../kernel/kernel.js';
import { region } from '../../of/address.js';
import { enabled } from '../../kernel/kernel.js';
import type { RiscvIommuCaps } from './capabilities.js';
import { probeRiscvIommu, type InterruptChoice } from './probe.js';

/** Linux's choice: MSIs when the IOMMU can send them and the platform routes them, else wires. */
export function choosePlatformInterrupts(kernel: Kernel, node: DtNode, caps: RiscvIommuCaps): InterruptChoice {
  const canWsi = caps.igs === 'WSI' || caps.igs === 'BOTH';
  const canMsi = caps.igs === 'MSI' || caps.igs === 'BOTH';
  if (!canWsi && !canMsi) return { error: 'capabilities.IGS holds the reserved encoding' };
  let wires: number;
  try {
    wires = kernel.irq.count(node);
  } catch (e) {
    return { error: (e as Error).message };
  }
  // msi-parent = <&controller [msi-specifier]>: the phandle is the first cell.
  const msiParent = node.u32s('msi-parent')?.[0];
  const wantMsi = canMsi && (!canWsi || wires === 0 || msiParent !== undefined);
  if (wantMsi) {
    if (kernel.irq.hasMsi) return { kind: 'msi' };
    const parent = msiParent === undefined ? undefined : kernel.dt.byPhandle(msiParent);
    if (parent !== undefined && enabled(parent)) return { defer: `waiting for the MSI controller ${parent.path}` };
    if (!canWsi || wires === 0) return { defer: 'waiting for an MSI controller' };
    // No MSI controller for it: wires, as Linux falls back when it finds no MSI domain.
  }
  if (wires === 0) return { error: 'the IOMMU signals only wired interrupts, and the node has no `interrupts`' };
  return { kind: 'wsi', wires };
}

export const riscvIommuPlatformDriver: Driver = {
  name: 'riscv-iommu',
  compatible: ['riscv,iommu'],
  probe(dev: Device, kernel: Kernel): ProbeResult {
    const node = dev.node;
    if (node === null) return { error: 'no device-tree node' };
    let regs;
    try {
      const r = region(node);
      if (r.size < BigInt(REGISTER_PAGE_SIZE)) return { error: `reg is ${r.size} bytes, smaller than the 4 KiB register page` };
      regs = kernel.ioremap(r.base, BigInt(REGISTER_PAGE_SIZE));
    } catch (e) {
      return { error: `could not map the registers: ${(e as Error).message}` };
    }
    return probeRiscvIommu({ kernel, device: dev, node, regs, chooseInterrupts: (caps) => choosePlatformInterrupts(kernel, node, caps) });
  },
};
