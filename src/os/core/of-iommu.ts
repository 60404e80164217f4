// Which IOMMU translates a device's DMA, and under which IDs, from the device tree's generic
// IOMMU bindings: `iommus = <&iommu args...>` (with the IOMMU's `#iommu-cells`) on a device
// node, and `iommu-map = <rid-base &iommu iommu-base length>` with `iommu-map-mask` on a PCI
// host bridge, which map each requester id to an IOMMU and an ID.

import { phandleSpecifiers } from '../../formats/devicetree/specifiers.js';
import type { DeviceTree, DtNode } from '../../formats/devicetree/tree.js';

export interface IommuReference {
  /** The IOMMU's node. */
  iommu: DtNode;
  /** The specifier cells after the phandle (for iommu-map: the one translated id). */
  args: number[];
}

export class IommuBindingError extends Error {}

/** The `iommus` references of a device node (empty when it has none). */
export function iommusOf(dt: DeviceTree, node: DtNode): IommuReference[] {
  const list = phandleSpecifiers(dt, node, 'iommus', '#iommu-cells', (m) => new IommuBindingError(m)) ?? [];
  return list.map(({ target, args }) => ({ iommu: target, args }));
}

export interface IommuMapEntry {
  ridBase: number;
  iommu: DtNode;
  iommuBase: number;
  length: number;
}

/** The parsed `iommu-map` of a host bridge, and its mask (all ones when absent). */
export function iommuMapOf(dt: DeviceTree, bridge: DtNode): { entries: IommuMapEntry[]; mask: number } | null {
  const cells = bridge.u32s('iommu-map');
  if (cells === undefined) return null;
  if (cells.length % 4 !== 0) {
    throw new IommuBindingError(`${bridge.path}: iommu-map has ${cells.length} cells, not a multiple of 4 (rid-base, iommu, iommu-base, length)`);
  }
  const entries: IommuMapEntry[] = [];
  for (let i = 0; i < cells.length; i += 4) {
    const iommu = dt.byPhandle(cells[i + 1]);
    if (iommu === undefined) throw new IommuBindingError(`${bridge.path}: iommu-map entry ${i / 4} refers to phandle ${cells[i + 1]}, which no node has`);
    entries.push({ ridBase: cells[i], iommu, iommuBase: cells[i + 2], length: cells[i + 3] });
  }
  return { entries, mask: bridge.u32('iommu-map-mask') ?? 0xffffffff };
}

/**
 * The IOMMU reference for requester id `rid` under `bridge`: the masked rid falls in one
 * entry's [rid-base, rid-base + length), giving id iommu-base + (rid - rid-base). Null when the
 * bridge has an iommu-map that leaves the rid out (the function bypasses translation) or none.
 */
export function iommuForRid(dt: DeviceTree, bridge: DtNode, rid: number): IommuReference | null {
  const map = iommuMapOf(dt, bridge);
  if (map === null) return null;
  const masked = (rid & map.mask) >>> 0;
  for (const e of map.entries) {
    if (masked >= e.ridBase && masked < e.ridBase + e.length) return { iommu: e.iommu, args: [(e.iommuBase + masked - e.ridBase) >>> 0] };
  }
  return null;
}
