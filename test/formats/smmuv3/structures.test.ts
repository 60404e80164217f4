// SMMUv3 configuration structures (IHI 0070 chapter 5): field positions as the specification
// numbers them, doubleword packing, and the encodings of the enumerated fields.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CD_DWORDS,
  CdLayout,
  decodeCd,
  decodeSte,
  encodeCd,
  encodeL1cd,
  encodeL1std,
  encodeSte,
  fromDwords,
  L1cdLayout,
  L1stdLayout,
  linearSteAddress,
  S1FMT_L2_BITS,
  splitStreamId,
  splitSubstreamId,
  STE_CONFIG_NAMES,
  STE_DWORDS,
  SteConfig,
  SteLayout,
  tg0GranuleLog2,
  tg1GranuleLog2,
  toDwords,
} from '../../../src/formats/smmuv3/structures.js';

describe('doubleword packing', () => {
  it('doubleword 0 holds bits [63:0], doubleword 1 bits [127:64]', () => {
    expect(toDwords((2n << 64n) | 1n, 2)).toEqual([1n, 2n]);
    expect(fromDwords([1n, 2n])).toBe((2n << 64n) | 1n);
  });

  it('round-trips any 8 doublewords', () => {
    const dword = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });
    fc.assert(
      fc.property(fc.array(dword, { minLength: 8, maxLength: 8 }), (d) => {
        expect(toDwords(fromDwords(d), 8)).toEqual(d);
      }),
    );
  });
});

describe('5.1 L1STD', () => {
  it('Span is bits [4:0], L2Ptr holds address bits [55:6]', () => {
    expect(L1stdLayout.Span).toEqual({ lsb: 0, width: 5 });
    expect(encodeL1std(0x8000_1000n, 9)).toBe(0x8000_1009n);
  });
});

describe('5.2 STE', () => {
  it('places every word-0 field: V[0], Config[3:1], S1Fmt[5:4], S1ContextPtr[55:6], S1CDMax[63:59]', () => {
    const [w0] = encodeSte({ V: 1, Config: SteConfig.S1Translate, S1Fmt: 2, S1ContextPtr: 0x4_0000_0040n >> 6n, S1CDMax: 20 });
    expect(w0).toBe(1n | (5n << 1n) | (2n << 4n) | 0x4_0000_0040n | (20n << 59n));
  });

  it('places word-1 fields at bits 64..: S1DSS[65:64], S1CIR/COR/CSH, S1STALLD[91], EATS[93:92], STRW[95:94], SHCFG[109:108]', () => {
    const d = encodeSte({ S1DSS: 2, S1CIR: 1, S1COR: 1, S1CSH: 3, S1STALLD: 1, EATS: 1, STRW: 2, SHCFG: 1, PRIVCFG: 3, INSTCFG: 2, MEV: 1 });
    expect(d[1]).toBe(2n | (1n << 2n) | (1n << 4n) | (3n << 6n) | (1n << 19n) | (1n << 27n) | (1n << 28n) | (2n << 30n) | (1n << 44n) | (3n << 48n) | (2n << 50n));
  });

  it('places word-2 stage 2 fields: S2VMID[143:128], S2T0SZ[165:160] .. S2R[186]', () => {
    const d = encodeSte({ S2VMID: 0x1234, S2T0SZ: 24, S2SL0: 1, S2IR0: 1, S2OR0: 1, S2SH0: 3, S2TG: 2, S2PS: 5, S2AA64: 1, S2ENDI: 1, S2AFFD: 1, S2PTW: 1, S2HD: 1, S2HA: 1, S2S: 1, S2R: 1 });
    expect(d[2]).toBe(0x1234n | (24n << 32n) | (1n << 38n) | (1n << 40n) | (1n << 42n) | (3n << 44n) | (2n << 46n) | (5n << 48n) | (0xffn << 51n));
  });

  it('S2TTB is bits [247:196]: address bits [55:4] in word 3', () => {
    expect(encodeSte({ S2TTB: 0x12_3456_7890n >> 4n })[3]).toBe(0x12_3456_7890n);
    expect(SteLayout.S2TTB.lsb).toBe(196);
  });

  it('decodes what it encodes, and leaves absent fields zero', () => {
    const ste = decodeSte(encodeSte({ V: 1, Config: SteConfig.Nested, S2VMID: 7, S2TTB: 0x100n }));
    expect([ste.V, ste.Config, ste.S2VMID, ste.S2TTB, ste.EATS, ste.S1CDMax]).toEqual([1n, 7n, 7n, 0x100n, 0n, 0n]);
    expect(encodeSte({})).toHaveLength(STE_DWORDS);
  });

  it('5.2 Config encodings: 0b0xx abort (0b001..0b011 reserved), 0b100 bypass, 0b1x1 stage 1, 0b11x stage 2', () => {
    expect(SteConfig).toEqual({ Abort: 0, Bypass: 4, S1Translate: 5, S2Translate: 6, Nested: 7 });
    expect(STE_CONFIG_NAMES[2]).toBe('reserved (abort)');
  });

  it('5.2 S1Fmt: 4 KiB level-2 tables hold 64 CDs, 64 KiB ones 1024', () => {
    expect(S1FMT_L2_BITS).toEqual({ 1: 6, 2: 10 });
  });

  it('STE addresses in a linear table and StreamID split in a 2-level table', () => {
    expect(linearSteAddress(0x1000n, 3)).toBe(0x10c0n);
    expect(splitStreamId(0x1234, 8)).toEqual({ l1: 0x12, l2: 0x34 });
  });
});

