// The IPMMU-VMSA register layout as the Linux and Xen drivers address it (ipmmu_ctx_reg,
// IMUCTR(n)/IMUASID(n) below and above micro-TLB 32, the control registers, the Gen3 and Gen4
// ipmmu_features), the layout checks, the IMSTR decoding, and the compatibles of the binding.

import { describe, expect, it } from 'vitest';
import {
  ContextReg,
  contextRegisterOffset,
  ControlReg,
  controlRegisterOffset,
  describeImstr,
  Imstr,
  imuasidOffset,
  imuctrOffset,
  ipmmuLayoutFor,
  layoutError,
  RCAR_GEN3_LAYOUT,
  RCAR_GEN4_LAYOUT,
  registerWindowSize,
  ttselMask,
} from '../../../src/formats/ipmmu-vmsa/index.js';

describe('register offsets (Linux/Xen ipmmu_ctx_reg, IMUCTR(n), IMUASID(n))', () => {
  it('puts Gen3 contexts at n * 0x40 and contexts 8..15 past the gap at 0x800', () => {
    expect(contextRegisterOffset(RCAR_GEN3_LAYOUT, 0, ContextReg.IMCTR)).toBe(0x0);
    expect(contextRegisterOffset(RCAR_GEN3_LAYOUT, 3, ContextReg.IMSTR)).toBe(0xe0);
    expect(contextRegisterOffset(RCAR_GEN3_LAYOUT, 8, ContextReg.IMCTR)).toBe(0x800);
    expect(contextRegisterOffset(RCAR_GEN3_LAYOUT, 15, ContextReg.IMEUAR)).toBe(0x9f4);
  });

  it('puts micro-TLBs 0..31 at 0x300 + 16n and 32..63 at 0x600 + 16(n - 32); IMUASID 8 bytes after IMUCTR', () => {
    expect(imuctrOffset(RCAR_GEN3_LAYOUT, 0)).toBe(0x300);
    expect(imuctrOffset(RCAR_GEN3_LAYOUT, 31)).toBe(0x4f0);
    expect(imuctrOffset(RCAR_GEN3_LAYOUT, 32)).toBe(0x600);
    expect(imuasidOffset(RCAR_GEN3_LAYOUT, 47)).toBe(0x6f8);
    expect(controlRegisterOffset(RCAR_GEN3_LAYOUT, ControlReg.IMSAUXCTLR)).toBe(0x504);
  });

  it('uses the Gen4 bases and stride (ctx 0x10000 + 0x1040 n, uTLB 0x3000, control 0x1000) and a 5-bit TTSEL', () => {
    expect(contextRegisterOffset(RCAR_GEN4_LAYOUT, 1, ContextReg.IMTTBCR)).toBe(0x11048);
    expect(contextRegisterOffset(RCAR_GEN4_LAYOUT, 8, ContextReg.IMCTR)).toBe(0x10600 + 8 * 0x1040);
    expect(imuctrOffset(RCAR_GEN4_LAYOUT, 40)).toBe(0x3680);
    expect(controlRegisterOffset(RCAR_GEN4_LAYOUT, ControlReg.IMSCTLR)).toBe(0x1500);
    expect(ttselMask(RCAR_GEN4_LAYOUT)).toBe(31 << 4);
    expect(ttselMask(RCAR_GEN3_LAYOUT)).toBe(15 << 4);
    expect(registerWindowSize(RCAR_GEN3_LAYOUT)).toBe(0x1000);
    expect(layoutError(RCAR_GEN4_LAYOUT)).toBeNull();
  });

  it('refuses layouts whose register blocks overlap or that TTSEL cannot address', () => {
    expect(layoutError({ ...RCAR_GEN3_LAYOUT, contexts: 16, utlbs: 64 })).toBeNull(); // 0x600..0x7ff, then contexts 8..15 at 0x800
    expect(registerWindowSize({ ...RCAR_GEN3_LAYOUT, contexts: 16, utlbs: 64 })).toBe(0x1000);
    expect(layoutError({ ...RCAR_GEN3_LAYOUT, contextOffsetStride: 0x80 })).toMatch(/context 6 and micro-TLB 0 overlap \(offset 0x300\)/);
    expect(layoutError({ ...RCAR_GEN4_LAYOUT, ttselBits: 3 })).toMatch(/3-bit IMUCTR.TTSEL/);
    expect(layoutError({ ...RCAR_GEN3_LAYOUT, contexts: 17 })).toMatch(/1 to 16/);
  });
});

describe('IMSTR and the binding', () => {
  it('names the error bits the drivers test (err_mask: MHIT, ABORT, PF, TF)', () => {
    expect(Imstr.ERRORS).toBe(0x17);
    expect(describeImstr(Imstr.TF | Imstr.MHIT | (3 << Imstr.ERRLVL_SHIFT))).toEqual(['translation fault', 'multiple TLB hits']);
    expect(describeImstr(1 << Imstr.ERRCODE_SHIFT)).toEqual([]);
  });

  it('selects the Gen3 or Gen4 layout from the compatible strings Xen matches', () => {
    expect(ipmmuLayoutFor(['renesas,ipmmu-r8a7795'])).toBe(RCAR_GEN3_LAYOUT);
    expect(ipmmuLayoutFor(['vendor,other', 'renesas,ipmmu-r8a779g0'])).toBe(RCAR_GEN4_LAYOUT);
    expect(ipmmuLayoutFor(['renesas,ipmmu-vmsa'])).toBeNull(); // Gen2 is not modelled
  });
});
