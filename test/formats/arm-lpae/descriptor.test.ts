// VMSAv8-64 descriptor formats (Arm ARM D8.3.1, Tables D8-48, D8-50..D8-53) and the permission
// and attribute encodings (D8.4.1.2, D8.4.2, D8.6): descriptor types per level, address fields
// per granule (with FEAT_LPA's bits [15:12]), attribute round trips, the half-word constants
// against the layouts, and the Direct-permission tables D8-62..D8-66 and D8-76..D8-78.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decode } from '../../../src/formats/bitfield.js';
import {
  Ap,
  applyApTable,
  DescHi,
  DescLo,
  descriptorType,
  isDeviceMairAttr,
  leafDescriptor,
  leafOutputAddress,
  levelShift,
  MairAttr,
  mairAttr,
  mairValue,
  nextTableAddress,
  Perm,
  permits,
  S2MemAttr,
  s2MemAttrType,
  Stage1LeafLayout,
  Stage1TableLayout,
  stage1Permissions,
  Stage2LeafLayout,
  stage2Permissions,
  tableDescriptor,
  type GranuleLog2,
} from '../../../src/formats/arm-lpae/index.js';

describe('descriptor type (Table D8-48)', () => {
  it('reads bits[1:0] per level: invalid, block, table, page, reserved', () => {
    expect(descriptorType(0b10n, 12, 1, false)).toBe('invalid');
    expect(descriptorType(0b01n, 12, 1, false)).toBe('block');
    expect(descriptorType(0b11n, 12, 2, false)).toBe('table');
    expect(descriptorType(0b11n, 12, 3, false)).toBe('page');
    expect(descriptorType(0b01n, 12, 3, false)).toBe('invalid'); // reserved at level 3
    expect(descriptorType(0b01n, 12, 0, false)).toBe('invalid'); // no 512 GiB blocks without FEAT_LPA2
    expect(descriptorType(0b01n, 14, 1, true)).toBe('invalid'); // no 64 GiB blocks
    expect(descriptorType(0b01n, 16, 1, false)).toBe('invalid');
    expect(descriptorType(0b01n, 16, 1, true)).toBe('block'); // 4 TiB with FEAT_LPA
  });
});

describe('address fields (Figures D8-12, D8-14, D8-15)', () => {
  const granules: GranuleLog2[] = [12, 14, 16];

  it('round-trips next-level table addresses: bits [47:granule], [51:48] in bits [15:12] with 64 KiB + LPA', () => {
    fc.assert(
      fc.property(fc.constantFrom(...granules), fc.bigInt({ min: 0n, max: (1n << 52n) - 1n }), (g, raw) => {
        const lpa = g === 16;
        const address = (raw >> BigInt(g)) << BigInt(g) & (lpa ? (1n << 52n) - 1n : (1n << 48n) - 1n);
        const desc = tableDescriptor(address, g, lpa);
        expect(nextTableAddress(desc, g, lpa)).toBe(address);
        expect(descriptorType(desc, g, 2, lpa)).toBe('table');
        if (lpa) expect((desc >> 12n) & 0xfn).toBe(address >> 48n);
      }),
    );
  });

  it('round-trips leaf output addresses at every leaf level, with their attributes', () => {
    const cases: [GranuleLog2, number][] = [
      [12, 1],
      [12, 2],
      [12, 3],
      [14, 2],
      [14, 3],
      [16, 1],
      [16, 2],
      [16, 3],
    ];
    fc.assert(
      fc.property(
        fc.constantFrom(...cases),
        fc.bigInt({ min: 0n, max: (1n << 52n) - 1n }),
        fc.record({ AttrIndx: fc.nat(7), AP: fc.nat(3), SH: fc.nat(3), AF: fc.nat(1), nG: fc.nat(1), DBM: fc.nat(1), Contiguous: fc.nat(1), PXN: fc.nat(1), UXN: fc.nat(1) }),
        ([g, level], raw, attrs) => {
          const shift = BigInt(levelShift(g, level));
          const address = ((raw >> shift) << shift) & ((1n << 52n) - 1n);
          const lpa = g === 16;
          const fits = lpa || address < 1n << 48n;
          if (!fits) {
            expect(() => leafDescriptor(1, g, level, address, lpa, attrs)).toThrow(RangeError);
            return;
          }
          const desc = leafDescriptor(1, g, level, address, lpa, attrs);
          expect(leafOutputAddress(desc, g, level, lpa)).toBe(address);
          expect(descriptorType(desc, g, level, lpa)).toBe(level === 3 ? 'page' : 'block');
          expect(decode(Stage1LeafLayout, desc)).toMatchObject(Object.fromEntries(Object.entries(attrs).map(([k, v]) => [k, BigInt(v)])));
        },
      ),
    );
  });

  it('refuses misaligned addresses and blocks where the granule has none', () => {
    expect(() => leafDescriptor(2, 12, 2, 0x1000n, false, {})).toThrow(/aligned/);
    expect(() => leafDescriptor(2, 14, 1, 0n, false, {})).toThrow(/no block/);
    expect(() => tableDescriptor(1n << 48n, 12, false)).toThrow(/48 bits/);
  });
});

