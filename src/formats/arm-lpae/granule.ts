// Translation granules of the VMSAv8-64 translation system (Arm ARM D8.1.1, D8.1.9, D8.2.2,
// D8.2.8-D8.2.10): what each lookup level resolves, where a walk starts for a given input
// size, which levels hold Block descriptors, how many tables a stage-2 walk concatenates, and
// the TG and SL0 encodings of TCR_ELx / VTCR_EL2 (which the SMMUv3 CD and STE copy).
// Descriptors are 8 bytes, so one table of a granule resolves (log2(granule) - 3) bits.
//
// 52-bit addresses are modelled for the 64 KiB granule only (FEAT_LVA, FEAT_LPA); the 4 KiB and
// 16 KiB 52-bit formats of FEAT_LPA2 (TCR_ELx.DS, level -1) are not.

/** log2 of the granule size: 4 KiB, 16 KiB or 64 KiB. */
export type GranuleLog2 = 12 | 14 | 16;

export const GRANULES: readonly GranuleLog2[] = [12, 14, 16];

/** The last lookup level: it holds Page descriptors. */
export const FINAL_LEVEL = 3;

/** A stage-2 initial lookup concatenates at most 16 tables: up to 4 extra bits (D8.2.2, R JKZFY). */
export const MAX_CONCATENATION_BITS = 4;

/** Optional VMSAv8-64 features that change the geometry (FEAT_* names of the Arm ARM). */
export interface VmsaFeatures {
  /** FEAT_TTST, small translation tables: TxSZ up to 48, or 47 with the 64 KiB granule (Table D8-7). */
  smallTables?: boolean;
  /** FEAT_LVA: 52-bit stage-1 input addresses with the 64 KiB granule (D8.1.8). */
  largeVa?: boolean;
  /**
   * FEAT_LPA: 52-bit output addresses with the 64 KiB granule (descriptor bits [15:12] hold
   * OA[51:48]), 4 TiB level-1 blocks, and 52-bit stage-2 input addresses (D8.2.10).
   */
  largePa?: boolean;
}

/** Input-address bits a full table resolves: 9, 11 or 13. */
export function bitsPerLevel(g: GranuleLog2): number {
  return g - 3;
}

/**
 * log2 of the bytes one entry at `level` maps (Tables D8-16, D8-26, D8-35): 4 KiB granule
 * 39/30/21/12 for levels 0..3, 16 KiB 47/36/25/14, 64 KiB -/42/29/16.
 */
export function levelShift(g: GranuleLog2, level: number): number {
  return g + (FINAL_LEVEL - level) * (g - 3);
}

/**
 * The initial lookup level of a stage-1 walk over `inputBits`-bit input addresses (Tables
 * D8-18, D8-28, D8-37): the fewest levels that resolve every input bit above the page offset.
 */
export function initialLevel(g: GranuleLog2, inputBits: number): number {
  return FINAL_LEVEL + 1 - Math.ceil((inputBits - g) / (g - 3));
}

/** Input bits resolved by an initial lookup at `level`: above bitsPerLevel the tables are concatenated. */
export function initialLookupBits(g: GranuleLog2, inputBits: number, level: number): number {
  return inputBits - levelShift(g, level);
}

/** Number of tables an initial lookup at `level` uses: 1, or 2^(extra bits) when concatenated (D8.2.2). */
export function concatenatedTables(g: GranuleLog2, inputBits: number, level: number): number {
  const extra = initialLookupBits(g, inputBits, level) - bitsPerLevel(g);
  return extra > 0 ? 2 ** extra : 1;
}

/** Bytes of the initial lookup's table (or concatenated tables): 8 bytes per entry. */
export function initialTableBytes(g: GranuleLog2, inputBits: number, level: number): number {
  return 8 * 2 ** initialLookupBits(g, inputBits, level);
}

/**
 * Whether a Block descriptor is permitted at `level` (Tables D8-17, D8-27, D8-36): 4 KiB
 * granule levels 1 and 2, 16 KiB level 2, 64 KiB level 2 and, with FEAT_LPA, level 1. Elsewhere
 * a descriptor with bits[1:0] = 0b01 is invalid (D8.3, AArch64.BlockDescSupported).
 */
export function blockAllowed(g: GranuleLog2, level: number, largePa: boolean): boolean {
  if (level === 2) return true;
  if (level === 1) return g === 12 || (g === 16 && largePa);
  return false;
}

/** Leaf levels of a granule, largest first (the Page level last). */
export function leafLevels(g: GranuleLog2, largePa: boolean): number[] {
  const out: number[] = [];
  for (let level = 0; level < FINAL_LEVEL; level++) if (blockAllowed(g, level, largePa)) out.push(level);
  out.push(FINAL_LEVEL);
  return out;
}

/**
 * The largest input address size a TxSZ may select (D8.1.8, D8.1.9): 48 bits, or 52 with the
 * 64 KiB granule and FEAT_LVA (stage 1) or FEAT_LPA (stage 2, Table D8-39).
 */
export function maxInputBits(g: GranuleLog2, stage: 1 | 2, f: VmsaFeatures): number {
  if (g !== 16) return 48;
  return (stage === 1 ? f.largeVa : f.largePa) === true ? 52 : 48;
}

