// VMSAv8-64 translation table descriptors (Arm ARM D8.3.1): Invalid, Table, Block and Page
// descriptors of stage 1 and stage 2, one 64-bit doubleword each. `DescLo` / `DescHi` give the
// bits as masks of the low and high 32-bit halves, for walkers and builders that hold a
// descriptor as two numbers; the layouts (absolute bit numbers) and the BigInt helpers are for
// tools, builders' cold paths and tests.

import { bits, encode, type Encodable, type Layout } from '../bitfield.js';
import { blockAllowed, FINAL_LEVEL, levelShift, type GranuleLog2 } from './granule.js';

/** Descriptor bits [31:0], as masks and shifts of the low half. */
export const DescLo = {
  /** Bit 0: the descriptor is valid. */
  VALID: 0x1,
  /** Bit 1: Table (levels 0-2) or Page (level 3) when set; Block (levels 0-2) when clear. */
  TABLE_OR_PAGE: 0x2,
  /** Stage 1 AttrIndx[2:0], bits [4:2]: the MAIR_ELx attribute index. */
  ATTR_INDX_SHIFT: 2,
  ATTR_INDX_MASK: 0x1c,
  /** Stage 2 MemAttr[3:0], bits [5:2]. */
  MEM_ATTR_SHIFT: 2,
  MEM_ATTR_MASK: 0x3c,
  /** Stage 1 NS, bit 5 (Secure translation regimes). */
  NS: 0x20,
  /** Stage 1 AP[2:1] / stage 2 S2AP[1:0], bits [7:6]. */
  AP_SHIFT: 6,
  AP_MASK: 0xc0,
  /** Stage 1 AP[1] (EL0 access) / stage 2 S2AP[0] (read). */
  AP1: 0x40,
  /** Stage 1 AP[2] (read-only) / stage 2 S2AP[1] (write). */
  AP2: 0x80,
  /** SH[1:0], bits [9:8]. */
  SH_SHIFT: 8,
  SH_MASK: 0x300,
  /** Access flag, bit 10. */
  AF: 0x400,
  /** Stage 1 not-global, bit 11. */
  NG: 0x800,
  /** Bits [15:12]: OA[51:48] (or next-level table address [51:48]) with the 64 KiB granule and FEAT_LPA. */
  OA_51_48_SHIFT: 12,
  OA_51_48_MASK: 0xf000,
} as const;

/** Descriptor bits [63:32], as masks and shifts of the high half. */
export const DescHi = {
  /** Bits [47:32] of the output address or next-level table address. */
  ADDRESS_MASK: 0xffff,
  /** Dirty Bit Modifier, bit 51. */
  DBM: 1 << 19,
  /** Contiguous hint, bit 52. */
  CONTIGUOUS: 1 << 20,
  /** Stage 1 PXN, bit 53 (two privilege levels); stage 2 XN[0] with FEAT_XNX. */
  PXN: 1 << 21,
  /** Stage 1 UXN (two privilege levels) or XN (one), bit 54; stage 2 XN / XN[1]. */
  UXN: 1 << 22,
  /** Stage 2 XN[1:0], bits [54:53]. */
  S2_XN_SHIFT: 21,
  S2_XN_MASK: 0x3 << 21,
  /** Table descriptor PXNTable, bit 59. */
  PXN_TABLE: 1 << 27,
  /** Table descriptor UXNTable / XNTable, bit 60. */
  XN_TABLE: 1 << 28,
  /** Table descriptor APTable[1:0], bits [62:61]. */
  AP_TABLE_SHIFT: 29,
  AP_TABLE_MASK: 0x3 << 29,
  /** Table descriptor NSTable, bit 63. */
  NS_TABLE: 0x8000_0000,
} as const;

/** Stage 1 Table descriptor attributes (Table D8-50); the address is separate. */
export const Stage1TableLayout = {
  Valid: bits(0),
  Table: bits(1),
  PXNTable: bits(59),
  XNTable: bits(60),
  APTable: bits(61, 2),
  NSTable: bits(63),
} as const satisfies Layout;

/** Stage 2 Table descriptors carry no attributes (Table D8-51: bits [63:59] RES0). */
export const Stage2TableLayout = {
  Valid: bits(0),
  Table: bits(1),
} as const satisfies Layout;

/** Stage 1 Block and Page descriptor attributes (Table D8-52); the output address is separate. */
export const Stage1LeafLayout = {
  Valid: bits(0),
  Page: bits(1),
  AttrIndx: bits(2, 3),
  NS: bits(5),
  AP: bits(6, 2),
  SH: bits(8, 2),
  AF: bits(10),
  nG: bits(11),
  DBM: bits(51),
  Contiguous: bits(52),
  PXN: bits(53),
  UXN: bits(54),
  Software: bits(55, 4),
} as const satisfies Layout;

