// Conformance tests of the SMMUv3 register frame (IHI 0070 chapter 6): identification values,
// reset values, RO/RW/RES0 behaviour, update handshakes, Guarded registers, queue registers,
// and the access rules of 6.2. The model is driven through its registers only.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decode } from '../../../src/formats/bitfield.js';
import { Idr0Layout, Idr1Layout, Idr3Layout, Idr5Layout, IidrLayout, Reg, REGISTERS } from '../../../src/formats/smmuv3/registers.js';
import { Bench, CR0 } from './bench.js';

const idr0 = (b: Bench) => decode(Idr0Layout, BigInt(b.read32(Reg.IDR0)));
const idr1 = (b: Bench) => decode(Idr1Layout, BigInt(b.read32(Reg.IDR1)));

describe('6.3.1-6.3.8 identification registers', () => {
  it('6.3.1 SMMU_IDR0 advertises the default capabilities', () => {
    const f = idr0(new Bench());
    expect(f).toMatchObject({ S2P: 1n, S1P: 1n, TTF: 2n, COHACC: 1n, HTTU: 2n, HYP: 1n, ATS: 1n, NS1ATS: 1n, ASID16: 1n, MSI: 1n, SEV: 1n, PRI: 1n, VMID16: 1n, CD2L: 1n, TTENDIAN: 0n, STALL_MODEL: 1n, TERM_MODEL: 0n, ST_LEVEL: 1n });
    expect([f.BTM, f.ATOS, f.VATOS, f.VMW, f.DORMHINT]).toEqual([0n, 0n, 0n, 0n, 0n]);
  });

  it('6.3.1 IDR0 follows the capability parameters', () => {
    const f = idr0(new Bench({ capabilities: { stage2: false, ats: false, pri: false, msi: false, sev: false, httu: 'access', hyp: false, asid16: false, vmid16: false, ttEndian: 'little', termModel: 'abort-only', twoLevelStreamTable: false, twoLevelCdTable: false, cohacc: false } }));
    expect(f).toMatchObject({ S2P: 0n, S1P: 1n, HTTU: 1n, HYP: 0n, ATS: 0n, PRI: 0n, MSI: 0n, SEV: 0n, ASID16: 0n, VMID16: 0n, TTENDIAN: 2n, TERM_MODEL: 1n, ST_LEVEL: 0n, CD2L: 0n, COHACC: 0n });
    expect(idr0(new Bench({ capabilities: { ttEndian: 'big', httu: 'none' } }))).toMatchObject({ TTENDIAN: 3n, HTTU: 0n });
  });

  it('6.3.2 SMMU_IDR1 reports StreamID/SubstreamID sizes and queue maxima; PRIQS is 0 without PRI', () => {
    expect(idr1(new Bench())).toMatchObject({ SIDSIZE: 24n, SSIDSIZE: 20n, PRIQS: 19n, EVENTQS: 19n, CMDQS: 19n, ATTR_PERMS_OVR: 1n, TABLES_PRESET: 0n, QUEUES_PRESET: 0n, ECMDQ: 0n });
    expect(idr1(new Bench({ capabilities: { sidBits: 8, ssidBits: 0, cmdqLog2Max: 5, eventqLog2Max: 6, priqLog2Max: 7 } }))).toMatchObject({ SIDSIZE: 8n, SSIDSIZE: 0n, PRIQS: 7n, EVENTQS: 6n, CMDQS: 5n });
    expect(idr1(new Bench({ capabilities: { pri: false } })).PRIQS).toBe(0n);
  });

  it('6.3.4 SMMU_IDR3: RIL, HAD, STT, PPS', () => {
    expect(decode(Idr3Layout, BigInt(new Bench().read32(Reg.IDR3)))).toMatchObject({ RIL: 1n, HAD: 1n, STT: 0n, PPS: 0n, MPAM: 0n, DPT: 0n });
    expect(decode(Idr3Layout, BigInt(new Bench({ capabilities: { ril: false, had: false, stt: true, pps: true } }).read32(Reg.IDR3)))).toMatchObject({ RIL: 0n, HAD: 0n, STT: 1n, PPS: 1n });
  });

  it('6.3.6 SMMU_IDR5: OAS, granules, VAX', () => {
    expect(decode(Idr5Layout, BigInt(new Bench().read32(Reg.IDR5)))).toMatchObject({ OAS: 5n, GRAN4K: 1n, GRAN16K: 1n, GRAN64K: 1n, VAX: 0n, DS: 0n, D128: 0n, STALL_MAX: 0n });
    for (const [bits, enc] of [[32, 0], [36, 1], [40, 2], [42, 3], [44, 4], [48, 5], [52, 6]] as const) {
      expect(decode(Idr5Layout, BigInt(new Bench({ capabilities: { oasBits: bits } }).read32(Reg.IDR5))).OAS).toBe(BigInt(enc));
    }
    expect(decode(Idr5Layout, BigInt(new Bench({ capabilities: { gran16K: false, vaBits: 52 } }).read32(Reg.IDR5)))).toMatchObject({ GRAN16K: 0n, VAX: 1n });
  });

  it('6.3.7 SMMU_IIDR holds the IMPLEMENTATION DEFINED identity; 6.3.8 SMMU_AIDR says SMMUv3.2', () => {
    const b = new Bench({ iidr: { implementer: 0x43b, productId: 0x483, variant: 2, revision: 1 } });
    expect(decode(IidrLayout, BigInt(b.read32(Reg.IIDR)))).toEqual({ Implementer: 0x43bn, Revision: 1n, Variant: 2n, ProductID: 0x483n });
    expect(b.read32(Reg.AIDR)).toBe(0x02);
  });

  it('ID registers are read-only', () => {
    const b = new Bench();
    const before = [Reg.IDR0, Reg.IDR1, Reg.IDR3, Reg.IDR5, Reg.IIDR, Reg.AIDR].map((o) => b.read32(o));
    for (const o of [Reg.IDR0, Reg.IDR1, Reg.IDR3, Reg.IDR5, Reg.IIDR, Reg.AIDR]) b.write32(o, 0xffff_ffff);
    expect([Reg.IDR0, Reg.IDR1, Reg.IDR3, Reg.IDR5, Reg.IIDR, Reg.AIDR].map((o) => b.read32(o))).toEqual(before);
    expect([Reg.IDR2, Reg.IDR4].map((o) => b.read32(o))).toEqual([0, 0]);
  });
});