/** The smallest input address size (Table D8-7): TxSZ 39, or with FEAT_TTST 48 (47 for 64 KiB). */
export function minInputBits(g: GranuleLog2, f: VmsaFeatures): number {
  if (f.smallTables !== true) return 64 - 39;
  return g === 16 ? 64 - 47 : 64 - 48;
}

// ---- TG fields ----------------------------------------------------------------------------

/** TCR_ELx.TG0 / VTCR_EL2.TG0 / SMMUv3 CD.TG0 and STE.S2TG encodings (0b11 is reserved). */
export const Tg0 = { Size4K: 0, Size64K: 1, Size16K: 2 } as const;

/** TCR_ELx.TG1 / SMMUv3 CD.TG1 encodings: a different order from TG0 (0b00 is reserved). */
export const Tg1 = { Size16K: 1, Size4K: 2, Size64K: 3 } as const;

/** The granule a TG0 value selects, or null for the reserved encoding. */
export function granuleFromTg0(tg: number): GranuleLog2 | null {
  switch (tg) {
    case Tg0.Size4K:
      return 12;
    case Tg0.Size64K:
      return 16;
    case Tg0.Size16K:
      return 14;
    default:
      return null;
  }
}

/** The granule a TG1 value selects, or null for the reserved encoding. */
export function granuleFromTg1(tg: number): GranuleLog2 | null {
  switch (tg) {
    case Tg1.Size4K:
      return 12;
    case Tg1.Size16K:
      return 14;
    case Tg1.Size64K:
      return 16;
    default:
      return null;
  }
}

export function tg0Field(g: GranuleLog2): number {
  return g === 12 ? Tg0.Size4K : g === 14 ? Tg0.Size16K : Tg0.Size64K;
}

export function tg1Field(g: GranuleLog2): number {
  return g === 12 ? Tg1.Size4K : g === 14 ? Tg1.Size16K : Tg1.Size64K;
}

// ---- stage-2 initial lookup ---------------------------------------------------------------

/**
 * The initial lookup level a stage-2 SL0 selects (Tables D8-19, D8-29, D8-38), without FEAT_LPA2:
 * 4 KiB 0b00/01/10/11 = levels 2/1/0/3; 16 KiB = 3/2/1/0; 64 KiB = 3/2/1, 0b11 reserved (null).
 * Whether the level is usable is stage2ConfigError's question.
 */
export function stage2LevelFromSl0(g: GranuleLog2, sl0: number): number | null {
  if (sl0 < 0 || sl0 > 3 || !Number.isInteger(sl0)) return null;
  if (g === 12) return sl0 === 3 ? 3 : 2 - sl0;
  if (g === 16 && sl0 === 3) return null;
  return 3 - sl0;
}

/** The SL0 value that selects `level`, or null when no encoding does. */
export function stage2Sl0(g: GranuleLog2, level: number): number | null {
  for (let sl0 = 0; sl0 < 4; sl0++) if (stage2LevelFromSl0(g, sl0) === level) return sl0;
  return null;
}

/**
 * The smallest implemented PA size (bits) with which a stage-2 walk may start at `level` (Table
 * D8-9): a 4 KiB level-0 start needs 44 bits, a 16 KiB level-1 start 42, a 64 KiB level-1 start
 * 44; every other level has no PA-size condition (32).
 */
export function stage2LevelMinPaBits(g: GranuleLog2, level: number): number {
  if (g === 12 && level === 0) return 44;
  if (g === 14 && level === 1) return 42;
  if (g === 16 && level === 1) return 44;
  return 32;
}

/**
 * Why a stage-2 configuration cannot be walked, or null when it can: the conditions for which
 * the Arm ARM generates a stage-2 level 0 Translation fault (D8.2.8.2, D8.2.9.2, D8.2.10.2,
 * AArch64.S2InvalidSL and AArch64.S2InconsistentSL) and which make an SMMUv3 STE ILLEGAL:
 * a reserved SL0, a level the implementation cannot start at (Table D8-9; 4 KiB level 3 needs
 * FEAT_TTST; 16 KiB level 0 needs FEAT_LPA2), or an SL0 inconsistent with the input size (the
 * initial lookup must resolve between 1 bit and 4 bits more than a full table: up to 16
 * concatenated tables).
 */
export function stage2ConfigError(g: GranuleLog2, inputBits: number, sl0: number, paBits: number, f: VmsaFeatures): string | null {
  const level = stage2LevelFromSl0(g, sl0);
  if (level === null) return `SL0 ${sl0} is reserved for the ${granuleName(g)} granule`;
  if (g === 14 && level === 0) return 'a 16 KiB stage-2 walk cannot start at level 0 without FEAT_LPA2';
  if (g === 12 && level === 3 && f.smallTables !== true) return 'a 4 KiB stage-2 walk can start at level 3 only with FEAT_TTST';
  const minPa = stage2LevelMinPaBits(g, level);
  if (paBits < minPa) return `a ${granuleName(g)} stage-2 walk can start at level ${level} only with a PA size of ${minPa} bits or more (implemented: ${paBits})`;
  const bits = initialLookupBits(g, inputBits, level);
  if (bits < 1 || bits > bitsPerLevel(g) + MAX_CONCATENATION_BITS) {
    return `SL0 ${sl0} (level ${level}) is inconsistent with a ${inputBits}-bit input for the ${granuleName(g)} granule`;
  }
  return null;
}

export function granuleName(g: GranuleLog2): string {
  return g === 12 ? '4 KiB' : g === 14 ? '16 KiB' : '64 KiB';
}