/** Stage 2 Block and Page descriptor attributes (Table D8-53); XN is XN[1:0] (bit 54 alone without FEAT_XNX). */
export const Stage2LeafLayout = {
  Valid: bits(0),
  Page: bits(1),
  MemAttr: bits(2, 4),
  S2AP: bits(6, 2),
  SH: bits(8, 2),
  AF: bits(10),
  DBM: bits(51),
  Contiguous: bits(52),
  XN: bits(53, 2),
  Software: bits(55, 4),
} as const satisfies Layout;

export type DescriptorType = 'invalid' | 'table' | 'block' | 'page';

/**
 * What a descriptor read at `level` is (Table D8-48): bit 0 clear is Invalid; bits[1:0] = 0b11
 * is a Table below level 3 and a Page at level 3; 0b01 is a Block where the granule permits one
 * and Invalid elsewhere (reserved at level 3).
 */
export function descriptorType(desc: bigint, g: GranuleLog2, level: number, largePa: boolean): DescriptorType {
  if ((desc & 1n) === 0n) return 'invalid';
  const bit1 = (desc & 2n) !== 0n;
  if (level === FINAL_LEVEL) return bit1 ? 'page' : 'invalid';
  if (bit1) return 'table';
  return blockAllowed(g, level, largePa) ? 'block' : 'invalid';
}

const ADDRESS_47_0 = (1n << 48n) - 1n;

/** Address bits [51:48] kept in descriptor bits [15:12] (64 KiB granule with FEAT_LPA). */
function lpaHigh(desc: bigint, g: GranuleLog2, largePa: boolean): bigint {
  return g === 16 && largePa ? ((desc >> 12n) & 0xfn) << 48n : 0n;
}

/** The next-level table address of a Table descriptor (Figure D8-12): bits [47:granule], plus [51:48] with LPA. */
export function nextTableAddress(desc: bigint, g: GranuleLog2, largePa: boolean): bigint {
  const mask = ADDRESS_47_0 & ~((1n << BigInt(g)) - 1n);
  return (desc & mask) | lpaHigh(desc, g, largePa);
}

/** The output address of a Block or Page descriptor at `level`: bits [47:levelShift], plus [51:48] with LPA. */
export function leafOutputAddress(desc: bigint, g: GranuleLog2, level: number, largePa: boolean): bigint {
  const mask = ADDRESS_47_0 & ~((1n << BigInt(levelShift(g, level))) - 1n);
  return (desc & mask) | lpaHigh(desc, g, largePa);
}

function placeAddress(address: bigint, alignLog2: number, g: GranuleLog2, largePa: boolean): bigint {
  const limit = g === 16 && largePa ? 52n : 48n;
  if (address < 0n || address >> limit !== 0n) throw new RangeError(`address 0x${address.toString(16)} does not fit ${limit} bits`);
  if ((address & ((1n << BigInt(alignLog2)) - 1n)) !== 0n) throw new RangeError(`address 0x${address.toString(16)} is not aligned to 2^${alignLog2}`);
  return (address & ADDRESS_47_0) | ((address >> 48n) << 12n);
}

/** A Table descriptor pointing at `address` (granule-aligned), with stage-1 attributes if any. */
export function tableDescriptor(address: bigint, g: GranuleLog2, largePa: boolean, attrs: Encodable<typeof Stage1TableLayout> = {}): bigint {
  return placeAddress(address, g, g, largePa) | encode(Stage1TableLayout, { ...attrs, Valid: 1, Table: 1 });
}

/**
 * A Block (levels 0-2) or Page (level 3) descriptor mapping `address` (aligned to the leaf size)
 * with the given stage-1 or stage-2 attributes. Throws RangeError where the granule permits no
 * block, or for an address that does not fit.
 */
export function leafDescriptor(
  stage: 1 | 2,
  g: GranuleLog2,
  level: number,
  address: bigint,
  largePa: boolean,
  attrs: Encodable<typeof Stage1LeafLayout> | Encodable<typeof Stage2LeafLayout>,
): bigint {
  if (level !== FINAL_LEVEL && !blockAllowed(g, level, largePa)) throw new RangeError(`no block descriptor at level ${level} for granule 2^${g}`);
  const page = level === FINAL_LEVEL ? 1 : 0;
  const fields =
    stage === 1
      ? encode(Stage1LeafLayout, { ...(attrs as Encodable<typeof Stage1LeafLayout>), Valid: 1, Page: page })
      : encode(Stage2LeafLayout, { ...(attrs as Encodable<typeof Stage2LeafLayout>), Valid: 1, Page: page });
  return placeAddress(address, levelShift(g, level), g, largePa) | fields;
}
