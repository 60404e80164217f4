// Lists of phandles with arguments (devicetree specification 2.3.x and the bindings built on
// it: `iommus`, `interrupts-extended`, `msi-parent`, ...): each entry is a phandle followed by
// as many cells as the target node's `#...-cells` property says.

import type { DeviceTree, DtNode } from './tree.js';

export interface PhandleSpecifier {
  target: DtNode;
  args: number[];
}

/**
 * The entries of `property` of `node` (undefined when the node has no such property), each
 * target's argument count read from its `cellsName`. A phandle that points nowhere, a target
 * without `cellsName`, or a list that ends inside an entry throws `error(message)`.
 */
export function phandleSpecifiers(tree: DeviceTree, node: DtNode, property: string, cellsName: string, error: (message: string) => Error): PhandleSpecifier[] | undefined {
  const cells = node.u32s(property);
  if (cells === undefined) return undefined;
  const out: PhandleSpecifier[] = [];
  for (let i = 0; i < cells.length; ) {
    const target = tree.byPhandle(cells[i]);
    if (target === undefined) throw error(`${node.path}: ${property} refers to phandle ${cells[i]}, which no node has`);
    const n = target.u32(cellsName);
    if (n === undefined) throw error(`${node.path}: ${property} refers to ${target.path}, which has no ${cellsName}`);
    if (i + 1 + n > cells.length) throw error(`${node.path}: ${property} ends inside the specifier for ${target.path} (${cellsName} = ${n})`);
    out.push({ target, args: cells.slice(i + 1, i + 1 + n) });
    i += 1 + n;
  }
  return out;
}
