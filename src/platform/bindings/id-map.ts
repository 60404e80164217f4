// `iommu-map` and `msi-map` on a PCI host bridge (Linux bindings pci/pci-iommu.txt and
// pci/pci-msi.txt): tuples (rid-base, phandle, base, length) that send the requester ids
// [rid-base, rid-base + length) to the IOMMU or MSI controller, as id base + (rid - rid-base),
// after the requester id is ANDed with `iommu-map-mask` / `msi-map-mask`.

import type { DtNode } from '../../formats/devicetree/tree.js';
import { hex, isEnabled, readCell, readCells, statusOf, type AnalysisContext } from './cells.js';
import { classifyIommu } from './kinds.js';
import { checkMsiController } from './msi.js';

export type MapProperty = 'iommu-map' | 'msi-map';

export interface IdMapEntry {
  /** Position of the entry in the property. */
  index: number;
  ridBase: number;
  length: number;
  /** Last requester id covered (inclusive); null when the entry is empty. */
  ridLast: number | null;
  phandle: number;
  /** Path of the IOMMU or MSI controller; null when the phandle points nowhere. */
  target: string | null;
  targetBase: number;
  /** Last id produced (inclusive); null when the entry is empty. */
  targetLast: number | null;
}

export interface IdMap {
  property: MapProperty;
  /** The mask applied to requester ids before lookup: all ones when the -mask property is absent. */
  mask: number;
  entries: IdMapEntry[];
}

/** An IdMap with the nodes its entries point at, for lookups. */
export interface ResolvedIdMap {
  map: IdMap;
  targets: (DtNode | undefined)[];
}

export interface IdLookup {
  entry: IdMapEntry;
  target: DtNode;
  id: number;
}

const ENTRY_CELLS = 4;
/** PCI requester ids are 16 bits: bus, device, function. */
const RID_LIMIT = 0x10000;

function checkTarget(bridge: DtNode, property: MapProperty, index: number, target: DtNode, ctx: AnalysisContext): void {
  if (property === 'msi-map') {
    checkMsiController(bridge, property, target, ctx);
    return;
  }
  if (classifyIommu(target) === null) {
    ctx.warnings.add('not-an-iommu', bridge, property, `iommu-map entry ${index} refers to ${target.path}, which is not an IOMMU (no #iommu-cells)`);
    return;
  }
  const cells = readCell(target, '#iommu-cells', ctx.warnings);
  if (cells !== undefined && cells !== 1) {
    ctx.warnings.add(
      'iommu-cells-mismatch',
      bridge,
      property,
      `iommu-map entry ${index} gives one specifier cell, but ${target.path} has #iommu-cells = ${cells}`,
    );
  }
  if (isEnabled(bridge) && !isEnabled(target)) {
    ctx.warnings.add('disabled-iommu', bridge, property, `iommu-map entry ${index} refers to ${target.path}, which is disabled (status "${statusOf(target)}")`);
  }
}

function range(first: number, last: number | null): string {
  return last === null ? `${hex(first)} (empty)` : `${hex(first)}-${hex(last)}`;
}

/** Reads `property` of `bridge` (null when absent); `pci` enables the 16-bit requester id check. */
export function readIdMap(bridge: DtNode, property: MapProperty, pci: boolean, ctx: AnalysisContext): ResolvedIdMap | null {
  const cells = readCells(bridge, property, ctx.warnings);
  if (cells === undefined) return null;
  const maskProperty = `${property}-mask`;
  const mask = readCell(bridge, maskProperty, ctx.warnings) ?? 0xffffffff;
  if (cells.length === 0 || cells.length % ENTRY_CELLS !== 0) {
    ctx.warnings.add(
      'map-length',
      bridge,
      property,
      `${property} has ${cells.length} cells, not a non-zero multiple of 4 (rid-base, phandle, base, length); the kernel rejects such a map`,
    );
  }
  const entries: IdMapEntry[] = [];
  const targets: (DtNode | undefined)[] = [];
  for (let i = 0; i + ENTRY_CELLS <= cells.length; i += ENTRY_CELLS) {
    const index = i / ENTRY_CELLS;
    const [ridBase, phandle, targetBase, length] = cells.slice(i, i + ENTRY_CELLS);
    const target = ctx.phandles.get(phandle);
    if (target === undefined) {
      ctx.warnings.add('dangling-phandle', bridge, property, `${property} entry ${index} refers to phandle ${hex(phandle)}, which no node has`);
    } else {
      checkTarget(bridge, property, index, target, ctx);
    }
    if (length === 0) {
      ctx.warnings.add('map-length', bridge, property, `${property} entry ${index} has length 0 and maps nothing`);
    } else if (ridBase + length > 0x100000000) {
      ctx.warnings.add('map-length', bridge, property, `${property} entry ${index} (rid-base ${hex(ridBase)}, length ${hex(length)}) runs past 0xffffffff`);
    } else if (pci && ridBase + length > RID_LIMIT) {
      ctx.warnings.add(
        'map-length',
        bridge,
        property,
        `${property} entry ${index} (rid-base ${hex(ridBase)}, length ${hex(length)}) runs past requester id 0xffff`,
      );
    }
    if ((ridBase & ~mask) >>> 0 !== 0) {
      ctx.warnings.add(
        'map-mask',
        bridge,
        property,
        `${property} entry ${index} has rid-base ${hex(ridBase)} with bits that ${maskProperty} ${hex(mask)} clears; the kernel rejects the map`,
      );
    }
    const empty = length === 0;
    entries.push({
      index,
      ridBase,
      length,
      ridLast: empty ? null : Math.min(ridBase + length - 1, 0xffffffff),
      phandle,
      target: target?.path ?? null,
      targetBase,
      targetLast: empty ? null : (targetBase + length - 1) >>> 0,
    });
    targets.push(target);
  }
  for (let a = 0; a < entries.length; a++) {
    for (let b = a + 1; b < entries.length; b++) {
      const x = entries[a];
      const y = entries[b];
      if (x.ridLast === null || y.ridLast === null) continue;
      const first = Math.max(x.ridBase, y.ridBase);
      const last = Math.min(x.ridLast, y.ridLast);
      if (first > last) continue;
      ctx.warnings.add(
        'map-overlap',
        bridge,
        property,
        `${property} entries ${a} (${range(x.ridBase, x.ridLast)}) and ${b} (${range(y.ridBase, y.ridLast)}) overlap on ${range(first, last)}; the first one wins`,
      );
    }
  }
  return { map: { property, mask, entries }, targets };
}

/** The id that `rid` maps to: the first entry whose range holds the masked rid. */
export function lookupId(resolved: ResolvedIdMap, rid: number): IdLookup | null {
  const masked = (rid & resolved.map.mask) >>> 0;
  for (let i = 0; i < resolved.map.entries.length; i++) {
    const entry = resolved.map.entries[i];
    if (entry.ridLast === null || masked < entry.ridBase || masked > entry.ridLast) continue;
    const target = resolved.targets[i];
    // A dangling entry still claims the id (it is the first match), but resolves to nothing.
    if (target === undefined) return null;
    return { entry, target, id: (entry.targetBase + (masked - entry.ridBase)) >>> 0 };
  }
  return null;
}
