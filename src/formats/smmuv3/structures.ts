// In-memory configuration structures of the Arm SMMUv3 (IHI 0070, chapter 5): the Level 1
// Stream Table Descriptor, the Stream Table Entry, the Level 1 Context Descriptor and the
// Context Descriptor. Layouts use the specification's absolute bit numbers (an STE is one
// 512-bit little-endian value, bit 64 is bit 0 of its second doubleword), so that a test can
// cite a field exactly as the specification draws it. `toDwords`/`fromDwords` convert between
// the wide value and the doublewords stored in memory.

import { bits, decode, encode, type Decoded, type Encodable, type Layout } from '../bitfield.js';

export const L1STD_SIZE = 8;
export const STE_SIZE = 64;
export const STE_DWORDS = 8;
export const L1CD_SIZE = 8;
export const CD_SIZE = 64;
export const CD_DWORDS = 8;

/** Splits a little-endian value of `count` doublewords into them (doubleword 0 first). */
export function toDwords(value: bigint, count: number): bigint[] {
  const out: bigint[] = [];
  for (let i = 0; i < count; i++) out.push((value >> BigInt(64 * i)) & 0xffff_ffff_ffff_ffffn);
  return out;
}

/** Joins little-endian doublewords (doubleword 0 first) into one value. */
export function fromDwords(dwords: readonly bigint[]): bigint {
  let value = 0n;
  for (let i = dwords.length - 1; i >= 0; i--) value = (value << 64n) | (dwords[i] & 0xffff_ffff_ffff_ffffn);
  return value;
}

// ---- 5.1 L1STD ---------------------------------------------------------------------------

export const L1stdLayout = {
  Span: bits(0, 5),
  L2Ptr: bits(6, 50),
} as const satisfies Layout;

/** Span values 1..11 give a level-2 array of 2^(Span-1) STEs; 0 and 12..31 mark the descriptor invalid. */
export const L1STD_SPAN_MAX = 11;

/** An L1STD pointing at `l2Address` (64-byte aligned) holding 2^(span-1) STEs. */
export function encodeL1std(l2Address: bigint, span: number): bigint {
  return encode(L1stdLayout, { Span: span, L2Ptr: l2Address >> 6n });
}

// ---- 5.2 STE -----------------------------------------------------------------------------

export const SteLayout = {
  V: bits(0),
  Config: bits(1, 3),
  S1Fmt: bits(4, 2),
  S1ContextPtr: bits(6, 50),
  S1CDMax: bits(59, 5),
  S1DSS: bits(64, 2),
  S1CIR: bits(66, 2),
  S1COR: bits(68, 2),
  S1CSH: bits(70, 2),
  S2HWU59: bits(72),
  S2HWU60: bits(73),
  S2HWU61: bits(74),
  S2HWU62: bits(75),
  DRE: bits(76),
  CONT: bits(77, 4),
  DCP: bits(81),
  PPAR: bits(82),
  MEV: bits(83),
  SW_RESERVED: bits(84, 4),
  S1PIE: bits(88),
  S2FWB: bits(89),
  S1MPAM: bits(90),
  S1STALLD: bits(91),
  EATS: bits(92, 2),
  STRW: bits(94, 2),
  MemAttr: bits(96, 4),
  MTCFG: bits(100),
  ALLOCCFG: bits(101, 4),
  SHCFG: bits(108, 2),
  NSCFG: bits(110, 2),
  PRIVCFG: bits(112, 2),
  INSTCFG: bits(114, 2),
  IMPL_DEF0: bits(116, 12),
  S2VMID: bits(128, 16),
  IMPL_DEF1: bits(144, 16),
  S2T0SZ: bits(160, 6),
  S2SL0: bits(166, 2),
  S2IR0: bits(168, 2),
  S2OR0: bits(170, 2),
  S2SH0: bits(172, 2),
  S2TG: bits(174, 2),
  S2PS: bits(176, 3),
  S2AA64: bits(179),
  S2ENDI: bits(180),
  S2AFFD: bits(181),
  S2PTW: bits(182),
  S2HD: bits(183),
  S2HA: bits(184),
  S2S: bits(185),
  S2R: bits(186),
  S2HAFT: bits(187),
  S2NSW: bits(192),
  S2NSA: bits(193),
  S2SL0_2: bits(194),
  S2DS: bits(195),
  /** S2TTB holds address bits [55:4]. */
  S2TTB: bits(196, 52),
  PARTID: bits(272, 16),
  PMG: bits(320, 8),
} as const satisfies Layout;
export type SteFields = Decoded<typeof SteLayout>;

