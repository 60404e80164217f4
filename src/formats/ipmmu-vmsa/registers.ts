// Renesas IPMMU-VMSA registers as the Linux (drivers/iommu/ipmmu-vmsa.c) and Xen
// (xen/drivers/passthrough/arm/ipmmu-vmsa.c) drivers program them; Renesas publishes no
// architecture document, so these two drivers (and the Renesas BSP they come from) are the
// datasheet. An IPMMU has context banks (a set of translation registers each: control, table
// base, translation control, attributes, fault status and address), micro-TLBs (one per bus
// master port: which context the master's transactions use) and a few control registers.
//
// Where the registers sit depends on the SoC generation, as the drivers' `ipmmu_features` say:
// R-Car Gen3 puts context n at n * 0x40 (contexts 8..15 at 0x800 + (n - 8) * 0x40), micro-TLBs
// 0..31 at 0x300 + n * 16 and 32..63 at 0x600 + (n - 32) * 16, the control registers at 0x500;
// R-Car Gen4 moves contexts to 0x10000 with a 0x1040 stride, micro-TLBs to 0x3000 and the
// control registers to 0x1500.

import { bits, type Layout } from '../bitfield.js';

/** Offsets of a context bank's registers from the bank's base. */
export const ContextReg = {
  IMCTR: 0x00,
  IMCAAR: 0x04,
  IMTTBCR: 0x08,
  IMBUSCR: 0x0c,
  IMTTLBR0: 0x10,
  IMTTUBR0: 0x14,
  IMTTLBR1: 0x18,
  IMTTUBR1: 0x1c,
  IMSTR: 0x20,
  IMMAIR0: 0x28,
  IMMAIR1: 0x2c,
  /** Error address, low 32 bits (IMEAR on Gen2). */
  IMELAR: 0x30,
  /** Error address, upper bits (Gen3). */
  IMEUAR: 0x34,
} as const;

/** Bytes a context bank's registers span. */
export const CONTEXT_BANK_SIZE = 0x40;

/** IMCTR, the context control register. */
export const Imctr = {
  /** Translation enabled for the context. */
  MMUEN: 1 << 0,
  /** Write 1: invalidate the context's TLB entries; reads 1 until the flush completes. */
  FLUSH: 1 << 1,
  /** Fault interrupt enable. */
  INTEN: 1 << 2,
  TREN: 1 << 3,
  RTSEL_SHIFT: 4,
  RTSEL_MASK: 3 << 4,
  /** Access-flag software management enable. */
  AFE: 1 << 16,
  /** TEX remap enable. */
  TRE: 1 << 17,
  /** VMSAv8-64 mode; implemented by the IPMMU-MM (root) only. */
  VA64: 1 << 29,
  /** The fields every IPMMU (cache or root) implements. */
  COMMON_MASK: 0x7,
} as const;

/** IMTTBCR, the translation table base control register (R-Car Gen3 layout). */
export const Imttbcr = {
  /** Input size: stage-2 format T0SZ (64 - IPA bits); stage-1 format 32 - VA bits. */
  TSZ0_SHIFT: 0,
  TSZ0_MASK: 0x1f,
  /** Start level, two bits (Gen3): stage-2 format as VTCR_EL2.SL0 (0 level 2, 1 level 1, 2 level 0); stage-1 format level 3 - SL0. */
  SL0_SHIFT: 6,
  SL0_MASK: 3 << 6,
  IRGN0_SHIFT: 8,
  IRGN0_MASK: 3 << 8,
  ORGN0_SHIFT: 10,
  ORGN0_MASK: 3 << 10,
  SH0_SHIFT: 12,
  SH0_MASK: 3 << 12,
  TSZ1_SHIFT: 16,
  TSZ1_MASK: 7 << 16,
  PMB: 1 << 30,
  /** Long-descriptor (LPAE) format; the short-descriptor format is not modelled. */
  EAE: 1 << 31,
} as const;

/** IMTTBCR.SL0 values the drivers write. */
export const ImttbcrSl0 = {
  /** Stage-2 format (Xen): start at level 1, as VTCR_EL2.SL0 = 1 with the 4 KiB granule. */
  Stage2Level1: 1,
  Stage2Level2: 0,
  /** Stage-1 format (Linux, Gen3 "two-bit" SL0): start at level 1. */
  Stage1Level1: 2,
  Stage1Level2: 1,
  Stage1Level3: 0,
} as const;

/** IMTTLBR0 holds table address bits [31:12], IMTTUBR0 bits [39:32]. */
export const IMTTLBR0_MASK = 0xffff_f000;
export const IMTTUBR0_MASK = 0xff;

