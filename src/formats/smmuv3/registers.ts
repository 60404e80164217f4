// Arm SMMUv3 memory-mapped registers (IHI 0070, chapter 6 "Memory map and registers"):
// offsets in the two 64 KiB register pages, and the field layouts of every register the
// Non-secure programming interface has. Secure (SMMU_S_*), Realm, ECMDQ, DPT, MPAM and
// ATOS registers are not described: the model implements none of them.

import { bits, type Layout } from '../bitfield.js';

/** Each register page is 64 KiB; Page 1 follows Page 0 (6.2). */
export const PAGE_SIZE = 0x10000;
/** The register frame of the Non-secure interface: Page 0 and Page 1. */
export const REGISTER_FRAME_SIZE = 2 * PAGE_SIZE;

/** Register offsets from the base of Page 0 (6.2.1) and, for the queue indexes, Page 1 (6.2.2). */
export const Reg = {
  IDR0: 0x0000,
  IDR1: 0x0004,
  IDR2: 0x0008,
  IDR3: 0x000c,
  IDR4: 0x0010,
  IDR5: 0x0014,
  IIDR: 0x0018,
  AIDR: 0x001c,
  CR0: 0x0020,
  CR0ACK: 0x0024,
  CR1: 0x0028,
  CR2: 0x002c,
  STATUSR: 0x0040,
  GBPA: 0x0044,
  AGBPA: 0x0048,
  IRQ_CTRL: 0x0050,
  IRQ_CTRLACK: 0x0054,
  GERROR: 0x0060,
  GERRORN: 0x0064,
  GERROR_IRQ_CFG0: 0x0068,
  GERROR_IRQ_CFG1: 0x0070,
  GERROR_IRQ_CFG2: 0x0074,
  STRTAB_BASE: 0x0080,
  STRTAB_BASE_CFG: 0x0088,
  CMDQ_BASE: 0x0090,
  CMDQ_PROD: 0x0098,
  CMDQ_CONS: 0x009c,
  EVENTQ_BASE: 0x00a0,
  /** Optional Page 0 alias of EVENTQ_PROD (otherwise RAZ/WI). */
  EVENTQ_PROD_PAGE0: 0x00a8,
  /** Optional Page 0 alias of EVENTQ_CONS (otherwise RAZ/WI). */
  EVENTQ_CONS_PAGE0: 0x00ac,
  EVENTQ_IRQ_CFG0: 0x00b0,
  EVENTQ_IRQ_CFG1: 0x00b8,
  EVENTQ_IRQ_CFG2: 0x00bc,
  PRIQ_BASE: 0x00c0,
  /** Optional Page 0 alias of PRIQ_PROD (otherwise RAZ/WI). */
  PRIQ_PROD_PAGE0: 0x00c8,
  /** Optional Page 0 alias of PRIQ_CONS (otherwise RAZ/WI). */
  PRIQ_CONS_PAGE0: 0x00cc,
  PRIQ_IRQ_CFG0: 0x00d0,
  PRIQ_IRQ_CFG1: 0x00d8,
  PRIQ_IRQ_CFG2: 0x00dc,
  /** Identification registers (CoreSight-style PIDR/CIDR), IMPLEMENTATION DEFINED contents. */
  PIDR4: 0x0fd0,
  PIDR5: 0x0fd4,
  PIDR6: 0x0fd8,
  PIDR7: 0x0fdc,
  PIDR0: 0x0fe0,
  PIDR1: 0x0fe4,
  PIDR2: 0x0fe8,
  PIDR3: 0x0fec,
  CIDR0: 0x0ff0,
  CIDR1: 0x0ff4,
  CIDR2: 0x0ff8,
  CIDR3: 0x0ffc,
  /** Page 1 (offset 0x10000 + 0xa8). */
  EVENTQ_PROD: 0x100a8,
  EVENTQ_CONS: 0x100ac,
  PRIQ_PROD: 0x100c8,
  PRIQ_CONS: 0x100cc,
} as const;
export type RegName = keyof typeof Reg;

/** One named register, its offset in the frame and its width in bytes, for tools that print the register file. */
export interface RegisterInfo {
  readonly name: string;
  readonly offset: number;
  readonly size: 4 | 8;
  /** Whether software may write it (RW); RO registers ignore writes. */
  readonly writable: boolean;
}

