// Fault recording and signalling of the IPMMU-VMSA model: IMSTR kinds (TF, PF, ABORT, MHIT)
// with ERRLVL and ERRCODE, the faulting address in IMELAR/IMEUAR, the interrupt raised by the
// root while IMCTR.INTEN is set and an error is pending (Linux/Xen ipmmu_domain_irq), clearing
// by writing 0 (and the error address with it), and faults that arrive while one is pending.

import { describe, expect, it } from 'vitest';
import { decode } from '../../../src/formats/bitfield.js';
import { ContextReg, describeImstr, Imctr, Imstr, ImstrErrorCode, ImstrLayout } from '../../../src/formats/ipmmu-vmsa/index.js';
import { Bench, Prot } from './bench.js';

function bench(options: { inten?: boolean } = {}) {
  const b = new Bench();
  const t = b.table();
  b.map(t, 0x1000n, 0x4800_0000n, { prot: Prot.READ });
  b.programContext(4, t, options);
  b.enableUtlb(b.cache1, 12, 4);
  return { b, t };
}

describe('IMSTR, IMELAR/IMEUAR', () => {
  it('records a permission fault with ERRCODE access permission and ERRLVL of the leaf, and its full address', () => {
    const { b } = bench();
    expect(b.translate(b.cache1, 12, 0x1abcn, true).outcome).toBe('fault');
    const imstr = b.ctx(b.root, 4, ContextReg.IMSTR);
    expect(decode(ImstrLayout, BigInt(imstr))).toMatchObject({ PF: 1n, TF: 0n, ERRCODE: BigInt(ImstrErrorCode.AccessPermission), ERRLVL: 3n });
    expect(describeImstr(imstr)).toEqual(['permission fault']);
    expect(b.ctx(b.root, 4, ContextReg.IMELAR)).toBe(0x1abc);
    expect(b.ctx(b.root, 4, ContextReg.IMEUAR)).toBe(0);
  });

  it('puts address bits [63:32] in IMEUAR', () => {
    const { b } = bench();
    b.translate(b.cache1, 12, 0xab_1234_5678n);
    expect(b.ctx(b.root, 4, ContextReg.IMELAR)).toBe(0x1234_5678);
    expect(b.ctx(b.root, 4, ContextReg.IMEUAR)).toBe(0xab);
  });

  it('records a walk abort when a descriptor read fails (IMSTR.ABORT)', () => {
    const { b, t } = bench();
    b.memory.markAccessFault(t.rootAddress, 0x2000n);
    expect(b.translate(b.cache1, 12, 0x1000n)).toMatchObject({ outcome: 'fault', fault: Imstr.ABORT });
    expect(b.ctx(b.root, 4, ContextReg.IMSTR) & Imstr.ERRORS).toBe(Imstr.ABORT);
    expect(b.root.statistics().faults.walkAbort).toBe(1);
  });

  it('keeps the first fault: a later one ORs its kind into IMSTR but not its address, and is counted', () => {
    const { b } = bench();
    b.translate(b.cache1, 12, 0x1000n, true); // PF at 0x1000
    b.translate(b.cache1, 12, 0x5000n); // TF at 0x5000
    const imstr = b.ctx(b.root, 4, ContextReg.IMSTR);
    expect(imstr & Imstr.ERRORS).toBe(Imstr.PF | Imstr.TF);
    expect((imstr & Imstr.ERRCODE_MASK) >> Imstr.ERRCODE_SHIFT).toBe(ImstrErrorCode.AccessPermission);
    expect(b.ctx(b.root, 4, ContextReg.IMELAR)).toBe(0x1000);
    expect(b.root.statistics().contexts[4].faults).toMatchObject({ permission: 1, translation: 1, whilePending: 1 });
  });

  it('clears with a write of 0, which also clears the error address; writing the value read back keeps it', () => {
    const { b } = bench();
    b.translate(b.cache1, 12, 0x3000n);
    const imstr = b.ctx(b.root, 4, ContextReg.IMSTR);
    b.setCtx(b.root, 4, ContextReg.IMSTR, imstr);
    expect(b.ctx(b.root, 4, ContextReg.IMSTR)).toBe(imstr);
    b.setCtx(b.root, 4, ContextReg.IMSTR, 0);
    expect(b.ctx(b.root, 4, ContextReg.IMSTR)).toBe(0);
    expect(b.ctx(b.root, 4, ContextReg.IMELAR)).toBe(0);
    // IMELAR is read-only.
    b.setCtx(b.root, 4, ContextReg.IMELAR, 0x1234);
    expect(b.ctx(b.root, 4, ContextReg.IMELAR)).toBe(0);
  });
});

describe('the fault interrupt of the root (level, IMCTR.INTEN)', () => {
  it('is asserted while an error is pending in a context with INTEN, and drops when IMSTR is cleared', () => {
    const { b } = bench();
    expect(b.root.irq.asserted).toBe(false);
    b.translate(b.cache1, 12, 0x7000n);
    expect(b.root.irq.asserted).toBe(true);
    expect(b.cache1.irq.asserted).toBe(false); // cache IPMMUs signal nothing
    b.setCtx(b.root, 4, ContextReg.IMSTR, 0);
    expect(b.root.irq.asserted).toBe(false);
    expect(b.root.irq.rises).toBe(1);
  });

  it('stays low without INTEN, and rises when INTEN is set with an error pending', () => {
    const { b } = bench({ inten: false });
    b.translate(b.cache1, 12, 0x7000n);
    expect(b.ctx(b.root, 4, ContextReg.IMSTR) & Imstr.TF).toBe(Imstr.TF);
    expect(b.root.irq.asserted).toBe(false);
    b.setCtx(b.root, 4, ContextReg.IMCTR, b.ctx(b.root, 4, ContextReg.IMCTR) | Imctr.INTEN);
    expect(b.root.irq.asserted).toBe(true);
  });

  it('does not fault a transaction the policy bypasses or aborts', () => {
    const { b } = bench();
    b.translate(b.cache1, 13, 0x7000n); // micro-TLB 13 is disabled: bypassed
    expect(b.ctx(b.root, 4, ContextReg.IMSTR)).toBe(0);
    expect(b.root.irq.asserted).toBe(false);
  });
});