describe('half-word constants match the layouts (Tables D8-50, D8-52, D8-53)', () => {
  const bit = (n: number) => 1n << BigInt(n);
  const lo = (mask: number) => BigInt(mask >>> 0);
  const hi = (mask: number) => BigInt(mask >>> 0) << 32n;
  it('places every field where the layout does', () => {
    expect(lo(DescLo.AF)).toBe(bit(Stage1LeafLayout.AF.lsb));
    expect(lo(DescLo.NG)).toBe(bit(Stage1LeafLayout.nG.lsb));
    expect(lo(DescLo.NS)).toBe(bit(Stage1LeafLayout.NS.lsb));
    expect(DescLo.AP_SHIFT).toBe(Stage1LeafLayout.AP.lsb);
    expect(DescLo.SH_SHIFT).toBe(Stage1LeafLayout.SH.lsb);
    expect(DescLo.ATTR_INDX_SHIFT).toBe(Stage1LeafLayout.AttrIndx.lsb);
    expect(DescLo.MEM_ATTR_SHIFT).toBe(Stage2LeafLayout.MemAttr.lsb);
    expect(hi(DescHi.DBM)).toBe(bit(Stage1LeafLayout.DBM.lsb));
    expect(hi(DescHi.CONTIGUOUS)).toBe(bit(Stage1LeafLayout.Contiguous.lsb));
    expect(hi(DescHi.PXN)).toBe(bit(Stage1LeafLayout.PXN.lsb));
    expect(hi(DescHi.UXN)).toBe(bit(Stage1LeafLayout.UXN.lsb));
    expect(DescHi.S2_XN_SHIFT + 32).toBe(Stage2LeafLayout.XN.lsb);
    expect(hi(DescHi.PXN_TABLE)).toBe(bit(Stage1TableLayout.PXNTable.lsb));
    expect(hi(DescHi.XN_TABLE)).toBe(bit(Stage1TableLayout.XNTable.lsb));
    expect(DescHi.AP_TABLE_SHIFT + 32).toBe(Stage1TableLayout.APTable.lsb);
    expect(hi(DescHi.NS_TABLE)).toBe(bit(Stage1TableLayout.NSTable.lsb));
  });
});