describe('reset values', () => {
  it('control, error and queue registers reset to zero; GBPA to SHCFG = use incoming', () => {
    const b = new Bench();
    for (const o of [Reg.CR0, Reg.CR0ACK, Reg.CR1, Reg.CR2, Reg.IRQ_CTRL, Reg.IRQ_CTRLACK, Reg.GERROR, Reg.GERRORN, Reg.CMDQ_PROD, Reg.CMDQ_CONS, Reg.EVENTQ_PROD, Reg.EVENTQ_CONS, Reg.PRIQ_PROD, Reg.PRIQ_CONS, Reg.STRTAB_BASE_CFG]) {
      expect(b.read32(o)).toBe(0);
    }
    expect(b.read32(Reg.GBPA)).toBe(0x1000);
    expect(new Bench({ gbpaAbortAtReset: true }).read32(Reg.GBPA)).toBe(0x0010_1000);
  });

  it('reset() returns every register to its reset value', () => {
    const b = new Bench().init();
    b.smmu.reset();
    for (const o of [Reg.CR0, Reg.CR0ACK, Reg.CR2, Reg.IRQ_CTRL, Reg.CMDQ_PROD, Reg.STRTAB_BASE_CFG]) expect(b.read32(o)).toBe(0);
    expect(b.read64(Reg.STRTAB_BASE)).toBe(0n);
  });
});

