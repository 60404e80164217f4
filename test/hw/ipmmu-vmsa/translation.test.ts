// Translation by the IPMMU-VMSA model, driven through registers and memory only: a master's
// micro-TLB in a cache IPMMU selects a context of the root IPMMU-MM (Linux/Xen ipmmu_utlb_enable:
// IMUCTR.TTSEL), whose table base and control registers drive a VMSAv8-64 walk (stage-2 format
// with IMSAUXCTLR.S2PTE as Xen programs it, Arm ARM D8.2; the Gen3 stage-1 format as Linux
// programs it). TLBs at both levels, flushed per context and per IPMMU by IMCTR.FLUSH.

import { describe, expect, it } from 'vitest';
import { ContextReg, Imctr, Imstr, Imttbcr, ImttbcrSl0, Imuctr, imuctrOffset } from '../../../src/formats/ipmmu-vmsa/index.js';
import { IpmmuRecordingTracer } from '../../../src/hw/ipmmu-vmsa/index.js';
import { ArmLpaeIoPgtable } from '../../../src/os/io-pgtable/arm-lpae.js';
import { PageAllocator } from '../../../src/os/kernel/page-allocator.js';
import { Bench, Prot } from './bench.js';

describe('stage-2 translation through a cache IPMMU (Xen: IMSAUXCTLR.S2PTE, IMTTBCR SL0 level 1, TSZ0 = 64 - 40)', () => {
  it('translates a 4 KiB page, a 2 MiB block and a 1 GiB block of the P2M, three levels from level 1', () => {
    const b = new Bench();
    const t = b.table();
    expect(t.startLevel).toBe(1);
    expect(t.concatenatedTables).toBe(2); // 40-bit IPA: two level-1 tables (Arm ARM D8.2.2)
    b.map(t, 0x4000_1000n, 0x4800_0000n);
    b.map(t, 0x8020_0000n, 0x4860_0000n, { pageLog2: 21 });
    b.map(t, 0x80_c000_0000n, 0x4000_0000n, { pageLog2: 30 });
    b.programContext(2, t);
    b.enableUtlb(b.cache0, 5, 2);
    expect(b.translate(b.cache0, 5, 0x4000_1234n)).toEqual({ outcome: 'translated', address: 0x4800_0234n, fault: 0 });
    expect(b.translate(b.cache0, 5, 0x8033_3008n, true).address).toBe(0x4873_3008n);
    expect(b.translate(b.cache0, 5, 0x80_c123_4567n).address).toBe(0x4123_4567n);
    // The walks read 3, 2 and 1 descriptors below the start level's (one walk each).
    const ctx = b.root.statistics().contexts[2];
    expect(ctx.walks).toBe(3);
    expect(ctx.descriptorReads).toBe(3 + 2 + 1);
  });

  it('faults an unmapped IPA and an IPA beyond the 40-bit input (IMSTR.TF, level 0 for the latter, D8.1.9)', () => {
    const b = new Bench();
    const t = b.table();
    b.programContext(1, t);
    b.enableUtlb(b.cache0, 0, 1);
    expect(b.translate(b.cache0, 0, 0x1234_5000n)).toMatchObject({ outcome: 'fault', fault: Imstr.TF });
    expect(b.ctx(b.root, 1, ContextReg.IMSTR) & Imstr.ERRLVL_MASK).toBe(1 << Imstr.ERRLVL_SHIFT); // the level-1 entry is invalid
    b.setCtx(b.root, 1, ContextReg.IMSTR, 0);
    expect(b.translate(b.cache0, 0, 1n << 40n).outcome).toBe('fault');
    expect(b.ctx(b.root, 1, ContextReg.IMSTR)).toBe(Imstr.TF | (1 << Imstr.ERRCODE_SHIFT));
  });

  it('checks S2AP: a read-only page faults a write (IMSTR.PF) and a write-only page a read', () => {
    const b = new Bench();
    const t = b.table();
    b.map(t, 0x1000n, 0x4800_0000n, { prot: Prot.READ });
    b.map(t, 0x2000n, 0x4800_1000n, { prot: Prot.WRITE });
    b.programContext(1, t);
    b.enableUtlb(b.cache0, 0, 1);
    expect(b.translate(b.cache0, 0, 0x1000n).outcome).toBe('translated');
    expect(b.translate(b.cache0, 0, 0x1000n, true)).toMatchObject({ outcome: 'fault', fault: Imstr.PF });
    b.setCtx(b.root, 1, ContextReg.IMSTR, 0);
    expect(b.translate(b.cache0, 0, 0x2000n, true).outcome).toBe('translated');
    expect(b.translate(b.cache0, 0, 0x2000n)).toMatchObject({ outcome: 'fault', fault: Imstr.PF });
  });

  it('keeps contexts apart: two micro-TLBs on two contexts see two address spaces', () => {
    const b = new Bench();
    const a = b.table();
    const c = b.table();
    b.map(a, 0x4000_0000n, 0x4800_0000n);
    b.map(c, 0x4000_0000n, 0x4900_0000n);
    b.programContext(1, a);
    b.programContext(2, c);
    b.enableUtlb(b.cache0, 3, 1);
    b.enableUtlb(b.cache1, 3, 2);
    expect(b.translate(b.cache0, 3, 0x4000_0010n).address).toBe(0x4800_0010n);
    expect(b.translate(b.cache1, 3, 0x4000_0010n).address).toBe(0x4900_0010n);
    // Same page, same micro-TLB number, different contexts: no entry of one context serves the other.
    b.enableUtlb(b.cache0, 3, 2);
    expect(b.translate(b.cache0, 3, 0x4000_0010n).address).toBe(0x4900_0010n);
  });

  it('ignores IMTTBCR and table registers of a cache IPMMU: translation uses the root context bank', () => {
    const b = new Bench();
    const t = b.table();
    b.map(t, 0x5000n, 0x4800_5000n);
    b.programContext(1, t);
    b.setCtx(b.cache0, 1, ContextReg.IMTTBCR, 0);
    b.setCtx(b.cache0, 1, ContextReg.IMTTLBR0, 0xdead_0000);
    b.enableUtlb(b.cache0, 1, 1);
    expect(b.translate(b.cache0, 1, 0x5000n).address).toBe(0x4800_5000n);
  });

  it('walks with a table base anywhere in the 40-bit PA space (IMTTUBR0 holds bits [39:32])', () => {
    const b = new Bench();
    const highPages = new PageAllocator(b.memory);
    highPages.addRange(0x80_0000_0000n, 0x10_0000n);
    const high = new ArmLpaeIoPgtable({
      format: 'ARM_64_LPAE_S2',
      granuleLog2: 12,
      ias: 40,
      oas: 40,
      memory: b.memory,
      allocTable: (n) => highPages.allocPages(n, n),
      freeTable: (p, n) => highPages.freePages(p, n),
    });
    expect(high.rootAddress >> 32n).toBe(0x80n);
    b.map(high, 0x7000n, 0x4800_7000n);
    b.programContext(1, high);
    expect(b.ctx(b.root, 1, ContextReg.IMTTUBR0)).toBe(0x80);
    b.enableUtlb(b.cache0, 2, 1);
    expect(b.translate(b.cache0, 2, 0x7000n).address).toBe(0x4800_7000n);
  });
});