/** IMSTR, the context's fault status register. */
export const Imstr = {
  /** Translation fault. */
  TF: 1 << 0,
  /** Permission fault. */
  PF: 1 << 1,
  /** Page table walk abort (an error reading a descriptor). */
  ABORT: 1 << 2,
  /** Multiple TLB hits. */
  MHIT: 1 << 4,
  ERRCODE_SHIFT: 8,
  ERRCODE_MASK: 7 << 8,
  ERRLVL_SHIFT: 12,
  ERRLVL_MASK: 3 << 12,
  /** The bits the drivers treat as errors (their err_mask). */
  ERRORS: (1 << 0) | (1 << 1) | (1 << 2) | (1 << 4),
} as const;

/** IMSTR.ERRCODE values the Renesas BSP names. */
export const ImstrErrorCode = {
  None: 0,
  TlbFormat: 1,
  AccessPermission: 4,
  SecureAccess: 5,
} as const;

/** IMUCTR(n), a micro-TLB's control register. */
export const Imuctr = {
  /** Translation enabled for the masters on this micro-TLB. */
  MMUEN: 1 << 0,
  /** Write 1: flush the micro-TLB. */
  FLUSH: 1 << 1,
  /** The context the micro-TLB uses (4 bits on Gen3, 5 on Gen4). */
  TTSEL_SHIFT: 4,
  FIXADD_SHIFT: 16,
  FIXADD_MASK: 0xff << 16,
  FIXADDEN: 1 << 31,
} as const;

/** IMUASID(n): the micro-TLB's address-space ids. */
export const Imuasid = {
  ASID0_MASK: 0xff,
  ASID8_SHIFT: 8,
  ASID8_MASK: 0xff << 8,
} as const;

/** Control registers, from the layout's control base. */
export const ControlReg = {
  IMSCTLR: 0x500,
  IMSAUXCTLR: 0x504,
} as const;

export const Imsctlr = {
  /** Security groups in use (Xen clears it). */
  USE_SECGRP: 1 << 28,
} as const;

export const Imsauxctlr = {
  /** Translation tables are in the stage-2 format (Xen sets it on the root to share the P2M). */
  S2PTE: 1 << 3,
} as const;

// ---- layouts for tools and tests ------------------------------------------------------------

export const ImctrLayout = {
  MMUEN: bits(0),
  FLUSH: bits(1),
  INTEN: bits(2),
  TREN: bits(3),
  RTSEL: bits(4, 2),
  AFE: bits(16),
  TRE: bits(17),
  VA64: bits(29),
} as const satisfies Layout;

export const ImttbcrLayout = {
  TSZ0: bits(0, 5),
  SL0: bits(6, 2),
  IRGN0: bits(8, 2),
  ORGN0: bits(10, 2),
  SH0: bits(12, 2),
  TSZ1: bits(16, 3),
  PMB: bits(30),
  EAE: bits(31),
} as const satisfies Layout;

export const ImstrLayout = {
  TF: bits(0),
  PF: bits(1),
  ABORT: bits(2),
  MHIT: bits(4),
  ERRCODE: bits(8, 3),
  ERRLVL: bits(12, 2),
} as const satisfies Layout;

// ---- where the registers are -------------------------------------------------------------------

/** The register layout of one SoC generation (the drivers' ipmmu_features). */
export interface IpmmuRegisterLayout {
  readonly generation: 'gen3' | 'gen4';
  /** Context banks (number_of_contexts). */
  readonly contexts: number;
  /** Micro-TLBs (num_utlbs). */
  readonly utlbs: number;
  readonly contextOffsetBase: number;
  readonly contextOffsetStride: number;
  readonly utlbOffsetBase: number;
  readonly controlOffsetBase: number;
  /** Width of IMUCTR.TTSEL. */
  readonly ttselBits: number;
}

/** R-Car Gen3 (H3, M3-W, M3-N): 8 contexts, 48 micro-TLBs. */
export const RCAR_GEN3_LAYOUT: IpmmuRegisterLayout = {
  generation: 'gen3',
  contexts: 8,
  utlbs: 48,
  contextOffsetBase: 0,
  contextOffsetStride: 0x40,
  utlbOffsetBase: 0,
  controlOffsetBase: 0,
  ttselBits: 4,
};

/** R-Car Gen4 (S4, V4H): 16 contexts, 64 micro-TLBs. */
export const RCAR_GEN4_LAYOUT: IpmmuRegisterLayout = {
  generation: 'gen4',
  contexts: 16,
  utlbs: 64,
  contextOffsetBase: 0x10000,
  contextOffsetStride: 0x1040,
  utlbOffsetBase: 0x3000,
  controlOffsetBase: 0x1000,
  ttselBits: 5,
};