describe('6.3.9 SMMU_CR0 and 6.3.10 SMMU_CR0ACK', () => {
  it('an Update completes at once: CR0ACK follows CR0', () => {
    const b = new Bench();
    b.write32(Reg.CR0, CR0.SMMUEN | CR0.CMDQEN | CR0.EVENTQEN | CR0.PRIQEN | CR0.ATSCHK);
    expect(b.read32(Reg.CR0)).toBe(0x1f);
    expect(b.read32(Reg.CR0ACK)).toBe(0x1f);
    b.write32(Reg.CR0, CR0.CMDQEN);
    expect(b.read32(Reg.CR0ACK)).toBe(CR0.CMDQEN);
  });

  it('reserved bits, VMW (no IDR0.VMW), PRIQEN without PRI and ATSCHK without ATS are RES0', () => {
    const b = new Bench();
    b.write32(Reg.CR0, 0xffff_ffff);
    expect(b.read32(Reg.CR0)).toBe(0x1f);
    const c = new Bench({ capabilities: { ats: false, pri: false } });
    c.write32(Reg.CR0, 0xffff_ffff);
    expect(c.read32(Reg.CR0)).toBe(CR0.SMMUEN | CR0.EVENTQEN | CR0.CMDQEN);
    expect(c.read32(Reg.CR0ACK)).toBe(CR0.SMMUEN | CR0.EVENTQEN | CR0.CMDQEN);
  });

  it('CR0ACK is read-only', () => {
    const b = new Bench();
    b.write32(Reg.CR0ACK, 0x1f);
    expect(b.read32(Reg.CR0ACK)).toBe(0);
  });
});

describe('6.3.11 SMMU_CR1 and 6.3.12 SMMU_CR2', () => {
  it('CR1 QUEUE_* are Guarded by the queue enables, TABLE_* by SMMUEN', () => {
    const b = new Bench();
    b.write32(Reg.CR1, 0xd75);
    expect(b.read32(Reg.CR1)).toBe(0xd75);
    b.write32(Reg.CR0, CR0.CMDQEN);
    b.write32(Reg.CR1, 0);
    expect(b.read32(Reg.CR1)).toBe(0x035); // QUEUE_* kept, TABLE_* written
    b.write32(Reg.CR0, CR0.SMMUEN);
    b.write32(Reg.CR1, 0xfff);
    expect(b.read32(Reg.CR1)).toBe(0x03f); // TABLE_* kept
    expect(b.read32(Reg.CR1) & ~0xfff).toBe(0);
  });

  it('CR2 holds E2H, RECINVSID and PTM while SMMUEN is 0 and is read-only while it is 1', () => {
    const b = new Bench();
    b.write32(Reg.CR2, 0xffff_ffff);
    expect(b.read32(Reg.CR2)).toBe(7);
    b.write32(Reg.CR0, CR0.SMMUEN);
    b.write32(Reg.CR2, 0);
    expect(b.read32(Reg.CR2)).toBe(7);
  });

  it('CR2.E2H is RES0 without HYP', () => {
    const b = new Bench({ capabilities: { hyp: false } });
    b.write32(Reg.CR2, 7);
    expect(b.read32(Reg.CR2)).toBe(6);
  });
});

describe('6.3.13 SMMU_STATUSR and 6.3.15 SMMU_AGBPA', () => {
  it('STATUSR reads 0 (no DORMHINT) and AGBPA is RES0 (no alternate attributes)', () => {
    const b = new Bench();
    b.write32(Reg.STATUSR, 1);
    b.write32(Reg.AGBPA, 0xffff_ffff);
    expect([b.read32(Reg.STATUSR), b.read32(Reg.AGBPA)]).toEqual([0, 0]);
  });
});

