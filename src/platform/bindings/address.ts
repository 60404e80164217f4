// Register addresses as the CPU sees them (Devicetree Specification 2.3.5-2.3.8): a node's
// `reg` is in its parent bus's address space; each ancestor's `ranges` maps it one level up
// until the root, whose space is the CPU's. Written for the platform side on its own: the
// kernel has its own reader, and the two must agree because they read the same tree.

import type { DtNode } from '../../formats/devicetree/tree.js';
import { cellsValue, hex, readCell, readCells, readStrings, type AnalysisContext } from './cells.js';

export interface Region {
  /** CPU physical address, or null when no chain of `ranges` reaches the CPU. */
  base: bigint | null;
  size: bigint;
}

export interface CellCounts {
  address: number;
  size: number;
}

/** #address-cells and #size-cells for the children of `bus` (defaults 2 and 1, spec 2.3.5). */
export function cellCounts(bus: DtNode, ctx: AnalysisContext): CellCounts {
  return {
    address: readCell(bus, '#address-cells', ctx.warnings) ?? 2,
    size: readCell(bus, '#size-cells', ctx.warnings) ?? 1,
  };
}

export function isPciBus(node: DtNode): boolean {
  return readStrings(node, 'device_type')?.[0] === 'pci';
}

/** All `reg` entries of `node` translated to CPU addresses. */
export function regions(node: DtNode, ctx: AnalysisContext): Region[] {
  const reg = readCells(node, 'reg', ctx.warnings);
  const bus = node.parent;
  if (reg === undefined || bus === null) return [];
  const { address, size } = cellCounts(bus, ctx);
  const entry = address + size;
  if (entry === 0 || reg.length % entry !== 0) {
    ctx.warnings.add(
      'address-cells-mismatch',
      node,
      'reg',
      `reg has ${reg.length} cells, not a multiple of #address-cells (${address}) + #size-cells (${size}) of ${bus.path}`,
    );
    if (entry === 0) return [];
  }
  const out: Region[] = [];
  for (let i = 0; i + entry <= reg.length; i += entry) {
    out.push({ base: translate(bus, reg.slice(i, i + address), node, ctx), size: cellsValue(reg, i + address, size) });
  }
  return out;
}

/** Space code of a PCI address (phys.hi bits 25:24) reduced to what ranges matching compares:
 *  configuration, I/O, or memory (32- and 64-bit memory match each other). */
function pciSpace(hi: number): number {
  const ss = (hi >>> 24) & 3;
  return ss === 3 ? 2 : ss;
}

/** A PCI function's BARs as firmware assigned them (`assigned-addresses`, PCI bus binding
 *  2.2.1.1: phys.hi/mid/lo and a 2-cell size each), translated to CPU addresses. */
export function assignedAddresses(node: DtNode, ctx: AnalysisContext): Region[] {
  const cells = readCells(node, 'assigned-addresses', ctx.warnings);
  const bus = node.parent;
  if (cells === undefined || bus === null) return [];
  const { address, size } = cellCounts(bus, ctx);
  const entry = address + size;
  if (cells.length % entry !== 0) {
    ctx.warnings.add(
      'address-cells-mismatch',
      node,
      'assigned-addresses',
      `assigned-addresses has ${cells.length} cells, not a multiple of #address-cells (${address}) + #size-cells (${size}) of ${bus.path}`,
    );
  }
  const out: Region[] = [];
  for (let i = 0; i + entry <= cells.length; i += entry) {
    out.push({ base: translate(bus, cells.slice(i, i + address), node, ctx, 'assigned-addresses'), size: cellsValue(cells, i + address, size) });
  }
  return out;
}

/** Translates `local` (cells in the space of `bus`'s children) to a CPU address; `property`
 *  names where `origin` gave the address, for warnings. */
export function translate(bus: DtNode, local: number[], origin: DtNode, ctx: AnalysisContext, property = 'reg'): bigint | null {
  let cells = local;
  let node = bus;
  while (node.parent !== null) {
    const child = cellCounts(node, ctx);
    const up = cellCounts(node.parent, ctx).address;
    const ranges = readCells(node, 'ranges', ctx.warnings);
    const pci = isPciBus(node) && child.address === 3;
    const addr = pci ? cellsValue(cells, 1, 2) : cellsValue(cells, 0, cells.length);
    if (ranges === undefined) {
      // Absent ranges means the bus's addresses are not in its parent's space at all.
      ctx.warnings.add('untranslatable-address', origin, property, `address ${hex(addr)} is not visible to the CPU: ${node.path} has no ranges property`);
      return null;
    }
    if (ranges.length === 0) {
      cells = toCells(addr, up);
    } else {
      const entry = child.address + up + child.size;
      if (ranges.length % entry !== 0) {
        ctx.warnings.add(
          'address-cells-mismatch',
          node,
          'ranges',
          `ranges has ${ranges.length} cells, not a multiple of #address-cells (${child.address}) + parent #address-cells (${up}) + #size-cells (${child.size})`,
        );
      }
      let mapped: number[] | null = null;
      for (let i = 0; i + entry <= ranges.length; i += entry) {
        if (pci && pciSpace(ranges[i]) !== pciSpace(cells[0])) continue;
        const childBase = pci ? cellsValue(ranges, i + 1, 2) : cellsValue(ranges, i, child.address);
        const size = cellsValue(ranges, i + child.address + up, child.size);
        if (addr >= childBase && addr < childBase + size) {
          mapped = toCells(cellsValue(ranges, i + child.address, up) + (addr - childBase), up);
          break;
        }
      }
      if (mapped === null) {
        ctx.warnings.add('untranslatable-address', origin, property, `address ${hex(addr)} is outside every ranges entry of ${node.path}`);
        return null;
      }
      cells = mapped;
    }
    node = node.parent;
  }
  return cellsValue(cells, 0, cells.length);
}

function toCells(v: bigint, count: number): number[] {
  const out: number[] = [];
  for (let i = count - 1; i >= 0; i--) out.push(Number((v >> BigInt(32 * i)) & 0xffffffffn));
  return out;
}
