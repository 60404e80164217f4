// The memory windows of a PCI host bridge, from its `ranges` (PCI Bus Binding to Open
// Firmware 2.2.1.1): the PCI address space code is in bits 25:24 of the first cell
// (1 I/O, 2 32-bit memory, 3 64-bit memory), the prefetchable flag in bit 30.

import { cellsToBigInt, DeviceTreeError, type DtNode } from '../../../formats/devicetree/tree.js';

export interface PciHostWindow {
  space: 'config' | 'io' | 'mem32' | 'mem64';
  prefetchable: boolean;
  pciBase: bigint;
  cpuBase: bigint;
  size: bigint;
}

const SPACES = ['config', 'io', 'mem32', 'mem64'] as const;

export function hostWindows(node: DtNode): PciHostWindow[] {
  const cells = node.u32s('ranges') ?? [];
  const child = node.u32('#address-cells') ?? 3;
  const parent = node.parent?.u32('#address-cells') ?? 2;
  const size = node.u32('#size-cells') ?? 2;
  const entry = child + parent + size;
  if (child !== 3 || cells.length % entry !== 0) {
    throw new DeviceTreeError(`${node.path}: ranges is not a list of (3-cell PCI address, ${parent}-cell CPU address, ${size}-cell size)`, node.property('ranges')?.location);
  }
  const out: PciHostWindow[] = [];
  for (let i = 0; i < cells.length; i += entry) {
    out.push({
      space: SPACES[(cells[i] >>> 24) & 3],
      prefetchable: (cells[i] & 0x4000_0000) !== 0,
      pciBase: cellsToBigInt(cells, i + 1, 2),
      cpuBase: cellsToBigInt(cells, i + 3, parent),
      size: cellsToBigInt(cells, i + 3 + parent, size),
    });
  }
  return out;
}

/** The CPU address of the memory range [pci, pci + size), or null when no memory window holds it. */
export function pciToCpu(windows: readonly PciHostWindow[], pci: bigint, size: bigint): bigint | null {
  for (const w of windows) {
    if (w.space !== 'mem32' && w.space !== 'mem64') continue;
    if (pci >= w.pciBase && pci + size <= w.pciBase + w.size) return w.cpuBase + (pci - w.pciBase);
  }
  return null;
}
