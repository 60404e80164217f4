// What the binding analysis could not resolve. A device tree written by someone else is
// allowed to be wrong: every problem becomes a warning attached to the node (and property)
// where it was found, and the analysis carries on with what it could read.

import type { DtNode } from '../../formats/devicetree/tree.js';

export type WarningCode =
  /** A phandle that no node carries. */
  | 'dangling-phandle'
  /** `iommus` or `iommu-map` points at a node that is not an IOMMU. */
  | 'not-an-iommu'
  /** A recognised IOMMU node without `#iommu-cells`. */
  | 'missing-iommu-cells'
  /** A specifier whose length does not match the IOMMU's `#iommu-cells`. */
  | 'iommu-cells-mismatch'
  /** `reg` or `ranges` whose length does not match `#address-cells` / `#size-cells`. */
  | 'address-cells-mismatch'
  /** A `reg` address that no `ranges` entry of a parent bus maps to the CPU. */
  | 'untranslatable-address'
  /** `interrupts` without a resolvable interrupt parent, or not a whole number of specifiers. */
  | 'interrupt-cells-mismatch'
  /** `interrupt-names` whose count differs from the number of interrupts. */
  | 'interrupt-names-mismatch'
  /** `msi-parent` / `msi-map` pointing at a node without `msi-controller`. */
  | 'not-an-msi-controller'
  /** An `iommu-map` / `msi-map` that is not whole entries, or an entry with a bad length. */
  | 'map-length'
  /** Two entries of one `iommu-map` / `msi-map` that cover the same requester ids. */
  | 'map-overlap'
  /** A map entry whose rid-base has bits the map's mask clears, so no id can match it. */
  | 'map-mask'
  /** An enabled device that refers to a disabled IOMMU. */
  | 'disabled-iommu'
  /** An enabled IOMMU that nothing refers to. */
  | 'unused-iommu'
  /** A PCI function that no `iommu-map` entry covers: its DMA bypasses the IOMMU. */
  | 'unmapped-requester'
  /** A PCI IOMMU function whose own requester id its bridge maps to itself. */
  | 'iommu-translates-itself'
  /** A PCI child node whose `reg` does not give a usable bus/device/function. */
  | 'pci-address'
  /** A property that is not a whole number of cells, or otherwise unreadable. */
  | 'malformed-property'
  /** A binding this analysis recognises but does not interpret (e.g. legacy `mmu-masters`). */
  | 'unsupported-binding';

export interface BindingWarning {
  code: WarningCode;
  /** Path of the node the problem was found in. */
  path: string;
  /** The property concerned, or null when it is about the node as a whole. */
  property: string | null;
  message: string;
}

/** Collects warnings in the order they are found, dropping exact repeats. */
export class Warnings {
  readonly list: BindingWarning[] = [];
  private readonly seen = new Set<string>();

  add(code: WarningCode, node: DtNode, property: string | null, message: string): void {
    const w: BindingWarning = { code, path: node.path, property, message };
    const key = `${code}\u0000${w.path}\u0000${property ?? ''}\u0000${message}`;
    if (this.seen.has(key)) return;
    this.seen.add(key);
    this.list.push(w);
  }
}
