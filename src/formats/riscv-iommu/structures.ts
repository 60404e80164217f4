// In-memory data structures of the RISC-V IOMMU (specification chapter "Data Structures"):
// device directory, device context, process directory, process context, MSI page table.

import { bits, type Layout } from '../bitfield.js';

// ---- device directory ----------------------------------------------------------------

/** A non-leaf DDT entry and a non-leaf PDT entry share this layout. */
export const DirectoryEntryLayout = {
  V: bits(0),
  PPN: bits(10, 44),
} as const satisfies Layout;

/** Base-format device context: 4 doublewords; extended format (MSI_FLAT): 8. */
export const DC_BASE_SIZE = 32;
export const DC_EXTENDED_SIZE = 64;

/** Doubleword indices of the device-context fields. */
export const DcWord = { tc: 0, iohgatp: 1, ta: 2, fsc: 3, msiptp: 4, msi_addr_mask: 5, msi_addr_pattern: 6, reserved: 7 } as const;

/** device_id partitioning into directory indices, per format: [DDI0 bits, DDI1 bits, DDI2 bits]. */
export const DDI_BITS_BASE = [7, 9, 8] as const;
export const DDI_BITS_EXTENDED = [6, 9, 9] as const;

export const DcTcLayout = {
  V: bits(0),
  EN_ATS: bits(1),
  EN_PRI: bits(2),
  T2GPA: bits(3),
  DTF: bits(4),
  PDTV: bits(5),
  PRPR: bits(6),
  GADE: bits(7),
  SADE: bits(8),
  DPE: bits(9),
  SBE: bits(10),
  SXL: bits(11),
  custom: bits(24, 8),
} as const satisfies Layout;

export const IohgatpLayout = {
  PPN: bits(0, 44),
  GSCID: bits(44, 16),
  MODE: bits(60, 4),
} as const satisfies Layout;

export const DcTaLayout = {
  PSCID: bits(12, 20),
  RCID: bits(40, 12),
  MCID: bits(52, 12),
} as const satisfies Layout;

/** DC.fsc holds iosatp (PDTV=0) or pdtp (PDTV=1); PC.fsc holds iosatp. Same bit layout. */
export const FscLayout = {
  PPN: bits(0, 44),
  MODE: bits(60, 4),
} as const satisfies Layout;

export const MsiptpLayout = {
  PPN: bits(0, 44),
  MODE: bits(60, 4),
} as const satisfies Layout;

export const MsiAddrMaskLayout = { mask: bits(0, 52) } as const satisfies Layout;
export const MsiAddrPatternLayout = { pattern: bits(0, 52) } as const satisfies Layout;

/** iosatp.MODE encodings (SXL=0: Sv39/48/57; SXL=1: Sv32 shares encoding 8). */
export const IosatpMode = { Bare: 0, Sv32: 8, Sv39: 8, Sv48: 9, Sv57: 10 } as const;
/** iohgatp.MODE encodings (GXL=0: Sv39x4/48x4/57x4; GXL=1: Sv32x4 shares encoding 8). */
export const IohgatpMode = { Bare: 0, Sv32x4: 8, Sv39x4: 8, Sv48x4: 9, Sv57x4: 10 } as const;
/** pdtp.MODE encodings. */
export const PdtpMode = { Bare: 0, PD8: 1, PD17: 2, PD20: 3 } as const;
/** msiptp.MODE encodings. */
export const MsiptpMode = { Off: 0, Flat: 1 } as const;

/** Process-directory levels and process_id width per pdtp.MODE. */
export const PDT_LEVELS: Readonly<Record<number, number>> = { 1: 1, 2: 2, 3: 3 };
export const PDT_PID_BITS: Readonly<Record<number, number>> = { 1: 8, 2: 17, 3: 20 };
/** process_id partitioning: PDI[0] 8 bits, PDI[1] 9 bits, PDI[2] 3 bits. */
export const PDI_BITS = [8, 9, 3] as const;

// ---- process context -----------------------------------------------------------------

export const PC_SIZE = 16;

export const PcTaLayout = {
  V: bits(0),
  ENS: bits(1),
  SUM: bits(2),
  PSCID: bits(12, 20),
} as const satisfies Layout;

// ---- MSI page table (Advanced Interrupt Architecture, "MSI page tables") --------------

export const MSI_PTE_SIZE = 16;

export const MsiPteCommonLayout = {
  V: bits(0),
  M: bits(1, 2),
  C: bits(63),
} as const satisfies Layout;

/** First doubleword of an MSI PTE in basic-translate mode (M=3). */
export const MsiPteFlatLayout = {
  V: bits(0),
  M: bits(1, 2),
  PPN: bits(10, 44),
  C: bits(63),
} as const satisfies Layout;

/** First doubleword of an MSI PTE in MRIF mode (M=1). */
export const MsiPteMrifLayout = {
  V: bits(0),
  M: bits(1, 2),
  MRIF_ADDR: bits(7, 47), // physical address bits 55:9 of the destination MRIF
  C: bits(63),
} as const satisfies Layout;

/** Second doubleword of an MSI PTE in MRIF mode: the notice MSI. */
export const MsiPteNoticeLayout = {
  NID_LOW: bits(0, 10),
  NPPN: bits(10, 44),
  NID_HIGH: bits(60),
} as const satisfies Layout;

export const MsiPteMode = { Mrif: 1, Flat: 3 } as const;

/** A memory-resident interrupt file: 512 bytes, pending/enable doubleword pairs per 64 ids. */
export const MRIF_SIZE = 512;