describe('6.3.14 SMMU_GBPA update procedure', () => {
  it('a write that sets Update takes effect and Update reads 0 once complete', () => {
    const b = new Bench();
    b.write32(Reg.GBPA, 0x8010_0000);
    expect(b.read32(Reg.GBPA)).toBe(0x0010_0000);
  });

  it('a write without Update is IGNORED (SMMUv3.2)', () => {
    const b = new Bench();
    b.write32(Reg.GBPA, 0x0010_0000);
    expect(b.read32(Reg.GBPA)).toBe(0x1000);
  });

  it('keeps only defined fields: MemAttr, MTCFG, ALLOCCFG, SHCFG, PRIVCFG, INSTCFG, ABORT', () => {
    const b = new Bench();
    b.write32(Reg.GBPA, 0xffff_ffff);
    expect(b.read32(Reg.GBPA)).toBe(0x001f_3f1f);
  });
});

describe('6.3.16 SMMU_IRQ_CTRL and 6.3.18 SMMU_IRQ_CTRLACK', () => {
  it('enables are acknowledged at once; PRIQ_IRQEN is RES0 without PRI', () => {
    const b = new Bench();
    b.write32(Reg.IRQ_CTRL, 0xffff_ffff);
    expect([b.read32(Reg.IRQ_CTRL), b.read32(Reg.IRQ_CTRLACK)]).toEqual([7, 7]);
    const c = new Bench({ capabilities: { pri: false } });
    c.write32(Reg.IRQ_CTRL, 7);
    expect([c.read32(Reg.IRQ_CTRL), c.read32(Reg.IRQ_CTRLACK)]).toEqual([5, 5]);
  });
});

describe('6.3.19 SMMU_GERROR and 6.3.20 SMMU_GERRORN', () => {
  it('GERROR is read-only; GERRORN reads back the implemented bits written', () => {
    const b = new Bench();
    b.write32(Reg.GERROR, 0x1fd);
    expect(b.read32(Reg.GERROR)).toBe(0);
    b.write32(Reg.GERRORN, 0xffff_ffff);
    expect(b.read32(Reg.GERRORN)).toBe(0xfd);
  });
});

describe('6.3.21-6.3.23, 6.3.30-6.3.32, 6.3.34-6.3.36 MSI configuration', () => {
  const sources = [
    { name: 'GERROR', cfg0: Reg.GERROR_IRQ_CFG0, cfg1: Reg.GERROR_IRQ_CFG1, cfg2: Reg.GERROR_IRQ_CFG2, en: 1 },
    { name: 'EVENTQ', cfg0: Reg.EVENTQ_IRQ_CFG0, cfg1: Reg.EVENTQ_IRQ_CFG1, cfg2: Reg.EVENTQ_IRQ_CFG2, en: 4 },
    { name: 'PRIQ', cfg0: Reg.PRIQ_IRQ_CFG0, cfg1: Reg.PRIQ_IRQ_CFG1, cfg2: Reg.PRIQ_IRQ_CFG2, en: 2 },
  ];
  for (const s of sources) {
    it(`${s.name}_IRQ_CFG0 holds ADDR[55:2], CFG1 the data, CFG2 SH and MemAttr`, () => {
      const b = new Bench();
      b.write64(s.cfg0, 0xffff_ffff_ffff_ffffn);
      b.write32(s.cfg1, 0xdead_beef);
      b.write32(s.cfg2, 0x7fff_ffff);
      expect(b.read64(s.cfg0)).toBe(0x00ff_ffff_ffff_fffcn);
      expect(b.read32(s.cfg1)).toBe(0xdead_beef);
      expect(b.read32(s.cfg2)).toBe(0x3f);
    });

    it(`${s.name}_IRQ_CFGn are Guarded by the source's IRQEN: writes are IGNORED while it is 1`, () => {
      const b = new Bench();
      b.write64(s.cfg0, 0x1000n);
      b.write32(Reg.IRQ_CTRL, s.en);
      b.write64(s.cfg0, 0x2000n);
      b.write32(s.cfg1, 5);
      expect(b.read64(s.cfg0)).toBe(0x1000n);
      expect(b.read32(s.cfg1)).toBe(0);
    });
  }

  it('PRIQ_IRQ_CFG2.LO is bit 31', () => {
    const b = new Bench();
    b.write32(Reg.PRIQ_IRQ_CFG2, 0xffff_ffff);
    expect(b.read32(Reg.PRIQ_IRQ_CFG2)).toBe(0x8000_003f);
  });

  it('without MSIs the MSI fields are RES0 (PRIQ_IRQ_CFG2.LO remains)', () => {
    const b = new Bench({ capabilities: { msi: false } });
    b.write64(Reg.GERROR_IRQ_CFG0, 0x1000n);
    b.write32(Reg.EVENTQ_IRQ_CFG1, 7);
    b.write32(Reg.PRIQ_IRQ_CFG2, 0xffff_ffff);
    expect([b.read64(Reg.GERROR_IRQ_CFG0), BigInt(b.read32(Reg.EVENTQ_IRQ_CFG1)), BigInt(b.read32(Reg.PRIQ_IRQ_CFG2))]).toEqual([0n, 0n, 0x8000_0000n]);
  });
});

