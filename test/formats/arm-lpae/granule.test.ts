// VMSAv8-64 granule geometry against the Arm ARM's tables (D8.2.8-D8.2.10): lookup-level
// shifts (Tables D8-16, D8-26, D8-35), stage-1 initial levels from TnSZ (Tables D8-18, D8-28,
// D8-37), block levels (Tables D8-17, D8-27, D8-36), TG0/TG1 encodings, stage-2 SL0 encodings
// (Tables D8-19, D8-29, D8-38), the permitted stage-2 T0SZ/SL0/concatenation combinations
// (Tables D8-21..D8-24, D8-31..D8-33, D8-39..D8-41) with the PA-size conditions of Table D8-9,
// and the {I}PS encoding (Table D8-6).

import { describe, expect, it } from 'vitest';
import {
  addressSizeBits,
  addressSizeField,
  blockAllowed,
  concatenatedTables,
  effectiveOutputBits,
  granuleFromTg0,
  granuleFromTg1,
  initialLevel,
  initialTableBytes,
  leafLevels,
  levelShift,
  maxInputBits,
  minInputBits,
  stage2ConfigError,
  stage2LevelFromSl0,
  stage2Sl0,
  tg0Field,
  tg1Field,
  type GranuleLog2,
} from '../../../src/formats/arm-lpae/index.js';

describe('lookup levels (Tables D8-16, D8-26, D8-35)', () => {
  it('gives the IA bits each level indexes', () => {
    // 4 KiB: IA[47:39], [38:30], [29:21], [20:12]; 16 KiB: [47], [46:36], [35:25], [24:14];
    // 64 KiB: [47:42], [41:29], [28:16].
    expect([0, 1, 2, 3].map((l) => levelShift(12, l))).toEqual([39, 30, 21, 12]);
    expect([0, 1, 2, 3].map((l) => levelShift(14, l))).toEqual([47, 36, 25, 14]);
    expect([1, 2, 3].map((l) => levelShift(16, l))).toEqual([42, 29, 16]);
  });

  it('permits blocks at 4 KiB levels 1-2, 16 KiB level 2, 64 KiB level 2 (and level 1 with FEAT_LPA)', () => {
    const allowed = (g: GranuleLog2, lpa: boolean) => [0, 1, 2].filter((l) => blockAllowed(g, l, lpa));
    expect(allowed(12, false)).toEqual([1, 2]);
    expect(allowed(14, true)).toEqual([2]);
    expect(allowed(16, false)).toEqual([2]);
    expect(allowed(16, true)).toEqual([1, 2]);
    expect(leafLevels(12, false)).toEqual([1, 2, 3]);
    expect(leafLevels(16, true)).toEqual([1, 2, 3]);
  });
});

describe('stage 1 initial lookup level from TnSZ (Tables D8-18, D8-28, D8-37)', () => {
  // [first TnSZ, last TnSZ, level], from the tables (FEAT_TTST and FEAT_LVA rows included).
  const table: Record<GranuleLog2, [number, number, number][]> = {
    12: [
      [16, 24, 0],
      [25, 33, 1],
      [34, 42, 2],
      [43, 48, 3],
    ],
    14: [
      [16, 16, 0],
      [17, 27, 1],
      [28, 38, 2],
      [39, 48, 3],
    ],
    16: [
      [12, 21, 1],
      [22, 34, 2],
      [35, 47, 3],
    ],
  };
  for (const g of [12, 14, 16] as const) {
    it(`granule 2^${g}`, () => {
      for (const [first, last, level] of table[g]) {
        for (let tnsz = first; tnsz <= last; tnsz++) expect(initialLevel(g, 64 - tnsz), `TnSZ ${tnsz}`).toBe(level);
      }
    });
  }

  it('bounds TnSZ: 16..39, 12 with FEAT_LVA (64 KiB), up to 48 (47 for 64 KiB) with FEAT_TTST (Table D8-7)', () => {
    expect([maxInputBits(12, 1, {}), minInputBits(12, {})]).toEqual([48, 25]);
    expect([maxInputBits(16, 1, { largeVa: true }), maxInputBits(16, 1, { largePa: true }), maxInputBits(16, 2, { largePa: true })]).toEqual([52, 48, 52]);
    expect([minInputBits(14, { smallTables: true }), minInputBits(16, { smallTables: true })]).toEqual([16, 17]);
  });
});

describe('TG encodings (TCR_ELx.TG0 / TG1, SMMUv3 CD.TG0 / CD.TG1)', () => {
  it('decodes TG0 00/01/10 as 4K/64K/16K and TG1 01/10/11 as 16K/4K/64K; the rest is reserved', () => {
    expect([0, 1, 2, 3].map(granuleFromTg0)).toEqual([12, 16, 14, null]);
    expect([0, 1, 2, 3].map(granuleFromTg1)).toEqual([null, 14, 12, 16]);
    for (const g of [12, 14, 16] as const) {
      expect(granuleFromTg0(tg0Field(g))).toBe(g);
      expect(granuleFromTg1(tg1Field(g))).toBe(g);
    }
  });
});

