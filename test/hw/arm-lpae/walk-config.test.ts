// Walk configurations from translation-control fields: stage 1 from TxSZ/TG0 or TG1/IPS
// (Arm ARM D8.1.7, D8.1.9, Tables D8-6, D8-7, D8-18), stage 2 from T0SZ/SL0/TG0/PS (D8.1.10,
// Tables D8-9, D8-19..D8-41), and the invalid combinations an SMMUv3 reports as C_BAD_CD /
// C_BAD_STE (IHI 0070 5.2 STE.S2T0SZ/S2SL0, 5.4 CD.T0SZ/TG0/TG1).

import { describe, expect, it } from 'vitest';
import { Tg0, Tg1 } from '../../../src/formats/arm-lpae/index.js';
import { stage1WalkConfig, stage2WalkConfig, type Stage1Fields, type Stage2Fields, type VmsaImplementation } from '../../../src/hw/arm-lpae/index.js';

const s1 = (over: Partial<Stage1Fields>): Stage1Fields => ({
  txsz: 16,
  tg: Tg0.Size4K,
  tgField: 0,
  ips: 5,
  bigEndian: false,
  hardwareAccessFlag: false,
  hardwareDirty: false,
  hierarchicalPermissionsDisabled: false,
  ...over,
});
const s2 = (over: Partial<Stage2Fields>): Stage2Fields => ({ t0sz: 24, sl0: 1, tg: Tg0.Size4K, ps: 5, bigEndian: false, hardwareAccessFlag: false, hardwareDirty: false, ...over });
const impl48: VmsaImplementation = { paBits: 48 };

describe('stage 1 walk configuration', () => {
  it('derives granule, input size, start level and output size', () => {
    expect(stage1WalkConfig(s1({ ips: 2, hierarchicalPermissionsDisabled: true }), impl48)).toEqual({
      stage: 1,
      granuleLog2: 12,
      inputBits: 48,
      startLevel: 0,
      concatenated: 1,
      outputBits: 40,
      bigEndian: false,
      hardwareAccessFlag: false,
      hardwareDirty: false,
      hierarchicalPermissionsDisabled: true,
      largePhysicalAddresses: false,
      singlePrivilegeLevel: false,
      writeExecuteNever: false,
    });
  });

  it('reads TG1 with its own encoding (TG1 0b10 is 4 KiB; TG0 0b10 is 16 KiB)', () => {
    const tg1 = stage1WalkConfig(s1({ tg: Tg1.Size4K, tgField: 1, txsz: 25 }), impl48);
    const tg0 = stage1WalkConfig(s1({ tg: 2, tgField: 0, txsz: 25 }), impl48);
    expect(typeof tg1 !== 'string' && [tg1.granuleLog2, tg1.startLevel]).toEqual([12, 1]);
    expect(typeof tg0 !== 'string' && [tg0.granuleLog2, tg0.startLevel]).toEqual([14, 1]);
    expect(stage1WalkConfig(s1({ tg: 0, tgField: 1 }), impl48)).toMatch(/TG1 0 is a reserved encoding/);
    expect(stage1WalkConfig(s1({ tg: 3 }), impl48)).toMatch(/TG0 3 is a reserved encoding/);
    expect(stage1WalkConfig(s1({ tg: Tg0.Size16K }), { paBits: 48, granules: [12, 16] })).toMatch(/16 KiB granule is not supported/);
  });

  it('refuses a TxSZ out of range, or clamps it when so configured (Table D8-7)', () => {
    expect(stage1WalkConfig(s1({ txsz: 40 }), impl48)).toMatch(/T0SZ 40 is outside 16\.\.39/);
    expect(stage1WalkConfig(s1({ txsz: 15 }), impl48)).toMatch(/outside/);
    const clamped = stage1WalkConfig(s1({ txsz: 44 }), { paBits: 48, txszOutOfRange: 'clamp' });
    expect(typeof clamped !== 'string' && [clamped.inputBits, clamped.startLevel]).toEqual([25, 2]);
    const small = stage1WalkConfig(s1({ txsz: 44 }), { paBits: 48, smallTables: true });
    expect(typeof small !== 'string' && [small.inputBits, small.startLevel]).toEqual([20, 3]);
  });

  it('takes 52-bit inputs and outputs with the 64 KiB granule only with FEAT_LVA / FEAT_LPA', () => {
    expect(stage1WalkConfig(s1({ tg: Tg0.Size64K, txsz: 12 }), { paBits: 52 })).toMatch(/outside 16/);
    const big = stage1WalkConfig(s1({ tg: Tg0.Size64K, txsz: 12, ips: 6 }), { paBits: 52, largeVa: true });
    expect(typeof big !== 'string' && [big.inputBits, big.startLevel, big.outputBits, big.largePhysicalAddresses]).toEqual([52, 1, 52, true]);
    const four = stage1WalkConfig(s1({ ips: 6 }), { paBits: 52 });
    expect(typeof four !== 'string' && four.outputBits).toBe(48); // 4 KiB descriptors hold 48 bits
  });
});

describe('stage 2 walk configuration', () => {
  it('derives the start level and concatenation from SL0 and T0SZ (Table D8-22)', () => {
    const c = stage2WalkConfig(s2({}), impl48);
    expect(typeof c !== 'string' && [c.stage, c.inputBits, c.startLevel, c.concatenated, c.outputBits]).toEqual([2, 40, 1, 2, 48]);
    const g16 = stage2WalkConfig(s2({ tg: Tg0.Size16K, t0sz: 16, sl0: 2 }), impl48);
    expect(typeof g16 !== 'string' && [g16.granuleLog2, g16.startLevel, g16.concatenated]).toEqual([14, 1, 2]); // R DXBSH
  });

  it('refuses inconsistent, reserved or unsupported SL0 values and out-of-range T0SZ', () => {
    expect(stage2WalkConfig(s2({ sl0: 0 }), impl48)).toMatch(/inconsistent/); // level 2 cannot resolve 40 bits
    expect(stage2WalkConfig(s2({ tg: Tg0.Size64K, sl0: 3 }), impl48)).toMatch(/reserved/);
    expect(stage2WalkConfig(s2({ t0sz: 16, sl0: 2 }), { paBits: 40 })).toMatch(/T0SZ 16 is outside 24\.\.39/); // Table D8-8
    expect(stage2WalkConfig(s2({ t0sz: 24, sl0: 2 }), { paBits: 36, maxIpaBits: 40 })).toMatch(/PA size of 44/); // Table D8-9
    expect(stage2WalkConfig(s2({ t0sz: 16, sl0: 2 }), { paBits: 48, maxIpaBits: 44 })).toMatch(/T0SZ 16 is outside 20\.\.39/);
    expect(stage2WalkConfig(s2({ tg: 3 }), impl48)).toMatch(/TG 3/);
  });
});
