// The IPMMU-VMSA model's registers as the Linux and Xen drivers use them, over the bus: access
// sizes, reset values, root-only fields (IMCTR.VA64, IMSTR), micro-TLB registers, reset, and
// the parameter checks. (Offsets and layouts: test/formats/ipmmu-vmsa.)

import { describe, expect, it } from 'vitest';
import { decode } from '../../../src/formats/bitfield.js';
import {
  ContextReg,
  contextRegisterOffset,
  Imctr,
  ImctrLayout,
  imuasidOffset,
  Imuctr,
  imuctrOffset,
} from '../../../src/formats/ipmmu-vmsa/index.js';
import { IpmmuParameterError, IpmmuVmsa, resolveIpmmuParameters } from '../../../src/hw/ipmmu-vmsa/index.js';
import { Bench, CACHE0_BASE, ROOT_BASE } from './bench.js';

describe('model parameters', () => {
  it('refuses counts beyond the drivers\u2019 limits and policies or geometries that do not exist', () => {
    expect(() => resolveIpmmuParameters({ utlbs: 65 })).toThrow(IpmmuParameterError);
    expect(() => resolveIpmmuParameters({ utlbDisabled: 'drop' as 'abort' })).toThrow(/bypass/);
    expect(() => resolveIpmmuParameters({ tlbSets: 3 })).toThrow(/power of two/);
  });
});

describe('register accesses', () => {
  it('reads every register as zero after reset, and keeps what is written (32-bit accesses over the bus)', () => {
    const b = new Bench();
    const at = (reg: number, context = 2) => ROOT_BASE + BigInt(contextRegisterOffset(b.root.parameters.layout, context, reg));
    for (const reg of Object.values(ContextReg)) expect(b.bus.access(at(reg), 4, false).value).toBe(0n);
    b.bus.access(at(ContextReg.IMTTBCR), 4, true, 0x8000_4058n);
    b.bus.access(at(ContextReg.IMMAIR0), 4, true, 0x0004_ff44n);
    expect(b.bus.access(at(ContextReg.IMTTBCR), 4, false).value).toBe(0x8000_4058n);
    expect(b.bus.access(at(ContextReg.IMMAIR0), 4, false).value).toBe(0x0004_ff44n);
    expect(b.bus.access(at(ContextReg.IMMAIR0, 3), 4, false).value).toBe(0n);
  });

  it('ignores accesses that are not 32 bits wide (reads return 0)', () => {
    const b = new Bench();
    const off = contextRegisterOffset(b.root.parameters.layout, 1, ContextReg.IMTTBCR);
    b.root.mmioWrite(off, 8, 0xffff_ffff_ffff_ffffn);
    b.root.mmioWrite(off, 2, 0xffffn);
    expect(b.root.read32(off)).toBe(0);
    b.root.write32(off, 0x1234);
    expect(b.root.mmioRead(off, 8)).toBe(0n);
    expect(b.root.mmioRead(off, 1)).toBe(0n);
    expect(b.root.mmioRead(off, 4)).toBe(0x1234n);
    expect(b.root.read32(0xffc)).toBe(0); // no register there
  });

  it('implements VA64 in the root only: a cache IPMMU keeps the common IMCTR fields (Xen IMCTR_COMMON_MASK)', () => {
    const b = new Bench();
    const all = Imctr.VA64 | Imctr.INTEN | Imctr.MMUEN | Imctr.AFE;
    b.setCtx(b.root, 1, ContextReg.IMCTR, all);
    b.setCtx(b.cache0, 1, ContextReg.IMCTR, all);
    expect(decode(ImctrLayout, BigInt(b.ctx(b.root, 1, ContextReg.IMCTR)))).toMatchObject({ VA64: 1n, AFE: 1n, INTEN: 1n, MMUEN: 1n, FLUSH: 0n });
    expect(b.ctx(b.cache0, 1, ContextReg.IMCTR)).toBe(Imctr.INTEN | Imctr.MMUEN);
  });

  it('keeps IMUCTR MMUEN, TTSEL and FIXADD; FLUSH reads 0 and is counted; IMUASID keeps 16 bits', () => {
    const b = new Bench();
    const layout = b.cache0.parameters.layout;
    b.bus.access(CACHE0_BASE + BigInt(imuctrOffset(layout, 40)), 4, true, BigInt((7 << Imuctr.TTSEL_SHIFT) | Imuctr.FLUSH | Imuctr.MMUEN | (0x55 << 16)));
    b.bus.access(CACHE0_BASE + BigInt(imuasidOffset(layout, 40)), 4, true, 0xfff_ffffn);
    expect(b.cache0.read32(imuctrOffset(layout, 40))).toBe((7 << 4) | 1 | (0x55 << 16));
    expect(b.cache0.read32(imuasidOffset(layout, 40))).toBe(0xffff);
    expect(b.cache0.utlbState(40)).toEqual({ enabled: true, context: 7 });
    expect(b.cache0.statistics().microTlbFlushes).toBe(1);
  });

  it('reads IMSTR, IMELAR and IMEUAR of a cache IPMMU as zero: faults are recorded in the root', () => {
    const b = new Bench();
    const t = b.table();
    b.programContext(1, t);
    b.enableUtlb(b.cache0, 0, 1);
    b.translate(b.cache0, 0, 0x9000n);
    expect(b.ctx(b.root, 1, ContextReg.IMELAR)).toBe(0x9000);
    expect(b.ctx(b.cache0, 1, ContextReg.IMSTR)).toBe(0);
    expect(b.ctx(b.cache0, 1, ContextReg.IMELAR)).toBe(0);
  });

  it('returns every register to zero on reset, and empties the TLB', () => {
    const b = new Bench();
    const t = b.table();
    b.map(t, 0x1000n, 0x4800_0000n);
    b.programContext(1, t);
    b.enableUtlb(b.cache0, 0, 1);
    b.translate(b.cache0, 0, 0x1000n);
    b.cache0.reset();
    b.root.reset();
    expect(b.ctx(b.root, 1, ContextReg.IMTTBCR)).toBe(0);
    expect(b.cache0.utlbState(0).enabled).toBe(false);
    expect(b.cache0.tlbEntries()).toEqual([]);
  });

  it('refuses a cache IPMMU with more contexts than its root', () => {
    const b = new Bench({ contexts: 4 });
    expect(() => new IpmmuVmsa({ memory: b.memory, bus: b.bus, root: b.root, contexts: 8 })).toThrow(/contexts/);
  });
});