describe('stage 1 Direct permissions (Tables D8-63..D8-66)', () => {
  const P = Perm;
  it('follows Table D8-65 for every UXN, PXN, AP[2:1] (WXN 0)', () => {
    // [UXN, PXN, AP, permissions]
    const rows: [number, number, number, number][] = [
      [0, 0, 0, P.PrivRead | P.PrivWrite | P.PrivExec | P.UnprivExec],
      [0, 0, 1, P.PrivRead | P.PrivWrite | P.UnprivRead | P.UnprivWrite | P.UnprivExec],
      [0, 0, 2, P.PrivRead | P.PrivExec | P.UnprivExec],
      [0, 0, 3, P.PrivRead | P.PrivExec | P.UnprivRead | P.UnprivExec],
      [0, 1, 0, P.PrivRead | P.PrivWrite | P.UnprivExec],
      [0, 1, 1, P.PrivRead | P.PrivWrite | P.UnprivRead | P.UnprivWrite | P.UnprivExec],
      [0, 1, 2, P.PrivRead | P.UnprivExec],
      [0, 1, 3, P.PrivRead | P.UnprivRead | P.UnprivExec],
      [1, 0, 0, P.PrivRead | P.PrivWrite | P.PrivExec],
      [1, 0, 1, P.PrivRead | P.PrivWrite | P.UnprivRead | P.UnprivWrite],
      [1, 0, 2, P.PrivRead | P.PrivExec],
      [1, 0, 3, P.PrivRead | P.PrivExec | P.UnprivRead],
      [1, 1, 0, P.PrivRead | P.PrivWrite],
      [1, 1, 1, P.PrivRead | P.PrivWrite | P.UnprivRead | P.UnprivWrite],
      [1, 1, 2, P.PrivRead],
      [1, 1, 3, P.PrivRead | P.UnprivRead],
    ];
    for (const [uxn, pxn, ap, perms] of rows) expect(stage1Permissions(ap, uxn === 1, pxn === 1, false, false, false), `UXN ${uxn} PXN ${pxn} AP ${ap}`).toBe(perms);
  });

  it('applies WXN (Table D8-65 rows with WXN 1) and treats writable-clean as writable for execute (R RNKLQN)', () => {
    expect(stage1Permissions(Ap.PrivReadWrite, false, false, false, true, false)).toBe(P.PrivRead | P.PrivWrite | P.UnprivExec);
    expect(stage1Permissions(Ap.ReadWrite, false, false, false, true, false)).toBe(P.PrivRead | P.PrivWrite | P.UnprivRead | P.UnprivWrite);
    // AP 11 with DBM under hardware dirty management: unprivileged writable-clean, so no PrivExec.
    expect(stage1Permissions(Ap.ReadOnly, false, false, false, false, true)).toBe(P.PrivRead | P.UnprivRead | P.UnprivExec);
  });

  it('has one privilege level in EL2/EL3 regimes (Table D8-66)', () => {
    expect(stage1Permissions(0, false, false, true, false, false)).toBe(P.PrivRead | P.PrivWrite | P.PrivExec);
    expect(stage1Permissions(2, false, true, true, false, false)).toBe(P.PrivRead | P.PrivExec); // PXN does not exist
    expect(stage1Permissions(2, true, false, true, false, false)).toBe(P.PrivRead);
    expect(stage1Permissions(0, false, false, true, true, false)).toBe(P.PrivRead | P.PrivWrite);
  });

  it('limits later levels by APTable (Table D8-64)', () => {
    expect([0, 1, 2, 3].map((t) => applyApTable(Ap.ReadWrite, t))).toEqual([Ap.ReadWrite, Ap.PrivReadWrite, Ap.ReadOnly, Ap.PrivReadOnly]);
    expect(applyApTable(Ap.PrivReadOnly, 0)).toBe(Ap.PrivReadOnly);
  });

  it('checks an access against its privilege', () => {
    const perms = stage1Permissions(Ap.ReadOnly, true, false, false, false, false);
    expect(permits(perms, false, true, false, false)).toBe(true);
    expect(permits(perms, false, true, true, false)).toBe(false);
    expect(permits(perms, false, false, false, true)).toBe(false); // UXN
    expect(permits(perms, true, true, false, true)).toBe(true);
  });
});

describe('stage 2 Direct permissions (Tables D8-76..D8-78)', () => {
  it('grants S2AP read/write at both privileges', () => {
    expect([0, 1, 2, 3].map((ap) => stage2Permissions(ap, 2, false))).toEqual([0, Perm.PrivRead | Perm.UnprivRead, Perm.PrivWrite | Perm.UnprivWrite, Perm.PrivRead | Perm.UnprivRead | Perm.PrivWrite | Perm.UnprivWrite]);
  });

  it('reads XN[1] alone without FEAT_XNX and XN[1:0] with it', () => {
    const exec = (xn: number, xnx: boolean) => stage2Permissions(0, xn, xnx) & (Perm.PrivExec | Perm.UnprivExec);
    expect([0, 1, 2, 3].map((xn) => exec(xn, false))).toEqual([Perm.PrivExec | Perm.UnprivExec, Perm.PrivExec | Perm.UnprivExec, 0, 0]);
    expect([0, 1, 2, 3].map((xn) => exec(xn, true))).toEqual([Perm.PrivExec | Perm.UnprivExec, Perm.UnprivExec, 0, Perm.PrivExec]);
  });
});

describe('memory attributes (D8.6, Table D8-96)', () => {
  it('builds MAIR values and reads attributes back', () => {
    const mair = mairValue([MairAttr.NormalNonCacheable, MairAttr.NormalWriteBack, MairAttr.DeviceNGnRE, MairAttr.NormalInnerNcOuterWriteBack]);
    expect(mair).toBe(0xf404ff44n);
    expect([0, 1, 2, 3].map((i) => mairAttr(mair, i))).toEqual([0x44, 0xff, 0x04, 0xf4]);
    expect(isDeviceMairAttr(mairAttr(mair, 2))).toBe(true);
    expect(isDeviceMairAttr(mairAttr(mair, 1))).toBe(false);
    expect(() => mairValue([0x100])).toThrow(RangeError);
  });

  it('classifies stage-2 MemAttr values', () => {
    expect(s2MemAttrType(S2MemAttr.DeviceNGnRE)).toBe('device');
    expect(s2MemAttrType(S2MemAttr.NormalWriteBack)).toBe('normal');
    expect(s2MemAttrType(S2MemAttr.NormalNonCacheable)).toBe('normal');
    expect([0x4, 0x8, 0xc].map(s2MemAttrType)).toEqual(['reserved', 'reserved', 'reserved']);
  });
});
