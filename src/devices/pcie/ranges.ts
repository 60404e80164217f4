// The address windows a PCI host bridge forwards, from its device-tree `ranges` (PCI Bus
// Binding to Open Firmware, section 2.2.1.1): each entry is a 3-cell PCI address
// (phys.hi: bits 25:24 space code, bit 30 prefetchable; phys.mid/lo: the 64-bit address),
// a CPU address in the parent's #address-cells, and a size in the bridge's #size-cells.

import { cellsToBigInt, DeviceTreeError, type DtNode } from '../../formats/devicetree/tree.js';

export type PciSpace = 'config' | 'io' | 'mem32' | 'mem64';
const SPACES: readonly PciSpace[] = ['config', 'io', 'mem32', 'mem64'];

export interface PciWindow {
  space: PciSpace;
  prefetchable: boolean;
  /** First PCI bus address of the window, and the CPU address it appears at. */
  pciBase: bigint;
  cpuBase: bigint;
  size: bigint;
}

/** The windows of a host bridge node's `ranges`, in order. */
export function pciWindowsOf(node: DtNode): PciWindow[] {
  const ranges = node.u32s('ranges');
  if (ranges === undefined) return [];
  const child = node.u32('#address-cells') ?? 3;
  const parent = node.parent?.u32('#address-cells') ?? 2;
  const sizeCells = node.u32('#size-cells') ?? 2;
  if (child !== 3) throw new DeviceTreeError(`${node.path}: a PCI host bridge needs #address-cells = <3>, not ${child}`, node.property('#address-cells')?.location);
  const entry = child + parent + sizeCells;
  if (ranges.length % entry !== 0) {
    throw new DeviceTreeError(`${node.path}: ranges has ${ranges.length} cells, not a multiple of ${child}+${parent}+${sizeCells}`, node.property('ranges')?.location);
  }
  const out: PciWindow[] = [];
  for (let i = 0; i < ranges.length; i += entry) {
    const hi = ranges[i];
    out.push({
      space: SPACES[(hi >>> 24) & 3],
      prefetchable: (hi & 0x4000_0000) !== 0,
      pciBase: cellsToBigInt(ranges, i + 1, 2),
      cpuBase: cellsToBigInt(ranges, i + child, parent),
      size: cellsToBigInt(ranges, i + child + parent, sizeCells),
    });
  }
  return out;
}