/** Every architected register of the Non-secure interface the model implements, in offset order. */
export const REGISTERS: readonly RegisterInfo[] = [
  { name: 'IDR0', offset: Reg.IDR0, size: 4, writable: false },
  { name: 'IDR1', offset: Reg.IDR1, size: 4, writable: false },
  { name: 'IDR2', offset: Reg.IDR2, size: 4, writable: false },
  { name: 'IDR3', offset: Reg.IDR3, size: 4, writable: false },
  { name: 'IDR4', offset: Reg.IDR4, size: 4, writable: false },
  { name: 'IDR5', offset: Reg.IDR5, size: 4, writable: false },
  { name: 'IIDR', offset: Reg.IIDR, size: 4, writable: false },
  { name: 'AIDR', offset: Reg.AIDR, size: 4, writable: false },
  { name: 'CR0', offset: Reg.CR0, size: 4, writable: true },
  { name: 'CR0ACK', offset: Reg.CR0ACK, size: 4, writable: false },
  { name: 'CR1', offset: Reg.CR1, size: 4, writable: true },
  { name: 'CR2', offset: Reg.CR2, size: 4, writable: true },
  { name: 'STATUSR', offset: Reg.STATUSR, size: 4, writable: false },
  { name: 'GBPA', offset: Reg.GBPA, size: 4, writable: true },
  { name: 'AGBPA', offset: Reg.AGBPA, size: 4, writable: true },
  { name: 'IRQ_CTRL', offset: Reg.IRQ_CTRL, size: 4, writable: true },
  { name: 'IRQ_CTRLACK', offset: Reg.IRQ_CTRLACK, size: 4, writable: false },
  { name: 'GERROR', offset: Reg.GERROR, size: 4, writable: false },
  { name: 'GERRORN', offset: Reg.GERRORN, size: 4, writable: true },
  { name: 'GERROR_IRQ_CFG0', offset: Reg.GERROR_IRQ_CFG0, size: 8, writable: true },
  { name: 'GERROR_IRQ_CFG1', offset: Reg.GERROR_IRQ_CFG1, size: 4, writable: true },
  { name: 'GERROR_IRQ_CFG2', offset: Reg.GERROR_IRQ_CFG2, size: 4, writable: true },
  { name: 'STRTAB_BASE', offset: Reg.STRTAB_BASE, size: 8, writable: true },
  { name: 'STRTAB_BASE_CFG', offset: Reg.STRTAB_BASE_CFG, size: 4, writable: true },
  { name: 'CMDQ_BASE', offset: Reg.CMDQ_BASE, size: 8, writable: true },
  { name: 'CMDQ_PROD', offset: Reg.CMDQ_PROD, size: 4, writable: true },
  { name: 'CMDQ_CONS', offset: Reg.CMDQ_CONS, size: 4, writable: true },
  { name: 'EVENTQ_BASE', offset: Reg.EVENTQ_BASE, size: 8, writable: true },
  { name: 'EVENTQ_IRQ_CFG0', offset: Reg.EVENTQ_IRQ_CFG0, size: 8, writable: true },
  { name: 'EVENTQ_IRQ_CFG1', offset: Reg.EVENTQ_IRQ_CFG1, size: 4, writable: true },
  { name: 'EVENTQ_IRQ_CFG2', offset: Reg.EVENTQ_IRQ_CFG2, size: 4, writable: true },
  { name: 'PRIQ_BASE', offset: Reg.PRIQ_BASE, size: 8, writable: true },
  { name: 'PRIQ_IRQ_CFG0', offset: Reg.PRIQ_IRQ_CFG0, size: 8, writable: true },
  { name: 'PRIQ_IRQ_CFG1', offset: Reg.PRIQ_IRQ_CFG1, size: 4, writable: true },
  { name: 'PRIQ_IRQ_CFG2', offset: Reg.PRIQ_IRQ_CFG2, size: 4, writable: true },
  { name: 'EVENTQ_PROD', offset: Reg.EVENTQ_PROD, size: 4, writable: true },
  { name: 'EVENTQ_CONS', offset: Reg.EVENTQ_CONS, size: 4, writable: true },
  { name: 'PRIQ_PROD', offset: Reg.PRIQ_PROD, size: 4, writable: true },
  { name: 'PRIQ_CONS', offset: Reg.PRIQ_CONS, size: 4, writable: true },
];