describe('the Gen3 stage-1 format (Linux: IMSAUXCTLR.S2PTE 0, IMTTBCR EAE | two-bit SL0 level 1, TSZ0 0)', () => {
  it('translates through a 32-bit ARM_32_LPAE_S1-style table, with AP read-only enforced', () => {
    const b = new Bench();
    const t = b.table('ARM_64_LPAE_S1');
    expect(t.startLevel).toBe(1);
    b.map(t, 0x1000_0000n, 0x4800_0000n);
    b.map(t, 0x1000_1000n, 0x4800_1000n, { prot: Prot.READ });
    b.programContext(0, t);
    b.enableUtlb(b.cache0, 7, 0);
    expect(b.translate(b.cache0, 7, 0x1000_0abcn, true).address).toBe(0x4800_0abcn);
    expect(b.translate(b.cache0, 7, 0x1000_1000n).address).toBe(0x4800_1000n);
    expect(b.translate(b.cache0, 7, 0x1000_1000n, true)).toMatchObject({ outcome: 'fault', fault: Imstr.PF });
  });

  it('faults every translation when SL0 names a level the input size does not start at (level 0 TF)', () => {
    const b = new Bench();
    const t = b.table('ARM_64_LPAE_S1');
    b.map(t, 0x1000n, 0x4800_0000n);
    b.programContext(0, t);
    b.setCtx(b.root, 0, ContextReg.IMTTBCR, (Imttbcr.EAE | (ImttbcrSl0.Stage1Level2 << Imttbcr.SL0_SHIFT)) >>> 0);
    b.enableUtlb(b.cache0, 0, 0);
    expect(b.translate(b.cache0, 0, 0x1000n).outcome).toBe('fault');
    expect(b.ctx(b.root, 0, ContextReg.IMSTR) & Imstr.ERRLVL_MASK).toBe(0);
  });
});

