// `msi-parent`: where a device (or a whole PCI host bridge) sends its message-signalled
// interrupts, with the controller's `#msi-cells` specifier cells (none by default).

import type { DtNode } from '../../formats/devicetree/tree.js';
import { hex, readCell, readCells, type AnalysisContext } from './cells.js';

export interface MsiParentInfo {
  /** Path of the MSI controller, or null when the phandle points nowhere. */
  controller: string | null;
  phandle: number;
  /** The `#msi-cells` specifier after the phandle. */
  args: number[];
}

/** Warns when `target` is not marked `msi-controller`. */
export function checkMsiController(node: DtNode, property: string, target: DtNode, ctx: AnalysisContext): void {
  if (!target.has('msi-controller')) {
    ctx.warnings.add('not-an-msi-controller', node, property, `${property} refers to ${target.path}, which is not an msi-controller`);
  }
}

export function msiParentsOf(node: DtNode, ctx: AnalysisContext): MsiParentInfo[] {
  const cells = readCells(node, 'msi-parent', ctx.warnings);
  if (cells === undefined) return [];
  const out: MsiParentInfo[] = [];
  for (let i = 0; i < cells.length; ) {
    const target = ctx.phandles.get(cells[i]);
    if (target === undefined) {
      ctx.warnings.add('dangling-phandle', node, 'msi-parent', `msi-parent refers to phandle ${hex(cells[i])}, which no node has`);
      out.push({ controller: null, phandle: cells[i], args: cells.slice(i + 1) });
      break;
    }
    checkMsiController(node, 'msi-parent', target, ctx);
    const n = readCell(target, '#msi-cells', ctx.warnings) ?? 0;
    out.push({ controller: target.path, phandle: cells[i], args: cells.slice(i + 1, i + 1 + n) });
    i += 1 + n;
  }
  return out;
}