// ---- identification registers (6.3.1 .. 6.3.8) -----------------------------------------

export const Idr0Layout = {
  S2P: bits(0),
  S1P: bits(1),
  TTF: bits(2, 2),
  COHACC: bits(4),
  BTM: bits(5),
  HTTU: bits(6, 2),
  DORMHINT: bits(8),
  HYP: bits(9),
  ATS: bits(10),
  NS1ATS: bits(11),
  ASID16: bits(12),
  MSI: bits(13),
  SEV: bits(14),
  ATOS: bits(15),
  PRI: bits(16),
  VMW: bits(17),
  VMID16: bits(18),
  CD2L: bits(19),
  VATOS: bits(20),
  TTENDIAN: bits(21, 2),
  ATSRECERR: bits(23),
  STALL_MODEL: bits(24, 2),
  TERM_MODEL: bits(26),
  ST_LEVEL: bits(27, 2),
  RME_IMPL: bits(30),
} as const satisfies Layout;

/** IDR0.TTF: translation table formats supported. */
export const Ttf = { AArch32: 1, AArch64: 2, Both: 3 } as const;
/** IDR0.HTTU: hardware translation table update. */
export const Httu = { None: 0, AccessFlag: 1, AccessFlagDirty: 2 } as const;
/** IDR0.TTENDIAN: translation table (and CD/STE-walked table) endianness. */
export const TtEndian = { Mixed: 0, Little: 2, Big: 3 } as const;
/** IDR0.STALL_MODEL. */
export const StallModel = { StallAndTerminate: 0, TerminateOnly: 1, StallForced: 2 } as const;
/** IDR0.ST_LEVEL. */
export const StLevel = { Linear: 0, TwoLevel: 1 } as const;

export const Idr1Layout = {
  SIDSIZE: bits(0, 6),
  SSIDSIZE: bits(6, 5),
  PRIQS: bits(11, 5),
  EVENTQS: bits(16, 5),
  CMDQS: bits(21, 5),
  ATTR_PERMS_OVR: bits(26),
  ATTR_TYPES_OVR: bits(27),
  REL: bits(28),
  QUEUES_PRESET: bits(29),
  TABLES_PRESET: bits(30),
  ECMDQ: bits(31),
} as const satisfies Layout;

/** The architectural maximum of IDR1.CMDQS, EVENTQS and PRIQS (queue indexes are 19 bits plus wrap). */
export const MAX_QUEUE_LOG2SIZE = 19;

export const Idr2Layout = {
  BA_VATOS: bits(0, 10),
} as const satisfies Layout;

export const Idr3Layout = {
  HAD: bits(2),
  PBHA: bits(3),
  XNX: bits(4),
  PPS: bits(5),
  MPAM: bits(7),
  FWB: bits(8),
  STT: bits(9),
  RIL: bits(10),
  BBML: bits(11, 2),
  E0PD: bits(13),
  PTWNNC: bits(14),
  DPT: bits(15),
  PASIDTT: bits(16),
  EPAN: bits(17),
} as const satisfies Layout;

export const Idr5Layout = {
  OAS: bits(0, 3),
  GRAN4K: bits(4),
  GRAN16K: bits(5),
  GRAN64K: bits(6),
  DS: bits(7),
  D128: bits(8),
  VAX: bits(10, 2),
  STALL_MAX: bits(16, 16),
} as const satisfies Layout;

/** IDR5.OAS (and CD.IPS, STE.S2PS) encodings to address sizes in bits. */
export const OAS_BITS: readonly number[] = [32, 36, 40, 42, 44, 48, 52, 56];

/** The OAS/IPS/PS encoding of an address size in bits, or -1 when it has none. */
export function oasEncoding(sizeBits: number): number {
  return OAS_BITS.indexOf(sizeBits);
}

/** IDR5.VAX: virtual address size of CD.TTBx walks. */
export const Vax = { Va48: 0, Va52: 1, Va56: 2 } as const;

export const IidrLayout = {
  Implementer: bits(0, 12),
  Revision: bits(12, 4),
  Variant: bits(16, 4),
  ProductID: bits(20, 12),
} as const satisfies Layout;

export const AidrLayout = {
  ArchMinorRev: bits(0, 4),
  ArchMajorRev: bits(4, 4),
} as const satisfies Layout;

