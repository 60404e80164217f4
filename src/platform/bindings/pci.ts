// PCI function nodes under a host bridge (IEEE 1275 PCI bus binding, as used by the
// Devicetree PCI bindings): the first `reg` entry is a configuration-space address whose
// phys.hi cell holds the function's bus (bits 23:16), device (15:11) and function (10:8).
// The requester id a function puts on its DMA is bus << 8 | device << 3 | function.

import type { DtNode } from '../../formats/devicetree/tree.js';
import { cellCounts, isPciBus } from './address.js';
import { hex, readCells, readStrings, type AnalysisContext } from './cells.js';

export interface PciLocation {
  bus: number;
  device: number;
  function: number;
  /** Requester id: bus << 8 | device << 3 | function. */
  rid: number;
  /** "bb:dd.f", as lspci prints it. */
  bdf: string;
}

export interface PciChild {
  node: DtNode;
  location: PciLocation;
}

export function formatBdf(bus: number, device: number, fn: number): string {
  return `${bus.toString(16).padStart(2, '0')}:${device.toString(16).padStart(2, '0')}.${fn.toString(16)}`;
}

/** The bus/device/function that phys.hi of a PCI address encodes. */
export function decodePhysHi(physHi: number): PciLocation {
  const bus = (physHi >>> 16) & 0xff;
  const device = (physHi >>> 11) & 0x1f;
  const fn = (physHi >>> 8) & 0x7;
  return { bus, device, function: fn, rid: (bus << 8) | (device << 3) | fn, bdf: formatBdf(bus, device, fn) };
}

/** `bus-range` of a PCI bus node as [first, last], or null when absent or malformed. */
export function busRangeOf(node: DtNode, ctx: AnalysisContext): [number, number] | null {
  const cells = readCells(node, 'bus-range', ctx.warnings);
  if (cells === undefined) return null;
  if (cells.length !== 2) {
    ctx.warnings.add('malformed-property', node, 'bus-range', `bus-range has ${cells.length} cells, expected 2 (first and last bus)`);
    return null;
  }
  return [cells[0], cells[1]];
}

/** Whether a node without `reg` still claims to be a PCI function, so its missing reg matters. */
function looksLikeFunction(node: DtNode): boolean {
  return isPciBus(node) || (readStrings(node, 'compatible') ?? []).some((c) => /^pci[0-9a-f]+,[0-9a-f]+/.test(c) || c.includes('pci-iommu'));
}

/** The function nodes under `bus` (a host bridge or a PCI-PCI bridge), depth first. */
export function pciFunctions(bus: DtNode, ctx: AnalysisContext): PciChild[] {
  const out: PciChild[] = [];
  const range = busRangeOf(bus, ctx);
  const { address, size } = cellCounts(bus, ctx);
  for (const child of bus.children) {
    const reg = readCells(child, 'reg', ctx.warnings);
    if (reg === undefined || reg.length === 0) {
      if (looksLikeFunction(child)) ctx.warnings.add('pci-address', child, 'reg', 'a PCI function node needs reg to give its bus, device and function');
      continue;
    }
    if (reg.length % (address + size) !== 0) {
      ctx.warnings.add(
        'address-cells-mismatch',
        child,
        'reg',
        `reg has ${reg.length} cells, not a multiple of #address-cells (${address}) + #size-cells (${size}) of ${bus.path}`,
      );
    }
    const hi = reg[0];
    if (((hi >>> 24) & 3) !== 0) {
      ctx.warnings.add('pci-address', child, 'reg', `the first reg entry (phys.hi ${hex(hi)}) is not a configuration-space address`);
    }
    const location = decodePhysHi(hi);
    if (range !== null && (location.bus < range[0] || location.bus > range[1])) {
      ctx.warnings.add('pci-address', child, 'reg', `bus ${hex(location.bus)} is outside bus-range ${hex(range[0])}-${hex(range[1])} of ${bus.path}`);
    }
    out.push({ node: child, location });
    if (isPciBus(child)) out.push(...pciFunctions(child, ctx));
  }
  return out;
}