describe('contexts the tables cannot be walked with', () => {
  it.each([
    ['the short-descriptor format (EAE 0)', ImttbcrSl0.Stage2Level1 << Imttbcr.SL0_SHIFT | 24],
    ['SL0 level 2 with a 40-bit IPA (more than 16 concatenated tables)', (Imttbcr.EAE | (ImttbcrSl0.Stage2Level2 << Imttbcr.SL0_SHIFT) | 24) >>> 0],
    ['TSZ0 below 24 (an IPA wider than 40 bits)', (Imttbcr.EAE | (ImttbcrSl0.Stage2Level1 << Imttbcr.SL0_SHIFT) | 20) >>> 0],
  ])('faults every translation with %s (IMSTR.TF, level 0)', (_name, ttbcr) => {
    const b = new Bench();
    const t = b.table();
    b.map(t, 0x1000n, 0x4800_0000n);
    b.programContext(1, t);
    b.setCtx(b.root, 1, ContextReg.IMTTBCR, ttbcr);
    b.enableUtlb(b.cache0, 0, 1);
    expect(b.translate(b.cache0, 0, 0x1000n)).toMatchObject({ outcome: 'fault', fault: Imstr.TF });
    expect(b.ctx(b.root, 1, ContextReg.IMSTR) & Imstr.ERRLVL_MASK).toBe(0);
  });
});