// ---- control registers (6.3.9 .. 6.3.18) ------------------------------------------------

/** CR0 and CR0ACK share this layout. */
export const Cr0Layout = {
  SMMUEN: bits(0),
  PRIQEN: bits(1),
  EVENTQEN: bits(2),
  CMDQEN: bits(3),
  ATSCHK: bits(4),
  VMW: bits(6, 3),
} as const satisfies Layout;

/** CR1 cacheability encodings (QUEUE_IC/OC, TABLE_IC/OC). */
export const Cr1Cache = { NonCacheable: 0, WriteBack: 1, WriteThrough: 2 } as const;
/** Shareability encodings (CR1.*_SH, IRQ_CFG2.SH, GBPA.SHCFG uses its own, see ShCfg). */
export const Shareability = { NonShareable: 0, OuterShareable: 2, InnerShareable: 3 } as const;

export const Cr1Layout = {
  QUEUE_IC: bits(0, 2),
  QUEUE_OC: bits(2, 2),
  QUEUE_SH: bits(4, 2),
  TABLE_IC: bits(6, 2),
  TABLE_OC: bits(8, 2),
  TABLE_SH: bits(10, 2),
} as const satisfies Layout;

export const Cr2Layout = {
  E2H: bits(0),
  RECINVSID: bits(1),
  PTM: bits(2),
  REC_CFG_ATS: bits(3),
} as const satisfies Layout;

export const StatusrLayout = {
  DORMANT: bits(0),
} as const satisfies Layout;

/** GBPA: global bypass attributes used while CR0.SMMUEN == 0 (6.3.14). */
export const GbpaLayout = {
  MemAttr: bits(0, 4),
  MTCFG: bits(4),
  ALLOCCFG: bits(8, 4),
  SHCFG: bits(12, 2),
  PRIVCFG: bits(16, 2),
  INSTCFG: bits(18, 2),
  ABORT: bits(20),
  Update: bits(31),
} as const satisfies Layout;

// GBPA.SHCFG, PRIVCFG and INSTCFG are encoded as the STE's: see ShCfg, PrivCfg, InstCfg in structures.ts.

/** IRQ_CTRL and IRQ_CTRLACK share this layout. */
export const IrqCtrlLayout = {
  GERROR_IRQEN: bits(0),
  PRIQ_IRQEN: bits(1),
  EVENTQ_IRQEN: bits(2),
} as const satisfies Layout;

/** GERROR and GERRORN share this layout: an error is active while the two bits differ (6.3.19, 7.5). */
export const GerrorLayout = {
  CMDQ_ERR: bits(0),
  EVENTQ_ABT_ERR: bits(2),
  PRIQ_ABT_ERR: bits(3),
  MSI_CMDQ_ABT_ERR: bits(4),
  MSI_EVENTQ_ABT_ERR: bits(5),
  MSI_PRIQ_ABT_ERR: bits(6),
  MSI_GERROR_ABT_ERR: bits(7),
  SFM_ERR: bits(8),
  CMDQP_ERR: bits(9),
  DPT_ERR: bits(10),
} as const satisfies Layout;

/** GERROR bits as masks, for the model's register file. */
export const Gerror = {
  CMDQ_ERR: 1 << 0,
  EVENTQ_ABT_ERR: 1 << 2,
  PRIQ_ABT_ERR: 1 << 3,
  MSI_CMDQ_ABT_ERR: 1 << 4,
  MSI_EVENTQ_ABT_ERR: 1 << 5,
  MSI_PRIQ_ABT_ERR: 1 << 6,
  MSI_GERROR_ABT_ERR: 1 << 7,
  SFM_ERR: 1 << 8,
} as const;

/** *_IRQ_CFG0: the MSI target address, bits [55:2]. */
export const IrqCfg0Layout = {
  ADDR: bits(2, 54),
} as const satisfies Layout;

/** *_IRQ_CFG1: the MSI payload. */
export const IrqCfg1Layout = {
  DATA: bits(0, 32),
} as const satisfies Layout;

/** *_IRQ_CFG2: MSI write attributes; PRIQ_IRQ_CFG2 adds LO (interrupt only on Last == 1). */
export const IrqCfg2Layout = {
  MemAttr: bits(0, 4),
  SH: bits(4, 2),
  LO: bits(31),
} as const satisfies Layout;