/** STE.Config (5.2): 0b001..0b011 are reserved and behave as 0b000 (abort, no event). */
export const SteConfig = {
  Abort: 0b000,
  Bypass: 0b100,
  S1Translate: 0b101,
  S2Translate: 0b110,
  Nested: 0b111,
} as const;
export const STE_CONFIG_NAMES: Readonly<Record<number, string>> = {
  0: 'abort',
  1: 'reserved (abort)',
  2: 'reserved (abort)',
  3: 'reserved (abort)',
  4: 'bypass',
  5: 'stage 1 translate, stage 2 bypass',
  6: 'stage 1 bypass, stage 2 translate',
  7: 'stage 1 and stage 2 translate',
};

/** SHCFG encodings (STE.SHCFG, GBPA.SHCFG). */
export const ShCfg = { NonShareable: 0, UseIncoming: 1, OuterShareable: 2, InnerShareable: 3 } as const;
/** PRIVCFG encodings (STE, GBPA): 0b01 is reserved and behaves as 0b00. */
export const PrivCfg = { UseIncoming: 0, Unprivileged: 2, Privileged: 3 } as const;
/** INSTCFG encodings (STE, GBPA): 0b01 is reserved and behaves as 0b00; only reads are affected. */
export const InstCfg = { UseIncoming: 0, Data: 2, Instruction: 3 } as const;

/** STE.S1Fmt: layout of the CD table; 0b11 is reserved and behaves as Linear. */
export const S1Fmt = { Linear: 0, TwoLevel4K: 1, TwoLevel64K: 2 } as const;
/** log2 of the number of CDs in a level-2 CD table, per S1Fmt (4 KiB: 64 CDs, 64 KiB: 1024 CDs). */
export const S1FMT_L2_BITS: Readonly<Record<number, number>> = { 1: 6, 2: 10 };

/** STE.S1DSS: what a transaction without a SubstreamID does when substreams are enabled; 0b11 behaves as Terminate. */
export const S1Dss = { Terminate: 0, Bypass: 1, Substream0: 2 } as const;

/** STE.EATS. */
export const Eats = { Abort: 0, Full: 1, SplitStage: 2, FullDpt: 3 } as const;

/** STE.STRW: StreamWorld control (Non-secure: 0bx1 is ILLEGAL when used). */
export const Strw = { El1: 0, El2: 2 } as const;

/** Cacheability encodings of STE.S1CIR/S1COR, STE.S2IR0/S2OR0, CD.IRx/ORx. */
export const TableCache = { NonCacheable: 0, WriteBackAllocate: 1, WriteThrough: 2, WriteBack: 3 } as const;

/** STE.S2TG and CD.TG0 granule encodings. */
export const Tg0 = { Gran4K: 0, Gran64K: 1, Gran16K: 2 } as const;
/** CD.TG1 granule encodings (different from TG0, as in TCR_EL1.TG1). */
export const Tg1 = { Gran16K: 1, Gran4K: 2, Gran64K: 3 } as const;

/** log2 of the granule selected by a TG0/S2TG encoding, or 0 for the reserved encoding. */
export function tg0GranuleLog2(tg0: number): 0 | 12 | 14 | 16 {
  return tg0 === 0 ? 12 : tg0 === 1 ? 16 : tg0 === 2 ? 14 : 0;
}

/** log2 of the granule selected by a TG1 encoding, or 0 for the reserved encoding. */
export function tg1GranuleLog2(tg1: number): 0 | 12 | 14 | 16 {
  return tg1 === 1 ? 14 : tg1 === 2 ? 12 : tg1 === 3 ? 16 : 0;
}

/** An STE as its eight doublewords, from named fields (absent fields are zero). */
export function encodeSte(fields: Encodable<typeof SteLayout>): bigint[] {
  return toDwords(encode(SteLayout, fields), STE_DWORDS);
}

