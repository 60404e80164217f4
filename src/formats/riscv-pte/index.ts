// RISC-V page-table entries and paging modes (Privileged Architecture, "Supervisor-Level
// ISA": Sv32, Sv39, Sv48, Sv57 and the hypervisor's x4 second-stage variants; Svnapot,
// Svpbmt, Svrsw60t59b). Shared by the IOMMU walker (hardware) and page-table builders
// (software), which stay separate code.

import { bits, type Layout } from '../bitfield.js';

/** PTE bits common to all modes (bit positions within the low 32 bits). */
export const PteBit = {
  V: 1 << 0,
  R: 1 << 1,
  W: 1 << 2,
  X: 1 << 3,
  U: 1 << 4,
  G: 1 << 5,
  A: 1 << 6,
  D: 1 << 7,
} as const;

/** 64-bit PTE (Sv39/48/57 and x4 variants). */
export const Pte64Layout = {
  V: bits(0),
  R: bits(1),
  W: bits(2),
  X: bits(3),
  U: bits(4),
  G: bits(5),
  A: bits(6),
  D: bits(7),
  RSW: bits(8, 2),
  PPN: bits(10, 44),
  RSW60t59: bits(59, 2), // Svrsw60t59b
  PBMT: bits(61, 2),
  N: bits(63),
} as const satisfies Layout;

/** Bits 58:54 of a 64-bit PTE are reserved for future standard use. */
export const PTE64_RESERVED_HI = 0x1f << (54 - 32);

/** 32-bit PTE (Sv32, Sv32x4). */
export const Pte32Layout = {
  V: bits(0),
  R: bits(1),
  W: bits(2),
  X: bits(3),
  U: bits(4),
  G: bits(5),
  A: bits(6),
  D: bits(7),
  RSW: bits(8, 2),
  PPN: bits(10, 22),
} as const satisfies Layout;

/** Page-based memory types (Svpbmt). 3 is reserved. */
export const Pbmt = { PMA: 0, NC: 1, IO: 2 } as const;

export interface PagingMode {
  readonly name: string;
  /** Number of levels of the radix tree. */
  readonly levels: number;
  /** PTE size in bytes: 4 (Sv32, Sv32x4) or 8. */
  readonly pteSize: 4 | 8;
  /** Bits of virtual page number consumed per level (10 for Sv32, 9 otherwise). */
  readonly vpnBits: number;
  /** Width of the input address in bits. */
  readonly inputBits: number;
  /** Second-stage ("x4") modes widen the root level by two bits (16 KiB root table). */
  readonly x4: boolean;
}

function mode(name: string, levels: number, pteSize: 4 | 8, vpnBits: number, x4: boolean): PagingMode {
  const inputBits = 12 + levels * vpnBits + (x4 ? 2 : 0);
  return { name, levels, pteSize, vpnBits, inputBits, x4 };
}

export const Sv32 = mode('Sv32', 2, 4, 10, false);
export const Sv39 = mode('Sv39', 3, 8, 9, false);
export const Sv48 = mode('Sv48', 4, 8, 9, false);
export const Sv57 = mode('Sv57', 5, 8, 9, false);
export const Sv32x4 = mode('Sv32x4', 2, 4, 10, true);
export const Sv39x4 = mode('Sv39x4', 3, 8, 9, true);
export const Sv48x4 = mode('Sv48x4', 4, 8, 9, true);
export const Sv57x4 = mode('Sv57x4', 5, 8, 9, true);

export const PAGING_MODES = { Sv32, Sv39, Sv48, Sv57, Sv32x4, Sv39x4, Sv48x4, Sv57x4 } as const;
export type PagingModeName = keyof typeof PAGING_MODES;

/** Size in bytes of a leaf at `level` (0 = 4 KiB page). */
export function leafSize(m: PagingMode, level: number): bigint {
  return 1n << BigInt(12 + level * m.vpnBits);
}

/** The Svnapot 64 KiB encoding: ppn[3:0] = 0b1000 with N=1 at level 0. */
export const NAPOT_64K_PPN_LOW = 0x8;
