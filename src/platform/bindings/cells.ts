// Reading properties without trusting them. The tree model's accessors throw on a value that
// is not whole cells; here such a value is a warning and reads as absent, so one bad property
// never stops the analysis of the rest of the tree.

import { decodeStringList, type DeviceTree, type DtNode } from '../../formats/devicetree/tree.js';
import type { Warnings } from './warnings.js';

/** The value of `name` as big-endian 32-bit cells; undefined when absent or malformed. */
export function readCells(node: DtNode, name: string, warnings: Warnings): number[] | undefined {
  const p = node.property(name);
  if (p === undefined) return undefined;
  if (p.value.length % 4 !== 0) {
    warnings.add('malformed-property', node, name, `${name} is ${p.value.length} bytes, not a whole number of 32-bit cells`);
    return undefined;
  }
  const view = new DataView(p.value.buffer, p.value.byteOffset, p.value.byteLength);
  const out: number[] = [];
  for (let i = 0; i < p.value.length; i += 4) out.push(view.getUint32(i, false));
  return out;
}

/** A one-cell property (#iommu-cells, phandle...); undefined when absent or not one cell. */
export function readCell(node: DtNode, name: string, warnings: Warnings): number | undefined {
  const cells = readCells(node, name, warnings);
  if (cells === undefined) return undefined;
  if (cells.length !== 1) {
    warnings.add('malformed-property', node, name, `${name} has ${cells.length} cells, expected 1`);
    return undefined;
  }
  return cells[0];
}

/** The value of `name` as a string list; never throws. */
export function readStrings(node: DtNode, name: string): string[] | undefined {
  const p = node.property(name);
  return p === undefined ? undefined : decodeStringList(p.value);
}

/** The `status` property, "okay" when absent (Devicetree Specification 2.3.4). */
export function statusOf(node: DtNode): string {
  return readStrings(node, 'status')?.[0] ?? 'okay';
}

export function isEnabled(node: DtNode): boolean {
  const s = statusOf(node);
  return s === 'okay' || s === 'ok';
}

/** Joins `count` cells starting at `index` into one number, most significant first. */
export function cellsValue(cells: readonly number[], index: number, count: number): bigint {
  let v = 0n;
  for (let i = 0; i < count; i++) v = (v << 32n) | BigInt(cells[index + i] >>> 0);
  return v;
}

/** Nodes by phandle, built once: DeviceTree.byPhandle walks the tree on every call and
 *  throws on a malformed phandle property. */
export class PhandleIndex {
  private readonly nodes = new Map<number, DtNode>();

  constructor(tree: DeviceTree, warnings: Warnings) {
    for (const node of tree.root.walk()) {
      const ph = readCell(node, 'phandle', warnings) ?? readCell(node, 'linux,phandle', warnings);
      if (ph !== undefined && !this.nodes.has(ph)) this.nodes.set(ph, node);
    }
  }

  get(phandle: number): DtNode | undefined {
    return this.nodes.get(phandle);
  }
}

/** What every part of the analysis needs: the tree's phandles, and where warnings go. */
export interface AnalysisContext {
  phandles: PhandleIndex;
  warnings: Warnings;
}

export function hex(v: number | bigint): string {
  return `0x${v.toString(16)}`;
}