/** The fields of an STE given as its eight doublewords. */
export function decodeSte(dwords: readonly bigint[]): SteFields {
  return decode(SteLayout, fromDwords(dwords));
}

// ---- 5.3 L1CD ----------------------------------------------------------------------------

export const L1cdLayout = {
  V: bits(0),
  /** L2Ptr holds address bits [55:12]. */
  L2Ptr: bits(12, 44),
} as const satisfies Layout;

/** A valid L1CD pointing at a level-2 CD table at `l2Address` (4 KiB aligned). */
export function encodeL1cd(l2Address: bigint): bigint {
  return encode(L1cdLayout, { V: 1, L2Ptr: l2Address >> 12n });
}

// ---- 5.4 CD ------------------------------------------------------------------------------

export const CdLayout = {
  T0SZ: bits(0, 6),
  TG0: bits(6, 2),
  IR0: bits(8, 2),
  OR0: bits(10, 2),
  SH0: bits(12, 2),
  EPD0: bits(14),
  ENDI: bits(15),
  T1SZ: bits(16, 6),
  TG1: bits(22, 2),
  IR1: bits(24, 2),
  OR1: bits(26, 2),
  SH1: bits(28, 2),
  EPD1: bits(30),
  V: bits(31),
  IPS: bits(32, 3),
  AFFD: bits(35),
  WXN: bits(36),
  UWXN: bits(37),
  TBI0: bits(38),
  TBI1: bits(39),
  PAN: bits(40),
  AA64: bits(41),
  HD: bits(42),
  HA: bits(43),
  S: bits(44),
  R: bits(45),
  A: bits(46),
  ASET: bits(47),
  ASID: bits(48, 16),
  NSCFG0: bits(64),
  HAD0: bits(65),
  E0PD0: bits(66),
  HAFT: bits(67),
  /** TTB0 holds address bits [55:4]. */
  TTB0: bits(68, 52),
  PnCH: bits(122),
  EPAN: bits(123),
  HWU059: bits(124),
  HWU060: bits(125),
  HWU061: bits(126),
  HWU062: bits(127),
  NSCFG1: bits(128),
  HAD1: bits(129),
  E0PD1: bits(130),
  AIE: bits(131),
  /** TTB1 holds address bits [55:4]. */
  TTB1: bits(132, 52),
  DS: bits(186),
  PIE: bits(187),
  HWU159: bits(188),
  HWU160: bits(189),
  HWU161: bits(190),
  HWU162: bits(191),
  MAIR0: bits(192, 32),
  MAIR1: bits(224, 32),
  AMAIR0: bits(256, 32),
  AMAIR1: bits(288, 32),
  IMPL_DEF: bits(320, 32),
  PARTID: bits(352, 16),
  PMG: bits(368, 8),
} as const satisfies Layout;
export type CdFields = Decoded<typeof CdLayout>;

/** A CD as its eight doublewords, from named fields (absent fields are zero). */
export function encodeCd(fields: Encodable<typeof CdLayout>): bigint[] {
  return toDwords(encode(CdLayout, fields), CD_DWORDS);
}

/** The fields of a CD given as its eight doublewords. */
export function decodeCd(dwords: readonly bigint[]): CdFields {
  return decode(CdLayout, fromDwords(dwords));
}

// ---- derived facts used by both sides ------------------------------------------------------

/** The address of STE `sid` in a linear Stream table at `base`. */
export function linearSteAddress(base: bigint, sid: number): bigint {
  return base + BigInt(sid) * BigInt(STE_SIZE);
}

/** For a 2-level Stream table split at `split`: the L1STD index and the STE index within the level-2 array. */
export function splitStreamId(sid: number, split: number): { l1: number; l2: number } {
  return { l1: Math.floor(sid / 2 ** split), l2: sid % 2 ** split };
}

/** For a 2-level CD table of format `s1fmt`: the L1CD index and the CD index within the level-2 table. */
export function splitSubstreamId(ssid: number, s1fmt: number): { l1: number; l2: number } {
  const l2Bits = S1FMT_L2_BITS[s1fmt] ?? 0;
  return { l1: Math.floor(ssid / 2 ** l2Bits), l2: ssid % 2 ** l2Bits };
}
