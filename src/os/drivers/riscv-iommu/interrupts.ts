// How the IOMMU's four interrupt causes (CQ, FQ, HPM, PQ) reach the kernel (specification
// "icvec", "msi_cfg_tbl" and the initialization guidelines): icvec maps each cause to a
// vector; a vector is a wire (fctl.WSI=1, one per entry of the device tree's `interrupts`)
// or an entry of the MSI configuration table (fctl.WSI=0) holding an address and data the
// kernel's interrupt file gives out. Every vector's handler handles whatever ipsr shows.

import type { DtNode } from '../../../formats/devicetree/tree.js';
import { InterruptCause, msiAddrOffset, msiDataOffset, msiVecCtlOffset, Reg } from '../../../formats/riscv-iommu/registers.js';
import { hex } from '../../../sim/u64.js';
import { IrqError } from '../../kernel/irq.js';
import type { IommuContext } from './context.js';
import { RiscvIommuError } from './errors.js';

/** Device-tree interrupt-names of the causes, indexed by InterruptCause. */
export const CAUSE_INTERRUPT_NAMES = ['cmdq', 'fltq', 'pm', 'priq'] as const;
/** More vectors than causes are never useful. */
export const MAX_VECTORS = 4;

export type InterruptMethod = { kind: 'wsi'; wires: number } | { kind: 'msi' };

export interface InterruptSetup {
  method: 'wsi' | 'msi';
  /** Vector of each cause, indexed by InterruptCause, as icvec reads back. */
  vectors: number[];
  /** MSI address and data per vector (MSI only). */
  msis: { vector: number; address: bigint; data: number }[];
}

/**
 * The cause-to-vector assignment. Wired: by `interrupt-names` when present, otherwise as
 * Linux does (CQ 0, FQ 1, PQ 2, HPM 3, modulo the count). MSI: the same default.
 */
export function planVectors(count: number, names: readonly string[] | undefined): number[] {
  const v = [0, 1 % count, 3 % count, 2 % count]; // indexed CQ, FQ, HPM, PQ
  if (names !== undefined) {
    const cq = names.indexOf('cmdq');
    const at = (cause: number): number => {
      const i = names.indexOf(CAUSE_INTERRUPT_NAMES[cause]);
      return i >= 0 && i < count ? i : cq >= 0 && cq < count ? cq : 0;
    };
    return [at(InterruptCause.CQ), at(InterruptCause.FQ), at(InterruptCause.HPM), at(InterruptCause.PQ)];
  }
  return v;
}

/** Number of vectors the IOMMU implements: the writable bits of an icvec field (guidelines). */
export function probeVectorCount(ctx: IommuContext): number {
  ctx.regs.write64(Reg.icvec, 0xffffn);
  const civ = Number(ctx.regs.read64(Reg.icvec) & 0xfn);
  ctx.regs.write64(Reg.icvec, 0n);
  return civ + 1;
}

/**
 * Programs icvec with `vectors` and returns what the IOMMU kept for the causes it has
 * (the HPM and PQ fields are read-only zero without HPM or ATS). Throws when a cause the driver
 * uses lands on a vector nothing is connected to.
 */
export function programIcvec(ctx: IommuContext, vectors: number[], count: number, used: readonly boolean[]): number[] {
  let value = 0n;
  for (let cause = 0; cause < 4; cause++) value |= BigInt(vectors[cause] & 0xf) << BigInt(4 * cause);
  ctx.regs.write64(Reg.icvec, value);
  const back = ctx.regs.read64(Reg.icvec);
  const kept = [0, 1, 2, 3].map((cause) => Number((back >> BigInt(4 * cause)) & 0xfn));
  for (let cause = 0; cause < 4; cause++) {
    if (used[cause] && kept[cause] >= count) {
      throw new RiscvIommuError(`icvec maps ${CAUSE_INTERRUPT_NAMES[cause]} to vector ${kept[cause]}, but only ${count} vector(s) are connected`);
    }
  }
  return kept;
}

/**
 * Connects wire `vector` (entry `vector` of the node's interrupts) to `handler` for each vector
 * in use. Returns false when the interrupt controller has not probed yet (defer).
 */
export function requestWires(ctx: IommuContext, node: DtNode, vectors: Iterable<number>, handler: () => void): boolean {
  for (const v of new Set(vectors)) {
    let ok: boolean;
    try {
      ok = ctx.kernel.irq.request(node, v, handler, `${ctx.name} wsi${v}`);
    } catch (e) {
      if (e instanceof IrqError) throw new RiscvIommuError(e.message);
      throw e;
    }
    if (!ok) return false;
  }
  return true;
}

/** Allocates an MSI per vector in use and programs the MSI configuration table. */
export function setUpMsis(ctx: IommuContext, vectors: Iterable<number>, handler: () => void): InterruptSetup['msis'] {
  const out: InterruptSetup['msis'] = [];
  for (const v of [...new Set(vectors)].sort((a, b) => a - b)) {
    let msi;
    try {
      msi = ctx.kernel.irq.allocMsi(handler, `${ctx.name} msi${v}`);
    } catch (e) {
      if (e instanceof IrqError) throw new RiscvIommuError(e.message);
      throw e;
    }
    if (msi === null) throw new RiscvIommuError('the platform has no MSI controller');
    ctx.regs.write64(msiAddrOffset(v), msi.address);
    const kept = ctx.regs.read64(msiAddrOffset(v));
    if (kept !== msi.address) throw new RiscvIommuError(`the IOMMU cannot send MSIs to ${hex(msi.address)} (msi_addr_${v} kept ${hex(kept)})`);
    ctx.regs.write32(msiDataOffset(v), msi.data);
    ctx.regs.write32(msiVecCtlOffset(v), 0); // unmasked
    out.push({ vector: v, address: msi.address, data: msi.data });
  }
  return out;
}
