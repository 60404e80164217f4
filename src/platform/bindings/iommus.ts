// `iommus` on a device node (Linux binding iommu/iommu.txt): a list of IOMMU specifiers, each
// a phandle followed by that IOMMU's `#iommu-cells` cells, which name the device to the IOMMU
// (a RISC-V device id, an SMMU stream id, an IPMMU micro-TLB, a virtio-iommu endpoint id).

import type { DtNode } from '../../formats/devicetree/tree.js';
import { hex, isEnabled, readCell, readCells, statusOf, type AnalysisContext } from './cells.js';
import { classifyIommu } from './kinds.js';

export interface IommuReference {
  /** Path of the node the phandle points at; null when it points nowhere. */
  iommu: string | null;
  phandle: number;
  /** The specifier cells after the phandle. */
  ids: number[];
}

/** The references in `iommus` of `node`. Parsing stops at the first specifier it cannot
 *  delimit (an unknown phandle or #iommu-cells), keeping the rest of the cells as its ids. */
export function iommusOf(node: DtNode, ctx: AnalysisContext): IommuReference[] {
  const cells = readCells(node, 'iommus', ctx.warnings);
  if (cells === undefined) return [];
  const out: IommuReference[] = [];
  for (let i = 0; i < cells.length; ) {
    const phandle = cells[i];
    const target = ctx.phandles.get(phandle);
    if (target === undefined) {
      ctx.warnings.add('dangling-phandle', node, 'iommus', `iommus refers to phandle ${hex(phandle)}, which no node has`);
      out.push({ iommu: null, phandle, ids: cells.slice(i + 1) });
      break;
    }
    if (classifyIommu(target) === null) {
      ctx.warnings.add('not-an-iommu', node, 'iommus', `iommus refers to ${target.path}, which is not an IOMMU (no #iommu-cells)`);
      out.push({ iommu: target.path, phandle, ids: cells.slice(i + 1) });
      break;
    }
    const n = readCell(target, '#iommu-cells', ctx.warnings);
    if (n === undefined || i + 1 + n > cells.length) {
      ctx.warnings.add(
        'iommu-cells-mismatch',
        node,
        'iommus',
        n === undefined
          ? `iommus refers to ${target.path}, which has no #iommu-cells to delimit the specifier`
          : `iommus ends inside the specifier for ${target.path}: ${cells.length - i - 1} cells left, #iommu-cells = ${n}`,
      );
      out.push({ iommu: target.path, phandle, ids: cells.slice(i + 1) });
      break;
    }
    if (isEnabled(node) && !isEnabled(target)) {
      ctx.warnings.add('disabled-iommu', node, 'iommus', `iommus refers to ${target.path}, which is disabled (status "${statusOf(target)}")`);
    }
    out.push({ iommu: target.path, phandle, ids: cells.slice(i + 1, i + 1 + n) });
    i += 1 + n;
  }
  return out;
}
