// Register offsets and fields of the GIC models (IHI 0048B chapter 4 for GICv2, IHI 0069
// chapter 12 for GICv3), as the hardware decodes them. The kernel's drivers keep their own
// copy, so that a mistake on one side shows up against the other.

import { systemRegister } from '../../sim/hart.js';

/** Special INTIDs: none pending, or the pending interrupt is of the other group. */
export const SPURIOUS_INTID = 1023;
export const OTHER_GROUP_INTID = 1022;
/** INTIDs 1020-1023 are special: never an interrupt, ignored by EOI. */
export const FIRST_SPECIAL_INTID = 1020;

/** Distributor (GICD), both versions. */
export const GICD = {
  CTLR: 0x000,
  TYPER: 0x004,
  IIDR: 0x008,
  TYPER2: 0x00c,
  STATUSR: 0x010,
  IGROUPR: 0x080,
  ISENABLER: 0x100,
  ICENABLER: 0x180,
  ISPENDR: 0x200,
  ICPENDR: 0x280,
  ISACTIVER: 0x300,
  ICACTIVER: 0x380,
  IPRIORITYR: 0x400,
  ITARGETSR: 0x800,
  ICFGR: 0xc00,
  IGRPMODR: 0xd00,
  NSACR: 0xe00,
  /** The end of the per-interrupt registers. */
  PER_INTERRUPT_END: 0xf00,
  SGIR: 0xf00,
  CPENDSGIR: 0xf10,
  SPENDSGIR: 0xf20,
  /** GICv2's peripheral id 2 (ArchRev in bits 7:4). */
  V2_PIDR2: 0xfe8,
  /** GICv3: IROUTER<n> at IROUTER + 8n, n = 32..1019. */
  IROUTER: 0x6000,
  V3_PIDR2: 0xffe8,
} as const;

export const GICD_CTLR = {
  ENABLE_GRP0: 1 << 0,
  ENABLE_GRP1: 1 << 1,
  /** GICv3: affinity routing enable, RAO/WI in the model (no legacy operation). */
  ARE: 1 << 4,
  /** GICv3: Disable Security, RAO/WI in the model (a single Security state). */
  DS: 1 << 6,
} as const;

export const GICD_TYPER = {
  IT_LINES_MASK: 0x1f,
  CPU_NUMBER_SHIFT: 5,
  /** GICv3: INTID bits minus one. */
  ID_BITS_SHIFT: 19,
} as const;

export const GICD_SGIR = {
  INTID_MASK: 0xf,
  TARGET_LIST_SHIFT: 16,
  FILTER_SHIFT: 24,
} as const;

export const GICD_IROUTER = {
  /** Interrupt_Routing_Mode: 1 routes to any one participating PE. */
  IRM: 0x8000_0000,
} as const;

/** GICv2 CPU interface (GICC). */
export const GICC = {
  CTLR: 0x00,
  PMR: 0x04,
  BPR: 0x08,
  IAR: 0x0c,
  EOIR: 0x10,
  RPR: 0x14,
  HPPIR: 0x18,
  ABPR: 0x1c,
  AIAR: 0x20,
  AEOIR: 0x24,
  AHPPIR: 0x28,
  APR: 0xd0,
  NSAPR: 0xe0,
  IIDR: 0xfc,
  DIR: 0x1000,
} as const;

/** GICC_CTLR without the Security Extensions (the layout of the Secure copy). */
export const GICC_CTLR = {
  ENABLE_GRP0: 1 << 0,
  ENABLE_GRP1: 1 << 1,
  ACK_CTL: 1 << 2,
  FIQ_EN: 1 << 3,
  CBPR: 1 << 4,
  /** Bypass-disable bits 8:5: stored, without effect (the model has no bypass signals). */
  BYPASS_DISABLE: 0xf << 5,
  /** EOI mode of Group 0 (GICC_EOIR) and of Group 1 (GICC_AEOIR). */
  EOI_MODE_S: 1 << 9,
  EOI_MODE_NS: 1 << 10,
} as const;

/** The GICv2 CPU interface's register window: GICC_DIR is in its second 4 KiB page. */
export const GICC_REGION_SIZE = 0x2000;

/** GICv3 Redistributor: an RD_base frame and an SGI_base frame of 64 KiB each. */
export const GICR = {
  FRAME_SIZE: 0x10000,
  STRIDE: 0x20000,
  CTLR: 0x0000,
  IIDR: 0x0004,
  TYPER: 0x0008,
  STATUSR: 0x0010,
  WAKER: 0x0014,
  PIDR2: 0xffe8,
} as const;

export const GICR_TYPER = {
  LAST: 1 << 4,
  PROCESSOR_NUMBER_SHIFT: 8,
} as const;

export const GICR_WAKER = {
  PROCESSOR_SLEEP: 1 << 1,
  CHILDREN_ASLEEP: 1 << 2,
} as const;

/** GICv3 CPU interface system registers. */
export const ICC = {
  PMR_EL1: systemRegister(3, 0, 4, 6, 0),
  IAR0_EL1: systemRegister(3, 0, 12, 8, 0),
  EOIR0_EL1: systemRegister(3, 0, 12, 8, 1),
  HPPIR0_EL1: systemRegister(3, 0, 12, 8, 2),
  BPR0_EL1: systemRegister(3, 0, 12, 8, 3),
  /** ICC_AP0R<n>_EL1 = AP0R0_EL1 + n, n = 0..3. */
  AP0R0_EL1: systemRegister(3, 0, 12, 8, 4),
  /** ICC_AP1R<n>_EL1 = AP1R0_EL1 + n, n = 0..3. */
  AP1R0_EL1: systemRegister(3, 0, 12, 9, 0),
  DIR_EL1: systemRegister(3, 0, 12, 11, 1),
  RPR_EL1: systemRegister(3, 0, 12, 11, 3),
  SGI1R_EL1: systemRegister(3, 0, 12, 11, 5),
  ASGI1R_EL1: systemRegister(3, 0, 12, 11, 6),
  SGI0R_EL1: systemRegister(3, 0, 12, 11, 7),
  IAR1_EL1: systemRegister(3, 0, 12, 12, 0),
  EOIR1_EL1: systemRegister(3, 0, 12, 12, 1),
  HPPIR1_EL1: systemRegister(3, 0, 12, 12, 2),
  BPR1_EL1: systemRegister(3, 0, 12, 12, 3),
  CTLR_EL1: systemRegister(3, 0, 12, 12, 4),
  SRE_EL1: systemRegister(3, 0, 12, 12, 5),
  IGRPEN0_EL1: systemRegister(3, 0, 12, 12, 6),
  IGRPEN1_EL1: systemRegister(3, 0, 12, 12, 7),
} as const;

export const ICC_CTLR = {
  CBPR: 1 << 0,
  EOI_MODE: 1 << 1,
  PRI_BITS_SHIFT: 8,
} as const;

/** ICC_SRE_EL1: SRE, DFB and DIB, all RAO/WI in the model. */
export const ICC_SRE_VALUE = 0b111;

export const ICC_SGIR = {
  TARGET_LIST_MASK: 0xffff,
  AFF1_SHIFT: 16,
  INTID_SHIFT: 24,
  AFF2_SHIFT: 32,
  IRM_SHIFT: 40,
  RS_SHIFT: 44,
  AFF3_SHIFT: 48,
} as const;

/** Peripheral ID2: ArchRev in bits 7:4, the JEDEC flag, and bits 6:4 of the implementer's JEP106 identity code. */
export function peripheralId2(archRev: number, implementer: number): number {
  return (archRev << 4) | 0x8 | ((implementer >>> 4) & 7);
}
