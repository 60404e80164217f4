// Device-tree addresses as the kernel reads them (Devicetree Specification "reg", "ranges",
// "#address-cells", "#size-cells"): a node's `reg` entries translated up through its parents'
// `ranges` to CPU physical addresses.

import { cellsToBigInt, DeviceTreeError, type DtNode } from '../../formats/devicetree/tree.js';

export interface Region {
  base: bigint;
  size: bigint;
}

/** #address-cells and #size-cells that apply to the children of `bus` (defaults 2 and 1). */
export function cellCounts(bus: DtNode | null): { address: number; size: number } {
  return { address: bus?.u32('#address-cells') ?? 2, size: bus?.u32('#size-cells') ?? 1 };
}

/** All `reg` entries of `node`, translated to CPU addresses. */
export function regions(node: DtNode): Region[] {
  const reg = node.u32s('reg');
  if (reg === undefined) return [];
  const { address, size } = cellCounts(node.parent);
  const entry = address + size;
  if (entry === 0 || reg.length % entry !== 0) {
    throw new DeviceTreeError(`${node.path}: reg has ${reg.length} cells, not a multiple of ${address}+${size}`, node.property('reg')?.location);
  }
  const out: Region[] = [];
  for (let i = 0; i < reg.length; i += entry) {
    const local = reg.slice(i, i + address);
    out.push({ base: translate(node.parent, local), size: cellsToBigInt(reg, i + address, size) });
  }
  return out;
}

/** The `index`th `reg` entry of `node`; throws a clear error when there is none. */
export function region(node: DtNode, index = 0): Region {
  const r = regions(node)[index];
  if (r === undefined) throw new DeviceTreeError(`${node.path}: no reg entry ${index}`, node.location);
  return r;
}

/**
 * Translates an address in the space of `bus`'s children to a CPU address, applying each
 * ancestor's `ranges` (absent or empty ranges: identity).
 */
export function translate(bus: DtNode | null, local: number[]): bigint {
  let cells = local;
  let node = bus;
  while (node !== null && node.parent !== null) {
    const ranges = node.u32s('ranges');
    const child = cellCounts(node).address;
    const parent = cellCounts(node.parent).address;
    const sizeCells = cellCounts(node).size;
    if (ranges === undefined || ranges.length === 0) {
      cells = resize(cells, parent);
    } else {
      const entry = child + parent + sizeCells;
      const addr = cellsToBigInt(cells, 0, child) & addressMask(node, child);
      let mapped: number[] | null = null;
      for (let i = 0; i + entry <= ranges.length; i += entry) {
        const cb = cellsToBigInt(ranges, i, child) & addressMask(node, child);
        const size = cellsToBigInt(ranges, i + child + parent, sizeCells);
        if (addr >= cb && addr < cb + size) {
          const pb = cellsToBigInt(ranges, i + child, parent);
          mapped = toCells(pb + (addr - cb), parent);
          break;
        }
      }
      if (mapped === null) throw new DeviceTreeError(`${node.path}: address is outside every ranges entry`, node.property('ranges')?.location);
      cells = mapped;
    }
    node = node.parent;
  }
  return cellsToBigInt(cells, 0, cells.length);
}

/** PCI addresses carry a space code in their first cell: only the low two cells are the address. */
function addressMask(node: DtNode, cells: number): bigint {
  if (node.string('device_type') === 'pci' && cells === 3) return (1n << 64n) - 1n;
  return (1n << BigInt(32 * cells)) - 1n;
}

function resize(cells: number[], count: number): number[] {
  return toCells(cellsToBigInt(cells, 0, cells.length), count);
}

function toCells(v: bigint, count: number): number[] {
  const out: number[] = [];
  for (let i = count - 1; i >= 0; i--) out.push(Number((v >> BigInt(32 * i)) & 0xffffffffn));
  return out;
}