describe('micro-TLB and context enables (parameters utlbDisabled, contextDisabled)', () => {
  function mapped(options = {}) {
    const b = new Bench(options);
    const t = b.table();
    b.map(t, 0x1000n, 0x4800_0000n);
    b.programContext(1, t);
    return b;
  }

  it('bypasses a disabled micro-TLB by default: the address is used as is, nothing recorded', () => {
    const b = mapped();
    expect(b.translate(b.cache0, 4, 0x4800_2345n)).toEqual({ outcome: 'bypassed', address: 0x4800_2345n, fault: 0 });
    expect(b.ctx(b.root, 1, ContextReg.IMSTR)).toBe(0);
    expect(b.cache0.statistics().bypassed).toBe(1);
  });

  it("aborts a disabled micro-TLB's transactions with utlbDisabled 'abort', without a fault record", () => {
    const b = mapped({ utlbDisabled: 'abort' });
    expect(b.translate(b.cache0, 4, 0x1000n)).toEqual({ outcome: 'aborted', address: null, fault: 0 });
    expect(b.cache0.statistics().aborts.utlbDisabled).toBe(1);
    expect(b.root.irq.asserted).toBe(false);
  });

  it('applies contextDisabled when the context is off in the root or in the cache IPMMU', () => {
    for (const policy of ['bypass', 'abort'] as const) {
      const b = mapped({ contextDisabled: policy });
      b.enableUtlb(b.cache0, 0, 1);
      expect(b.translate(b.cache0, 0, 0x1000n).address).toBe(0x4800_0000n);
      b.setCtx(b.cache0, 1, ContextReg.IMCTR, 0);
      expect(b.translate(b.cache0, 0, 0x1000n).outcome).toBe(policy === 'bypass' ? 'bypassed' : 'aborted');
      b.setCtx(b.cache0, 1, ContextReg.IMCTR, Imctr.MMUEN);
      b.setCtx(b.root, 1, ContextReg.IMCTR, Imctr.VA64);
      expect(b.translate(b.cache0, 0, 0x1000n).outcome).toBe(policy === 'bypass' ? 'bypassed' : 'aborted');
    }
  });

  it('aborts a micro-TLB whose TTSEL names a context the root lacks, and an id that is no micro-TLB', () => {
    const b = new Bench({ contexts: 4 });
    b.cache0.write32(imuctrOffset(b.cache0.parameters.layout, 0), (6 << Imuctr.TTSEL_SHIFT) | Imuctr.MMUEN);
    expect(b.translate(b.cache0, 0, 0x1000n).outcome).toBe('aborted');
    expect(b.translate(b.cache0, 48, 0x1000n).outcome).toBe('aborted');
    expect(b.cache0.statistics().aborts).toMatchObject({ invalidContext: 1, invalidUtlb: 1 });
  });
});