/** The drivers' upper bounds (IPMMU_CTX_MAX, IPMMU_UTLB_MAX). */
export const MAX_CONTEXTS = 16;
export const MAX_UTLBS = 64;

/** Offset of context `context`'s register `reg` (ipmmu_ctx_reg: contexts 8..15 sit past a gap). */
export function contextRegisterOffset(layout: IpmmuRegisterLayout, context: number, reg: number): number {
  let base = layout.contextOffsetBase;
  if (context > 7) base += 0x800 - 8 * 0x40;
  return base + context * layout.contextOffsetStride + reg;
}

/** Offset of IMUCTR(n). */
export function imuctrOffset(layout: IpmmuRegisterLayout, utlb: number): number {
  return layout.utlbOffsetBase + (utlb < 32 ? 0x300 + utlb * 16 : 0x600 + (utlb - 32) * 16);
}

/** Offset of IMUASID(n). */
export function imuasidOffset(layout: IpmmuRegisterLayout, utlb: number): number {
  return imuctrOffset(layout, utlb) + 8;
}

/** Offset of a control register (ControlReg). */
export function controlRegisterOffset(layout: IpmmuRegisterLayout, reg: number): number {
  return layout.controlOffsetBase + reg;
}

/** IMUCTR.TTSEL's mask in place (imuctr_ttsel_mask). */
export function ttselMask(layout: IpmmuRegisterLayout): number {
  return ((1 << layout.ttselBits) - 1) << Imuctr.TTSEL_SHIFT;
}

/** The bytes the registers of a layout span, rounded up to 4 KiB (the size of the register window). */
export function registerWindowSize(layout: IpmmuRegisterLayout): number {
  let end = controlRegisterOffset(layout, ControlReg.IMSAUXCTLR) + 4;
  if (layout.contexts > 0) end = Math.max(end, contextRegisterOffset(layout, layout.contexts - 1, 0) + CONTEXT_BANK_SIZE);
  if (layout.utlbs > 0) end = Math.max(end, imuasidOffset(layout, layout.utlbs - 1) + 4);
  return Math.ceil(end / 0x1000) * 0x1000;
}

/**
 * Why a layout cannot be built (register blocks that overlap, counts beyond the drivers'
 * limits, contexts TTSEL cannot name), or null when it can.
 */
export function layoutError(layout: IpmmuRegisterLayout): string | null {
  const { contexts, utlbs } = layout;
  if (!Number.isInteger(contexts) || contexts < 1 || contexts > MAX_CONTEXTS) return `${contexts} contexts: an IPMMU has 1 to ${MAX_CONTEXTS}`;
  if (!Number.isInteger(utlbs) || utlbs < 1 || utlbs > MAX_UTLBS) return `${utlbs} micro-TLBs: an IPMMU has 1 to ${MAX_UTLBS}`;
  if (contexts > 2 ** layout.ttselBits) return `${contexts} contexts do not fit a ${layout.ttselBits}-bit IMUCTR.TTSEL`;
  const blocks: { name: string; start: number; end: number }[] = [];
  for (let c = 0; c < contexts; c++) {
    const start = contextRegisterOffset(layout, c, 0);
    blocks.push({ name: `context ${c}`, start, end: start + CONTEXT_BANK_SIZE });
  }
  for (let u = 0; u < utlbs; u++) {
    const start = imuctrOffset(layout, u);
    blocks.push({ name: `micro-TLB ${u}`, start, end: start + 16 });
  }
  const control = controlRegisterOffset(layout, ControlReg.IMSCTLR);
  blocks.push({ name: 'control registers', start: control, end: control + 8 });
  blocks.sort((a, b) => a.start - b.start);
  for (let i = 1; i < blocks.length; i++) {
    if (blocks[i].start < blocks[i - 1].end) return `the registers of ${blocks[i - 1].name} and ${blocks[i].name} overlap (offset 0x${blocks[i].start.toString(16)})`;
  }
  return null;
}

/** The names of the error bits set in an IMSTR value, for logs and reports. */
export function describeImstr(imstr: number): string[] {
  const out: string[] = [];
  if ((imstr & Imstr.TF) !== 0) out.push('translation fault');
  if ((imstr & Imstr.PF) !== 0) out.push('permission fault');
  if ((imstr & Imstr.ABORT) !== 0) out.push('page table walk abort');
  if ((imstr & Imstr.MHIT) !== 0) out.push('multiple TLB hits');
  return out;
}