// ---- Stream table and queue registers (6.3.24 .. 6.3.36, 6.3.95 .. 6.3.98) --------------

export const StrtabBaseLayout = {
  ADDR: bits(6, 50),
  RA: bits(62),
} as const satisfies Layout;

export const StrtabBaseCfgLayout = {
  LOG2SIZE: bits(0, 6),
  SPLIT: bits(6, 5),
  FMT: bits(16, 2),
} as const satisfies Layout;

/** STRTAB_BASE_CFG.FMT: other values are reserved and behave as Linear. */
export const StrtabFmt = { Linear: 0, TwoLevel: 1 } as const;
/** The SPLIT values with a meaning; others are reserved and behave as 6. */
export const STRTAB_SPLITS: readonly number[] = [6, 8, 10];

/** CMDQ_BASE, EVENTQ_BASE and PRIQ_BASE: RA (CMDQ) or WA (EVENTQ, PRIQ) at bit 62. */
export const QueueBaseLayout = {
  LOG2SIZE: bits(0, 5),
  ADDR: bits(5, 51),
  RA_WA: bits(62),
} as const satisfies Layout;

/** CMDQ_PROD: WR[QS-1:0] and WR_WRAP at bit QS within the 20-bit field (QS = LOG2SIZE). */
export const CmdqProdLayout = {
  WR: bits(0, 20),
} as const satisfies Layout;

export const CmdqConsLayout = {
  RD: bits(0, 20),
  ERR: bits(24, 7),
} as const satisfies Layout;

/** EVENTQ_PROD and PRIQ_PROD: OVFLG toggles when the queue overflows (7.4, 8.1). */
export const OutQueueProdLayout = {
  WR: bits(0, 20),
  OVFLG: bits(31),
} as const satisfies Layout;

/** EVENTQ_CONS and PRIQ_CONS: software copies OVFLG into OVACKFLG to acknowledge an overflow. */
export const OutQueueConsLayout = {
  RD: bits(0, 20),
  OVACKFLG: bits(31),
} as const satisfies Layout;

/** CMDQ_CONS.ERR codes (7.1). */
export const CmdqError = {
  None: 0,
  /** Reserved opcode, invalid parameters, or a malformed command. */
  Ill: 1,
  /** External abort reading the command. */
  Abort: 2,
  /** A CMD_SYNC could not complete because an earlier CMD_ATC_INV got no valid completion. */
  AtcInvSync: 3,
} as const;
export type CmdqErrorValue = (typeof CmdqError)[keyof typeof CmdqError];
export const CMDQ_ERROR_NAMES: Readonly<Record<number, string>> = {
  0: 'CERROR_NONE',
  1: 'CERROR_ILL',
  2: 'CERROR_ABT',
  3: 'CERROR_ATC_INV_SYNC',
};

/** The index field of a queue of 2^log2size entries: index bits and the wrap bit above them. */
export function queueIndex(value: number, log2size: number): { index: number; wrap: number } {
  const mask = (1 << log2size) - 1;
  return { index: value & mask, wrap: (value >>> log2size) & 1 };
}

/** A PROD/CONS value from an index and wrap flag (no other fields). */
export function queuePointer(index: number, wrap: number, log2size: number): number {
  return ((wrap & 1) << log2size) | (index & ((1 << log2size) - 1));
}

/** Whether a queue with these producer and consumer indexes (wrap included) is full. */
export function queueFull(prod: number, cons: number, log2size: number): boolean {
  const mask = (2 << log2size) - 1;
  return ((prod ^ cons) & mask) === 1 << log2size;
}

/** Whether a queue with these producer and consumer indexes (wrap included) is empty. */
export function queueEmpty(prod: number, cons: number, log2size: number): boolean {
  const mask = (2 << log2size) - 1;
  return ((prod ^ cons) & mask) === 0;
}

/** Advances a queue pointer by one entry, toggling the wrap bit when it passes the end. */
export function queueIncrement(pointer: number, log2size: number): number {
  const mask = (2 << log2size) - 1;
  return (pointer + 1) & mask;
}

/** Whether a register-frame offset lies in Page 1. */
export function inPage1(offset: number): boolean {
  return offset >= PAGE_SIZE && offset < REGISTER_FRAME_SIZE;
}