describe('TLBs: the cache IPMMU TLB, the root main TLB, and IMCTR.FLUSH per context and per IPMMU', () => {
  it('counts a miss and a walk, then hits; a second cache IPMMU misses its own TLB but hits the root main TLB', () => {
    const b = new Bench();
    const t = b.table();
    b.map(t, 0x1000n, 0x4800_0000n);
    b.programContext(1, t);
    b.enableUtlb(b.cache0, 0, 1);
    b.enableUtlb(b.cache1, 0, 1);
    b.translate(b.cache0, 0, 0x1000n);
    b.translate(b.cache0, 0, 0x1008n);
    b.translate(b.cache1, 0, 0x1010n);
    expect(b.cache0.statistics().contexts[1]).toMatchObject({ translations: 2, tlbHits: 1, tlbMisses: 1 });
    expect(b.cache1.statistics().contexts[1]).toMatchObject({ translations: 1, tlbHits: 0, tlbMisses: 1 });
    expect(b.root.statistics().contexts[1]).toMatchObject({ walks: 1, tlbHits: 1, tlbMisses: 1 });
  });

  it('serves a stale translation after a table change until both the cache and the root are flushed', () => {
    const b = new Bench();
    const t = b.table();
    b.map(t, 0x1000n, 0x4800_0000n);
    b.programContext(1, t);
    b.enableUtlb(b.cache0, 0, 1);
    expect(b.translate(b.cache0, 0, 0x1000n).address).toBe(0x4800_0000n);
    b.unmap(t, 0x1000n);
    b.map(t, 0x1000n, 0x4900_0000n);
    expect(b.translate(b.cache0, 0, 0x1000n).address).toBe(0x4800_0000n); // stale, no flush yet
    b.flush(1, b.root);
    expect(b.translate(b.cache0, 0, 0x1000n).address).toBe(0x4800_0000n); // the cache IPMMU still holds it
    b.flush(1, b.cache0);
    expect(b.translate(b.cache0, 0, 0x1000n).address).toBe(0x4900_0000n);
    expect(b.ctx(b.root, 1, ContextReg.IMCTR) & Imctr.FLUSH).toBe(0); // the flush has completed
    expect(b.cache0.statistics().contexts[1]).toMatchObject({ flushes: 2, entriesFlushed: 1 }); // programContext's flush found nothing
  });

  it('flushes only the written context', () => {
    const b = new Bench();
    const t = b.table();
    b.map(t, 0x1000n, 0x4800_0000n);
    b.programContext(1, t);
    b.programContext(2, t);
    b.enableUtlb(b.cache0, 0, 1);
    b.enableUtlb(b.cache0, 1, 2);
    b.translate(b.cache0, 0, 0x1000n);
    b.translate(b.cache0, 1, 0x1000n);
    b.flush(2, b.cache0, b.root);
    expect(b.cache0.tlbEntries().map((e) => e.context)).toEqual([1]);
  });

  it('reports a multiple TLB hit when a block replaced pages without a flush (IMSTR.MHIT)', () => {
    const b = new Bench();
    const t = b.table();
    b.map(t, 0x20_0000n, 0x4800_0000n);
    b.programContext(1, t);
    b.enableUtlb(b.cache0, 0, 1);
    expect(b.translate(b.cache0, 0, 0x20_0000n).address).toBe(0x4800_0000n); // a 4 KiB entry
    expect(b.unmap(t, 0x20_0000n)).toBe(4096);
    b.map(t, 0x20_0000n, 0x4840_0000n, { pageLog2: 21 });
    expect(b.translate(b.cache0, 0, 0x20_1000n).address).toBe(0x4840_1000n); // misses the 4 KiB entry: a 2 MiB entry too
    expect(b.translate(b.cache0, 0, 0x20_0040n)).toMatchObject({ outcome: 'fault', fault: Imstr.MHIT });
    expect(b.ctx(b.root, 1, ContextReg.IMELAR)).toBe(0x20_0040);
    b.flush(1, b.cache0, b.root);
    b.setCtx(b.root, 1, ContextReg.IMSTR, 0);
    expect(b.translate(b.cache0, 0, 0x20_0040n).address).toBe(0x4840_0040n);
  });

  it('evicts the least recently used entry of a full set', () => {
    const b = new Bench({ tlbSets: 1, tlbWays: 2 });
    const t = b.table();
    for (let i = 0n; i < 3n; i++) b.map(t, 0x1000n * (i + 1n), 0x4800_0000n + 0x1000n * i);
    b.programContext(1, t);
    b.enableUtlb(b.root, 0, 1);
    b.translate(b.root, 0, 0x1000n);
    b.translate(b.root, 0, 0x2000n);
    b.translate(b.root, 0, 0x1000n); // 0x1000 most recent
    b.translate(b.root, 0, 0x3000n); // evicts 0x2000
    expect(b.root.tlbEntries().map((e) => e.inputPage).sort()).toEqual([1, 3]);
    expect(b.root.statistics().tlb).toMatchObject({ evictions: 1, capacity: 2, occupancy: 2 });
  });
});

describe('tracer (explain)', () => {
  it('reports the micro-TLB, the context, each descriptor read with its level, and the leaf', () => {
    const b = new Bench();
    const t = b.table();
    b.map(t, 0x4000_1000n, 0x4800_0000n);
    b.programContext(3, t);
    b.enableUtlb(b.cache0, 9, 3);
    const tracer = new IpmmuRecordingTracer();
    b.cache0.tracer = tracer;
    b.translate(b.cache0, 9, 0x4000_1000n);
    expect(tracer.descriptors.map((d) => d.level)).toEqual([1, 2, 3]);
    expect(tracer.descriptors[0].address).toBe(t.rootAddress + 8n * 1n); // level-1 index 1 (IPA bit 30)
    expect(tracer.descriptors[2].value & 0xff_ffff_f000n).toBe(0x4800_0000n);
    expect(tracer.steps[0]).toMatch(/micro-TLB 9 -> context 3/);
    expect(tracer.steps.at(-1)).toMatch(/level 3 leaf/);
  });
});