describe('6.3.24 SMMU_STRTAB_BASE and 6.3.25 SMMU_STRTAB_BASE_CFG', () => {
  it('hold ADDR[55:6] and RA, LOG2SIZE, SPLIT and FMT', () => {
    const b = new Bench();
    b.write64(Reg.STRTAB_BASE, 0xffff_ffff_ffff_ffffn);
    b.write32(Reg.STRTAB_BASE_CFG, 0xffff_ffff);
    expect(b.read64(Reg.STRTAB_BASE)).toBe(0x40ff_ffff_ffff_ffc0n);
    expect(b.read32(Reg.STRTAB_BASE_CFG)).toBe(0x3_07ff);
  });

  it('are Guarded by SMMUEN: writes are IGNORED while it is 1 (SMMUv3.2)', () => {
    const b = new Bench();
    b.write64(Reg.STRTAB_BASE, 0x1000n);
    b.write32(Reg.STRTAB_BASE_CFG, 4);
    b.write32(Reg.CR0, CR0.SMMUEN);
    b.write64(Reg.STRTAB_BASE, 0x2000n);
    b.write32(Reg.STRTAB_BASE_CFG, 8);
    expect([b.read64(Reg.STRTAB_BASE), BigInt(b.read32(Reg.STRTAB_BASE_CFG))]).toEqual([0x1000n, 4n]);
  });

  it('FMT is RES0 without 2-level Stream tables (IDR0.ST_LEVEL == 0)', () => {
    const b = new Bench({ capabilities: { twoLevelStreamTable: false } });
    b.write32(Reg.STRTAB_BASE_CFG, 0x1_0208);
    expect(b.read32(Reg.STRTAB_BASE_CFG)).toBe(0x208);
  });
});