describe('5.3 L1CD', () => {
  it('V is bit 0, L2Ptr holds address bits [55:12]', () => {
    expect(encodeL1cd(0x8_0000_3000n)).toBe(0x8_0000_3001n);
    expect(L1cdLayout.L2Ptr.lsb).toBe(12);
  });

  it('SubstreamID splits at bit 6 (S1Fmt 0b01) or bit 10 (S1Fmt 0b10)', () => {
    expect(splitSubstreamId(0x1ff, 1)).toEqual({ l1: 7, l2: 0x3f });
    expect(splitSubstreamId(0x1ff, 2)).toEqual({ l1: 0, l2: 0x1ff });
  });
});

describe('5.4 CD', () => {
  it('places word-0 fields: T0SZ[5:0] .. ASID[63:48]', () => {
    const [w0] = encodeCd({ T0SZ: 25, TG0: 0, IR0: 1, OR0: 1, SH0: 3, EPD1: 1, V: 1, IPS: 5, AFFD: 1, TBI0: 1, AA64: 1, HA: 1, HD: 1, R: 1, A: 1, ASET: 1, ASID: 0xbeef });
    expect(w0).toBe(25n | (1n << 8n) | (1n << 10n) | (3n << 12n) | (1n << 30n) | (1n << 31n) | (5n << 32n) | (1n << 35n) | (1n << 38n) | (1n << 41n) | (1n << 42n) | (1n << 43n) | (1n << 45n) | (1n << 46n) | (1n << 47n) | (0xbeefn << 48n));
  });

  it('T1SZ[21:16], TG1[23:22], EPD0[14], ENDI[15], WXN[36], UWXN[37], TBI1[39], PAN[40], S[44]', () => {
    const [w0] = encodeCd({ T1SZ: 16, TG1: 2, EPD0: 1, ENDI: 1, WXN: 1, UWXN: 1, TBI1: 1, PAN: 1, S: 1 });
    expect(w0).toBe((16n << 16n) | (2n << 22n) | (1n << 14n) | (1n << 15n) | (1n << 36n) | (1n << 37n) | (1n << 39n) | (1n << 40n) | (1n << 44n));
  });

  it('TTB0 is bits [119:68] (address [55:4] in word 1), TTB1 bits [183:132], MAIR in word 3', () => {
    const d = encodeCd({ TTB0: 0x8000_1230n >> 4n, HAD0: 1, TTB1: 0x9000_0000n >> 4n, HAD1: 1, MAIR0: 0x44ff04, MAIR1: 0x1 });
    expect(d[1]).toBe(0x8000_1230n | 2n);
    expect(d[2]).toBe(0x9000_0000n | 2n);
    expect(d[3]).toBe(0x1_0044_ff04n);
    expect(CdLayout.TTB1.lsb).toBe(132);
  });

  it('decodes what it encodes', () => {
    const cd = decodeCd(encodeCd({ V: 1, ASID: 3, TTB0: 0x1234n }));
    expect([cd.V, cd.ASID, cd.TTB0, cd.TTB1]).toEqual([1n, 3n, 0x1234n, 0n]);
    expect(encodeCd({})).toHaveLength(CD_DWORDS);
  });

  it('5.4 TG0 and TG1 encode granules differently (as TCR_EL1)', () => {
    expect([0, 1, 2, 3].map(tg0GranuleLog2)).toEqual([12, 16, 14, 0]);
    expect([0, 1, 2, 3].map(tg1GranuleLog2)).toEqual([0, 14, 12, 16]);
  });
});