describe('stage 2 initial lookup (Tables D8-19, D8-29, D8-38 and D8-21..D8-41)', () => {
  it('decodes SL0 per granule', () => {
    expect([0, 1, 2, 3].map((s) => stage2LevelFromSl0(12, s))).toEqual([2, 1, 0, 3]);
    expect([0, 1, 2, 3].map((s) => stage2LevelFromSl0(14, s))).toEqual([3, 2, 1, 0]);
    expect([0, 1, 2, 3].map((s) => stage2LevelFromSl0(16, s))).toEqual([3, 2, 1, null]);
    expect(stage2Sl0(12, 3)).toBe(3);
    expect(stage2Sl0(16, 0)).toBeNull();
  });

  // The permitted configurations without FEAT_LPA2: [T0SZ, level, concatenated tables].
  const permitted: Record<GranuleLog2, [number, number, number][]> = {
    12: [
      ...range(16, 24).map((t) => [t, 0, 1] as [number, number, number]),
      ...range(25, 33).map((t) => [t, 1, 1] as [number, number, number]),
      [24, 1, 2],
      [23, 1, 4],
      [22, 1, 8],
      [21, 1, 16],
      ...range(34, 42).map((t) => [t, 2, 1] as [number, number, number]),
      [33, 2, 2],
      [32, 2, 4],
      [31, 2, 8],
      [30, 2, 16],
      ...range(43, 48).map((t) => [t, 3, 1] as [number, number, number]),
      [42, 3, 2],
      [41, 3, 4],
      [40, 3, 8],
      [39, 3, 16],
    ],
    14: [
      ...range(17, 27).map((t) => [t, 1, 1] as [number, number, number]),
      [16, 1, 2],
      ...range(28, 38).map((t) => [t, 2, 1] as [number, number, number]),
      [27, 2, 2],
      [26, 2, 4],
      [25, 2, 8],
      [24, 2, 16],
      ...range(39, 48).map((t) => [t, 3, 1] as [number, number, number]),
      [38, 3, 2],
      [37, 3, 4],
      [36, 3, 8],
      [35, 3, 16],
    ],
    16: [
      ...range(12, 21).map((t) => [t, 1, 1] as [number, number, number]),
      ...range(22, 34).map((t) => [t, 2, 1] as [number, number, number]),
      [21, 2, 2],
      [20, 2, 4],
      [19, 2, 8],
      [18, 2, 16],
      ...range(35, 47).map((t) => [t, 3, 1] as [number, number, number]),
      [34, 3, 2],
      [33, 3, 4],
      [32, 3, 8],
      [31, 3, 16],
    ],
  };
  const features = { smallTables: true, largePa: true };

  for (const g of [12, 14, 16] as const) {
    it(`accepts exactly the permitted T0SZ/SL0 pairs for granule 2^${g}, with their concatenation`, () => {
      for (let t0sz = 64 - maxInputBits(g, 2, features); t0sz <= 64 - minInputBits(g, features); t0sz++) {
        for (let sl0 = 0; sl0 < 4; sl0++) {
          const level = stage2LevelFromSl0(g, sl0);
          const expected = permitted[g].find(([t, l]) => t === t0sz && l === level);
          const error = stage2ConfigError(g, 64 - t0sz, sl0, 52, features);
          expect(error === null, `T0SZ ${t0sz} SL0 ${sl0}: ${String(error)}`).toBe(expected !== undefined);
          if (expected !== undefined && level !== null) {
            expect(concatenatedTables(g, 64 - t0sz, level)).toBe(expected[2]);
            expect(initialTableBytes(g, 64 - t0sz, level)).toBe(8 * 2 ** (64 - t0sz - levelShift(g, level)));
          }
        }
      }
    });
  }

  it('refuses start levels the PA size does not allow (Table D8-9) and a 4 KiB level-3 start without FEAT_TTST', () => {
    expect(stage2ConfigError(12, 48, 2, 44, {})).toBeNull(); // level 0 with a 44-bit PA
    expect(stage2ConfigError(12, 40, 2, 42, {})).toMatch(/PA size of 44/);
    expect(stage2ConfigError(12, 40, 1, 40, {})).toBeNull(); // level 1 with 2 tables instead
    expect(stage2ConfigError(14, 40, 2, 40, {})).toMatch(/PA size of 42/);
    expect(stage2ConfigError(14, 40, 1, 40, {})).toBeNull(); // level 2, 16 tables
    expect(stage2ConfigError(16, 44, 2, 42, {})).toMatch(/PA size of 44/);
    expect(stage2ConfigError(12, 21, 3, 48, {})).toMatch(/FEAT_TTST/);
    expect(stage2ConfigError(16, 40, 3, 48, {})).toMatch(/reserved/);
    expect(stage2ConfigError(14, 48, 3, 52, {})).toMatch(/level 0/); // R DXBSH: 16 KiB 48-bit starts at level 1
  });
});

describe('output address size (Table D8-6, R CLPQT)', () => {
  it('decodes {I}PS and caps it by the PA size and the descriptor format', () => {
    expect([0, 1, 2, 3, 4, 5, 6, 7].map(addressSizeBits)).toEqual([32, 36, 40, 42, 44, 48, 52, 56]);
    expect(addressSizeField(44)).toBe(4);
    expect(addressSizeField(47)).toBeNull();
    expect(effectiveOutputBits(5, 40, 12, false)).toBe(40); // PS 48 on a 40-bit implementation
    expect(effectiveOutputBits(6, 52, 12, true)).toBe(48); // 4 KiB descriptors hold 48 bits without FEAT_LPA2
    expect(effectiveOutputBits(6, 52, 16, true)).toBe(52);
    expect(effectiveOutputBits(7, 52, 16, true)).toBe(52);
  });
});

function range(first: number, last: number): number[] {
  return Array.from({ length: last - first + 1 }, (_, i) => first + i);
}