describe('6.3.26-6.3.29, 6.3.33, 6.3.95-6.3.98 queue registers', () => {
  const queues = [
    { name: 'CMDQ', base: Reg.CMDQ_BASE, prod: Reg.CMDQ_PROD, cons: Reg.CMDQ_CONS, en: CR0.CMDQEN, guardedProd: false, guardedCons: true },
    { name: 'EVENTQ', base: Reg.EVENTQ_BASE, prod: Reg.EVENTQ_PROD, cons: Reg.EVENTQ_CONS, en: CR0.EVENTQEN, guardedProd: true, guardedCons: false },
    { name: 'PRIQ', base: Reg.PRIQ_BASE, prod: Reg.PRIQ_PROD, cons: Reg.PRIQ_CONS, en: CR0.PRIQEN, guardedProd: true, guardedCons: false },
  ];
  for (const q of queues) {
    it(`${q.name}_BASE holds LOG2SIZE[4:0], ADDR[55:5] and the allocation hint`, () => {
      const b = new Bench();
      b.write64(q.base, 0xffff_ffff_ffff_ffffn);
      expect(b.read64(q.base)).toBe(0x40ff_ffff_ffff_ffffn);
    });

    it(`${q.name}_BASE is Guarded by its enable (IGNORED while enabled)`, () => {
      const b = new Bench();
      b.write64(q.base, 0x10_0004n);
      b.write32(Reg.CR0, q.en);
      b.write64(q.base, 0x20_0005n);
      expect(b.read64(q.base)).toBe(0x10_0004n);
    });

    it(`${q.name} PROD/CONS keep the index and wrap flag of the configured size (bits above are RAZ)`, () => {
      const b = new Bench();
      b.write64(q.base, 0x10_0004n); // 16 entries: index [3:0], wrap [4]
      b.write32(q.prod, 0xf_ffff);
      b.write32(q.cons, 0x1b);
      expect(b.read32(q.prod) & 0xf_ffff).toBe(q.name === 'CMDQ' ? 0x1f : 0x1f);
      expect(b.read32(q.cons) & 0xf_ffff).toBe(0x1b);
    });

    it(`${q.name}_BASE.LOG2SIZE above IDR1.${q.name}S is capped for index arithmetic`, () => {
      const b = new Bench({ capabilities: { cmdqLog2Max: 3, eventqLog2Max: 3, priqLog2Max: 3 } });
      b.write64(q.base, 0x10_0000n | 10n);
      expect(b.read64(q.base) & 0x1fn).toBe(10n); // read back as written
      b.write32(q.prod, 0xff);
      expect(b.read32(q.prod) & 0xf_ffff).toBe(0xf); // 8 entries: index [2:0] and wrap [3]
    });
  }

  it('CMDQ_CONS is Guarded by CMDQEN; CMDQ_PROD is always writable', () => {
    const b = new Bench();
    b.write64(Reg.CMDQ_BASE, 0x10_0004n);
    b.write32(Reg.CR0, CR0.CMDQEN);
    b.write32(Reg.CMDQ_CONS, 3);
    expect(b.read32(Reg.CMDQ_CONS)).toBe(0);
  });

  it('EVENTQ_PROD (with OVFLG) is Guarded by EVENTQEN; EVENTQ_CONS (with OVACKFLG) is always writable', () => {
    const b = new Bench();
    b.write64(Reg.EVENTQ_BASE, 0x10_0004n);
    b.write32(Reg.EVENTQ_PROD, 0x8000_0002);
    expect(b.read32(Reg.EVENTQ_PROD)).toBe(0x8000_0002);
    b.write32(Reg.CR0, CR0.EVENTQEN);
    b.write32(Reg.EVENTQ_PROD, 0);
    b.write32(Reg.EVENTQ_CONS, 0x8000_0001);
    expect([b.read32(Reg.EVENTQ_PROD), b.read32(Reg.EVENTQ_CONS)]).toEqual([0x8000_0002, 0x8000_0001]);
  });

  it('PRIQ registers are Reserved (RAZ/WI) without PRI', () => {
    const b = new Bench({ capabilities: { pri: false } });
    b.write64(Reg.PRIQ_BASE, 0x10_0004n);
    b.write32(Reg.PRIQ_PROD, 3);
    b.write64(Reg.PRIQ_IRQ_CFG0, 0x1000n);
    expect([b.read64(Reg.PRIQ_BASE), BigInt(b.read32(Reg.PRIQ_PROD)), b.read64(Reg.PRIQ_IRQ_CFG0)]).toEqual([0n, 0n, 0n]);
  });
});

