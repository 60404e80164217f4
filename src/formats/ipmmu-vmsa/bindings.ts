// The device-tree binding of the IPMMU-VMSA (Linux Documentation/devicetree/bindings/iommu/
// renesas,ipmmu-vmsa.yaml): a compatible string per SoC, `#iommu-cells = <1>` (the cell is the
// master's micro-TLB number), and on every cache IPMMU `renesas,ipmmu-main = <&root n>`, the
// IPMMU-MM it reports to and its interrupt bit number there. A node without
// `renesas,ipmmu-main` is a root (IPMMU-MM), which holds the interrupt.

import { RCAR_GEN3_LAYOUT, RCAR_GEN4_LAYOUT, type IpmmuRegisterLayout } from './registers.js';

export const IPMMU_MAIN_PROPERTY = 'renesas,ipmmu-main';

/** The compatible strings the Xen driver matches, with the register layout of each SoC. */
export const IPMMU_COMPATIBLES: Readonly<Record<string, IpmmuRegisterLayout>> = {
  'renesas,ipmmu-r8a7795': RCAR_GEN3_LAYOUT, // H3
  'renesas,ipmmu-r8a7796': RCAR_GEN3_LAYOUT, // M3-W
  'renesas,ipmmu-r8a77961': RCAR_GEN3_LAYOUT, // M3-W+
  'renesas,ipmmu-r8a77965': RCAR_GEN3_LAYOUT, // M3-N
  'renesas,ipmmu-r8a779f0': RCAR_GEN4_LAYOUT, // S4
  'renesas,ipmmu-r8a779g0': RCAR_GEN4_LAYOUT, // V4H
};

/** The register layout a node's compatible list selects (the first one known), or null. */
export function ipmmuLayoutFor(compatible: readonly string[]): IpmmuRegisterLayout | null {
  for (const c of compatible) {
    const layout = IPMMU_COMPATIBLES[c];
    if (layout !== undefined) return layout;
  }
  return null;
}