describe('6.2 Page 0 aliases of the Page 1 registers', () => {
  it('are RAZ/WI by default', () => {
    const b = new Bench();
    b.write64(Reg.EVENTQ_BASE, 0x10_0004n);
    b.write32(Reg.EVENTQ_PROD, 3);
    b.write32(Reg.EVENTQ_PROD_PAGE0, 5);
    expect([b.read32(Reg.EVENTQ_PROD_PAGE0), b.read32(Reg.EVENTQ_PROD)]).toEqual([0, 3]);
  });

  it('alias EVENTQ/PRIQ PROD and CONS when page0QueueAliases', () => {
    const b = new Bench({ page0QueueAliases: true });
    b.write64(Reg.EVENTQ_BASE, 0x10_0004n);
    b.write64(Reg.PRIQ_BASE, 0x20_0004n);
    b.write32(Reg.EVENTQ_CONS_PAGE0, 6);
    b.write32(Reg.PRIQ_PROD_PAGE0, 7);
    expect([b.read32(Reg.EVENTQ_CONS), b.read32(Reg.PRIQ_PROD), b.read32(Reg.PRIQ_PROD_PAGE0)]).toEqual([6, 7, 7]);
  });
});

describe('the model as an MmioDevice on the system bus', () => {
  it('answers bus accesses at its base: Page 0 and Page 1', () => {
    const b = new Bench();
    b.bus.mmio.map('smmu', 0x900_0000n, 0x20000n, b.smmu);
    b.bus.access(0x900_0000n + BigInt(Reg.EVENTQ_BASE), 8, true, 0x10_0004n);
    b.bus.access(0x900_0000n + BigInt(Reg.EVENTQ_CONS), 4, true, 3n);
    expect(b.bus.access(0x900_0000n + BigInt(Reg.EVENTQ_CONS), 4, false).value).toBe(3n);
    expect(b.bus.access(0x900_0000n + BigInt(Reg.IDR1), 4, false).value).toBe(BigInt(b.read32(Reg.IDR1)));
    expect(b.smmu.mmioRead32(Reg.EVENTQ_CONS)).toBe(3);
  });
});

describe('6.2 access rules', () => {
  it('every listed register is reachable with its documented width', () => {
    const b = new Bench();
    for (const r of REGISTERS) expect(typeof b.smmu.mmio.read(r.offset, r.size)).toBe('bigint');
    expect(b.smmu.statistics().illegalRegisterAccesses).toBe(0);
  });

  it('a 64-bit register is accessible as two 32-bit halves', () => {
    const b = new Bench();
    b.write32(Reg.STRTAB_BASE, 0x1234_5640);
    b.write32(Reg.STRTAB_BASE + 4, 0x7);
    expect(b.read64(Reg.STRTAB_BASE)).toBe(0x7_1234_5640n);
    expect(b.read32(Reg.STRTAB_BASE + 4)).toBe(7);
  });

  it('a 64-bit access to two adjacent 32-bit registers behaves as two 32-bit accesses', () => {
    const b = new Bench();
    b.write64(Reg.CR0, 0x7_0000_0000n); // CR0 = 0, CR0ACK read-only
    b.write64(Reg.CMDQ_PROD, 0n);
    expect(b.read64(Reg.IDR0)).toBe((BigInt(b.read32(Reg.IDR1)) << 32n) | BigInt(b.read32(Reg.IDR0)));
  });

  it('illegal accesses (other sizes, misaligned, beyond the frame) are RAZ/WI and counted', () => {
    const b = new Bench();
    expect(b.smmu.mmioRead(Reg.IDR0, 2)).toBe(0n);
    expect(b.smmu.mmioRead(Reg.IDR0 + 2, 4)).toBe(0n);
    expect(b.smmu.mmio.read(Reg.STRTAB_BASE + 4, 8)).toBe(0n);
    b.smmu.mmioWrite(Reg.CR0, 1, 1n);
    b.smmu.mmioWrite(0x20000, 4, 1n);
    expect(b.read32(Reg.CR0)).toBe(0);
    expect(b.smmu.statistics().illegalRegisterAccesses).toBe(5);
  });

  it('undefined locations of Page 0 and Page 1 are RES0', () => {
    const b = new Bench();
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0x7fff }), (slot) => {
        const offset = slot * 4;
        if (REGISTERS.some((r) => offset >= r.offset && offset < r.offset + r.size)) return;
        b.write32(offset, 0xffff_ffff);
        expect(b.read32(offset)).toBe(0);
      }),
    );
  });
});
